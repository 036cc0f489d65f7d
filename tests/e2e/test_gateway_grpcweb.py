"""End-to-end tests of gRPC-Web served by rpcrest-gateway ([gateway]
grpc_web = on), on the real programs.

The classes start one rpcrestd (harness.Rpcrest: rpcrest-host with the echo
and testkit services, and rpcrest-gateway) for all of their tests and talk
to it over HTTP/1.1 on 127.0.0.1, as grpc-web, @improbable-eng/grpc-web and
Connect's grpc-web transport do:

  GrpcWeb          unary calls in binary and text mode (the quick start's
                   value), Content-Type spellings, a text body of several
                   padded base64 groups, a chunked request body, server
                   streaming (messages then the trailer frame; a stream that
                   fails after messages; one that ends with none),
                   trailers-only answers (Fail: grpc-status, percent-encoded
                   grpc-message, grpc-status-details-bin), unknown methods
                   (12), malformed bodies (3 or 12), the upstream's own
                   status for a message it cannot decode, +json and other
                   subtypes (415), other HTTP methods (not gRPC-Web),
                   request headers -> metadata, initial metadata -> headers,
                   trailing metadata -> the trailer frame, X-Request-Id,
                   grpc-timeout (the deadline; 4 when it passes; 3 when
                   malformed), keep-alive connections, metrics, and REST on
                   the same gateway (the quick start's curl call)
  GrpcWebLimits    [gateway] max_body_bytes: beyond it (as sent: base64 in
                   text mode) grpc-status 8; max_timeout caps grpc-timeout
  GrpcWebCors      [gateway] cors_origins: Allow-Origin and Expose-Headers on
                   answers, preflight of a method path
  GrpcWebOff       the default (grpc_web off): a gRPC-Web request is not
                   answered as gRPC-Web
  GrpcWebStreamingUpstream
                   rpcrest-gateway alone in front of the Python upstream
                   (pyupstream.py, as test_gateway_foreign.py runs it):
                   client streaming and bidi methods, unannotated ones too

Every answer is parsed strictly: HTTP 200, the Content-Type of the mode,
frames that account for every byte of the body (text: each frame base64 on
its own, padded), message frames then exactly one trailer frame of
`key:value\\r\\n` lines, or no body at all (trailers-only) with the status in
the headers.

Only 127.0.0.1; every process is stopped by PID.
"""
import base64
import gzip
import http.client
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import unittest

import harness
from pyupstream import _varint as varint
import test_gateway_foreign as foreign
import test_gateway_rest as rest

ECHO = "/example.MyService/Echo"
TK = "/rpcrest.testkit.TestKit/"
CALC = "/calc.Calculator/"

BINARY_TYPE = "application/grpc-web+proto"
TEXT_TYPE = "application/grpc-web-text+proto"

OK, CANCELLED, INVALID_ARGUMENT, DEADLINE_EXCEEDED = 0, 1, 3, 4
RESOURCE_EXHAUSTED, FAILED_PRECONDITION, UNIMPLEMENTED = 8, 9, 12

# A deadline the host sees may exceed the one asked for by this much.
SLACK_MS = 100

# What the gateway never sends on as metadata (spec: HTTP's own and the
# transport's headers, the gRPC-Web marker, Accept and Accept-Encoding).
NEVER_METADATA = {"host", "connection", "keep-alive", "te", "transfer-encoding", "upgrade",
                  "content-length", "content-type", "proxy-authorization", "proxy-connection",
                  "x-grpc-web", "accept", "accept-encoding"}

_B64_GROUP = re.compile(rb"[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==")
_KEY = re.compile(r"[0-9a-z_.\-]+")


# ---- messages -------------------------------------------------------------------------


class Pb:
    """The Python message modules of testkit and calc, generated once (with
    the Python upstream's, by test_gateway_foreign.World)."""
    testkit = None
    calc = None

    @classmethod
    def load(cls):
        if cls.testkit is None:
            foreign.World.setup()
            if foreign.World.gen not in sys.path:
                sys.path.insert(0, foreign.World.gen)
            import calc_pb2
            import testkit_pb2
            cls.testkit, cls.calc = testkit_pb2, calc_pb2
        return cls


def string_message(value):
    """example.StringMessage{value}, serialized (the echo service's)."""
    data = value.encode("utf-8")
    return b"\x0a" + varint(len(data)) + data if data else b""


def wire_fields(test, data):
    """[(field number, wire type, value)] of a serialized message, strictly
    (every byte accounted for); varints as ints, length-delimited as bytes."""
    fields, i = [], 0

    def read_varint():
        nonlocal i
        shift = value = 0
        while True:
            test.assertLess(i, len(data), "varint cut short in %r" % data)
            b = data[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value
    while i < len(data):
        key = read_varint()
        number, wtype = key >> 3, key & 7
        if wtype == 0:
            fields.append((number, 0, read_varint()))
        elif wtype == 2:
            n = read_varint()
            test.assertLessEqual(i + n, len(data), "field cut short in %r" % data)
            fields.append((number, 2, data[i:i + n]))
            i += n
        elif wtype in (1, 5):
            n = 8 if wtype == 1 else 4
            test.assertLessEqual(i + n, len(data))
            fields.append((number, wtype, data[i:i + n]))
            i += n
        else:
            test.fail("wire type %d in %r" % (wtype, data))
    return fields


def b64decode_any_padding(value):
    return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)


# ---- gRPC-Web framing -----------------------------------------------------------------


def frame(message, flag=0):
    """One gRPC-Web frame: flag, 4-byte big-endian length, the bytes."""
    return struct.pack(">BI", flag, len(message)) + message


def frames(*messages):
    return b"".join(frame(m) for m in messages)


def pct_encode(data):
    """gRPC's percent-encoding of a status message (bytes)."""
    return "".join(chr(b) if 0x20 <= b <= 0x7E and b != 0x25 else "%%%02X" % b for b in data)


class Answer:
    """A gRPC-Web answer, parsed.  headers: {lower-case name: value} (the
    last of several), header_list: [(lower-case name, value)] as sent."""

    def __init__(self):
        self.status = self.headers = self.header_list = self.body = None
        self.text = False
        self.messages = []          # the message frames' payloads
        self.trailers_only = False
        self.code = None            # grpc-status
        self.raw_message = None     # grpc-message as sent (None: not sent)
        self.message = ""           # grpc-message percent-decoded
        self.trailer_lines = []     # the trailer frame's [(key, value)], in order
        self.trailing = []          # trailing metadata [(key, value)] (trailer frame)

    def header_values(self, name):
        return [v for k, v in self.header_list if k == name]


