"""Hostile input, each with the answer rpcrest gives it.

The gateway (one rpcrestd with the echo and testkit services; [gateway]
max_body_bytes 1 MiB, connection_timeout 2 s, max_connections 16):

  input                                   answer
  truncated / malformed JSON              400, code 3, "malformed JSON body: … (line L, column C)"
  a body that is not an object            400, code 3, "the body must be a JSON object (Type)"
  wrong types                             400, code 3, naming the field and what it expected
  invalid UTF-8 (body, path, query)       400, code 3 (bytes, overlong forms, surrogates)
  nesting 100,000 deep                    400 at once: jansson stops at depth 2048; messages
                                          (and Value/Struct) nested deeper than 100: 400
  huge numbers                            400 naming the field and its range (1e400: overflow)
  duplicate keys (also in maps), two      400: duplicate object key / set twice / the same
  members of a oneof, name + JSON name    oneof is already set
  a body over max_body_bytes              413, code 8, by Content-Length or chunked
  a body in a Content-Encoding other      415, code 3, Accept-Encoding: gzip
  than gzip (br, gzip twice)
  gzip that is not, cut short, or with    400, code 3, "malformed request body: gzip: …",
  bytes after it                          the connection kept
  gzip that inflates past max_body_bytes  413, code 8, having inflated at most that much
  a method that is not a token, a raw     400, code 3, connection closed
  space in the path, a control
  character in the request target
  a chunk-size line longer than the       not answered (libmicrohttpd 0.9.75 can neither read
  connection's buffer (~30 KB)            on nor refuse it): closed within a second, and no
                                          CPU spent on it meanwhile
  a header over the connection's memory   431 (libmicrohttpd's own, HTML, connection closed)
  more than 256 header fields             431, code 8, JSON
  more Grpc-Metadata-* than gRPC takes    431, code 8, JSON (gRPC core would drop the whole
  (over 7 KiB as HPACK counts it)         connection to the host, failing others' calls)
  malformed percent-encoding              400, code 3 (path variable, query key or value, /healthz)
  slowloris (bytes trickled, never a      the connection is shut down connection_timeout after it
  complete header; or nothing at all)     opened; an idle keep-alive one too
  garbage instead of HTTP                 libmicrohttpd answers 400 (or 505) or closes
  more than max_connections at once       the extra connection is closed as soon as accepted;
                                          the others are served, and new ones once some close
  more connections than the gateway has   it stops accepting for 100 ms at a time (one log
  file descriptors for                    line, no spinning), serves the connections it has,
                                          and accepts again once some close

After each test the gateway answers /healthz and an echo, with the same pid.

The gateway alone, in front of an upstream that misbehaves:

  a reply message declared 4 GiB, sent    the stream is reset (ENHANCE_YOUR_CALM) once the
  as fast as the windows allow            gateway's channel holds 128 MiB: 429, code 8; gRPC
                                          core 1.51 would read the whole message first
  a TCP upstream that stops reading (its   the connection is given up after 20 s: 503, code 14;
  window open, its socket buffer full)    with gRPC core's defaults the call was not answered
                                          even at its 60 s deadline

The host (gRPC, [host] max_message_bytes 64 KiB):

  garbage bytes, HTTP/1.1, broken HTTP/2  the connection is closed (GOAWAY first when the
  frames (bad preface, bad SETTINGS,      preface was right); nothing else is disturbed.  DATA
  oversized frame, bad HPACK, …)          or RST_STREAM on stream 0 and HEADERS on an even
                                          stream are ignored by gRPC core 1.51 (no crash)
  a message over max_message_bytes       RESOURCE_EXHAUSTED
  a compressed message over it once       RESOURCE_EXHAUSTED, for plugin calls, health and
  inflated (48 KiB of gzip, 48 MiB of     reflection alike, without the host's memory growing
  zeros)                                  (gRPC core 1.51 would inflate it whole first)
  grpc-encoding: gzip, but not gzip data  INTERNAL (the stream is reset)
  grpc-encoding: an unknown algorithm     gRPC core 1.51 drops the header as invalid and reads
                                          the message as uncompressed: the plugin refuses the
                                          bytes (INVALID_ARGUMENT, cannot decode); no crash
  metadata gRPC core 1.51 lets through:   INVALID_ARGUMENT 'request metadata "KEY": …' before
  a key outside [0-9a-z-_.], a text       the plugin sees the call (the ABI promises it keys
  value outside printable ASCII           and printable values, fit for a log line)
  a client that never reads a stream      HTTP/2 flow control stops the stream (the plugin's
                                          sends are refused, messages stay few); other calls go
                                          on; when the client leaves the stream is cancelled

After each test the host serves an echo call with the same pid.
"""
import http.client
import os
import random
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

import grpc

import h2raw
import harness

ECHO = "/v1/example/echo"
TK_ECHO = "/v1/testkit/echo"


