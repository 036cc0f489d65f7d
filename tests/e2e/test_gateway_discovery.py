"""End-to-end tests of the gateway's server-reflection client
(gateway/gw_discovery.c), through build/tests/discovery_tool, which fetches
a server's schema over reflection, loads it with gw_schema_load_buffers and
prints the methods and their HTTP bindings.

The upstream is a gRPC server in this process (Python grpcio) with an Echo
handler and the ServerReflection servicer of pyupstream.py
(ReflectionService), on stubs that grpc_tools generates at test time from
/usr/share/grpc-proto (v1 and v1alpha).  It serves descriptor sets made at
test time with grpc_tools.protoc --include_imports: services/echo/echo.proto,
a second proto importing it, and gRPC's own reflection and health protos.
Its behaviour is set per test: which reflection versions it speaks, whether
it sends a file's imports with it (as the C++ and Go servers do) or only the
file asked for, extra listed services it cannot describe, and an answer that
never comes.

Also: a server without reflection (UNIMPLEMENTED, exit 1, no hang), nothing
listening (UNAVAILABLE at once; with wait-for-ready, DEADLINE_EXCEEDED at the
timeout), a server that starts while the tool waits for it, servers that
break the protocol, every outcome under valgrind, and the real upstream,
build/rpcrest-host with the echo plugin.
Only 127.0.0.1; every server is stopped in tearDown (the host by PID).
"""
import atexit
import concurrent.futures
import http.client
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import grpc
from google.protobuf import descriptor_pb2

import harness
import pyupstream

TOOL = os.path.join(harness.BUILD, "tests", "discovery_tool")
GRPC_PROTO = "/usr/share/grpc-proto"
ECHO_METHOD = "/example.MyService/Echo"
V1 = "grpc.reflection.v1"
V1ALPHA = "grpc.reflection.v1alpha"


def max_files():
    """GW_DISCOVERY_MAX_FILES, as gateway/gw_discovery.h defines it."""
    with open(os.path.join(harness.ROOT, "gateway", "gw_discovery.h")) as f:
        return int(re.search(r"#define GW_DISCOVERY_MAX_FILES (\d+)", f.read()).group(1))


HTTP_RULE_FIELD = 72295728  # google.api.http, an extension of MethodOptions


varint = harness.varint


def ld(field, data):
    """A length-delimited protobuf field: its tag, its length, data."""
    return varint(field << 3 | 2) + varint(len(data)) + data


def schema_limit(what):
    """GW_SCHEMA_MAX_<what> (SERVICES, METHODS, BINDINGS), as
    gateway/gw_schema.h defines it."""
    with open(os.path.join(harness.ROOT, "gateway", "gw_schema.h")) as f:
        return int(re.search(r"#define GW_SCHEMA_MAX_%s (\d+)" % what, f.read()).group(1))

# A second service file that imports echo.proto: its files overlap the
# echo service's, and it declares two services (one request must do).
SECOND_PROTO = """\
syntax = "proto3";
package other;
import "echo.proto";
import "google/api/annotations.proto";
service Second {
  rpc Shout(example.StringMessage) returns (example.StringMessage) {
    option (google.api.http) = { get: "/v1/shout/{value}" };
  }
}
service Third {
  rpc Whisper(example.StringMessage) returns (example.StringMessage);
}
"""


def protoc(args, cwd=None):
    subprocess.run([harness.PYTHON, "-m", "grpc_tools.protoc"] + args, check=True,
                   cwd=cwd or harness.ROOT)


class Fixtures:
    """Made once per run: descriptor sets and reflection stubs."""
    dir = None
    db = pyupstream.DescriptorDB()
    files = db.files      # file name -> serialized FileDescriptorProto
    protos = db.protos    # file name -> FileDescriptorProto
    symbols = db.symbols  # full symbol name -> file name
    stubs = {}            # "grpc.reflection.v1" -> (pb2, pb2_grpc)

    @classmethod
    def make(cls):
        if cls.dir:
            return
        import grpc_tools
        cls.dir = tempfile.mkdtemp(prefix="rpcrest-discovery-")
        atexit.register(shutil.rmtree, cls.dir, True)
        well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
        with open(os.path.join(cls.dir, "second.proto"), "w") as f:
            f.write(SECOND_PROTO)
        sets = [
            (["-I" + cls.dir, "-I" + os.path.join(harness.ROOT, "services/echo"),
              "-I" + os.path.join(harness.ROOT, "proto"), "-I/usr/include", "-I" + well_known],
             ["echo.proto", "second.proto"]),
            (["-I" + GRPC_PROTO, "-I/usr/include", "-I" + well_known],
             ["grpc/reflection/v1/reflection.proto", "grpc/reflection/v1alpha/reflection.proto",
              "grpc/health/v1/health.proto"]),
        ]
        for i, (includes, protos) in enumerate(sets):
            out = os.path.join(cls.dir, "set%d.pb" % i)
            protoc(includes + ["--include_imports", "--descriptor_set_out=" + out] + protos)
            cls.db.add_set_file(out)
        # Stubs from copies under names of their own, so that the generated
        # modules do not collide with the installed "grpc" package.
        for version, sub in ((V1, "v1"), (V1ALPHA, "v1alpha")):
            name = "rpcrest_reflection_%s.proto" % sub
            shutil.copy(os.path.join(GRPC_PROTO, "grpc/reflection", sub, "reflection.proto"),
                        os.path.join(cls.dir, name))
            cls.stubs[version] = harness.grpc_modules(name, cls.dir)

    @classmethod
    def closure(cls, name):
        """name and its transitive imports, imports first."""
        return cls.db.closure(name)