class GrpcWebChecks:
    """Calls and strict parsing, for classes that have self.http (RestCase)."""

    # -- parsing

    def split_frames(self, data):
        """[(flag, payload)] of a binary body; every byte must belong to a frame."""
        out, i = [], 0
        while i < len(data):
            self.assertGreaterEqual(len(data) - i, 5,
                                    "a partial frame prefix at byte %d: %r" % (i, data[i:]))
            flag, n = struct.unpack(">BI", data[i:i + 5])
            self.assertLessEqual(i + 5 + n, len(data),
                                 "frame at byte %d says %d bytes, %d left"
                                 % (i, n, len(data) - i - 5))
            out.append((flag, data[i + 5:i + 5 + n]))
            i += 5 + n
        return out

    def decode_text(self, body):
        """The bytes of a text-mode body: 4-character groups of the standard
        alphabet, '=' only as the padding of a group."""
        self.assertEqual(len(body) % 4, 0, "text body of %d characters: %r" % (len(body), body[:200]))
        out = []
        for i in range(0, len(body), 4):
            group = body[i:i + 4]
            self.assertTrue(_B64_GROUP.fullmatch(group),
                            "not a base64 group at %d: %r" % (i, group))
            out.append(base64.b64decode(group, validate=True))
        return b"".join(out)

    def pct_decode(self, raw):
        """grpc-message as sent -> str; only the bytes gRPC encodes may be
        %XX, and nothing outside 0x20-0x7E may be left as it is."""
        out, i = bytearray(), 0
        while i < len(raw):
            c = raw[i]
            self.assertTrue(0x20 <= ord(c) <= 0x7E, "grpc-message %r: %r as it is" % (raw, c))
            if c == "%":
                hexdigits = raw[i + 1:i + 3]
                self.assertRegex(hexdigits, r"^[0-9A-Fa-f]{2}$", "grpc-message %r" % raw)
                b = int(hexdigits, 16)
                self.assertTrue(b < 0x20 or b > 0x7E or b == 0x25,
                                "grpc-message %r: %%%s need not be encoded" % (raw, hexdigits))
                out.append(b)
                i += 3
            else:
                out.append(ord(c))
                i += 1
        return out.decode("utf-8", "replace")

    def parse_trailer(self, payload):
        """[(key, value)] of a trailer frame: `key:value\\r\\n` lines."""
        self.assertTrue(payload.endswith(b"\r\n"), "trailer frame %r" % payload)
        pairs = []
        for line in payload[:-2].split(b"\r\n"):
            key, sep, value = line.partition(b":")
            self.assertEqual(sep, b":", "trailer line %r in %r" % (line, payload))
            key = key.decode("ascii")
            self.assertTrue(_KEY.fullmatch(key), "trailer key %r in %r" % (key, payload))
            self.assertTrue(all(0x20 <= b <= 0x7E for b in value),
                            "trailer value %r in %r" % (value, payload))
            pairs.append((key, value.decode("ascii")))
        return pairs

    def parse_answer(self, status, header_list, body, text):
        """Checks every rule an answer follows and returns it parsed."""
        a = Answer()
        a.status, a.header_list, a.body, a.text = status, header_list, body, text
        a.headers = dict(header_list)
        self.assertEqual(status, 200, "HTTP %d: %r %r" % (status, header_list, body[:300]))
        self.assertEqual(a.headers.get("content-type"), TEXT_TYPE if text else BINARY_TYPE,
                         header_list)
        self.assertEqual(len(a.header_values("x-request-id")), 1, header_list)
        self.assertRegex(a.headers["x-request-id"], r"^[\x21-\x7e]+$")
        if not body:
            a.trailers_only = True
            self.assertEqual(a.headers.get("content-length"), "0",
                             "a trailers-only answer: %r" % header_list)
            self.assertEqual(len(a.header_values("grpc-status")), 1, header_list)
            self.assertRegex(a.headers["grpc-status"], r"^[0-9]+$")
            a.code = int(a.headers["grpc-status"])
            self.assertLessEqual(len(a.header_values("grpc-message")), 1, header_list)
            a.raw_message = a.headers.get("grpc-message")
            if a.raw_message is not None:
                self.assertNotEqual(a.raw_message, "", "an empty grpc-message is left out")
                a.message = self.pct_decode(a.raw_message)
            return a
        raw = self.decode_text(body) if text else body
        parsed = self.split_frames(raw)
        if text:  # each frame base64-encoded on its own
            self.assertEqual(b"".join(base64.b64encode(frame(p, f)) for f, p in parsed), body,
                             "text frames are not each base64 on their own")
        self.assertGreaterEqual(len(parsed), 1)
        for flag, payload in parsed[:-1]:
            self.assertEqual(flag, 0, "frame flags %r" % [f for f, _ in parsed])
            a.messages.append(payload)
        flag, payload = parsed[-1]
        self.assertEqual(flag, 0x80, "the last frame is no trailer frame: flags %r"
                         % [f for f, _ in parsed])
        a.trailer_lines = self.parse_trailer(payload)
        keys = [k for k, _ in a.trailer_lines]
        self.assertEqual(keys[0], "grpc-status", a.trailer_lines)
        self.assertEqual(keys.count("grpc-status"), 1, a.trailer_lines)
        self.assertRegex(a.trailer_lines[0][1], r"^[0-9]+$")
        a.code = int(a.trailer_lines[0][1])
        rest_lines = a.trailer_lines[1:]
        self.assertLessEqual(keys.count("grpc-message"), 1, a.trailer_lines)
        if "grpc-message" in keys:
            self.assertEqual(keys[1], "grpc-message", a.trailer_lines)
            a.raw_message = a.trailer_lines[1][1]
            self.assertNotEqual(a.raw_message, "", "an empty grpc-message is left out")
            a.message = self.pct_decode(a.raw_message)
            rest_lines = a.trailer_lines[2:]
        a.trailing = rest_lines
        return a

    # -- calls

    def grpc_web(self, path, body=b"", text=False, headers=None, content_type=None,
                 method="POST", timeout=10, encode=True, chunked=False):
        """A gRPC-Web call; body: the binary body (base64-encoded here in
        text mode unless encode=False); returns the parsed Answer."""
        status, header_list, data = self.raw_call(path, body, text, headers, content_type,
                                                  method, timeout, encode, chunked)
        return self.parse_answer(status, header_list, data, text)

    def raw_call(self, path, body=b"", text=False, headers=None, content_type=None,
                 method="POST", timeout=10, encode=True, chunked=False):
        """(status, [(lower-case name, value)], body) as they came."""
        if text and encode:
            body = base64.b64encode(body)
        hdrs = {"Content-Type": content_type or ("application/grpc-web-text" if text
                                                 else "application/grpc-web+proto"),
                "X-Grpc-Web": "1", "X-User-Agent": "grpc-web-javascript/0.1"}
        hdrs.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if chunked:
                pieces = [body[i:i + 3] for i in range(0, len(body), 3)]
                conn.request(method, path, body=iter(pieces), headers=hdrs, encode_chunked=True)
            else:
                conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, [(k.lower(), v) for k, v in resp.getheaders()], data
        finally:
            conn.close()

    # -- expectations

    def assert_status(self, a, code, message=None, message_part=None):
        self.assertEqual(a.code, code, "grpc-status %s (%r), wanted %d" % (a.code, a.message, code))
        if message is not None:
            self.assertEqual(a.message, message)
        if message_part is not None:
            self.assertIn(message_part, a.message)

    def assert_error(self, a, code, message_part=None):
        """A gateway-decided or pre-message error: trailers-only."""
        self.assertTrue(a.trailers_only, "not trailers-only: %r" % a.body[:300])
        self.assert_status(a, code, message_part=message_part)

    def assert_ok(self, a, count=None):
        self.assertEqual(a.code, OK, "grpc-status %s: %r" % (a.code, a.message))
        self.assertIsNone(a.raw_message, "grpc-message with status 0")
        if count is not None:
            self.assertEqual(len(a.messages), count)

    def assert_not_grpc_web(self, status, header_list, body):
        headers = dict(header_list)
        self.assertNotIn("grpc-status", headers, (status, header_list, body[:200]))
        self.assertFalse(headers.get("content-type", "").startswith("application/grpc-web"),
                         (status, header_list))
        self.assertFalse(status == 200 and body[:1] in (b"\x00", b"\x80"),
                         (status, header_list, body[:200]))


