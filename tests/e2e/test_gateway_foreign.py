"""End-to-end tests of rpcrest-gateway in front of a gRPC server that rpcrest
did not build (issue 8).

The upstream is tests/e2e/pyupstream.py: Python grpcio, started here as a
subprocess on a free 127.0.0.1 port and stopped by PID, serving
rpcrest.bindings.Bindings and rpcrest.testkit.TestKit the way the C plugins
do, plus calc.Calculator (tests/e2e/protos/calc.proto: client streaming,
bidi streaming, PATCH with a FieldMask, unannotated methods).  Its Python
modules and its FileDescriptorSet are made at test time with grpc_tools.

The gateway runs alone, `build/rpcrest-gateway -c INI` with an INI of only
[gateway] listen / upstream / … (no [host], no [service.*]), in two ways:

  Files*       [gateway] descriptors = the set made with grpc_tools.protoc
               --include_imports --descriptor_set_out, in front of an
               upstream that has no server reflection
  Reflection*  no descriptors: the schema comes from the upstream's server
               reflection (pyupstream's grpc.reflection.v1 servicer; v1alpha
               only for the fallback test)

Each way runs the same checks:

  Bindings, Errors, Metadata, Deadlines, Streaming, Health, Options
                 the classes of test_gateway_rest.py that test the gateway
                 in front of rpcrest-host, with the same expectations (only
                 what names the host itself is replaced: Whoami's pid, the
                 health service list)
  Echo           every kind of proto3 field, through Python protobuf and back
  Calc           client streaming (NDJSON body -> one JSON object; a bad
                 line -> 400 naming it; an error from the server -> its
                 status and details; metadata both ways), bidi streaming
                 (NDJSON in, {"result":…} lines out, {"error":…} midway, SSE);
                 a client leaving a server stream the upstream is quiet on
                 cancels it
  Patch          the FieldMask of a PATCH with body "field" filled from the
                 body's keys, left alone when the client sends one, not made
                 up for body "*"
  AutoMapOn/Off  [gateway] auto_map (POST /pkg.Service/Method, unary and
                 client streaming)
  Services       [gateway] services = … exposes only those; a listed service
                 that the schema does not know -> exit 78 naming it
  Source         the INI and the log say where the schema came from
  ShippedExample conf/gateway-only.ini works as shipped

and, once: ReflectionFallback (an upstream with v1alpha reflection only) and
Supervised (rpcrestd with a gateway-only INI runs the gateway alone, and
rpcrestctl reports only the gateway).

Checks that fail because of a known bug are marked @known_bug: they run, and
count as expected failures until the bug is fixed.

Only 127.0.0.1; every process is stopped by PID.
"""
import atexit
import json
import urllib.parse
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
import pyupstream
import test_gateway_rest as rest

GATEWAY = os.path.join(harness.BUILD, "rpcrest-gateway")
HTTP_STATUS = rest.HTTP_STATUS
CALC_ERROR = "type.googleapis.com/calc.CalcError"

# mode -> the upstream it is tested in front of (World.upstream)
UPSTREAM_OF = {"descriptors": "plain", "reflection": "v1"}


def ndjson(*objects):
    return b"".join(json.dumps(o).encode() + b"\n" for o in objects)


def calc_error(code, index):
    """The error body of a calc message that asked to fail."""
    detail = {"@type": CALC_ERROR, "reason": "ASKED"}
    if index:
        detail["index"] = index
    return {"code": code, "message": "message %d asked to fail" % index, "details": [detail]}


class Gateway:
    """build/rpcrest-gateway -c INI alone, the INI written here: [gateway]
    only.  Output in a log file; stopped by PID."""

    def __init__(self, name, upstream, descriptors=None, keys=None, text=None):
        """text: the INI as given, with {listen} and {upstream} to fill in."""
        self.port = harness.free_port()
        while self.port == upstream.port:
            self.port = harness.free_port()
        self.ini = os.path.join(World.dir, name + ".ini")
        self.log_path = os.path.join(World.dir, name + ".log")
        if text is None:
            lines = ["; rpcrest-gateway alone in front of {upstream}", "[gateway]",
                     "listen = {listen}", "upstream = {upstream}", "timeout = 2", "threads = 2"]
            if descriptors:
                lines.append("descriptors = %s" % descriptors)
            lines += ["%s = %s" % kv for kv in (keys or {}).items()]
            text = "\n".join(lines) + "\n"
        with open(self.ini, "w") as f:
            f.write(text.replace("{listen}", "127.0.0.1:%d" % self.port)
                    .replace("{upstream}", upstream.target()))
        self.proc = None

    def start(self, timeout=10):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([GATEWAY, "-c", self.ini], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT)
        # "listening on" comes once the first API is loaded
        ready = harness.wait_until(lambda: self.proc.poll() is not None or (
            "listening on http://" in self.log() and harness.port_open(self.port)), timeout, 0.02)
        if not ready or self.proc.poll() is not None:
            self.stop()
            raise AssertionError("rpcrest-gateway did not start; log:\n" + self.log())
        return self

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


class World:
    """What the whole module shares: the generated code, the upstreams and
    the gateways (one per mode and set of [gateway] keys)."""
    dir = None
    gen = None
    upstreams = {}
    gateways = {}

    @classmethod
    def setup(cls):
        """Once, on first use (tests/e2e/runner.py runs no module fixtures);
        everything is stopped at exit."""
        if cls.dir:
            return
        if not os.access(GATEWAY, os.X_OK):
            raise AssertionError("not built: %s (run make first)" % GATEWAY)
        cls.dir = tempfile.mkdtemp(prefix="rpcrest-foreign-")
        atexit.register(cls.teardown)
        cls.gen = os.path.join(cls.dir, "gen")
        os.mkdir(cls.gen)
        pyupstream.generate(cls.gen)

    @classmethod
    def teardown(cls):
        for g in cls.gateways.values():
            g.stop()
        for u in cls.upstreams.values():
            u.stop()
        cls.gateways.clear()
        cls.upstreams.clear()
        if cls.dir:
            shutil.rmtree(cls.dir, ignore_errors=True)
            cls.dir = None

    @classmethod
    def descriptor_set(cls):
        return os.path.join(cls.gen, pyupstream.APP_SET)

    @classmethod
    def upstream(cls, name):
        """"plain" (no server reflection), "v1" or "v1alpha" (reflection of
        that version only); started on first use."""
        if name not in cls.upstreams:
            reflection = {"plain": (), "v1": ("v1",), "v1alpha": ("v1alpha",)}[name]
            u = pyupstream.Upstream(cls.gen, os.path.join(cls.dir, "upstream-%s.log" % name),
                                    reflection)
            cls.upstreams[name] = u  # stopped at the end even if it fails to start
            u.start()
        return cls.upstreams[name]

    @classmethod
    def new_gateway(cls, mode, keys=None, upstream=None, text=None):
        """A gateway of this mode (not started): "descriptors" names the
        set in the INI, "reflection" leaves it to the upstream."""
        up = cls.upstream(upstream or UPSTREAM_OF[mode])
        name = "gateway-%d" % (len(os.listdir(cls.dir)) + 1)
        return Gateway(name, up, cls.descriptor_set() if mode == "descriptors" else None, keys,
                       text)

    @classmethod
    def gateway(cls, mode, keys=None):
        """The running gateway of this mode with these extra keys."""
        key = (mode, tuple(sorted((keys or {}).items())))
        if key not in cls.gateways:
            g = cls.new_gateway(mode, keys)
            cls.gateways[key] = g
            g.start()
        return cls.gateways[key]


