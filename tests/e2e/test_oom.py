"""The gateway out of memory: every Nth allocation made by rpcrest-gateway's
own code fails (tests/faults/failmalloc.c, preloaded into the gateway only;
allocations inside gRPC core, jansson and libmicrohttpd are theirs to
handle and are left alone).  Meanwhile each request still gets an answer
within its timeout: the same answer as with memory to spare, or 500 with
{"code": 13, "message": "... out of memory"} (503 with code 14 when the
upstream call could not be started; in a stream, an error line in place of
a message that could not be converted).  Never a 4xx that blames a
valid request, a hang or a crash; and once allocations succeed again every
request is answered as before, by the same process.

HostOutOfMemory does the same to rpcrest-host's own code: each call is
answered (504 when it waited out its deadline), and once allocations
succeed again every method answers as before, from the same process.

Skipped under SAN=1 and memcheck, whose runtimes own malloc.
"""
import gzip
import http.client
import json
import os
import shutil
import tempfile
import unittest

import harness

SHIM = os.path.join(harness.BUILD, "tests", "failmalloc.so")
# The programs with gRPC core as a shared library, whose allocations the
# shim then never fails (the build's own programs have it linked in).
PROGRAMS = os.path.join(harness.BUILD, "tests", "oom")

# (method, path, body, extra headers): valid requests along every path of
# the gateway that allocates: JSON and query binding, path variables with
# escapes, metadata headers, errors from the service, a server stream,
# health checks, the OpenAPI document, an unknown route.
REQUESTS = [
    ("POST", "/v1/example/echo", b'{"value":"this is vlaue"}', {}),
    ("POST", "/v1/example/echo", json.dumps({"value": "x" * 3000}).encode(), {}),
    ("POST", "/v1/testkit/echo",
     b'{"stringValue":"s","int64Value":"-9007199254740993","doubleValue":1.5,'
     b'"repeatedInt32":[1,2,3],"bytesValue":"AAEC"}', {}),
    ("GET", "/v1/testkit/echo/a%20b%2Fc?int32Value=7&repeatedInt32=1&repeatedInt32=2", None, {}),
    ("POST", "/v1/example/echo", gzip.compress(json.dumps({"value": "z" * 5000}).encode()),
     {"Content-Encoding": "gzip"}),
    ("POST", "/v1/testkit/echo/f?int32Value=7", b"repeatedInt32=1&repeatedInt32=2&boolValue=true",
     {"Content-Type": "application/x-www-form-urlencoded"}),
    ("POST", "/v1/testkit/metadata", b'{}', {"Grpc-Metadata-Color": "blue",
                                             "Grpc-Metadata-Blob-Bin": "AAEC",
                                             "X-Request-Id": "oom-test"}),
    ("POST", "/v1/testkit/fail", b'{"code":5,"message":"no such thing"}', {}),
    ("GET", "/v1/testkit/stream?count=3&size=8", None, {}),
    ("GET", "/healthz", None, {}),
    ("GET", "/healthz?service=rpcrest.testkit.TestKit", None, {}),
    ("GET", "/openapi.json", None, {}),
    ("GET", "/v1/no/such/route", None, {}),
]

FAIL_EVERY = (1, 2, 3, 5, 7, 11, 17, 31)


@unittest.skipIf(os.environ.get("RPCREST_SAN") == "1" or os.environ.get("RPCREST_MEMCHECK"),
                 "a sanitizer or valgrind owns malloc")
class FailmallocGateway(unittest.TestCase):
    """rpcrestd with echo and testkit, its gateway under the shim, which
    fails allocations while cls.switch exists."""
    shim_env = {}  # more RPCREST_FAILMALLOC_* settings
    gateway_conf = {"timeout": "5"}

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="rpcrest-oom-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.switch = os.path.join(cls.dir, "fail-now")
        saved = dict(os.environ)
        os.environ.update({"LD_PRELOAD": SHIM, "RPCREST_FAILMALLOC_PROGRAM": "rpcrest-gateway",
                           "RPCREST_FAILMALLOC_SWITCH": cls.switch, **cls.shim_env})
        try:  # rpcrestd passes its environment on to its children
            cls.r = harness.Rpcrest(services=("echo", "testkit"), gateway=cls.gateway_conf,
                                    programs=PROGRAMS)
            # also when a subclass's setUpClass fails after this, which skips tearDownClass
            cls.addClassCleanup(cls.r.cleanup)
            cls.r.start()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    @classmethod
    def ask(cls, req):
        """(status, content-type, body) for one request on a new connection."""
        method, path, body, headers = req
        status, hdrs, data = cls.r.http(method, path, body, headers=headers, timeout=10)
        if b'"deadlineMs"' in data:  # the time left when the host saw the call varies
            doc = json.loads(data)
            doc.pop("deadlineMs", None)
            data = json.dumps(doc).encode()
        return status, hdrs.get("content-type"), data

    @classmethod
    def tearDownClass(cls):
        if os.path.exists(cls.switch):
            os.unlink(cls.switch)


