"""End-to-end tests of rpcrest-host's own services: server reflection
(grpc.reflection.v1 and v1alpha ServerReflectionInfo) and health
(grpc.health.v1 Check and Watch).  rpcrest-host is started directly with its
own INI on a free 127.0.0.1 port and called with Python grpcio; the client
stubs are generated at test time from /usr/share/grpc-proto.
"""
import concurrent.futures
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

import harness

HOST_BIN = os.path.join(harness.BUILD, "rpcrest-host")
ECHO_SO = os.path.join(harness.BUILD, "services", "echo.so")
INSPECT_SO = os.path.join(harness.BUILD, "tests", "plugins", "inspect.so")
GRPC_PROTO = "/usr/share/grpc-proto"

V1 = "grpc.reflection.v1.ServerReflection"
V1ALPHA = "grpc.reflection.v1alpha.ServerReflection"
HEALTH = "grpc.health.v1.Health"
ECHO_SERVICE = "example.MyService"
ECHO_DEPS = ["google/api/annotations.proto", "google/api/http.proto",
             "google/protobuf/descriptor.proto"]
HTTP_RULE_EXT = 72295728  # (google.api.http), an extension of MethodOptions
NOT_FOUND = 5

_stubs = {}


def stubs():
    """{"v1": (pb2, pb2_grpc), "v1alpha": ..., "health": ...}, generated with
    grpc_tools into a temp folder.  The protos are copied under a package of
    their own (rpcrest_stubs/) so that the modules don't shadow grpcio's
    `grpc` package; their proto packages, hence the service names, stay."""
    if _stubs:
        return _stubs
    out = tempfile.mkdtemp(prefix="rpcrest-refl-stubs-")
    import atexit
    atexit.register(shutil.rmtree, out, True)
    src = os.path.join(out, "src")
    protos = {"v1": "grpc/reflection/v1/reflection.proto",
              "v1alpha": "grpc/reflection/v1alpha/reflection.proto",
              "health": "grpc/health/v1/health.proto"}
    names = []
    for rel in protos.values():
        dst = os.path.join(src, "rpcrest_stubs", rel[len("grpc/"):])
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(os.path.join(GRPC_PROTO, rel), dst)
        names.append("rpcrest_stubs/" + rel[len("grpc/"):])
    subprocess.run([harness.PYTHON, "-m", "grpc_tools.protoc", "-I" + src,
                    "--python_out=" + out, "--grpc_python_out=" + out] + names, check=True)
    sys.path.insert(0, out)
    import importlib
    for key, name in zip(protos, names):
        base = name[:-len(".proto")].replace("/", ".")
        _stubs[key] = (importlib.import_module(base + "_pb2"),
                       importlib.import_module(base + "_pb2_grpc"))
    return _stubs


class Host:
    """One rpcrest-host with its own INI in a temp folder.
    services: [(section name, plugin path)]."""

    def __init__(self, services=(("echo", ECHO_SO),), threads=2):
        self.dir = tempfile.mkdtemp(prefix="rpcrest-refl-test-")
        self.listen = "127.0.0.1:%d" % harness.free_port()
        self.ini = os.path.join(self.dir, "rpcrest.ini")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.proc = None
        lines = ["[host]", "listen = %s" % self.listen, "threads = %d" % threads, ""]
        for name, path in services:
            lines += ["[service.%s]" % name, "plugin = %s" % path, ""]
        with open(self.ini, "w") as f:
            f.write("\n".join(lines))

    def start(self, timeout=10):
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen([HOST_BIN, "-c", self.ini], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err)
        ready = lambda: self.proc.poll() is None and "rpcrest-host: serving " in self.stderr()
        if not harness.wait_until(ready, timeout, 0.02):
            self.cleanup()
            raise AssertionError("rpcrest-host did not start; stderr:\n" + self.stderr())
        return self

    def channel(self):
        return grpc.insecure_channel(self.listen)

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def parse_files(resp):
    """The FileDescriptorProtos of a file_descriptor_response, in order."""
    out = []
    for raw in resp.file_descriptor_response.file_descriptor_proto:
        fdp = descriptor_pb2.FileDescriptorProto()
        fdp.ParseFromString(raw)
        out.append(fdp)
    return out