class ForeignCase(rest.RestCase):
    """Talks to World.gateway(mode, gateway_keys) (self.port).  (No
    gateway_keys here: this class comes first in the test classes' bases,
    and their other bases set it.)"""
    mode = None

    @classmethod
    def setUpClass(cls):
        World.setup()
        cls.gateway = World.gateway(cls.mode, getattr(cls, "gateway_keys", None))
        cls.port = cls.gateway.port
        cls.upstream = World.upstream(UPSTREAM_OF[cls.mode])

    @classmethod
    def tearDownClass(cls):
        pass  # World.teardown stops the processes at exit

    def own_gateway(self, keys=None, upstream=None, text=None):
        """A gateway for this test alone, which self.http now talks to."""
        g = World.new_gateway(self.mode, keys, upstream, text)
        self.addCleanup(g.stop)
        g.start()
        self.port = g.port
        return g


def known_bug(why):
    """Marks a check that fails because of a known bug (why): it runs and
    counts as an expected failure; once the bug is fixed it passes, unittest
    calls that an unexpected success, the suite fails, and the mark goes."""
    def mark(test):
        test.known_bug = why
        return unittest.expectedFailure(test)
    return mark


def in_both_modes(name, *bases):
    """Two test classes made of bases: Files<name> and Reflection<name>."""
    made = []
    for prefix, mode in (("Files", "descriptors"), ("Reflection", "reflection")):
        made.append(type(prefix + name, (ForeignCase,) + bases,
                         {"mode": mode, "__module__": __name__,
                          "__doc__": "%s (%s)" % (name, mode)}))
    return made


# ---- the checks of test_gateway_rest.py, in front of the Python server ---------------------


class BindingsOverrides:

    def test_whoami(self):
        # the Python process answers, not an rpcrest-host
        self.assertEqual(int(self.ok("GET", "/v1/whoami")["pid"]), self.upstream.pid)


class HealthOverrides:

    def test_service(self):
        for name in pyupstream.APP_SERVICES:
            self.assertEqual(self.ok("GET", "/healthz?service=" + name),
                             {"service": name, "status": "SERVING"})

    def test_fields_of_a_newer_server(self):
        """Fields HealthCheckResponse does not have (fixed32, fixed64,
        varint, length-delimited) are skipped, not taken for a bad answer."""
        name = pyupstream.NEWER_HEALTH_SERVICE
        self.assertEqual(self.ok("GET", "/healthz?service=" + name),
                         {"service": name, "status": "SERVING"})


FilesBindings, ReflectionBindings = in_both_modes("Bindings", BindingsOverrides, rest.Bindings)
FilesErrors, ReflectionErrors = in_both_modes("Errors", rest.Errors)
FilesMetadata, ReflectionMetadata = in_both_modes("Metadata", rest.Metadata)
FilesDeadlines, ReflectionDeadlines = in_both_modes("Deadlines", rest.Deadlines)
FilesStreaming, ReflectionStreaming = in_both_modes("Streaming", rest.Streaming)
FilesHealth, ReflectionHealth = in_both_modes("Health", HealthOverrides, rest.Health)
FilesOptions, ReflectionOptions = in_both_modes("Options", rest.Options)


# ---- every kind of field, through Python protobuf and back ------------------------------------


ALL_TYPES = {
    "doubleValue": 1.5, "floatValue": 0.25, "int32Value": -7, "int64Value": "-9007199254740993",
    "uint32Value": 4000000000, "uint64Value": "18446744073709551615", "sint32Value": -3,
    "sint64Value": "-4", "fixed32Value": 5, "fixed64Value": "6", "sfixed32Value": -8,
    "sfixed64Value": "-9", "boolValue": True, "stringValue": "\u00e9 \"q\"\n\u2603",
    "bytesValue": "AAH/", "color": "BLUE",
    "nested": {"name": "n", "value": 1, "child": {"name": "c"}, "colors": ["RED", "GREEN"]},
    "repeatedInt32": [1, -2, 3], "repeatedString": ["a", ""],
    "repeatedNested": [{"name": "x"}, {}], "repeatedColor": ["RED", "COLOR_UNSPECIFIED"],
    "repeatedBytes": ["AQ==", ""], "stringMap": {"k": "v", "": "e"},
    "nestedMap": {"1": {"name": "one"}, "-2": {}}, "choiceInt64": "12",
    "timestamp": "2024-06-11T10:20:30.123Z", "duration": "-1.500s", "doubleWrapper": 2.5,
    "floatWrapper": 1, "int64Wrapper": "-1", "uint64Wrapper": "2", "int32Wrapper": 0,
    "uint32Wrapper": 3, "boolWrapper": False, "stringWrapper": "", "bytesWrapper": "",
    "structValue": {"a": [1, "b", None, True, {"c": {}}]}, "value": 3.5,
    "listValue": [1, "x"], "fieldMask": "a.bC,d", "empty": {},
    "any": {"@type": "type.googleapis.com/rpcrest.testkit.Nested", "name": "in any"},
}


