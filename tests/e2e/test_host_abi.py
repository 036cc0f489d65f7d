"""End-to-end tests of the plugin ABI through the testkit service
(services/testkit/): metadata both ways, trailers, deadlines, cancellation,
asynchronous completion, errors with details, server streaming with flow
control (10,000 messages; a slow reader with bounded host memory), the
[host] limits, concurrency, and the drain on SIGTERM.

rpcrest-host is started directly with its own INI (test_host.Host), except
in the last class, which runs the whole system through rpcrestd.
"""
import concurrent.futures
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import grpc
from google.protobuf import any_pb2, empty_pb2, wrappers_pb2

import harness
from test_host import Host

TESTKIT_SO = os.path.join(harness.BUILD, "services", "testkit.so")
ECHO_SO = os.path.join(harness.BUILD, "services", "echo.so")
DETAILS_KEY = "grpc-status-details-bin"
EINVAL = -4


def testkit_modules():
    return harness.grpc_modules("testkit.proto", os.path.join(harness.ROOT, "services/testkit"))


def seconds(pb2, value):
    """SleepRequest for `value` seconds."""
    req = pb2.SleepRequest()
    req.duration.FromNanoseconds(int(value * 1e9))
    return req


_varint = harness.varint


def read_varint(data, i):
    shift = value = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def parse_status(blob):
    """google.rpc.Status from its wire form: (code, message, [Any])."""
    code, message, details, i = 0, "", [], 0
    while i < len(blob):
        key, i = read_varint(blob, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = read_varint(blob, i)
            if field == 1:
                code = value
            continue
        if wire != 2:
            raise AssertionError("unexpected wire type %d" % wire)
        n, i = read_varint(blob, i)
        chunk, i = blob[i:i + n], i + n
        if field == 2:
            message = chunk.decode("utf-8")
        elif field == 3:
            details.append(any_pb2.Any.FromString(chunk))
    return code, message, details


def new_host(**kw):
    """A started Host serving testkit (and echo) with the given [host] keys."""
    keys = {"max_message_bytes": "1M"}
    keys.update(kw.pop("host_keys", {}))
    h = Host(services=[("testkit", TESTKIT_SO, {}), ("echo", ECHO_SO, {})],
             host_keys=keys, **kw)
    try:
        h.start()
    except Exception:
        h.cleanup()
        raise
    return h


class TestkitCase(unittest.TestCase):
    """One host for the class; self.stub is a TestKit stub."""
    host_keys = {}
    threads = 4

    @classmethod
    def setUpClass(cls):
        cls.pb2, cls.pb2_grpc = testkit_modules()
        cls.h = new_host(threads=cls.threads, host_keys=cls.host_keys)
        cls.ch = cls.h.channel()
        cls.stub = cls.pb2_grpc.TestKitStub(cls.ch)

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()
        cls.h.cleanup()

    def stats(self):
        return self.stub.Stats(empty_pb2.Empty(), timeout=5)


class MetadataTest(TestkitCase):

    def call(self, metadata, request=None, timeout=10):
        reply, call = self.stub.EchoMetadata.with_call(
            request or self.pb2.MetadataRequest(), metadata=metadata, timeout=timeout)
        return reply, call

    def test_request_metadata_reaches_the_handler_in_order(self):
        md = [("x-one", "1"), ("x-one", "2"), ("x-blob-bin", b"\x00\x01\xfe\xff"),
              ("x-empty", "")]
        reply, _ = self.call(md)
        got = [(e.key, e.binary if e.WhichOneof("value") == "binary" else e.text)
               for e in reply.metadata if e.key.startswith("x-")]
        self.assertEqual(got, md)
        agents = [e.text for e in reply.metadata if e.key == "user-agent"]
        self.assertEqual(len(agents), 1)
        self.assertIn("grpc-python", agents[0])

    def test_metadata_comes_back_as_headers_and_trailers(self):
        md = [("x-one", "1"), ("x-one", "2"), ("x-blob-bin", b"\x00\x01\xfe\xff")]
        _, call = self.call(md)
        for block in (call.initial_metadata(), call.trailing_metadata()):
            got = [(k, v) for k, v in block if k.startswith("x-")]
            self.assertEqual(got, md)
            self.assertNotIn("user-agent", [k for k, _ in block])

    def test_added_metadata_and_what_the_host_refuses(self):
        E = self.pb2.MetadataEntry
        req = self.pb2.MetadataRequest(no_echo=True, add_initial=[
            E(key="x-added", text="v"),
            E(key="x-added-bin", binary=b"\x00\xff\n"),
            E(key="grpc-status", text="0"),      # reserved prefix
            E(key="Upper", text="x"),            # not lower case
            E(key="x-ctl", text="a\nb"),         # control byte in a text value
            E(key="te", text="trailers"),        # HTTP/2 header
            E(key="", text="x"),
        ], add_trailing=[E(key="x-trailer", text="t"), E(key="grpc-message", text="no")])
        reply, call = self.call([("x-ignored", "1")], req)
        self.assertEqual(list(reply.add_results), [0, 0] + [EINVAL] * 5 + [0, EINVAL])
        initial = [(k, v) for k, v in call.initial_metadata() if k.startswith("x-")]
        self.assertEqual(initial, [("x-added", "v"), ("x-added-bin", b"\x00\xff\n")])
        trailing = [(k, v) for k, v in call.trailing_metadata() if k.startswith("x-")]
        self.assertEqual(trailing, [("x-trailer", "t")])

    def test_keys_grpc_core_sends_its_own_way_are_refused(self):
        """Every key gRPC core 1.51 sends its own way, drops or chokes on is
        RPCREST_EINVAL: content-length never went out, an lb-cost-bin "zz"
        went out as eight zero bytes, and grpclb_client_stats closed the
        client's connection, failing its other calls too."""
        E = self.pb2.MetadataEntry
        keys = ["content-length", "lb-cost-bin",
                "grpclb_client_stats", "content-type", "te", "user-agent", "host",
                "grpc-trace-bin", "grpc-tags-bin", "grpc-server-stats-bin",
                "grpc-previous-rpc-attempts", "grpc-retry-pushback-ms", "connection"]

        def entry(key):
            return E(key=key, binary=b"zz") if key.endswith("-bin") else E(key=key, text="5")
        req = self.pb2.MetadataRequest(no_echo=True, add_initial=[entry(k) for k in keys],
                                       add_trailing=[entry(k) for k in keys])
        reply, call = self.call([], req)
        self.assertEqual(list(reply.add_results), [EINVAL] * (2 * len(keys)))
        sent = [k for k, _ in call.initial_metadata() + call.trailing_metadata()]
        self.assertEqual([k for k in keys if k in sent], [])

    def test_load_balancing_keys_go_out_as_given(self):
        """lb-token, endpoint-load-metrics-bin (ORCA) and an lb-cost-bin of a
        double and a name are a server's to send: accepted, and lb-token
        reaches the client (grpcio, itself gRPC core, keeps the two -bin
        keys for its balancer; other clients get them as sent)."""
        E = self.pb2.MetadataEntry
        cost = struct.pack("<d", 1.5) + b"disk"
        sent = [E(key="lb-token", text="abc"),
                E(key="endpoint-load-metrics-bin", binary=b"\x09\x00\x00\x00\x00\x00\x00\xe0?"),
                E(key="lb-cost-bin", binary=cost)]
        req = self.pb2.MetadataRequest(no_echo=True, add_trailing=sent)
        reply, call = self.call([], req)
        self.assertEqual(list(reply.add_results), [0, 0, 0])
        self.assertEqual(dict(call.trailing_metadata()).get("lb-token"), "abc")
        short = self.pb2.MetadataRequest(no_echo=True, add_trailing=[
            E(key="lb-cost-bin", binary=cost[:7])])
        self.assertEqual(list(self.call([], short)[0].add_results), [EINVAL])

    def test_request_id_is_one_word_or_none(self):
        """rpcrest_call_request_id gives an id only when it is one word a log
        line can hold (the gateway's rule): a client cannot make a plugin's
        or the host's line read `… rpcrestd: event=exit …`."""
        ok = "req-42.abc_DEF:1/2"
        self.assertEqual(self.call([("x-request-id", ok)])[0].request_id, ok)
        self.assertEqual(self.call([("x-request-id", "r" * 128)])[0].request_id, "r" * 128)
        for bad in ("x rpcrestd: event=exit child=rpcrest-host pid=1", 'a"b', "a\\b",
                    "r" * 129, ""):
            reply, _ = self.call([("x-request-id", bad)])
            self.assertEqual(reply.request_id, "", bad)
            # the entry itself still reaches the handler as it came
            self.assertIn(("x-request-id", bad),
                          [(e.key, e.text) for e in reply.metadata], bad)

    def test_method_peer_and_deadline(self):
        reply, _ = self.call([], timeout=5)
        self.assertEqual(reply.method, "/rpcrest.testkit.TestKit/EchoMetadata")
        self.assertTrue(reply.peer.startswith("ipv4:127.0.0.1:"), reply.peer)
        self.assertTrue(4000 <= reply.deadline_ms <= 5100, reply.deadline_ms)
        reply, _ = self.call([], timeout=None)
        self.assertEqual(reply.deadline_ms, -1)

    def test_trailers_on_an_error(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.Fail(self.pb2.FailRequest(code=5, message="nope"),
                           metadata=[("x-a", "b")], timeout=5)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(cm.exception.details(), "nope")
        self.assertNotIn(DETAILS_KEY, dict(cm.exception.trailing_metadata()))


class UnaryTest(TestkitCase):

    def test_echo_every_field_type(self):
        pb2 = self.pb2
        msg = pb2.AllTypes(
            double_value=1.5, float_value=-2.25, int32_value=-7, int64_value=-(1 << 60),
            uint32_value=1 << 31, uint64_value=(1 << 64) - 1, sint32_value=-9,
            sint64_value=-(1 << 62), fixed32_value=12345, fixed64_value=1 << 50,
            sfixed32_value=-3, sfixed64_value=-(1 << 40), bool_value=True,
            string_value="héllo ✓", bytes_value=b"\x00\x01\xff", color=pb2.BLUE,
            nested=pb2.Nested(name="n", value=1, child=pb2.Nested(name="c"),
                              colors=[pb2.RED, pb2.GREEN]),
            repeated_int32=[1, -2, 3], repeated_string=["a", "", "c"],
            repeated_nested=[pb2.Nested(name="x"), pb2.Nested(value=2)],
            repeated_color=[pb2.RED, pb2.BLUE], repeated_bytes=[b"", b"\xff"],
            string_map={"k": "v", "": "empty"}, nested_map={1: pb2.Nested(name="one")},
            choice_nested=pb2.Nested(name="picked"))
        msg.timestamp.FromSeconds(1700000000)
        msg.duration.FromMilliseconds(1500)
        msg.double_wrapper.value = 0.5
        msg.float_wrapper.value = 0.25
        msg.int64_wrapper.value = -5
        msg.uint64_wrapper.value = 5
        msg.int32_wrapper.value = -6
        msg.uint32_wrapper.value = 6
        msg.bool_wrapper.value = False
        msg.string_wrapper.value = "s"
        msg.bytes_wrapper.value = b"b"
        msg.struct_value.update({"a": 1, "b": [True, None, "x"], "c": {"d": 2.5}})
        msg.value.string_value = "v"
        msg.list_value.extend([1, "two"])
        msg.field_mask.paths.extend(["a.b", "c"])
        msg.empty.SetInParent()
        msg.any.Pack(wrappers_pb2.StringValue(value="packed"))
        self.assertEqual(self.stub.Echo(msg, timeout=5), msg)
        self.assertEqual(self.stub.Echo(pb2.AllTypes(), timeout=5), pb2.AllTypes())

    def test_sleep_replies_from_a_timer_thread(self):
        t0 = time.monotonic()
        reply = self.stub.Sleep(seconds(self.pb2, 0.2), timeout=5)
        self.assertGreaterEqual(reply.slept.ToNanoseconds(), 200_000_000)
        self.assertGreaterEqual(time.monotonic() - t0, 0.2)

    def test_sleeps_do_not_hold_host_threads(self):
        """12 one-second sleeps on a 4-thread host take about 1 s, not 3."""
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            replies = list(pool.map(lambda _: self.stub.Sleep(seconds(self.pb2, 1), timeout=10),
                                    range(12)))
        self.assertEqual(len(replies), 12)
        self.assertLess(time.monotonic() - t0, 2.5)

    def test_deadline_exceeded(self):
        before = self.stats().sleeps_cancelled
        t0 = time.monotonic()
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.Sleep(seconds(self.pb2, 3), timeout=0.3)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertLess(time.monotonic() - t0, 1.5)
        self.assertTrue(harness.wait_until(
            lambda: self.stats().sleeps_cancelled > before, 3, 0.02),
            "the handler never saw the deadline pass")

    def test_client_cancellation_reaches_the_handler(self):
        before = self.stats()
        fut = self.stub.Sleep.future(seconds(self.pb2, 20), timeout=60)
        self.assertTrue(harness.wait_until(
            lambda: self.stats().sleeps_started > before.sleeps_started, 3, 0.02))
        t0 = time.monotonic()
        fut.cancel()
        self.assertTrue(harness.wait_until(
            lambda: self.stats().sleeps_cancelled > before.sleeps_cancelled, 3, 0.01),
            "the handler never saw the cancellation")
        self.assertLess(time.monotonic() - t0, 1)
        self.assertEqual(self.stats().sleeps_completed, before.sleeps_completed)

    def test_async_completion_from_another_thread(self):
        reply = self.stub.Async(self.pb2.AsyncRequest(value="later"), timeout=5)
        self.assertEqual(reply.value, "later")
        self.assertGreater(reply.handler_thread, 0)
        self.assertGreater(reply.finish_thread, 0)
        self.assertNotEqual(reply.handler_thread, reply.finish_thread)

    def test_status_details_in_grpc_status_details_bin(self):
        given = any_pb2.Any()
        given.Pack(wrappers_pb2.StringValue(value="why"))
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.Fail(self.pb2.FailRequest(code=9, message="not now", details=[given],
                                                with_info=True), timeout=5)
        e = cm.exception
        self.assertEqual(e.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertEqual(e.details(), "not now")
        blobs = [v for k, v in e.trailing_metadata() if k == DETAILS_KEY]
        self.assertEqual(len(blobs), 1, e.trailing_metadata())
        code, message, details = parse_status(blobs[0])
        self.assertEqual((code, message), (9, "not now"))
        self.assertEqual(len(details), 2)
        self.assertEqual(details[0], given)
        self.assertEqual(details[1].type_url, "type.googleapis.com/rpcrest.testkit.FailInfo")
        info = self.pb2.FailInfo()
        self.assertTrue(details[1].Unpack(info))
        self.assertEqual((info.reason, info.domain, dict(info.metadata)),
                         ("TESTKIT_FAIL", "rpcrest.testkit", {"code": "9"}))

    def fail_raw(self, code, message, with_info=False):
        """Calls Fail with a FailRequest serialized by hand, its message in
        raw_message (bytes: the host refuses a string that is not UTF-8),
        which testkit puts in its status, as a plugin quoting its input
        would.  Returns the RpcError."""
        fail = self.ch.unary_unary("/rpcrest.testkit.TestKit/Fail",
                                   request_serializer=lambda b: b,
                                   response_deserializer=lambda b: b)
        raw = (b"\x08" + bytes([code]) + b"\x2a" + _varint(len(message)) + message +
               (b"\x20\x01" if with_info else b""))
        with self.assertRaises(grpc.RpcError) as cm:
            fail(raw, timeout=5)
        return cm.exception

    def test_status_message_is_sent_as_valid_utf8(self):
        bad = b"caf\xe9 \xff\xfe \xc3( \xe2\x82 \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf ok \xe2\x82"
        expected = bad.decode("utf-8", "replace")  # each maximal invalid part: U+FFFD
        for with_info in (False, True):
            with self.subTest(with_info=with_info):
                e = self.fail_raw(3, bad, with_info)
                self.assertEqual(e.code(), grpc.StatusCode.INVALID_ARGUMENT)
                self.assertEqual(e.details(), expected)
                blobs = [v for k, v in e.trailing_metadata() if k == DETAILS_KEY]
                self.assertEqual(len(blobs), 1 if with_info else 0)
                if with_info:
                    # a proto3 string must be UTF-8: clients' parsers refuse the
                    # google.rpc.Status otherwise, and lose the whole status
                    code, message, details = parse_status(blobs[0])
                    self.assertEqual((code, message, len(details)), (3, expected, 1))

    def test_long_status_message_is_cut_to_what_clients_take(self):
        # gRPC clients refuse a status header block over 8 KiB (and gRPC
        # percent-encodes every byte outside printable ASCII into three):
        # the plugin's code must still reach them
        for text, with_info in (("x" * 9000, False), ("x" * 9000, True),
                                ("\u00e9" * 4000, False), ("\u2603" * 3000, True),
                                ("%" * 3000, False)):
            with self.subTest(text=text[:3], length=len(text), with_info=with_info):
                e = self.fail_raw(5, text.encode(), with_info)
                self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND, e.details())
                self.assertTrue(e.details().endswith("..."), e.details()[-20:])
                kept = e.details()[:-3]
                self.assertTrue(text.startswith(kept))
                wire = sum(1 if 0x20 <= b <= 0x7e and b != 0x25 else 3 for b in kept.encode())
                self.assertTrue(2000 < wire + 3 <= 2048, wire)
                if with_info:
                    blob = [v for k, v in e.trailing_metadata() if k == DETAILS_KEY][0]
                    self.assertEqual(parse_status(blob)[:2], (5, e.details()))
        fits = "y" * 2048
        self.assertEqual(self.fail_raw(5, fits.encode()).details(), fits)

    def test_details_too_large_to_deliver_are_left_out(self):
        before = self.stats().fail_details_refused
        for size in (5000, 100000):
            with self.subTest(size=size):
                big = any_pb2.Any(type_url="type.googleapis.com/x.Y", value=b"v" * size)
                with self.assertRaises(grpc.RpcError) as cm:
                    self.stub.Fail(self.pb2.FailRequest(code=5, message="gone", details=[big]),
                                   timeout=5)
                e = cm.exception
                self.assertEqual((e.code(), e.details()), (grpc.StatusCode.NOT_FOUND, "gone"))
                self.assertNotIn(DETAILS_KEY, [k for k, v in e.trailing_metadata()])
        # the plugin was told (RPCREST_EINVAL), and details that fit still go
        self.assertEqual(self.stats().fail_details_refused, before + 2)
        fits = any_pb2.Any(type_url="type.googleapis.com/x.Y", value=b"v" * 3000)
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.Fail(self.pb2.FailRequest(code=5, message="gone", details=[fits]),
                           timeout=5)
        blob = [v for k, v in cm.exception.trailing_metadata() if k == DETAILS_KEY][0]
        self.assertEqual([(d.type_url, d.value) for d in parse_status(blob)[2]],
                         [(fits.type_url, fits.value)])
        self.assertEqual(self.stats().fail_details_refused, before + 2)

    def test_detail_type_url_must_name_a_type(self):
        """An Any's type URL ends in "/TYPE.NAME": "" (with a value) or "x"
        is refused (RPCREST_EINVAL) and the call fails without details; the
        empty Any (no URL, no value) is taken."""
        before = self.stats().fail_details_refused
        for url in ("", "x", "type.googleapis.com/"):
            with self.subTest(url=url):
                with self.assertRaises(grpc.RpcError) as cm:
                    self.stub.Fail(self.pb2.FailRequest(code=5, message="gone", details=[
                        any_pb2.Any(type_url=url, value=b"v")]), timeout=5)
                self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
                self.assertNotIn(DETAILS_KEY, [k for k, v in cm.exception.trailing_metadata()])
        self.assertEqual(self.stats().fail_details_refused, before + 3)

    def test_fail_with_a_code_that_is_not_a_failure(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.Fail(self.pb2.FailRequest(code=0, message="ok?"), timeout=5)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNKNOWN)

    def test_oversized_request_is_resource_exhausted(self):
        big = self.pb2.AllTypes(bytes_value=b"x" * (1 << 20))  # > 1M with its header
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.Echo(big, timeout=5)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        ok = self.pb2.AllTypes(bytes_value=b"x" * ((1 << 20) - 64))
        self.assertEqual(self.stub.Echo(ok, timeout=5), ok)

    def test_32_threads_500_calls_each(self):
        pb2 = self.pb2
        errors = []

        def worker(n):
            try:
                for i in range(500):
                    if i % 50 == 0:
                        r = self.stub.Async(pb2.AsyncRequest(value="%d/%d" % (n, i)), timeout=10)
                        assert r.value == "%d/%d" % (n, i), r
                    else:
                        msg = pb2.AllTypes(int32_value=n, int64_value=i,
                                           string_value="t%d-%d" % (n, i))
                        assert self.stub.Echo(msg, timeout=10) == msg
            except Exception as e:  # collected, reported below
                errors.append(repr(e))
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])