def metadata_request(**kw):
    return Pb.load().testkit.MetadataRequest(**kw).SerializeToString()


def metadata_entry(key, value):
    e = Pb.load().testkit.MetadataEntry(key=key)
    if isinstance(value, bytes):
        e.binary = value
    else:
        e.text = value
    return e


def reply_metadata(reply):
    """[(key, value)] of a MetadataReply, sorted; binary values as bytes."""
    return sorted((e.key, e.binary if e.WhichOneof("value") == "binary" else e.text)
                  for e in reply.metadata)


# ---- the system: rpcrest-host with echo and testkit ---------------------------------


class SystemCase(rest.SystemCase):
    services = ("echo", "testkit")

    @classmethod
    def setUpClass(cls):
        Pb.load()
        super().setUpClass()


class GrpcWeb(GrpcWebChecks, SystemCase):
    gateway_keys = {"grpc_web": "on"}

    def tk(self):
        return Pb.load().testkit

    # -- unary

    def test_unary_binary_seed_value(self):
        for ctype in ("application/grpc-web", "application/grpc-web+proto",
                      "Application/GRPC-Web+Proto", "application/grpc-web+proto; charset=utf-8",
                      "application/grpc-web;charset=x"):
            with self.subTest(content_type=ctype):
                a = self.grpc_web(ECHO, frame(string_message("this is vlaue")),
                                  content_type=ctype)
                self.assertFalse(a.trailers_only)
                self.assertEqual(a.messages, [b"\x0a\x0dthis is vlaue"])
                self.assert_ok(a)
                self.assertEqual(a.trailer_lines, [("grpc-status", "0")])

    def test_unary_text_seed_value(self):
        for ctype in ("application/grpc-web-text", "application/grpc-web-text+proto",
                      "APPLICATION/GRPC-WEB-TEXT; charset=utf-8"):
            with self.subTest(content_type=ctype):
                a = self.grpc_web(ECHO, frame(string_message("this is vlaue")), text=True,
                                  content_type=ctype)
                self.assertEqual(a.messages, [b"\x0a\x0dthis is vlaue"])
                self.assert_ok(a)
                self.assertEqual(a.trailer_lines, [("grpc-status", "0")])
                # the whole body, as a grpc-web client would see it
                self.assertEqual(a.body, base64.b64encode(frame(b"\x0a\x0dthis is vlaue"))
                                 + base64.b64encode(frame(b"grpc-status:0\r\n", 0x80)))

    def test_text_body_of_two_padded_groups(self):
        f = frame(string_message("this is vlaue"))  # 20 bytes
        for cut in (1, 4, 5, 7, 11, 19):
            with self.subTest(cut=cut):
                body = base64.b64encode(f[:cut]) + base64.b64encode(f[cut:])
                if cut % 3:
                    self.assertIn(b"=", body[:-4])  # a padded group inside the body
                a = self.grpc_web(ECHO, body, text=True, encode=False)
                self.assertEqual(a.messages, [b"\x0a\x0dthis is vlaue"])
                self.assert_ok(a)

    def test_chunked_request_body(self):
        """The body's transfer coding does not matter (3-byte chunks: frame
        prefixes and base64 groups split across them)."""
        msg = string_message("chunked " * 20)
        for text in (False, True):
            with self.subTest(text=text):
                a = self.grpc_web(ECHO, frame(msg), text=text, chunked=True)
                self.assertEqual(a.messages, [msg])
                self.assert_ok(a)

    def test_gzip_request_body(self):
        """A body sent with Content-Encoding: gzip is the HTTP body's coding,
        not the messages': inflated before its frames are read, in both
        modes (text: the base64 text is what was gzipped)."""
        msg = string_message("gzipped " * 20)
        for text in (False, True):
            with self.subTest(text=text):
                body = base64.b64encode(frame(msg)) if text else frame(msg)
                a = self.grpc_web(ECHO, gzip.compress(body), text=text, encode=False,
                                  headers={"Content-Encoding": "gzip"})
                self.assertEqual(a.messages, [msg])
                self.assert_ok(a)

    def test_empty_reply_message_is_a_frame(self):
        """An empty reply is still a message: a zero-length frame, then the
        trailer frame (not trailers-only)."""
        for text in (False, True):
            with self.subTest(text=text):
                a = self.grpc_web(ECHO, frame(b""), text=text)
                self.assertFalse(a.trailers_only)
                self.assertEqual(a.messages, [b""])
                self.assert_ok(a)

    def test_every_kind_of_field(self):
        tk = self.tk()
        msg = tk.AllTypes(double_value=1.5, int64_value=-(1 << 60), uint64_value=(1 << 64) - 1,
                          string_value="h\u00e9llo \U0001F600", bytes_value=b"\x00\xff" * 50,
                          color=tk.BLUE, repeated_int32=[1, -2, 3],
                          string_map={"a": "b", "c": "d"}, choice_nested=tk.Nested(name="n"))
        msg.nested.child.value = 7
        msg.timestamp.seconds = 1700000000
        msg.any.Pack(tk.Nested(name="inner"))
        msg.struct_value.update({"k": [1, "two", None]})
        for text in (False, True):
            with self.subTest(text=text):
                a = self.grpc_web(TK + "Echo", frame(msg.SerializeToString()), text=text)
                self.assert_ok(a, 1)
                self.assertEqual(tk.AllTypes.FromString(a.messages[0]), msg)

    def test_a_large_message(self):
        msg = string_message("x" * 300000)
        for text in (False, True):
            with self.subTest(text=text):
                a = self.grpc_web(ECHO, frame(msg), text=text)
                self.assert_ok(a)
                self.assertEqual(a.messages, [msg])

    # -- server streaming

    def stream_request(self, count, size=10, fail_code=0):
        return frame(self.tk().StreamRequest(count=count, size=size,
                                             fail_code=fail_code).SerializeToString())

    def check_stream_messages(self, a, count, size):
        tk = self.tk()
        self.assertEqual(len(a.messages), count)
        payload = bytes(ord("a") + i % 26 for i in range(size))
        for i, m in enumerate(a.messages):
            got = tk.StreamReply.FromString(m)
            self.assertEqual((got.index, len(got.payload)), (i, size))
            if i == 0 and size:
                self.assertEqual(got.payload[:1], payload[:1])

    def test_server_streaming(self):
        for text in (False, True):
            for count, size in ((1, 0), (5, 10), (200, 3000)):
                with self.subTest(text=text, count=count, size=size):
                    a = self.grpc_web(TK + "Stream", self.stream_request(count, size), text=text)
                    self.assertFalse(a.trailers_only)
                    self.check_stream_messages(a, count, size)
                    self.assert_ok(a)
                    self.assertEqual(a.trailer_lines, [("grpc-status", "0")])
                    self.assertEqual(a.headers.get("transfer-encoding"), "chunked", a.header_list)

    def test_stream_failing_after_messages(self):
        for text in (False, True):
            with self.subTest(text=text):
                a = self.grpc_web(TK + "Stream", self.stream_request(3, 10, FAILED_PRECONDITION),
                                  text=text)
                self.assertFalse(a.trailers_only)
                self.check_stream_messages(a, 3, 10)
                self.assert_status(a, FAILED_PRECONDITION, "failed after 3 messages")
                self.assertEqual(a.trailer_lines[:2], [("grpc-status", "9"),
                                                       ("grpc-message", "failed after 3 messages")])
                self.assertNotIn("grpc-status", a.headers)

    def test_stream_without_messages_is_trailers_only(self):
        for text in (False, True):
            with self.subTest(text=text, fail=False):
                a = self.grpc_web(TK + "Stream", self.stream_request(0), text=text)
                self.assertTrue(a.trailers_only)
                self.assert_ok(a)
            with self.subTest(text=text, fail=True):
                a = self.grpc_web(TK + "Stream", self.stream_request(0, 10, 7), text=text)
                self.assert_error(a, 7)
                self.assertEqual(a.message, "failed after 0 messages")

    # -- errors from the upstream: trailers-only

    def call_fail(self, code, message="", text=False, **kw):
        req = self.tk().FailRequest(code=code, message=message, **kw)
        return self.grpc_web(TK + "Fail", frame(req.SerializeToString()), text=text)

    def test_fail_is_trailers_only(self):
        for code in range(1, 17):
            for text in (False, True):
                with self.subTest(code=code, text=text):
                    a = self.call_fail(code, "code %d here" % code, text)
                    self.assert_error(a, code)
                    self.assertEqual(a.raw_message, "code %d here" % code)
                    self.assertNotIn("grpc-status-details-bin", a.headers)
                    self.assertEqual(a.body, b"")

    def test_fail_without_message(self):
        a = self.call_fail(5)
        self.assert_error(a, 5)
        self.assertNotIn("grpc-message", a.headers, a.header_list)

    def test_grpc_message_is_percent_encoded(self):
        for message in ("caf\u00e9 100% \u2603 done", "tab\there\nnewline", "100%", "%41",
                        "\U0001F600", "plain ascii: ~!@#$^&*()_+{}|:\"<>?`-=[]\\;',./"):
            for text in (False, True):
                with self.subTest(message=message, text=text):
                    a = self.call_fail(3, message, text)
                    self.assert_error(a, 3)
                    self.assertEqual(a.message, message)
                    self.assertEqual(a.raw_message.upper(),
                                     pct_encode(message.encode("utf-8")).upper())

    def test_grpc_message_in_the_trailer_frame_is_percent_encoded(self):
        """A stream failing after messages carries its status in the trailer
        frame: the same encoding (the testkit's message is ASCII; the check
        is the frame's own)."""
        a = self.grpc_web(TK + "Stream", self.stream_request(1, 1, 13))
        self.assert_status(a, 13, "failed after 1 messages")
        self.assertEqual(a.raw_message, "failed after 1 messages")

    def status_details(self, a):
        """google.rpc.Status of grpc-status-details-bin: (code, message, [(type_url, value)])."""
        raw = a.headers.get("grpc-status-details-bin") if a.trailers_only else \
            dict(a.trailing).get("grpc-status-details-bin")
        self.assertIsNotNone(raw, "no grpc-status-details-bin: %r %r"
                             % (a.header_list, a.trailer_lines))
        data = b64decode_any_padding(raw)
        code, message, details = 0, "", []
        for number, wtype, value in wire_fields(self, data):
            if number == 1 and wtype == 0:
                code = value
            elif number == 2 and wtype == 2:
                message = value.decode("utf-8")
            elif number == 3 and wtype == 2:
                any_fields = dict((n, v) for n, _, v in wire_fields(self, value))
                details.append((any_fields.get(1, b"").decode(), any_fields.get(2, b"")))
        return code, message, details

    def test_fail_with_details(self):
        from google.protobuf import any_pb2
        tk = self.tk()
        detail = any_pb2.Any()
        detail.Pack(tk.Nested(name="why", value=42))
        for text in (False, True):
            with self.subTest(text=text):
                a = self.call_fail(9, "with details \u00e9", text, details=[detail], with_info=True)
                self.assert_error(a, 9)
                self.assertEqual(a.message, "with details \u00e9")
                code, message, details = self.status_details(a)
                self.assertEqual((code, message), (9, "with details \u00e9"))
                self.assertEqual([t for t, _ in details],
                                 ["type.googleapis.com/rpcrest.testkit.Nested",
                                  "type.googleapis.com/rpcrest.testkit.FailInfo"])
                self.assertEqual(tk.Nested.FromString(details[0][1]),
                                 tk.Nested(name="why", value=42))
                info = tk.FailInfo.FromString(details[1][1])
                self.assertEqual((info.reason, info.domain), ("TESTKIT_FAIL", "rpcrest.testkit"))

    # -- errors the gateway decides

    def test_unknown_method(self):
        for path in ("/x.Y/Z", "/example.MyService/Nope", "/example.Nope/Echo"):
            for text in (False, True):
                with self.subTest(path=path, text=text):
                    a = self.grpc_web(path, frame(string_message("v")), text=text)
                    self.assert_error(a, UNIMPLEMENTED, path)

    def test_truncated_and_malformed_bodies(self):
        msg = string_message("this is vlaue")
        cases = [
            ("partial prefix", b"\x00\x00\x00"),
            ("one byte", b"\x00"),
            ("truncated message", frame(msg)[:-3]),
            ("length beyond the body", struct.pack(">BI", 0, 1 << 20) + msg),
            ("a whole frame then a partial prefix", frame(msg) + b"\x00\x00"),
            ("a whole frame then a truncated one", frame(msg) + frame(msg)[:8]),
        ]
        for name, body in cases:
            for text in (False, True):
                with self.subTest(case=name, text=text):
                    a = self.grpc_web(ECHO, body, text=text)
                    self.assert_error(a, INVALID_ARGUMENT)

    def test_text_that_is_not_base64(self):
        good = base64.b64encode(frame(string_message("this is vlaue")))
        for body in (b"not base64!", b"AAAA*AAA", b"@@@@", good[:8] + b"!!!!" + good[12:],
                     b"AAAAAA\x00A", b"AAAA AAA", good[:-4] + b"\r\n" + good[-4:]):
            with self.subTest(body=body):
                a = self.grpc_web(ECHO, body, text=True, encode=False)
                self.assert_error(a, INVALID_ARGUMENT)

    def test_text_in_the_url_safe_alphabet_is_not_base64(self):
        """The standard alphabet only: a frame whose base64 has '+' and '/'
        sent with '-' and '_' instead."""
        msg = string_message("\u00fb\u00ff\u00fe>?")  # bytes c3 bb c3 bf c3 be 3e 3f
        good = base64.b64encode(frame(msg))
        self.assertTrue(b"+" in good or b"/" in good, good)
        self.assert_ok(self.grpc_web(ECHO, good, text=True, encode=False), 1)
        urlsafe = good.replace(b"+", b"-").replace(b"/", b"_")
        a = self.grpc_web(ECHO, urlsafe, text=True, encode=False)
        self.assert_error(a, INVALID_ARGUMENT)

    def test_compressed_flag(self):
        msg = string_message("this is vlaue")
        for flag in (0x01, 0x03, 0x81):
            for text in (False, True):
                with self.subTest(flag=flag, text=text):
                    a = self.grpc_web(ECHO, frame(msg, flag), text=text)
                    self.assert_error(a, UNIMPLEMENTED,
                                      "compressed gRPC-Web messages are not supported")

    def test_other_flags(self):
        msg = string_message("this is vlaue")
        for flag in (0x80, 0x02, 0x40, 0xFE):
            for text in (False, True):
                with self.subTest(flag=flag, text=text):
                    a = self.grpc_web(ECHO, frame(msg, flag), text=text)
                    self.assert_error(a, INVALID_ARGUMENT)
        # a trailer frame after the message
        a = self.grpc_web(ECHO, frame(msg) + frame(b"grpc-status:0\r\n", 0x80))
        self.assert_error(a, INVALID_ARGUMENT)

    def test_one_request_message_for_unary_and_server_streaming(self):
        msg = string_message("this is vlaue")
        stream = self.tk().StreamRequest(count=1).SerializeToString()
        for path, m in ((ECHO, msg), (TK + "Stream", stream)):
            for text in (False, True):
                for n in (0, 2, 3):
                    with self.subTest(path=path, text=text, messages=n):
                        a = self.grpc_web(path, frames(*[m] * n), text=text)
                        self.assert_error(a, INVALID_ARGUMENT,
                                          "takes one request message; the body holds %d" % n)
        # two frames, each base64 on its own
        body = base64.b64encode(frame(msg)) + base64.b64encode(frame(msg))
        a = self.grpc_web(ECHO, body, text=True, encode=False)
        self.assert_error(a, INVALID_ARGUMENT, "the body holds 2")

    def test_a_message_the_upstream_cannot_decode(self):
        """Messages go through as bytes: the upstream's own status (the
        host: INVALID_ARGUMENT, "cannot decode request")."""
        for text in (False, True):
            with self.subTest(text=text):
                a = self.grpc_web(ECHO, frame(b"\x0a\x10abc"), text=text)
                self.assert_error(a, INVALID_ARGUMENT, "cannot decode")

    def test_other_subtypes_are_415(self):
        for ctype in ("application/grpc-web+json", "application/grpc-web+thrift",
                      "application/grpc-web-text+json", "Application/gRPC-Web+JSON; x=y"):
            with self.subTest(content_type=ctype):
                status, header_list, data = self.raw_call(
                    ECHO, frame(string_message("v")), content_type=ctype)
                headers = dict(header_list)
                self.assertEqual(status, 415, data)
                self.assertEqual(headers.get("content-type"), "application/json")
                body = json.loads(data)
                self.assertEqual(sorted(body), ["code", "details", "message"], body)
                self.assertEqual(body["code"], 3)
                self.assertEqual(body["details"], [])
                self.assertIn("only protobuf messages", body["message"])
                self.assertNotIn("grpc-status", headers)

    def test_other_http_methods_are_not_grpc_web(self):
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            with self.subTest(method=method):
                status, header_list, data = self.raw_call(
                    ECHO, frame(string_message("v")) if method != "GET" else b"",
                    method=method)
                self.assert_not_grpc_web(status, header_list, data)

    # -- metadata

    def test_request_headers_become_metadata(self):
        tk = self.tk()
        host = "127.0.0.1:%d" % self.port
        a = self.grpc_web(TK + "EchoMetadata", frame(metadata_request(no_echo=True)), headers={
            "X-Custom-Thing": "hello world",
            "X-Data-Bin": "AAH/",
            "Authorization": "Bearer t0k",
            "Cookie": "a=b",
            "Accept": "application/grpc-web-text",
            "Accept-Encoding": "identity",
            "Keep-Alive": "timeout=5",
            "Proxy-Authorization": "Basic eA==",
            "Grpc-Foo": "not metadata",
            "TE": "trailers",
            "X-Utf": "caf\u00e9".encode("utf-8"),  # not printable ASCII: left out
        })
        self.assert_ok(a, 1)
        reply = tk.MetadataReply.FromString(a.messages[0])
        self.assertEqual(reply.method, TK + "EchoMetadata")
        got = [(k, v) for k, v in reply_metadata(reply) if k not in ("user-agent", "x-request-id")]
        self.assertEqual(got, sorted([
            ("x-custom-thing", "hello world"),
            ("x-data-bin", b"\x00\x01\xff"),
            ("authorization", "Bearer t0k"),
            ("cookie", "a=b"),
            ("x-user-agent", "grpc-web-javascript/0.1"),
            ("x-forwarded-for", "127.0.0.1"),
            ("x-forwarded-host", host),
        ]))
        keys = [k for k, _ in reply_metadata(reply)]
        self.assertFalse(set(keys) & NEVER_METADATA, keys)
        self.assertFalse([k for k in keys if k.startswith("grpc-")], keys)
        self.assertEqual(keys.count("x-request-id"), 1, keys)
        self.assertEqual(dict(reply_metadata(reply))["x-request-id"], a.headers["x-request-id"])
        self.assertEqual(reply.request_id, a.headers["x-request-id"])

    def test_forwarded_headers(self):
        tk = self.tk()
        a = self.grpc_web(TK + "EchoMetadata", frame(metadata_request(no_echo=True)), headers={
            "X-Forwarded-For": "10.1.2.3", "X-Forwarded-Host": "api.example.com"})
        self.assert_ok(a, 1)
        md = dict(reply_metadata(tk.MetadataReply.FromString(a.messages[0])))
        self.assertEqual(md.get("x-forwarded-for"), "10.1.2.3, 127.0.0.1")
        self.assertEqual(md.get("x-forwarded-host"), "api.example.com")

    def test_request_id(self):
        tk = self.tk()
        a = self.grpc_web(TK + "EchoMetadata", frame(metadata_request(no_echo=True)),
                          headers={"X-Request-Id": "my-id-1"})
        self.assert_ok(a, 1)
        self.assertEqual(a.headers["x-request-id"], "my-id-1")
        self.assertEqual(tk.MetadataReply.FromString(a.messages[0]).request_id, "my-id-1")
        # answers the gateway decides carry one too
        a = self.grpc_web("/x.Y/Z", frame(b""), headers={"X-Request-Id": "my-id-2"})
        self.assert_error(a, UNIMPLEMENTED)
        self.assertEqual(a.headers["x-request-id"], "my-id-2")

    def test_bad_base64_in_a_bin_header(self):
        for text in (False, True):
            with self.subTest(text=text):
                a = self.grpc_web(TK + "EchoMetadata", frame(metadata_request(no_echo=True)),
                                  text=text, headers={"X-Data-Bin": "not base64!"})
                self.assert_error(a, INVALID_ARGUMENT)

    def test_initial_metadata_as_headers_trailing_in_the_trailer_frame(self):
        tk = self.tk()
        req = metadata_request(
            no_echo=True,
            add_initial=[metadata_entry("x-init", "i1"), metadata_entry("x-init-bin", b"\x00\x01\xff")],
            add_trailing=[metadata_entry("x-cost", "12"),
                          metadata_entry("x-sig-bin", b"\x00\x01\xff")])
        for text in (False, True):
            with self.subTest(text=text):
                a = self.grpc_web(TK + "EchoMetadata", frame(req), text=text)
                self.assert_ok(a, 1)
                self.assertEqual(list(tk.MetadataReply.FromString(a.messages[0]).add_results),
                                 [0, 0, 0, 0])
                self.assertEqual(a.headers.get("x-init"), "i1", a.header_list)
                self.assertEqual(a.headers.get("x-init-bin"), "AAH/", a.header_list)
                self.assertEqual(sorted(a.trailing), [("x-cost", "12"), ("x-sig-bin", "AAH/")])
                # not in the headers as well
                self.assertNotIn("x-cost", a.headers)
                self.assertNotIn("x-sig-bin", a.headers)

    def test_metadata_beyond_the_header_room(self):
        """Initial metadata the answer's header fields have no room for
        (40 KB; the connection's memory holds ~31 KB of them) fails the call
        with 13, trailers-only, instead of a connection closed unanswered;
        as much trailing metadata goes in the trailer frame, which has no
        such bound."""
        big = [metadata_entry("x-big-%d" % i, "v" * 10000) for i in range(4)]
        for text in (False, True):
            with self.subTest(text=text):
                a = self.grpc_web(TK + "EchoMetadata",
                                  frame(metadata_request(no_echo=True, add_initial=big)),
                                  text=text)
                self.assert_error(a, 13, "room for")
                a = self.grpc_web(TK + "EchoMetadata",
                                  frame(metadata_request(no_echo=True, add_trailing=big)),
                                  text=text)
                self.assert_ok(a, 1)
                self.assertEqual(sorted(k for k, _ in a.trailing),
                                 ["x-big-%d" % i for i in range(4)])
                self.assertTrue(all(v == "v" * 10000 for _, v in a.trailing))

    def test_echoed_metadata_both_ways(self):
        """The testkit echoes the request metadata as initial and trailing
        metadata: it comes back as headers and trailer lines; X-Request-Id,
        which the gateway writes itself, once."""
        a = self.grpc_web(TK + "EchoMetadata", frame(metadata_request()), headers={
            "X-Custom-Thing": "v1", "X-Data-Bin": "AAH/", "X-Request-Id": "echo-1"})
        self.assert_ok(a, 1)
        self.assertEqual(a.header_values("x-custom-thing"), ["v1"])
        self.assertEqual(a.header_values("x-data-bin"), ["AAH/"])
        self.assertEqual(a.header_values("x-request-id"), ["echo-1"])
        self.assertEqual(len(a.header_values("content-type")), 1, a.header_list)
        trailing = dict(a.trailing)
        self.assertEqual(trailing.get("x-custom-thing"), "v1", a.trailer_lines)
        self.assertEqual(trailing.get("x-data-bin"), "AAH/", a.trailer_lines)

    # -- deadlines

    def test_deadline_exceeded(self):
        tk = self.tk()
        req = tk.SleepRequest()
        req.duration.seconds = 5
        for text in (False, True):
            with self.subTest(text=text):
                t0 = time.monotonic()
                a = self.grpc_web(TK + "Sleep", frame(req.SerializeToString()), text=text,
                                  headers={"Grpc-Timeout": "200m"})
                took = time.monotonic() - t0
                self.assert_error(a, DEADLINE_EXCEEDED)
                self.assertLess(took, 1.5, "DEADLINE_EXCEEDED after %.2f s" % took)

    def deadline_ms(self, headers):
        a = self.grpc_web(TK + "EchoMetadata", frame(metadata_request(no_echo=True)),
                          headers=headers)
        self.assert_ok(a, 1)
        return self.tk().MetadataReply.FromString(a.messages[0]).deadline_ms

    def test_grpc_timeout_sets_the_deadline(self):
        for value, low, high in (("1S", 500, 1000), ("1500m", 1000, 1500),
                                 ("1200000u", 700, 1200), ("95000000n", 20, 95)):
            with self.subTest(value=value):
                ms = self.deadline_ms({"Grpc-Timeout": value})
                self.assertTrue(low < ms <= high + SLACK_MS, "grpc-timeout %s: %d ms" % (value, ms))
        ms = self.deadline_ms({})  # [gateway] timeout = 2 (harness)
        self.assertTrue(1000 < ms <= 2000 + SLACK_MS, ms)

    def test_zero_grpc_timeout_has_passed_already(self):
        """grpc-timeout 0 (in any unit) is a deadline passed already, as a
        gRPC server reads it: 4 without calling the upstream."""
        for value in ("0n", "0S", "00000000m"):
            with self.subTest(value=value):
                a = self.grpc_web(ECHO, frame(string_message("v")),
                                  headers={"Grpc-Timeout": value})
                self.assert_error(a, DEADLINE_EXCEEDED)

    def test_malformed_grpc_timeout(self):
        for value in ("2x", "-1S", "1.5S", "S", "123456789S", "1 S", "10"):
            for text in (False, True):
                with self.subTest(value=value, text=text):
                    a = self.grpc_web(ECHO, frame(string_message("v")), text=text,
                                      headers={"Grpc-Timeout": value})
                    self.assert_error(a, INVALID_ARGUMENT)

    # -- the connection

    def test_answers_one_after_another_on_a_connection(self):
        """Trailers-only (Content-Length: 0), streamed (chunked) and unary
        answers share a keep-alive connection cleanly."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        hdrs = {"Content-Type": "application/grpc-web+proto", "X-Grpc-Web": "1"}
        try:
            for path, body, count, code in (
                    ("/x.Y/Z", frame(b""), 0, UNIMPLEMENTED),
                    (ECHO, frame(string_message("one")), 1, OK),
                    (TK + "Stream", self.stream_request(4, 100), 4, OK),
                    (TK + "Fail", frame(self.tk().FailRequest(code=5).SerializeToString()), 0, 5),
                    (ECHO, b"\x00\x00", 0, INVALID_ARGUMENT),
                    (ECHO, frame(string_message("two")), 1, OK)):
                conn.request("POST", path, body=body, headers=hdrs)
                resp = conn.getresponse()
                data = resp.read()
                self.assertFalse(resp.will_close, "the gateway closed after %s" % path)
                a = self.parse_answer(resp.status, [(k.lower(), v) for k, v in resp.getheaders()],
                                      data, False)
                self.assertEqual((len(a.messages), a.code), (count, code), path)
        finally:
            conn.close()

    # -- observability

    def test_metrics_count_http_200_and_the_grpc_code(self):
        def count():
            _, _, data = self.http("GET", "/metrics")
            for line in data.decode().splitlines():
                m = re.match(r"^rpcrest_gateway_requests_total\{(.*)\} (\S+)$", line)
                if not m:
                    continue
                labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1)))
                if labels == {"method": TK + "Fail", "code": "200",
                              "grpc_code": "FAILED_PRECONDITION"}:
                    return float(m.group(2))
            return 0
        before = count()
        self.assert_error(self.call_fail(9, "counted"), 9)
        self.assertTrue(harness.wait_until(lambda: count() >= before + 1, 5),
                        "requests_total{code=200,grpc_code=FAILED_PRECONDITION}: %s" % count())

    # -- REST on the same gateway

    def test_rest_still_works(self):
        status, headers, data = self.http("POST", "/v1/example/echo", b'{"value":"this is vlaue"}')
        self.assertEqual((status, headers.get("content-type"), data),
                         (200, "application/json", b'{"value":"this is vlaue"}'))
        status, _, data = self.http("POST", "/v1/testkit/fail", b'{"code":5,"message":"gone"}')
        self.assertEqual((status, json.loads(data)["code"]), (404, 5))
        status, _, data = self.http("GET", "/v1/testkit/stream?count=2&size=1")
        self.assertEqual((status, len(data.splitlines())), (200, 2))

    @unittest.skipUnless(shutil.which("curl"), "curl is not installed")
    def test_seed_scenario_with_curl(self):
        url = "http://127.0.0.1:%d" % self.port
        out = subprocess.run(["curl", "-sS", "--max-time", "10", "-X", "POST",
                              url + "/v1/example/echo", "-H", "Content-Type: application/json",
                              "-d", '{"value":"this is vlaue"}'],
                             capture_output=True, timeout=20)
        self.assertEqual((out.returncode, out.stdout), (0, b'{"value":"this is vlaue"}'),
                         out.stderr)
        # and the same call as gRPC-Web, binary and text
        for ctype, body, text in (
                ("application/grpc-web+proto", frame(string_message("this is vlaue")), False),
                ("application/grpc-web-text",
                 base64.b64encode(frame(string_message("this is vlaue"))), True)):
            with self.subTest(content_type=ctype):
                out = subprocess.run(["curl", "-sS", "-i", "--max-time", "10", "-X", "POST",
                                      url + ECHO, "-H", "Content-Type: " + ctype,
                                      "-H", "X-Grpc-Web: 1", "--data-binary", "@-"],
                                     input=body, capture_output=True, timeout=20)
                self.assertEqual(out.returncode, 0, out.stderr)
                head, _, got = out.stdout.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                header_list = [(k.strip().lower(), v.strip()) for k, _, v in
                               (l.partition(":") for l in lines[1:])]
                if ("transfer-encoding", "chunked") in header_list:
                    got = rest.parse_chunked(got)[0]
                a = self.parse_answer(status, header_list, got, text)
                self.assertEqual(a.messages, [b"\x0a\x0dthis is vlaue"])
                self.assert_ok(a)


class GrpcWebLimits(GrpcWebChecks, SystemCase):
    gateway_keys = {"grpc_web": "on", "max_body_bytes": "1k", "max_timeout": "3"}

    def test_grpc_timeout_capped_by_max_timeout(self):
        a = self.grpc_web(TK + "EchoMetadata", frame(metadata_request(no_echo=True)),
                          headers={"Grpc-Timeout": "10S"})
        self.assert_ok(a, 1)
        ms = Pb.load().testkit.MetadataReply.FromString(a.messages[0]).deadline_ms
        self.assertTrue(2000 < ms <= 3000 + SLACK_MS, ms)

    def test_body_over_max_body_bytes(self):
        def body_of(n):  # a frame of n bytes in all
            return frame(string_message("x" * (n - 5 - 3)))
        self.assertEqual(len(body_of(1000)), 1000)
        a = self.grpc_web(ECHO, body_of(1000))
        self.assert_ok(a, 1)
        for n in (1025, 1100, 5000):
            with self.subTest(binary=n):
                a = self.grpc_web(ECHO, body_of(n))
                self.assert_error(a, RESOURCE_EXHAUSTED)
        # text: the limit is on the base64 as sent
        a = self.grpc_web(ECHO, body_of(700), text=True)  # 936 characters
        self.assert_ok(a, 1)
        for n in (900, 3000):  # 1200 and 4000 characters
            with self.subTest(text=n):
                a = self.grpc_web(ECHO, body_of(n), text=True)
                self.assert_error(a, RESOURCE_EXHAUSTED)
        # the same with a chunked body (no Content-Length to refuse up front)
        a = self.grpc_web(ECHO, body_of(1100), chunked=True)
        self.assert_error(a, RESOURCE_EXHAUSTED)
        # and the gateway still answers
        self.assert_ok(self.grpc_web(ECHO, body_of(100)), 1)


class GrpcWebCors(GrpcWebChecks, SystemCase):
    ORIGIN = "https://app.example"
    gateway_keys = {"grpc_web": "on", "cors_origins": ORIGIN}

    def exposed(self, a):
        value = a.headers.get("access-control-expose-headers")
        self.assertIsNotNone(value, a.header_list)
        return [n.strip().lower() for n in value.split(",")]

    def test_answers_carry_cors_headers(self):
        tk = Pb.load().testkit
        req = metadata_request(no_echo=True, add_initial=[metadata_entry("x-init", "i1")])
        a = self.grpc_web(TK + "EchoMetadata", frame(req), headers={"Origin": self.ORIGIN})
        self.assert_ok(a, 1)
        tk.MetadataReply.FromString(a.messages[0])
        self.assertEqual(a.headers.get("access-control-allow-origin"), self.ORIGIN)
        exposed = self.exposed(a)
        for name in ("grpc-status", "grpc-message", "x-init"):
            self.assertIn(name, exposed)
        # trailers-only errors too, text mode too
        for text in (False, True):
            with self.subTest(text=text):
                a = self.grpc_web(TK + "Fail", frame(tk.FailRequest(code=5, message="m")
                                                     .SerializeToString()),
                                  text=text, headers={"Origin": self.ORIGIN})
                self.assert_error(a, 5)
                self.assertEqual(a.headers.get("access-control-allow-origin"), self.ORIGIN)
                self.assertIn("grpc-status", self.exposed(a))
                self.assertIn("grpc-message", self.exposed(a))
                a = self.grpc_web("/x.Y/Z", frame(b""), text=text, headers={"Origin": self.ORIGIN})
                self.assert_error(a, UNIMPLEMENTED)
                self.assertEqual(a.headers.get("access-control-allow-origin"), self.ORIGIN)
        # another origin: none
        a = self.grpc_web(ECHO, frame(string_message("v")),
                          headers={"Origin": "https://evil.example"})
        self.assert_ok(a, 1)
        self.assertNotIn("access-control-allow-origin", a.headers)

    def test_preflight_of_a_method_path(self):
        for path in (ECHO, TK + "Stream", TK + "EchoMetadata"):
            with self.subTest(path=path):
                status, headers, data = self.http("OPTIONS", path, None, {
                    "Origin": self.ORIGIN, "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type, x-grpc-web, x-user-agent"})
                self.assertEqual((status, data), (204, b""), headers)
                self.assertEqual(headers.get("access-control-allow-origin"), self.ORIGIN)
                self.assertEqual(headers.get("access-control-allow-methods"), "POST")
                self.assertEqual(headers.get("access-control-allow-headers"),
                                 "content-type, x-grpc-web, x-user-agent")


class GrpcWebOff(GrpcWebChecks, SystemCase):
    """The default: gateway keys as the harness writes them, no grpc_web."""

    def test_grpc_web_request_is_not_answered_as_grpc_web(self):
        for ctype in ("application/grpc-web+proto", "application/grpc-web-text"):
            with self.subTest(content_type=ctype):
                body = frame(string_message("this is vlaue"))
                if "text" in ctype:
                    body = base64.b64encode(body)
                status, header_list, data = self.raw_call(ECHO, body, content_type=ctype)
                self.assert_not_grpc_web(status, header_list, data)
                self.assertNotEqual(status, 200, (header_list, data))
        status, headers, data = self.http("POST", "/v1/example/echo", b'{"value":"this is vlaue"}')
        self.assertEqual((status, data), (200, b'{"value":"this is vlaue"}'))


# ---- in front of the Python upstream: client streaming and bidi ----------------------


class GrpcWebStreamingUpstream(GrpcWebChecks, foreign.ForeignCase):
    """rpcrest-gateway alone (descriptors from grpc_tools) in front of
    pyupstream.py, which serves calc.Calculator: Add (client streaming,
    annotated), Count (client streaming, no annotation), Double (bidi)."""
    mode = "descriptors"
    gateway_keys = {"grpc_web": "on"}

    @classmethod
    def setUpClass(cls):
        Pb.load()
        super().setUpClass()

    def numbers(self, *values, **kw):
        calc = Pb.load().calc
        return [calc.Number(value=v, **kw).SerializeToString() for v in values]

    def sum_of(self, a):
        calc = Pb.load().calc
        self.assertEqual(len(a.messages), 1, a.messages)
        s = calc.Sum.FromString(a.messages[0])
        return s.total, s.count

    def test_client_streaming_unannotated(self):
        for text in (False, True):
            for values in ((1, 2, 3), (5,), tuple(range(-10, 90))):
                with self.subTest(text=text, n=len(values)):
                    a = self.grpc_web(CALC + "Count", frames(*self.numbers(*values)), text=text)
                    self.assert_ok(a)
                    self.assertEqual(self.sum_of(a), (sum(values), len(values)))

    def test_client_streaming_no_message(self):
        """0 messages, then half-close: the reply is Sum{} (an empty frame)."""
        for text in (False, True):
            with self.subTest(text=text):
                a = self.grpc_web(CALC + "Count", b"", text=text)
                self.assert_ok(a)
                self.assertEqual(a.messages, [b""])

    def test_text_body_of_one_group_a_frame(self):
        """base64(frame1) + base64(frame2) + …: the spec's example."""
        values = (1, 22, 333)
        body = b"".join(base64.b64encode(frame(m)) for m in self.numbers(*values))
        a = self.grpc_web(CALC + "Count", body, text=True, encode=False)
        self.assert_ok(a)
        self.assertEqual(self.sum_of(a), (356, 3))

    def test_client_streaming_metadata_both_ways(self):
        a = self.grpc_web(CALC + "Add", frames(*self.numbers(1, 2)), headers={"X-Offset": "1000"})
        self.assert_ok(a)
        self.assertEqual(self.sum_of(a), (1003, 2))
        self.assertEqual(a.headers.get("x-count"), "2", a.header_list)
        self.assertEqual(dict(a.trailing).get("x-total"), "1003", a.trailer_lines)

    def test_a_long_grpc_message_is_cut_to_fit_the_header_fields(self):
        """A status message too long for the answer's header fields
        (trailers-only; rpcrest-host cuts its own plugins' at 16 KiB, a
        foreign upstream need not) is cut at a character, never inside a %XX
        or a UTF-8 sequence; the answer comes, and the connection goes on."""
        tk = Pb.load().testkit
        # (the upstream's own header block stays under the gateway's 64 KiB for it)
        for message in ("x" * 20000, "x" * 40000, "\u00e9" * 5000, "\u00e9" * 6000,
                        "a" + "\u20ac" * 3000, "ab" + "\u20ac" * 3500):
            with self.subTest(length=len(message.encode())):
                req = tk.FailRequest(code=5, message=message)
                a = self.grpc_web(TK + "Fail", frame(req.SerializeToString()))
                self.assert_error(a, 5)
                self.assertTrue(message.startswith(a.message), a.raw_message[-20:])
                self.assertNotIn("\ufffd", a.message)
                self.assertGreaterEqual(len(a.raw_message), 20000)  # cut no shorter than need be
        a = self.grpc_web(CALC + "Count", frames(*self.numbers(1)))
        self.assert_ok(a)

    def test_client_streaming_error(self):
        calc = Pb.load().calc
        body = frames(*(self.numbers(1, 2) + self.numbers(3, fail=9) + self.numbers(4)))
        for text in (False, True):
            with self.subTest(text=text):
                a = self.grpc_web(CALC + "Count", body, text=text)
                self.assert_error(a, 9)
                self.assertEqual(a.message, "message 2 asked to fail")
                self.assertIn("grpc-status-details-bin", a.headers)
                status = wire_fields(self, b64decode_any_padding(
                    a.headers["grpc-status-details-bin"]))
                anys = [dict((n, v) for n, _, v in wire_fields(self, v))
                        for n, w, v in status if n == 3]
                self.assertEqual([x[1] for x in anys], [b"type.googleapis.com/calc.CalcError"])
                err = calc.CalcError.FromString(anys[0][2])
                self.assertEqual((err.reason, err.index), ("ASKED", 2))

    def test_bad_frames_to_a_client_streaming_method(self):
        good = frames(*self.numbers(1, 2))
        for name, body, code in (("truncated", good[:-1], INVALID_ARGUMENT),
                                 ("compressed", good + frame(b"", 1), UNIMPLEMENTED),
                                 ("trailer flag", good + frame(b"", 0x80), INVALID_ARGUMENT)):
            with self.subTest(case=name):
                a = self.grpc_web(CALC + "Count", body)
                self.assert_error(a, code)

    def test_bidi(self):
        calc = Pb.load().calc
        for text in (False, True):
            with self.subTest(text=text):
                a = self.grpc_web(CALC + "Double", frames(*self.numbers(1, -2, 30)), text=text,
                                  headers={"X-Factor": "3"})
                self.assert_ok(a, 3)
                self.assertEqual([calc.Number.FromString(m).value for m in a.messages],
                                 [3, -6, 90])
                self.assertEqual(a.headers.get("x-factor"), "3", a.header_list)
        # an error midway: the replies so far, then the status in the trailer frame
        a = self.grpc_web(CALC + "Double",
                          frames(*(self.numbers(1, 2) + self.numbers(3, fail=5))))
        self.assertEqual([calc.Number.FromString(m).value for m in a.messages], [2, 4])
        self.assert_status(a, 5, "message 2 asked to fail")
        self.assertIn("grpc-status-details-bin", dict(a.trailing))
        # no message: a stream that ends OK with none is trailers-only
        a = self.grpc_web(CALC + "Double", b"")
        self.assertTrue(a.trailers_only)
        self.assert_ok(a, 0)

    def test_upstream_unavailable(self):
        """A gateway whose upstream is not there: trailers-only 14."""
        class Nothing:
            port = harness.free_port()

            def target(self):
                return "127.0.0.1:%d" % self.port
        g = foreign.Gateway("gateway-nothing-%d" % os.getpid(), Nothing(),
                            foreign.World.descriptor_set(), {"grpc_web": "on"})
        self.addCleanup(g.stop)
        g.start()
        self.port = g.port
        for text in (False, True):
            with self.subTest(text=text):
                a = self.grpc_web(CALC + "Count", frames(*self.numbers(1)), text=text)
                self.assert_error(a, 14)

    def test_unary_through_the_foreign_upstream(self):
        calc = Pb.load().calc
        a = self.grpc_web(CALC + "Plain", frame(calc.PlainRequest(text="ab", times=3)
                                                .SerializeToString()))
        self.assert_ok(a, 1)
        self.assertEqual(calc.PlainReply.FromString(a.messages[0]).text, "ababab")


if __name__ == "__main__":
    unittest.main()
