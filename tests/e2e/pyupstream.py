#!/usr/bin/python3
"""A gRPC server that rpcrest did not build, for the end-to-end tests.

It is Python grpcio with generic handlers on the message classes that
grpc_tools generates at test time, and it serves:

  rpcrest.bindings.Bindings  as services/bindings/bindings.c does: every
                             method answers {"method": its gRPC path,
                             "request": the request}, Whoami the process id
  rpcrest.testkit.TestKit    as services/testkit/testkit.c does: Echo,
                             EchoMetadata, Sleep, Fail (code, message and
                             details in grpc-status-details-bin), Async,
                             Stream (server streaming, paced by the client;
                             x-bad-message-at: N makes message N unparsable;
                             x-initial-bytes: N sends that much metadata first;
                             x-interval-ms: N waits that long before each
                             message after the first)
                             and Stats
  calc.Calculator            tests/e2e/protos/calc.proto: client streaming,
                             bidi streaming, PATCH with a FieldMask and
                             unannotated methods (x-replies: N makes Add,
                             client streaming, answer N messages: a server
                             that breaks the method's contract; x-fail-after:
                             CODE makes it fail after its reply, as grpc-go's
                             SendAndClose followed by an error does)
  grpc.health.v1.Health      Check (for the service NEWER_HEALTH_SERVICE, SERVING
                             plus fields a newer health.proto might add)
  grpc.reflection.v1 / v1alpha ServerReflection, with --reflection

Used two ways:

  imported   DescriptorDB and ReflectionService (a ServerReflection servicer
             over FileDescriptorSets, built on stubs generated from
             /usr/share/grpc-proto; test_gateway_discovery.py runs it in its
             own process), generate() (the modules and descriptor sets the
             server needs, made with grpc_tools) and Upstream (runs this file
             as a subprocess on a free 127.0.0.1 port, stops it by PID)

  run        /usr/bin/python3 pyupstream.py --dir DIR --port PORT
                 [--reflection v1,v1alpha]
             DIR is what generate() made.  Stops on SIGTERM or SIGINT.
"""
import argparse
import concurrent.futures
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PYTHON = "/usr/bin/python3"
GRPC_PROTO = "/usr/share/grpc-proto"

V1 = "grpc.reflection.v1"
V1ALPHA = "grpc.reflection.v1alpha"
HEALTH = "grpc.health.v1.Health"
# Health/Check for this service answers SERVING among fields the generated
# HealthCheckResponse does not have, one of each wire type but groups.
NEWER_HEALTH_SERVICE = "rpcrest.test.NewerHealth"

# generate() writes these into its folder
APP_SET = "app.pb"            # bindings, testkit and calc, with their imports
INTERNAL_SET = "internal.pb"  # grpc's reflection and health protos
APP_PROTOS = (("services/bindings", "bindings.proto"), ("services/testkit", "testkit.proto"),
              ("tests/e2e/protos", "calc.proto"))
APP_SERVICES = ("rpcrest.bindings.Bindings", "rpcrest.testkit.TestKit", "calc.Calculator")
# module name -> the grpc-proto file it is generated from (under a name of
# its own, so that it does not collide with the installed "grpc" package)
INTERNAL_STUBS = {"rpcrest_reflection_v1": "grpc/reflection/v1/reflection.proto",
                  "rpcrest_reflection_v1alpha": "grpc/reflection/v1alpha/reflection.proto",
                  "rpcrest_health_v1": "grpc/health/v1/health.proto"}


# ---- descriptor sets --------------------------------------------------------------