class StreamingTest(TestkitCase):

    def test_10000_messages_in_order(self):
        replies = self.stub.Stream(self.pb2.StreamRequest(count=10000, size=16), timeout=60)
        indexes = [r.index for r in replies]
        self.assertEqual(indexes, list(range(10000)))

    def test_payload(self):
        replies = list(self.stub.Stream(self.pb2.StreamRequest(count=3, size=30), timeout=10))
        self.assertEqual([r.payload for r in replies],
                         [b"abcdefghijklmnopqrstuvwxyzabcd"] * 3)

    def test_empty_stream(self):
        call = self.stub.Stream(self.pb2.StreamRequest(count=0), timeout=10)
        self.assertEqual(list(call), [])
        self.assertEqual(call.code(), grpc.StatusCode.OK)

    def test_error_status_after_messages(self):
        call = self.stub.Stream(self.pb2.StreamRequest(count=3, fail_code=10), timeout=10)
        got = []
        with self.assertRaises(grpc.RpcError) as cm:
            for r in call:
                got.append(r.index)
        self.assertEqual(got, [0, 1, 2])
        self.assertEqual(cm.exception.code(), grpc.StatusCode.ABORTED)
        self.assertEqual(cm.exception.details(), "failed after 3 messages")

    def test_client_cancels_a_stream(self):
        before = self.stats().streams_cancelled
        call = self.stub.Stream(self.pb2.StreamRequest(count=1000000, size=1024), timeout=60)
        for _ in range(10):
            next(call)
        call.cancel()
        self.assertTrue(harness.wait_until(
            lambda: self.stats().streams_cancelled > before, 5, 0.02),
            "the plugin never saw the cancellation")

    def test_invalid_request(self):
        with self.assertRaises(grpc.RpcError) as cm:
            list(self.stub.Stream(self.pb2.StreamRequest(count=-1), timeout=5))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)


