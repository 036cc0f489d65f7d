"""End-to-end tests of rpcrest-gateway.

Most cases go through the whole system (harness.Rpcrest: rpcrestd starting
rpcrest-host and rpcrest-gateway on free 127.0.0.1 ports) and the echo
service: the quick start's request, UTF-8, escapes, a 1 MiB value, the
error bodies for malformed JSON, wrong types, unknown paths and methods,
the body size limit, and a host killed under the gateway.

The upstream-failure cases need an upstream the test controls, so they
start rpcrest-gateway alone (-c INI written here) in front of a stand-in
gRPC server in Python: nothing listening (503, code 14, at once, then a
reconnect when the server appears), a reply slower than the deadline (504),
an error status, and reply bytes that are not the declared message.
Every process is stopped by PID in tearDown.
"""
import concurrent.futures
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import grpc

import harness

GATEWAY_BIN = os.path.join(harness.BUILD, "rpcrest-gateway")
ECHO_SO = os.path.join(harness.BUILD, "services", "echo.so")
ECHO_PB = os.path.join(harness.BUILD, "services", "echo.pb")
ECHO_PATH = "/v1/example/echo"
ECHO_METHOD = "/example.MyService/Echo"

OK, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND = 0, 3, 4, 5
RESOURCE_EXHAUSTED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE = 8, 12, 13, 14


def need_programs(*names):
    missing = [n for n in names if not os.access(os.path.join(harness.BUILD, n), os.X_OK)]
    if missing:
        raise AssertionError("not built: %s (run make first)"
                             % ", ".join(os.path.join(harness.BUILD, n) for n in missing))


def json_body(value):
    """The JSON request body {"value": value}, as bytes."""
    return json.dumps({"value": value}, ensure_ascii=False, separators=(",", ":")).encode()


class GatewayAssertions(unittest.TestCase):
    """Checks shared by the test classes; self.http(...) is theirs."""

    def assert_json_type(self, headers):
        ctype = headers.get("content-type", "")
        self.assertEqual(ctype.split(";")[0].strip(), "application/json", headers)

    def assert_error(self, status, headers, data, want_status, want_code, message_part=None):
        """An error answer: HTTP status, and {"code":N,"message":"...","details":[]}."""
        self.assertEqual(status, want_status, data[:500])
        self.assert_json_type(headers)
        body = json.loads(data)
        self.assertEqual(sorted(body), ["code", "details", "message"], body)
        self.assertEqual(body["code"], want_code, body)
        self.assertIsInstance(body["message"], str)
        self.assertEqual(body["details"], [])
        if message_part is not None:
            self.assertIn(message_part, body["message"])
        return body

    def assert_echo(self, value, raw_body=None):
        """POSTs {"value": value} (or raw_body) and expects it back, byte for byte."""
        body = raw_body if raw_body is not None else json_body(value)
        status, headers, data = self.http("POST", ECHO_PATH, body)
        self.assertEqual(status, 200, data[:500])
        self.assert_json_type(headers)
        want = b"{}" if value == "" else (
            b'{"value":' + json.dumps(value, ensure_ascii=False).encode("utf-8") + b"}")
        self.assertEqual(data, want)
        return data


# ---- the whole system ------------------------------------------------------------