class GatewayHostile(unittest.TestCase):
    """One rpcrestd for the whole class (each test leaves it healthy)."""

    @classmethod
    def setUpClass(cls):
        cls.r = harness.Rpcrest(services=("echo", "testkit"), gateway={
            "max_body_bytes": "1048576", "connection_timeout": "2", "max_connections": "16",
            "threads": "2"})
        cls.r.start()
        cls.gateway_pid = cls.r.children()["rpcrest-gateway"]

    @classmethod
    def tearDownClass(cls):
        cls.r.cleanup()

    def tearDown(self):
        self.assert_healthy()

    # ---- helpers ---------------------------------------------------------
    def assert_healthy(self):
        self.assertEqual(self.r.children().get("rpcrest-gateway"), self.gateway_pid,
                         "the gateway restarted; log:\n" + self.r.log())
        status, _, _ = self.r.http("GET", "/healthz", timeout=5)
        self.assertEqual(status, 200)
        status, _, body = self.r.http("POST", ECHO, b'{"value":"still here"}', timeout=5)
        self.assertEqual((status, body), (200, b'{"value":"still here"}'))

    def post(self, path, body, headers=None):
        status, hdrs, data = self.r.http("POST", path, body, headers=headers, timeout=10)
        return status, hdrs, data

    def assert_error(self, status, code, message_part, path, body, headers=None):
        got, hdrs, data = self.post(path, body, headers)
        self.assertEqual(got, status, "%r -> %s %r" % (body[:80], got, data[:300]))
        self.assertEqual(hdrs.get("content-type"), "application/json")
        err = harness.json.loads(data)
        self.assertEqual(err["code"], code, err)
        self.assertIn(message_part, err["message"], err)
        return err

    def raw(self, data, timeout=10):
        """Sends data on a new connection; returns what came back until EOF."""
        with socket.create_connection(("127.0.0.1", self.r.http_port), timeout=timeout) as s:
            s.sendall(data)
            out = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break
                if not chunk:
                    break
                out += chunk
            return out

    # ---- JSON ------------------------------------------------------------
    def test_truncated_json(self):
        for body in (b'{"value":"abc', b'{"value":', b'{"value"', b'{', b'{"value":"x"',
                     b'{"value":"\\u12'):
            with self.subTest(body=body):
                self.assert_error(400, 3, "malformed JSON body: ", ECHO, body)

    def test_malformed_json(self):
        for body, why in ((b'{value:"x"}', "string or '}' expected"),
                          (b'{"value":"x",}', "string or '}' expected"),
                          (b"'x'", "invalid token"),
                          (b'{"value":"x"}garbage', "end of file expected"),
                          (b'{"value":"x"}{"value":"y"}', "end of file expected"),
                          (b"  x", "invalid token"),
                          (b'{"value":NaN}', "invalid token"),
                          (b'\xef\xbb\xbf{"value":"bom"}', "")):
            with self.subTest(body=body):
                self.assert_error(400, 3, "malformed JSON body: " + why, ECHO, body)
        for body in (b"null", b"[]", b'"str"', b"42"):
            with self.subTest(body=body):
                self.assert_error(400, 3, "the body must be a JSON object (example.StringMessage)",
                                  ECHO, body)
        # no body at all is the empty message, as in grpc-gateway, and so
        # is one of JSON whitespace only
        for body in (b"", b"   ", b"\r\n\t\n"):
            with self.subTest(body=body):
                self.assertEqual(self.post(ECHO, body)[::2], (200, b"{}"))

    def test_wrong_types(self):
        for body, why in ((b'{"stringValue":123}', "field 'stringValue': expected a string"),
                          (b'{"int32Value":"abc"}', "field 'int32Value': 'abc' is not a valid integer"),
                          (b'{"int32Value":1.5}', "field 'int32Value': 1.5 is not an integer"),
                          (b'{"boolValue":"yes"}', "field 'boolValue': expected true or false"),
                          (b'{"repeatedInt32":1}', "field 'repeatedInt32': expected an array"),
                          (b'{"nested":[1]}', "field 'nested': expected an object"),
                          (b'{"color":"PURPLE"}', "'PURPLE' is not a value of enum"),
                          (b'{"timestamp":"yesterday"}', "is not an RFC 3339 timestamp"),
                          (b'{"duration":5}', "field 'duration'"),
                          (b'{"bytesValue":"!!"}', "field 'bytesValue': not valid base64"),
                          (b'{"stringMap":[]}', "field 'stringMap': expected an object (a map)"),
                          (b'{"nestedMap":{"x":{}}}', "field 'nestedMap.x'"),
                          (b'{"noSuchField":1}', "noSuchField")):
            with self.subTest(body=body):
                self.assert_error(400, 3, why, TK_ECHO, body)

    def test_invalid_utf8(self):
        for body in (b'{"stringValue":"\xff\xfe"}', b'{"stringValue":"\xc0\xaf"}',
                     b'{"stringValue":"\xed\xa0\x80"}', b'{"stringValue":"\xf4\x90\x80\x80"}',
                     b'{"\xff":1}', b'{"stringValue":"a\xe2\x82"}'):
            with self.subTest(body=body):
                self.assert_error(400, 3, "malformed JSON body: unable to decode byte", TK_ECHO, body)
        self.assert_error(400, 3, "invalid Unicode", TK_ECHO, b'{"stringValue":"\\ud800"}')
        # in a path variable and a query parameter (percent-encoded bytes)
        status, _, data = self.r.http("GET", TK_ECHO + "/%FF%FE")
        self.assertEqual(status, 400, data)
        self.assertIn(b"not valid UTF-8", data)
        status, _, data = self.r.http("GET", TK_ECHO + "/x?nested.name=%C0%AF")
        self.assertEqual(status, 400, data)
        self.assertIn(b"not valid UTF-8", data)

    def test_nesting_100000_deep(self):
        start = time.monotonic()
        for body in (b"[" * 100000 + b"]" * 100000,
                     b'{"a":' * 100000 + b"1" + b"}" * 100000,
                     b'{"stringValue":' + b"[" * 100000):
            with self.subTest(body=body[:20]):
                self.assert_error(400, 3, "maximum parsing depth reached", TK_ECHO, body)
        self.assertLess(time.monotonic() - start, 5)
        # valid JSON, but messages nested deeper than protobuf's 100
        deep_nested = b'{"nested":' + b'{"child":' * 150 + b"{}" + b"}" * 150 + b"}"
        deep_value = b'{"value":' + b"[" * 1000 + b"]" * 1000 + b"}"
        deep_struct = b'{"structValue":' + b'{"a":' * 500 + b"1" + b"}" * 500 + b"}"
        for body in (deep_nested, deep_value, deep_struct):
            with self.subTest(body=body[:20]):
                self.assert_error(400, 3, "messages nested more than 100 deep", TK_ECHO, body)
        ok = b'{"nested":' + b'{"child":' * 50 + b"{}" + b"}" * 50 + b"}"
        self.assertEqual(self.post(TK_ECHO, ok)[0], 200)

    def test_huge_numbers(self):
        for body, why in ((b'{"int32Value":1e400}',
                           "field 'int32Value': 1e400 is out of range for a 32-bit integer"),
                          (b'{"doubleValue":1e309}',
                           "field 'doubleValue': 1e309 is out of range for a double"),
                          (b'{"listValue":[1e309]}', "1e309 is out of range for a double"),
                          (b'{"int32Value":2147483648}', "out of range for a 32-bit integer"),
                          (b'{"int32Value":-2147483649}', "out of range for a 32-bit integer"),
                          (b'{"uint32Value":-1}', "out of range"),
                          (b'{"int64Value":"99999999999999999999"}', "is not a valid integer"),
                          (b'{"int64Value":' + b"9" * 10000 + b"}", "out of range for a 64-bit integer"),
                          (b'{"uint64Value":18446744073709551616}', "out of range for a 64-bit unsigned"),
                          (b'{"floatValue":1e39}', "out of range for a float"),
                          (b'{"doubleValue":' + b"1" * 5000 + b"}", "out of range for a double")):
            with self.subTest(body=body[:40]):
                self.assert_error(400, 3, why, TK_ECHO, body)
        for body, want in ((b'{"uint64Value":18446744073709551615}',
                            b'{"uint64Value":"18446744073709551615"}'),
                           (b'{"int64Value":-9223372036854775808}',
                            b'{"int64Value":"-9223372036854775808"}'),
                           (b'{"doubleValue":1e308}', b'{"doubleValue":1e+308}')):
            with self.subTest(body=body):
                self.assertEqual(self.post(TK_ECHO, body)[::2], (200, want))

    def test_duplicate_keys(self):
        for body, why in ((b'{"stringValue":"a","stringValue":"b"}', "duplicate object key"),
                          (b'{"stringMap":{"a":"1","a":"2"}}', "duplicate object key"),
                          (b'{"string_value":"a","stringValue":"b"}', "set twice"),
                          (b'{"choiceString":"a","choiceInt64":1}', "of the same oneof is already set")):
            with self.subTest(body=body):
                self.assert_error(400, 3, why, TK_ECHO, body)

    # ---- HTTP ------------------------------------------------------------
    def test_body_over_max_body_bytes(self):
        body = b'{"value":"' + b"x" * (1 << 20) + b'"}'
        self.assert_error(413, 8, "request body is larger than 1048576 bytes", ECHO, body)
        # chunked, with no Content-Length to go by
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
                          for i in range(0, len(body), 65536)) + b"0\r\n\r\n"
        out = self.raw(b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                       b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                       b"Connection: close\r\n\r\n" + chunks)
        self.assertTrue(out.startswith(b"HTTP/1.1 413"), out[:200])
        self.assertIn(b'"code":8', out)

    def test_body_declared_far_over_max_body_bytes_is_answered_at_once(self):
        """10 GB announced: 413 at once, not after reading what comes (the
        gateway drops at most max_body_bytes + 64 MiB of a refused body)."""
        t0 = time.monotonic()
        out = self.raw(b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                       b"Content-Length: 10000000000\r\n\r\n", timeout=5)
        self.assertTrue(out.startswith(b"HTTP/1.1 413"), out[:200])
        self.assertLess(time.monotonic() - t0, 2)
        # chunked, no length to go by: once the budget is read the gateway
        # answers and closes (the client, still sending, may see the reset
        # rather than the 413), and takes no more
        sent = [0]

        def send_forever(s):
            piece = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
            try:
                while sent[0] < (256 << 20):
                    s.sendall(piece)
                    sent[0] += len(piece)
            except OSError:
                pass
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.r.http_port), timeout=10) as s:
            s.sendall(b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            t = threading.Thread(target=send_forever, args=(s,))
            t.start()
            out = b""
            try:
                while not out.endswith(b"}"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    out += chunk
            except (ConnectionResetError, socket.timeout):
                pass
            try:
                s.shutdown(socket.SHUT_RDWR)  # ends the sender if it still sends
            except OSError:
                pass  # closed by the gateway already
            t.join(10)
        self.assertTrue(out == b"" or out.startswith(b"HTTP/1.1 413"), out[:200])
        self.assertLess(time.monotonic() - t0, 8)
        self.assertLess(sent[0], 100 << 20)  # 1 + 64 MiB read, and the socket buffers

    def test_a_body_sent_a_byte_at_a_time_is_cut_off(self):
        """Each byte restarts libmicrohttpd's idle timeout, so a client that
        sends one every half second could hold a connection for ever (and
        max_connections of them every connection): a body gets
        connection_timeout (2 s here) to come, and 1 s more per KiB."""
        t0 = time.monotonic()
        closed = False
        with socket.create_connection(("127.0.0.1", self.r.http_port), timeout=10) as s:
            s.sendall(b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 1000\r\n\r\n")
            for _ in range(40):  # 20 s at most
                try:
                    s.sendall(b"x")
                    s.settimeout(0.5)
                    if s.recv(1024) == b"":
                        closed = True
                        break
                except socket.timeout:
                    continue
                except OSError:
                    closed = True
                    break
        self.assertTrue(closed, "still open after 20 s")
        self.assertLess(time.monotonic() - t0, 6)

    def test_request_body_codings(self):
        """A gzip body was read as malformed JSON (400 'invalid token near
        \\u001f'), and JSON labelled br was taken as it was.  gzip (x-gzip)
        bodies are inflated; `identity` is no coding; any other coding, or
        gzip twice, is 415 with Accept-Encoding: gzip (RFC 9110 12.5.3)."""
        import gzip
        for coding, body in (("br", b'{"value":"x"}'), ("gzip, gzip", b"{}"),
                             ("deflate", b"{}"), ("gzip, br", b"{}")):
            with self.subTest(coding=coding):
                self.assert_error(415, 3, "Content-Encoding gzip", ECHO, body,
                                  {"Content-Encoding": coding})
                _, hdrs, _ = self.post(ECHO, body, {"Content-Encoding": coding})
                self.assertEqual(hdrs.get("accept-encoding"), "gzip")
        packed = gzip.compress(b'{"value":"packed"}')
        for coding in ("gzip", "X-GZIP", "identity, gzip"):
            status, _, data = self.post(ECHO, packed, {"Content-Encoding": coding})
            self.assertEqual((status, data), (200, b'{"value":"packed"}'), coding)
        for coding in ("Identity ", "", "identity, identity"):
            status, _, data = self.post(ECHO, b'{"value":"x"}', {"Content-Encoding": coding})
            self.assertEqual((status, data), (200, b'{"value":"x"}'), coding)
        # a request without a body has nothing the header could be about
        status, _, _ = self.r.http("GET", "/v1/testkit/echo/abc",
                                   headers={"Content-Encoding": "br"})
        self.assertEqual(status, 200)
        # several lines are one list (RFC 9110 5.3): gzip on two is gzip twice
        for lines, want in (((b"gzip", b"gzip"), b"415"), ((b"gzip", b"br"), b"415"),
                            ((b"br", b"identity"), b"415"), ((b"identity", b"gzip"), b"200"),
                            ((b"gzip", b""), b"200")):
            with self.subTest(lines=lines):
                out = self.raw(b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\n" +
                               b"".join(b"Content-Encoding: %s\r\n" % v for v in lines) +
                               b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(packed)
                               + packed)
                self.assertTrue(out.startswith(b"HTTP/1.1 " + want), out[:300])

    def test_gzip_bodies_chunked_and_in_members(self):
        import gzip
        members = gzip.compress(b'{"value":"ab') + gzip.compress(b'cd"}')
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(members[i:i + 7]), members[i:i + 7])
                          for i in range(0, len(members), 7))
        out = self.raw(b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                       b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
                       b"Connection: close\r\n\r\n" + chunks + b"0\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 200"), out[:300])
        self.assertTrue(out.endswith(b'{"value":"abcd"}'), out[-300:])

    def test_malformed_gzip_is_400_and_the_connection_stays(self):
        import gzip
        good = gzip.compress(b'{"value":"x"}')
        conn = http.client.HTTPConnection("127.0.0.1", self.r.http_port, timeout=10)
        self.addCleanup(conn.close)
        for body, why in ((b'{"value":"x"}', "incorrect header check"),
                          (good[:-3], "cut short"), (good[:10], "cut short"),
                          (good + b"\n", "cut short"), (good + b"more", "incorrect header check"),
                          (good[:-6] + bytes([good[-6] ^ 1]) + good[-5:], "incorrect data check")):
            with self.subTest(body=body):
                conn.request("POST", ECHO, body=body, headers={"Content-Encoding": "gzip"})
                resp = conn.getresponse()
                err = harness.json.loads(resp.read())
                self.assertEqual((resp.status, err["code"]), (400, 3), err)
                self.assertEqual(err["message"], "malformed request body: gzip: " + why
                                 if why != "cut short"
                                 else "malformed request body: gzip: the gzip data is cut short")
                self.assertIsNone(resp.getheader("Connection"))
                conn.request("POST", ECHO, body=b'{"value":"next"}')  # the same connection
                resp = conn.getresponse()
                self.assertEqual((resp.status, resp.read()), (200, b'{"value":"next"}'))

    def test_gzip_past_max_body_bytes_is_413(self):
        """A gzip bomb: 64 MiB of zeros in 64 KiB stops at max_body_bytes
        (1 MiB) inflated; so does a body that is over it compressed."""
        import gzip
        bomb = gzip.compress(b"{" + b" " * (64 << 20) + b"}", 9)
        self.assertLess(len(bomb), 1 << 20)
        def rss():
            with open("/proc/%d/status" % self.gateway_pid) as f:
                return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        before = rss()
        err = self.assert_error(413, 8, "larger than 1048576 bytes, compressed or once inflated",
                                ECHO, bomb, {"Content-Encoding": "gzip"})
        self.assertLess(rss() - before, 16 << 10, "kB more RSS after the bomb")
        self.assert_error(413, 8, "larger than 1048576 bytes", ECHO,
                          os.urandom(1100000), {"Content-Encoding": "gzip"})
        # at the limit it passes: 1 MiB of JSON exactly
        body = b'{"value":"' + b"v" * ((1 << 20) - 12) + b'"}'
        self.assertEqual(len(body), 1 << 20)
        status, _, data = self.post(ECHO, gzip.compress(body), {"Content-Encoding": "gzip"})
        self.assertEqual((status, data), (200, body))

    def test_a_malformed_request_line_is_refused(self):
        """RFC 9110 9.1 and RFC 9112 3.2: a method that is not a token, a
        raw space in the path or a control character in the target
        (libmicrohttpd ends the target at the last space and keeps the
        rest): 400, where they were routed (a space or \\x01 in a path
        variable or query value went to the plugin) or refused as a method
        not allowed.  (In the query libmicrohttpd has made '+' a space
        before anyone sees it: a raw space there cannot be told from '+'.)"""
        for line in (b"GET /v1/who ami HTTP/1.1", b"{}GET /healthz HTTP/1.1",
                     b"G\x01T /healthz HTTP/1.1", b"GET /healthz?tags=a\tb HTTP/1.1",
                     b"POST " + ECHO.encode() + b"\x7f HTTP/1.1",
                     b"GET /v1/testkit/x\x01y HTTP/1.1", b"GET /healthz?a\x01=1 HTTP/1.1"):
            with self.subTest(line=line):
                out = self.raw(line + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
                self.assertTrue(out.startswith(b"HTTP/1.1 400"), out[:300])
                self.assertIn(b'"code":3', out)
        # escaped, the same bytes are the path's and the query's business
        out = self.raw(b"GET /healthz?x=a%20b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 200"), out[:300])

    def test_bodies_that_cannot_be_delimited_are_refused_at_once(self):
        """RFC 9112 6.1, 6.3: an unknown transfer coding (501), or lengths a
        proxy in front could read otherwise (400), answered at once and the
        connection closed; an HTTP/1.1 request without Host (400)."""
        head = b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\n"
        for extra, status, why in (
                (b"Transfer-Encoding: gzip, chunked\r\n", b"501",
                 b"a Transfer-Encoding other than chunked is not supported"),
                (b"Transfer-Encoding: identity\r\nContent-Length: 2\r\n", b"501",
                 b"a Transfer-Encoding other than chunked"),
                (b"Content-Length: 2\r\nContent-Length: 5\r\n", b"400",
                 b"Content-Length given twice with different values"),
                (b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", b"400",
                 b"Transfer-Encoding and Content-Length together")):
            with self.subTest(extra=extra):
                t0 = time.monotonic()
                out = self.raw(head + extra + b"\r\n{}", timeout=5)
                self.assertTrue(out.startswith(b"HTTP/1.1 " + status), out[:300])
                self.assertIn(b"malformed request: " + why, out)
                self.assertLess(time.monotonic() - t0, 2)
        out = self.raw(b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400"), out[:300])
        self.assertIn(b"an HTTP/1.1 request without Host", out)
        # libmicrohttpd serves HTTP/1.2 as 1.1: it needs a Host as much
        out = self.raw(b"GET /healthz HTTP/1.2\r\nConnection: close\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400"), out[:300])
        self.assertIn(b"an HTTP/1.1 request without Host", out)
        out = self.raw(b"GET /healthz HTTP/1.0\r\n\r\n")  # 1.0 needs none
        self.assertTrue(out.startswith(b"HTTP/1.0 200") or out.startswith(b"HTTP/1.1 200"),
                        out[:300])
        # the same Content-Length twice is one length
        out = self.raw(head + b"Content-Length: 2\r\nContent-Length: 2\r\n"
                       b"Connection: close\r\n\r\n{}")
        self.assertTrue(out.startswith(b"HTTP/1.1 200"), out[:300])

    def test_smuggling_shapes_are_refused_and_close(self):
        """Header fields a proxy in front may read otherwise than
        libmicrohttpd does (RFC 9110 5, 9112 3.2, 5.1, 6.1): 400 at once,
        the connection closed, so the bytes after them never run as a
        second request."""
        smuggled = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        head = b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\n"
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(300))
        for request, why in (
                (head + b"Content-Length : 39\r\n\r\n" + smuggled,
                 b"a header field name that is empty or has a character"),
                (head + b"Transfer-Encoding : chunked\r\nContent-Length: 2\r\n\r\n{}",
                 b"a header field name that is empty or has a character"),
                (head + b"X-A: a\rb\r\nContent-Length: 2\r\n\r\n{}",
                 b"a header field value with a control character"),
                (b"POST " + ECHO.encode() + b" HTTP/1.0\r\nConnection: keep-alive\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n" + smuggled,
                 b"Transfer-Encoding in an HTTP/1.0 request"),
                (b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" + smuggled,
                 b"Host given more than once"),
                (b"GET /healthz HTTP/1.1\r\nHost: a b/c\r\n\r\n" + smuggled,
                 b"a Host that is not a host name"),
                # more header fields than allowed do not hide the framing
                (head + many + b"Content-Length: 56\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"0\r\n\r\n" + smuggled, b"Transfer-Encoding and Content-Length together")):
            with self.subTest(request=request[:60]):
                out = self.raw(request, timeout=5)
                self.assertTrue(out.startswith(b"HTTP/1.1 400") or out.startswith(b"HTTP/1.0 400"),
                                out[:300])
                self.assertIn(why, out)
                self.assertEqual(len(re.findall(rb"HTTP/1\.[01] \d\d\d ", out)), 1,
                                 out)  # nothing after it
        for host in (b"[::1]:8080", b"x ", b"127.0.0.1:80\t", b""):  # blanks around are not in it
            out = self.raw(b"GET /healthz HTTP/1.1\r\nHost: " + host +
                           b"\r\nConnection: close\r\n\r\n")
            self.assertTrue(out.startswith(b"HTTP/1.1 200"), (host, out[:300]))

    def test_absolute_form_request_target(self):
        """RFC 9112 3.2.2: a server must accept "POST http://host/path"."""
        out = self.raw(b"POST http://127.0.0.1" + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                       b"Connection: close\r\nContent-Length: 13\r\n\r\n{\"value\":\"a\"}")
        self.assertTrue(out.startswith(b"HTTP/1.1 200"), out[:300])
        self.assertTrue(out.endswith(b'{"value":"a"}'), out[-100:])
        # and its host is the Host (which a server then ignores): sent on as
        # grpcgateway-host and x-forwarded-host, as Go's server does
        out = self.raw(b"POST http://user@real.example:8080/v1/testkit/metadata HTTP/1.1\r\n"
                       b"Host: other\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}")
        self.assertTrue(out.startswith(b"HTTP/1.1 200"), out[:300])
        md = {e["key"]: e.get("text") for e in
              harness.json.loads(out.split(b"\r\n\r\n", 1)[1])["metadata"]}
        self.assertEqual((md.get("grpcgateway-host"), md.get("x-forwarded-host")),
                         ("real.example:8080", "real.example:8080"), md)
        out = self.raw(b"GET http://bad\"host/healthz HTTP/1.1\r\nHost: x\r\n"
                       b"Connection: close\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400"), out[:300])
        self.assertIn(b"a request target whose host is not a host name", out)

    def test_asterisk_form_request_target(self):
        """RFC 9112 3.2.4: `OPTIONS *` asks about the server as a whole: 200,
        no body, Allow; the connection stays usable (a body it sends is
        read and dropped).  Any other method with `*` is a malformed
        request."""
        out = self.raw(b"OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                       b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        first, rest = out.split(b"\r\n\r\n", 1)
        self.assertTrue(first.startswith(b"HTTP/1.1 200 OK\r\n"), out[:300])
        self.assertIn(b"\r\nAllow: GET, HEAD, POST, PUT, PATCH, DELETE\r\n", first)
        self.assertIn(b"\r\nContent-Length: 0", first)
        self.assertNotIn(b"Content-Type", first)
        self.assertTrue(rest.startswith(b"HTTP/1.1 200"), out[:600])  # then /healthz
        for method in (b"GET", b"POST", b"DELETE"):
            out = self.raw(method + b" * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            self.assertTrue(out.startswith(b"HTTP/1.1 400"), out[:300])
            self.assertIn(b"malformed request: a request target of * (for OPTIONS only)", out)

    def test_expect_100_continue_gets_the_refusal_instead(self):
        for path, status in ((b"/no/such/route", b"404"), (b"/v1/example/echo", b"413")):
            with self.subTest(path=path):
                length = b"1000" if status == b"404" else b"99999999"
                out = self.raw(b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                               length + b"\r\nExpect: 100-continue\r\n\r\n", timeout=5)
                self.assertTrue(out.startswith(b"HTTP/1.1 " + status), out[:300])
                self.assertNotIn(b"100 Continue", out)

    def test_oversized_header(self):
        out = self.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 431"), out[:200])
        # many header fields that fit in memory, but more than the gateway
        # forwards: refused rather than some of them silently dropped
        many = [("X-H%d" % i, "v") for i in range(300)]
        head = "".join("%s: %s\r\n" % kv for kv in many).encode()
        out = self.raw(b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       b"Content-Type: application/json\r\nContent-Length: 2\r\n" + head + b"\r\n{}")
        self.assertTrue(out.startswith(b"HTTP/1.1 431"), out[:200])
        self.assertIn(b'{"code":8,"message":"more than 256 request header fields"', out)
        # more gRPC metadata than a gRPC server takes (8 KiB): refused by the
        # gateway, because gRPC core would close the whole connection to the
        # host over it and fail every other call on it (seen: 503 "Broken
        # pipe" for a /healthz right after)
        for _ in range(30):
            self.assert_error(431, 8, "the headers sent on as gRPC metadata take", ECHO, b"{}",
                              headers={"Grpc-Metadata-Big": "a" * 20000})
            self.assertEqual(self.r.http("GET", "/healthz")[0], 200)
        self.assert_error(431, 8, "more than 7168", ECHO, b"{}",
                          headers={"Grpc-Metadata-Big-Bin": "YWJj" * 2000})
        status, _, data = self.post(ECHO, b'{"value":"m"}', headers={"Grpc-Metadata-Fits": "a" * 6000})
        self.assertEqual(status, 200, data)

    def test_metadata_limit_counts_the_calls_path(self):
        # the call's :path is part of the header block the upstream counts:
        # a method of a longer name leaves that much less room for metadata
        def largest_accepted(route, body):
            lo, hi = 5000, 7200  # accepted, refused
            while hi - lo > 1:
                mid = (lo + hi) // 2
                status, _, data = self.post(route, body,
                                            headers={"Grpc-Metadata-Fits": "a" * mid})
                self.assertIn(status, (200, 431), data)
                lo, hi = (mid, hi) if status == 200 else (lo, mid)
            return lo
        echo = largest_accepted(ECHO, b'{"value":"m"}')
        testkit = largest_accepted(TK_ECHO, b"{}")
        self.assertEqual(echo - testkit,
                         len("/rpcrest.testkit.TestKit/Echo") - len("/example.MyService/Echo"))

    def test_garbage_instead_of_http(self):
        rnd = random.Random(11)
        for data in (bytes(rnd.getrandbits(8) for _ in range(5000)),
                     b"GARBAGE\r\n\r\n", b"GET /healthz HTTP/9.9\r\n\r\n",
                     b"POST /v1/example/echo HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                     b"POST /v1/example/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
            with self.subTest(data=data[:30]):
                out = self.raw(data)  # answered (400 and the like) or closed; never a hang
                self.assertFalse(out.startswith(b"HTTP/1.1 2"), out[:200])

    def test_invalid_percent_encoding(self):
        for path in (TK_ECHO + "/%zz", TK_ECHO + "/a%2", TK_ECHO + "/x?int32Value=%4",
                     TK_ECHO + "/x?%G1=1", "/healthz?service=%"):
            with self.subTest(path=path):
                status, hdrs, data = self.r.http("GET", path)
                self.assertEqual(status, 400, data)
                self.assertIn(b"malformed percent-encoding", data)

    def test_slowloris(self):
        start = time.monotonic()
        s = socket.create_connection(("127.0.0.1", self.r.http_port), timeout=10)
        s.settimeout(0.05)
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
        closed_at = None
        for byte in request:  # one byte every 0.3 s: never idle for 2 s
            try:
                s.send(bytes([byte]))
                if s.recv(100) == b"":
                    closed_at = time.monotonic() - start
                    break
            except socket.timeout:
                pass
            except OSError:
                closed_at = time.monotonic() - start
                break
            time.sleep(0.3)
        s.close()
        self.assertIsNotNone(closed_at, "a trickling client was never closed")
        self.assertGreater(closed_at, 1.5)
        self.assertLess(closed_at, 4.0)
        # a connection that sends nothing, and one idle after its request
        idle = socket.create_connection(("127.0.0.1", self.r.http_port), timeout=10)
        kept = socket.create_connection(("127.0.0.1", self.r.http_port), timeout=10)
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b"}"):  # the whole answer, then nothing
            answer += kept.recv(1000)
        self.assertTrue(answer.startswith(b"HTTP/1.1 200"), answer)
        start = time.monotonic()
        self.assertEqual(idle.recv(100), b"")
        self.assertEqual(kept.recv(100), b"")
        self.assertLess(time.monotonic() - start, 4.0)
        idle.close()
        kept.close()
        self.assertIn("did not send a complete request header within connection_timeout (2 s)",
                      self.r.log())

    def test_more_connections_than_max_connections(self):
        held = []
        try:
            for _ in range(16):  # each answered once, so surely accepted and counted
                s = socket.create_connection(("127.0.0.1", self.r.http_port), timeout=5)
                held.append(s)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = b""
                while not answer.endswith(b"}"):
                    answer += s.recv(1000)
            extra = socket.create_connection(("127.0.0.1", self.r.http_port), timeout=5)
            start = time.monotonic()
            try:
                extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                got = extra.recv(100)
            except (ConnectionResetError, BrokenPipeError):
                got = b""
            extra.close()
            self.assertEqual(got, b"")
            self.assertLess(time.monotonic() - start, 1.0, "refused, not left waiting")
            # the connections inside the limit are served
            held[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(held[0].recv(100).startswith(b"HTTP/1.1 200"))
        finally:
            for s in held:
                s.close()
        self.assertIn("max_connections (16) reached: closed a new connection", self.r.log())
        # slots free again once the gateway has seen them close: served
        def served():
            try:
                return self.r.http("GET", "/healthz", timeout=2)[0] == 200
            except OSError:
                return False
        self.assertTrue(harness.wait_until(served, 5, 0.1))


class GatewayStalledBody(unittest.TestCase):
    """libmicrohttpd 0.9.75 neither reads on nor refuses a chunk-size line
    longer than the connection's buffer, and asks to be run again at once
    for as long as the connection lives: the HTTP thread spun a CPU until
    connection_timeout (30 s here).  Now the loop runs libmicrohttpd every
    10 ms once nothing goes on, and the connection is shut down once its
    bytes have waited unread while its loop went round."""

    def test_a_chunk_size_line_longer_than_the_buffer(self):
        with harness.Rpcrest(gateway={"threads": "1"}) as r:
            gateway = r.children()["rpcrest-gateway"]
            before = harness.cpu_ticks(gateway)
            started = time.monotonic()
            with socket.create_connection(("127.0.0.1", r.http_port)) as s:
                s.sendall(b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n2;" + b"a" * 40000)
                s.settimeout(20)
                try:
                    self.assertEqual(s.recv(100), b"")
                except ConnectionResetError:
                    pass  # closed with the rest of the line unread
            self.assertLess(time.monotonic() - started, 10)  # 30 s before
            used = harness.cpu_ticks(gateway) - before
            self.assertLess(used, 50, "the gateway spent %d clock ticks" % used)  # 80 spinning
            self.assertTrue(harness.wait_until(lambda: "closed a connection whose request "
                                               "body libmicrohttpd stopped reading" in r.log(),
                                               5), r.log())
            self.assertEqual(r.http("POST", ECHO, b'{"value":"x"}')[2], b'{"value":"x"}')


class GatewayStopsWithARequestIn(unittest.TestCase):
    """A request still coming in when the gateway stops: libmicrohttpd ends
    it once the loops are gone, and its completion must not reach for its
    loop (a SIGSEGV at every such stop, which rpcrestd counted as a
    failure)."""

    def test_a_stop_with_a_body_half_sent(self):
        r = harness.Rpcrest(gateway={"timeout": "1"})
        self.addCleanup(r.cleanup)
        r.start()
        gateway = r.children()["rpcrest-gateway"]
        with socket.create_connection(("127.0.0.1", r.http_port)) as s:
            s.sendall(b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 1000\r\n\r\n{\"value\":")
            time.sleep(0.3)
            os.kill(gateway, signal.SIGTERM)
            self.assertTrue(harness.wait_until(
                lambda: "event=exit child=rpcrest-gateway pid=%d" % gateway in r.log(), 15),
                r.log())
        line = [l for l in r.log().splitlines()
                if "event=exit child=rpcrest-gateway pid=%d" % gateway in l][0]
        self.assertIn(" status=0 ", line)


class GatewayClientCloses(unittest.TestCase):
    """A client's last bytes and its close arriving together: the
    connection is freed within seconds, not after connection_timeout."""

    def setUp(self):  # one HTTP thread: one upstream connection, made by the first echo
        self.r = harness.Rpcrest(services=("echo",),
                                 gateway={"connection_timeout": "60", "threads": "1"})
        self.addCleanup(self.r.cleanup)
        self.r.start()

    def test_partial_requests_then_close(self):
        gateway = self.r.children()["rpcrest-gateway"]
        def fds():
            return len(os.listdir("/proc/%d/fd" % gateway))
        self.r.http("POST", ECHO, b'{"value":"x"}', timeout=5)  # its connection to the host
        before = fds()
        for request in (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b",           # half a header
                        b"POST " + ECHO.encode() + b" HTTP/1.1\r\nHost: x\r\n"  # half a body
                        b"Content-Length: 100\r\n\r\n{\"value\""):
            for _ in range(20):
                s = socket.create_connection(("127.0.0.1", self.r.http_port))
                s.sendall(request)
                s.close()
            self.assertTrue(harness.wait_until(lambda: fds() <= before, 5),
                            "%d descriptors more than before" % (fds() - before))
            status, _, body = self.r.http("POST", ECHO, b'{"value":"x"}', timeout=5)
            self.assertEqual((status, body), (200, b'{"value":"x"}'), self.r.log())
        # clients leaving are the access log's, not error lines of libmicrohttpd's
        self.assertNotIn("libmicrohttpd:", self.r.log())


class GatewayOutOfDescriptors(unittest.TestCase):
    """The gateway's open-file limit lowered (prlimit) to a few above what it
    has open, then 40 connections held open: accept fails with EMFILE."""

    THREADS = 2

    def setUp(self):
        self.r = harness.Rpcrest(services=("echo",), gateway={"threads": str(self.THREADS)})
        self.addCleanup(self.r.cleanup)
        self.r.start()
        self.pid = self.r.children()["rpcrest-gateway"]

    def cpu_ms(self):
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 // os.sysconf("SC_CLK_TCK")

    def test_accepting_pauses_and_resumes(self):
        echo = ("POST", ECHO, b'{"value":"x"}')
        self.assertEqual(self.r.http(*echo)[0], 200)
        kept = socket.create_connection(("127.0.0.1", self.r.http_port), timeout=5)
        self.addCleanup(kept.close)
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(kept.recv(1000).startswith(b"HTTP/1.1 200"))
        in_use = len(os.listdir("/proc/%d/fd" % self.pid))
        limits = resource.prlimit(self.pid, resource.RLIMIT_NOFILE)
        resource.prlimit(self.pid, resource.RLIMIT_NOFILE, (in_use + 4, limits[1]))
        held = []
        try:
            for _ in range(40):  # the kernel queues them; the gateway takes 4
                held.append(socket.create_connection(("127.0.0.1", self.r.http_port),
                                                     timeout=5))
            self.assertTrue(harness.wait_until(
                lambda: "accept: Too many open files" in self.r.log(), 5), self.r.log())
            before = self.cpu_ms()
            time.sleep(1)
            self.assertLess(self.cpu_ms() - before, 200, "the gateway spins on accept")
            self.assertLessEqual(self.r.log().count("accept: Too many open files"),
                                 self.THREADS)  # once per loop and episode
            kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(kept.recv(1000).startswith(b"HTTP/1.1 200"))
        finally:
            for s in held:
                s.close()
            resource.prlimit(self.pid, resource.RLIMIT_NOFILE, limits)

        def served():
            try:
                return self.r.http(*echo, timeout=2)[0] == 200
            except OSError:
                return False
        self.assertTrue(harness.wait_until(served, 10, 0.1), self.r.log())


class GatewayUpstreamHostile(unittest.TestCase):
    """rpcrest-gateway alone in front of an upstream written here that
    misbehaves: each test gives it a listening socket and what to do with
    each connection."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rpcrest-upstream-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.results = []  # what answer() returned, per connection that had a call
        self.stopping = threading.Event()
        self.addCleanup(self.stopping.set)

    def start(self, listener, answer, upstream, descriptors, gateway_conf=""):
        """Serves `listener` (each connection: answer(conn) on a thread of its
        own, after the preface), then starts the gateway in front of it."""
        self.addCleanup(listener.close)
        listener.listen(16)
        listener.settimeout(0.2)
        threading.Thread(target=self.serve, args=(listener, answer), daemon=True).start()
        self.port = harness.free_port()
        ini = os.path.join(self.dir, "gateway.ini")
        with open(ini, "w") as f:
            f.write("[gateway]\nlisten = 127.0.0.1:%d\nupstream = %s\nthreads = 1\n"
                    "descriptors = %s/services/%s.pb\n%s"
                    % (self.port, upstream, harness.BUILD, descriptors, gateway_conf))
        log = open(os.path.join(self.dir, "gateway.log"), "ab")
        self.addCleanup(log.close)
        self.gateway = subprocess.Popen([os.path.join(harness.BUILD, "rpcrest-gateway"), "-c", ini],
                                        stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT)
        self.addCleanup(harness.stop_process, self.gateway)
        self.assertTrue(harness.wait_until(lambda: harness.port_open(self.port), 10))

    def serve(self, listener, answer):
        while not self.stopping.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn, answer), daemon=True).start()

    def handle(self, conn, answer):
        conn.settimeout(5)
        try:
            if conn.recv(len(h2raw.PREFACE), socket.MSG_WAITALL) == h2raw.PREFACE:
                result = answer(conn)
                if result is not None:
                    self.results.append(result)
        except OSError:
            pass
        finally:
            conn.close()

    def request(self, method, path, body=None, timeout=30):
        """(status, body, seconds taken) of one request to the gateway."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        started = time.monotonic()
        try:
            conn.request(method, path, body=body)
            resp = conn.getresponse()
            return resp.status, resp.read(), time.monotonic() - started
        finally:
            conn.close()

    @staticmethod
    def declare_huge(conn):
        """Answers the first call with a message declared 4 GiB, sent as the
        gateway's windows allow: (bytes sent, reset code), or None."""
        conn.sendall(h2raw.frame(h2raw.SETTINGS, 0, 0))
        headers = b"".join(h2raw.hpack_literal(k, v) for k, v in (
            (":status", "200"), ("content-type", "application/grpc")))
        sent, reset = h2raw.send_declared(conn, (1 << 32) - 1, 512 << 20,
                                          reply_headers=headers, wait=20)
        return (sent, reset) if sent else None

    def test_a_reply_declared_huge_is_reset_before_the_gateway_holds_it(self):
        # a stream's reply, on the gateway's own connections: refused at its
        # prefix (gRPC core read a message whole, as long as its prefix said,
        # before it compared it with the 64 MiB limit, and reset the stream
        # with ENHANCE_YOUR_CALM only once its channel's memory quota was full)
        listener = socket.socket(socket.AF_UNIX)
        path = os.path.join(self.dir, "upstream.sock")
        listener.bind(path)
        self.start(listener, self.declare_huge, "unix:" + path, "testkit", "timeout = 20\n")
        harness.reset_peak_rss(self.gateway.pid)
        rss_before = harness.rss_kib(self.gateway.pid)
        status, body, _ = self.request("GET", "/v1/testkit/stream?count=1&size=8")
        self.assertTrue(harness.wait_until(lambda: self.results, 10))
        sent, reset = self.results[0]
        self.assertEqual(reset, 0x8, "sent %d bytes, not reset (CANCEL)" % sent)
        self.assertLess(sent, 1 << 20)
        self.assertLess(harness.peak_rss_kib(self.gateway.pid) - rss_before, 16 * 1024)
        self.assertEqual((status, harness.json.loads(body)), (429, {
            "code": 8, "message": "a message of the upstream's reply is larger than 64 MiB",
            "details": []}), body)
        self.assertEqual(self.gateway.poll(), None)

    def test_an_upstream_that_stops_reading_fails_the_call_in_20_s(self):
        # a server process that is stuck (or a machine gone) takes nothing
        # more: the kernel gives up on the connection after 20 s
        # (TCP_USER_TIMEOUT on the gateway's connections), the call fails
        # UNAVAILABLE instead of waiting out its 60 s deadline
        def take_then_stop_reading(conn):
            conn.sendall(h2raw.frame(h2raw.SETTINGS, 0, 0, struct.pack(">HI", 0x4, (1 << 31) - 1))
                         + h2raw.frame(h2raw.WINDOW_UPDATE, 0, 0, struct.pack(">I", 1 << 30)))
            self.stopping.wait(90)  # reads nothing more
        listener = socket.socket(socket.AF_INET)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        listener.bind(("127.0.0.1", 0))
        # a name, resolved by the system's resolver
        upstream = "localhost:%d" % listener.getsockname()[1]
        self.start(listener, take_then_stop_reading, upstream, "echo",
                   "timeout = 60\nmax_body_bytes = 16M\n")
        body = ('{"value":"%s"}' % ("x" * (8 << 20))).encode()
        status, answer, took = self.request("POST", "/v1/example/echo", body, timeout=90)
        self.assertEqual((status, harness.json.loads(answer)["code"]), (503, 14), answer)
        self.assertLess(took, 40)
        self.assertEqual(self.gateway.poll(), None)


class HostHostile(unittest.TestCase):
    """The host's gRPC port, with the gateway next to it."""

    @classmethod
    def setUpClass(cls):
        cls.r = harness.Rpcrest(services=("echo", "testkit"),
                                host={"max_message_bytes": "65536"})
        cls.r.start()
        cls.host_pid = cls.r.children()["rpcrest-host"]
        cls.pb2, cls.pb2_grpc = harness.grpc_modules(
            "testkit.proto", os.path.join(harness.ROOT, "services/testkit"))
        cls.channel = grpc.insecure_channel(cls.r.grpc_target())
        cls.stub = cls.pb2_grpc.TestKitStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.r.cleanup()

    def tearDown(self):
        self.assertEqual(self.r.children().get("rpcrest-host"), self.host_pid,
                         "the host restarted; log:\n" + self.r.log())
        m = self.pb2.AllTypes(string_value="still here")
        self.assertEqual(self.stub.Echo(m, timeout=5), m)

    def closed_soon(self, s, timeout=5.0):
        s.settimeout(timeout)
        frames, closed = h2raw.read_frames(s)
        s.close()
        return frames, closed

    def test_garbage_bytes(self):
        rnd = random.Random(7)
        port = self.r.host_port
        cases = [
            bytes(rnd.getrandbits(8) for _ in range(4096)),
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + b"\x00" * 100,  # a wrong preface
        ]
        for data in cases:
            with self.subTest(data=data[:24]):
                s = h2raw.connect(port)
                try:
                    s.sendall(data)
                except OSError:
                    pass
                _, closed = self.closed_soon(s)
                self.assertTrue(closed, "the host kept a garbage connection open")
        # a right preface, then frames that break the protocol: GOAWAY, close
        bad_frames = [
            h2raw.frame(h2raw.SETTINGS, 0, 0, b"\x00\x04\xff\xff\xff\xff"),  # window > 2^31-1
            h2raw.frame(h2raw.SETTINGS, 0, 0, b"\x00"),                     # length not 6n
            h2raw.frame(h2raw.PING, 0, 0, b"short"),
            h2raw.frame(h2raw.WINDOW_UPDATE, 0, 0, b"\x00\x00\x00\x00"),    # increment 0
            h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, 1, b"\xff\xff\xff\xff\xff"),  # bad HPACK
            h2raw.frame(h2raw.CONTINUATION, h2raw.END_HEADERS, 1, b"\x00"),
            h2raw.frame(0xFF, 0, 0, b"", length=1 << 23),                   # over max frame size
        ]
        for data in bad_frames:
            with self.subTest(frame=data[:9].hex()):
                s = h2raw.start(port)
                try:
                    s.sendall(data + b"\x00" * 64)
                except OSError:
                    pass
                frames, closed = self.closed_soon(s)
                self.assertTrue(closed or h2raw.goaway_error(frames) is not None,
                                "no GOAWAY and not closed: %r" % frames[:5])
        # frames gRPC core 1.51 lets pass although RFC 9113 calls them
        # connection errors: ignored, and nothing else is disturbed
        tolerated = [
            h2raw.frame(h2raw.DATA, 0, 0, b"data on stream 0"),
            h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, 2, h2raw.grpc_request_headers("/x")),
            h2raw.frame(h2raw.RST_STREAM, 0, 0, b"\x00\x00\x00\x08"),
        ]
        for data in tolerated:
            with self.subTest(frame=data[:9].hex()):
                s = h2raw.start(port)
                s.sendall(data)
                self.closed_soon(s, timeout=0.5)

    def test_message_over_max_message_bytes(self):
        big = self.pb2.AllTypes(bytes_value=b"x" * 70000)
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.Echo(big, timeout=5)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        fits = self.pb2.AllTypes(bytes_value=b"x" * 60000)
        self.assertEqual(self.stub.Echo(fits, timeout=5), fits)

    def send_declared(self, declared, limit):
        """An Echo call whose message prefix declares `declared` bytes, sent
        as the host's windows allow (h2raw.send_declared): (bytes sent,
        RST_STREAM error or None)."""
        s = h2raw.start(self.r.host_port)
        try:
            s.sendall(h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, 1,
                                  h2raw.grpc_request_headers("/rpcrest.testkit.TestKit/Echo")))
            return h2raw.send_declared(s, declared, limit)
        finally:
            s.close()

    def test_a_message_declared_huge_is_reset_before_the_host_holds_it(self):
        # gRPC core reads a message whole, as long as its prefix says, before
        # it compares it with max_message_bytes: the host's memory quota
        # (64 MiB here) makes it reset the stream instead of holding 1 GiB
        harness.reset_peak_rss(self.host_pid)
        rss_before = harness.rss_kib(self.host_pid)
        sent, reset = self.send_declared((1 << 32) - 1, 512 << 20)
        self.assertEqual(reset, 0xb, "sent %d bytes, not reset (ENHANCE_YOUR_CALM)" % sent)
        self.assertLess(sent, 128 << 20)
        self.assertLess(harness.peak_rss_kib(self.host_pid) - rss_before, 128 * 1024)

    def curl_grpc(self, method, message, encoding, body=None):
        """A gRPC call made with curl (HTTP/2 without TLS) so that the
        grpc-encoding header and the compressed flag are ours (or the whole
        body, when given).  Returns (grpc-status or None, curl's exit code,
        its verbose output)."""
        d = tempfile.mkdtemp(prefix="rpcrest-curl-")
        try:
            path = os.path.join(d, "msg")
            with open(path, "wb") as f:
                f.write(h2raw.grpc_message(message, compressed=True) if body is None else body)
            proc = subprocess.run(
                ["curl", "-sS", "-v", "--http2-prior-knowledge", "--max-time", "10",
                 "-H", "content-type: application/grpc", "-H", "te: trailers",
                 "-H", "grpc-encoding: " + encoding, "--data-binary", "@" + path,
                 "-o", os.path.join(d, "out"),
                 "http://127.0.0.1:%d%s" % (self.r.host_port, method)],
                capture_output=True, timeout=30)
            err = proc.stderr.decode("utf-8", "replace")
            status = None
            for line in err.splitlines():
                if line.lower().startswith("< grpc-status:"):
                    status = int(line.split(":", 1)[1])
            return status, proc.returncode, err
        finally:
            shutil.rmtree(d, ignore_errors=True)

    @unittest.skipUnless(shutil.which("curl"), "curl is not installed")
    def test_unary_call_without_a_message(self):
        # the client half-closes with no message at all: not "cannot decode"
        status, code, err = self.curl_grpc("/rpcrest.testkit.TestKit/Echo", None, "identity",
                                           body=b"")
        self.assertEqual(status, grpc.StatusCode.INTERNAL.value[0], err)
        self.assertIn("the call carried no complete request message", urllib.parse.unquote(err))
        self.assertEqual(self.stub.Echo(self.pb2.AllTypes(string_value="x"), timeout=5).string_value,
                         "x")

    @unittest.skipUnless(shutil.which("curl"), "curl is not installed")
    def test_unknown_compression(self):
        import gzip
        message = self.pb2.AllTypes(string_value="compressed").SerializeToString()
        packed = gzip.compress(message)
        # an algorithm gRPC does not know: the plugin gets the gzip bytes
        # as they are, and cannot decode them
        status, code, err = self.curl_grpc("/rpcrest.testkit.TestKit/Echo", packed, "snappy-x")
        self.assertEqual(status, grpc.StatusCode.INVALID_ARGUMENT.value[0], err)
        self.assertIn("cannot decode request", err)
        # a known one, with bytes that are not what it says: INTERNAL
        status, code, err = self.curl_grpc("/rpcrest.testkit.TestKit/Echo", b"not gzip", "gzip")
        self.assertTrue(status == grpc.StatusCode.INTERNAL.value[0] or
                        (code == 92 and "INTERNAL_ERROR" in err), err)
        # and the real thing works
        status, code, err = self.curl_grpc("/rpcrest.testkit.TestKit/Echo", packed, "gzip")
        self.assertEqual((status, code), (0, 0), err)

    def grpc_exchange(self, method, message, extra=()):
        """One call over a raw HTTP/2 connection with extra request headers
        (any bytes: what no gRPC library sends).  Returns (grpc-status or
        None, grpc-message, the reply message's bytes)."""
        s = h2raw.start(self.r.host_port)
        try:
            s.sendall(h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, 1,
                                  h2raw.grpc_request_headers(method, extra=extra)) +
                      h2raw.frame(h2raw.DATA, h2raw.END_STREAM, 1, h2raw.grpc_message(message)))
            s.settimeout(5)
            frames, _ = h2raw.read_frames(s, until=lambda frames: any(
                t == h2raw.HEADERS and f & h2raw.END_STREAM for t, f, _, _ in frames))
        finally:
            s.close()
        headers = b"".join(p for t, f, sid, p in frames if t == h2raw.HEADERS)
        data = b"".join(p for t, f, sid, p in frames if t == h2raw.DATA)
        status = None
        i = headers.rfind(b"\x0bgrpc-status")
        if i >= 0:
            status = int(headers[i + 13:i + 13 + headers[i + 12]])
        message = b""
        i = headers.rfind(b"\x0cgrpc-message")
        if i >= 0:
            message = headers[i + 14:i + 14 + headers[i + 13]]
        return status, urllib.parse.unquote(message.decode("ascii")), data[5:]

    def test_metadata_that_breaks_grpc_rules(self):
        # gRPC core 1.51 hands these to the application as they came; the
        # plugin ABI promises lower-case keys of [0-9a-z-_.] and printable
        # ASCII text values (so a request id can go into a log line)
        method = "/rpcrest.testkit.TestKit/EchoMetadata"
        request = self.pb2.MetadataRequest(no_echo=True).SerializeToString()
        cases = [
            (("x-request-id", "forged\nrpcrest-host: a line of the attacker's"), "x-request-id"),
            (("x-request-id", "bell\x07"), "x-request-id"),
            (("x-name", "caf\u00e9"), "x-name"),
            (("x-Upper", "v"), "x-Upper"),
            (("x\nkey", "v"), "x\\x0akey"),
            (("x key", "v"), "x key"),
        ]
        for header, named in cases:
            with self.subTest(header=header):
                status, message, reply = self.grpc_exchange(method, request, (header,))
                self.assertEqual(status, grpc.StatusCode.INVALID_ARGUMENT.value[0], message)
                self.assertIn('request metadata "%s"' % named, message)
                self.assertEqual(reply, b"")
        # binary values may be any bytes; text values any printable ASCII
        status, message, reply = self.grpc_exchange(
            method, request, (("x-raw-bin", "AAEC/w=="), ("x-text", " ~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}")))
        self.assertEqual(status, 0, message)
        got = self.pb2.MetadataReply.FromString(reply)
        entries = {e.key: e.binary or e.text for e in got.metadata}
        self.assertEqual(entries["x-raw-bin"], b"\x00\x01\x02\xff")
        self.assertEqual(entries["x-text"], " ~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}")

    @staticmethod
    def gzip_of_zeros(n, prefix=b""):
        """prefix + n zero bytes, gzip-compressed at level 9 (about n / 1000
        bytes: a decompression bomb when n is large)."""
        import zlib
        z = zlib.compressobj(9, zlib.DEFLATED, 31)
        out = z.compress(prefix)
        block = bytes(1 << 20)
        for _ in range(n >> 20):
            out += z.compress(block)
        return out + z.compress(bytes(n & ((1 << 20) - 1))) + z.flush()

    @unittest.skipUnless(shutil.which("curl"), "curl is not installed")
    def test_compressed_message_over_max_message_bytes(self):
        varint = harness.varint
        # AllTypes.bytes_value (field 15) of n bytes, so that what fits is
        # also a message the plugin can decode
        def bytes_field(n):
            return b"\x7a" + varint(n)
        cases = [
            # 48 MiB of zeros in about 48 KiB: under max_message_bytes as
            # sent, gRPC core 1.51 inflates all of it before it compares
            ("/rpcrest.testkit.TestKit/Echo", bytes_field(48 << 20), 48 << 20),
            ("/grpc.health.v1.Health/Check", b"\x0a" + varint(48 << 20), 48 << 20),
            ("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
             b"\x1a" + varint(48 << 20), 48 << 20),
            # just over the limit once inflated
            ("/rpcrest.testkit.TestKit/Echo", bytes_field(65536), 65536),
        ]
        for method, prefix, n in cases:
            with self.subTest(method=method, inflated=n):
                bomb = self.gzip_of_zeros(n, prefix)
                self.assertLess(len(bomb), 60000)
                harness.reset_peak_rss(self.host_pid)
                rss_before = harness.rss_kib(self.host_pid)
                t0 = time.monotonic()
                status, code, err = self.curl_grpc(method, bomb, "gzip")
                self.assertEqual(status, grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], err)
                self.assertIn("larger than", urllib.parse.unquote(err))
                self.assertLess(time.monotonic() - t0, 5)
                grown = harness.peak_rss_kib(self.host_pid) - rss_before
                self.assertLess(grown, 16 * 1024, "the host inflated the message (%d KiB)" % grown)
        # what fits once inflated is served, compressed either way
        for encoding in ("gzip", "deflate"):
            with self.subTest(encoding=encoding):
                import zlib
                message = self.pb2.AllTypes(bytes_value=bytes(60000)).SerializeToString()
                z = zlib.compressobj(9, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
                packed = z.compress(message) + z.flush()
                status, code, err = self.curl_grpc("/rpcrest.testkit.TestKit/Echo", packed,
                                                   encoding)
                self.assertEqual((status, code), (0, 0), err)
        health = b"\x0a\x00"  # HealthCheckRequest{service: ""}
        import zlib
        status, code, err = self.curl_grpc("/grpc.health.v1.Health/Check",
                                           zlib.compress(health), "deflate")
        self.assertEqual((status, code), (0, 0), err)

    def stats(self):
        from google.protobuf import empty_pb2
        return self.stub.Stats(empty_pb2.Empty(), timeout=5)

    def test_client_never_reads_a_stream(self):
        before = self.stats()
        rss_before = harness.rss_kib(self.host_pid)
        s = h2raw.start(self.r.host_port, window=65535)
        request = self.pb2.StreamRequest(count=100000, size=1000).SerializeToString()
        s.sendall(h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, 1,
                              h2raw.grpc_request_headers("/rpcrest.testkit.TestKit/Stream")) +
                  h2raw.frame(h2raw.DATA, h2raw.END_STREAM, 1, h2raw.grpc_message(request)))
        try:
            # the client never reads; the host must stop at the flow-control window
            self.assertTrue(harness.wait_until(
                lambda: self.stats().streams_started > before.streams_started, 5, 0.05))
            time.sleep(1.5)
            mid = self.stats()
            sent = mid.messages_sent - before.messages_sent
            self.assertLess(sent, 1000, "the host kept sending to a client that does not read")
            self.assertGreater(mid.sends_refused, before.sends_refused)
            # others are served meanwhile, and the host's memory stays put
            m = self.pb2.AllTypes(string_value="meanwhile")
            self.assertEqual(self.stub.Echo(m, timeout=5), m)
            self.assertLess(harness.rss_kib(self.host_pid) - rss_before, 32 * 1024)
            time.sleep(1)
            self.assertLess(self.stats().messages_sent - mid.messages_sent, 100)
        finally:
            s.close()
        # the client left: the stream is cancelled, not left hanging
        self.assertTrue(harness.wait_until(
            lambda: self.stats().streams_cancelled > before.streams_cancelled, 5, 0.05),
            self.stats())


if __name__ == "__main__":
    unittest.main()