class SlowReaderTest(unittest.TestCase):
    """A client that reads 1 MiB messages slowly: the plugin is held back by
    the send queue (RPCREST_EAGAIN, writable callbacks), and the host's
    memory stays bounded, far below what it streams."""

    COUNT = 120
    SIZE = 1 << 20

    def test_host_memory_stays_bounded(self):
        pb2, pb2_grpc = testkit_modules()
        # In a SAN=1 build, freed memory would sit in ASan's quarantine.
        saved = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = ((saved + ":") if saved else "") + "quarantine_size_mb=0"
        try:
            h = new_host(threads=2)
        finally:
            if saved is None:
                del os.environ["ASAN_OPTIONS"]
            else:
                os.environ["ASAN_OPTIONS"] = saved
        self.addCleanup(h.cleanup)
        ch = h.channel()
        self.addCleanup(ch.close)
        stub = pb2_grpc.TestKitStub(ch)
        list(stub.Stream(pb2.StreamRequest(count=8, size=self.SIZE), timeout=30))  # warm up
        base = harness.rss_kib(h.proc.pid)
        peak = [base]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], harness.rss_kib(h.proc.pid))
                time.sleep(0.01)
        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            n = 0
            for r in stub.Stream(pb2.StreamRequest(count=self.COUNT, size=self.SIZE),
                                 timeout=60):
                self.assertEqual((r.index, len(r.payload)), (n, self.SIZE))
                n += 1
                time.sleep(0.02)
        finally:
            done.set()
            sampler.join()
        self.assertEqual(n, self.COUNT)
        grown_mib = (peak[0] - base) / 1024
        self.assertLess(grown_mib, 32, "host RSS grew by %.1f MiB while streaming %d MiB"
                        % (grown_mib, self.COUNT * self.SIZE >> 20))
        stats = stub.Stats(empty_pb2.Empty(), timeout=5)
        self.assertGreater(stats.sends_refused, 0)
        self.assertGreater(stats.writable_callbacks, 0)


