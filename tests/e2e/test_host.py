"""End-to-end tests of rpcrest-host, started directly (not through rpcrestd)
with its own INI on a free 127.0.0.1 port, called with Python grpcio.

Covers the echo round trip, unknown methods, undecodable requests,
request metadata over the host's limit, concurrency, what a plugin sees
through the rpcrest_call_* functions (tests/plugins/inspect.c), signals,
and every way a plugin can be refused (tests/plugins/*.c broken on
purpose).
"""
import concurrent.futures
import os
import re
import resource
import select
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

HOST_BIN = os.path.join(harness.BUILD, "rpcrest-host")
ECHO_SO = os.path.join(harness.BUILD, "services", "echo.so")
TEST_PLUGINS = os.path.join(harness.BUILD, "tests", "plugins")
EX_CONFIG = 78
ECHO_METHOD = "/example.MyService/Echo"


def plugin(name):
    return os.path.join(TEST_PLUGINS, name + ".so")


def echo_modules():
    return harness.grpc_modules("echo.proto", os.path.join(harness.ROOT, "services/echo"))


varint = harness.varint


class Host:
    """One rpcrest-host with its own INI in a temp folder.

    services: [(section name, plugin path, {setting: value})], in order.
    listen: the [host] listen value (default 127.0.0.1 on a free port).
    host_keys: more [host] keys ({"drain_timeout": "1"}).
    """

    def __init__(self, services=(("echo", ECHO_SO, {}),), threads=2, listen=None,
                 host_keys=None):
        self.dir = tempfile.mkdtemp(prefix="rpcrest-host-test-")
        self.port = harness.free_port()
        self.listen = listen or "127.0.0.1:%d" % self.port
        self.ini = os.path.join(self.dir, "rpcrest.ini")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.proc = None
        lines = ["[host]", "listen = %s" % self.listen, "threads = %d" % threads]
        lines += ["%s = %s" % kv for kv in (host_keys or {}).items()]
        lines.append("")
        for name, path, settings in services:
            lines += ["[service.%s]" % name, "plugin = %s" % path]
            lines += ["%s = %s" % kv for kv in settings.items()]
            lines.append("")
        with open(self.ini, "w") as f:
            f.write("\n".join(lines))

    def start(self, wait=True, timeout=10, preexec_fn=None):
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen([HOST_BIN, "-c", self.ini], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err,
                                         preexec_fn=preexec_fn)
        if wait and not harness.wait_until(self.ready, timeout, 0.02):
            raise AssertionError("rpcrest-host did not start in %ss; stderr:\n%s"
                                 % (timeout, self.stderr()))
        return self

    def ready(self):
        return self.proc.poll() is None and "rpcrest-host: serving " in self.stderr()

    def target(self):
        return self.listen

    def channel(self):
        return grpc.insecure_channel(self.target(), options=[
            ("grpc.max_receive_message_length", 16 << 20),
            ("grpc.max_send_message_length", 16 << 20)])

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_exit(self, timeout):
        """The exit status, or None if it is still running after timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def cleanup(self):
        """Kills the process by PID if it is still running; removes the folder."""
        if self.proc and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class HostCase(unittest.TestCase):
    """Starts hosts that tearDown cleans up, whatever happened."""

    def setUp(self):
        self.hosts = []

    def tearDown(self):
        for h in self.hosts:
            h.cleanup()

    def host(self, *args, **kw):
        h = Host(*args, **kw)
        self.hosts.append(h)
        return h

    def refused(self, h, timeout=5):
        """Starts h, expects exit 78 within timeout; returns its stderr."""
        h.start(wait=False)
        t0 = time.monotonic()
        code = h.wait_exit(timeout)
        self.assertEqual(code, EX_CONFIG, "exit status; stderr:\n" + h.stderr())
        self.assertLess(time.monotonic() - t0, timeout)
        return h.stderr()


class EchoTest(unittest.TestCase):
    """The echo plugin served by one host with 4 threads."""

    @classmethod
    def setUpClass(cls):
        cls.pb2, cls.pb2_grpc = echo_modules()
        cls.h = Host(threads=4)
        try:
            cls.h.start()
        except Exception:
            cls.h.cleanup()
            raise
        cls.ch = cls.h.channel()
        cls.stub = cls.pb2_grpc.MyServiceStub(cls.ch)

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()
        cls.h.cleanup()

    def echo(self, value):
        return self.stub.Echo(self.pb2.StringMessage(value=value), timeout=10).value

    def test_start_log_line(self):
        self.assertIn("rpcrest-host: serving example.MyService (%s) on %s with 4 threads\n"
                      % (ECHO_SO, self.h.listen), self.h.stderr())

    def test_echo_ascii(self):
        self.assertEqual(self.echo("hello"), "hello")

    def test_echo_utf8(self):
        self.assertEqual(self.echo("héllo wörld ✓ 日本"), "héllo wörld ✓ 日本")

    def test_echo_empty(self):
        self.assertEqual(self.echo(""), "")

    def test_echo_one_mib(self):
        big = "0123456789abcdef" * (1 << 16)
        self.assertEqual(len(big), 1 << 20)
        self.assertEqual(self.echo(big), big)

    def test_unknown_method_is_unimplemented(self):
        for method in ("/x.Y/Z", "/example.MyService/Nope"):
            with self.assertRaises(grpc.RpcError) as cm:
                self.ch.unary_unary(method)(b"", timeout=5)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
            self.assertEqual(cm.exception.details(), "unknown method " + method)

    def test_undecodable_request_is_invalid_argument(self):
        raw = self.ch.unary_unary(ECHO_METHOD, request_serializer=None,
                                  response_deserializer=None)
        with self.assertRaises(grpc.RpcError) as cm:
            raw(b"\xff\xff\xff", timeout=5)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(cm.exception.details(),
                         "cannot decode request as example.StringMessage")

    def test_string_that_is_not_utf8_is_invalid_argument(self):
        """proto3 strings are UTF-8: a Go or C++ server refuses the message,
        and echoed back it would fail the client's own parser."""
        raw = self.ch.unary_unary(ECHO_METHOD)
        for data in (b"\x0a\x02\xff\xfe", b"\x0a\x02\xc3\x28", b"\x0a\x03\xed\xa0\x80"):
            with self.subTest(data=data):
                with self.assertRaises(grpc.RpcError) as cm:
                    raw(data, timeout=5)
                self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
                self.assertEqual(cm.exception.details(),
                                 "field 'value' of example.StringMessage is not UTF-8")
        self.assertEqual(raw(b"\x0a\x05caf\xc3\xa9", timeout=5),
                         b"\x0a\x05caf\xc3\xa9")

    def _testkit_echo(self):
        """TestKit/Echo, raw bytes in and out, on a host of its own."""
        h = Host(services=(("testkit", os.path.join(harness.BUILD, "services", "testkit.so"),
                            {}),))
        self.addCleanup(h.cleanup)
        h.start()
        ch = h.channel()
        self.addCleanup(ch.close)
        return h, ch.unary_unary("/rpcrest.testkit.TestKit/Echo")

    def test_strings_deep_in_a_request_are_checked_too(self):
        _, raw = self._testkit_echo()
        for data, field in (
                (b"\x8a\x01\x06\x1a\x04\x0a\x02\xff\xfe", "'name' of rpcrest.testkit.Nested"),  # nested.child
                (b"\x9a\x01\x02\xff\xfe", "'repeated_string' of"),
                (b"\xba\x01\x07\x0a\x01k\x12\x02\xff\xfe", "'value' of")):  # a map value
            with self.subTest(field=field):
                with self.assertRaises(grpc.RpcError) as cm:
                    raw(data, timeout=5)
                self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
                self.assertIn("field %s" % field, cm.exception.details())
                self.assertIn("is not UTF-8", cm.exception.details())

    def test_nesting_deeper_than_100_is_refused(self):
        """protobuf-c's unpacker recurses once per level with no bound: 200,000
        levels of a recursive type (800 KB) overflowed the host's stack."""
        h, raw = self._testkit_echo()

        def nested(levels):  # AllTypes.nested (17), then Nested.child (3) levels - 1 times
            sizes = [0]  # of each level's body, from the innermost out
            for _ in range(levels - 1):
                sizes.append(1 + len(varint(sizes[-1])) + sizes[-1])
            out = [b"\x8a\x01" + varint(sizes[-1])]
            out += [b"\x1a" + varint(size) for size in reversed(sizes[:-1])]
            return b"".join(out)

        for levels in (101, 200000):
            with self.subTest(levels=levels):
                with self.assertRaises(grpc.RpcError) as cm:
                    raw(nested(levels), timeout=20)
                self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
                self.assertEqual(cm.exception.details(), "request rpcrest.testkit.AllTypes "
                                 "nests messages more than 100 deep")
        self.assertEqual(raw(nested(100), timeout=5), nested(100))
        self.assertIsNone(h.proc.poll())

    def test_idle_connections_past_the_soft_file_limit(self):
        """Started with a soft limit of 256 open files (hard 4096): the host
        raises it, and 300 connections that send nothing do not close its
        port (gRPC core 1.51 stops accepting on a listener for good once
        accept4 fails with EMFILE)."""
        h = Host()
        self.addCleanup(h.cleanup)
        h.start(preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, 4096)))
        with open("/proc/%d/limits" % h.proc.pid) as f:
            self.assertRegex(f.read(), r"Max open files\s+4096\s+4096")
        idle = []
        self.addCleanup(lambda: [s.close() for s in idle])
        for _ in range(300):
            idle.append(socket.create_connection(("127.0.0.1", h.port)))
        ch = h.channel()
        self.addCleanup(ch.close)
        self.assertEqual(ch.unary_unary(ECHO_METHOD)(b"\x0a\x02hi", timeout=5), b"\x0a\x02hi")
        self.assertNotIn("Too many open files", h.stderr())

    def test_raw_bytes_round_trip(self):
        raw = self.ch.unary_unary(ECHO_METHOD)
        self.assertEqual(raw(b"\x0a\x02hi", timeout=5), b"\x0a\x02hi")

    def test_too_much_request_metadata_fails_that_call_alone(self):
        """Over 8 KiB of request metadata (name + value + 32 per entry):
        RESOURCE_EXHAUSTED for that call, and the connection carries on.
        gRPC core 1.51 at its own limit (8 KiB by default; the host sets
        16 KiB) fails the stream twice and then mostly closes the
        connection, failing the client's next call with UNAVAILABLE
        "Socket closed"."""
        ch = self.h.channel()  # its own connection, which must survive
        try:
            raw = ch.unary_unary(ECHO_METHOD)
            fits = [("x-%d" % i, "v" * 500) for i in range(14)]
            self.assertEqual(raw(b"\x0a\x01x", metadata=fits, timeout=5), b"\x0a\x01x")
            for n in (16, 20, 28):  # 8.5 to 15 KiB: under gRPC core's 16 KiB (host_server.c)
                with self.assertRaises(grpc.RpcError) as cm:
                    raw(b"\x0a\x01x", metadata=[("x-%d" % i, "v" * 500) for i in range(n)],
                        timeout=5)
                self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
                self.assertRegex(cm.exception.details(),
                                 r"^request metadata takes \d+ bytes .*, more than 8192$")
                self.assertEqual(raw(b"\x0a\x01x", timeout=5), b"\x0a\x01x")
        finally:
            ch.close()
        # the same on the wire, where gRPC core 1.51 closed the connection
        # nearly every time: the next stream is answered on the same one
        big = tuple(("x-%d" % i, "v" * 500) for i in range(16))
        msg = h2raw.grpc_message(b"\x0a\x01x")
        for _ in range(3):
            s = h2raw.start(self.h.port)
            try:
                s.sendall(h2raw.frame(h2raw.SETTINGS, 1, 0))  # ack theirs
                for stream, extra in ((1, big), (3, ())):
                    block = h2raw.grpc_request_headers(ECHO_METHOD, extra=extra)
                    s.sendall(h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, stream, block) +
                              h2raw.frame(h2raw.DATA, h2raw.END_STREAM, stream, msg))
                frames, closed = h2raw.read_frames(s, until=lambda fs: any(
                    f[0] == h2raw.HEADERS and f[1] & h2raw.END_STREAM and f[2] == 3 for f in fs))
                self.assertFalse(closed, "the host closed the connection")
                self.assertIn(3, [f[2] for f in frames if f[0] == h2raw.HEADERS and
                                  f[1] & h2raw.END_STREAM])
            finally:
                s.close()

    def test_binary_metadata_counts_as_unpadded_base64(self):
        """A -bin value counts as the unpadded base64 grpc-go and grpc-java
        send (4n/3 rounded up), not padded to a multiple of 4."""
        ch = self.h.channel()
        try:
            raw = ch.unary_unary(ECHO_METHOD)

            def ok(key, value):
                try:
                    raw(b"\x0a\x01x", metadata=[(key, value)], timeout=5)
                    return True
                except grpc.RpcError as e:
                    self.assertEqual(e.code(), grpc.StatusCode.RESOURCE_EXHAUSTED, e.details())
                    return False
            lo, hi = 7000, 8200  # text values: the longest that fits, by bisection
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if ok("abc-txt", "v" * mid) else (lo, mid)
            n = max(k for k in range(lo) if (4 * k + 2) // 3 <= lo)
            self.assertTrue(ok("abc-bin", b"\x01" * n))
            self.assertFalse(ok("abc-bin", b"\x01" * (n + 1)))
        finally:
            ch.close()

    def test_concurrent_calls(self):
        """8 client threads, each with 200 calls in flight at once."""
        def batch(t):
            futs = [self.stub.Echo.future(self.pb2.StringMessage(value="%d-%d" % (t, i)),
                                          timeout=30) for i in range(200)]
            return sum(f.result().value == "%d-%d" % (t, i) for i, f in enumerate(futs))
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            ok = list(pool.map(batch, range(8)))
        self.assertEqual(ok, [200] * 8)

    def test_no_per_call_logging(self):
        before = self.h.stderr()
        for i in range(20):
            self.echo("quiet %d" % i)
        self.assertEqual(self.h.stderr(), before)


class InspectTest(unittest.TestCase):
    """What a plugin sees through rpcrest_call_* (tests/plugins/inspect.c)."""

    @classmethod
    def setUpClass(cls):
        cls.pb2, cls.pb2_grpc = echo_modules()
        cls.h = Host(services=[("inspect", plugin("inspect"),
                                {"greeting": "hello there", "mode": "x=y"})])
        try:
            cls.h.start()
        except Exception:
            cls.h.cleanup()
            raise
        cls.ch = cls.h.channel()
        cls.stub = cls.pb2_grpc.MyServiceStub(cls.ch)

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()
        cls.h.cleanup()

    def cmd(self, value, timeout=10, metadata=None):
        return self.stub.Echo(self.pb2.StringMessage(value=value), timeout=timeout,
                              metadata=metadata).value

    def info(self, **kw):
        return dict(f.split("=", 1) for f in self.cmd("info", **kw).split(" "))

    def test_method_and_peer(self):
        info = self.info()
        self.assertEqual(info["method"], ECHO_METHOD)
        self.assertTrue(info["peer"].startswith("ipv4:127.0.0.1:"), info["peer"])
        self.assertEqual(info["cancelled"], "0")

    def test_deadline(self):
        ms = int(self.info(timeout=5)["deadline"])
        self.assertTrue(4000 <= ms <= 5100, ms)
        self.assertEqual(self.info(timeout=None)["deadline"], "-1")

    def test_reply_strings_must_be_utf8(self):
        """A reply whose string is not UTF-8 would fail the client's parser
        (the host would be blamed for nothing): INTERNAL from the host,
        naming the field, and one log line per method however often."""
        for _ in range(3):
            with self.assertRaises(grpc.RpcError) as cm:
                self.cmd("latin1", metadata=[("x-request-id", "rid-utf8")])
            self.assertEqual(cm.exception.code(), grpc.StatusCode.INTERNAL)
            self.assertEqual(cm.exception.details(), "the handler's reply: field 'value' of "
                             "example.StringMessage is not UTF-8")
        # the line names the call (operations.md: the request id in the host's lines)
        self.assertEqual(self.h.stderr().count("%s request_id=rid-utf8: the handler's reply: "
                                               "field 'value'" % ECHO_METHOD), 1, self.h.stderr())
        self.assertNotIn("inspect: latin1 reply returned", self.h.stderr())

    def test_metadata(self):
        self.assertEqual(self.info(metadata=[("x-test", "v1"), ("x-test", "v2")])["md"], "v1")
        self.assertEqual(self.info(metadata=[("x-test", "")])["md"], "")
        self.assertEqual(self.info()["md"], "-")

    def test_settings_reach_init(self):
        self.assertEqual(self.cmd("settings"), "greeting=hello there;mode=x=y")

    def test_reply_from_another_thread(self):
        self.assertEqual(self.cmd("async"), "async done")

    def test_fail(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.cmd("fail")
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(cm.exception.details(), "nothing here")

    def test_second_finish_returns_minus_one(self):
        self.assertEqual(self.cmd("twice"), "first")
        stats = dict(f.split("=") for f in self.cmd("stats").split(" "))
        self.assertEqual((stats["second"], stats["third"]), ("-1", "-1"))

    def test_cancelled_after_deadline(self):
        before = int(dict(f.split("=") for f in self.cmd("stats").split(" "))["cancels"])
        with self.assertRaises(grpc.RpcError) as cm:
            self.cmd("hold", timeout=0.3)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)

        def seen():
            stats = dict(f.split("=") for f in self.cmd("stats").split(" "))
            return int(stats["cancels"]) > before
        self.assertTrue(harness.wait_until(seen, 5, 0.05))

    def test_other_values_echo(self):
        self.assertEqual(self.cmd("plain"), "plain")


class SignalTest(HostCase):

    def test_sigterm_exits_0_quickly(self):
        pb2, pb2_grpc = echo_modules()
        h = self.host().start()
        with h.channel() as ch:
            stub = pb2_grpc.MyServiceStub(ch)
            self.assertEqual(stub.Echo(pb2.StringMessage(value="x"), timeout=5).value, "x")
        t0 = time.monotonic()
        h.signal(signal.SIGTERM)
        self.assertEqual(h.wait_exit(5), 0, h.stderr())
        self.assertLess(time.monotonic() - t0, 2)
        self.assertIn("rpcrest-host: stopped\n", h.stderr())

    def test_sigint_exits_0(self):
        h = self.host().start()
        h.signal(signal.SIGINT)
        self.assertEqual(h.wait_exit(5), 0, h.stderr())

    def test_sighup_is_ignored(self):
        pb2, pb2_grpc = echo_modules()
        h = self.host().start()
        h.signal(signal.SIGHUP)
        time.sleep(0.2)
        self.assertIsNone(h.proc.poll())
        with h.channel() as ch:
            stub = pb2_grpc.MyServiceStub(ch)
            self.assertEqual(stub.Echo(pb2.StringMessage(value="y"), timeout=5).value, "y")
        h.signal(signal.SIGTERM)
        self.assertEqual(h.wait_exit(5), 0, h.stderr())

    def test_sigterm_with_a_call_held_by_the_plugin(self):
        """The held call outlives the drain (1 s), is cancelled, the plugin
        finishes it, fini runs, exit 0."""
        pb2, pb2_grpc = echo_modules()
        h = self.host(services=[("inspect", plugin("inspect"), {})],
                      host_keys={"drain_timeout": "1"})
        fini_file = os.path.join(h.dir, "fini")
        with open(h.ini, "a") as f:
            f.write("fini_file = %s\n" % fini_file)
        h.start()
        ch = h.channel()
        self.addCleanup(ch.close)
        stub = pb2_grpc.MyServiceStub(ch)
        result = {}

        def call():
            try:
                stub.Echo(pb2.StringMessage(value="hold"), timeout=30)
            except grpc.RpcError as e:
                result["code"] = e.code()
        t = threading.Thread(target=call)
        t.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        h.signal(signal.SIGTERM)
        self.assertEqual(h.wait_exit(5), 0, h.stderr())
        self.assertLess(time.monotonic() - t0, 3)
        self.assertIn("rpcrest-host: drain: 1 call still running after 1 s: cancelling it\n",
                      h.stderr())
        t.join(5)
        self.assertIn(result.get("code"), (grpc.StatusCode.UNAVAILABLE,
                                           grpc.StatusCode.CANCELLED))
        with open(fini_file) as f:
            self.assertEqual(f.read(), "fini\n")

    def test_sigterm_with_a_call_the_plugin_never_finishes(self):
        """A plugin that breaks the rule and never finishes a call: the
        host does not wait for ever; 5 s after the call was cancelled it
        says so and exits 1 without unloading the plugin."""
        pb2, pb2_grpc = echo_modules()
        h = self.host(services=[("inspect", plugin("inspect"), {})],
                      host_keys={"drain_timeout": "1"}).start()
        ch = h.channel()
        self.addCleanup(ch.close)
        future = pb2_grpc.MyServiceStub(ch).Echo.future(pb2.StringMessage(value="forget"),
                                                         timeout=30)
        time.sleep(0.3)
        t0 = time.monotonic()
        h.signal(signal.SIGTERM)
        self.assertEqual(h.wait_exit(15), 1, h.stderr())
        self.assertLess(time.monotonic() - t0, 10)
        self.assertIn("rpcrest-host: stop: 1 call never finished, 5 s after it was cancelled",
                      h.stderr())
        # the method is named, so the author knows which handler to look at
        self.assertIn("rpcrest-host: stop: /example.MyService/Echo: 1 call never finished "
                      "after its handler returned (plugin %s)\n" % plugin("inspect"),
                      h.stderr())
        self.assertIn("rpcrest-host: stopped without unloading the plugins\n", h.stderr())
        with self.assertRaises(grpc.RpcError):
            future.result(timeout=10)

    def test_sigterm_with_a_handler_that_never_returns(self):
        """A handler that blocks holds its thread, and every call of that
        thread with it, whatever its plugin: their cancellations never
        reach them.  The stop names the handler, and says that the others
        were held behind it, where it blamed their plugin."""
        testkit = os.path.join(harness.BUILD, "services", "testkit.so")
        tk_pb2, tk_grpc = harness.grpc_modules("testkit.proto",
                                               os.path.join(harness.ROOT, "services/testkit"))
        pb2, pb2_grpc = echo_modules()
        h = self.host(services=[("inspect", plugin("inspect"), {}), ("testkit", testkit, {})],
                      threads=1, host_keys={"drain_timeout": "1"}).start()
        ch = h.channel()
        self.addCleanup(ch.close)
        sleep = tk_pb2.SleepRequest()
        sleep.duration.FromSeconds(60)
        sleeps = [tk_grpc.TestKitStub(ch).Sleep.future(sleep, timeout=90) for _ in range(2)]
        time.sleep(0.3)
        blocked = pb2_grpc.MyServiceStub(ch).Echo.future(pb2.StringMessage(value="block"),
                                                          timeout=90)
        time.sleep(0.3)
        h.signal(signal.SIGTERM)
        self.assertEqual(h.wait_exit(15), 1, h.stderr())
        err = h.stderr()
        self.assertIn("rpcrest-host: stop: 3 calls never finished, 5 s after they were "
                      "cancelled", err)
        self.assertRegex(err, r"rpcrest-host: stop: /example\.MyService/Echo: a handler never "
                         r"returned: it has run for \d+\.\d s \(plugin %s\), holding "
                         r"completion-queue thread 1 of 1 \(\[host\] threads\) and the 2 "
                         r"other calls on it\n" % re.escape(plugin("inspect")))
        self.assertIn("rpcrest-host: stop: /rpcrest.testkit.TestKit/Sleep: 2 calls stuck on a "
                      "thread held by the code named above: their cancellation could not "
                      "reach them (plugin %s)\n" % testkit, err)
        self.assertNotIn("never finished after", err)
        for f in sleeps + [blocked]:
            with self.assertRaises(grpc.RpcError):
                f.result(timeout=10)

    def test_port_in_use_exits_1(self):
        first = self.host().start()
        second = self.host(listen=first.listen)
        second.start(wait=False)
        self.assertEqual(second.wait_exit(5), 1, second.stderr())
        self.assertIn("rpcrest-host: [host] listen: cannot bind %s; gRPC core's line above says "
                      "why\n" % first.listen, second.stderr())
        self.assertIsNone(first.proc.poll())

    def test_unix_socket(self):
        pb2, pb2_grpc = echo_modules()
        d = tempfile.mkdtemp(prefix="rpcrest-sock-")
        self.addCleanup(shutil.rmtree, d, True)
        h = self.host(listen="unix:%s/host.sock" % d).start()
        with h.channel() as ch:
            stub = pb2_grpc.MyServiceStub(ch)
            self.assertEqual(stub.Echo(pb2.StringMessage(value="u"), timeout=5).value, "u")
        h.signal(signal.SIGTERM)
        self.assertEqual(h.wait_exit(5), 0, h.stderr())


class FileLimitTest(HostCase):
    def test_the_port_stays_open_after_the_host_ran_out_of_file_descriptors(self):
        """gRPC core 1.51 stops accepting on a listener for good once accept4
        fails with EMFILE: with 64 descriptors and 200 connections held
        open, the port used to take nobody again, even after they closed.
        The connections it cannot take are closed at once, and once they
        are gone a new client is served."""
        def at_64():
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        h = self.host().start(preexec_fn=at_64)
        held = []
        try:
            for _ in range(200):
                held.append(socket.create_connection(("127.0.0.1", h.port), timeout=5))
            time.sleep(1)  # the host takes what it can
        finally:
            for s in held:
                s.close()
        ch = h.channel()
        self.addCleanup(ch.close)
        self.assertEqual(ch.unary_unary(ECHO_METHOD)(b"\x0a\x02hi", timeout=5), b"\x0a\x02hi",
                         h.stderr())
        self.assertIn("out of file descriptors (Too many open files): ", h.stderr())
        self.assertRegex(h.stderr(), r"new connections? closed at once, and the port stays open")


class ConnectionLimitTest(HostCase):
    """[host] max_connection_idle, max_connection_age and
    max_connection_age_grace: GOAWAY, then the connection is closed."""

    TESTKIT_SO = os.path.join(harness.BUILD, "services", "testkit.so")

    def first_goaway(self, frames):
        """(index in frames, last stream id, error code) of the first GOAWAY."""
        for i, (ftype, _, _, payload) in enumerate(frames):
            if ftype == h2raw.GOAWAY:
                return (i, int.from_bytes(payload[:4], "big") & 0x7fffffff,
                        int.from_bytes(payload[4:8], "big"))
        self.fail("no GOAWAY in %r" % frames)

    def test_idle_connection_is_closed(self):
        h = self.host(host_keys={"max_connection_idle": "1"}).start()
        s = h2raw.start(h.port, timeout=8)
        try:
            t0 = time.monotonic()
            frames, closed = h2raw.read_frames(s)
            took = time.monotonic() - t0
        finally:
            s.close()
        self.first_goaway(frames)
        self.assertTrue(closed, frames)
        self.assertGreater(took, 0.8)
        self.assertLess(took, 8)

    def test_old_connection_ends_after_its_calls_finish(self):
        h = self.host(services=(("testkit", self.TESTKIT_SO, {}),),
                      host_keys={"max_connection_age": "1",
                                 "max_connection_age_grace": "3"}).start()
        duration = b"\x08\x02\x10" + varint(500000000)  # 2.5 s
        sleep_request = b"\x0a" + bytes([len(duration)]) + duration
        s = h2raw.start(h.port, timeout=10)
        try:
            t0 = time.monotonic()
            # Sleep 2.5 s: still running when the connection turns 1 s old
            s.sendall(h2raw.frame(h2raw.SETTINGS, 1, 0) +
                      h2raw.frame(h2raw.HEADERS, h2raw.END_HEADERS, 1, h2raw.grpc_request_headers(
                          "/rpcrest.testkit.TestKit/Sleep")) +
                      h2raw.frame(h2raw.DATA, h2raw.END_STREAM, 1,
                                  h2raw.grpc_message(sleep_request)))
            frames, closed = h2raw.read_frames(s)
            took = time.monotonic() - t0
        finally:
            s.close()
        goaway_at, last_stream, code = self.first_goaway(frames)
        self.assertEqual(code, 0, frames)  # NO_ERROR: a graceful end
        self.assertGreaterEqual(last_stream, 1, frames)
        # the reply came after the GOAWAY, whole: a message, then trailers
        reply = [(ftype, flags) for ftype, flags, sid, _ in frames[goaway_at:] if sid == 1]
        self.assertIn((h2raw.DATA, 0), reply, frames)
        self.assertTrue(any(ftype == h2raw.HEADERS and flags & h2raw.END_STREAM
                            for ftype, flags in reply), frames)
        self.assertNotIn(h2raw.RST_STREAM, [ftype for ftype, _, _, _ in frames], frames)
        self.assertTrue(closed, frames)
        self.assertLess(took, 1.1 + 3 + 5)  # age (and its 10% jitter) + grace, and slack

    def test_grace_ends_calls_that_outlast_it(self):
        h = self.host(services=(("testkit", self.TESTKIT_SO, {}),),
                      host_keys={"max_connection_age": "1",
                                 "max_connection_age_grace": "1"}).start()
        ch = grpc.insecure_channel(h.target())
        sleep = ch.unary_unary("/rpcrest.testkit.TestKit/Sleep")
        echo = ch.unary_unary("/rpcrest.testkit.TestKit/Echo")
        try:
            t0 = time.monotonic()
            with self.assertRaises(grpc.RpcError) as cm:
                sleep(b"\x0a\x02\x08\x0a", timeout=8)  # 10 s
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
            self.assertLess(time.monotonic() - t0, 1.1 + 1 + 5)
            # the client reconnects for the next call
            self.assertEqual(echo(b"", timeout=5), b"")
        finally:
            ch.close()

    def header_block_without_end(self, h, seconds):
        """Opens a header block whose literal field declares a 1 GiB value
        and sends CONTINUATION frames of it, never END_HEADERS; returns the
        seconds until the host closed the connection, or None.  About
        400 KB/s, which a loaded host parses as it comes; a frame the host
        has not taken yet waits, whole (a cut frame would end the
        connection for another reason)."""
        s = h2raw.start(h.port, timeout=2)
        t0 = time.monotonic()
        try:
            s.sendall(h2raw.frame(h2raw.SETTINGS, 1, 0) + h2raw.frame(
                h2raw.HEADERS, 0, 1, h2raw.grpc_request_headers(ECHO_METHOD) +
                b"\x00\x03x-a" + h2raw._hpack_int(1 << 30, 7, 0)))
            s.setblocking(False)
            piece = h2raw.frame(h2raw.CONTINUATION, 0, 1, b"a" * 4096)
            pending = b""
            while time.monotonic() - t0 < seconds:
                try:
                    pending = pending or piece
                    pending = pending[s.send(pending):]
                    if select.select([s], [], [], 0.01)[0] and s.recv(65536) == b"":
                        return time.monotonic() - t0
                except BlockingIOError:
                    time.sleep(0.01)  # the host is behind: its socket buffer is full
                except OSError:  # reset
                    return time.monotonic() - t0
            return None
        finally:
            s.close()

    def test_age_ends_a_header_block_that_never_ends(self):
        h = self.host(host_keys={"max_connection_age": "1",
                                 "max_connection_age_grace": "1"}).start()
        took = self.header_block_without_end(h, 12)
        self.assertIsNotNone(took, "the connection outlived max_connection_age")
        # age (and its 10% jitter) + grace, and late timers: the host is
        # busy with the block (4.0 s seen on a loaded machine)
        self.assertLess(took, 1.1 + 1 + 8)

    def test_idle_ends_a_header_block_that_never_ends(self):
        # no call begins until the block ends, so the connection is idle
        h = self.host(host_keys={"max_connection_idle": "1"}).start()
        took = self.header_block_without_end(h, 10)
        self.assertIsNotNone(took, "the connection outlived max_connection_idle")
        self.assertLess(took, 1 + 8)  # as above


class PingPolicyTest(HostCase):
    """Keepalive PINGs from clients: gRPC core's policy, set by [host]
    min_ping_interval and ping_without_calls."""

    def pings(self, h, n, gap):
        """Sends n PINGs `gap` seconds apart on a connection without calls;
        the GOAWAY's debug data, or None when the connection stayed up."""
        import h2raw
        s = h2raw.start(h.port)
        try:
            for i in range(n):
                try:
                    s.sendall(h2raw.frame(h2raw.PING, 0, 0, i.to_bytes(8, "big")))
                except OSError:  # closed after its GOAWAY
                    break
                time.sleep(gap)
            s.settimeout(0.5)
            frames, _ = h2raw.read_frames(s, until_closed=False)
        finally:
            s.close()
        for ftype, _, _, payload in frames:
            if ftype == h2raw.GOAWAY:
                return payload[8:]
        return None

    def test_default_refuses_frequent_pings(self):
        h = self.host().start()
        self.assertEqual(self.pings(h, 6, 0.05), b"too_many_pings")

    def test_configured_interval_allows_them(self):
        h = self.host(host_keys={"min_ping_interval": "1", "ping_without_calls": "on"}).start()
        self.assertIsNone(self.pings(h, 6, 1.2))
        # closer than the interval: strikes again
        self.assertEqual(self.pings(h, 6, 0.05), b"too_many_pings")

    def test_without_calls_off_keeps_two_hours(self):
        h = self.host(host_keys={"min_ping_interval": "1"}).start()
        self.assertEqual(self.pings(h, 6, 1.2), b"too_many_pings")


class DefaultThreadsTest(HostCase):
    """[host] threads = 0: one per CPU alone; half (rounded up) under rpcrestd,
    which runs the gateway on the same CPUs."""

    def serving_line(self, h):
        return [l for l in h.stderr().splitlines() if "rpcrest-host: serving " in l][0]

    def test_alone_one_per_cpu(self):
        h = self.host(threads=0).start()
        n = os.cpu_count()
        self.assertTrue(self.serving_line(h).endswith(
            " with %d thread%s" % (n, "" if n == 1 else "s")), h.stderr())

    def test_under_rpcrestd_half(self):
        # what rpcrestd hands its children: the readiness pipe's fd
        h = self.host(threads=0)
        r, w = os.pipe()
        try:
            env = dict(os.environ, RPCREST_NOTIFY_FD=str(w))
            with open(h.stderr_path, "ab") as err:
                h.proc = subprocess.Popen([HOST_BIN, "-c", h.ini], env=env,
                                          pass_fds=(w,), stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=err)
            os.close(w)
            w = -1
            self.assertEqual(os.read(r, 64), b"READY\n", h.stderr())
            n = (os.cpu_count() + 1) // 2
            self.assertTrue(self.serving_line(h).endswith(
                " with %d thread%s" % (n, "" if n == 1 else "s")), h.stderr())
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)


