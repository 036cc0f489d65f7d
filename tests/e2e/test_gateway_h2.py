"""The gateway's own HTTP/2 client (gateway/gw_h2.c: calls on the HTTP
threads' loops, to a unix-socket upstream) against an upstream that answers
with frames written here, as no gRPC library would send all of them:

  upstream answers                          the gateway's answer
  headers, message, trailers, with         200 and the JSON; metadata as Grpc-Metadata-*
    text and -bin metadata                   (-bin decoded from base64 and encoded again)
  Trailers-Only, grpc-message percent-     404, code 5, the message decoded
    encoded (UTF-8 too)
  HTTP 503 and no grpc-status              503, code 14
  a grpc-status that is not a number       500, code 2 (UNKNOWN), never 200
  a compressed message (none agreed)       500, code 13
  two messages, then OK                    500, code 13 at once
  nothing (the call hangs)                 504, code 4 at the deadline; the stream is reset
  closes the connection                    503, code 14; the next call reconnects and works
  GOAWAY before the call is processed      the call is sent again on a new connection: 200
  refuses every stream (RST_STREAM          503, code 14, after three tries
    REFUSED_STREAM, or GOAWAY each time)
  RST_STREAM with another error code       its gRPC status, as gRPC maps it (NO_ERROR and
                                             INTERNAL_ERROR 500 code 13, CANCEL 499 code 1,
                                             ENHANCE_YOUR_CALM 429 code 8, …)
  REFUSED_STREAM after it began to answer  503, code 14; not sent again (it may have run)
  a whole answer before the whole body     the answer, at once; the stream is reset (NO_ERROR)
  grpc-message with %00                    kept as %00 (it cut the message short)
  a header field over 64 KiB               503, code 14 for the calls on the connection
                                             (nghttp2 decodes none), and a log line saying so
  no upstream listening                    503, code 14, at once; once it listens,
                                             calls work again within the backoff (1 s)
  a message whose prefix says 64 MiB + 1   429, code 8 at once; the stream is reset
  a header block over 1 MiB (HPACK         429, code 8 at once; the stream is reset
    references to a large value)
  a stream limit (MAX_CONCURRENT_STREAMS)   a call beyond it goes on another connection at
    that calls in flight fill                once; beyond 16 connections it waits in the
                                             gateway, and one whose deadline passes there
                                             fails (504) without reaching the upstream; the
                                             extra connections close once idle for 2 s

rpcrest-gateway runs alone ([gateway] upstream = unix:PATH, the echo
descriptors); the upstream is a thread of this test on a unix socket.
"""
import base64
import http.client
import json
import os
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

import h2raw
import harness

GATEWAY = os.path.join(harness.BUILD, "rpcrest-gateway")
ECHO = "/v1/example/echo"


def string_message(text):
    """example.StringMessage{value: text}, serialized."""
    data = text.encode()
    return b"\x0a" + bytes([len(data)]) + data


def headers_frame(stream, fields, end_stream=False):
    block = b"".join(h2raw.hpack_literal(n, v) for n, v in fields)
    flags = h2raw.END_HEADERS | (h2raw.END_STREAM if end_stream else 0)
    return h2raw.frame(h2raw.HEADERS, flags, stream, block)


RESPONSE_HEADERS = [(":status", "200"), ("content-type", "application/grpc")]
MAX_CONCURRENT_STREAMS = 3  # the SETTINGS parameter


def answer(stream, text):
    """A whole reply: headers, the message {value: text}, OK trailers."""
    return (headers_frame(stream, RESPONSE_HEADERS) +
            h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(string_message(text))) +
            headers_frame(stream, [("grpc-status", "0")], True))