class LimitsTest(unittest.TestCase):

    def test_max_concurrent_streams(self):
        """Four one-second calls on one connection, two streams at a time:
        about 2 s, and all succeed."""
        pb2, pb2_grpc = testkit_modules()
        h = new_host(host_keys={"max_concurrent_streams": "2"})
        self.addCleanup(h.cleanup)
        with h.channel() as ch:
            stub = pb2_grpc.TestKitStub(ch)
            stub.Stats(empty_pb2.Empty(), timeout=5)
            t0 = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda _: stub.Sleep(seconds(pb2, 1), timeout=10), range(4)))
            elapsed = time.monotonic() - t0
        self.assertGreater(elapsed, 1.9)
        self.assertLess(elapsed, 3.5)


class DrainTest(unittest.TestCase):
    """SIGTERM: no new calls, calls in flight get drain_timeout, then are
    cancelled; exit 0."""

    def start(self, drain):
        self.pb2, pb2_grpc = testkit_modules()
        h = new_host(host_keys={"drain_timeout": str(drain)})
        self.addCleanup(h.cleanup)
        ch = h.channel()
        self.addCleanup(ch.close)
        return h, pb2_grpc.TestKitStub(ch)

    def sleep_in_background(self, stub, secs):
        result = {}

        def run():
            try:
                result["reply"] = stub.Sleep(seconds(self.pb2, secs), timeout=30)
            except grpc.RpcError as e:
                result["code"] = e.code()
        t = threading.Thread(target=run)
        t.start()
        return t, result

    def test_short_call_finishes_long_call_is_cancelled(self):
        h, stub = self.start(drain=2)
        short, short_result = self.sleep_in_background(stub, 1)
        long, long_result = self.sleep_in_background(stub, 20)
        self.assertTrue(harness.wait_until(
            lambda: stub.Stats(empty_pb2.Empty(),
                               timeout=5).sleeps_started >= 2, 5, 0.02))
        t0 = time.monotonic()
        h.signal(signal.SIGTERM)
        time.sleep(0.3)
        with grpc.insecure_channel(h.target()) as fresh:  # no new calls while draining
            with self.assertRaises(grpc.RpcError) as cm:
                harness_stub = type(stub)(fresh)
                harness_stub.Sleep(seconds(self.pb2, 0), timeout=2)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(h.wait_exit(10), 0, h.stderr())
        elapsed = time.monotonic() - t0
        short.join(5)
        long.join(5)
        self.assertIn("reply", short_result, short_result)
        self.assertGreaterEqual(short_result["reply"].slept.ToNanoseconds(), 1_000_000_000)
        self.assertIn(long_result.get("code"), (grpc.StatusCode.UNAVAILABLE,
                                                grpc.StatusCode.CANCELLED), long_result)
        self.assertGreater(elapsed, 1.9)
        self.assertLess(elapsed, 4)
        err = h.stderr()
        self.assertIn("rpcrest-host: SIGTERM: stopping (draining calls for up to 2 s)\n", err)
        self.assertIn("rpcrest-host: drain: 1 call still running after 2 s: cancelling it\n",
                      err)
        self.assertIn("rpcrest-host: stopped\n", err)

    def test_drain_ends_as_soon_as_the_calls_are_done(self):
        h, stub = self.start(drain=5)
        t, result = self.sleep_in_background(stub, 0.5)
        time.sleep(0.2)
        t0 = time.monotonic()
        h.signal(signal.SIGTERM)
        self.assertEqual(h.wait_exit(10), 0, h.stderr())
        self.assertLess(time.monotonic() - t0, 2)
        t.join(5)
        self.assertIn("reply", result, result)
        self.assertNotIn("still running", h.stderr())

    def test_an_idle_connection_does_not_hold_the_drain(self):
        """grpcio reads nothing on a connection without calls, so it never
        answers the PING of the host's GOAWAY and never closes: the drain
        waited all of drain_timeout for it, and said "0 calls still
        running".  It ends once the calls are done."""
        h, stub = self.start(drain=5)
        stub.Sleep(seconds(self.pb2, 0), timeout=5)  # the connection stays open, idle
        t0 = time.monotonic()
        h.signal(signal.SIGTERM)
        self.assertEqual(h.wait_exit(10), 0, h.stderr())
        self.assertLess(time.monotonic() - t0, 1.5)
        self.assertNotIn("drain:", h.stderr())