class PluginRefusedTest(HostCase):
    """Every refusal: exit 78 within seconds, one stderr line naming the file."""

    def refuse_one(self, path, settings=None):
        h = self.host(services=[("x", path, settings or {})])
        return self.refused(h)

    def test_missing_file(self):
        path = os.path.join(TEST_PLUGINS, "does_not_exist.so")
        err = self.refuse_one(path)
        self.assertIn(path, err)
        self.assertIn("No such file or directory", err)

    def test_not_a_shared_object(self):
        d = tempfile.mkdtemp(prefix="rpcrest-garbage-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "garbage.so")
        with open(path, "w") as f:
            f.write("this is not an ELF file\n" * 10)
        err = self.refuse_one(path)
        self.assertIn("rpcrest-host: %s: cannot load plugin: " % path, err)

    def test_no_entry_symbol(self):
        path = plugin("no_entry")
        err = self.refuse_one(path)
        self.assertIn("rpcrest-host: %s: not an rpcrest plugin: no rpcrest_plugin_entry symbol"
                      % path, err)
        self.assertIn("undefined symbol", err)  # dlerror()'s text

    def test_wrong_magic(self):
        path = plugin("bad_magic")
        err = self.refuse_one(path)
        self.assertIn('rpcrest-host: %s: not an rpcrest plugin: rpcrest_plugin_entry has magic '
                      '"NOTRPC!", expected "RPCREST"\n' % path, err)

    def test_wrong_abi_version(self):
        path = plugin("bad_abi")
        err = self.refuse_one(path)
        self.assertIn("rpcrest-host: %s: plugin ABI version mismatch: expected 1, found 999\n"
                      % path, err)

    def test_bidi_streaming_method(self):
        path = plugin("streaming")
        err = self.refuse_one(path)
        self.assertIn("rpcrest-host: %s: method /example.MyService/Echo is "
                      "bidirectional-streaming; this host serves unary and server-streaming "
                      "methods only\n" % path, err)

    def test_kind_contradicts_descriptor_set(self):
        path = plugin("kind_mismatch")
        err = self.refuse_one(path)
        self.assertIn("rpcrest-host: %s: method /example.MyService/Echo is unary in its "
                      ".proto, but the plugin declares it server-streaming\n" % path, err)

    def test_malformed_service_descriptor(self):
        """A hand-built protoc-c service descriptor missing what the host
        reads is refused, where the host crashed on it (at load, or at the
        first call), or named the wrong fault (tests/plugins/bad_descriptor.c)."""
        cases = {
            "no_name": "service entry 0: its name is NULL",
            "no_methods": "service example.MyService: methods is NULL",
            "no_index": "service example.MyService: method_indices_by_name is NULL",
            "unsorted_index": "service example.MyService: method_indices_by_name does not "
                              "list its methods in name order",
            "no_method_name": "service example.MyService: method 0 has no name",
            "no_input": "service example.MyService: method Echo: its input is not a "
                        "protoc-c message descriptor",
            "output_not_a_message": "service example.MyService: method Echo: its output is "
                                    "not a protoc-c message descriptor",
        }
        for case, why in cases.items():
            with self.subTest(case=case):
                path = plugin("bad_descriptor_" + case)
                err = self.refuse_one(path)
                self.assertEqual(err, "rpcrest-host: %s: a service has no valid protoc-c "
                                 "service descriptor: %s\n" % (path, why))

    def test_types_contradict_descriptor_set(self):
        """The handler would decode requests as the code's type, while
        reflection and the gateway describe the .proto's."""
        path = plugin("bad_descriptor_other_input")
        err = self.refuse_one(path)
        self.assertEqual(err, "rpcrest-host: %s: method /example.MyService/Echo takes "
                         "example.StringMessage in its .proto, but the plugin's code takes "
                         "google.protobuf.Empty\n" % path)

    def test_method_missing_from_descriptor_set(self):
        """Served, it would be a method reflection does not describe."""
        path = plugin("bad_descriptor_extra_method")
        err = self.refuse_one(path)
        self.assertEqual(err, "rpcrest-host: %s: method /example.MyService/Extra is not in "
                         "the plugin's embedded descriptor set\n" % path)

    def test_init_failure(self):
        path = plugin("bad_init")
        err = self.refuse_one(path, {"reason": "the disk is full"})
        self.assertRegex(err, r"rpcrest-host: \S+\.ini:\d+: \[service\.x\] plugin %s: init "
                         r"failed: refusing to start: the disk is full\n" % re.escape(path))

    def test_same_service_twice(self):
        h = self.host(services=[("one", ECHO_SO, {}), ("two", ECHO_SO, {})])
        err = self.refused(h)
        self.assertIn("rpcrest-host: %s ([service.two]): service example.MyService is already "
                      "provided by %s ([service.one])\n" % (ECHO_SO, ECHO_SO), err)

    def custom_plugin(self, name, proto, service_symbol, method, imports=None):
        """A plugin built here, outside the tree, by scripts/build-plugin.sh,
        from the .proto text `proto` (file NAME.proto), providing the
        protoc-c service `service_symbol` with one unary `method` that
        echoes the request.  imports: {file name: .proto text} in a folder
        given with -I."""
        tmp = tempfile.mkdtemp(prefix="rpcrest-custom-")
        self.addCleanup(shutil.rmtree, tmp, True)
        include = []
        if imports:
            os.mkdir(os.path.join(tmp, "inc"))
            include = ["-I", os.path.join(tmp, "inc")]
            for file_name, text in imports.items():
                os.makedirs(os.path.dirname(os.path.join(tmp, "inc", file_name)), exist_ok=True)
                with open(os.path.join(tmp, "inc", file_name), "w") as f:
                    f.write(text)
        with open(os.path.join(tmp, name + ".proto"), "w") as f:
            f.write(proto)
        with open(os.path.join(tmp, name + ".c"), "w") as f:
            f.write('#include <rpcrest/rpcrest.h>\n#include "%s.pb-c.h"\n'
                    "static void echo(rpcrest_call *c, const ProtobufCMessage *r, void *d)\n"
                    "{ (void)d; rpcrest_call_reply(c, r); }\n"
                    'static const rpcrest_method m[] = {{"%s", RPCREST_UNARY, echo}};\n'
                    "static const rpcrest_service s[] = {{&%s, m, 1}};\n"
                    'RPCREST_PLUGIN("%s", s, 1, NULL, NULL);\n'
                    % (name, method, service_symbol, name))
        so = os.path.join(tmp, name + ".so")
        subprocess.run([os.path.join(harness.ROOT, "scripts", "build-plugin.sh"), "-o", so]
                       + include + [os.path.join(tmp, name + ".proto"),
                                    os.path.join(tmp, name + ".c")],
                       check=True, capture_output=True, timeout=120, cwd=tmp,
                       env=dict(os.environ, RPCREST_BUILD=harness.BUILD))
        return so

    def test_plugin_built_outside_the_tree_serves(self):
        """scripts/build-plugin.sh: a .proto importing google/api and a
        well-known type, and a handler file, give a .so the host serves."""
        proto = """syntax = "proto3";
package outside.v1;
import "google/api/annotations.proto";
import "google/protobuf/timestamp.proto";
message Stamp { string name = 1; google.protobuf.Timestamp at = 2; }
service Clock {
  rpc Echo(Stamp) returns (Stamp) { option (google.api.http) = { post: "/v1/stamp" body: "*" }; }
}
"""
        so = self.custom_plugin("outside", proto, "outside__v1__clock__descriptor", "Echo")
        h = self.host(services=[("outside", so, {})]).start()
        self.assertIn("outside.v1.Clock (%s)" % so, h.stderr())
        ch = h.channel()
        self.addCleanup(ch.close)
        stamp = b"\x0a\x01x\x12\x02\x08\x05"  # name "x", at {seconds: 5}
        self.assertEqual(ch.unary_unary("/outside.v1.Clock/Echo")(stamp, timeout=10), stamp)

    def test_one_type_defined_by_two_files(self):
        """A copy of echo.proto with its package kept and the service renamed
        defines example.StringMessage a second time: the host refuses it,
        naming both plugins, rather than the gateway stopping on it."""
        with open(os.path.join(harness.ROOT, "services", "echo", "echo.proto")) as f:
            proto = f.read().replace("service MyService", "service MyService2").replace(
                "/v1/example/echo", "/v1/example/echo2")
        so = self.custom_plugin("echo2", proto, "example__my_service2__descriptor", "Echo")
        h = self.host(services=[("echo", ECHO_SO, {}), ("copy", so, {})])
        err = self.refused(h)
        self.assertRegex(err, r"rpcrest-host: \S+\.ini:\d+: \[service\.copy\] plugin %s: type "
                         r"example\.StringMessage \(in echo2\.proto\) is also defined by "
                         r"\[service\.echo\] plugin %s \(in echo\.proto\)"
                         % (re.escape(so), re.escape(ECHO_SO)))

    SHARED_USER = """syntax = "proto3";
package %s.v1;
import "common.proto";
service Svc { rpc Get(shared.v1.Money) returns (shared.v1.Money); }
"""

    def test_two_files_of_one_name(self):
        """Two plugins, each with its own common.proto (package shared.v1,
        message Money with other fields): the host served both, and
        reflection and the gateway read the second plugin's messages with
        the first one's definitions (200 with the wrong fields).  Refused
        now, naming both; the same file in both is fine."""
        money_a = ('syntax = "proto3";\npackage shared.v1;\n'
                   "message Money { string currency = 1; int64 units = 2; }\n")
        money_b = ('syntax = "proto3";\npackage shared.v1;\n'
                   "message Money { int64 units = 1; string currency = 2; }\n")
        user = self.SHARED_USER.replace('import "common.proto";',
                                        'import "common.proto";\n'
                                        'import "google/protobuf/timestamp.proto";')
        a = self.custom_plugin("alpha", user % "alpha", "alpha__v1__svc__descriptor",
                               "Get", {"common.proto": money_a})
        b = self.custom_plugin("beta", self.SHARED_USER % "beta", "beta__v1__svc__descriptor",
                               "Get", {"common.proto": money_b})
        # the same definitions, with a file option of its own (its build
        # for another language), and its own copy of a published file (as
        # descriptor.proto of a later protobuf release has fields added):
        # both are the same file to serve
        money_opt = money_a.replace("package shared.v1;",
                                    'package shared.v1;\noption go_package = "example.com/m";')
        with open("/usr/include/google/protobuf/timestamp.proto") as f:
            stamp = f.read().replace("int32 nanos = 2;", "int32 nanos = 2;\n  int32 later = 3;", 1)
        same = self.custom_plugin("gamma", user % "gamma", "gamma__v1__svc__descriptor", "Get",
                                  {"common.proto": money_opt,
                                   "google/protobuf/timestamp.proto": stamp})
        err = self.refused(self.host(services=[("alpha", a, {}), ("beta", b, {})]))
        self.assertRegex(err, r"rpcrest-host: \S+\.ini:\d+: \[service\.beta\] plugin %s: its "
                         r"common\.proto is not the common\.proto of \[service\.alpha\] plugin "
                         r"%s: plugins may share a \.proto file only when it is the same file"
                         % (re.escape(b), re.escape(a)))
        h = self.host(services=[("alpha", a, {}), ("echo", ECHO_SO, {}),
                                ("gamma", same, {})]).start()
        ch = h.channel()
        self.addCleanup(ch.close)
        money = b"\x0a\x03EUR\x10\x05"
        self.assertEqual(ch.unary_unary("/gamma.v1.Svc/Get")(money, timeout=10), money)

    def test_a_bidi_method_without_a_handler_says_the_service_cannot_be_served(self):
        """A .proto that declares a bidirectional method beside the unary
        one the plugin serves: a handler would not help (the host serves no
        client streams), and the refusal says so."""
        proto = """syntax = "proto3";
package mixed.v1;
message Msg { string text = 1; }
service Chat {
  rpc Say(Msg) returns (Msg);
  rpc Talk(stream Msg) returns (stream Msg);
}
"""
        so = self.custom_plugin("mixed", proto, "mixed__v1__chat__descriptor", "Say")
        err = self.refused(self.host(services=[("mixed", so, {})]))
        self.assertIn("%s: method /mixed.v1.Chat/Talk is bidirectional-streaming in its .proto; "
                      "this host serves unary and server-streaming methods only, so it cannot "
                      "serve service mixed.v1.Chat (a handler would not help: move the method "
                      "to a service of its own)" % so, err)
        self.assertNotIn("has no handler", err)

    HEALTH_COPY = """syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
service %s { rpc Check(HealthCheckRequest) returns (HealthCheckRequest); }
"""

    def test_keys_for_a_plugin_without_init_are_reported(self):
        """echo.so has no init(): a key in its section reaches nobody, and
        the host says so (INI:LINE), then serves as usual."""
        h = self.host(services=[("echo", ECHO_SO, {"greting": "Hello"})]).start()
        self.assertRegex(h.stderr(), r"rpcrest-host: \S+\.ini:\d+: \[service\.echo\] greting: "
                         r"plugin %s has no init\(\), so this key is not used\n"
                         % re.escape(ECHO_SO))

    def test_a_service_the_host_serves_itself(self):
        """A plugin providing grpc.health.v1.Health: refused at load (exit
        78), not left to gRPC core's duplicate registration (exit 1, a
        restart loop to FATAL under rpcrestd)."""
        so = self.custom_plugin("myhealth", self.HEALTH_COPY % "Health",
                                "grpc__health__v1__health__descriptor", "Check")
        err = self.refused(self.host(services=[("myhealth", so, {})]))
        self.assertIn("(%s): service grpc.health.v1.Health is the host's own (it serves "
                      "grpc.health.v1.Health, grpc.reflection.v1.ServerReflection and "
                      "grpc.reflection.v1alpha.ServerReflection itself)" % "[service.myhealth]",
                      err)

    def test_a_type_the_host_defines_itself(self):
        """Another service in package grpc.health.v1 whose .proto defines
        HealthCheckRequest again: its type clashes with the host's own
        health.proto (which reflection serves): refused, exit 78."""
        so = self.custom_plugin("myhealth2", self.HEALTH_COPY % "Health2",
                                "grpc__health__v1__health2__descriptor", "Check")
        err = self.refused(self.host(services=[("myhealth2", so, {})]))
        self.assertRegex(err, r"rpcrest-host: \S+\.ini:\d+: \[service\.myhealth2\] plugin %s: "
                         r"type grpc\.health\.v1\.HealthCheckRequest \(in myhealth2\.proto\) "
                         r"is also defined by the host's own grpc/health/v1/health\.proto"
                         % re.escape(so))

    def test_later_failure_finalizes_earlier_plugins(self):
        """init ran for the first plugin; the second fails: fini runs, exit 78."""
        h = self.host(services=[("inspect", plugin("inspect"), {}),
                                ("bad", plugin("bad_init"), {"reason": "no"})])
        fini_file = os.path.join(h.dir, "fini")
        with open(h.ini) as f:
            text = f.read()
        with open(h.ini, "w") as f:
            f.write(text.replace("[service.bad]", "fini_file = %s\n\n[service.bad]" % fini_file))
        err = self.refused(h)
        self.assertIn("init failed: refusing to start: no", err)
        with open(fini_file) as f:
            self.assertEqual(f.read(), "fini\n")

    def test_config_error(self):
        h = self.host()
        with open(h.ini, "a") as f:
            f.write("[host]\nlisten = 127.0.0.1:1\n")
        err = self.refused(h)
        self.assertRegex(err, r"rpcrest-host: %s:\d+: " % h.ini)

    def test_one_line_per_refusal(self):
        err = self.refuse_one(plugin("bad_abi"))
        self.assertEqual(len(err.splitlines()), 1, err)


class UsageTest(unittest.TestCase):

    def test_help(self):
        out = subprocess.run([HOST_BIN, "-h"], capture_output=True, timeout=5)
        self.assertEqual(out.returncode, 0)
        self.assertIn(b"usage: rpcrest-host -c FILE", out.stdout)

    def test_no_config_is_usage_error(self):
        out = subprocess.run([HOST_BIN], capture_output=True, timeout=5)
        self.assertEqual(out.returncode, 64)
        self.assertIn(b"usage:", out.stderr)


if __name__ == "__main__":
    unittest.main()