class EchoChecks:

    def test_every_kind_of_field(self):
        # JSON -> wire here, parsed and written again by Python protobuf,
        # wire -> JSON here
        self.assertEqual(self.ok("POST", "/v1/testkit/echo", ALL_TYPES), ALL_TYPES)
        self.assertEqual(self.ok("GET", "/v1/testkit/echo/a%20b?int64Value=5&color=RED"),
                         {"stringValue": "a b", "int64Value": "5", "color": "RED"})

    def test_json_and_wrapper_value_query_parameters(self):
        """Struct, Value and ListValue parameters are JSON text, and a
        wrapper's inner field by name is the wrapper, as grpc-gateway reads
        them."""
        q = urllib.parse.urlencode({"structValue": '{"a":[1,"b",null,{"c":{}}]}',
                                    "value": '"text"', "listValue": '[1, "x", false]',
                                    "int32Wrapper.value": "7", "string_wrapper.value": "s",
                                    "boolWrapper": "true"})
        self.assertEqual(self.ok("GET", "/v1/testkit/echo/v?" + q), {
            "stringValue": "v", "structValue": {"a": [1, "b", None, {"c": {}}]},
            "value": "text", "listValue": [1, "x", False], "int32Wrapper": 7,
            "stringWrapper": "s", "boolWrapper": True})
        for value, want in (("1.5", 1.5), ("null", None), ("true", True), ("{}", {}),
                            ("[]", []), ('{"k":"v"}', {"k": "v"})):
            with self.subTest(value=value):
                got = self.ok("GET", "/v1/testkit/echo/v?value=" + urllib.parse.quote(value))
                self.assertEqual(got.get("value", "unset"), want)
        for query, why in (("structValue=%5B1%5D", "structValue"),  # [1]: not an object
                           ("listValue=%7B%7D", "listValue"),  # {}: not an array
                           ("value=text", "takes JSON text: 'text'"),
                           ("structValue=%7B", "takes JSON text"),
                           ("int32Wrapper.value=x", "int32Wrapper"),
                           ("int32Wrapper=1&int32Wrapper.value=2", "more than once"),
                           ("int32Wrapper.other=1", "not its fields"),
                           ("structValue.fields%5Bk%5D=1", "not its fields"),
                           ("value.list_value.values=1", "not its fields"),
                           ("value.string_value=x", "not its fields"),
                           ("timestamp.seconds=5", "not its fields")):
            with self.subTest(query=query):
                got = self.error("GET", "/v1/testkit/echo/v?" + query, status=400, code=3)
                self.assertIn(why, got["message"])


FilesEcho, ReflectionEcho = in_both_modes("Echo", EchoChecks)


# ---- client and bidi streaming ---------------------------------------------------------------


