"""Observability: the gateway's GET /metrics and the host's [host]
metrics_listen (parsed with prometheus_client's text parser; counters move
as requests are made, histograms are well-formed), rpcrestctl metrics and
rpcrestd's event lines, the access log (text and JSON, to a file and to
stderr, reopened on SIGUSR1), and request ids (kept, generated, replaced
when invalid, seen by a plugin, returned on errors and streams).
"""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from harness import BUILD, Rpcrest, free_port, pid_alive, wait_until

RPCRESTCTL = os.path.join(BUILD, "rpcrestctl")
ECHO = "/example.MyService/Echo"
TK = "/rpcrest.testkit.TestKit/"
HEX32 = re.compile(r"^[0-9a-f]{32}$")
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def parse(text):
    """{family name: Metric} from the exposition text (the real parser)."""
    return {f.name: f for f in text_string_to_metric_families(text)}


def sample(families, family, name=None, **labels):
    """The value of the sample `name` (default: the family's) with exactly
    these labels, or None."""
    fam = families.get(family)
    if not fam:
        return None
    for s in fam.samples:
        if s.name == (name or family) and s.labels == labels:
            return s.value
    return None


def check_histograms(test, families):
    """Every histogram: le ascending and ending in +Inf, cumulative counts,
    _count equal to the +Inf bucket, a _sum."""
    seen = 0
    for fam in families.values():
        if fam.type != "histogram":
            continue
        series = {}
        for s in fam.samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            series.setdefault(key, []).append(s)
        for key, samples in series.items():
            buckets = [s for s in samples if s.name.endswith("_bucket")]
            les = [float(s.labels["le"]) for s in buckets]
            test.assertEqual(les, sorted(les), fam.name)
            test.assertEqual(les[-1], float("inf"), fam.name)
            counts = [s.value for s in buckets]
            test.assertEqual(counts, sorted(counts), "%s %s not cumulative" % (fam.name, key))
            count = [s.value for s in samples if s.name.endswith("_count")]
            total = [s.value for s in samples if s.name.endswith("_sum")]
            test.assertEqual(count, [counts[-1]], fam.name)
            test.assertEqual(len(total), 1, fam.name)
            test.assertGreaterEqual(total[0], 0)
            seen += 1
    return seen


class GatewayMetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.r = Rpcrest(services=("echo", "testkit")).start()

    @classmethod
    def tearDownClass(cls):
        cls.r.cleanup()

    def scrape(self):
        status, headers, body = self.r.http("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        return parse(body.decode())

    def settled(self):
        """A scrape that is the one request in flight: the gateway counts
        a request when libmicrohttpd says it is complete, a moment after
        the client has its answer (start()'s own echo among them), so a
        scrape right after one may still see it in flight, uncounted."""
        got = []
        self.assertTrue(wait_until(
            lambda: got.append(self.scrape()) or
            sample(got[-1], "rpcrest_gateway_requests_in_flight") == 1, 5),
            "in flight: %s" % sample(got[-1], "rpcrest_gateway_requests_in_flight"))
        return got[-1]

    def test_requests_counted_by_method_code_and_grpc_code(self):
        before = self.settled()
        ok = dict(method=ECHO, code="200", grpc_code="OK")
        nf = dict(method="none", code="404", grpc_code="NOT_FOUND")
        fail = dict(method=TK + "Fail", code="400", grpc_code="FAILED_PRECONDITION")
        console = dict(method="console", code="200", grpc_code="none")
        self.assertEqual(self.r.http("GET", "/openapi.json")[0], 200)
        for _ in range(3):
            self.assertEqual(self.r.http("POST", "/v1/example/echo", b'{"value":"x"}')[0], 200)
        self.assertEqual(self.r.http("GET", "/no/such/path")[0], 404)
        self.assertEqual(self.r.http_json("POST", "/v1/testkit/fail",
                                          {"code": 9, "message": "no"})[0], 400)
        after = self.settled()
        name = "rpcrest_gateway_requests"  # the parser drops the _total suffix
        for labels, n in ((ok, 3), (nf, 1), (fail, 1), (console, 1)):
            was = sample(before, name, "rpcrest_gateway_requests_total", **labels) or 0
            now = sample(after, name, "rpcrest_gateway_requests_total", **labels)
            self.assertEqual(now, was + n, labels)
        self.assertEqual(after[name].type, "counter")
        hist = "rpcrest_gateway_request_duration_seconds"
        self.assertEqual(after[hist].type, "histogram")
        was = sample(before, hist, hist + "_count", method=ECHO) or 0
        self.assertEqual(sample(after, hist, hist + "_count", method=ECHO), was + 3)
        self.assertGreater(sample(after, hist, hist + "_sum", method=ECHO), 0)
        self.assertGreater(check_histograms(self, after), 3)

    def test_gauges_and_process(self):
        m = self.settled()  # the scrape itself is the one request in flight
        self.assertEqual(sample(m, "rpcrest_gateway_upstream_ready"), 1)
        state = "rpcrest_gateway_upstream_state"
        self.assertEqual(sample(m, state, state="ready"), 1)
        for other in ("idle", "connecting", "transient_failure", "shutdown"):
            self.assertEqual(sample(m, state, state=other), 0)
        reloads = "rpcrest_gateway_schema_reloads"
        self.assertGreaterEqual(sample(m, reloads, reloads + "_total", result="ok"), 1)
        self.assertEqual(sample(m, reloads, reloads + "_total", result="error"), 0)
        self.assertGreater(sample(m, "rpcrest_gateway_routes"), 5)
        self.assertGreater(sample(m, "process_resident_memory_bytes"), 1 << 20)
        self.assertGreater(sample(m, "process_open_fds"), 3)
        self.assertGreater(sample(m, "process_start_time_seconds"), 1.6e9)

    def test_streams_and_health_are_counted(self):
        before = self.settled()
        status, _, body = self.r.http("GET", "/v1/testkit/stream?count=3&size=4")
        self.assertEqual(status, 200)
        self.assertEqual(len(body.splitlines()), 3)
        self.assertEqual(self.r.http("GET", "/healthz")[0], 200)
        after = self.settled()
        for labels in (dict(method=TK + "Stream", code="200", grpc_code="OK"),
                       dict(method="healthz", code="200", grpc_code="OK")):
            was = sample(before, "rpcrest_gateway_requests", "rpcrest_gateway_requests_total",
                         **labels) or 0
            self.assertEqual(sample(after, "rpcrest_gateway_requests",
                                    "rpcrest_gateway_requests_total", **labels), was + 1, labels)

    def test_metrics_is_get_only(self):
        status, headers, _ = self.r.http("POST", "/metrics", b"{}")
        self.assertEqual(status, 405)
        self.assertEqual(self.r.http("HEAD", "/metrics")[0], 200)


class MetricsOffTest(unittest.TestCase):
    def test_metrics_off_is_not_served(self):
        with Rpcrest(gateway={"metrics": "off"}) as r:
            status, _, body = r.http("GET", "/metrics")
            self.assertEqual(status, 404)
            self.assertEqual(json.loads(body)["code"], 5)


class HostMetricsTest(unittest.TestCase):
    def test_host_metrics_listen(self):
        port = free_port()
        with Rpcrest(services=("echo", "testkit"),
                     host={"metrics_listen": "127.0.0.1:%d" % port}) as r:
            url = "http://127.0.0.1:%d/metrics" % port

            def scrape():
                with urllib.request.urlopen(url, timeout=5) as resp:
                    self.assertEqual(resp.headers["Content-Type"],
                                     "text/plain; version=0.0.4; charset=utf-8")
                    return parse(resp.read().decode())

            def settled():
                """A scrape with no call in flight: the host counts a call
                when it has freed it, a moment after the client has its
                answer (start()'s own echo among them)."""
                got = []
                self.assertTrue(wait_until(
                    lambda: got.append(scrape()) or
                    sample(got[-1], "rpcrest_host_calls_in_flight") == 0, 5))
                return got[-1]
            before = settled()
            # testkit's Echo, which no readiness probe calls: a probe that
            # gave up early may still reach example's Echo after `before`
            for _ in range(4):
                self.assertEqual(r.http("POST", "/v1/testkit/echo",
                                        b'{"string_value":"x"}')[0], 200)
            r.http_json("POST", "/v1/testkit/fail", {"code": 5, "message": "gone"})
            after = settled()
            calls = "rpcrest_host_calls"
            for labels, n in ((dict(method=TK + "Echo", grpc_code="OK"), 4),
                              (dict(method=TK + "Fail", grpc_code="NOT_FOUND"), 1)):
                was = sample(before, calls, calls + "_total", **labels) or 0
                self.assertEqual(sample(after, calls, calls + "_total", **labels), was + n)
            hist = "rpcrest_host_call_duration_seconds"
            was = sample(before, hist, hist + "_count", method=TK + "Echo") or 0
            self.assertEqual(sample(after, hist, hist + "_count", method=TK + "Echo"), was + 4)
            self.assertGreater(check_histograms(self, after), 5)
            self.assertEqual(sample(after, "rpcrest_host_calls_in_flight"), 0)
            self.assertEqual(sample(after, "rpcrest_host_plugins_loaded"), 2)
            self.assertGreater(sample(after, "process_resident_memory_bytes"), 1 << 20)
            # anything but GET /metrics
            with self.assertRaises(urllib.error.HTTPError) as cm:
                urllib.request.urlopen("http://127.0.0.1:%d/other" % port, timeout=5)
            self.assertEqual(cm.exception.code, 404)

    def test_slow_clients_neither_block_scrapes_nor_stop(self):
        """A client that sends nothing, or a byte now and then, is dropped
        after the endpoint's 2 s per connection; one connected while the
        host stops does not delay its exit."""
        port = free_port()
        r = Rpcrest(host={"metrics_listen": "127.0.0.1:%d" % port})
        self.addCleanup(r.cleanup)
        r.start()
        url = "http://127.0.0.1:%d/metrics" % port
        stop = threading.Event()
        self.addCleanup(stop.set)

        def trickle():
            """Connects and sends a request one byte at a time, forever."""
            while not stop.is_set():
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                        for b in b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 8000:
                            if stop.wait(0.2):
                                return
                            c.sendall(bytes([b]))
                except OSError:
                    pass
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
        self.addCleanup(lambda: [s.close() for s in silent])
        threading.Thread(target=trickle, daemon=True).start()
        time.sleep(0.3)
        for _ in range(2):  # served beside the silent ones, not after them (2 s each)
            started = time.monotonic()
            with urllib.request.urlopen(url, timeout=10) as resp:
                self.assertIn("rpcrest_host_calls_in_flight", resp.read().decode())
            self.assertLess(time.monotonic() - started, 1)

        # HEAD: GET's head (Content-Length too), no body
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            c.sendall(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            raw = b""
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                raw += chunk
        head, _, body = raw.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), raw)
        self.assertEqual(body, b"")
        length = int(re.search(rb"\r\ncontent-length: *(\d+)", head, re.I).group(1))
        with urllib.request.urlopen(url, timeout=10) as resp:
            self.assertAlmostEqual(length, len(resp.read()), delta=1000)

        host = r.children()["rpcrest-host"]
        late = socket.create_connection(("127.0.0.1", port))
        self.addCleanup(late.close)
        time.sleep(0.1)
        started = time.monotonic()
        os.kill(host, signal.SIGTERM)
        self.assertTrue(wait_until(lambda: not pid_alive(host), 10), r.log())
        self.assertLess(time.monotonic() - started, 1.5, r.log())

    def test_hand_over_binds_metrics_listen_again(self):
        """During a hand-over both hosts hold metrics_listen (SO_REUSEPORT);
        the new one serves it once the old one has gone."""
        port = free_port()
        r = Rpcrest(host={"metrics_listen": "127.0.0.1:%d" % port})
        self.addCleanup(r.cleanup)
        r.start()
        old = r.children()["rpcrest-host"]
        with open(r.ini) as f:
            text = f.read()
        with open(r.ini, "w") as f:
            f.write(text.replace("threads = 2", "threads = 1", 1))
        r.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: r.children().get("rpcrest-host", old) != old, 10),
                        r.log())
        new = r.children()["rpcrest-host"]
        self.assertTrue(wait_until(lambda: not pid_alive(old), 15), r.log())
        self.assertTrue(pid_alive(new), r.log())
        self.assertRegex(r.log(), r"rpcrest-host\[%d\]: metrics on http://127\.0\.0\.1:%d/metrics"
                         % (new, port))
        self.assertNotIn("Address already in use", r.log())
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as resp:
            self.assertIn("rpcrest_host_plugins_loaded 1", resp.read().decode())

    def test_metrics_listen_in_use_fails_the_host(self):
        """rpcrestd refuses it before it starts a host (exit 78); the host
        alone says the bind failed."""
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = Rpcrest(host={"metrics_listen": "127.0.0.1:%d" % port})
        try:
            r.start(wait=False)
            self.assertEqual(r.proc.wait(10), 78, r.log())
            self.assertRegex(r.log(), r"rpcrestd: %s:\d+: \[host\] metrics_listen: "
                             r"127\.0\.0\.1:%d is in use by another process"
                             % (re.escape(os.path.realpath(r.ini)), port))
            host = subprocess.run([os.path.join(BUILD, "rpcrest-host"), "-c", r.ini],
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=10)
            self.assertNotEqual(host.returncode, 0, host)
            self.assertRegex(host.stderr, r"metrics_listen 127\.0\.0\.1:%d: Address already in "
                             r"use" % port)
        finally:
            r.cleanup()
            s.close()


class RequestIdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.r = Rpcrest(services=("echo", "testkit")).start()

    @classmethod
    def tearDownClass(cls):
        cls.r.cleanup()

    def metadata_call(self, headers=None):
        status, hdrs, body = self.r.http("POST", "/v1/testkit/metadata", b"{}",
                                         headers=headers or {})
        self.assertEqual(status, 200, body)
        reply = json.loads(body)
        md = [e["text"] for e in reply["metadata"] if e["key"] == "x-request-id"]
        return hdrs, reply, md

    def test_incoming_id_is_kept_and_seen_by_the_plugin(self):
        hdrs, reply, md = self.metadata_call({"X-Request-Id": "req-42.abc_DEF:1/2"})
        self.assertEqual(hdrs["x-request-id"], "req-42.abc_DEF:1/2")
        self.assertEqual(md, ["req-42.abc_DEF:1/2"])  # exactly one, upstream
        self.assertEqual(reply["requestId"], "req-42.abc_DEF:1/2")  # rpcrest_call_request_id

    def test_generated_when_absent(self):
        ids = set()
        for _ in range(3):
            hdrs, reply, md = self.metadata_call()
            self.assertRegex(hdrs["x-request-id"], HEX32)
            self.assertEqual(md, [hdrs["x-request-id"]])
            self.assertEqual(reply["requestId"], hdrs["x-request-id"])
            ids.add(hdrs["x-request-id"])
        self.assertEqual(len(ids), 3)

    def test_invalid_incoming_id_is_replaced(self):
        for bad in ("x" * 129, "has space", 'quo"te', "back\\slash"):
            hdrs, reply, md = self.metadata_call({"X-Request-Id": bad})
            self.assertRegex(hdrs["x-request-id"], HEX32, bad)
            self.assertEqual(reply["requestId"], hdrs["x-request-id"])
        hdrs, _, _ = self.metadata_call({"X-Request-Id": "y" * 128})
        self.assertEqual(hdrs["x-request-id"], "y" * 128)
        # the spaces and tabs after a value are not part of it (RFC 9110 5.5)
        hdrs, reply, md = self.metadata_call({"X-Request-Id": "abc \t "})
        self.assertEqual((hdrs["x-request-id"], md, reply["requestId"]), ("abc", ["abc"], "abc"))

    def test_metadata_header_gives_the_id_when_there_is_no_other(self):
        # grpc-gateway clients send metadata as Grpc-Metadata-*: taken as the id
        hdrs, reply, md = self.metadata_call({"Grpc-Metadata-X-Request-Id": "gm-1"})
        self.assertEqual((hdrs["x-request-id"], md, reply["requestId"]), ("gm-1", ["gm-1"], "gm-1"))
        # X-Request-Id wins, and there is never a second x-request-id upstream
        hdrs, reply, md = self.metadata_call({"X-Request-Id": "mine",
                                              "Grpc-Metadata-X-Request-Id": "other"})
        self.assertEqual((hdrs["x-request-id"], md), ("mine", ["mine"]))
        hdrs, reply, md = self.metadata_call({"X-Request-Id": "bad id",
                                              "Grpc-Metadata-X-Request-Id": "other"})
        self.assertEqual((hdrs["x-request-id"], md), ("other", ["other"]))
        hdrs, reply, md = self.metadata_call({"Grpc-Metadata-X-Request-Id": "bad id"})
        self.assertRegex(hdrs["x-request-id"], HEX32)
        self.assertEqual(md, [hdrs["x-request-id"]])

    def test_returned_on_errors_and_streams(self):
        for method, path, body in (("GET", "/no/such/path", None),
                                   ("DELETE", "/v1/example/echo", None),
                                   ("POST", "/v1/example/echo", b"{bad json"),
                                   ("POST", "/v1/testkit/fail", b'{"code":7}'),
                                   ("GET", "/v1/testkit/stream?count=2", None),
                                   ("GET", "/healthz", None),
                                   ("GET", "/metrics", None),
                                   ("GET", "/openapi.json", None),
                                   ("GET", "/docs/", None)):
            status, hdrs, _ = self.r.http(method, path, body, headers={"X-Request-Id": "e-1"})
            self.assertEqual(hdrs.get("x-request-id"), "e-1", (method, path, status))