class DescriptorDB:
    """The files of FileDescriptorSets, by file name and by the symbols they
    declare, as a reflection service needs them."""

    def __init__(self):
        self.files = {}    # file name -> serialized FileDescriptorProto
        self.protos = {}   # file name -> FileDescriptorProto
        self.symbols = {}  # full symbol name -> file name

    def add_set(self, data):
        """Adds every file of a serialized FileDescriptorSet."""
        from google.protobuf import descriptor_pb2
        for fp in descriptor_pb2.FileDescriptorSet.FromString(data).file:
            self.add(fp)
        return self

    def add_set_file(self, path):
        with open(path, "rb") as f:
            return self.add_set(f.read())

    def add(self, fp):
        self.files[fp.name] = fp.SerializeToString()
        self.protos[fp.name] = fp
        prefix = fp.package + "." if fp.package else ""

        def messages(scope, types):
            for m in types:
                self.symbols[scope + m.name] = fp.name
                messages(scope + m.name + ".", m.nested_type)
                for e in m.enum_type:
                    self.symbols[scope + m.name + "." + e.name] = fp.name
        messages(prefix, fp.message_type)
        for e in fp.enum_type:
            self.symbols[prefix + e.name] = fp.name
        for s in fp.service:
            self.symbols[prefix + s.name] = fp.name
            for m in s.method:
                self.symbols[prefix + s.name + "." + m.name] = fp.name

    def services(self):
        """Full names of the services the files declare, in file order."""
        return [(fp.package + "." if fp.package else "") + s.name
                for fp in self.protos.values() for s in fp.service]

    def closure(self, name):
        """name and its transitive imports, imports first."""
        order, seen = [], set()

        def visit(n):
            if n in seen:
                return
            seen.add(n)
            for dep in self.protos[n].dependency:
                visit(dep)
            order.append(n)
        visit(name)
        return order


# ---- server reflection --------------------------------------------------------------


class ReflectionService:
    """grpc.reflection.v1 / v1alpha ServerReflection over a DescriptorDB, for
    stubs generated from grpc-proto's reflection.proto (one (pb2, pb2_grpc)
    pair per version).

    listed: the service names list_services answers with.
    send_imports: answer a file request with the file and its imports not
        yet sent on this stream, as the C++ and Go servers do (True), or
        with the file alone (False).
    hang: a threading.Event, or None: list_services waits for it (up to 60 s).
    misbehave: one way of breaking the protocol, None for none:
        "abort"       the stream ends with INTERNAL after list_services
        "wrong_file"  file_by_filename answers with echo.proto
        "undeclared"  file_containing_symbol answers with google/api/http.proto
    Every request is recorded in .requests as (version, kind, value).
    """

    def __init__(self, db, listed, send_imports=True, hang=None, misbehave=None):
        import grpc
        self.grpc = grpc
        self.db = db
        self.listed = list(listed)
        self.send_imports = send_imports
        self.hang = hang
        self.misbehave = misbehave
        self.requests = []  # (version, kind, value), in arrival order
        self.lock = threading.Lock()

    def add_to_server(self, server, stubs, versions):
        """Adds the servicer of each version in versions to a grpc server;
        stubs: version -> (pb2, pb2_grpc)."""
        for version in versions:
            pb2, pb2_grpc = stubs[version]
            pb2_grpc.add_ServerReflectionServicer_to_server(self.servicer(version, pb2, pb2_grpc),
                                                            server)

    def kinds(self, kind):
        with self.lock:
            return [r[2] for r in self.requests if r[1] == kind]

    def answer(self, pb2, req, sent):
        grpc = self.grpc
        kind = req.WhichOneof("message_request")
        value = getattr(req, kind) if kind else None
        resp = pb2.ServerReflectionResponse(valid_host=req.host, original_request=req)
        if kind == "list_services":
            if self.hang is not None:
                self.hang.wait(60)
            for name in self.listed:
                resp.list_services_response.service.add(name=name)
            return resp
        if kind == "file_containing_symbol":
            name = self.db.symbols.get(value)
            if self.misbehave == "undeclared":
                name = "google/api/http.proto"
        elif kind == "file_by_filename":
            name = value if value in self.db.files else None
            if self.misbehave == "wrong_file":
                name = "echo.proto"
        else:
            resp.error_response.error_code = grpc.StatusCode.UNIMPLEMENTED.value[0]
            resp.error_response.error_message = "not implemented here: %s" % kind
            return resp
        if name is None:
            resp.error_response.error_code = grpc.StatusCode.NOT_FOUND.value[0]
            resp.error_response.error_message = "not found: %s" % value
            return resp
        files = [name]
        if self.send_imports:
            files += [f for f in self.db.closure(name) if f != name and f not in sent]
        for f in files:
            resp.file_descriptor_response.file_descriptor_proto.append(self.db.files[f])
            sent.add(f)
        return resp

    def servicer(self, version, pb2, pb2_grpc):
        service = self

        class Servicer(pb2_grpc.ServerReflectionServicer):
            def ServerReflectionInfo(self, request_iterator, context):
                sent = set()
                for req in request_iterator:
                    kind = req.WhichOneof("message_request")
                    with service.lock:
                        service.requests.append((version, kind,
                                                 getattr(req, kind) if kind else None))
                    yield service.answer(pb2, req, sent)
                    if kind == "list_services" and service.misbehave == "abort":
                        context.abort(service.grpc.StatusCode.INTERNAL, "broken on purpose")
        return Servicer()