class CalcChecks:
    ADD = "/v1/calc:add"
    DOUBLE = "/v1/calc:double"

    # -- client streaming

    def test_client_streaming_sum(self):
        values = list(range(-3, 97))
        body = b"".join(b'{"value":"%d"}\n' % v if v % 2 else b'{"value":%d}\n' % v
                        for v in values)
        status, headers, data = self.http("POST", self.ADD, body)
        self.assertEqual(status, 200, data)
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(json.loads(data), {"total": str(sum(values)), "count": len(values)})
        self.assertEqual(headers.get("grpc-metadata-x-count"), str(len(values)))

    def test_client_streaming_line_endings_and_blank_lines(self):
        body = b'\n{"value":1}\r\n  \n\t\r\n{"value":2}\n\n{"value":3}'  # no final newline
        self.assertEqual(self.ok("POST", self.ADD, body), {"total": "6", "count": 3})

    @unittest.skipIf(os.environ.get("RPCREST_SAN") == "1" or os.environ.get("RPCREST_MEMCHECK"),
                     "a sanitizer or valgrind owns malloc (and the RSS)")
    def test_client_streaming_many_small_lines(self):
        """30,000 empty messages cost the gateway a few bytes each until the
        call ends, not a buffer each (490 bytes a message: 15 MB here, and
        540 MB for the 1.4 million lines of a 4 MB body)."""
        body = b"{}\n" * 30000
        gateway = self.gateway.proc.pid
        before = harness.rss_kib(gateway)
        peak = [before]
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                peak[0] = max(peak[0], harness.rss_kib(gateway))
                time.sleep(0.02)
        t = threading.Thread(target=watch)
        t.start()
        try:
            got = self.ok("POST", self.ADD, body, {"Grpc-Timeout": "60S"})
        finally:
            stop.set()
            t.join()
        self.assertEqual(got, {"count": 30000})
        self.assertLess(peak[0] - before, 5 * 1024, "grew by %d KiB" % (peak[0] - before))

    def test_client_streaming_empty_body(self):
        status, headers, data = self.http("POST", self.ADD, b"")
        self.assertEqual((status, json.loads(data)), (200, {}), data)
        self.assertEqual(headers.get("grpc-metadata-x-count"), "0")
        self.assertEqual(self.ok("POST", self.ADD, b"\n\n"), {})
        # blanks only, no newline: the body buffer is exactly this long and
        # not NUL-terminated (the sanitizer build caught a read past it)
        self.assertEqual(self.ok("POST", self.ADD, b" " * 64), {})
        self.assertEqual(self.ok("POST", self.ADD, b"\n \t\r"), {})

    def test_client_streaming_request_metadata(self):
        got = self.ok("POST", self.ADD, ndjson({"value": 1}, {"value": 2}),
                      {"Grpc-Metadata-X-Offset": "1000"})
        self.assertEqual(got, {"total": "1003", "count": 2})
        body = self.error("POST", self.ADD, ndjson({"value": 1}),
                          {"Grpc-Metadata-X-Offset": "lots"}, status=400, code=3)
        self.assertIn("x-offset", body["message"])

    def test_client_streaming_bad_line(self):
        cases = [
            (b'{"value":1}\n{"value":2}\nnope\n{"value":4}\n', "line 3: "),
            (b'{"value":1}\n\n[1]\n', "line 3: each message must be a JSON object"),
            (b'{"value":1}\n{"value":"x"}\n', "line 2: "),
            (b'{"value":1}\n{"nope":1}\n', "line 2: "),
            (b'{"value":1} nope\n', "line 1: "),
            (b'{"value":1}\n{\n "value":\n}', "line 2: "),  # where the message starts
            (b'{"value":1}\n{"value":2', "line 2: "),  # left open
            (b'[{"value":1}, {"value":"x"}]', "message 2: "),
            (b'[{"value":1}, 2]', "message 2: each message must be a JSON object"),
            (b'[{"value":1}] {"value":2}', "line 1: each message must be a JSON object"),
            (b'[{"value":1}', "the JSON array: "),
        ]
        for body, prefix in cases:
            with self.subTest(body=body):
                got = self.error("POST", self.ADD, body, status=400, code=3)
                self.assertTrue(got["message"].startswith(prefix), got)
                self.assertEqual(got["details"], [])
        got = self.error("POST", self.ADD, b'{"value":1}\n{"nope":1}\n', status=400, code=3)
        self.assertIn("nope", got["message"])

    def test_client_streaming_messages_however_laid_out(self):
        """Messages one after the other, whatever whitespace (or none) is
        between them, pretty-printed or not, as grpc-gateway's decoder reads
        them; or one JSON array of them, as Envoy's transcoder takes."""
        for body in (b'{"value":1}\n{"value":2}\n{"value":3}\n',
                     b'{"value":1} {"value":2}\t{"value":3}',
                     b'{"value":1}{"value":2}{"value":3}',
                     b'{\n  "value": 1\n}\n{\n  "value": 2\n}\r\n\r\n{ "value":\n3 }',
                     b'[{"value":1},{"value":2},{"value":3}]',
                     b'\n [\n {"value":1},\n {"value":2},\n {"value":3}\n ]\n'):
            with self.subTest(body=body):
                self.assertEqual(self.ok("POST", self.ADD, body), {"total": "6", "count": 3})
        # braces, brackets and escaped quotes inside strings do not end a
        # message: the second one is whole, and refused for its unknown key
        got = self.error("POST", self.ADD, b'{"value":1}\n{"a\\"}{[":1}', status=400, code=3)
        self.assertTrue(got["message"].startswith("line 2: "), got)
        self.assertIn("field 'a\"}{['", got["message"])
        self.assertEqual(self.ok("POST", self.ADD, b"[]"), {})

    def test_client_streaming_error_from_the_server(self):
        for code in range(1, 17):
            with self.subTest(code=code):
                status, headers, data = self.http("POST", self.ADD, ndjson(
                    {"value": 1}, {"value": 2}, {"value": 3, "fail": code}, {"value": 4}))
                self.assertEqual(status, HTTP_STATUS[code], data)
                self.assertEqual(headers.get("content-type"), "application/json")
                self.assertEqual(json.loads(data), calc_error(code, 2))

    def test_client_streaming_more_than_one_reply(self):
        """A server that answers a client-streaming call with more than one
        message breaks the method's contract: the call fails as gRPC's own
        clients fail it (INTERNAL), whatever the count.  (The gateway used to
        answer with the last reply and leak the ones before it.)"""
        for replies in (2, 3, 50):
            with self.subTest(replies=replies):
                got = self.error("POST", self.ADD, ndjson({"value": 1}, {"value": 2}),
                                 {"Grpc-Metadata-X-Replies": str(replies)}, status=500,
                                 code=13)
                self.assertIn("more than one message", got["message"])
        self.assertEqual(self.ok("POST", self.ADD, ndjson({"value": 1}),
                                 {"Grpc-Metadata-X-Replies": "1"}), {"total": "1", "count": 1})

    def test_client_streaming_failure_after_the_reply(self):
        """The call's status decides, not the reply that came before it
        (grpc-gateway's CloseAndRecv and gRPC's own clients fail the call)."""
        got = self.error("POST", self.ADD, ndjson({"value": 1}, {"value": 2}),
                         {"Grpc-Metadata-X-Fail-After": "9"}, status=400, code=9)
        self.assertEqual(got["message"], "failed after its reply")

    def test_client_streaming_unauthenticated(self):
        status, headers, data = self.http("POST", self.ADD, ndjson({"fail": 16}))
        self.assertEqual(status, 401, data)
        self.assertEqual(headers.get("www-authenticate"), "message 0 asked to fail")
        status, headers, _ = self.http("POST", self.ADD, ndjson({"fail": 7}))
        self.assertEqual(status, 403)
        self.assertNotIn("www-authenticate", headers)

    def test_detail_of_a_type_no_descriptor_declares(self):
        # its bytes, base64, under "value"
        body = self.error("POST", self.ADD, ndjson({"value": 1},
                                                   {"fail": 9, "undeclaredDetail": True}),
                          status=400, code=9)
        self.assertEqual(body["details"], calc_error(9, 1)["details"] + [
            {"@type": "type.googleapis.com/calc.Undeclared", "value": "CAE="}])
        # such an Any is refused on the way in
        self.error("POST", "/v1/testkit/fail",
                   {"code": 5, "details": [{"@type": "type.googleapis.com/no.Such", "a": 1}]},
                   status=400, code=3)

    def test_client_streaming_trailers(self):
        """TE: trailers: the trailers of a client-streaming call come back as
        Grpc-Trailer-* as they do for a unary call (grpc-gateway forwards
        stream.Trailer() for client streaming too)."""
        body = ndjson({"value": 5}, {"value": 6})
        request = (b"POST " + self.ADD.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"TE: trailers\r\nConnection: TE, close\r\n"
                   b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                   + body)
        status, headers, raw = rest.raw_exchange(self.port, request)
        self.assertEqual(status, 200, raw)
        self.assertIn(("grpc-metadata-x-count", "2"), headers)
        self.assertIn(("trailer", "Grpc-Trailer-x-total"), headers, raw)
        payload, trailers = rest.parse_chunked(raw)
        self.assertEqual(json.loads(payload), {"total": "11", "count": 2})
        self.assertIn(("grpc-trailer-x-total", "11"), trailers)

    # -- bidi streaming

    def test_bidi_ndjson(self):
        status, headers, data = self.http("POST", self.DOUBLE,
                                          ndjson(*({"value": v} for v in range(20))))
        self.assertEqual(status, 200, data)
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(headers.get("transfer-encoding"), "chunked")
        self.assertEqual(headers.get("grpc-metadata-x-factor"), "2")
        self.assertEqual(data, b'{"result":{}}\n' + b"".join(
            b'{"result":{"value":"%d"}}\n' % (2 * v) for v in range(1, 20)))

    def test_bidi_request_metadata(self):
        status, headers, data = self.http("POST", self.DOUBLE,
                                          b'{"value":"7"}\n\n{"value":-5}',
                                          {"Grpc-Metadata-X-Factor": "3"})
        self.assertEqual(status, 200, data)
        self.assertEqual(headers.get("grpc-metadata-x-factor"), "3")
        self.assertEqual(data, b'{"result":{"value":"21"}}\n{"result":{"value":"-15"}}\n')

    def test_bidi_empty_body(self):
        status, headers, data = self.http("POST", self.DOUBLE, b"")
        self.assertEqual((status, data), (200, b""))
        self.assertEqual(headers.get("content-type"), "application/json")

    def test_bidi_error_midway(self):
        status, _, data = self.http("POST", self.DOUBLE, ndjson(
            {"value": 1}, {"value": 2}, {"value": 3, "fail": 10}, {"value": 4}))
        self.assertEqual(status, 200, data)
        lines = data.split(b"\n")
        self.assertEqual(lines[:2], [b'{"result":{"value":"2"}}', b'{"result":{"value":"4"}}'])
        self.assertEqual(lines[3:], [b""])
        self.assertEqual(json.loads(lines[2]), {"error": calc_error(10, 2)})

    def test_bidi_error_before_the_first_message(self):
        for code in (3, 5, 9, 14):
            with self.subTest(code=code):
                status, headers, data = self.http("POST", self.DOUBLE,
                                                  ndjson({"fail": code}, {"value": 1}))
                self.assertEqual(status, HTTP_STATUS[code], data)
                self.assertNotEqual(headers.get("transfer-encoding"), "chunked")
                self.assertEqual(json.loads(data), calc_error(code, 0))

    def test_streaming_error_keeps_headers_and_www_authenticate(self):
        """An error before the first message is answered like a unary
        call's: with the response metadata the server sent first (Double
        sends x-factor before it reads), and on 401 with WWW-Authenticate
        (grpc-gateway's error handler does both for every kind of method)."""
        status, headers, data = self.http("POST", self.DOUBLE, ndjson({"fail": 16}),
                                          {"Grpc-Metadata-X-Factor": "5"})
        self.assertEqual(status, 401, data)
        self.assertEqual(json.loads(data), calc_error(16, 0))
        self.assertEqual(headers.get("grpc-metadata-x-factor"), "5")
        self.assertEqual(headers.get("www-authenticate"), "message 0 asked to fail")

    def test_bidi_sse(self):
        status, headers, data = self.http("POST", self.DOUBLE,
                                          ndjson({"value": 1}, {"value": 2}, {"fail": 9}),
                                          {"Accept": "text/event-stream"})
        self.assertEqual(status, 200, data)
        self.assertEqual(headers.get("content-type"), "text/event-stream")
        frames = data.split(b"\n\n")
        self.assertEqual(frames[:2], [b'data: {"value":"2"}', b'data: {"value":"4"}'])
        self.assertTrue(frames[2].startswith(b"event: error\ndata: "), data)
        self.assertEqual(json.loads(frames[2][len(b"event: error\ndata: "):]), calc_error(9, 2))
        self.assertEqual(frames[3:], [b""])

    def test_bidi_bad_line(self):
        got = self.error("POST", self.DOUBLE, b'{"value":1}\n{"value":true}\n', status=400,
                         code=3)
        self.assertTrue(got["message"].startswith("line 2: "), got)

    def test_stream_ends_at_a_message_that_is_not_valid(self):
        """A message the gateway cannot turn into JSON ends the stream with
        an error line and the call is cancelled, as in grpc-gateway; as the
        first message, it is an ordinary error answer."""
        url = "/v1/testkit/stream?count=4&size=1"
        for accept, sep, ok, bad in ((None, b"\n", b'{"result":', b'{"error":'),
                                     ("text/event-stream", b"\n\n", b"data: ",
                                      b"event: error\ndata: ")):
            with self.subTest(accept=accept):
                headers = {"Grpc-Metadata-X-Bad-Message-At": "1"}
                if accept:
                    headers["Accept"] = accept
                status, _, data = self.http("GET", url, None, headers)
                self.assertEqual(status, 200, data)
                parts = data.split(sep)
                self.assertEqual(len(parts), 3, data)
                self.assertTrue(parts[0].startswith(ok), data)
                self.assertTrue(parts[1].startswith(bad), data)
                error = (json.loads(parts[1][len(bad):]) if accept
                         else json.loads(parts[1])["error"])
                self.assertEqual(error["code"], 13, data)
                self.assertEqual(parts[2], b"")
        status, headers, data = self.http("GET", url, None,
                                          {"Grpc-Metadata-X-Bad-Message-At": "0"})
        self.assertEqual(status, 500, data)
        self.assertNotEqual(headers.get("transfer-encoding"), "chunked")
        self.assertEqual(json.loads(data)["code"], 13)

    def test_stream_metadata_larger_than_the_room_for_headers(self):
        """A stream's headers carry its first message's metadata: when it
        does not fit in what the request left of the connection's memory,
        the answer is a 502 instead of a stream (or a closed connection)."""
        url = "/v1/testkit/stream?count=2&size=1"
        md = {"Grpc-Metadata-X-Initial-Bytes": "7000"}
        status, headers, data = self.http("GET", url, None, md)
        self.assertEqual(status, 200, data)
        self.assertEqual(headers.get("grpc-metadata-x-big-6"), "v" * 1000)
        # more than gRPC core's default limit (8 KiB) fits as well, as it does
        # for a unary call; and more than the room is a 502, not a 429
        status, headers, data = self.http("GET", url, None,
                                          {"Grpc-Metadata-X-Initial-Bytes": "20000"})
        self.assertEqual(status, 200, data)
        self.assertEqual(headers.get("grpc-metadata-x-big-19"), "v" * 1000)
        for size in ("40000", "200000"):
            with self.subTest(size=size):
                status, _, data = self.http("GET", url, None,
                                            {"Grpc-Metadata-X-Initial-Bytes": size})
                self.assertEqual(status, 502, data)
                self.assertEqual(json.loads(data)["code"], 13, data)
        status, headers, data = self.http("GET", url, None, dict(md, **{"X-Junk": "j" * 26000}))
        self.assertEqual(status, 502, data)
        self.assertNotEqual(headers.get("transfer-encoding"), "chunked")
        got = json.loads(data)
        self.assertEqual(got["code"], 13)
        self.assertIn("the upstream's response metadata takes", got["message"])

    def test_client_leaving_a_quiet_stream_cancels_it(self):
        """A client that closes its connection while the upstream sends
        nothing cancels the call then, not at the next message or at the
        deadline."""
        before = self.stats().get("streamsCancelled", 0)
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"GET /v1/testkit/stream?count=3 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Grpc-Metadata-X-Interval-Ms: 8000\r\n\r\n")
            got = b""
            while b'{"result":{}}' not in got:
                chunk = s.recv(4096)
                self.assertTrue(chunk, got)
                got += chunk
        self.assertTrue(self.wait_stat("streamsCancelled", before + 1, 2),
                        "the stream was not cancelled: %s" % self.stats())

    def test_streaming_routes_take_post_only(self):
        self.error("GET", self.ADD, status=405, code=12)
        self.error("PUT", self.DOUBLE, b"", status=405, code=12)