class AccessLogTest(unittest.TestCase):
    def requests(self, r):
        r.http("POST", "/v1/example/echo", b'{"value":"hello"}', headers={"X-Request-Id": "al-1"})
        r.http("GET", '/no/such"path%20x?q=1', headers={"X-Request-Id": "al-2"})
        r.http("GET", "/v1/testkit/stream?count=3&size=5", headers={"X-Request-Id": "al-3"})
        r.http_json("POST", "/v1/testkit/fail", {"code": 5}, headers={"X-Request-Id": "al-4"})
        r.http("GET", "/openapi.json", headers={"X-Request-Id": "al-6"})

    def wait_lines(self, read, n):
        self.assertTrue(wait_until(lambda: len(read()) >= n, 5), read())
        return read()

    def test_text_to_a_file(self):
        with Rpcrest(services=("echo", "testkit"),
                     gateway={"access_log": "access.log"}) as r:
            path = os.path.join(r.dir, "access.log")

            def read():
                try:
                    with open(path) as f:
                        return [l for l in f.read().splitlines() if "request_id=al-" in l]
                except FileNotFoundError:
                    return []
            self.requests(r)
            # a client that leaves while its call runs: 499, and no body sent
            body = b'{"duration":"3s"}'
            with socket.create_connection(("127.0.0.1", r.http_port)) as s:
                s.sendall(b"POST /v1/testkit/sleep HTTP/1.1\r\nHost: x\r\nX-Request-Id: al-7\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                time.sleep(0.3)
            lines = self.wait_lines(read, 6)
            pattern = re.compile(r'^(%s) client=(\S+) method=(\S+) path="((?:[^"\\]|\\.)*)" '
                                 r'grpc_method=(\S+) status=(\d+) grpc_status=(\S+) '
                                 r'bytes_in=(\d+) bytes_out=(\d+) duration_us=(\d+) '
                                 r'request_id=(\S+)$' % STAMP)
            parsed = {}
            for line in lines:
                m = pattern.match(line)
                self.assertIsNotNone(m, line)
                parsed[m.group(11)] = m.groups()
            t, client, method, p, gm, st, gs, bi, bo, dur, rid = parsed["al-1"]
            self.assertEqual((client, method, p, gm, st, gs, bi), (
                "127.0.0.1", "POST", "/v1/example/echo", ECHO, "200", "OK", "17"))
            self.assertEqual(int(bo), len(b'{"value":"hello"}'))
            self.assertGreater(int(dur), 0)
            _, _, method, p, gm, st, gs, _, _, _, _ = parsed["al-2"]
            self.assertEqual((method, p, gm, st, gs),
                             ("GET", '/no/such\\"path%20x', "-", "404", "NOT_FOUND"))
            _, _, _, p, gm, st, gs, _, bo, _, _ = parsed["al-3"]
            self.assertEqual((p, gm, st, gs), ("/v1/testkit/stream",
                                               TK + "Stream", "200", "OK"))
            self.assertGreater(int(bo), 3 * 5)  # the whole stream, logged at its end
            _, _, _, _, gm, st, gs, _, _, _, _ = parsed["al-4"]
            self.assertEqual((gm, st, gs), (TK + "Fail", "404", "NOT_FOUND"))
            _, _, method, p, gm, st, gs, _, bo, _, _ = parsed["al-6"]
            self.assertEqual((method, p, gm, st, gs), ("GET", "/openapi.json", "-", "200", "-"))
            self.assertGreater(int(bo), 1000)  # the document
            _, _, _, _, gm, st, gs, _, bo, _, _ = parsed["al-7"]
            self.assertEqual((gm, st, gs, bo), (TK + "Sleep", "499", "CANCELLED", "0"))
            # HEAD: the headers alone go out (bytes_out was the 33 of GET's body)
            self.assertEqual(r.http("HEAD", "/healthz", headers={"X-Request-Id": "al-8"})[0],
                             200)
            self.assertTrue(wait_until(lambda: any("request_id=al-8" in l for l in read()), 5))
            line = [l for l in read() if "request_id=al-8" in l][0]
            self.assertIn(" method=HEAD ", line)
            self.assertIn(" bytes_out=0 ", line)
            # a method too long to keep whole is cut, and says so
            self.assertEqual(r.http("PROPFINDEVERYTHINGNOW", "/v1/example/echo",
                                    headers={"X-Request-Id": "al-9"})[0], 405)
            self.assertTrue(wait_until(lambda: any("request_id=al-9" in l for l in read()), 5))
            line = [l for l in read() if "request_id=al-9" in l][0]
            self.assertIn(" method=PROPFINDEVER... ", line)

            # logrotate: rename, SIGUSR1 to the gateway, the next line lands in a new file
            os.rename(path, path + ".1")
            gw = r.children()["rpcrest-gateway"]
            os.kill(gw, signal.SIGUSR1)
            self.assertTrue(wait_until(lambda: os.path.exists(path), 5))
            r.http("POST", "/v1/example/echo", b'{"value":"after"}',
                   headers={"X-Request-Id": "al-5"})
            lines = self.wait_lines(read, 1)
            self.assertIn("request_id=al-5", lines[0])
            self.assertEqual(r.children()["rpcrest-gateway"], gw)  # SIGUSR1 did not kill it

            # the same through rpcrestd, which passes SIGUSR1 on to the gateway
            # (and one signal to every process of the unit ends none of them)
            os.rename(path, path + ".2")
            host = r.children()["rpcrest-host"]
            os.kill(host, signal.SIGUSR1)
            r.proc.send_signal(signal.SIGUSR1)
            self.assertTrue(wait_until(lambda: os.path.exists(path), 5), r.log())
            r.http("POST", "/v1/example/echo", b'{"value":"again"}',
                   headers={"X-Request-Id": "al-8"})
            self.assertIn("request_id=al-8", self.wait_lines(read, 1)[0])
            self.assertEqual((r.children()["rpcrest-host"], r.children()["rpcrest-gateway"]),
                             (host, gw))
            self.assertIn("received SIGUSR1; passed on to rpcrest-gateway pid %d" % gw, r.log())

    def test_json_to_stderr(self):
        with Rpcrest(services=("echo", "testkit"),
                     gateway={"access_log": "stderr", "access_log_format": "json"}) as r:
            def read():
                out = []
                for line in r.log().splitlines():
                    m = re.match(r"^%s rpcrest-gateway\[\d+\]: (\{.*\})$" % STAMP, line)
                    if m and '"request_id":"al-' in m.group(1):
                        out.append(json.loads(m.group(1)))
                return out
            self.requests(r)
            entries = {e["request_id"]: e for e in self.wait_lines(read, 4)}
            e = entries["al-1"]
            self.assertRegex(e["time"], "^%s$" % STAMP)
            self.assertEqual(e["client"], "127.0.0.1")
            self.assertEqual((e["method"], e["path"], e["grpc_method"]),
                             ("POST", "/v1/example/echo", ECHO))
            self.assertEqual((e["status"], e["grpc_status"], e["grpc_code"]), (200, "OK", 0))
            self.assertEqual((e["bytes_in"], e["bytes_out"]), (17, 17))
            self.assertGreater(e["duration_us"], 0)
            e = entries["al-2"]
            self.assertEqual((e["path"], e["grpc_method"], e["status"], e["grpc_code"]),
                             ('/no/such"path%20x', None, 404, 5))
            self.assertEqual(entries["al-3"]["grpc_method"], TK + "Stream")
            self.assertEqual(entries["al-4"]["status"], 404)

    def test_json_gives_back_a_utf8_path(self):
        """A path sent in raw UTF-8 is read back as sent by any JSON reader;
        bytes that are not UTF-8 become U+FFFD, escaped in the line."""
        with Rpcrest(gateway={"access_log": "access.log", "access_log_format": "json"}) as r:
            path = os.path.join(r.dir, "access.log")

            def read():
                try:
                    with open(path, "rb") as f:
                        return [l for l in f.read().splitlines() if b'"request_id":"u8-' in l]
                except FileNotFoundError:
                    return []
            for rid, raw in (("u8-1", b"/v1/files/caf\xc3\xa9/\xe4\xb8\x96/\xf0\x9f\x98\x80"),
                             ("u8-2", b"/v1/files/\xff\xc3(")):
                with socket.create_connection(("127.0.0.1", r.http_port)) as s:
                    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nX-Request-Id: %s\r\n"
                              b"Connection: close\r\n\r\n" % (raw, rid.encode()))
                    self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 404 "))
            lines = {json.loads(l)["request_id"]: l for l in self.wait_lines(read, 2)}
            self.assertEqual(json.loads(lines["u8-1"])["path"], "/v1/files/café/世/😀")
            self.assertIn(b'"path":"/v1/files/caf\xc3\xa9/', lines["u8-1"])  # as sent
            self.assertEqual(json.loads(lines["u8-2"])["path"], "/v1/files/\ufffd\ufffd(")
            self.assertIn(b'"path":"/v1/files/\\ufffd\\ufffd("', lines["u8-2"])

    def test_unwritable_access_log_stops_the_gateway(self):
        r = Rpcrest(gateway={"access_log": "/nonexistent-dir/access.log"})
        try:
            r.start(wait=False)
            self.assertTrue(wait_until(lambda: re.search(
                r"rpcrest-gateway\[\d+\]: %s:\d+: \[gateway\] access_log "
                r"/nonexistent-dir/access.log: No such file or directory"
                % re.escape(os.path.realpath(r.ini)), r.log()), 10), r.log())
        finally:
            r.cleanup()