class ReflectionServer:
    """A grpcio server on 127.0.0.1 with Echo and, per `versions`, the
    reflection service.

    listed: the service names list_services answers with.
    send_imports: answer a file request with the file and its imports not
        yet sent on this stream (True), or with the file alone (False).
    hang: never answer list_services (until stop()).
    misbehave: one way of breaking the protocol, None for none:
        "garbage"     every v1 answer is bytes that do not decode
        "abort"       the stream ends with INTERNAL after list_services
        "wrong_file"  file_by_filename answers with echo.proto
        "undeclared"  file_containing_symbol answers with google/api/http.proto
    """

    def __init__(self, versions=(V1,), listed=("example.MyService",), send_imports=True,
                 hang=False, port=0, misbehave=None):
        self.versions = versions
        self.misbehave = misbehave
        self.release = threading.Event()
        self.reflection = pyupstream.ReflectionService(
            Fixtures.db, listed, send_imports=send_imports,
            hang=self.release if hang else None, misbehave=misbehave)
        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4))
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "example.MyService",
            {"Echo": grpc.unary_unary_rpc_method_handler(lambda req, ctx: req)}),))
        if misbehave == "garbage":
            self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
                V1 + ".ServerReflection",
                {"ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                    lambda requests, ctx: (b"\xff\xff\xff" for _ in requests))}),))
        self.reflection.add_to_server(self.server, Fixtures.stubs, versions)
        self.port = self.server.add_insecure_port("127.0.0.1:%d" % port)
        if not self.port:
            raise AssertionError("cannot bind 127.0.0.1:%d" % port)

    def start(self):
        self.server.start()
        return self

    def stop(self):
        self.release.set()
        self.server.stop(0).wait(5)

    def target(self):
        return "127.0.0.1:%d" % self.port

    @property
    def requests(self):
        """(version, kind, value) of every reflection request, in arrival order."""
        return self.reflection.requests

    def kinds(self, kind):
        return self.reflection.kinds(kind)


class ManyFilesServer:
    """A grpcio server on 127.0.0.1 whose reflection lists `listed` and
    answers a request for a service with `files` (serialized
    FileDescriptorProtos, the first declaring it) in one message, as a
    server sends a file with all its imports."""

    def __init__(self, files, listed=("many.Service",), port=0):
        pb2, pb2_grpc = Fixtures.stubs[V1]

        class Servicer(pb2_grpc.ServerReflectionServicer):
            def ServerReflectionInfo(self, requests, context):
                for req in requests:
                    resp = pb2.ServerReflectionResponse()
                    kind = req.WhichOneof("message_request")
                    if kind == "list_services":
                        for name in listed:
                            resp.list_services_response.service.add(name=name)
                    elif kind == "file_containing_symbol":
                        resp.file_descriptor_response.file_descriptor_proto.extend(files)
                    else:
                        resp.error_response.error_code = grpc.StatusCode.NOT_FOUND.value[0]
                        resp.error_response.error_message = "not here"
                    yield resp
        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=2))
        pb2_grpc.add_ServerReflectionServicer_to_server(Servicer(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:%d" % port)

    def start(self):
        self.server.start()
        return self

    def stop(self):
        self.server.stop(0).wait(5)

    def target(self):
        return "127.0.0.1:%d" % self.port

    @staticmethod
    def api(methods=1, services=1, bindings=0):
        """One file, many.proto: `services` services many.S0 …, the first
        with `methods` methods C0 … (auto-mapped: POST /many.S0/C0), the
        first method with `bindings` HTTP bindings (a google.api.http rule
        whose additional_bindings hold all but one)."""
        f = descriptor_pb2.FileDescriptorProto(name="many.proto", package="many",
                                               syntax="proto3")
        f.message_type.add(name="M")
        for i in range(services):
            f.service.add(name="S%d" % i)
        for i in range(methods):
            f.service[0].method.add(name="C%d" % i, input_type=".many.M", output_type=".many.M")
        if bindings:
            rule = ld(2, b"/v1/c/0") + b"".join(ld(11, ld(2, b"/v1/c/%d" % i))
                                                for i in range(1, bindings))
            f.service[0].method[0].options.MergeFromString(ld(HTTP_RULE_FIELD, rule))
        return f.SerializeToString()

    @staticmethod
    def chain(n):
        """f0.proto … f{n-1}.proto, each importing the next; f0 declares
        many.Service with one method."""
        files = []
        for i in range(n):
            f = descriptor_pb2.FileDescriptorProto(name="f%d.proto" % i, package="many",
                                                   syntax="proto3")
            if i + 1 < n:
                f.dependency.append("f%d.proto" % (i + 1))
            if i == 0:
                f.message_type.add(name="M")
                f.service.add(name="Service").method.add(name="Call", input_type=".many.M",
                                                         output_type=".many.M")
            files.append(f.SerializeToString())
        return files


class Result:
    def __init__(self, proc, elapsed, set_path):
        self.code = proc.returncode
        self.out = proc.stdout.decode("utf-8", "replace")
        self.err = proc.stderr.decode("utf-8", "replace")
        self.elapsed = elapsed
        self.lines = self.out.splitlines()
        self.methods = [l[len("method "):] for l in self.lines if l.startswith("method ")]
        self.services = [l[len("service "):] for l in self.lines if l.startswith("service ")]
        self.protocol = next((l.split()[1] for l in self.lines if l.startswith("protocol ")),
                             None)
        self.files = []
        if self.code == 0 and set_path and os.path.exists(set_path):
            with open(set_path, "rb") as f:
                self.files = list(descriptor_pb2.FileDescriptorSet.FromString(f.read()).file)

    def __str__(self):
        return "exit %s after %.2fs\nstdout:\n%s\nstderr:\n%s" % (
            self.code, self.elapsed, self.out, self.err)


class DiscoveryCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.access(TOOL, os.X_OK):
            raise AssertionError("not built: %s (run make tests first)" % TOOL)
        Fixtures.make()

    def setUp(self):
        self.servers = []
        self.tmp = tempfile.mkdtemp(prefix="rpcrest-discovery-run-")

    def tearDown(self):
        for s in self.servers:
            s.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def server(self, **kw):
        s = ReflectionServer(**kw)
        self.servers.append(s)
        return s.start()

    def tool(self, target, *options, timeout_ms=5000, limit=30):
        set_path = os.path.join(self.tmp, "set.pb")
        if os.path.exists(set_path):
            os.unlink(set_path)
        cmd = [TOOL, "-t", str(timeout_ms), "-o", set_path] + list(options) + [target]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=limit)
        return Result(proc, time.monotonic() - t0, set_path)

    def assert_ok(self, r):
        self.assertEqual(r.code, 0, str(r))
        self.assertEqual(r.err, "", str(r))

    def assert_failed(self, r, *needles):
        self.assertEqual(r.code, 1, str(r))
        self.assertEqual(r.out, "", str(r))
        self.assertTrue(r.err.startswith("discovery_tool: reflection: "), str(r))
        for n in needles:
            self.assertIn(n, r.err, str(r))

    def assert_set_well_formed(self, r):
        """Every file once, every import present and before its importer."""
        names = [f.name for f in r.files]
        self.assertEqual(len(names), len(set(names)), names)
        before = set()
        for f in r.files:
            for dep in f.dependency:
                self.assertIn(dep, before, "%s imports %s: %s" % (f.name, dep, names))
            before.add(f.name)


class V1Test(DiscoveryCase):

    def test_echo_methods_and_bindings(self):
        s = self.server()
        r = self.tool(s.target())
        self.assert_ok(r)
        self.assertEqual(r.protocol, V1)
        self.assertEqual(r.services, ["example.MyService"])
        self.assertEqual(r.methods, [ECHO_METHOD + " POST /v1/example/echo"])
        self.assertEqual(s.kinds("list_services"), ["*"])
        self.assertEqual(s.kinds("file_containing_symbol"), ["example.MyService"])
        self.assertEqual(s.kinds("file_by_filename"), [])  # the imports came along
        self.assertEqual({v for v, _, _ in s.requests}, {V1})

    def test_file_set_is_complete_ordered_and_byte_exact(self):
        s = self.server()
        r = self.tool(s.target())
        self.assert_ok(r)
        self.assert_set_well_formed(r)
        names = sorted(f.name for f in r.files)
        self.assertEqual(names, sorted(Fixtures.closure("echo.proto")))
        self.assertIn("files %d" % len(names), r.lines)
        for f in r.files:  # options (google.api.http) survive as sent
            self.assertEqual(f.SerializeToString(), Fixtures.files[f.name])

    def test_imports_fetched_by_filename(self):
        """A server that sends only the file asked for: the tool asks for
        each missing import by name, once."""
        s = self.server(send_imports=False)
        r = self.tool(s.target())
        self.assert_ok(r)
        self.assertEqual(r.methods, [ECHO_METHOD + " POST /v1/example/echo"])
        asked = s.kinds("file_by_filename")
        self.assertEqual(sorted(asked), sorted(f for f in Fixtures.closure("echo.proto")
                                               if f != "echo.proto"))
        self.assert_set_well_formed(r)

    def test_several_services_sharing_files(self):
        listed = ("example.MyService", "other.Second", "other.Third")
        for send_imports in (True, False):
            with self.subTest(send_imports=send_imports):
                s = self.server(listed=listed, send_imports=send_imports)
                r = self.tool(s.target())
                self.assert_ok(r)
                self.assertEqual(r.services, list(listed))
                self.assertEqual(r.methods, [ECHO_METHOD + " POST /v1/example/echo",
                                             "/other.Second/Shout GET /v1/shout/{value}",
                                             "/other.Third/Whisper -"])
                # other.Third is in second.proto, which the tool already has
                self.assertEqual(s.kinds("file_containing_symbol"),
                                 ["example.MyService", "other.Second"])
                self.assert_set_well_formed(r)
                self.assertEqual(sorted(f.name for f in r.files),
                                 sorted(Fixtures.closure("second.proto")))
                asked = s.kinds("file_by_filename")
                self.assertEqual(len(asked), len(set(asked)), asked)

    def test_internal_services_left_out_unless_asked(self):
        listed = ("grpc.reflection.v1.ServerReflection", "example.MyService",
                  "grpc.health.v1.Health")
        s = self.server(listed=listed)
        r = self.tool(s.target())
        self.assert_ok(r)
        self.assertEqual(r.services, ["example.MyService"])
        self.assertEqual(s.kinds("file_containing_symbol"), ["example.MyService"])
        r = self.tool(s.target(), "-i")
        self.assert_ok(r)
        self.assertEqual(r.services, list(listed))
        self.assertEqual(r.methods, [
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo -",
            ECHO_METHOD + " POST /v1/example/echo",
            "/grpc.health.v1.Health/Check -", "/grpc.health.v1.Health/Watch -"])

    def test_caller_channel(self):
        """gw_discovery_fetch on a channel the caller made (-c)."""
        s = self.server()
        r = self.tool(s.target(), "-c")
        self.assert_ok(r)
        self.assertEqual(r.methods, [ECHO_METHOD + " POST /v1/example/echo"])

    def test_no_services(self):
        s = self.server(listed=("grpc.reflection.v1.ServerReflection",))
        r = self.tool(s.target())
        self.assert_ok(r)
        self.assertEqual((r.services, r.methods, r.files), ([], [], []))

    def test_error_response_for_a_symbol(self):
        """A listed service the upstream has no file for (NOT_FOUND) is left
        out and named; the others are served."""
        s = self.server(listed=("example.Missing", "example.MyService"))
        r = self.tool(s.target())
        self.assert_ok(r)
        self.assertEqual(r.services, ["example.MyService"])
        self.assertIn("undescribed example.Missing (NOT_FOUND: not found: example.Missing)",
                      r.lines)
        self.assertEqual(r.methods, ["/example.MyService/Echo POST /v1/example/echo"])


class BrokenServerTest(DiscoveryCase):
    """Servers that break the protocol: a clear error, never a hang."""

    def test_undecodable_answer(self):
        s = self.server(versions=(), misbehave="garbage")
        r = self.tool(s.target())
        self.assert_failed(r, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo: "
                              "the upstream sent an undecodable ServerReflectionResponse")

    def test_stream_ended_early(self):
        s = self.server(misbehave="abort")
        r = self.tool(s.target())
        # each request has a stream of its own: list_services's ends so
        self.assert_failed(r, "the reflection stream ended with an error "
                              "(INTERNAL: broken on purpose)")

    def test_import_not_sent(self):
        s = self.server(send_imports=False, misbehave="wrong_file")
        r = self.tool(s.target())
        self.assert_failed(r, "google/api/annotations.proto (imported by echo.proto): "
                              "the upstream did not send it")

    def test_service_not_declared(self):
        s = self.server(misbehave="undeclared")
        r = self.tool(s.target())
        self.assert_failed(r, "example.MyService: the files the upstream sent for it do not "
                              "declare it")


class ManyFilesTest(DiscoveryCase):
    """An answer with as many files as the gateway takes, and with more:
    the files past GW_DISCOVERY_MAX_FILES are refused, however many they
    are, and a chain of imports as long as the limit loads.  Many services
    in one file, each listed twice, are each found once."""

    def many_files_server(self, files, **kw):
        s = ManyFilesServer(files, **kw)
        self.servers.append(s)
        return s.start()

    def test_import_chain_as_long_as_the_limit(self):
        n = max_files()
        r = self.tool(self.many_files_server(ManyFilesServer.chain(n)).target())
        self.assert_ok(r)
        self.assertIn("files %d" % n, r.lines)
        self.assertEqual(r.methods, ["/many.Service/Call -"])
        self.assertEqual(len(r.files), n)
        self.assertEqual(r.files[0].name, "f%d.proto" % (n - 1))  # imports first
        self.assert_set_well_formed(r)

    def test_one_file_more_than_the_limit(self):
        n = max_files()
        r = self.tool(self.many_files_server(ManyFilesServer.chain(n + 1)).target())
        self.assert_failed(r, "reflection: the upstream sent more than %d files" % n)

    def test_many_times_the_limit_in_one_answer(self):
        """20 times the limit (a few MB; 64 MiB would hold 1.7 million):
        refused as soon as the limit is passed, within the timeout."""
        n = max_files()
        files = ManyFilesServer.chain(1)
        files += [descriptor_pb2.FileDescriptorProto(name="g%d.proto" % i).SerializeToString()
                  for i in range(20 * n)]
        r = self.tool(self.many_files_server(files).target(), timeout_ms=10000)
        self.assert_failed(r, "reflection: the upstream sent more than %d files" % n)

    def test_many_services_listed_twice(self):
        n = 50000
        f = descriptor_pb2.FileDescriptorProto(name="s.proto", package="many", syntax="proto3")
        names = ["many.S%d" % i for i in range(n)]
        for i in range(n):
            f.service.add(name="S%d" % i)
        r = self.tool(self.many_files_server([f.SerializeToString()],
                                             listed=names + names).target(),
                      timeout_ms=10000)
        self.assert_ok(r)
        self.assertIn("files 1", r.lines)
        self.assertEqual(r.services, names)


class FallbackTest(DiscoveryCase):

    def test_v1alpha_only(self):
        s = self.server(versions=(V1ALPHA,),
                        listed=("grpc.reflection.v1alpha.ServerReflection", "example.MyService"))
        r = self.tool(s.target())
        self.assert_ok(r)
        self.assertEqual(r.protocol, V1ALPHA)
        self.assertEqual(r.services, ["example.MyService"])
        self.assertEqual(r.methods, [ECHO_METHOD + " POST /v1/example/echo"])
        self.assertEqual({v for v, _, _ in s.requests}, {V1ALPHA})

    def test_v1alpha_only_imports_by_filename(self):
        s = self.server(versions=(V1ALPHA,), send_imports=False)
        r = self.tool(s.target())
        self.assert_ok(r)
        self.assertEqual(r.protocol, V1ALPHA)
        self.assertEqual(r.methods, [ECHO_METHOD + " POST /v1/example/echo"])
        self.assertTrue(s.kinds("file_by_filename"))

    def test_both_versions_prefers_v1(self):
        s = self.server(versions=(V1ALPHA, V1))
        r = self.tool(s.target())
        self.assert_ok(r)
        self.assertEqual(r.protocol, V1)
        self.assertEqual({v for v, _, _ in s.requests}, {V1})


VALGRIND = ["valgrind", "-q", "--leak-check=full", "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99"]


@unittest.skipUnless(shutil.which("valgrind"), "valgrind is not installed")
@unittest.skipIf(harness.SANITIZED, "an ASan build cannot run under valgrind")
class ValgrindTest(DiscoveryCase):
    """Every outcome, success and each error path, under valgrind: no
    invalid access, nothing definitely or indirectly lost.  ("Possibly
    lost" is not counted: gRPC's process-wide objects, such as absl's
    RandenPool and the event engine's threads and subchannel arguments still
    held at exit, show up there, and vary from run to run.)"""

    def test_no_errors_no_leaks(self):
        vg = VALGRIND
        listed3 = ("example.MyService", "other.Second", "other.Third")
        cases = [  # (server settings or None for nothing listening, options, exit)
            (dict(listed=listed3), [], 0),
            (dict(listed=listed3, send_imports=False), ["-c", "-i"], 0),
            (dict(versions=(V1ALPHA,)), [], 0),
            (dict(versions=()), [], 1),
            (dict(listed=("example.MyService", "example.Missing")), [], 0),
            (dict(versions=(), misbehave="garbage"), [], 1),
            (dict(misbehave="abort"), [], 1),
            (dict(send_imports=False, misbehave="wrong_file"), [], 1),
            (dict(misbehave="undeclared"), [], 1),
            (dict(hang=True), ["-t", "1000"], 1),
            (None, [], 1),
            (None, ["-w", "-t", "1000"], 1),
        ]
        for settings, options, code in cases:
            with self.subTest(server=settings, options=options):
                target = (self.server(**settings).target() if settings is not None
                          else "127.0.0.1:%d" % harness.free_port())
                proc = subprocess.run(vg + [TOOL] + options + [target], capture_output=True,
                                      stdin=subprocess.DEVNULL, timeout=120)
                err = proc.stderr.decode("utf-8", "replace")
                self.assertEqual(proc.returncode, code, err)
                self.assertNotIn("==", err, err)  # -q: valgrind prints only problems


class FailureTest(DiscoveryCase):

    def test_no_reflection_service(self):
        s = self.server(versions=())
        r = self.tool(s.target(), timeout_ms=10000)
        self.assert_failed(r, "UNIMPLEMENTED", "grpc.reflection.v1 nor grpc.reflection.v1alpha")
        self.assertLess(r.elapsed, 3, str(r))
        # the server itself is fine: Echo answers
        with grpc.insecure_channel(s.target()) as ch:
            self.assertEqual(ch.unary_unary(ECHO_METHOD)(b"\x0a\x02hi", timeout=5),
                             b"\x0a\x02hi")

    def test_nothing_listening(self):
        r = self.tool("127.0.0.1:%d" % harness.free_port(), timeout_ms=5000)
        self.assert_failed(r, "UNAVAILABLE")
        self.assertLess(r.elapsed, 3, str(r))

    def test_nothing_listening_wait_for_ready(self):
        r = self.tool("127.0.0.1:%d" % harness.free_port(), "-w", timeout_ms=800)
        self.assert_failed(r, "DEADLINE_EXCEEDED")
        self.assertGreater(r.elapsed, 0.7, str(r))
        self.assertLess(r.elapsed, 3, str(r))

    def test_no_answer_within_the_timeout(self):
        s = self.server(hang=True)
        r = self.tool(s.target(), timeout_ms=800)
        self.assert_failed(r, "DEADLINE_EXCEEDED")
        self.assertGreater(r.elapsed, 0.7, str(r))
        self.assertLess(r.elapsed, 3, str(r))

    def test_server_starting_late_with_wait_for_ready(self):
        port = harness.free_port()
        proc = subprocess.Popen([TOOL, "-w", "-t", "10000", "127.0.0.1:%d" % port],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            time.sleep(0.5)
            self.assertIsNone(proc.poll(), "the tool gave up before the server started")
            self.server(port=port)
            out, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 0, err.decode())
        self.assertIn("method " + ECHO_METHOD + " POST /v1/example/echo", out.decode())


class HostTest(DiscoveryCase):
    """Against the real upstream: build/rpcrest-host serving the echo
    plugin, started alone with an INI written here."""

    def setUp(self):
        super().setUp()
        self.host = None
        self.port = harness.free_port()
        ini = os.path.join(self.tmp, "host.ini")
        with open(ini, "w") as f:
            f.write("[host]\nlisten = 127.0.0.1:%d\nthreads = 2\n\n[service.echo]\n"
                    "plugin = %s\n" % (self.port, os.path.join(harness.BUILD, "services",
                                                                 "echo.so")))
        self.stderr_path = os.path.join(self.tmp, "host.stderr")
        with open(self.stderr_path, "wb") as err:
            self.host = subprocess.Popen([os.path.join(harness.BUILD, "rpcrest-host"), "-c", ini],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=err)
        if not harness.wait_until(lambda: self.host.poll() is None
                                  and "rpcrest-host: serving " in self.host_stderr(), 10):
            raise AssertionError("rpcrest-host did not start; stderr:\n" + self.host_stderr())

    def tearDown(self):
        if self.host and self.host.poll() is None:
            os.kill(self.host.pid, signal.SIGKILL)
            self.host.wait()
        super().tearDown()

    def host_stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def test_echo_service_over_reflection(self):
        r = self.tool("127.0.0.1:%d" % self.port)
        self.assert_ok(r)
        self.assertEqual(r.protocol, V1)
        self.assertEqual(r.services, ["example.MyService"])
        self.assertEqual(r.methods, [ECHO_METHOD + " POST /v1/example/echo"])
        self.assert_set_well_formed(r)
        with open(os.path.join(harness.BUILD, "services", "echo.pb"), "rb") as f:
            expected = descriptor_pb2.FileDescriptorSet.FromString(f.read())
        self.assertEqual(sorted(f.name for f in r.files), sorted(f.name for f in expected.file))

    def test_internal_services_of_the_host(self):
        r = self.tool("127.0.0.1:%d" % self.port, "-i")
        self.assert_ok(r)
        for svc in ("example.MyService", "grpc.reflection.v1.ServerReflection",
                    "grpc.health.v1.Health"):
            self.assertIn(svc, r.services)
        self.assertIn("/grpc.health.v1.Health/Check -", r.methods)
        self.assert_set_well_formed(r)

    @unittest.skipUnless(shutil.which("valgrind"), "valgrind is not installed")
    @unittest.skipIf(harness.SANITIZED, "an ASan build cannot run under valgrind")
    def test_under_valgrind(self):
        proc = subprocess.run(VALGRIND + [TOOL, "-i", "127.0.0.1:%d" % self.port],
                              capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
        err = proc.stderr.decode("utf-8", "replace")
        self.assertEqual(proc.returncode, 0, err)
        self.assertNotIn("==", err, err)


class GatewayServedTest(DiscoveryCase):
    """rpcrest-gateway in front of a reflection server that lists only
    some of the services its files declare (a .proto with a service no
    plugin registers): routes only for the services it serves."""

    def serving_gateway(self, s):
        """rpcrest-gateway in front of reflection server s, serving:
        (its port, a function that reads its log)."""
        port = harness.free_port()
        ini = os.path.join(self.tmp, "gateway.ini")
        with open(ini, "w") as f:
            f.write("[gateway]\nlisten = 127.0.0.1:%d\nupstream = %s\ntimeout = 2\n"
                    % (port, s.target()))
        log_path = os.path.join(self.tmp, "gateway.log")
        with open(log_path, "wb") as log:
            gw = subprocess.Popen([os.path.join(harness.BUILD, "rpcrest-gateway"), "-c", ini],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: gw.poll() is None and (gw.kill(), gw.wait()))

        def read_log():
            with open(log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        self.assertTrue(harness.wait_until(lambda: "listening on http://" in read_log(), 10),
                        read_log())
        return port, read_log

    def test_routes_only_for_listed_services(self):
        s = self.server(listed=("other.Third", "example.MyService"))
        port, log = self.serving_gateway(s)

        def call(method, path, body=None):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                c.request(method, path, body=body, headers={"Content-Type": "application/json"})
                resp = c.getresponse()
                return resp.status, resp.read()
            finally:
                c.close()
        self.assertEqual(call("POST", "/v1/example/echo", b'{"value":"x"}'),
                         (200, b'{"value":"x"}'))
        self.assertEqual(call("GET", "/v1/shout/x")[0], 404, log())
        self.assertIn("the API declares other.Second, which the upstream does not serve: no "
                      "routes for it", log())
        self.assertNotIn("route GET /v1/shout/{value}", log())

    def test_many_undescribed_services_are_counted_not_listed(self):
        """Listed services the upstream has no file for (NOT_FOUND): the
        first 8 are named, the rest counted in one line."""
        missing = ["example.Missing%02d" % i for i in range(20)]
        s = self.server(listed=tuple(missing) + ("example.MyService",))
        port, log = self.serving_gateway(s)
        named = re.findall(r"reflection: the upstream serves (example\.Missing\d+) \(NOT_FOUND: "
                           r"[^\n]*\) but does not describe it: no routes for it\n", log())
        self.assertEqual(named, missing[:8], log())
        self.assertIn("reflection: the upstream serves 12 more services it does not describe: "
                      "no routes for them\n", log())
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("POST", "/v1/example/echo", body=b'{"value":"x"}')
        self.assertEqual(c.getresponse().status, 200, log())
        c.close()


class ApiLimitTest(DiscoveryCase):
    """An API as large as the gateway takes (GW_SCHEMA_MAX_SERVICES,
    _METHODS, _BINDINGS in gw_schema.h), and one past each limit: refused
    with the limit named, by the tool (gw_schema_load_buffers) and by the
    gateway (at start from a descriptor file: it exits; on a reload: it
    keeps the API it serves).  An API of 20,000 methods loads and routes."""

    def many_files_server(self, files, **kw):
        s = ManyFilesServer(files, **kw)
        self.servers.append(s)
        return s.start()

    def assert_refused(self, r, why):
        self.assertEqual(r.code, 1, str(r))
        self.assertEqual(r.out, "", str(r))
        self.assertEqual(r.err.strip(), "discovery_tool: " + why, str(r))

    def test_twenty_thousand_methods(self):
        api = ManyFilesServer.api(methods=20000)
        r = self.tool(self.many_files_server([api], listed=["many.S0"]).target(),
                      timeout_ms=20000, limit=60)
        self.assert_ok(r)
        self.assertEqual(r.methods, ["/many.S0/C%d -" % i for i in range(20000)])

    def test_one_method_more_than_the_limit(self):
        n = schema_limit("METHODS")
        api = ManyFilesServer.api(methods=n + 1)
        r = self.tool(self.many_files_server([api], listed=["many.S0"]).target(),
                      timeout_ms=20000, limit=60)
        self.assert_refused(r, "the API declares %d methods, more than the %d an API may have"
                            % (n + 1, n))

    def test_one_service_more_than_the_limit(self):
        n = schema_limit("SERVICES")
        api = ManyFilesServer.api(services=n + 1)
        r = self.tool(self.many_files_server([api], listed=["many.S0"]).target(),
                      timeout_ms=20000, limit=60)
        self.assert_refused(r, "the API declares %d services, more than the %d an API may have"
                            % (n + 1, n))

    def test_one_binding_more_than_the_limit(self):
        n = schema_limit("BINDINGS")
        r = self.tool(self.many_files_server([ManyFilesServer.api(bindings=n)],
                                             listed=["many.S0"]).target(),
                      timeout_ms=20000, limit=60)
        self.assert_ok(r)
        self.assertEqual(len(r.methods), n)
        api = ManyFilesServer.api(bindings=n + 1)
        r = self.tool(self.many_files_server([api], listed=["many.S0"]).target(),
                      timeout_ms=20000, limit=60)
        self.assert_refused(r, "the API declares more than the %d HTTP bindings "
                            "(google.api.http rules and their additional_bindings) an API "
                            "may have" % n)

    def test_more_services_listed_than_the_limit(self):
        n = schema_limit("SERVICES")
        names = ["many.S%d" % i for i in range(n + 1)]
        r = self.tool(self.many_files_server([ManyFilesServer.api()], listed=names).target(),
                      timeout_ms=20000, limit=60)
        self.assert_failed(r, "reflection: list_services: the upstream lists %d services, "
                           "more than the %d an API may have" % (n + 1, n))

    def gateway(self, ini_text):
        port = harness.free_port()
        ini = os.path.join(self.tmp, "gateway.ini")
        with open(ini, "w") as f:
            f.write("[gateway]\nlisten = 127.0.0.1:%d\n%s" % (port, ini_text))
        log_path = os.path.join(self.tmp, "gateway.log")
        with open(log_path, "wb") as log:
            gw = subprocess.Popen([os.path.join(harness.BUILD, "rpcrest-gateway"), "-c", ini],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: gw.poll() is None and (gw.kill(), gw.wait()))

        def log():
            with open(log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        return gw, port, log

    @staticmethod
    def post(port, path):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            c.request("POST", path, body=b"{}", headers={"Content-Type": "application/json"})
            resp = c.getresponse()
            resp.read()
            return resp.status
        finally:
            c.close()

    def test_gateway_routes_twenty_thousand_methods(self):
        """Every method gets its route; the upstream (reflection only)
        answers UNIMPLEMENTED for any of them: 501, not 404."""
        s = self.many_files_server([ManyFilesServer.api(methods=20000)], listed=["many.S0"])
        gw, port, log = self.gateway("upstream = %s\ntimeout = 20\nauto_map = on\n"
                                     % s.target())
        self.assertTrue(harness.wait_until(lambda: "listening on http://" in log(), 60), log())
        self.assertIn("serving 20000 routes", log())
        self.assertEqual(self.post(port, "/many.S0/C0"), 501, log())
        self.assertEqual(self.post(port, "/many.S0/C19999"), 501, log())
        self.assertEqual(self.post(port, "/many.S0/C20000"), 404, log())

    def test_gateway_refuses_a_descriptor_file_over_the_limit(self):
        n = schema_limit("METHODS")
        path = os.path.join(self.tmp, "many.pb")
        with open(path, "wb") as f:
            f.write(descriptor_pb2.FileDescriptorSet(file=[descriptor_pb2.FileDescriptorProto
                                                           .FromString(ManyFilesServer.api(
                                                               methods=n + 1))])
                    .SerializeToString())
        gw, port, log = self.gateway("upstream = 127.0.0.1:%d\ndescriptors = %s\n"
                                     % (harness.free_port(), path))
        self.assertNotEqual(gw.wait(60), 0, log())
        self.assertIn("the API declares %d methods, more than the %d an API may have"
                      % (n + 1, n), log())
        self.assertNotIn("listening on", log())

    def test_gateway_keeps_its_api_when_the_next_is_over_the_limit(self):
        """The upstream comes back (on the same port) with one method more
        than an API may have: the gateway says why and serves the API it
        has."""
        n = schema_limit("METHODS")
        first = self.many_files_server([ManyFilesServer.api(methods=2)], listed=["many.S0"])
        gw, port, log = self.gateway("upstream = %s\ntimeout = 20\nauto_map = on\n"
                                     % first.target())
        self.assertTrue(harness.wait_until(lambda: "listening on http://" in log(), 20), log())
        self.assertIn("serving 2 routes", log())
        first.stop()
        self.servers.remove(first)
        self.many_files_server([ManyFilesServer.api(methods=n + 1)], listed=["many.S0"],
                               port=first.port)
        why = ("keeping the current API: the API declares %d methods, more than the %d an "
               "API may have" % (n + 1, n))
        self.assertTrue(harness.wait_until(lambda: why in log(), 60), log())
        self.assertEqual(self.post(port, "/many.S0/C1"), 501, log())
        self.assertEqual(self.post(port, "/many.S0/C2"), 404, log())
        self.assertIsNone(gw.poll(), log())


if __name__ == "__main__":
    unittest.main()