class EchoThroughTheSystem(GatewayAssertions):
    """One rpcrestd (host + gateway) for all the echo cases."""

    @classmethod
    def setUpClass(cls):
        need_programs("rpcrestd", "rpcrest-host", "rpcrest-gateway")
        cls.system = harness.Rpcrest()
        try:
            cls.system.start()
        except BaseException:
            cls.system.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.system.cleanup()

    def http(self, method, path, body=None, headers=None):
        return self.system.http(method, path, body, headers)

    def test_seed_scenario(self):
        status, headers, data = self.http("POST", ECHO_PATH, b'{"value":"this is vlaue"}')
        self.assertEqual(status, 200, data)
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(data, b'{"value":"this is vlaue"}')
        self.assertEqual(int(headers["content-length"]), len(data))

    def test_utf8(self):
        self.assert_echo("h\u00e9llo \u4e16\u754c \U0001F600")
        # \u escapes (a surrogate pair too) come back as raw UTF-8
        data = self.assert_echo("\u00e9\U0001F600",
                                raw_body=b'{"value":"\\u00e9\\ud83d\\ude00"}')
        self.assertEqual(data, '{"value":"\u00e9\U0001F600"}'.encode("utf-8"))

    def test_empty_value(self):
        self.assert_echo("")
        for body in (b"{}", b" { } ", b""):
            status, _, data = self.http("POST", ECHO_PATH, body)
            self.assertEqual((status, data), (200, b"{}"), body)

    def test_escapes(self):
        value = 'q"b\\s/\b\f\n\r\t\x01\x1f\x7f end'
        status, headers, data = self.http("POST", ECHO_PATH, json_body(value))
        self.assertEqual(status, 200, data)
        self.assertEqual(data, b'{"value":"q\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f end"}')
        self.assertEqual(json.loads(data), {"value": value})

    def test_one_mebibyte_value(self):
        value = "".join(chr(ord("a") + i % 26) for i in range(1 << 20))
        self.assert_echo(value)
        # and one that needs escaping all the way through
        value = ('\u00e9"\\' * (1 << 18))[: 1 << 20]
        status, _, data = self.http("POST", ECHO_PATH, json_body(value))
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(data), {"value": value})

    def test_malformed_json(self):
        for body in (b'{"value": ', b'{"value":"x"', b"{'value':'x'}", b'{"value":"x"} tail',
                     b"\xff", b'{"value":"\xc3\x28"}', b'{"value":"a","value":"b"}'):
            status, headers, data = self.http("POST", ECHO_PATH, body)
            self.assert_error(status, headers, data, 400, INVALID_ARGUMENT, "malformed JSON body")
        status, headers, data = self.http("POST", ECHO_PATH, b'{\n "value":\n}')
        self.assert_error(status, headers, data, 400, INVALID_ARGUMENT, "line 3")

    def test_not_an_object(self):
        for body in (b"[]", b'"value"', b"42", b"null"):
            status, headers, data = self.http("POST", ECHO_PATH, body)
            self.assert_error(status, headers, data, 400, INVALID_ARGUMENT,
                              "the body must be a JSON object")

    def test_wrong_field_type(self):
        cases = [(b'{"value":5}', "field 'value': expected a string, got an integer"),
                 (b'{"value":true}', "field 'value': expected a string, got a boolean"),
                 (b'{"value":{}}', "field 'value': expected a string, got an object"),
                 (b'{"value":["x"]}', "field 'value': expected a string, got an array")]
        for body, message in cases:
            status, headers, data = self.http("POST", ECHO_PATH, body)
            got = self.assert_error(status, headers, data, 400, INVALID_ARGUMENT)
            self.assertEqual(got["message"], message)

    def test_unknown_field(self):
        status, headers, data = self.http("POST", ECHO_PATH, b'{"value":"x","nope":1}')
        self.assert_error(status, headers, data, 400, INVALID_ARGUMENT,
                          "field 'nope': no such field in example.StringMessage")

    def test_null_value_is_default(self):
        status, _, data = self.http("POST", ECHO_PATH, b'{"value":null}')
        self.assertEqual((status, data), (200, b"{}"))

    def test_unknown_path(self):
        for method, path in (("POST", "/v1/example/echoes"), ("GET", "/"), ("POST", "/v1"),
                             ("POST", "/v1/example/echo/x"), ("POST", "/v1/example/"),
                             ("GET", "/nope?x=1")):
            status, headers, data = self.http(method, path, b"{}" if method == "POST" else None)
            self.assert_error(status, headers, data, 404, NOT_FOUND)

    def test_wrong_method(self):
        for method in ("GET", "PUT", "DELETE", "PATCH"):
            status, headers, data = self.http(method, ECHO_PATH,
                                              None if method in ("GET", "DELETE") else b"{}")
            self.assert_error(status, headers, data, 405, UNIMPLEMENTED)

    def test_query_string_is_not_the_body(self):
        # body "*": the query string takes no part
        status, _, data = self.http("POST", ECHO_PATH + "?value=fromquery",
                                    b'{"value":"frombody"}')
        self.assertEqual((status, data), (200, b'{"value":"frombody"}'))

    def test_keep_alive(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.system.http_port, timeout=10)
        try:
            for i in range(50):
                conn.request("POST", ECHO_PATH, json_body("n%d" % i),
                             {"Content-Type": "application/json"})
                resp = conn.getresponse()
                self.assertEqual((resp.status, resp.read()), (200, json_body("n%d" % i)))
            conn.request("GET", ECHO_PATH)  # an error answer keeps the connection usable
            resp = conn.getresponse()
            self.assertEqual(resp.status, 405)
            resp.read()
            conn.request("POST", ECHO_PATH, b'{"value":"after"}')
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (200, b'{"value":"after"}'))
        finally:
            conn.close()

    def test_concurrent_requests(self):
        def one(i):
            value = "request %d " % i + "x" * (i * 97 % 5000)
            status, _, data = self.http("POST", ECHO_PATH, json_body(value))
            return status, data, value

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            for status, data, value in pool.map(one, range(200)):
                self.assertEqual(status, 200)
                self.assertEqual(json.loads(data), {"value": value})