class PluginBuildTest(unittest.TestCase):
    """A service is a folder; its .so carries its descriptor set."""

    def test_descriptor_set_is_embedded(self):
        for name in ("echo", "testkit"):
            with open(os.path.join(harness.BUILD, "services", name + ".so"), "rb") as f:
                so = f.read()
            with open(os.path.join(harness.BUILD, "services", name + ".pb"), "rb") as f:
                pb = f.read()
            self.assertGreater(len(pb), 100)
            self.assertIn(pb, so, "%s.so does not embed %s.pb" % (name, name))

    def test_testkit_set_names_its_imports(self):
        from google.protobuf import descriptor_pb2
        with open(os.path.join(harness.BUILD, "services", "testkit.pb"), "rb") as f:
            files = [f.name for f in descriptor_pb2.FileDescriptorSet.FromString(f.read()).file]
        for dep in ("google/protobuf/any.proto", "google/protobuf/struct.proto",
                    "google/api/annotations.proto", "testkit.proto"):
            self.assertIn(dep, files)

    def test_through_rpcrestd(self):
        """[service.testkit] next to [service.echo], under the supervisor."""
        pb2, pb2_grpc = testkit_modules()
        with harness.Rpcrest(services=("echo", "testkit")) as r:
            with grpc.insecure_channel(r.grpc_target()) as ch:
                stub = pb2_grpc.TestKitStub(ch)
                self.assertEqual(stub.Async(pb2.AsyncRequest(value="via rpcrestd"),
                                            timeout=5).value, "via rpcrestd")
                replies = list(stub.Stream(pb2.StreamRequest(count=100, size=8), timeout=10))
                self.assertEqual(len(replies), 100)
            status, _, _ = r.http("POST", "/v1/example/echo", b'{"value":"x"}')
            self.assertEqual(status, 200)


