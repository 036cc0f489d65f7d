#!/usr/bin/python3
"""Chaos under load: wrk keeps POSTing echo requests at the gateway of one
rpcrestd (loopback only, bounded in time and in kills) while this kills a
child with SIGKILL every few seconds.

  host round      the host is killed every KILL_EVERY s.  Every request gets
                  an answer -- 200 with the echo, or 503 with the JSON error
                  (code 14) -- none takes longer than the call deadline
                  ([gateway] timeout, 2 s) plus a margin, wrk sees no socket
                  error, the gateway keeps its pid, and after the round its
                  RSS and open fds are back within a margin of where they were
                  after a warm-up.
  gateway round   the gateway is killed instead.  rpcrestd starts it again
                  each time (it serves /healthz again), the host keeps its pid,
                  and the host's fds are back where they were (no connection of
                  a dead gateway is left behind).

    tests/chaos/chaos.py [--seconds N] [--kill-every S] [--round host|gateway|both]

`make chaos` runs both rounds for 60 s each; tests/e2e/test_chaos.py runs a
10 s version inside make test.  Exit status 0 when every check holds.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
import harness  # noqa: E402

DEADLINE_S = 2.0          # [gateway] timeout in the INI below
LATENCY_MARGIN_S = 1.5    # an answer may take the deadline plus this
RSS_MARGIN_KIB = 8 * 1024  # the gateway's RSS may end this much above its warm value ...
RSS_MARGIN_RATIO = 0.25   # ... or this fraction, whichever is more
FD_MARGIN = 4


class ChaosError(AssertionError):
    pass


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def wrk(port, seconds, connections=16, threads=2):
    """Runs wrk with check.lua; returns its CHAOS summary (a dict)."""
    cmd = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds,
           "-T%ds" % int(DEADLINE_S + LATENCY_MARGIN_S + 2), "--latency",
           "-s", os.path.join(HERE, "check.lua"), "http://127.0.0.1:%d/v1/example/echo" % port]
    proc = subprocess.run(cmd, capture_output=True, timeout=seconds + 60)
    out = proc.stdout.decode("utf-8", "replace")
    m = re.search(r"^CHAOS (\{.*\})$", out, re.M)
    if proc.returncode != 0 or not m:
        raise ChaosError("wrk failed (%d):\n%s\n%s" % (proc.returncode, out,
                                                      proc.stderr.decode("utf-8", "replace")))
    return json.loads(m.group(1))


class Killer(threading.Thread):
    """Kills the named child of rpcrestd with SIGKILL every `every` seconds
    (a bounded number of times), waiting for a new one to be ready between
    kills."""

    def __init__(self, rpcrest, name, every, seconds):
        super().__init__(daemon=True)
        self.r, self.name, self.every = rpcrest, name, every
        self.max_kills = max(1, int(seconds / every))
        self.kills = []
        self.stop = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stop.wait(self.every) and len(self.kills) < self.max_kills:
                pid = self.r.children().get(self.name)
                if not pid:
                    continue  # being restarted
                os.kill(pid, signal.SIGKILL)
                self.kills.append(pid)
                # the next one, up (a new pid)
                if not harness.wait_until(
                        lambda: self.r.children().get(self.name) not in (None, pid), 15, 0.05):
                    raise ChaosError("%s pid %d was not replaced within 15 s" % (self.name, pid))
        except Exception as e:  # reported by the round
            self.error = e


def start(services=("echo",)):
    r = harness.Rpcrest(
        services=services,
        supervisor={"backoff_initial": "0.1", "backoff_max": "0.5", "start_retries": "0",
                    "stop_timeout": "3"},
        gateway={"timeout": "%g" % DEADLINE_S, "threads": "2"},
        host={"threads": "2"})
    r.start(timeout=30)
    return r


def serving(r):
    try:
        return r.http("GET", "/healthz", timeout=2)[0] == 200
    except OSError:
        return False


def host_round(seconds, every, log=print):
    r = start()
    try:
        kids = r.children()
        gw = kids["rpcrest-gateway"]
        wrk(r.http_port, 2)  # warm-up: connections, buffers, the allocator's arenas
        time.sleep(1)
        rss0, fds0 = harness.rss_kib(gw), fd_count(gw)
        killer = Killer(r, "rpcrest-host", every, seconds)
        killer.start()
        result = wrk(r.http_port, seconds)
        killer.stop.set()
        killer.join(20)
        if killer.error:
            raise killer.error
        if not harness.wait_until(lambda: serving(r), 15, 0.1):
            raise ChaosError("the host did not come back after the round; log:\n" + r.log())
        time.sleep(2)  # connections closing, calls ending
        rss1, fds1 = harness.rss_kib(gw), fd_count(gw)
        log("host round: %d s, %d kills, %d requests %s, max latency %.0f ms; gateway RSS "
            "%d -> %d KiB, fds %d -> %d" % (seconds, len(killer.kills), result["requests"],
                                            result["statuses"], result["latency_max_us"] / 1000,
                                            rss0, rss1, fds0, fds1))
        problems = []
        if not killer.kills:
            problems.append("the host was never killed")
        if r.children().get("rpcrest-gateway") != gw:
            problems.append("the gateway restarted (pid %d -> %s)"
                            % (gw, r.children().get("rpcrest-gateway")))
        if result["requests"] == 0:
            problems.append("wrk made no request")
        other = {k: v for k, v in result["statuses"].items() if k not in ("200", "503")}
        if other or result["bad"]:
            problems.append("answers other than 200 echo / 503 JSON: %s, %d bad, e.g. %r"
                            % (other, result["bad"], result["sample"]))
        # (wrk's "status" errors are the non-2xx answers, checked above)
        lost = {k: v for k, v in result["errors"].items() if k != "status" and v}
        if lost:
            problems.append("socket errors (requests without an answer): %s" % lost)
        if result["latency_max_us"] > (DEADLINE_S + LATENCY_MARGIN_S) * 1e6:
            problems.append("an answer took %.0f ms, past the %.0f s deadline"
                            % (result["latency_max_us"] / 1000, DEADLINE_S))
        if fds1 > fds0 + FD_MARGIN:
            problems.append("the gateway's fds went from %d to %d" % (fds0, fds1))
        if not harness.SANITIZED and rss1 > rss0 + max(RSS_MARGIN_KIB, rss0 * RSS_MARGIN_RATIO):
            problems.append("the gateway's RSS went from %d to %d KiB" % (rss0, rss1))
        if problems:
            raise ChaosError("host round:\n  " + "\n  ".join(problems) + "\nlog tail:\n" +
                             r.log()[-4000:])
        return result
    finally:
        r.cleanup()


def gateway_round(seconds, every, log=print):
    r = start()
    try:
        host = r.children()["rpcrest-host"]
        wrk(r.http_port, 2)
        time.sleep(1)
        fds0 = fd_count(host)
        killer = Killer(r, "rpcrest-gateway", every, seconds)
        killer.start()
        result = wrk(r.http_port, seconds)
        killer.stop.set()
        killer.join(20)
        if killer.error:
            raise killer.error
        if not harness.wait_until(lambda: serving(r), 15, 0.1):
            raise ChaosError("the gateway did not come back; log:\n" + r.log())
        time.sleep(2)
        fds1 = fd_count(host)
        log("gateway round: %d s, %d kills (each time back), %d requests %s, socket errors %s; "
            "host pid unchanged, fds %d -> %d" % (seconds, len(killer.kills), result["requests"],
                                                 result["statuses"], result["errors"], fds0, fds1))
        problems = []
        if not killer.kills:
            problems.append("the gateway was never killed")
        if r.children().get("rpcrest-host") != host:
            problems.append("the host was disturbed (pid %d -> %s)"
                            % (host, r.children().get("rpcrest-host")))
        restarts = len(re.findall(r"rpcrest-gateway pid \d+ killed by signal SIGKILL", r.log()))
        if restarts < len(killer.kills):
            problems.append("rpcrestd logged %d gateway deaths for %d kills"
                            % (restarts, len(killer.kills)))
        if fds1 > fds0 + FD_MARGIN:
            problems.append("the host's fds went from %d to %d" % (fds0, fds1))
        other = {k: v for k, v in result["statuses"].items() if k not in ("200", "503")}
        if other:
            problems.append("answers other than 200 / 503: %s (%r)" % (other, result["sample"]))
        if problems:
            raise ChaosError("gateway round:\n  " + "\n  ".join(problems) + "\nlog tail:\n" +
                             r.log()[-4000:])
        return result
    finally:
        r.cleanup()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--kill-every", type=float, default=3)
    ap.add_argument("--round", choices=("host", "gateway", "both"), default="both")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("chaos: wrk is not installed (scripts/deps.sh installs it)", file=sys.stderr)
        return 2
    try:
        if args.round in ("host", "both"):
            host_round(int(args.seconds), args.kill_every)
        if args.round in ("gateway", "both"):
            gateway_round(int(args.seconds), args.kill_every)
    except ChaosError as e:
        print("chaos: FAILED: %s" % e, file=sys.stderr)
        return 1
    print("chaos: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