FilesCalc, ReflectionCalc = in_both_modes("Calc", CalcChecks)


# ---- PATCH and the field mask ------------------------------------------------------------------


class PatchChecks:

    def patch(self, path, body):
        got = self.ok("PATCH", path, body)
        return got, got.get("paths", [])

    def test_mask_filled_from_the_body(self):
        got, paths = self.patch("/v1/counters/c1", {
            "displayName": "D", "limits": {"maxValue": 3, "minValue": 1},
            "labels": {"a": "b"}, "tags": ["x"], "ttl": "3s", "extra": {"k": 1, "l": [2]}})
        self.assertEqual(got["counter"], {
            "id": "c1", "displayName": "D", "limits": {"maxValue": 3, "minValue": 1},
            "labels": {"a": "b"}, "tags": ["x"], "ttl": "3s", "extra": {"k": 1, "l": [2]}})
        self.assertTrue(got["hasMask"])
        # the paths the server received: proto field names, dotted into
        # nested messages and into a Struct's keys (grpc-gateway's rule);
        # maps, lists and other well-known types are leaves; the path
        # variable counter.id is not in it
        self.assertEqual(sorted(paths), ["display_name", "extra.k", "extra.l", "labels",
                                         "limits.max_value", "limits.min_value", "tags", "ttl"])

    def test_mask_from_proto_names_and_nulls(self):
        _, paths = self.patch("/v1/counters/c2", {"display_name": "D",
                                                   "limits": {"max_value": 1}})
        self.assertEqual(sorted(paths), ["display_name", "limits.max_value"])
        got, paths = self.patch("/v1/counters/c3", {"displayName": None, "tags": []})
        self.assertEqual(sorted(paths), ["display_name", "tags"])
        self.assertEqual(got["counter"], {"id": "c3"})

    def test_mask_of_fields_whose_json_names_do_not_turn_back(self):
        """line_1 is "line1" in JSON, which a FieldMask's JSON form turns
        back into "line1"; fooBar would come back as "foo_bar": the mask
        the server gets names the fields themselves."""
        got, paths = self.patch("/v1/counters/c10", {"limits": {"line_1": 1, "fooBar": 2}})
        self.assertEqual(sorted(paths), ["limits.fooBar", "limits.line_1"])
        self.assertEqual(got["counter"], {"id": "c10", "limits": {"line1": 1, "fooBar": 2}})
        _, paths = self.patch("/v1/counters/c11", {"limits": {"line1": 1}})
        self.assertEqual(paths, ["limits.line_1"])

    def test_mask_of_a_field_with_a_json_name(self):
        """`string nick = 4 [json_name = "alias"]`: the body says "alias"
        (or "nick"); the mask names the field, "nick", as grpc-gateway's
        FieldMaskFromRequestBody does (it uses the proto name)."""
        for key in ("alias", "nick"):
            with self.subTest(key=key):
                got, paths = self.patch("/v1/counters/c4", {key: "n", "displayName": "D"})
                self.assertEqual(got["counter"], {"id": "c4", "alias": "n", "displayName": "D"})
                self.assertEqual(sorted(paths), ["display_name", "nick"])

    def test_mask_sent_by_the_client_is_kept(self):
        got, paths = self.patch("/v1/counters/c5?update_mask=displayName,limits.minValue",
                                {"displayName": "D", "tags": ["t"], "limits": {"maxValue": 2}})
        self.assertEqual(paths, ["display_name", "limits.min_value"])
        self.assertEqual(got["counter"], {"id": "c5", "displayName": "D", "tags": ["t"],
                                          "limits": {"maxValue": 2}})
        # an empty mask counts as none (grpc-gateway: len(paths) == 0)
        _, paths = self.patch("/v1/counters/c6?update_mask=", {"tags": ["t"]})
        self.assertEqual(paths, ["tags"])

    def test_no_mask_without_a_body_field(self):
        # body "*": the body is the whole request, nothing is made up
        got = self.ok("PATCH", "/v2/counters/c7", {"counter": {"displayName": "D"}})
        self.assertEqual(got, {"counter": {"id": "c7", "displayName": "D"}})
        got = self.ok("PATCH", "/v2/counters/c7", {"counter": {"displayName": "D"},
                                                   "updateMask": "displayName"})
        self.assertEqual(got, {"counter": {"id": "c7", "displayName": "D"},
                               "paths": ["display_name"], "hasMask": True})
        # an empty body: no mask either
        got = self.ok("PATCH", "/v1/counters/c8", b"")
        self.assertEqual(got, {"counter": {"id": "c8"}})

    def test_unknown_key_in_the_body(self):
        body = self.error("PATCH", "/v1/counters/c9", {"displayName": "D", "nope": 1},
                          status=400, code=3)
        self.assertIn("nope", body["message"])