class GatewayOutOfMemory(FailmallocGateway):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gateway_pid = cls.r.children()["rpcrest-gateway"]
        cls.baseline = [cls.ask(req) for req in REQUESTS]

    def set_failing(self, every):
        with open(self.switch, "w") as f:  # its size is the shim's N
            f.write("x" * every)

    def assert_out_of_memory_answer(self, req, got):
        status, ctype, data = got
        self.assertIn((status, ctype), ((500, "application/json"), (503, "application/json")),
                      (req[:2], got))
        err = json.loads(data)
        # (a health check that fails is 503 whatever failed, as long as it says what)
        if status == 500 or (req[1].startswith("/healthz") and err["code"] == 13):
            self.assertEqual(err["code"], 13, err)
            self.assertTrue(err["message"].endswith("out of memory"), err)
        else:
            self.assertEqual(err, {"code": 14, "message": "cannot start the upstream call",
                                   "details": []})

    def check_answer(self, req, want, got):
        """Whether got is an out-of-memory answer (else it equals want)."""
        if got == want:
            return False
        if want[0] == 200 and got[0] == 200 and req[1].startswith("/v1/testkit/stream"):
            # a message that could not be turned into JSON is an error line in its place;
            # a stream cut short ends with one
            wanted = want[2].decode().strip().split("\n")
            lines = got[2].decode().strip().split("\n")
            self.assertLessEqual(len(lines), len(wanted), got)
            for line, wanted_line in zip(lines, wanted):
                if line != wanted_line:
                    self.assertIn("out of memory", json.loads(line)["error"]["message"], got)
            return True
        self.assert_out_of_memory_answer(req, got)
        return True

    def test_every_request_is_answered_while_allocations_fail(self):
        for every in FAIL_EVERY:
            with self.subTest(fail_every=every):
                self.set_failing(every)
                failed = 0
                try:
                    for _ in range(3):
                        for req, want in zip(REQUESTS, self.baseline):
                            try:
                                got = self.ask(req)
                            except (http.client.HTTPException, ConnectionError) as e:
                                self.fail("%s %s: no answer (%r)" % (req[0], req[1], e))
                            failed += self.check_answer(req, want, got)
                finally:
                    os.unlink(self.switch)
                if every == 1:  # the shim is at work: nothing that allocates gets through
                    self.assertGreater(failed, len(REQUESTS) * 3 // 2)
                self.assert_recovered()

    def assert_recovered(self):
        self.assertEqual(self.r.children().get("rpcrest-gateway"), self.gateway_pid,
                         "the gateway restarted; log:\n" + self.r.log())
        for req, want in zip(REQUESTS, self.baseline):
            self.assertEqual(self.ask(req), want, req[:2])


# A stream whose second line needs the line buffer to grow past 64 KiB:
# each message's JSON is 65,532 bytes (49,131 payload bytes in base64, with
# "index"; the first message, index 0, goes without it and fits).
LARGE_LINES = "/v1/testkit/stream?count=3&size=49131"


class GatewayOutOfMemoryForLargeBuffers(FailmallocGateway):
    """Only the gateway's allocations of 100,000 bytes or more fail: the
    buffer a stream's line is made in cannot grow to 128 KiB, while the
    message's JSON (64 KiB) and everything smaller is made."""
    shim_env = {"RPCREST_FAILMALLOC_MIN_BYTES": "100000"}

    def lines(self):
        status, _, data = self.r.http("GET", LARGE_LINES, timeout=10)
        self.assertEqual(status, 200, data[:300])
        return [json.loads(line) for line in data.decode().strip().split("\n")]

    def test_a_line_without_memory_ends_the_stream_with_an_error_line(self):
        whole = self.lines()
        self.assertEqual([len(json.dumps(line["result"], separators=(",", ":")))
                          for line in whole], [65522, 65532, 65532])
        open(self.switch, "w").close()  # empty: every eligible allocation fails
        try:
            # the response still ends as chunked HTTP says (it was cut before)
            got = self.lines()
        finally:
            os.unlink(self.switch)
        self.assertEqual(got, [whole[0], {"error": {"code": 13, "message": "out of memory",
                                                    "details": []}}])
        self.assertEqual(self.lines(), whole)
        self.assertEqual(self.r.http("GET", "/healthz")[0], 200)


# Requests for the host's methods: unary (echo, testkit), metadata, an error
# from the plugin, a server stream.
HOST_REQUESTS = [req for req in REQUESTS if req[1].startswith(("/v1/example", "/v1/testkit"))]


class HostOutOfMemory(FailmallocGateway):
    """rpcrest-host's own allocations fail (the shim in the host only):
    each call still gets an answer, and once allocations succeed again
    every method answers as before, from the same process, even those
    whose next request could not be posted while memory was short."""

    shim_env = {"RPCREST_FAILMALLOC_PROGRAM": "rpcrest-host"}
    # streams too wait no longer than 5 s for a method whose request is owed
    gateway_conf = {"timeout": "5", "max_timeout": "5"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.host_pid = cls.r.children()["rpcrest-host"]
        cls.baseline = [cls.ask(req) for req in HOST_REQUESTS]

    def test_every_method_answers_again_once_memory_is_back(self):
        for every in (1, 2, 3):
            with self.subTest(fail_every=every):
                with open(self.switch, "w") as f:
                    f.write("x" * every)
                try:
                    for req in HOST_REQUESTS * 2:
                        try:
                            self.ask(req)  # whatever it is, it is an answer
                        except (http.client.HTTPException, OSError) as e:
                            self.fail("%s %s: no answer (%r)" % (req[0], req[1], e))
                finally:
                    os.unlink(self.switch)
                for req, want in zip(HOST_REQUESTS, self.baseline):
                    self.assertEqual(self.ask(req), want, req[:2])
                self.assertEqual(self.r.children().get("rpcrest-host"), self.host_pid,
                                 "the host restarted; log:\n" + self.r.log())


if __name__ == "__main__":
    unittest.main()