# ---- generated code -------------------------------------------------------------------


def well_known_dir():
    import grpc_tools
    return os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")


def protoc(args, cwd=None):
    subprocess.run([PYTHON, "-m", "grpc_tools.protoc"] + args, check=True, cwd=cwd or ROOT)


def generate(out):
    """Writes into the folder out: the Python message modules of the
    bindings, testkit and calc protos (and google/api's), APP_SET (their
    FileDescriptorSet, --include_imports: what a user hands the gateway),
    the reflection and health stubs (INTERNAL_STUBS) and INTERNAL_SET."""
    wk = well_known_dir()
    includes = ["-I" + os.path.join(ROOT, d) for d, _ in APP_PROTOS]
    includes += ["-I" + os.path.join(ROOT, "proto"), "-I/usr/include", "-I" + wk]
    protoc(includes + ["--python_out=" + out, "--include_imports",
                       "--descriptor_set_out=" + os.path.join(out, APP_SET)]
           + [p for _, p in APP_PROTOS] + ["google/api/http.proto", "google/api/annotations.proto"])
    for module, source in INTERNAL_STUBS.items():
        shutil.copy(os.path.join(GRPC_PROTO, source), os.path.join(out, module + ".proto"))
    protoc(["-I" + out, "-I/usr/include", "-I" + wk, "--python_out=" + out,
            "--grpc_python_out=" + out] + [m + ".proto" for m in INTERNAL_STUBS])
    protoc(["-I" + GRPC_PROTO, "-I/usr/include", "-I" + wk, "--include_imports",
            "--descriptor_set_out=" + os.path.join(out, INTERNAL_SET)]
           + list(INTERNAL_STUBS.values()))
    return out


# ---- the subprocess, seen from a test ---------------------------------------------------