FilesPatch, ReflectionPatch = in_both_modes("Patch", PatchChecks)


# ---- [gateway] auto_map ------------------------------------------------------------------------


class AutoMapOffChecks:

    def test_unannotated_methods_are_not_routed(self):
        for path in ("/calc.Calculator/Plain", "/calc.Calculator/Count",
                     "/rpcrest.bindings.Bindings/Unannotated"):
            with self.subTest(path=path):
                self.error("POST", path, {}, status=404, code=5)


class AutoMapOnChecks:
    gateway_keys = rest.Options.gateway_keys  # auto_map = on (one gateway for both)

    def test_unary(self):
        self.assertEqual(self.ok("POST", "/calc.Calculator/Plain", {"text": "ab", "times": 3}),
                         {"text": "ababab"})
        self.assertEqual(self.ok("POST", "/calc.Calculator/Plain", b""), {})
        self.error("GET", "/calc.Calculator/Plain", status=405, code=12)
        self.error("POST", "/calc.Calculator/Plain", {"nope": 1}, status=400, code=3)

    def test_client_streaming(self):
        self.assertEqual(self.ok("POST", "/calc.Calculator/Count",
                                 ndjson({"value": 4}, {"value": "5"})),
                         {"total": "9", "count": 2})
        self.assertEqual(self.error("POST", "/calc.Calculator/Count",
                                    ndjson({"value": 4}, {"fail": 7}), status=403, code=7),
                         calc_error(7, 1))

    def test_annotated_methods_keep_only_their_bindings(self):
        for method in ("Add", "Double", "UpdateCounter"):
            with self.subTest(method=method):
                self.error("POST", "/calc.Calculator/" + method, {}, status=404, code=5)