class BodyLimit(GatewayAssertions):
    """[gateway] max_body_bytes = 1k."""

    @classmethod
    def setUpClass(cls):
        need_programs("rpcrestd", "rpcrest-host", "rpcrest-gateway")
        cls.system = harness.Rpcrest(gateway={"max_body_bytes": "1k"})
        try:
            cls.system.start()
        except BaseException:
            cls.system.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.system.cleanup()

    def http(self, method, path, body=None, headers=None):
        return self.system.http(method, path, body, headers)

    def test_at_the_limit(self):
        body = b'{"value":"' + b"a" * (1024 - 12) + b'"}'
        self.assertEqual(len(body), 1024)
        status, _, data = self.http("POST", ECHO_PATH, body)
        self.assertEqual((status, data), (200, body))

    def test_over_the_limit(self):
        for size in (1025, 4096, 1 << 20, 16 << 20):
            body = b'{"value":"' + b"a" * (size - 12) + b'"}'
            try:
                status, headers, data = self.http("POST", ECHO_PATH, body)
            except (BrokenPipeError, ConnectionResetError):
                self.fail("the gateway dropped the connection instead of answering 413 "
                          "(%d bytes)" % size)
            self.assert_error(status, headers, data, 413, RESOURCE_EXHAUSTED, "1024")

    def test_over_the_limit_chunked(self):
        # no Content-Length: the limit applies while the body arrives
        conn = http.client.HTTPConnection("127.0.0.1", self.system.http_port, timeout=10)
        try:
            chunks = [b'{"value":"'] + [b"a" * 300] * 5 + [b'"}']
            conn.request("POST", ECHO_PATH, body=iter(chunks), encode_chunked=True,
                         headers={"Content-Type": "application/json",
                                  "Transfer-Encoding": "chunked"})
            resp = conn.getresponse()
            data = resp.read()
            headers = {k.lower(): v for k, v in resp.getheaders()}
            self.assert_error(resp.status, headers, data, 413, RESOURCE_EXHAUSTED)
        finally:
            conn.close()

    def test_over_the_limit_expect_continue(self):
        # a client that waits for "100 Continue" gets the 413 instead, at once
        with socket.create_connection(("127.0.0.1", self.system.http_port), timeout=10) as s:
            s.sendall(b"POST " + ECHO_PATH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 1048576\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            resp = http.client.HTTPResponse(s)
            resp.begin()
            data = resp.read()
            headers = {k.lower(): v for k, v in resp.getheaders()}
            self.assert_error(resp.status, headers, data, 413, RESOURCE_EXHAUSTED)

    def test_small_chunked_body(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.system.http_port, timeout=10)
        try:
            conn.request("POST", ECHO_PATH, body=iter([b'{"val', b'ue":"chu', b'nked"}']),
                         encode_chunked=True, headers={"Content-Type": "application/json",
                                                       "Transfer-Encoding": "chunked"})
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (200, b'{"value":"chunked"}'))
        finally:
            conn.close()


class HostRestart(GatewayAssertions):
    """The host dies under a running gateway; the supervisor restarts it and
    the gateway finds it again by itself."""

    def setUp(self):
        need_programs("rpcrestd", "rpcrest-host", "rpcrest-gateway")
        self.system = harness.Rpcrest()
        self.addCleanup(self.system.cleanup)  # runs even if start() fails
        self.system.start()

    def http(self, method, path, body=None, headers=None):
        return self.system.http(method, path, body, headers)

    def test_host_killed(self):
        kids = self.system.children()
        host_pid, gateway_pid = kids["rpcrest-host"], kids["rpcrest-gateway"]
        os.kill(host_pid, signal.SIGKILL)
        t0 = time.monotonic()
        answers = []

        def echoed():
            status, headers, data = self.http("POST", ECHO_PATH, b'{"value":"again"}')
            answers.append((status, data))
            if status != 200:  # meanwhile: a clean 503, nothing else
                self.assert_error(status, headers, data, 503, UNAVAILABLE)
            return status == 200

        self.assertTrue(harness.wait_until(echoed, 5, 0.05),
                        "no 200 within 5 s of killing the host; answers %s; log:\n%s"
                        % (answers[-3:], self.system.log()))
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(answers[-1], (200, b'{"value":"again"}'))
        kids = self.system.children()
        self.assertNotEqual(kids.get("rpcrest-host"), host_pid)
        self.assertEqual(kids.get("rpcrest-gateway"), gateway_pid)  # the gateway stayed up


class HostConnectionAge(GatewayAssertions):
    """The host ends its connection from the gateway when it reaches [host]
    max_connection_age: a call in flight then finishes within the grace,
    and the calls after it go over a new connection, all without an error."""

    def setUp(self):
        need_programs("rpcrestd", "rpcrest-host", "rpcrest-gateway")
        self.system = harness.Rpcrest(services=("echo", "testkit"),
                                      host={"max_connection_age": "1",
                                            "max_connection_age_grace": "3"},
                                      gateway={"timeout": "5"})
        self.addCleanup(self.system.cleanup)  # runs even if start() fails
        self.system.start()

    def test_calls_across_goaways(self):
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            slow = pool.submit(self.system.http, "POST", "/v1/testkit/sleep",
                               b'{"duration":"2s"}')
            t0 = time.monotonic()
            answers = []
            while time.monotonic() - t0 < 3.5:  # three connections' lifetimes
                status, _, data = self.system.http("POST", ECHO_PATH, b'{"value":"x"}')
                answers.append((status, data))
                time.sleep(0.1)
            status, _, data = slow.result(10)
        self.assertEqual(status, 200, data)
        self.assertEqual([a for a in answers if a != (200, b'{"value":"x"}')], [],
                         self.system.log())


