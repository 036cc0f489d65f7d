"""rpcrest-host and rpcrest-gateway under valgrind memcheck, through a
workload that touches every path a request can take: echo, every field type,
metadata both ways, errors with details, deadlines, async completion, server
streams (NDJSON and SSE, ended by the server, by an error and by a client
that leaves), health, reflection (the gateway discovers its API with it;
clients list services), unknown methods and routes, and the hostile inputs
of test_hostile.py on both ports.  Then SIGTERM to each, and for each
process: valgrind's ERROR SUMMARY must be 0 -- no invalid read or write, no
use of uninitialised memory, no definitely or indirectly lost block -- and
its exit status must not be the one that flags errors.

Run by `make memcheck` (RPCREST_MEMCHECK=1); skipped by `make test`, and in
a sanitizer build.  Both programs are started here, not by rpcrestd, so that
valgrind wraps them.  Suppressions: tests/valgrind.supp (third-party,
process-global allocations only).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import grpc

import h2raw
import harness

SUPPRESSIONS = os.path.join(harness.ROOT, "tests", "valgrind.supp")
ERROR_EXIT = 99
START_TIMEOUT = 180  # seconds: gRPC starts slowly under valgrind


def valgrind_cmd(log_path):
    return ["valgrind", "--tool=memcheck", "--leak-check=full",
            "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite,indirect",
            "--error-exitcode=%d" % ERROR_EXIT, "--num-callers=40",
            "--suppressions=" + SUPPRESSIONS, "--log-file=" + log_path]


@unittest.skipUnless(os.environ.get("RPCREST_MEMCHECK") == "1",
                     "run by make memcheck (RPCREST_MEMCHECK=1)")
@unittest.skipIf(harness.SANITIZED, "an ASan build cannot run under valgrind")
@unittest.skipUnless(shutil.which("valgrind"), "valgrind is not installed")
class Memcheck(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rpcrest-memcheck-")
        self.host_port = harness.free_port()
        self.http_port = harness.free_port()
        while self.http_port == self.host_port:
            self.http_port = harness.free_port()
        self.ini = os.path.join(self.dir, "rpcrest.ini")
        lines = ["[host]", "listen = 127.0.0.1:%d" % self.host_port, "threads = 2",
                 "max_message_bytes = 65536", "",
                 "[gateway]", "listen = 127.0.0.1:%d" % self.http_port, "threads = 2",
                 "timeout = 20", "max_body_bytes = 262144", "connection_timeout = 5",
                 "max_connections = 64", ""]
        for svc in ("echo", "testkit"):  # no descriptors: the gateway asks reflection
            lines += ["[service.%s]" % svc,
                      "plugin = %s/services/%s.so" % (harness.BUILD, svc), ""]
        with open(self.ini, "w") as f:
            f.write("\n".join(lines))
        self.procs = {}
        self.logs = {}

    def tearDown(self):
        for name, proc in self.procs.items():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if not getattr(self, "keep", False):
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- processes -------------------------------------------------------
    def start(self, name):
        vg_log = os.path.join(self.dir, "vg-%s.log" % name)
        out = open(os.path.join(self.dir, "%s.log" % name), "ab")
        self.procs[name] = subprocess.Popen(
            valgrind_cmd(vg_log) + [os.path.join(harness.BUILD, name), "-c", self.ini],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.logs[name] = vg_log

    def program_log(self, name):
        try:
            with open(os.path.join(self.dir, "%s.log" % name), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, name, timeout=120):
        proc = self.procs[name]
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.fail("%s did not stop within %ss of SIGTERM under valgrind; log:\n%s"
                      % (name, timeout, self.program_log(name)))

    def check_report(self, name, status):
        with open(self.logs[name]) as f:
            report = f.read()
        print("%s: %s" % (name, " / ".join(
            l.split("== ", 1)[-1].strip() for l in report.splitlines()
            if re.search(r"(lost|reachable|suppressed|ERROR SUMMARY):", l))), flush=True)
        summary = re.findall(r"ERROR SUMMARY: (\d+) errors", report)
        self.assertTrue(summary, "%s: no valgrind summary:\n%s" % (name, report[-3000:]))
        lost = re.search(r"definitely lost: ([\d,]+) bytes", report)
        indirect = re.search(r"indirectly lost: ([\d,]+) bytes", report)
        problems = []
        if int(summary[-1]) != 0:
            problems.append("%s errors" % summary[-1])
        if lost and lost.group(1) != "0":
            problems.append("definitely lost %s bytes" % lost.group(1))
        if indirect and indirect.group(1) != "0":
            problems.append("indirectly lost %s bytes" % indirect.group(1))
        if status == ERROR_EXIT:
            problems.append("exit status %d (valgrind found errors)" % status)
        if problems:
            self.keep = True
            self.fail("%s under valgrind: %s (report kept in %s):\n%s"
                      % (name, ", ".join(problems), self.logs[name], report[-20000:]))
        self.assertEqual(status, 0, "%s exited with %s; log:\n%s"
                         % (name, status, self.program_log(name)))

    # ---- talking to them ---------------------------------------------------
    def http(self, method, path, body=None, headers=None, timeout=60):
        conn = harness.http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            hdrs = {"Content-Type": "application/json"} if body is not None else {}
            hdrs.update(headers or {})
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def raw(self, port, data, timeout=30):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
                s.sendall(data)
                out = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        return out
                    out += chunk
        except OSError:
            return b""

    def wait_serving(self):
        def ready():
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    self.fail("%s exited early (%s); log:\n%s"
                              % (name, proc.returncode, self.program_log(name)))
            try:
                return self.http("POST", "/v1/example/echo", b'{"value":"up"}', timeout=10) \
                    == (200, b'{"value":"up"}')
            except OSError:
                return False
        self.assertTrue(harness.wait_until(ready, START_TIMEOUT, 0.5),
                        "not serving within %ss; logs:\n%s\n%s" % (
                            START_TIMEOUT, self.program_log("rpcrest-host"),
                            self.program_log("rpcrest-gateway")))

    # ---- the workload ----------------------------------------------------
    def rest_workload(self):
        ok = lambda r: self.assertEqual(r[0], 200, r)  # noqa: E731
        for i in range(20):
            ok(self.http("POST", "/v1/example/echo", json.dumps({"value": "v%d" % i}).encode()))
        ok(self.http("POST", "/v1/testkit/echo", json.dumps({
            "doubleValue": 1.5, "int64Value": "-5", "uint64Value": "18446744073709551615",
            "stringValue": "h\u00e9", "bytesValue": "AAE=", "color": "BLUE",
            "nested": {"name": "n", "child": {"value": 2}}, "repeatedString": ["a", "b"],
            "stringMap": {"k": "v"}, "nestedMap": {"1": {"name": "x"}}, "choiceInt64": "7",
            "timestamp": "2024-01-02T03:04:05.5Z", "duration": "1.5s", "doubleWrapper": 2,
            "structValue": {"a": [1, None, {"b": True}]}, "value": "s", "listValue": [1],
            "fieldMask": "a.b,c", "empty": {},
            "any": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "2s"},
        }).encode()))
        ok(self.http("GET", "/v1/testkit/echo/path%20value?int32Value=3&color=RED"))
        ok(self.http("POST", "/v1/testkit/metadata", b'{"addInitial":[{"key":"a","text":"b"}],'
                     b'"addTrailing":[{"key":"t-bin","binary":"AAE="}]}',
                     headers={"Grpc-Metadata-X-Trace": "abc", "Authorization": "Bearer t",
                              "TE": "trailers"}))
        status, body = self.http("POST", "/v1/testkit/fail", json.dumps({
            "code": 5, "message": "nope", "withInfo": True,
            "details": [{"@type": "type.googleapis.com/google.protobuf.StringValue",
                         "value": "d"}]}).encode())
        self.assertEqual(status, 404, body)
        self.assertEqual(self.http("POST", "/v1/testkit/fail", b'{"code":16}')[0], 401)
        ok(self.http("POST", "/v1/testkit/async", b'{"value":"later"}'))
        ok(self.http("POST", "/v1/testkit/sleep", b'{"duration":"0.05s"}'))
        status, _ = self.http("POST", "/v1/testkit/sleep", b'{"duration":"5s"}',
                              headers={"Grpc-Timeout": "200m"})
        self.assertEqual(status, 504)
        status, body = self.http("GET", "/v1/testkit/stream?count=20&size=100")
        self.assertEqual((status, body.count(b"\n")), (200, 20))
        status, body = self.http("GET", "/v1/testkit/stream?count=3&size=1&failCode=9",
                                 headers={"Accept": "text/event-stream"})
        self.assertEqual(status, 200)
        self.assertIn(b"event: error", body)
        # a client that leaves a stream midway
        with socket.create_connection(("127.0.0.1", self.http_port), timeout=60) as s:
            s.sendall(b"GET /v1/testkit/stream?count=100000&size=1000 HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while len(got) < 20000:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        ok(self.http("GET", "/healthz"))
        ok(self.http("GET", "/healthz?service=rpcrest.testkit.TestKit"))
        self.assertEqual(self.http("GET", "/healthz?service=no.Such")[0], 404)
        ok(self.http("GET", "/v1/testkit/stats"))
        # the OpenAPI document (built once per API generation) and a console file
        status, body = self.http("GET", "/openapi.json")
        self.assertEqual(status, 200)
        self.assertIn("/v1/testkit/echo", json.loads(body)["paths"])
        ok(self.http("GET", "/openapi.json"))
        ok(self.http("GET", "/docs/swagger-ui.css"))

    def rest_bad_inputs(self):
        post = lambda path, body: self.http("POST", path, body)[0]  # noqa: E731
        for body in (b'{"value":"abc', b'{value:1}', b'{"value":"\xff"}', b"[" * 5000,
                     b'{"value":' + b"[" * 300 + b"]" * 300 + b"}", b'{"int32Value":1e400}',
                     b'{"stringValue":"a","stringValue":"b"}', b'{"uint64Value":-1}',
                     b'{"timestamp":"x"}', b'{"any":{"@type":"nope"}}'):
            self.assertEqual(post("/v1/testkit/echo", body), 400, body[:40])
        self.assertEqual(post("/v1/example/echo", b'{"value":"' + b"x" * 300000 + b'"}'), 413)
        self.assertEqual(self.http("GET", "/v1/nothing/here")[0], 404)
        self.assertEqual(self.http("PUT", "/v1/example/echo", b"{}")[0], 405)
        self.assertEqual(self.http("GET", "/v1/testkit/echo/%zz")[0], 400)
        out = self.raw(self.http_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                       b"a" * 100000 + b"\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 431"), out[:100])
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(300))
        out = self.raw(self.http_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       + many + b"\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 431"), out[:100])
        # a slowloris connection, closed by the header deadline
        s = socket.create_connection(("127.0.0.1", self.http_port), timeout=30)
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        self.assertEqual(s.recv(100), b"")
        s.close()

    def grpc_workload(self):
        pb2, pb2_grpc = harness.grpc_modules("testkit.proto",
                                             os.path.join(harness.ROOT, "services/testkit"))
        with grpc.insecure_channel("127.0.0.1:%d" % self.host_port) as ch:
            stub = pb2_grpc.TestKitStub(ch)
            m = pb2.AllTypes(string_value="direct", repeated_int32=[1, 2, 3])
            self.assertEqual(stub.Echo(m, timeout=60), m)
            self.assertEqual(len(list(stub.Stream(pb2.StreamRequest(count=50, size=10),
                                                  timeout=60))), 50)
            call = stub.Stream(pb2.StreamRequest(count=1000000, size=100), timeout=60)
            next(call)
            call.cancel()
            with self.assertRaises(grpc.RpcError) as cm:
                stub.Echo(pb2.AllTypes(bytes_value=b"x" * 70000), timeout=60)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
            with self.assertRaises(grpc.RpcError) as cm:
                ch.unary_unary("/no.Such/Method")(b"", timeout=60)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
            with self.assertRaises(grpc.RpcError) as cm:
                ch.unary_unary("/rpcrest.testkit.TestKit/Echo")(b"\xff\xff\xff", timeout=60)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            # health and reflection, straight
            health = ch.unary_unary("/grpc.health.v1.Health/Check")
            self.assertEqual(health(b"", timeout=60), b"\x08\x01")  # SERVING
            list_services = b"\x3a\x00"  # ServerReflectionRequest{list_services: ""}
            answers = list(ch.stream_stream("/grpc.reflection.v1.ServerReflection/"
                                            "ServerReflectionInfo")(iter([list_services]),
                                                                    timeout=60))
            self.assertEqual(len(answers), 1)
            self.assertIn(b"rpcrest.testkit.TestKit", answers[0])
        # hostile bytes and frames on the gRPC port
        self.raw(self.host_port, b"\x00\xff" * 2048, timeout=10)
        self.raw(self.host_port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=10)
        for data in (h2raw.frame(h2raw.SETTINGS, 0, 0, b"\x00"),
                     h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, 1, b"\xff\xff\xff"),
                     h2raw.frame(0xFF, 0, 0, b"", length=1 << 23)):
            s = h2raw.start(self.host_port, timeout=30)
            try:
                s.sendall(data)
            except OSError:
                pass
            h2raw.read_frames(s)
            s.close()
        # a stream whose client never reads, then leaves
        s = h2raw.start(self.host_port, window=65535, timeout=30)
        request = pb2.StreamRequest(count=100000, size=1000).SerializeToString()
        s.sendall(h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, 1,
                              h2raw.grpc_request_headers("/rpcrest.testkit.TestKit/Stream")) +
                  h2raw.frame(h2raw.DATA, h2raw.END_STREAM, 1, h2raw.grpc_message(request)))
        time.sleep(2)
        s.close()

    def test_no_errors_no_leaks(self):
        self.start("rpcrest-host")
        self.start("rpcrest-gateway")
        self.wait_serving()
        # some load from several threads at once
        errors = []

        def load():
            try:
                for i in range(10):
                    status, _ = self.http("POST", "/v1/example/echo", b'{"value":"t"}')
                    if status != 200:
                        errors.append(status)
            except OSError as e:
                errors.append(e)
        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        self.rest_workload()
        self.rest_bad_inputs()
        self.grpc_workload()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        # the gateway first (it holds calls to the host), then the host
        gateway_status = self.stop("rpcrest-gateway")
        host_status = self.stop("rpcrest-host")
        self.check_report("rpcrest-gateway", gateway_status)
        self.check_report("rpcrest-host", host_status)


if __name__ == "__main__":
    unittest.main()