FilesAutoMapOff, ReflectionAutoMapOff = in_both_modes("AutoMapOff", AutoMapOffChecks)
FilesAutoMapOn, ReflectionAutoMapOn = in_both_modes("AutoMapOn", AutoMapOnChecks)


# ---- [gateway] services -----------------------------------------------------------------------


class ServicesChecks:
    gateway_keys = {"services": "calc.Calculator, rpcrest.testkit.TestKit", "auto_map": "on"}

    def test_only_the_listed_services_are_exposed(self):
        self.assertEqual(self.ok("POST", "/v1/calc:add", ndjson({"value": 2})),
                         {"total": "2", "count": 1})
        self.assertEqual(self.ok("POST", "/calc.Calculator/Plain", {"text": "x"}),
                         {"text": "x"})
        self.error("POST", "/v1/testkit/fail", {"code": 6, "message": "m"}, status=409, code=6)
        # rpcrest.bindings.Bindings is left out: none of its routes exist
        for method, path in (("GET", "/v1/whoami"), ("GET", "/v1/shelves/s1/books/b1"),
                             ("GET", "/v1/files/a/b"), ("PURGE", "/v1/shelves/s1"),
                             ("POST", "/rpcrest.bindings.Bindings/Unannotated")):
            with self.subTest(path=path):
                self.error(method, path, b"{}", status=404, code=5)
        log = self.gateway.log()
        self.assertIn("-> /calc.Calculator/Add", log)
        self.assertNotIn("-> /rpcrest.bindings.Bindings/", log)

    def test_a_listed_service_the_schema_does_not_know(self):
        g = World.new_gateway(self.mode, {"services": "calc.Calculator, nope.Missing"})
        proc = subprocess.run([GATEWAY, "-c", g.ini], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=20)
        err = proc.stderr.decode("utf-8", "replace")
        self.assertEqual(proc.returncode, 78, err)
        self.assertIn("nope.Missing", err)
        self.assertNotIn("calc.Calculator,", err)
        self.assertFalse(harness.port_open(g.port))


FilesServices, ReflectionServices = in_both_modes("Services", ServicesChecks)


# ---- where the schema comes from -----------------------------------------------------------------


class SourceChecks:

    def test_gateway_alone(self):
        with open(self.gateway.ini) as f:
            ini = f.read()
        self.assertNotIn("[service.", ini)
        self.assertNotIn("[host]", ini)
        log = self.gateway.log()
        self.assertIn("upstream %s" % self.upstream.target(), log)
        if self.mode == "descriptors":
            self.assertIn("from 1 descriptor file\n", log)
            self.assertNotIn("grpc.reflection", log)
        else:
            self.assertNotIn("descriptors", ini)
            self.assertIn(" + grpc.reflection.v1 (3 services, ", log)


FilesSource, ReflectionSource = in_both_modes("Source", SourceChecks)


class ShippedExampleChecks:
    """conf/gateway-only.ini as shipped, with only its addresses changed
    (and its descriptors line uncommented, to name the test's set)."""

    def test_conf_gateway_only_ini(self):
        with open(os.path.join(harness.ROOT, "conf", "gateway-only.ini")) as f:
            text = f.read()
        for old, new in (("listen = 127.0.0.1:8080\n", "listen = {listen}\n"),
                         ("upstream = 127.0.0.1:50051\n", "upstream = {upstream}\n"),
                         (";descriptors = api.pb\n", (
                             "descriptors = %s\n" % World.descriptor_set()
                             if self.mode == "descriptors" else ";\n"))):
            self.assertEqual(text.count(old), 1, old)
            text = text.replace(old, new)
        g = self.own_gateway(text=text)
        self.assertEqual([l for l in text.splitlines() if l.startswith("[")], ["[gateway]"])
        self.assertEqual(int(self.ok("GET", "/v1/whoami")["pid"]), self.upstream.pid)
        self.assertEqual(self.ok("POST", "/v1/calc:add", ndjson({"value": 1}, {"value": 2})),
                         {"total": "3", "count": 2})
        self.error("POST", "/calc.Calculator/Plain", {}, status=404, code=5)  # auto_map = off
        self.assertIn("routes from %s" % ("1 descriptor file" if self.mode == "descriptors"
                                          else "0 descriptor files + grpc.reflection.v1 "),
                      g.log())


FilesShippedExample, ReflectionShippedExample = in_both_modes("ShippedExample",
                                                              ShippedExampleChecks)


class ReflectionFallback(ForeignCase):
    mode = "reflection"

    def test_v1alpha_only_upstream(self):
        g = self.own_gateway(upstream="v1alpha")
        self.assertIn(" + grpc.reflection.v1alpha (3 services, ", g.log())
        self.assertEqual(int(self.ok("GET", "/v1/whoami")["pid"]),
                         World.upstream("v1alpha").pid)
        self.assertEqual(self.ok("POST", "/v1/calc:add", ndjson({"value": 1}, {"value": 2})),
                         {"total": "3", "count": 2})