class SupervisorMetricsTest(unittest.TestCase):
    def ctl(self, r, *args):
        return subprocess.run([RPCRESTCTL, "-c", r.ini] + list(args), capture_output=True,
                              text=True, timeout=15, stdin=subprocess.DEVNULL)

    def metrics(self, r):
        out = self.ctl(r, "metrics")
        self.assertEqual(out.returncode, 0, out)
        return parse(out.stdout)

    def test_restart_counted_after_kill_and_events_logged(self):
        with Rpcrest() as r:
            m = self.metrics(r)
            host, gw = "rpcrest-host", "rpcrest-gateway"
            restarts = "rpcrest_supervisor_restarts"
            self.assertEqual(sample(m, restarts, restarts + "_total", child=host), 0)
            self.assertEqual(sample(m, "rpcrest_supervisor_child_up", child=host), 1)
            starts = "rpcrest_supervisor_starts"
            self.assertEqual(sample(m, starts, starts + "_total", child=gw), 1)
            pid = r.children()[host]
            os.kill(pid, signal.SIGKILL)
            self.assertTrue(wait_until(lambda: sample(self.metrics(r), restarts,
                                                      restarts + "_total", child=host) == 1, 10))
            self.assertTrue(wait_until(lambda: sample(self.metrics(r),
                                                      "rpcrest_supervisor_child_up",
                                                      child=host) == 1, 10))
            m = self.metrics(r)
            exits = "rpcrest_supervisor_child_exits"
            self.assertEqual(sample(m, exits, exits + "_total", child=host, outcome="signal"), 1)
            self.assertEqual(sample(m, exits, exits + "_total", child=host, outcome="ok"), 0)
            self.assertEqual(sample(m, restarts, restarts + "_total", child=gw), 0)
            state = "rpcrest_supervisor_child_state"
            self.assertEqual(sample(m, state, child=host, state="RUNNING"), 1)
            self.assertEqual(sample(m, state, child=host, state="FATAL"), 0)
            self.assertGreater(sample(m, "rpcrest_supervisor_process_resident_memory_bytes"), 0)
            self.assertNotIn("process_resident_memory_bytes", m)  # node_exporter's own name
            log = r.log()
            self.assertRegex(log, r"%s rpcrestd: event=exit child=rpcrest-host pid=%d "
                                  r"signal=SIGKILL uptime_ms=\d+ ready=1 expected=0\n"
                             % (STAMP, pid))
            self.assertRegex(log, r"rpcrestd: event=restart child=rpcrest-host delay_ms=\d+ "
                                  r"failures=1 reason=exit\n")
            self.assertRegex(log, r"rpcrestd: event=start child=rpcrest-host pid=%d\n"
                             % r.children()[host])
            self.assertRegex(log, r"rpcrestd: event=ready child=rpcrest-host pid=\d+ "
                                  r"after_ms=\d+\n")

            # reloads: applied and refused, counted and logged
            reloads = "rpcrest_supervisor_reloads"
            self.assertEqual(self.ctl(r, "reload").returncode, 0)
            with open(r.ini, "a") as f:
                f.write("\n[nonsense]\n")
            self.assertEqual(self.ctl(r, "reload").returncode, 1)
            m = self.metrics(r)
            self.assertEqual(sample(m, reloads, reloads + "_total", result="ok"), 1)
            self.assertEqual(sample(m, reloads, reloads + "_total", result="refused"), 1)
            log = r.log()
            self.assertIn("rpcrestd: event=reload result=ok changed=none\n", log)
            self.assertRegex(log, r"rpcrestd: event=reload result=refused error=\"[^\"]*"
                                  r"unknown section \[nonsense\][^\"]*\"\n")

    def test_metrics_takes_no_arguments(self):
        with Rpcrest() as r:
            for args in (["metrics", "extra"], ["metrics", "--json"]):
                out = self.ctl(r, *args)
                self.assertEqual(out.returncode, 64, out)
                self.assertIn("usage: rpcrestctl", out.stderr)
            self.assertIn("  metrics  ", subprocess.run([RPCRESTCTL, "-h"], capture_output=True,
                                                        text=True, timeout=5).stdout)

    def test_fatal_counted(self):
        with Rpcrest(gateway={"start_retries": "2", "backoff_initial": "0.05",
                              "backoff_max": "0.05"}) as r:
            gw = r.children()["rpcrest-gateway"]
            fatal = "rpcrest_supervisor_fatal"
            # two failures in a row, each within start_seconds of its start: FATAL
            os.kill(gw, signal.SIGKILL)
            self.assertTrue(wait_until(lambda: r.children().get("rpcrest-gateway") not in
                                       (None, gw), 10))
            os.kill(r.children()["rpcrest-gateway"], signal.SIGKILL)
            self.assertTrue(wait_until(lambda: sample(self.metrics(r), fatal, fatal + "_total",
                                                      child="rpcrest-gateway") == 1, 10),
                            r.log())
            m = self.metrics(r)
            self.assertEqual(sample(m, "rpcrest_supervisor_child_state", child="rpcrest-gateway",
                                    state="FATAL"), 1)
            self.assertRegex(r.log(), r"rpcrestd: event=fatal child=rpcrest-gateway failures=2 "
                                      r"start_retries=2\n")


if __name__ == "__main__":
    unittest.main()