class FakeUpstream:
    """Accepts connections on a unix socket; answers each call (a request's
    END_STREAM) with behave(connection_number, stream_id) -> bytes to send,
    or None to close the connection, or (bytes now, seconds, bytes then), or
    [(seconds, bytes), ...] to send later.  `settings`: the payload of its
    SETTINGS frame.  `path` may be a (host, port) pair instead, for a
    TCP upstream.  Connections are numbered 1, 2, … in
    the order of their first call (the gateway's gRPC channel also connects,
    and makes none here).  Records the frame types it got, and the numbers
    of the connections that closed."""

    def __init__(self, path, behave, settings=b"", on_headers=False):
        self.path, self.behave, self.settings = path, behave, settings
        self.on_headers = on_headers  # answer on a request's HEADERS, not its end
        self.sock = socket.socket(socket.AF_INET if isinstance(path, tuple) else socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.connections = 0
        self.lock = threading.Lock()
        self.received = []  # (connection, frame type, stream)
        self.closed = []  # connection numbers
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        conn.settimeout(10)
        number = 0
        try:
            if self.read_exact(conn, len(h2raw.PREFACE)) != h2raw.PREFACE:
                return
            conn.sendall(h2raw.frame(h2raw.SETTINGS, 0, 0, self.settings))
            while True:
                head = self.read_exact(conn, 9)
                length = struct.unpack(">I", b"\0" + head[:3])[0]
                ftype, flags = head[3], head[4]
                stream = struct.unpack(">I", head[5:9])[0] & 0x7FFFFFFF
                payload = self.read_exact(conn, length)
                self.received.append((number, ftype, stream))
                if ftype == h2raw.SETTINGS and not flags & 1:
                    conn.sendall(h2raw.frame(h2raw.SETTINGS, 1, 0))
                elif ftype == h2raw.PING and not flags & 1:
                    conn.sendall(h2raw.frame(h2raw.PING, 1, 0, payload))
                elif ((ftype in (h2raw.HEADERS, h2raw.DATA) and flags & h2raw.END_STREAM
                       and not self.on_headers)
                      or (ftype == h2raw.HEADERS and self.on_headers)):
                    if not number:
                        with self.lock:
                            self.connections += 1
                            number = self.connections
                    out = self.behave(number, stream)
                    if out is None:
                        return
                    if isinstance(out, tuple):
                        out, delay, later = out
                        threading.Timer(delay, conn.sendall, (later,)).start()
                    elif isinstance(out, list):
                        for delay, later in out:
                            threading.Timer(delay, conn.sendall, (later,)).start()
                        out = b""
                    conn.sendall(out)
        except (OSError, ValueError):
            pass
        finally:
            conn.close()
            self.closed.append(number)

    @staticmethod
    def read_exact(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ValueError("closed")
            data += chunk
        return data

    def stop(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


class H2Fixture:
    """A lone gateway in front of a FakeUpstream, serving DESCRIPTORS."""
    DESCRIPTORS = "echo.pb"

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rpcrest-h2-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = os.path.join(self.dir, "upstream.sock")
        self.port = harness.free_port()
        self.ini = os.path.join(self.dir, "gateway.ini")
        with open(self.ini, "w") as f:
            f.write("[gateway]\nlisten = 127.0.0.1:%d\nupstream = unix:%s\ntimeout = 2\n"
                    "threads = 1\ndescriptors = %s/services/%s\n"
                    % (self.port, self.path, harness.BUILD, self.DESCRIPTORS))
        self.upstream = None
        self.gateway = None

    def tearDown(self):
        if self.gateway and self.gateway.poll() is None:
            self.gateway.send_signal(signal.SIGTERM)
            try:
                self.gateway.wait(10)
            except subprocess.TimeoutExpired:
                self.gateway.kill()
                self.gateway.wait()
        if self.gateway:
            self.gateway_log.close()
        if self.upstream:
            self.upstream.stop()

    def start(self, behave, settings=b"", on_headers=False):
        if behave:
            self.upstream = FakeUpstream(self.path, behave, settings, on_headers)
        self.gateway_log = open(os.path.join(self.dir, "gateway.log"), "ab")
        self.gateway = subprocess.Popen([GATEWAY, "-c", self.ini], stdin=subprocess.DEVNULL,
                                        stdout=self.gateway_log, stderr=subprocess.STDOUT)
        self.assertTrue(harness.wait_until(lambda: harness.port_open(self.port), 10),
                        self.log())
        self.assertTrue(harness.wait_until(lambda: "calls: on each HTTP thread's own "
                                           "HTTP/2 connections to unix:" in self.log(), 5),
                        self.log())

    def log(self):
        with open(os.path.join(self.dir, "gateway.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def echo(self, value="hi", headers=None):
        """(status, {lower-case header: value}, body) of POST /v1/example/echo."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", ECHO, body=json.dumps({"value": value}).encode(),
                         headers=dict({"Content-Type": "application/json"}, **(headers or {})))
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def assert_error(self, got, status, code, message=None):
        self.assertEqual(got[0], status, (got, self.log()))
        err = json.loads(got[2])
        self.assertEqual(err["code"], code, err)
        if message is not None:
            self.assertEqual(err["message"], message)


class GatewayH2Client(H2Fixture, unittest.TestCase):
    def test_reply_with_metadata(self):
        def behave(_, stream):
            return (headers_frame(stream, RESPONSE_HEADERS + [
                        ("x-color", "blue"),
                        ("x-blob-bin", base64.b64encode(b"\x00\x01\x02").decode())]) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(string_message("hi"))) +
                    headers_frame(stream, [("grpc-status", "0"), ("x-trail", "t")], True))
        self.start(behave)
        status, headers, body = self.echo()
        self.assertEqual((status, json.loads(body)), (200, {"value": "hi"}), self.log())
        self.assertEqual(headers.get("grpc-metadata-x-color"), "blue")
        self.assertEqual(headers.get("grpc-metadata-x-blob-bin"), "AAEC")

    def test_invalid_metadata_fields_are_left_out(self):
        """A field whose value HTTP/2 forbids (a control character) is
        dropped; the call and the other fields go through."""
        def behave(_, stream):
            return (headers_frame(stream, RESPONSE_HEADERS + [
                        ("x-ctl", "a\x01b"), ("x-ok", "fine"),
                        ("x-sp", " lead ")]) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(string_message("hi"))) +
                    headers_frame(stream, [("grpc-status", "0")], True))
        self.start(behave)
        status, headers, body = self.echo()
        self.assertEqual((status, json.loads(body)), (200, {"value": "hi"}), self.log())
        self.assertEqual(headers.get("grpc-metadata-x-ok"), "fine")
        self.assertEqual(headers.get("grpc-metadata-x-sp").strip(), "lead")
        self.assertNotIn("grpc-metadata-x-ctl", headers)

    def test_reply_that_breaks_http2_is_not_called_a_reset(self):
        """A field name in upper case breaks HTTP/2: nghttp2 resets the stream
        itself, and the error says so rather than blame a reset."""
        def behave(_, stream):
            return (headers_frame(stream, RESPONSE_HEADERS + [("X-Up", "u")]) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(string_message("hi"))) +
                    headers_frame(stream, [("grpc-status", "0")], True))
        self.start(behave)
        self.assert_error(self.echo(), 500, 13,
                          "the upstream's reply broke HTTP/2 (PROTOCOL_ERROR)")

    def test_trailers_only_with_an_encoded_message(self):
        message = "no such thing: \u2713"
        def behave(_, stream):
            return headers_frame(stream, RESPONSE_HEADERS + [
                ("grpc-status", "5"), ("grpc-message", urllib.parse.quote(message))], True)
        self.start(behave)
        self.assert_error(self.echo(), 404, 5, message)

    def test_http_error_without_grpc_status(self):
        self.start(lambda _, stream: headers_frame(stream, [(":status", "503")], True))
        self.assert_error(self.echo(), 503, 14)

    def test_error_page_is_not_read_as_grpc(self):
        """A proxy's error page (any HTTP status but 200, or a 200 that is
        not application/grpc) is mapped from its HTTP status, its body never
        read as a gRPC message (its first bytes made a length of 1 GB)."""
        page = b"<html><body>502 Bad Gateway</body></html>"
        cases = [("502", "text/html", 503, 14), ("404", "text/html", 501, 12),
                 ("200", "text/html", 500, 13), ("503", "application/grpc", 503, 14)]
        def behave(_, stream):
            return (headers_frame(stream, [(":status", self.http), ("content-type", self.ctype)]) +
                    h2raw.frame(h2raw.DATA, h2raw.END_STREAM, stream, page))
        self.start(behave)
        for http, ctype, status, code in cases:
            with self.subTest(http=http, ctype=ctype):
                self.http, self.ctype = http, ctype
                self.assert_error(self.echo(), status, code)

    def test_http_status_and_grpc_status(self):
        """gRPC's rule (and gRPC core's, the gateway's other client): a
        grpc-status in the same block as a non-200 HTTP status (Trailers-
        Only) wins; a 503 whose headers have none is UNAVAILABLE, whatever
        trailers follow."""
        def behave(_, stream):
            if self.trailers_only:
                return headers_frame(stream, [
                    (":status", "503"), ("content-type", "application/grpc"),
                    ("grpc-status", "5"), ("grpc-message", "nope")], True)
            return (headers_frame(stream, [(":status", "503"),
                                           ("content-type", "application/grpc")]) +
                    headers_frame(stream, [("grpc-status", "0")], True))
        self.trailers_only = True
        self.start(behave)
        self.assert_error(self.echo(), 404, 5, "nope")
        self.trailers_only = False
        self.assert_error(self.echo(), 503, 14, "the upstream answered HTTP 503")

    def test_status_only_from_the_last_header_block(self):
        """grpc-status in the reply's first headers (not Trailers-Only) does
        not count: trailers without one fail the call."""
        def behave(_, stream):
            return (headers_frame(stream, RESPONSE_HEADERS + [("grpc-status", "0")]) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(string_message("hi"))) +
                    headers_frame(stream, [("x-trail", "t")], True))
        self.start(behave)
        self.assert_error(self.echo(), 500, 13,
                          "the upstream answered HTTP 200 without a gRPC status")

    def test_interim_response_first(self):
        """A 100 before the reply: the reply's own headers are its metadata
        (nghttp2 files them like trailers), and the status still counts
        only from the last block."""
        def behave(_, stream):
            return (headers_frame(stream, [(":status", "100"), ("x-interim", "i")]) +
                    headers_frame(stream, RESPONSE_HEADERS + [("x-color", "blue")] +
                                  self.extra) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(string_message("hi"))) +
                    headers_frame(stream, self.trailers, True))
        self.extra, self.trailers = [], [("grpc-status", "0")]
        self.start(behave)
        status, headers, body = self.echo()
        self.assertEqual((status, json.loads(body)), (200, {"value": "hi"}), self.log())
        self.assertEqual(headers.get("grpc-metadata-x-color"), "blue")
        self.assertNotIn("grpc-metadata-x-interim", headers)
        self.extra, self.trailers = [("grpc-status", "0")], [("x-trail", "t")]
        self.assert_error(self.echo(), 500, 13,
                          "the upstream answered HTTP 200 without a gRPC status")

    def test_bad_flag_byte(self):
        def behave(_, stream):
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream, b"<html>" + b"x" * 20) +
                    headers_frame(stream, [("grpc-status", "0")], True))
        self.start(behave)
        self.assert_error(self.echo(), 500, 13, "the upstream's reply is not a gRPC message")

    def test_trailers_without_status_on_healthz(self):
        """Trailers without grpc-status to /healthz's check: 503 (when the
        check went through gRPC core's channel, its retry filter (1.51)
        aborted the process on them)."""
        def behave(_, stream):
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(b"")) +
                    headers_frame(stream, [("x-trail", "t")], True))
        self.start(behave)
        for _ in range(3):
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            conn.close()
            self.assertEqual(resp.status, 503, self.log())
        self.assertIsNone(self.gateway.poll(), self.log())
        self.assert_error(self.echo(), 500, 13)

    def test_compressed_message_refused(self):
        def behave(_, stream):
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream,
                                h2raw.grpc_message(string_message("hi"), compressed=True)) +
                    headers_frame(stream, [("grpc-status", "0")], True))
        self.start(behave)
        self.assert_error(self.echo(), 500, 13)

    def test_two_messages_to_a_unary_call(self):
        def behave(_, stream):
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream,
                                h2raw.grpc_message(string_message("one")) +
                                h2raw.grpc_message(string_message("two"))) +
                    headers_frame(stream, [("grpc-status", "0")], True))
        self.start(behave)
        started = time.monotonic()
        self.assert_error(self.echo(), 500, 13,
                          "the upstream answered OK without exactly one message")
        self.assertLess(time.monotonic() - started, 1.5)  # not the 2 s deadline

    def test_deadline_resets_the_stream(self):
        self.start(lambda _, stream: b"")  # never answers
        started = time.monotonic()
        self.assert_error(self.echo(), 504, 4)
        self.assertLess(time.monotonic() - started, 5)
        self.assertTrue(harness.wait_until(lambda: any(
            t == h2raw.RST_STREAM for _, t, _ in self.upstream.received), 2), self.upstream.received)

    def test_closed_connection_then_reconnect(self):
        def behave(number, stream):
            if number == 1:
                return None  # close the first connection on its first call
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(string_message("hi"))) +
                    headers_frame(stream, [("grpc-status", "0")], True))
        self.start(behave)
        self.assert_error(self.echo(), 503, 14)
        status, _, body = self.echo()
        self.assertEqual((status, json.loads(body)), (200, {"value": "hi"}), self.log())
        self.assertEqual(self.upstream.connections, 2)

    def test_goaway_sends_the_call_again(self):
        def behave(number, stream):
            if number == 1:  # refuse everything: the call was never processed
                return h2raw.frame(h2raw.GOAWAY, 0, 0, struct.pack(">II", 0, 0))
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(string_message("again"))) +
                    headers_frame(stream, [("grpc-status", "0")], True))
        self.start(behave)
        status, _, body = self.echo("again")
        self.assertEqual((status, json.loads(body)), (200, {"value": "again"}), self.log())
        self.assertEqual(self.upstream.connections, 2)

    def test_goaway_with_a_call_in_flight_new_calls_go_to_a_new_connection(self):
        """A server rotating its connections (Go's MaxConnectionAge, a
        GracefulStop) says GOAWAY while a call runs: new calls go to a new
        connection at once, not after the running call, which finishes on
        the old one.  (They waited for it before.)"""
        def answer(stream, text):
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(string_message(text))) +
                    headers_frame(stream, [("grpc-status", "0")], True))

        def behave(number, stream):
            if number == 1:  # goes away, and answers the call it has later
                return (h2raw.frame(h2raw.GOAWAY, 0, 0, struct.pack(">II", stream, 0)), 1.2,
                        answer(stream, "slow"))
            return answer(stream, "quick")
        self.start(behave)
        slow = {}
        first = threading.Thread(target=lambda: slow.update(got=self.echo("slow")))
        first.start()
        self.assertTrue(harness.wait_until(lambda: self.upstream.connections == 1, 2), self.log())
        time.sleep(0.2)  # the GOAWAY is read
        started = time.monotonic()
        status, _, body = self.echo("quick")
        took = time.monotonic() - started
        self.assertEqual((status, json.loads(body)), (200, {"value": "quick"}), self.log())
        self.assertLess(took, 0.6)
        self.assertFalse(slow, "the call in flight was answered before the new one")
        first.join(5)
        self.assertEqual((slow["got"][0], json.loads(slow["got"][2])), (200, {"value": "slow"}))
        self.assertEqual(self.upstream.connections, 2)

    def calls_received(self):
        return sum(1 for _, ftype, _ in self.upstream.received if ftype == h2raw.HEADERS)

    def start_calls(self, n, value, headers=None):
        """n calls, one after another, each once the upstream has the one
        before it (and the gateway its SETTINGS); returns the threads and
        the list their answers go to."""
        got, threads = [], []
        for i in range(n):
            threads.append(threading.Thread(
                target=lambda: got.append(self.echo(value, headers))))
            threads[-1].start()
            self.assertTrue(harness.wait_until(lambda: self.calls_received() == i + 1, 2),
                            "the upstream got %d calls of %d\n%s"
                            % (self.calls_received(), i + 1, self.log()))
            time.sleep(0.05)
        return threads, got

    def test_a_full_connection_does_not_hold_up_a_call(self):
        """The upstream takes two calls at once on a connection
        (MAX_CONCURRENT_STREAMS 2) and answers those of the first one after
        1.5 s.  With two in flight there, a third call goes on a second
        connection at once, instead of waiting in nghttp2 behind them until
        one ends (it got 504 at its 2 s deadline)."""
        def behave(number, stream):
            return (b"", 1.5, answer(stream, "slow")) if number == 1 else answer(stream, "quick")
        self.start(behave, settings=struct.pack(">HI", MAX_CONCURRENT_STREAMS, 2))
        threads, slow = self.start_calls(2, "slow")
        started = time.monotonic()
        status, _, body = self.echo("quick")
        took = time.monotonic() - started
        self.assertEqual((status, json.loads(body)), (200, {"value": "quick"}), self.log())
        self.assertLess(took, 1.4, "it waited for the calls in flight")
        self.assertFalse(slow, "the calls in flight were answered before the new one")
        for t in threads:
            t.join(5)
        self.assertEqual([(g[0], json.loads(g[2])) for g in slow], [(200, {"value": "slow"})] * 2)
        self.assertEqual(self.upstream.connections, 2)

    def test_a_new_connection_takes_what_the_upstream_allows(self):
        """A burst beyond what one connection takes (MAX_CONCURRENT_STREAMS
        2, known from the first connection's SETTINGS): a new connection
        takes two calls at most before its own SETTINGS come, not nghttp2's
        100, and a third connection takes the rest."""
        self.start(lambda _, stream: (b"", 1, answer(stream, "x")),
                   settings=struct.pack(">HI", MAX_CONCURRENT_STREAMS, 2))
        threads, got = self.start_calls(1, "x")
        start = threading.Barrier(5)

        def burst():
            start.wait()
            got.append(self.echo("x"))
        threads += [threading.Thread(target=burst) for _ in range(5)]
        for t in threads[1:]:
            t.start()
        for t in threads:
            t.join(5)
        self.assertEqual([g[0] for g in got], [200] * 6)
        self.assertEqual(self.upstream.connections, 3)
        streams = [s for _, ftype, s in self.upstream.received if ftype == h2raw.HEADERS]
        self.assertEqual(max(streams), 3, self.upstream.received)  # two calls a connection

    def test_a_call_that_expires_waiting_never_reaches_the_upstream(self):
        """One call at a time per connection (MAX_CONCURRENT_STREAMS 1),
        answered after 3 s: 16 calls fill the 16 connections a thread may
        have; a 17th waits in the gateway, and when its deadline (300 ms)
        passes there it fails with 504 without ever reaching the upstream."""
        self.start(lambda _, stream: (b"", 3, answer(stream, "slow")),
                   settings=struct.pack(">HI", MAX_CONCURRENT_STREAMS, 1))
        threads, slow = self.start_calls(16, "slow", {"Grpc-Timeout": "10S"})
        started = time.monotonic()
        self.assert_error(self.echo("late", {"Grpc-Timeout": "300m"}), 504, 4)
        self.assertLess(time.monotonic() - started, 1)
        for t in threads:
            t.join(10)
        self.assertEqual([g[0] for g in slow], [200] * 16)
        self.assertEqual(self.calls_received(), 16, self.upstream.received)
        self.assertEqual(self.upstream.connections, 16)

    def test_extra_connections_close_once_idle(self):
        """Calls that needed three connections (MAX_CONCURRENT_STREAMS 1,
        answers after 0.5 s): once idle for 2 s, the second and the third
        close (GOAWAY, then the socket); the first stays open and takes the
        next call."""
        self.start(lambda _, stream: (b"", 0.5, answer(stream, "x")),
                   settings=struct.pack(">HI", MAX_CONCURRENT_STREAMS, 1))
        threads, got = self.start_calls(3, "x")
        for t in threads:
            t.join(5)
        ended = time.monotonic()
        self.assertEqual([g[0] for g in got], [200] * 3)
        self.assertEqual(self.upstream.connections, 3)
        closed = lambda: sorted(n for n in self.upstream.closed if n)
        self.assertTrue(harness.wait_until(lambda: closed() == [2, 3], 4), closed())
        self.assertGreater(time.monotonic() - ended, 1.5)
        goaways = sorted(n for n, ftype, _ in self.upstream.received if ftype == h2raw.GOAWAY)
        self.assertEqual(goaways, [2, 3])
        status, _, body = self.echo("after")
        self.assertEqual((status, json.loads(body)), (200, {"value": "x"}), self.log())
        self.assertEqual(self.upstream.connections, 3)
        self.assertEqual(closed(), [2, 3])

    def test_a_call_waits_for_room_when_no_other_connection_opens(self):
        """The upstream stops listening while a call fills the one
        connection it allows (MAX_CONCURRENT_STREAMS 1): the next call
        cannot have a connection of its own, and waits for room on the one
        open (as all did before connections were added) instead of failing
        at once, as it does when no connection is open."""
        self.start(lambda _, stream: (b"", 0.6, answer(stream, "x")),
                   settings=struct.pack(">HI", MAX_CONCURRENT_STREAMS, 1))
        threads, first = self.start_calls(1, "x")
        self.upstream.stopping = True
        self.upstream.thread.join(2)
        self.upstream.sock.close()
        status, _, body = self.echo("x")
        self.assertEqual((status, json.loads(body)), (200, {"value": "x"}), self.log())
        threads[0].join(5)
        self.assertEqual(first[0][0], 200)
        self.assertEqual(self.upstream.connections, 1)
        self.assertIn("upstream unix:%s: cannot connect: Connection refused (calls wait for the "
                      "connections open)" % self.path, self.log())

    def test_goaway_on_three_connections_in_a_row(self):
        """Three GOAWAYs while each connection's call runs: a fourth call goes
        to a fourth connection at once."""
        def answer(stream, text):
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(string_message(text))) +
                    headers_frame(stream, [("grpc-status", "0")], True))

        def behave(number, stream):
            if number <= 3:
                return (h2raw.frame(h2raw.GOAWAY, 0, 0, struct.pack(">II", stream, 0)), 1.5,
                        answer(stream, "long"))
            return answer(stream, "quick")
        self.start(behave)
        got = []
        threads = []
        for i in range(3):
            threads.append(threading.Thread(target=lambda: got.append(self.echo("long"))))
            threads[-1].start()
            self.assertTrue(harness.wait_until(lambda: self.upstream.connections == i + 1, 2),
                            self.log())
            time.sleep(0.1)
        started = time.monotonic()
        status, _, body = self.echo("quick")
        self.assertEqual((status, json.loads(body)), (200, {"value": "quick"}), self.log())
        self.assertLess(time.monotonic() - started, 0.6)
        for t in threads:
            t.join(5)
        self.assertEqual([g[0] for g in got], [200, 200, 200])

    def assert_refused_a_few_times(self):
        started = time.monotonic()
        self.assert_error(self.echo(), 503, 14)
        self.assertLess(time.monotonic() - started, 1.5)
        calls = [f for f in self.upstream.received if f[1] == h2raw.HEADERS]
        self.assertLessEqual(len(calls), 3, self.upstream.received[:20])

    def test_stream_refused_every_time(self):
        """An upstream that refuses every stream (RST_STREAM REFUSED_STREAM)
        gets the call three times, not as often as it can until the
        deadline: then 503, code 14."""
        self.start(lambda _, stream: h2raw.frame(h2raw.RST_STREAM, 0, stream,
                                                 struct.pack(">I", 7)))
        self.assert_refused_a_few_times()

    def test_goaway_every_time(self):
        """The same when every connection says GOAWAY before the call."""
        self.start(lambda _, stream: h2raw.frame(h2raw.GOAWAY, 0, 0, struct.pack(">II", 0, 0)))
        self.assert_refused_a_few_times()

    def test_reset_codes_as_grpc_maps_them(self):
        """RST_STREAM's error code becomes the gRPC status gRPC's HTTP/2
        transports give it (and the streaming routes, on gRPC core, give)."""
        expected = {0x0: (500, 13), 0x1: (500, 13), 0x2: (500, 13), 0x8: (499, 1),
                    0xb: (429, 8), 0xc: (403, 7)}
        self.start(lambda _, stream: h2raw.frame(
            h2raw.RST_STREAM, 0, stream, struct.pack(">I", self.reset_code)))
        for code, (status, grpc_code) in expected.items():
            with self.subTest(code=code):
                self.reset_code = code
                self.assert_error(self.echo(), status, grpc_code)

    def test_reset_with_no_error_before_any_answer(self):
        """RST_STREAM(NO_ERROR) and nothing else: INTERNAL, as gRPC core
        gives it (it was UNKNOWN, "the upstream answered HTTP 0")."""
        self.start(lambda _, stream: h2raw.frame(h2raw.RST_STREAM, 0, stream,
                                                 struct.pack(">I", 0)))
        self.assert_error(self.echo(), 500, 13,
                          "the upstream reset the stream (NO_ERROR) before answering")

    def test_refused_after_the_answer_began_is_not_sent_again(self):
        """REFUSED_STREAM after the upstream began to answer: the call may
        have run, so it is not sent again (it was, and ran twice): 503, code
        14, as gRPC core answers."""
        def behave(number, stream):
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(string_message("x"))) +
                    h2raw.frame(h2raw.RST_STREAM, 0, stream, struct.pack(">I", 7)))
        self.start(behave)
        self.assert_error(self.echo(), 503, 14)
        calls = [f for f in self.upstream.received if f[1] == h2raw.HEADERS]
        self.assertEqual(len(calls), 1, self.upstream.received)

    def test_an_answer_before_the_whole_body_is_the_answer(self):
        """The upstream answers (Trailers-Only, RESOURCE_EXHAUSTED) before the
        body is all sent, and never opens a window for the rest: the answer
        stands at once, and the stream is reset with NO_ERROR (the call
        waited for the body to go out, and got 504 at its deadline)."""
        def behave(_, stream):
            return headers_frame(stream, RESPONSE_HEADERS + [
                ("grpc-status", "8"), ("grpc-message", "too big")], True)
        self.start(behave, on_headers=True)
        started = time.monotonic()
        self.assert_error(self.echo("x" * 200000), 429, 8, "too big")
        self.assertLess(time.monotonic() - started, 1.5)
        self.assertTrue(harness.wait_until(lambda: any(
            t == h2raw.RST_STREAM for _, t, _ in self.upstream.received), 2), self.upstream.received)
        # a small one, whose body went out whole, gets the same answer
        self.assert_error(self.echo("small"), 429, 8, "too big")

    def test_an_escaped_nul_in_grpc_message_stays_escaped(self):
        """%00 would end the message where it is read as a C string ("a")."""
        self.start(lambda _, stream: headers_frame(stream, RESPONSE_HEADERS + [
            ("grpc-status", "5"), ("grpc-message", "a%00b%0Ac")], True))
        self.assert_error(self.echo(), 404, 5, "a%00b\nc")

    def test_a_header_field_over_64_KiB_is_logged(self):
        """nghttp2 decodes no header field over 64 KiB and ends the whole
        connection (COMPRESSION_ERROR): the calls on it fail with 503, and
        the log says why (it said nothing)."""
        value = "v" * 70000
        block = b"".join(h2raw.hpack_literal(n, v) for n, v in
                         RESPONSE_HEADERS + [("grpc-status", "3"), ("x-huge", value)])
        chunks = [block[i:i + 16000] for i in range(0, len(block), 16000)]

        def behave(_, stream):
            out = h2raw.frame(h2raw.HEADERS, h2raw.END_STREAM, stream, chunks[0])
            for i, chunk in enumerate(chunks[1:], 1):
                out += h2raw.frame(h2raw.CONTINUATION,
                                   h2raw.END_HEADERS if i == len(chunks) - 1 else 0, stream, chunk)
            return out
        self.start(behave)
        self.assert_error(self.echo(), 503, 14)
        self.assertTrue(harness.wait_until(
            lambda: "a header field over 64 KiB" in self.log(), 2), self.log())

    def test_malformed_grpc_status(self):
        """A grpc-status that is not a decimal number is UNKNOWN, as gRPC
        reads it (and the streaming routes, on gRPC core, do): never OK."""
        def behave(_, stream):
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(string_message("hi"))) +
                    headers_frame(stream, [("grpc-status", self.status),
                                           ("grpc-message", "broken")], True))
        self.start(behave)
        for status in ("abc", "", "0x5", "-1", "4294967296"):
            with self.subTest(status=status):
                self.status = status
                self.assert_error(self.echo(), 500, 2, "broken")

    def test_metadata_over_the_limit(self):
        """A header block that HPACK makes large (one 4 KB value indexed
        once, then referred to by one byte thousands of times: 45 MB from
        a 16 KB frame) fails the call with RESOURCE_EXHAUSTED at 1 MiB, as
        on the streaming routes, instead of being collected."""
        big = b"\x40" + h2raw._hpack_int(5, 7) + b"x-big" + h2raw._hpack_int(4000, 7) + b"v" * 4000
        block = (b"".join(h2raw.hpack_literal(n, v) for n, v in RESPONSE_HEADERS) + big +
                 b"\xbe" * 11000)  # 0x80 | 62: the dynamic table's first entry
        self.start(lambda _, stream: h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, stream, block))
        started = time.monotonic()
        self.assert_error(self.echo(), 429, 8)
        self.assertLess(time.monotonic() - started, 1.5)
        self.assertTrue(harness.wait_until(lambda: any(
            t == h2raw.RST_STREAM for _, t, _ in self.upstream.received), 2), self.upstream.received)

    def test_header_block_in_many_frames(self):
        """A 150 KB header block in HEADERS and 9 CONTINUATION frames (nghttp2
        takes 8 by default and then closed the connection, failing every
        call on it): the call gets the gateway's own answer (502: more than
        its response can carry) and the connection stays up."""
        fields = RESPONSE_HEADERS + [("x-big-%d" % i, "v" * 3000) for i in range(50)]
        block = b"".join(h2raw.hpack_literal(n, v) for n, v in fields)
        chunks = [block[i:i + 16000] for i in range(0, len(block), 16000)]
        self.assertEqual(len(chunks), 10)

        def behave(_, stream):
            if self.small:
                return (headers_frame(stream, RESPONSE_HEADERS) +
                        h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(string_message("s"))) +
                        headers_frame(stream, [("grpc-status", "0")], True))
            out = h2raw.frame(h2raw.HEADERS, 0, stream, chunks[0])
            for i, chunk in enumerate(chunks[1:], 1):
                out += h2raw.frame(h2raw.CONTINUATION,
                                   h2raw.END_HEADERS if i == len(chunks) - 1 else 0, stream, chunk)
            return (out + h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(string_message("x")))
                    + headers_frame(stream, [("grpc-status", "0")], True))
        self.small = False
        self.start(behave)
        got = self.echo()
        self.assertEqual(got[0], 502, (got, self.log()))
        self.small = True
        self.assertEqual(self.echo()[0], 200)
        self.assertEqual(self.upstream.connections, 1)

    def test_no_upstream(self):
        self.start(None)
        started = time.monotonic()
        got = self.echo()
        self.assert_error(got, 503, 14)
        self.assertLess(time.monotonic() - started, 1)
        # the client is not told where the upstream is; the log is
        self.assertNotIn(self.path.encode(), got[2])
        self.assertIn("upstream unix:%s: cannot connect" % self.path, self.log())

    def test_an_upstream_that_accepts_and_says_nothing(self):
        """An upstream that accepts the connection and never answers (no
        SETTINGS: stopped, stuck, not HTTP/2): its calls fail at their
        deadline, and 20 s after the connection opened it counts as a
        connect that failed, so that calls fail at once, saying why, and a
        new connection is tried after the backoff (the connection took
        every call until it closed)."""
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(self.path)
        listener.listen(8)
        held = []
        stop = threading.Event()

        def hold():
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    held.append(listener.accept()[0])
                except socket.timeout:
                    continue
        t = threading.Thread(target=hold, daemon=True)
        t.start()
        self.addCleanup(lambda: (stop.set(), t.join(2), [s.close() for s in held],
                                 listener.close()))
        self.start(None)
        started = time.monotonic()
        self.assert_error(self.echo(), 504, 4)
        why = "no HTTP/2 SETTINGS from the upstream in 20 s"
        self.assertTrue(harness.wait_until(lambda: why in self.log(), 25), self.log())
        self.assertGreater(time.monotonic() - started, 19)
        self.assert_error(self.echo(), 503, 14, "cannot connect to the upstream: " + why)
        time.sleep(1.2)  # past the backoff: the next call tries a new connection
        self.assert_error(self.echo(), 504, 4)
        self.assertGreaterEqual(len(held), 2)

    def test_upstream_appears_later(self):
        """Calls fail fast while nothing listens; once the upstream does, the
        client's next connection attempt (at most 1 s of backoff later) works."""
        self.start(None)
        for _ in range(5):
            started = time.monotonic()
            self.assert_error(self.echo(), 503, 14)
            self.assertLess(time.monotonic() - started, 1)
        self.upstream = FakeUpstream(self.path, lambda _, stream: (
            headers_frame(stream, RESPONSE_HEADERS) +
            h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(string_message("back"))) +
            headers_frame(stream, [("grpc-status", "0")], True)))
        listening = time.monotonic()
        self.assertTrue(harness.wait_until(lambda: self.echo("back")[0] == 200, 5, 0.05),
                        self.log())
        self.assertLess(time.monotonic() - listening, 2.5)
        self.assertEqual(self.upstream.connections, 1)

    def test_reply_over_the_limit_is_refused_at_its_prefix(self):
        def behave(_, stream):  # says 64 MiB + 1, sends 100 bytes, then waits
            prefix = b"\x00" + struct.pack(">I", (64 << 20) + 1)
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream, prefix + b"x" * 100))
        self.start(behave)
        started = time.monotonic()
        self.assert_error(self.echo(), 429, 8, "the upstream's reply is larger than 64 MiB")
        self.assertLess(time.monotonic() - started, 1.5)
        self.assertTrue(harness.wait_until(lambda: any(
            t == h2raw.RST_STREAM for _, t, _ in self.upstream.received), 2), self.upstream.received)