class Supervised(ForeignCase):
    """Issue 8, item 2: rpcrestd with an INI that has [gateway] upstream and
    no [service.*] supervises the gateway alone (no rpcrest-host)."""
    mode = "reflection"

    def supervise(self, g, env=None):
        """Runs rpcrestd on gateway g's INI (with env, if given); returns
        (process, {name: pid} of the children seen so far).  Everything is
        stopped at cleanup."""
        log_path = os.path.join(World.dir, "rpcrestd-%d.log" % g.port)
        with open(log_path, "ab") as log:
            proc = subprocess.Popen([os.path.join(harness.BUILD, "rpcrestd"), "-c", g.ini],
                                    stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, env=env)
        seen = {}

        def stop():
            seen.update(harness.children_of(proc.pid))
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for pid in seen.values():
                if harness.pid_alive(pid):
                    os.kill(pid, signal.SIGKILL)
        self.addCleanup(stop)

        def answers():
            seen.update(harness.children_of(proc.pid))
            try:
                return harness.port_open(g.port) and self.http("GET", "/v1/whoami")[0] == 200
            except OSError:
                return False
        self.port = g.port
        with open(log_path, "rb") as f:
            ok = harness.wait_until(answers, 4, 0.05)
            self.assertTrue(ok, "no answer; rpcrestd log:\n" + f.read().decode("utf-8", "replace"))
        return proc, seen

    def test_rpcrestd_runs_the_gateway_alone(self):
        proc, seen = self.supervise(World.new_gateway(self.mode))
        self.assertEqual(int(self.ok("GET", "/v1/whoami")["pid"]), self.upstream.pid)
        children = set(harness.children_of(proc.pid)) - {"rpcrestd-guard"}
        self.assertEqual(sorted(children), ["rpcrest-gateway"])
        self.assertNotIn("rpcrest-host", seen)

    def test_rpcrestctl_reports_the_gateway_alone(self):
        """With the gateway alone there is no rpcrest-host to report: status
        lists the gateway only and exits 0 while it runs, and metrics have no
        rpcrest-host series (its child_up would stay 0, and page, for ever)."""
        g = World.new_gateway(self.mode)
        with open(g.ini, "a") as f:  # the INIs share a folder, where the default would be
            f.write("\n[supervisor]\ncontrol_socket = %s\n"
                    % os.path.join(World.dir, "rpcrestd-%d.sock" % g.port))
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(listener.close)
        notify = os.path.join(World.dir, "notify-%d.sock" % g.port)
        listener.bind(notify)
        listener.settimeout(10)
        self.supervise(g, env=dict(os.environ, NOTIFY_SOCKET=notify))

        def rpcrestctl(*args):
            return subprocess.run([os.path.join(harness.BUILD, "rpcrestctl"), "-c", g.ini]
                                  + list(args), capture_output=True, text=True, timeout=15,
                                  stdin=subprocess.DEVNULL)
        status = rpcrestctl("status")
        self.assertEqual(status.returncode, 0, status)
        self.assertRegex(status.stdout, r"(?m)^rpcrest-gateway +RUNNING ")
        # and systemd hears of the gateway alone
        message = listener.recv(4096).decode()
        self.assertIn("READY=1", message.split("\n"), message)
        self.assertIn("STATUS=rpcrest-gateway is running", message.split("\n"), message)
        self.assertNotIn("rpcrest-host", status.stdout)
        as_json = rpcrestctl("status", "--json")
        self.assertEqual(as_json.returncode, 0, as_json)
        self.assertEqual([c["name"] for c in json.loads(as_json.stdout)["children"]],
                         ["rpcrest-gateway"])
        metrics = rpcrestctl("metrics")
        self.assertEqual(metrics.returncode, 0, metrics)
        self.assertIn('rpcrest_supervisor_child_up{child="rpcrest-gateway"} 1', metrics.stdout)
        self.assertNotIn('child="rpcrest-host"', metrics.stdout)

    def test_a_new_stop_timeout_replaces_the_gateway_alone(self):
        """[supervisor] stop_timeout changed with the gateway alone: the
        gateway is replaced (it plans its stop by it), and there is no
        rpcrest-host to speak of."""
        g = World.new_gateway(self.mode)
        with open(g.ini, "a") as f:  # the INIs share a folder, where the default would be
            f.write("\n[supervisor]\nstop_timeout = 10\ncontrol_socket = %s\n"
                    % os.path.join(World.dir, "rpcrestd-%d.sock" % g.port))
        proc, _ = self.supervise(g)
        before = harness.children_of(proc.pid)["rpcrest-gateway"]
        with open(g.ini) as f:
            text = f.read()
        with open(g.ini, "w") as f:
            f.write(text.replace("stop_timeout = 10\n", "stop_timeout = 8\n"))
        reload = subprocess.run([os.path.join(harness.BUILD, "rpcrestctl"), "-c", g.ini,
                                 "reload"], capture_output=True, text=True, timeout=30,
                                stdin=subprocess.DEVNULL)
        self.assertEqual(reload.returncode, 0, reload)
        self.assertIn("rpcrest-gateway: [gateway] stop_timeout changed", reload.stdout)
        self.assertNotIn("rpcrest-host", reload.stdout)
        status = subprocess.run([os.path.join(harness.BUILD, "rpcrestctl"), "-c", g.ini,
                                 "status", "--json"], capture_output=True, text=True,
                                timeout=15, stdin=subprocess.DEVNULL)
        children = json.loads(status.stdout)["children"]
        self.assertEqual([c["name"] for c in children], ["rpcrest-gateway"])
        self.assertNotEqual(children[0]["pid"], before)
        # [host] keys mean nothing here: no rpcrest-host runs, and the
        # gateway does not use [host] listen
        with open(g.ini, "a") as f:
            f.write("\n[host]\ndrain_timeout = 2\nlisten = 127.0.0.1:1\n")
        reload = subprocess.run([os.path.join(harness.BUILD, "rpcrestctl"), "-c", g.ini,
                                 "reload"], capture_output=True, text=True, timeout=30,
                                stdin=subprocess.DEVNULL)
        self.assertEqual((reload.returncode, reload.stdout),
                         (0, "reloaded; no child is affected\n"), reload)

    def test_two_gateways_alone_side_by_side(self):
        """A gateway alone has no host address of its own: a second one
        (same default [host] listen, its own port) was refused with
        'another rpcrestd serves 127.0.0.1:5505'."""
        first, _ = self.supervise(World.new_gateway(self.mode))
        g = World.new_gateway(self.mode)
        with open(g.ini, "a") as f:  # the INIs share a folder, where the default would be
            f.write("\n[supervisor]\ncontrol_socket = %s\n"
                    % os.path.join(World.dir, "rpcrestd-%d.sock" % g.port))
        second, _ = self.supervise(g)
        self.assertIsNone(first.poll())
        self.assertIsNone(second.poll())
        self.assertEqual(int(self.ok("GET", "/v1/whoami")["pid"]), self.upstream.pid)

if __name__ == "__main__":
    unittest.main()