class Upstream:
    """This file run as a server on a free 127.0.0.1 port; output in
    log_path; stopped by PID."""

    def __init__(self, gen_dir, log_path, reflection=()):
        import harness
        self.harness = harness
        self.gen_dir = gen_dir
        self.log_path = log_path
        self.reflection = tuple(reflection)
        self.port = harness.free_port()
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def target(self):
        return "127.0.0.1:%d" % self.port

    def start(self, timeout=20):
        cmd = [PYTHON, os.path.abspath(__file__), "--dir", self.gen_dir, "--port",
               str(self.port)]
        if self.reflection:
            cmd += ["--reflection", ",".join(self.reflection)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
        h = self.harness
        if not h.wait_until(lambda: self.proc.poll() is not None or "serving on" in self.log(),
                            timeout, 0.05) or self.proc.poll() is not None:
            self.stop()
            raise AssertionError("the Python upstream did not start; log:\n" + self.log())
        return self

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


# ---- the server -------------------------------------------------------------------------


def _varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def status_details_bin(code, message, details):
    """A serialized google.rpc.Status {code = 1, message = 2, repeated Any
    details = 3} (grpc-status-details-bin), written here: Debian has no
    Python module for google/rpc/status.proto."""
    out = b""
    if code:
        out += b"\x08" + _varint(code)
    msg = message.encode("utf-8")
    if msg:
        out += b"\x12" + _varint(len(msg)) + msg
    for any_msg in details:
        data = any_msg.SerializeToString()
        out += b"\x1a" + _varint(len(data)) + data
    return out


class Server:
    """The services, on message classes from the modules generate() made."""

    def __init__(self, gen_dir, reflection):
        import grpc
        from google.protobuf import any_pb2, duration_pb2, symbol_database
        sys.path.insert(0, gen_dir)
        import bindings_pb2
        import calc_pb2
        import testkit_pb2
        import rpcrest_health_v1_pb2
        self.grpc = grpc
        self.any_pb2 = any_pb2
        self.duration_pb2 = duration_pb2
        self.symbols = symbol_database.Default()
        self.bindings_pb2, self.testkit_pb2, self.calc_pb2 = bindings_pb2, testkit_pb2, calc_pb2
        self.health_pb2 = rpcrest_health_v1_pb2
        self.lock = threading.Lock()
        self.stats = {}
        self.handlers = {}
        self.add_service(bindings_pb2, "Bindings", {
            "Whoami": self.whoami,
            **{m.name: self.echo_request for m in
               bindings_pb2.DESCRIPTOR.services_by_name["Bindings"].methods
               if m.name != "Whoami"}})
        self.add_service(testkit_pb2, "TestKit", {
            "Echo": lambda req, ctx, method: req, "EchoMetadata": self.echo_metadata,
            "Sleep": self.sleep, "Fail": self.fail, "Async": self.do_async,
            "Stream": ("unary_stream", self.stream), "Stats": self.get_stats})
        self.add_service(calc_pb2, "Calculator", {
            "Add": ("stream_stream", self.add_replies), "Double": ("stream_stream", self.double),
            "UpdateCounter": self.update_counter, "ReplaceCounter": self.update_counter,
            "Plain": self.plain, "Count": ("stream_unary", self.count)})
        self.add_service(rpcrest_health_v1_pb2, "Health", {"Check": self.health_check})
        self.listed = list(APP_SERVICES) + [HEALTH]
        self.reflection = None
        if reflection:
            db = DescriptorDB().add_set_file(os.path.join(gen_dir, APP_SET))
            db.add_set_file(os.path.join(gen_dir, INTERNAL_SET))
            self.listed += [v + ".ServerReflection" for v in reflection]
            self.reflection = ReflectionService(db, self.listed)
        self.versions = reflection

    # ---- plumbing ------------------------------------------------------------------

    def add_service(self, pb2, name, methods):
        """methods: name -> fn(request, context, method path), or (kind, fn);
        a method left out answers UNIMPLEMENTED."""
        grpc = self.grpc
        desc = pb2.DESCRIPTOR.services_by_name[name]
        for m in desc.methods:
            spec = methods.get(m.name)
            if spec is None:
                continue
            kind, fn = spec if isinstance(spec, tuple) else ("unary_unary", spec)
            path = "/%s/%s" % (desc.full_name, m.name)
            make = getattr(grpc, kind + "_rpc_method_handler")
            self.handlers[path] = make(
                (lambda fn, path: lambda req, ctx: fn(req, ctx, path))(fn, path),
                request_deserializer=self.symbols.GetSymbol(m.input_type.full_name).FromString,
                response_serializer=(lambda ser: lambda msg: msg if isinstance(msg, bytes)
                                     else ser(msg))(self.symbols.GetSymbol(
                                         m.output_type.full_name).SerializeToString))

    def count_stat(self, key, n=1):
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + n

    def abort(self, ctx, code, message, details=()):
        """Ends the call with code, message and, in grpc-status-details-bin,
        details (messages, packed into Any here, or Any as they are)."""
        anys = []
        for d in details:
            if isinstance(d, self.any_pb2.Any):
                anys.append(d)
            else:
                a = self.any_pb2.Any()
                a.Pack(d)
                anys.append(a)
        if anys:
            ctx.set_trailing_metadata((("grpc-status-details-bin",
                                        status_details_bin(code, message, anys)),))
        codes = {c.value[0]: c for c in self.grpc.StatusCode}
        ctx.abort(codes.get(code, self.grpc.StatusCode.UNKNOWN), message)

    @staticmethod
    def metadata(ctx, key, default=None):
        for k, v in ctx.invocation_metadata():
            if k == key:
                return v
        return default

    def int_metadata(self, ctx, key, default):
        value = self.metadata(ctx, key)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            self.abort(ctx, 3, "%s: '%s' is not an integer" % (key, value))

    # ---- rpcrest.bindings.Bindings ---------------------------------------------------

    def echo_request(self, req, ctx, method):
        return self.bindings_pb2.Echoed(method=method, request=req)

    def whoami(self, req, ctx, method):
        return self.bindings_pb2.WhoamiReply(pid=os.getpid())

    # ---- rpcrest.testkit.TestKit -----------------------------------------------------

    def echo_metadata(self, req, ctx, method):
        pb2 = self.testkit_pb2
        out = pb2.MetadataReply(method=method, peer=ctx.peer())
        remaining = ctx.time_remaining()
        out.deadline_ms = -1 if remaining is None or remaining > 1e8 else int(remaining * 1000)
        initial, trailing = [], []
        for key, value in ctx.invocation_metadata():
            if key == "x-request-id" and not out.request_id:
                out.request_id = value  # as the testkit plugin's rpcrest_call_request_id()
            if key.endswith("-bin"):
                out.metadata.add(key=key, binary=value)
            else:
                out.metadata.add(key=key, text=value)
            if not req.no_echo and key != "user-agent":
                initial.append((key, value))
                trailing.append((key, value))

        def entry(e):
            return (e.key, e.binary if e.WhichOneof("value") == "binary" else e.text)
        initial += [entry(e) for e in req.add_initial]
        trailing += [entry(e) for e in req.add_trailing]
        out.add_results.extend([0] * (len(req.add_initial) + len(req.add_trailing)))
        if initial:
            ctx.send_initial_metadata(initial)
        if trailing:
            ctx.set_trailing_metadata(trailing)
        return out

    def sleep(self, req, ctx, method):
        d = req.duration
        if d.seconds < 0 or d.nanos < 0 or d.seconds > 3600:
            self.abort(ctx, 3, "duration: 0 to 3600 s")
        seconds = d.seconds + d.nanos / 1e9
        self.count_stat("sleeps_started")
        t0 = time.monotonic()
        while True:
            if not ctx.is_active():
                self.count_stat("sleeps_cancelled")
                self.abort(ctx, 1, "cancelled")
            left = seconds - (time.monotonic() - t0)
            if left <= 0:
                break
            time.sleep(min(left, 0.01))
        self.count_stat("sleeps_completed")
        slept = self.duration_pb2.Duration()
        slept.FromNanoseconds(int((time.monotonic() - t0) * 1e9))
        return self.testkit_pb2.SleepReply(slept=slept)

    def fail(self, req, ctx, method):
        details = list(req.details)
        if req.with_info:
            info = self.testkit_pb2.FailInfo(reason="TESTKIT_FAIL", domain="rpcrest.testkit")
            info.metadata["code"] = str(req.code)
            details.append(info)
        self.abort(ctx, req.code, req.message, details)

    def do_async(self, req, ctx, method):
        tid = threading.get_native_id()
        return self.testkit_pb2.AsyncReply(value=req.value, handler_thread=tid, finish_thread=tid)

    def stream(self, req, ctx, method):
        pb2 = self.testkit_pb2
        if req.count < 0 or req.size < 0 or req.size > 16 << 20:
            self.abort(ctx, 3, "count >= 0, size 0 to 16 MiB")
        payload = bytes(ord("a") + i % 26 for i in range(req.size))
        state = {"ended": False}

        def terminated():  # after the status, or when the client went away
            self.count_stat("streams_completed" if state["ended"] else "streams_cancelled")
        ctx.add_callback(terminated)
        self.count_stat("streams_started")
        bad_at = self.int_metadata(ctx, "x-bad-message-at", -1)
        initial_bytes = self.int_metadata(ctx, "x-initial-bytes", 0)
        interval = self.int_metadata(ctx, "x-interval-ms", 0) / 1000
        if initial_bytes:  # response metadata of about that many bytes, in 1,000-byte values
            ctx.send_initial_metadata(tuple(("x-big-%d" % i, "v" * 1000)
                                            for i in range((initial_bytes + 999) // 1000)))
        for i in range(req.count):
            t0 = time.monotonic()
            while i and ctx.is_active() and time.monotonic() - t0 < interval:
                time.sleep(0.01)
            if not ctx.is_active():
                return
            self.count_stat("messages_sent")
            # x-bad-message-at: N sends message N as bytes that do not parse
            # (a varint cut short)
            yield b"\x08\x80" if i == bad_at else pb2.StreamReply(index=i, payload=payload)
        state["ended"] = True
        if req.fail_code:
            self.abort(ctx, req.fail_code, "failed after %d messages" % req.count)

    def get_stats(self, req, ctx, method):
        with self.lock:
            return self.testkit_pb2.StatsReply(**self.stats)

    # ---- calc.Calculator -------------------------------------------------------------

    def failing(self, ctx, number, index):
        if number.fail:
            details = [self.calc_pb2.CalcError(reason="ASKED", index=index)]
            if number.undeclared_detail:
                details.append(self.any_pb2.Any(type_url="type.googleapis.com/calc.Undeclared",
                                                value=b"\x08\x01"))
            self.abort(ctx, number.fail, "message %d asked to fail" % index, details)

    def add(self, requests, ctx, method):
        total = self.int_metadata(ctx, "x-offset", 0)
        count = 0
        for i, n in enumerate(requests):
            self.failing(ctx, n, i)
            total += n.value
            count += 1
        ctx.send_initial_metadata((("x-count", str(count)),))
        ctx.set_trailing_metadata((("x-total", str(total)),))
        return self.calc_pb2.Sum(total=total, count=count)

    def add_replies(self, requests, ctx, method):
        """Add, as many times as x-replies says (once by default)."""
        reply = self.add(requests, ctx, method)
        for _ in range(self.int_metadata(ctx, "x-replies", 1)):
            yield reply
        fail = self.int_metadata(ctx, "x-fail-after", 0)
        if fail:
            self.abort(ctx, fail, "failed after its reply")

    def count(self, requests, ctx, method):
        total = count = 0
        for i, n in enumerate(requests):
            self.failing(ctx, n, i)
            total += n.value
            count += 1
        return self.calc_pb2.Sum(total=total, count=count)

    def double(self, requests, ctx, method):
        factor = self.int_metadata(ctx, "x-factor", 2)
        ctx.send_initial_metadata((("x-factor", str(factor)),))
        for i, n in enumerate(requests):
            self.failing(ctx, n, i)
            yield self.calc_pb2.Number(value=n.value * factor)

    def update_counter(self, req, ctx, method):
        return self.calc_pb2.UpdateCounterReply(counter=req.counter,
                                                paths=list(req.update_mask.paths),
                                                has_mask=req.HasField("update_mask"))

    def plain(self, req, ctx, method):
        return self.calc_pb2.PlainReply(text=req.text * max(req.times, 1))

    # ---- grpc.health.v1.Health -------------------------------------------------------

    def health_check(self, req, ctx, method):
        pb2 = self.health_pb2
        if req.service == NEWER_HEALTH_SERVICE:  # by hand: pb2 has no such fields
            return b"".join((
                _varint(99 << 3 | 5) + b"\x01\x02\x03\x04",             # fixed32
                _varint(100 << 3 | 1) + b"\x01\x02\x03\x04\x05\x06\x07\x08",  # fixed64
                _varint(1 << 3 | 0) + _varint(pb2.HealthCheckResponse.SERVING),  # status
                _varint(101 << 3 | 0) + _varint(300),                    # varint
                _varint(102 << 3 | 2) + _varint(2) + b"hi"))             # length-delimited
        if req.service and req.service not in self.listed:
            self.abort(ctx, 5, "unknown service %s" % req.service)
        return pb2.HealthCheckResponse(status=pb2.HealthCheckResponse.SERVING)

    # ---- running -----------------------------------------------------------------------

    def serve(self, port):
        grpc = self.grpc
        handlers = self.handlers

        class Generic(grpc.GenericRpcHandler):
            def service(self, details):
                return handlers.get(details.method)

        server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=32))
        server.add_generic_rpc_handlers((Generic(),))
        if self.reflection:
            stubs = {}
            for version, module in ((V1, "rpcrest_reflection_v1"),
                                    (V1ALPHA, "rpcrest_reflection_v1alpha")):
                if version in self.versions:
                    stubs[version] = (__import__(module + "_pb2"),
                                      __import__(module + "_pb2_grpc"))
            self.reflection.add_to_server(server, stubs, self.versions)
        if not server.add_insecure_port("127.0.0.1:%d" % port):
            raise SystemExit("pyupstream: cannot listen on 127.0.0.1:%d" % port)
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        server.start()
        print("pyupstream: serving on 127.0.0.1:%d (pid %d): %s" % (
            port, os.getpid(), ", ".join(self.listed)), flush=True)
        while not stop.wait(1):
            pass
        server.stop(0).wait(5)
        print("pyupstream: stopped", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", required=True, help="the folder generate() wrote")
    parser.add_argument("--port", type=int, required=True, help="the port on 127.0.0.1")
    parser.add_argument("--reflection", default="",
                        help="serve server reflection: v1, v1alpha or v1,v1alpha")
    args = parser.parse_args()
    versions = []
    for v in filter(None, args.reflection.split(",")):
        if v not in ("v1", "v1alpha"):
            parser.error("--reflection: v1, v1alpha or both")
        versions.append("grpc.reflection." + v)
    Server(args.dir, tuple(versions)).serve(args.port)


if __name__ == "__main__":
    main()