def build_pool(fdps):
    """A descriptor pool of fdps, each added after its imports."""
    by_name = {f.name: f for f in fdps}
    pool = descriptor_pool.DescriptorPool()
    added = set()

    def add(name):
        if name in added:
            return
        for dep in by_name[name].dependency:
            add(dep)
        pool.Add(by_name[name])
        added.add(name)
    for name in by_name:
        add(name)
    return pool


def message_class(desc):
    get = getattr(message_factory, "GetMessageClass", None)  # protobuf >= 4.22
    if get:
        return get(desc)
    return message_factory.MessageFactory(desc.file.pool).GetPrototype(desc)


class ReflectionTest(unittest.TestCase):
    """The echo plugin's host, asked through both reflection versions."""

    @classmethod
    def setUpClass(cls):
        cls.s = stubs()
        cls.h = Host().start()
        cls.ch = cls.h.channel()

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()
        cls.h.cleanup()

    def ask(self, *requests, version="v1", timeout=10):
        """Sends the requests on one stream; returns the responses."""
        pb2, pb2_grpc = self.s[version]
        stub = pb2_grpc.ServerReflectionStub(self.ch)
        return list(stub.ServerReflectionInfo(iter(requests), timeout=timeout))

    def req(self, version="v1", **kw):
        return self.s[version][0].ServerReflectionRequest(**kw)

    def ask_one(self, version="v1", **kw):
        responses = self.ask(self.req(version, **kw), version=version)
        self.assertEqual(len(responses), 1)
        return responses[0]

    def file_names(self, resp):
        self.assertEqual(resp.WhichOneof("message_response"), "file_descriptor_response", resp)
        return [f.name for f in parse_files(resp)]

    def test_list_services(self):
        for version in ("v1", "v1alpha"):
            resp = self.ask_one(version, list_services="")
            names = [s.name for s in resp.list_services_response.service]
            self.assertEqual(sorted(names), sorted([ECHO_SERVICE, V1, V1ALPHA, HEALTH]),
                             version)

    def test_service_file_with_its_dependencies(self):
        for version in ("v1", "v1alpha"):
            resp = self.ask_one(version, file_containing_symbol=ECHO_SERVICE)
            names = self.file_names(resp)
            self.assertEqual(names[0], "echo.proto", version)
            self.assertEqual(sorted(names[1:]), sorted(ECHO_DEPS), version)

    def test_returned_files_make_a_working_client(self):
        resp = self.ask_one(file_containing_symbol=ECHO_SERVICE)
        pool = build_pool(parse_files(resp))
        method = pool.FindServiceByName(ECHO_SERVICE).methods_by_name["Echo"]
        Request = message_class(method.input_type)
        Reply = message_class(method.output_type)
        request = Request()
        setattr(request, method.input_type.fields[0].name, "dynamic héllo")
        call = self.ch.unary_unary("/%s/Echo" % ECHO_SERVICE,
                                   request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=Reply.FromString)
        reply = call(request, timeout=10)
        self.assertEqual(getattr(reply, method.output_type.fields[0].name), "dynamic héllo")
        # the google.api.http option survived the round trip (an extension)
        opts = descriptor_pb2.MethodOptions()
        opts.ParseFromString(method.GetOptions().SerializeToString())
        self.assertIn(b"/v1/example/echo", opts.SerializeToString())

    def test_file_by_filename(self):
        self.assertEqual(self.file_names(self.ask_one(file_by_filename="google/api/http.proto")),
                         ["google/api/http.proto"])
        names = self.file_names(self.ask_one(file_by_filename="echo.proto"))
        self.assertEqual(names[0], "echo.proto")
        self.assertEqual(sorted(names[1:]), sorted(ECHO_DEPS))

    def test_symbols_of_every_kind(self):
        cases = {
            "example.MyService.Echo": "echo.proto",                       # method
            "example.StringMessage": "echo.proto",                        # message
            "example.StringMessage.value": "echo.proto",                  # field
            "google.api.HttpRule": "google/api/http.proto",
            "google.api.HttpRule.pattern": "google/api/http.proto",       # oneof
            "google.api.http": "google/api/annotations.proto",            # extension
            "google.protobuf.DescriptorProto.ExtensionRange":             # nested message
                "google/protobuf/descriptor.proto",
            "google.protobuf.FieldDescriptorProto.Type":                  # nested enum
                "google/protobuf/descriptor.proto",
            "google.protobuf.FieldDescriptorProto.TYPE_STRING":           # enum value
                "google/protobuf/descriptor.proto",
            "grpc.health.v1.HealthCheckResponse.ServingStatus": "grpc/health/v1/health.proto",
            HEALTH: "grpc/health/v1/health.proto",
            HEALTH + ".Watch": "grpc/health/v1/health.proto",
            V1: "grpc/reflection/v1/reflection.proto",
            V1ALPHA + ".ServerReflectionInfo": "grpc/reflection/v1alpha/reflection.proto",
            "grpc.reflection.v1.ServerReflectionRequest": "grpc/reflection/v1/reflection.proto",
        }
        for symbol, file in cases.items():
            names = self.file_names(self.ask_one(file_containing_symbol=symbol))
            self.assertEqual(names[0], file, symbol)

    def test_unknown_symbol_and_file_are_not_found(self):
        for version in ("v1", "v1alpha"):
            resp = self.ask_one(version, file_containing_symbol="example.Nope")
            self.assertEqual(resp.WhichOneof("message_response"), "error_response")
            self.assertEqual(resp.error_response.error_code, NOT_FOUND)
            self.assertEqual(resp.error_response.error_message, "symbol not found: example.Nope")
            resp = self.ask_one(version, file_by_filename="nope.proto")
            self.assertEqual(resp.error_response.error_code, NOT_FOUND)
            self.assertEqual(resp.error_response.error_message, "file not found: nope.proto")

    def test_extensions(self):
        resp = self.ask_one(file_containing_extension=self.s["v1"][0].ExtensionRequest(
            containing_type="google.protobuf.MethodOptions", extension_number=HTTP_RULE_EXT))
        self.assertEqual(self.file_names(resp)[0], "google/api/annotations.proto")
        resp = self.ask_one(all_extension_numbers_of_type="google.protobuf.MethodOptions")
        self.assertEqual(resp.all_extension_numbers_response.base_type_name,
                         "google.protobuf.MethodOptions")
        self.assertEqual(list(resp.all_extension_numbers_response.extension_number),
                         [HTTP_RULE_EXT])
        resp = self.ask_one(all_extension_numbers_of_type="example.StringMessage")
        self.assertEqual(list(resp.all_extension_numbers_response.extension_number), [])
        for kw in ({"all_extension_numbers_of_type": "example.Nope"},
                   {"all_extension_numbers_of_type": ECHO_SERVICE},  # not a message
                   {"file_containing_extension": self.s["v1"][0].ExtensionRequest(
                       containing_type="google.protobuf.MethodOptions", extension_number=1)}):
            resp = self.ask_one(**kw)
            self.assertEqual(resp.error_response.error_code, NOT_FOUND, kw)

    def test_several_requests_on_one_stream(self):
        """Answers come in order, echo the request and the host, and a file
        goes out once per stream except
        the file asked for."""
        reqs = [self.req(host="h1", file_containing_symbol=ECHO_SERVICE),
                self.req(file_by_filename="google/api/http.proto"),
                self.req(file_containing_symbol="example.Nope"),
                self.req(list_services="*"),
                self.req(host="h5", file_containing_symbol=HEALTH),
                self.req(file_containing_symbol=HEALTH + ".Check")]
        responses = self.ask(*reqs)
        self.assertEqual(len(responses), len(reqs))
        for req, resp in zip(reqs, responses):
            self.assertEqual(resp.original_request, req)
            self.assertEqual(resp.valid_host, req.host)
        self.assertEqual(len(self.file_names(responses[0])), 4)
        # sent already, as an import of echo.proto: the file asked for is in
        # every answer, its imports only once
        self.assertEqual(self.file_names(responses[1]), ["google/api/http.proto"])
        self.assertEqual(responses[2].error_response.error_code, NOT_FOUND)
        self.assertEqual(len(responses[3].list_services_response.service), 4)
        self.assertEqual(self.file_names(responses[4]), ["grpc/health/v1/health.proto"])
        self.assertEqual(self.file_names(responses[5]), ["grpc/health/v1/health.proto"])

    def test_interactive_stream(self):
        """Each answer arrives before the next request is sent."""
        pb2, pb2_grpc = self.s["v1"]
        pending = []
        cv = threading.Condition()

        def requests():
            for sym in (ECHO_SERVICE, "example.Nope", HEALTH):
                yield pb2.ServerReflectionRequest(file_containing_symbol=sym)
                with cv:
                    if not cv.wait_for(lambda: pending, 10):
                        return
                    pending.pop()
        stub = pb2_grpc.ServerReflectionStub(self.ch)
        got = []
        for resp in stub.ServerReflectionInfo(requests(), timeout=20):
            got.append(resp.WhichOneof("message_response"))
            with cv:
                pending.append(resp)
                cv.notify()
        self.assertEqual(got, ["file_descriptor_response", "error_response",
                               "file_descriptor_response"])

    def test_half_close_without_requests_ends_ok(self):
        self.assertEqual(self.ask(), [])

    def test_undecodable_request_ends_the_stream(self):
        call = self.ch.stream_stream("/%s/ServerReflectionInfo" % V1)
        with self.assertRaises(grpc.RpcError) as cm:
            list(call(iter([b"\xff\xff\xff"]), timeout=10))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_concurrent_streams(self):
        def one(i):
            version = ("v1", "v1alpha")[i % 2]
            responses = self.ask(self.req(version, list_services=""),
                                 self.req(version, file_containing_symbol=ECHO_SERVICE),
                                 self.req(version, file_containing_symbol="x.%d" % i),
                                 version=version, timeout=30)
            return [r.WhichOneof("message_response") for r in responses]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(one, range(40)))
        self.assertEqual(results, [["list_services_response", "file_descriptor_response",
                                    "error_response"]] * 40)

    def test_no_log_lines(self):
        self.assertNotIn("descriptor set", self.h.stderr())


