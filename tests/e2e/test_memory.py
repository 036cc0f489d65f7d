"""Memory that a burst of large requests left behind is given back once the
processes fall idle (common/rp_trim.c: each event loop of rpcrest-host and
rpcrest-gateway calls malloc_trim after a second without events).  1 MiB
echo bodies through the gateway, 8 at a time, grow both processes by
several MiB; within seconds of the burst each must have given at least
1 MiB of it back (without the trim neither gives back anything: glibc keeps
its freed pages for the next burst).  Skipped under SAN=1 and memcheck,
whose runtimes own malloc.

glibc's own choices are fixed for the run (GLIBC_TUNABLES): blocks of a few
MiB come from the heap rather than mmap, and glibc never trims a heap by
itself.  Otherwise glibc moves its mmap threshold as blocks come and go, and
in some runs the burst's buffers were mapped and unmapped on their own
(the gateway grew by 4.7 MiB only, and little of it was free memory).  So
the burst leaves free memory behind every time, and only the loops' trim
can give it back.
"""
import concurrent.futures
import json
import os
import time
import unittest

import harness

BODY = json.dumps({"value": "a" * (1 << 20)}, separators=(",", ":")).encode()
BURST, PARALLEL = 48, 8
GROWN_KIB = 2 * 1024     # the burst grows each process by more than this
GIVEN_BACK_KIB = 1024    # ... and each gives at least this back when idle
GLIBC_TUNABLES = "glibc.malloc.mmap_threshold=16777216:glibc.malloc.trim_threshold=1073741824"


@unittest.skipIf(os.environ.get("RPCREST_SAN") == "1" or os.environ.get("RPCREST_MEMCHECK"),
                 "a sanitizer or valgrind owns malloc")
class IdleProcessesGiveMemoryBack(unittest.TestCase):

    def setUp(self):
        self.r = harness.Rpcrest(services=("echo",))
        self.addCleanup(self.r.cleanup)
        saved = dict(os.environ)
        os.environ["GLIBC_TUNABLES"] = GLIBC_TUNABLES
        try:  # rpcrestd passes its environment on to its children
            self.r.start()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.pids = self.r.children()

    def rss(self):
        return {name: harness.rss_kib(pid) for name, pid in self.pids.items()
                if name in ("rpcrest-host", "rpcrest-gateway")}

    def echo(self, _):
        status, _, data = self.r.http("POST", "/v1/example/echo", BODY, timeout=30)
        return status, len(data)

    def test_rss_comes_back_after_a_burst(self):
        self.assertEqual(self.echo(0)[0], 200)
        time.sleep(1.5)  # the first call's own trim
        before = self.rss()
        with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
            results = list(pool.map(self.echo, range(BURST)))
        self.assertEqual(results, [(200, len(BODY))] * BURST)
        after = self.rss()
        for name in after:
            self.assertGreater(after[name] - before[name], GROWN_KIB,
                               "%s did not grow: %s -> %s" % (name, before, after))

        def given_back():
            now = self.rss()
            return all(now[name] <= after[name] - GIVEN_BACK_KIB for name in now)
        self.assertTrue(harness.wait_until(given_back, 10, 0.1),
                        "RSS (KiB) before the burst %s, right after %s, 10 s later %s; "
                        "open fds %s" % (before, after, self.rss(), self.open_fds()))

    def open_fds(self):
        """What each process holds open (connections still open hold their
        requests' memory), for the failure message."""
        held = {}
        for name, pid in self.pids.items():
            try:
                fds = os.listdir("/proc/%d/fd" % pid)
                held[name] = sorted(os.readlink("/proc/%d/fd/%s" % (pid, fd)) for fd in fds)
            except OSError as e:
                held[name] = str(e)
        return held


@unittest.skipIf(os.environ.get("RPCREST_SAN") == "1" or os.environ.get("RPCREST_MEMCHECK"),
                 "a sanitizer or valgrind owns malloc")
class LargeMessagesGiveMemoryBack(unittest.TestCase):
    """Messages of megabytes (their JSON lines too) get pages of their own,
    given back as they are freed (rp_trim_setup): with glibc's moving mmap
    threshold, eight 16 MiB messages streamed over REST left the host and
    the gateway holding 85-90 MB together (31 now), in their threads' arenas,
    whose top malloc_trim cannot give back."""

    def test_rss_after_large_messages(self):
        r = harness.Rpcrest(services=("echo", "testkit"))
        self.addCleanup(r.cleanup)
        r.start()
        pids = {k: v for k, v in r.children().items()
                if k in ("rpcrest-host", "rpcrest-gateway")}

        def rss_mib():
            return sum(harness.rss_kib(pid) for pid in pids.values()) / 1024
        before = rss_mib()
        for _ in range(2):
            status, _, data = r.http("GET", "/v1/testkit/stream?count=4&size=16777216",
                                     timeout=60)
            self.assertEqual(status, 200)
            self.assertGreater(len(data), 4 * 22000000)  # four 22 MB lines
        self.assertTrue(harness.wait_until(lambda: rss_mib() < before + 24, 10, 0.2),
                        "RSS %.1f MiB before, %.1f MiB after" % (before, rss_mib()))


@unittest.skipIf(os.environ.get("RPCREST_SAN") == "1" or os.environ.get("RPCREST_MEMCHECK"),
                 "a sanitizer or valgrind owns malloc")
class PausedStreamClients(unittest.TestCase):
    """REST clients that stop reading a server stream cost the gateway a
    bounded read-ahead each (the upstream waits on its own bounded queue):
    40 of them, streaming 100 KB messages, grew it by 137 MB (3 MB each)
    when gRPC core widened each stream's window, and past its quota other
    clients' streams were reset ("Buffers full")."""

    def test_read_ahead_is_bounded(self):
        r = harness.Rpcrest(services=("echo", "testkit"))
        self.addCleanup(r.cleanup)
        r.start()
        gateway = r.children()["rpcrest-gateway"]
        before = harness.rss_kib(gateway)
        socks = harness.paused_stream_clients(r.http_port, 40, 100000, 100000)
        self.addCleanup(lambda: [s.close() for s in socks])
        time.sleep(3)
        grown = harness.rss_kib(gateway) - before
        self.assertLess(grown, 40 * 1024, "%d KiB for 40 paused clients" % grown)
        for s in socks:  # every stream still goes on: none was reset
            s.settimeout(5)
            got = s.recv(65536)
            self.assertTrue(got.startswith(b"HTTP/1.1 200 "), got[:200])
            self.assertNotIn(b'"error"', got)

if __name__ == "__main__":
    unittest.main()