def stream_reply(index, payload=b""):
    """rpcrest.testkit.StreamReply{index, payload}, serialized."""
    return ((b"\x08" + harness.varint(index) if index else b"") +
            (b"\x12" + harness.varint(len(payload)) + payload if payload else b""))


def result_lines(indexes):
    return [{"result": {"index": i} if i else {}} for i in indexes]


class GatewayH2Streams(H2Fixture, unittest.TestCase):
    """Server streaming over the same connections (testkit's Stream route,
    GET /v1/testkit/stream), its replies written here:

      upstream answers                        the gateway's answer
      messages cut anywhere by DATA frames,   a line each, in order, the
        several in one frame                    response headers as Grpc-Metadata-*
      messages, then an error status, a       their lines, then the error line
        reset, or a broken connection
      a message cut short, then OK            the lines before it, then code 13
      a compressed message, or one whose      the lines before it, then code 13 (8),
        prefix says 64 MiB + 1                  and the stream is reset at once
      Trailers-Only with an error             that error, as a unary call's (404)
      a message, then nothing                 its line, then code 4 at the deadline;
                                                the stream is reset
      REFUSED_STREAM before answering         the call is sent again: 200
      (the client leaves mid-stream)          the stream is reset (CANCEL)
    """

    DESCRIPTORS = "testkit.pb"

    def stream(self, headers=None):
        """(status, headers, [JSON of each line]) of GET /v1/testkit/stream."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/v1/testkit/stream?count=1", headers=headers or {})
            resp = conn.getresponse()
            body = resp.read()
            got = {k.lower(): v for k, v in resp.getheaders()}
            if resp.status != 200:
                return resp.status, got, json.loads(body)
            return resp.status, got, [json.loads(l) for l in body.split(b"\n") if l]
        finally:
            conn.close()

    def resets(self):
        return [f for f in self.upstream.received if f[1] == h2raw.RST_STREAM]

    def test_messages_however_the_frames_cut_them(self):
        wire = b"".join(h2raw.grpc_message(stream_reply(i)) for i in range(6))
        cuts = [0, 1, 4, 9, 10, 25, len(wire)]
        def behave(_, stream):
            return (headers_frame(stream, RESPONSE_HEADERS + [("x-color", "blue")]) +
                    b"".join(h2raw.frame(h2raw.DATA, 0, stream, wire[a:b])
                             for a, b in zip(cuts, cuts[1:])) +
                    headers_frame(stream, [("grpc-status", "0"), ("x-trail", "t")], True))
        self.start(behave)
        status, headers, lines = self.stream()
        self.assertEqual((status, lines), (200, result_lines(range(6))), self.log())
        self.assertEqual(headers.get("grpc-metadata-x-color"), "blue")

    def test_error_status_after_the_messages_that_came(self):
        def behave(_, stream):
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(stream_reply(0)) +
                                h2raw.grpc_message(stream_reply(1))) +
                    headers_frame(stream, [("grpc-status", "9"), ("grpc-message", "stop")], True))
        self.start(behave)
        status, _, lines = self.stream()
        self.assertEqual((status, lines), (200, result_lines([0, 1]) + [
            {"error": {"code": 9, "message": "stop", "details": []}}]), self.log())

    def assert_ends_with_error(self, behave, code, message, reset):
        self.start(behave)
        started = time.monotonic()
        status, _, lines = self.stream()
        self.assertEqual((status, lines[:-1]), (200, result_lines([1])), self.log())
        self.assertEqual(lines[-1]["error"]["code"], code, lines)
        self.assertEqual(lines[-1]["error"]["message"], message, lines)
        self.assertLess(time.monotonic() - started, 1.5)  # not the 2 s deadline
        if reset:
            self.assertTrue(harness.wait_until(self.resets, 2), self.upstream.received)

    def test_reply_ending_inside_a_message(self):
        def behave(_, stream):
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(stream_reply(1)) +
                                b"\x00\x00\x00\x00\x05\x08") +
                    headers_frame(stream, [("grpc-status", "0")], True))
        self.assert_ends_with_error(behave, 13, "the upstream's reply ended inside a message",
                                    reset=False)

    def test_compressed_message_midway(self):
        def behave(_, stream):  # the trailers never come: the gateway resets the stream
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(stream_reply(1))) +
                    h2raw.frame(h2raw.DATA, 0, stream,
                                h2raw.grpc_message(stream_reply(2), compressed=True)))
        self.assert_ends_with_error(
            behave, 13, "the upstream sent a compressed message without the encoding being "
            "agreed", reset=True)

    def test_message_over_the_limit_midway(self):
        def behave(_, stream):
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(stream_reply(1)) +
                                b"\x00" + struct.pack(">I", 64 * 1024 * 1024 + 1) + b"\x08"))
        self.assert_ends_with_error(
            behave, 8, "a message of the upstream's reply is larger than 64 MiB", reset=True)

    def test_messages_before_a_reset_or_a_broken_connection_still_go(self):
        """Five messages, then in the same read RST_STREAM(INTERNAL_ERROR),
        or a frame that breaks the connection: the five lines, then the
        error (only the first went, the one the client had asked for)."""
        wire = b"".join(h2raw.grpc_message(stream_reply(i)) for i in range(1, 6))
        ends = {"reset": lambda stream: h2raw.frame(h2raw.RST_STREAM, 0, stream,
                                                    struct.pack(">I", 2)),
                "broken": lambda stream: h2raw.frame(h2raw.DATA, 0, 0, b"x")}
        errors = {"reset": (13, "the upstream reset the stream (INTERNAL_ERROR)"),
                  "broken": (14, "the connection to the upstream closed")}
        self.end = "reset"

        def behave(_, stream):
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream, wire) + ends[self.end](stream))
        self.start(behave)
        for end in ("reset", "broken"):
            with self.subTest(end=end):
                self.end = end
                status, _, lines = self.stream()
                self.assertEqual((status, lines[:-1]), (200, result_lines(range(1, 6))),
                                 self.log())
                code, message = errors[end]
                self.assertEqual(lines[-1], {"error": {"code": code, "message": message,
                                                       "details": []}})

    def test_trailers_only_error(self):
        self.start(lambda _, stream: headers_frame(stream, RESPONSE_HEADERS + [
            ("grpc-status", "5"), ("grpc-message", "none")], True))
        status, _, body = self.stream()
        self.assertEqual((status, body), (404, {"code": 5, "message": "none", "details": []}))

    def test_deadline_midway(self):
        def behave(_, stream):
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(stream_reply(1))))
        self.start(behave)
        started = time.monotonic()
        status, _, lines = self.stream({"Grpc-Timeout": "500m"})
        self.assertEqual((status, lines[:-1]), (200, result_lines([1])), self.log())
        self.assertEqual(lines[-1]["error"]["code"], 4, lines)
        self.assertLess(time.monotonic() - started, 1.5)
        self.assertTrue(harness.wait_until(self.resets, 2), self.upstream.received)

    def test_refused_stream_is_sent_again(self):
        calls = []
        def behave(_, stream):
            calls.append(stream)
            if len(calls) == 1:
                return h2raw.frame(h2raw.RST_STREAM, 0, stream, struct.pack(">I", 7))
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(stream_reply(3))) +
                    headers_frame(stream, [("grpc-status", "0")], True))
        self.start(behave)
        status, _, lines = self.stream()
        self.assertEqual((status, lines), (200, result_lines([3])), self.log())
        self.assertEqual(len(calls), 2)

    def test_client_leaving_resets_the_stream(self):
        def behave(_, stream):
            return (headers_frame(stream, RESPONSE_HEADERS) +
                    h2raw.frame(h2raw.DATA, 0, stream, h2raw.grpc_message(stream_reply(1))))
        self.start(behave)
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"GET /v1/testkit/stream?count=1 HTTP/1.1\r\nHost: x\r\n"
                      b"Grpc-Timeout: 10S\r\n\r\n")
            got = b""
            while b'{"result":{"index":1}}' not in got:
                chunk = s.recv(4096)
                self.assertTrue(chunk, got)
                got += chunk
        self.assertTrue(harness.wait_until(self.resets, 2), self.upstream.received)
        # the connection still serves (a stream's default deadline is max_timeout)
        status, _, lines = self.stream({"Grpc-Timeout": "300m"})
        self.assertEqual((status, lines[:1]), (200, result_lines([1])))
        self.assertEqual(lines[1]["error"]["code"], 4, lines)


if __name__ == "__main__":
    unittest.main()