class HostStoppedUnderLoad(GatewayAssertions):
    """`rpcrestctl stop host` under load: the calls gRPC core cancels as the
    host shuts down, before any plugin saw them, are sent again (and fail
    503 with no host to take them) instead of reaching clients as 499."""

    def setUp(self):
        need_programs("rpcrestd", "rpcrest-host", "rpcrest-gateway")
        self.system = harness.Rpcrest()
        self.addCleanup(self.system.cleanup)
        self.system.start()

    def load(self, stop, statuses):
        def client():
            conn = http.client.HTTPConnection("127.0.0.1", self.system.http_port, timeout=10)
            try:
                while not stop.is_set():
                    try:
                        conn.request("POST", ECHO_PATH, b'{"value":"x"}')
                        response = conn.getresponse()
                        response.read()
                        statuses.append(response.status)
                    except (OSError, http.client.HTTPException):
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", self.system.http_port,
                                                          timeout=10)
            finally:
                conn.close()
        return [threading.Thread(target=client) for _ in range(16)]

    def ctl(self, *args):
        return subprocess.run([os.path.join(harness.BUILD, "rpcrestctl"), "-c", self.system.ini]
                              + list(args), capture_output=True, text=True, timeout=15,
                              stdin=subprocess.DEVNULL)

    def test_no_499_when_the_host_stops(self):
        statuses = []
        for _ in range(3):
            stop = threading.Event()
            threads = self.load(stop, statuses)
            for t in threads:
                t.start()
            time.sleep(0.5)
            self.assertEqual(self.ctl("stop", "host").returncode, 0)
            time.sleep(0.5)
            stop.set()
            for t in threads:
                t.join(15)
            self.assertEqual(self.ctl("start", "host").returncode, 0)
            self.assertTrue(harness.wait_until(
                lambda: self.system.http("POST", ECHO_PATH, b'{"value":"x"}')[0] == 200, 10),
                self.system.log())
        self.assertGreater(statuses.count(200), 100)
        self.assertGreater(statuses.count(503), 0)
        print("host stopped under load: %d answers, %d x 200, %d x 503, %d x 499"
              % (len(statuses), statuses.count(200), statuses.count(503), statuses.count(499)))
        self.assertLessEqual(statuses.count(499), 1, sorted(set(statuses)))
        self.assertEqual(set(statuses) - {200, 499, 503}, set())


class StopWithALongStream(GatewayAssertions):
    """A REST stream longer than the stop allows: under rpcrestd the
    gateway's grace ([gateway] timeout, 10 s) is cut to fit its
    stop_timeout, and the stream ends with an UNAVAILABLE error line and the
    last chunk, the gateway with status 0 and no SIGKILL."""

    def setUp(self):
        need_programs("rpcrestd", "rpcrest-host", "rpcrest-gateway")
        self.system = harness.Rpcrest(services=("echo", "testkit"),
                                      supervisor={"stop_timeout": "4"},
                                      gateway={"timeout": "10"})
        self.addCleanup(self.system.cleanup)
        self.system.start()

    def test_stream_cut_by_a_stop_gets_an_error_line(self):
        gateway_pid = self.system.children()["rpcrest-gateway"]
        conn = http.client.HTTPConnection("127.0.0.1", self.system.http_port, timeout=10)
        self.addCleanup(conn.close)
        conn.request("GET", "/v1/testkit/stream/index?count=1000000000")
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        first = response.readline()
        self.assertTrue(first.startswith(b'{"result":'), first)
        t0 = time.monotonic()
        stop = subprocess.run([os.path.join(harness.BUILD, "rpcrestctl"), "-c",
                               self.system.ini, "restart", "gateway"], capture_output=True,
                              text=True, timeout=15, stdin=subprocess.DEVNULL)
        self.assertEqual(stop.returncode, 0, stop)
        try:
            body = response.read()  # to the last chunk: http.client raises if it is cut
        except http.client.IncompleteRead as e:
            self.fail("the stream was cut: ...%r; log:\n%s" % (e.partial[-200:], self.system.log()))
        self.assertLess(time.monotonic() - t0, 4, self.system.log())
        last = body.rstrip(b"\n").split(b"\n")[-1]
        self.assertEqual(json.loads(last)["error"]["code"], UNAVAILABLE, last)
        ended = "rpcrest-gateway pid %d exited with status 0" % gateway_pid
        self.assertTrue(harness.wait_until(lambda: ended in self.system.log(), 5),
                        self.system.log())
        log = self.system.log()
        self.assertNotIn("sending SIGKILL", log)
        self.assertIn("1 request still running after 1500 ms: cancelled", log)


# ---- the gateway alone, in front of an upstream the test controls ------------------


class StandIn:
    """A Python gRPC server on 127.0.0.1:port that answers
    example.MyService/Echo with `handler(request_bytes, context)`."""

    def __init__(self, port, handler):
        self.port = port
        self.calls = 0
        stand_in = self

        class Generic(grpc.GenericRpcHandler):
            def service(self, details):
                if details.method != ECHO_METHOD:
                    return None

                def call(request, context):
                    stand_in.calls += 1
                    return handler(request, context)
                return grpc.unary_unary_rpc_method_handler(call)

        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(4))
        self.server.add_generic_rpc_handlers((Generic(),))
        if self.server.add_insecure_port("127.0.0.1:%d" % port) != port:
            raise AssertionError("stand-in: cannot listen on 127.0.0.1:%d" % port)
        self.server.start()

    def stop(self):
        self.server.stop(0).wait(5)


def echo_handler(request, context):
    return request


class DnsServer:
    """A DNS server on a UDP port of 127.0.0.1 that answers `name`'s A
    question with 127.0.0.1, its AAAA question with no record, and any
    other name with NXDOMAIN; `questions` lists (name, type) as asked."""

    def __init__(self, name):
        self.name = name
        self.questions = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def reply(self, q):
        at, labels = 12, []
        while at < len(q) and q[at]:
            labels.append(q[at + 1:at + 1 + q[at]].decode("ascii", "replace"))
            at += 1 + q[at]
        qtype = int.from_bytes(q[at + 1:at + 3], "big")
        name = ".".join(labels)
        self.questions.append((name, qtype))
        known = name == self.name
        answers = 1 if known and qtype == 1 else 0
        head = q[:2] + bytes([0x81, 0x80 if known else 0x83, 0, 1, 0, answers, 0, 0, 0, 0])
        rr = bytes([0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 127, 0, 0, 1]) if answers else b""
        return head + q[12:at + 5] + rr

    def serve(self):
        while not self.stopping.is_set():
            try:
                q, peer = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            self.sock.sendto(self.reply(q), peer)

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()