class NoDescriptorSetTest(unittest.TestCase):

    def test_plugin_without_a_set_is_listed_but_not_described(self):
        s = stubs()
        h = Host(services=[("inspect", INSPECT_SO)]).start()
        self.addCleanup(h.cleanup)
        self.assertEqual(h.stderr().count(
            "rpcrest-host: %s: no embedded descriptor set; reflection does not describe its "
            "services\n" % INSPECT_SO), 1, h.stderr())
        pb2, pb2_grpc = s["v1"]
        with h.channel() as ch:
            stub = pb2_grpc.ServerReflectionStub(ch)
            list_resp, sym_resp, own_resp = list(stub.ServerReflectionInfo(iter([
                pb2.ServerReflectionRequest(list_services=""),
                pb2.ServerReflectionRequest(file_containing_symbol=ECHO_SERVICE),
                pb2.ServerReflectionRequest(file_containing_symbol=V1)]), timeout=10))
        self.assertIn(ECHO_SERVICE, [x.name for x in list_resp.list_services_response.service])
        self.assertEqual(sym_resp.error_response.error_code, NOT_FOUND)
        self.assertEqual(len(own_resp.file_descriptor_response.file_descriptor_proto), 1)


class HealthTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.pb2, pb2_grpc = stubs()["health"]
        cls.h = Host().start()
        cls.ch = cls.h.channel()
        cls.stub = pb2_grpc.HealthStub(cls.ch)

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()
        cls.h.cleanup()

    def check(self, service):
        return self.stub.Check(self.pb2.HealthCheckRequest(service=service), timeout=10).status

    def test_check_serving(self):
        SERVING = self.pb2.HealthCheckResponse.SERVING
        for service in ("", ECHO_SERVICE, HEALTH, V1, V1ALPHA):
            self.assertEqual(self.check(service), SERVING, service)

    def test_check_unknown_is_not_found(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.check("example.Nope")
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(cm.exception.details(), "unknown service example.Nope")

    def test_watch_sends_current_status_and_stays_open(self):
        for service, want in (("", self.pb2.HealthCheckResponse.SERVING),
                              ("example.Nope", self.pb2.HealthCheckResponse.SERVICE_UNKNOWN)):
            call = self.stub.Watch(self.pb2.HealthCheckRequest(service=service), timeout=10)
            self.assertEqual(next(call).status, want, service)
            got = []
            t = threading.Thread(target=lambda: got.extend(self._drain(call)))
            t.start()
            time.sleep(0.3)
            self.assertTrue(t.is_alive(), "the Watch ended on its own: %r" % got)
            call.cancel()
            t.join(5)
            self.assertEqual(got, [grpc.StatusCode.CANCELLED])

    @staticmethod
    def _drain(call):
        """The statuses a Watch receives from now on, then how it ended."""
        got = []
        try:
            for m in call:
                got.append(m.status)
        except grpc.RpcError as e:
            got.append(e.code())
        return got

    def test_many_watches_cancelled(self):
        calls = [self.stub.Watch(self.pb2.HealthCheckRequest(service=ECHO_SERVICE), timeout=10)
                 for _ in range(30)]
        for c in calls:
            self.assertEqual(next(c).status, self.pb2.HealthCheckResponse.SERVING)
        for c in calls:
            c.cancel()
        self.assertEqual(self.check(""), self.pb2.HealthCheckResponse.SERVING)

    def test_undecodable_request(self):
        call = self.ch.unary_unary("/%s/Check" % HEALTH)
        with self.assertRaises(grpc.RpcError) as cm:
            call(b"\xff\xff", timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)


class DrainTest(unittest.TestCase):

    def test_watch_sees_not_serving_on_sigterm(self):
        """SIGTERM starts the drain: every Watch on a known service hears
        NOT_SERVING, then every Watch is ended by the server at once with
        UNAVAILABLE, so that open Watch calls don't hold the drain up to its
        timeout (that would end them with "Cancelling all calls")."""
        pb2, pb2_grpc = stubs()["health"]
        h = Host().start()
        self.addCleanup(h.cleanup)
        ch = h.channel()
        self.addCleanup(ch.close)
        stub = pb2_grpc.HealthStub(ch)
        watches = {svc: stub.Watch(pb2.HealthCheckRequest(service=svc), timeout=60)
                   for svc in ("", ECHO_SERVICE, "example.Nope")}
        self.assertEqual(next(watches[""]).status, pb2.HealthCheckResponse.SERVING)
        self.assertEqual(next(watches[ECHO_SERVICE]).status, pb2.HealthCheckResponse.SERVING)
        self.assertEqual(next(watches["example.Nope"]).status,
                         pb2.HealthCheckResponse.SERVICE_UNKNOWN)
        t0 = time.monotonic()
        h.proc.send_signal(signal.SIGTERM)
        got = {}
        for svc, call in watches.items():
            got[svc] = []
            try:
                for m in call:
                    got[svc].append(m.status)
            except grpc.RpcError as e:
                got[svc].append((e.code(), e.details()))
        self.assertLess(time.monotonic() - t0, 2)
        ended = (grpc.StatusCode.UNAVAILABLE, "the server is shutting down")
        self.assertEqual(got, {"": [pb2.HealthCheckResponse.NOT_SERVING, ended],
                               ECHO_SERVICE: [pb2.HealthCheckResponse.NOT_SERVING, ended],
                               "example.Nope": [ended]})
        self.assertEqual(h.proc.wait(30), 0, h.stderr())
        self.assertIn("rpcrest-host: stopped\n", h.stderr())


if __name__ == "__main__":
    unittest.main()