class CxxPluginTest(unittest.TestCase):
    """RPCREST_PLUGIN in a C++ file exports the entry symbol too (a const
    there is internal unless declared extern "C")."""

    def test_echo_built_as_cxx(self):
        h = None
        tmp = tempfile.mkdtemp(prefix="rpcrest-cxx-")
        self.addCleanup(shutil.rmtree, tmp, True)
        so = os.path.join(tmp, "echo_cxx.so")
        objs = os.path.join(harness.BUILD, "obj", "services", "echo")
        subprocess.run(["g++", "-x", "c++", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared",
                        "-I", os.path.join(harness.ROOT, "include"),
                        "-I", os.path.join(harness.BUILD, "gen", "services", "echo"),
                        "-I", os.path.join(harness.BUILD, "gen"),
                        "-o", so, os.path.join(harness.ROOT, "services", "echo", "echo.c"),
                        "-x", "none", os.path.join(objs, "echo.pb-c.o"),
                        os.path.join(objs, "echo.desc.o"), "-lprotobuf-c"],
                       check=True, capture_output=True, timeout=120)
        h = Host(services=(("echo", so, {}),))
        self.addCleanup(h.cleanup)
        h.start()
        ch = h.channel()
        self.addCleanup(ch.close)
        self.assertEqual(ch.unary_unary("/example.MyService/Echo")(b"\x0a\x02hi", timeout=5),
                         b"\x0a\x02hi")


if __name__ == "__main__":
    unittest.main()