class Gateway:
    """rpcrest-gateway alone, with an INI of its own in a temp folder: its
    upstream is 127.0.0.1:host_port, where the test may or may not run
    something; it listens on `address` (127.0.0.1 or ::1), binding it
    itself."""

    def __init__(self, timeout="2", address="127.0.0.1"):
        self.dir = tempfile.mkdtemp(prefix="rpcrest-gw-test-")
        self.host_port = harness.free_port()
        self.http_port = harness.free_port()
        while self.http_port == self.host_port:
            self.http_port = harness.free_port()
        self.timeout = float(timeout)
        self.address = address
        listen = ("[%s]:%d" if ":" in address else "%s:%d") % (address, self.http_port)
        self.ini = os.path.join(self.dir, "rpcrest.ini")
        self.log_path = os.path.join(self.dir, "gateway.log")
        self.proc = None
        with open(self.ini, "w") as f:
            f.write("[host]\nlisten = 127.0.0.1:%d\n\n"
                    "[gateway]\nlisten = %s\ntimeout = %s\nthreads = 2\n\n"
                    "[service.echo]\nplugin = %s\ndescriptors = %s\n"
                    % (self.host_port, listen, timeout, ECHO_SO, ECHO_PB))

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([GATEWAY_BIN, "-c", self.ini], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT)
        # the port opens once the API is loaded, and "listening on" is logged
        if not harness.wait_until(
                lambda: self.proc.poll() is None
                and harness.port_open(self.http_port, self.address)
                and "listening on http://" in self.log(), 10):
            raise AssertionError("rpcrest-gateway did not start; log:\n" + self.log())
        return self

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def http(self, method, path, body=None, headers=None, timeout=15):
        conn = http.client.HTTPConnection(self.address, self.http_port, timeout=timeout)
        try:
            hdrs = {"Content-Type": "application/json"} if body is not None else {}
            hdrs.update(headers or {})
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def cleanup(self):
        """SIGTERM, then SIGKILL by PID if it lingers; removes the folder."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class GatewayAlone(GatewayAssertions):
    def setUp(self):
        need_programs("rpcrest-gateway")
        self.gateway = None
        self.stand_ins = []

    def tearDown(self):
        for s in self.stand_ins:
            s.stop()
        if self.gateway:
            self.gateway.cleanup()

    def start(self, timeout="2", address="127.0.0.1"):
        self.gateway = Gateway(timeout, address)  # tearDown cleans up even if start() fails
        return self.gateway.start()

    def stand_in(self, handler):
        s = StandIn(self.gateway.host_port, handler)
        self.stand_ins.append(s)
        return s

    def http(self, method, path, body=None, headers=None):
        return self.gateway.http(method, path, body, headers)

    def timed_echo(self, value="x"):
        t0 = time.monotonic()
        status, headers, data = self.http("POST", ECHO_PATH, json_body(value))
        return status, headers, data, time.monotonic() - t0

    def test_listens_on_ipv6_loopback(self):
        """[gateway] listen = [::1]:PORT: the gateway binds it itself and
        serves there."""
        self.start(address="::1")
        self.stand_in(echo_handler)
        self.assertTrue(harness.wait_until(lambda: self.timed_echo("six")[0] == 200, 10, 0.05),
                        self.gateway.log())
        status, _, data, _ = self.timed_echo("six")
        self.assertEqual((status, json.loads(data)), (200, {"value": "six"}))

    def test_host_down_then_up(self):
        gw = self.start(timeout="2")
        # nothing listens on the upstream port: 503 / UNAVAILABLE, within the
        # deadline, every time, saying why without the upstream's address
        # (the first call too, whose connect was under way when it failed,
        # and /healthz, which goes on the same connections)
        for _ in range(3):
            status, headers, data, took = self.timed_echo()
            body = self.assert_error(status, headers, data, 503, UNAVAILABLE)
            self.assertEqual(body["message"], "cannot connect to the upstream: Connection refused")
            self.assertLess(took, gw.timeout, "503 took %.2f s" % took)
        status, headers, data = self.http("GET", "/healthz")
        body = self.assert_error(status, headers, data, 503, UNAVAILABLE)
        self.assertEqual(body["message"], "cannot connect to the upstream: Connection refused")
        self.assertIn("upstream ipv4:127.0.0.1:%d: cannot connect: Connection refused"
                      % gw.host_port, gw.log())
        # the upstream appears: the gateway reconnects by itself
        self.stand_in(echo_handler)
        t0 = time.monotonic()
        answers = []

        def echoed():
            status, _, data, _ = self.timed_echo("back")
            answers.append((status, data))
            return status == 200

        self.assertTrue(harness.wait_until(echoed, 3, 0.05),
                        "no 200 within 3 s of the upstream starting; last answers %s; log:\n%s"
                        % (answers[-3:], gw.log()))
        self.assertLess(time.monotonic() - t0, 3)
        self.assertEqual(answers[-1], (200, b'{"value":"back"}'))

    def test_upstream_status_passes_through_for_a_name(self):
        """A dns: target (its name resolved by the system's resolver).  The
        gateway's own failure to connect is told without the address; an
        UNAVAILABLE the upstream itself sends, in the same words (its own
        upstream failing), reaches the client as sent."""
        self.gateway = Gateway("2")
        with open(self.gateway.ini) as f:
            text = f.read()
        with open(self.gateway.ini, "w") as f:
            f.write(text.replace("timeout = 2", "timeout = 2\nupstream = dns:///localhost:%d"
                                 % self.gateway.host_port))
        self.gateway.start()
        status, headers, data, _ = self.timed_echo()
        body = self.assert_error(status, headers, data, 503, UNAVAILABLE)
        self.assertEqual(body["message"], "cannot connect to the upstream: Connection refused")
        self.assertIn("its name resolved by the system's resolver", self.gateway.log())
        theirs = ("failed to connect to all addresses; last error: UNKNOWN: "
                  "ipv4:10.1.2.3:443: Connection refused")
        self.stand_in(lambda request, context: context.abort(grpc.StatusCode.UNAVAILABLE,
                                                             theirs))
        answers = []

        def passed_through():
            status, _, data, _ = self.timed_echo()
            answers.append((status, data))
            return status == 503 and json.loads(data)["message"] == theirs
        self.assertTrue(harness.wait_until(passed_through, 10, 0.1),
                        "%s; log:\n%s" % (answers[-3:], self.gateway.log()))

    def test_upstream_named_through_its_own_dns_server(self):
        """upstream = dns://SERVER/NAME:PORT: SERVER alone resolves NAME (a
        Consul agent's DNS interface, say), not /etc/hosts or resolv.conf."""
        dns = DnsServer("echo.rpcrest.test")
        self.addCleanup(dns.stop)
        self.gateway = Gateway("2")
        with open(self.gateway.ini) as f:
            text = f.read()
        with open(self.gateway.ini, "w") as f:
            f.write(text.replace("timeout = 2", "timeout = 2\nupstream = dns://127.0.0.1:%d/"
                                 "echo.rpcrest.test:%d" % (dns.port, self.gateway.host_port)))
        self.gateway.start()
        self.stand_in(echo_handler)
        self.assertTrue(harness.wait_until(lambda: self.timed_echo("named")[0] == 200, 10, 0.05),
                        self.gateway.log())
        status, _, data, _ = self.timed_echo("named")
        self.assertEqual((status, json.loads(data)), (200, {"value": "named"}))
        self.assertIn("its name resolved by the DNS server 127.0.0.1:%d" % dns.port,
                      self.gateway.log())
        self.assertIn(("echo.rpcrest.test", 1), dns.questions)   # A
        self.assertIn(("echo.rpcrest.test", 28), dns.questions)  # AAAA

    def test_upstream_goes_away(self):
        gw = self.start(timeout="2")
        s = self.stand_in(echo_handler)
        self.assertTrue(harness.wait_until(lambda: self.timed_echo()[0] == 200, 5, 0.05),
                        gw.log())
        s.stop()
        self.stand_ins.remove(s)
        # once the connection is gone, calls fail fast with 503
        self.assertTrue(harness.wait_until(lambda: self.timed_echo()[0] == 503, 3, 0.05),
                        gw.log())
        status, headers, data, took = self.timed_echo()
        self.assert_error(status, headers, data, 503, UNAVAILABLE)
        self.assertLess(took, gw.timeout)

    def test_deadline(self):
        gw = self.start(timeout="0.5")
        release = threading.Event()
        self.addCleanup(release.set)

        def slow(request, context):
            release.wait(5)
            return request

        self.stand_in(slow)
        status, headers, data, took = self.timed_echo()
        self.assert_error(status, headers, data, 504, DEADLINE_EXCEEDED)
        self.assertGreaterEqual(took, 0.4)
        self.assertLess(took, 2.5, "the 504 came %.2f s after a 0.5 s deadline" % took)
        release.set()
        self.assertIn("rpcrest-gateway", gw.log())

    def test_upstream_error_status(self):
        self.start()
        cases = [(grpc.StatusCode.NOT_FOUND, 404, NOT_FOUND),
                 (grpc.StatusCode.INVALID_ARGUMENT, 400, INVALID_ARGUMENT),
                 (grpc.StatusCode.PERMISSION_DENIED, 403, 7),
                 (grpc.StatusCode.UNAUTHENTICATED, 401, 16),
                 (grpc.StatusCode.ALREADY_EXISTS, 409, 6),
                 (grpc.StatusCode.RESOURCE_EXHAUSTED, 429, RESOURCE_EXHAUSTED),
                 (grpc.StatusCode.FAILED_PRECONDITION, 400, 9),
                 (grpc.StatusCode.UNIMPLEMENTED, 501, UNIMPLEMENTED),
                 (grpc.StatusCode.INTERNAL, 500, INTERNAL),
                 (grpc.StatusCode.UNAVAILABLE, 503, UNAVAILABLE)]
        current = {}

        def failing(request, context):
            context.abort(current["code"], "stand-in says \u00e9 \"no\"")

        self.stand_in(failing)
        for code, http_status, grpc_code in cases:
            current["code"] = code
            status, headers, data = self.http("POST", ECHO_PATH, b'{"value":"x"}')
            body = self.assert_error(status, headers, data, http_status, grpc_code)
            self.assertEqual(body["message"], "stand-in says \u00e9 \"no\"")

    def test_reply_not_the_declared_message(self):
        self.start()
        replies = {"bytes": b"\x0a\x05ab"}  # field 1 says 5 bytes, 2 follow

        self.stand_in(lambda request, context: replies["bytes"])
        status, headers, data = self.http("POST", ECHO_PATH, b'{"value":"x"}')
        body = self.assert_error(status, headers, data, 500, INTERNAL)
        self.assertIn(ECHO_METHOD, body["message"])
        replies["bytes"] = b"\x0a\x02\xc3\x28"  # a string that is not UTF-8
        status, headers, data = self.http("POST", ECHO_PATH, b'{"value":"x"}')
        body = self.assert_error(status, headers, data, 500, INTERNAL, "UTF-8")
        # unknown fields in a reply are skipped
        replies["bytes"] = b"\x0a\x01y\x10\x07"
        status, _, data = self.http("POST", ECHO_PATH, b'{"value":"x"}')
        self.assertEqual((status, data), (200, b'{"value":"y"}'))

    def test_nul_character(self):
        # U+0000 is a valid character of JSON strings and of proto3 strings.
        # (The stand-in echoes bytes; the echo plugin's protobuf-c strings
        # are NUL-terminated, so this is tested against the stand-in.)
        self.start()
        seen = []

        def record(request, context):
            seen.append(request)
            return request

        self.stand_in(record)
        status, _, data = self.http("POST", ECHO_PATH, b'{"value":"a\\u0000b"}')
        self.assertEqual(status, 200, data)
        self.assertEqual(seen, [b"\x0a\x03a\x00b"])
        self.assertEqual(data, b'{"value":"a\\u0000b"}')

    def test_sigterm_lets_a_call_finish(self):
        gw = self.start(timeout="3")
        started = threading.Event()

        def slow(request, context):
            started.set()
            time.sleep(0.5)
            return request

        self.stand_in(slow)
        result = {}

        def call():
            # the stand-in came up after the gateway, which may still be in
            # its reconnect backoff: 503 until it has reconnected
            deadline = time.monotonic() + 10
            while True:
                result["answer"] = self.http("POST", ECHO_PATH, b'{"value":"last"}')
                if result["answer"][0] != 503 or time.monotonic() > deadline:
                    return
                time.sleep(0.1)

        caller = threading.Thread(target=call)
        caller.start()
        self.assertTrue(started.wait(12), gw.log())
        gw.proc.send_signal(signal.SIGTERM)
        caller.join(10)
        self.assertFalse(caller.is_alive())
        status, _, data = result["answer"]
        self.assertEqual((status, data), (200, b'{"value":"last"}'), gw.log())
        self.assertEqual(gw.proc.wait(5), 0, gw.log())
        self.assertFalse(harness.port_open(gw.http_port))

    def test_request_reaches_upstream_as_wire_bytes(self):
        self.start()
        seen = []

        def record(request, context):
            seen.append(request)
            return request

        self.stand_in(record)
        status, _, _ = self.http("POST", ECHO_PATH, b'{"value":"this is vlaue"}')
        self.assertEqual(status, 200)
        self.assertEqual(seen, [b"\x0a\x0dthis is vlaue"])
        # invalid requests never reach the upstream
        self.http("POST", ECHO_PATH, b'{"value":5}')
        self.http("GET", ECHO_PATH)
        self.http("POST", "/nope", b"{}")
        self.assertEqual(len(seen), 1)


class UpstreamDownAtStart(unittest.TestCase):
    """Reflection that does not answer within [gateway] timeout: the gateway
    starts with the descriptor files alone (here none); a path they do not
    route is 503 (retryable: the API is still to come), not 404, and the
    failed load is counted as an error."""

    def test_unknown_paths_are_503_until_the_api_is_loaded(self):
        need_programs("rpcrest-gateway")
        tmp = tempfile.mkdtemp(prefix="rpcrest-gw-test-")
        self.addCleanup(shutil.rmtree, tmp, True)
        port = harness.free_port()
        ini = os.path.join(tmp, "gateway.ini")
        with open(ini, "w") as f:
            f.write("[gateway]\nlisten = 127.0.0.1:%d\nupstream = 127.0.0.1:%d\ntimeout = 0.3\n"
                    "threads = 1\n" % (port, harness.free_port()))
        with open(os.path.join(tmp, "log"), "ab") as log:
            gw = subprocess.Popen([GATEWAY_BIN, "-c", ini], stdin=subprocess.DEVNULL,
                                  stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: gw.poll() is None and (gw.kill(), gw.wait()))
        self.assertTrue(harness.wait_until(lambda: harness.port_open(port), 10))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.addCleanup(conn.close)
        conn.request("POST", ECHO_PATH, body=b'{"value":"x"}')
        resp = conn.getresponse()
        body = json.loads(resp.read())
        self.assertEqual((resp.status, body["code"]), (503, 14), body)
        conn.request("GET", "/metrics")
        metrics = conn.getresponse().read().decode()
        self.assertIn('rpcrest_gateway_schema_reloads_total{result="error"} 1', metrics)
        self.assertIn('rpcrest_gateway_schema_reloads_total{result="ok"} 0', metrics)


class ProxyEnvironment(unittest.TestCase):
    """http_proxy in the environment (a shell's, a container's) does not
    send the gateway's gRPC core calls through a proxy."""

    def test_upstream_reached_directly(self):
        proxy = socket.socket()
        proxy.bind(("127.0.0.1", 0))
        proxy.listen(8)
        proxy.settimeout(0.2)
        self.addCleanup(proxy.close)
        url = "http://127.0.0.1:%d" % proxy.getsockname()[1]
        r = harness.Rpcrest(host={"private_listen": "off"})
        self.addCleanup(r.cleanup)
        r.start(env=dict(os.environ, http_proxy=url, https_proxy=url, grpc_proxy=url))
        status, _, body = r.http("GET", "/healthz")
        self.assertEqual(status, 200, body)
        with self.assertRaises(socket.timeout):
            proxy.accept()


class UndescribedService(unittest.TestCase):
    """A plugin built without its embedded descriptor set (reflection
    answers NOT_FOUND for its service) costs its own routes only."""

    def test_the_other_services_are_served(self):
        inspect = os.path.join(harness.BUILD, "tests", "plugins", "inspect.so")
        r = harness.Rpcrest(services=("testkit",), descriptors=False,
                            ini_extra="[service.inspect]\nplugin = %s\n" % inspect)
        self.addCleanup(r.cleanup)
        r.start(wait=False)  # its readiness check calls echo

        def echoed():
            try:
                return r.http("POST", "/v1/testkit/echo", b'{"stringValue":"hi"}')
            except OSError:
                return None
        self.assertTrue(harness.wait_until(lambda: (echoed() or [0])[0] == 200, 10), r.log())
        self.assertEqual(json.loads(echoed()[2]).get("stringValue"), "hi")
        self.assertIn("reflection: the upstream serves example.MyService (NOT_FOUND: ",
                      r.log())
        self.assertIn("but does not describe it: no routes for it", r.log())
        self.assertEqual(r.http("POST", ECHO_PATH, b'{"value":"x"}')[0], 404)


class StopWhileStarting(unittest.TestCase):
    """A stop signal is taken at any point of the start, also while the
    gateway waits (up to [gateway] timeout) for the reflection of an
    upstream that cannot be reached."""

    def setUp(self):
        need_programs("rpcrest-gateway", "rpcrestd", "rpcrestctl")
        self.dir = tempfile.mkdtemp(prefix="rpcrest-gw-test-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.http_port = harness.free_port()
        self.ini = os.path.join(self.dir, "gateway.ini")
        self.log_path = os.path.join(self.dir, "log")
        # nothing listens on port 1: reflection waits 10 s; [host] listen
        # only names rpcrestd's lock file (no host runs), one of this test's own
        with open(self.ini, "w") as f:
            f.write("[supervisor]\nstop_timeout = 5\n\n[host]\nlisten = 127.0.0.1:%d\n\n"
                    "[gateway]\nlisten = 127.0.0.1:%d\nupstream = 127.0.0.1:1\ntimeout = 10\n"
                    % (harness.free_port(), self.http_port))

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def popen(self, *argv):
        with open(self.log_path, "ab") as log:
            proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        return proc

    def test_sigterm_while_waiting_for_reflection(self):
        for delay in (0.1, 1.0):
            with self.subTest(delay=delay):
                gw = self.popen(GATEWAY_BIN, "-c", self.ini)
                time.sleep(delay)
                self.assertIsNone(gw.poll(), self.log())
                t0 = time.monotonic()
                gw.send_signal(signal.SIGTERM)
                try:
                    status = gw.wait(5)
                except subprocess.TimeoutExpired:
                    status = None
                took = time.monotonic() - t0
                self.assertEqual(status, 0, self.log())
                self.assertLess(took, 0.5, self.log())
                self.assertIn("Terminated: stopping", self.log())

    def test_rpcrestctl_stop_of_a_gateway_still_starting(self):
        """Under rpcrestd (the gateway alone): `rpcrestctl stop gateway`
        and rpcrestd's own stop end it with its SIGTERM, never SIGKILL."""
        sup = self.popen(os.path.join(harness.BUILD, "rpcrestd"), "-c", self.ini)
        self.addCleanup(lambda: sup.poll() is None and sup.send_signal(signal.SIGTERM))

        def gateway_pid():
            return harness.children_of(sup.pid).get("rpcrest-gateway")

        first = harness.wait_until(gateway_pid, 5)
        self.assertTrue(first, self.log())
        time.sleep(0.5)
        t0 = time.monotonic()
        stop = subprocess.run([os.path.join(harness.BUILD, "rpcrestctl"), "-c", self.ini, "stop",
                               "gateway"], capture_output=True, text=True, timeout=15,
                              stdin=subprocess.DEVNULL)
        self.assertEqual(stop.returncode, 0, stop)
        self.assertTrue(harness.wait_until(lambda: not harness.pid_alive(first), 5), self.log())
        self.assertLess(time.monotonic() - t0, 1.0, self.log())
        start = subprocess.run([os.path.join(harness.BUILD, "rpcrestctl"), "-c", self.ini,
                                "start", "gateway"], capture_output=True, text=True, timeout=15,
                               stdin=subprocess.DEVNULL)
        self.assertEqual(start.returncode, 0, start)
        second = harness.wait_until(gateway_pid, 5)
        self.assertTrue(second, self.log())
        time.sleep(0.5)
        t0 = time.monotonic()
        sup.send_signal(signal.SIGTERM)
        self.assertEqual(sup.wait(10), 0, self.log())
        self.assertLess(time.monotonic() - t0, 1.5, self.log())
        self.assertFalse(harness.pid_alive(second))
        log = self.log()
        self.assertNotIn("SIGKILL", log)
        self.assertRegex(log, r"rpcrest-gateway pid %d exited with status 0" % first)
        self.assertRegex(log, r"rpcrest-gateway pid %d exited with status 0" % second)


if __name__ == "__main__":
    unittest.main()
