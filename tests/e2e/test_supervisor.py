"""rpcrestd end to end: restart policy (backoff that grows and starts over,
FATAL after start_retries, restart = never / on-failure), readiness (the
gateway waits for the host; ready_timeout), stopping by process group
(nothing survives, not even after kill -9 of rpcrestd), the processes
rpcrestd adopts (orphans that left their group: killed with the process
that left them, or stopped after the children), what a child inherits, the log (prefixed whole lines, never blocking a child, log_file
reopened on SIGUSR1), and the command line.

Most tests run the real rpcrestd, rpcrest-host and rpcrest-gateway.  Others
run a copy of rpcrestd next to small stand-ins for the children (rpcrestd
runs the programs found next to itself), to control exactly what a child
does.  Reload, rpcrestctl and systemd notification: test_supervisor_reload.py
and test_supervisor_ctl.py, which import the helpers below.
"""
import datetime
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import unittest

from harness import BUILD, Rpcrest, free_port, pid_alive, wait_until

HOST = "rpcrest-host"
GATEWAY = "rpcrest-gateway"
GUARD = "rpcrestd-guard"
RPCRESTD = os.path.join(BUILD, "rpcrestd")
RPCRESTCTL = os.path.join(BUILD, "rpcrestctl")
EX_CONFIG = 78
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def restart_delays(log, name):
    """The restart delays (ms) the log gives for `name`, in order."""
    return [int(ms) for ms in
            re.findall(r" rpcrestd: %s pid \d+ .*; restarting in (\d+) ms" % name, log)]


def starts(log, name):
    return len(re.findall(r" rpcrestd: started %s pid \d+" % name, log))


def stamp_of(line):
    """The datetime of a log line's leading timestamp."""
    return datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")


def log_time(log, pattern):
    """The datetime of the first log line matching pattern, or None."""
    for line in log.splitlines():
        if re.search(pattern, line):
            return stamp_of(line)
    return None


def group_members(pgid):
    """Live pids (not zombies) whose process group is pgid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry))
    return found


def describe(pids):
    """"pid (comm) state" of each pid still alive, for failure messages."""
    out = []
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                stat = f.read()
            out.append("%d %s %s" % (pid, stat[stat.index("("):stat.rindex(")") + 1],
                                     stat[stat.rindex(")") + 2:].split()[0]))
        except OSError:
            pass
    return out


def parent_of(pid):
    """The parent pid of a process, or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError):
        return None


def child_pids(pid):
    """The pids of pid's children, zombies included (pid: single-threaded)."""
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(p) for p in f.read().split()]


# The stand-ins' folder, for spawn() lines.
HERE = 'd="$(dirname "$0")/.."\n'


def spawn(name, command="sleep 1000", daemon=False):
    """A stand-in's shell line (after HERE) that starts `command` in a
    session of its own (setsid), as a plugin's helper would: the stand-in's
    own child, or with daemon, a daemon (started by a subshell that exits at
    once, so it is orphaned, and adopted, there and then).  Its pid goes to
    ../spawned.NAME.<the stand-in's pid>."""
    line = ('setsid %s & echo $! > "$d/spawned.%s.$$.tmp" && '
            'mv "$d/spawned.%s.$$.tmp" "$d/spawned.%s.$$"' % (command, name, name, name))
    return "( %s )\n" % line if daemon else line + "\n"


def spawned(r, name):
    """{stand-in pid: pid} of what spawn(name) started so far."""
    found = {}
    for entry in os.listdir(r.dir):
        m = re.fullmatch(r"spawned\.%s\.(\d+)" % re.escape(name), entry)
        if m:
            with open(os.path.join(r.dir, entry)) as f:
                found[int(m.group(1))] = int(f.read())
    return found


def children(r):
    """{name: pid} of rpcrestd's children rpcrest-host and rpcrest-gateway
    (not the guard, nor the processes rpcrestd adopted)."""
    return {name: pid for name, pid in r.children().items() if name in (HOST, GATEWAY)}


class StandIns(Rpcrest):
    """A copy of rpcrestd in its own bin/ folder, next to scripts that stand
    in for rpcrest-host and rpcrest-gateway (shell, unless a script starts
    with its own #! line).  A script of None: the real program."""

    def __init__(self, host_script, gateway_script, services=(), **kw):
        super().__init__(services=services, **kw)
        self.bin = os.path.join(self.dir, "bin")
        os.mkdir(self.bin)
        shutil.copy2(RPCRESTD, self.bin)
        for name, script in ((HOST, host_script), (GATEWAY, gateway_script)):
            path = os.path.join(self.bin, name)
            if script is None:
                os.symlink(os.path.join(BUILD, name), path)
                continue
            with open(path, "w") as f:
                f.write(script if script.startswith("#!") else "#!/bin/sh\n" + script)
            os.chmod(path, 0o755)

    def start(self, wait=False, timeout=0, pass_fds=(), preexec_fn=None, env=None,
              stdout=None):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([os.path.join(self.bin, "rpcrestd"), "-c", self.ini],
                                     stdin=subprocess.DEVNULL, stdout=stdout or self._log,
                                     stderr=subprocess.STDOUT, pass_fds=pass_fds,
                                     preexec_fn=preexec_fn, env=env)
        return self


# The stand-ins' readiness: one line to the inherited notification fd.
NOTIFY = 'echo READY >&"$RPCREST_NOTIFY_FD"\n'
# Runs until it is killed, without a word.
LOOP = "while :; do sleep 0.1; done\n"
# Ready at once, then runs until it is killed.
IDLE = NOTIFY + LOOP
# Like IDLE, but a process started while the file ../hold exists (a
# replacement: SupervisorCase.hold_next) takes that file and waits for
# ../go (release_held), then does what the file said: "ready" (and runs
# on), "exit N" (before it was ready) or "ready-exit N" (READY, then exits
# at once).
HELD = """dir="$(dirname "$0")/.."
if mv "$dir/hold" "$dir/held.$$" 2>/dev/null; then
    while [ ! -e "$dir/go" ]; do sleep 0.02; done
    read then status < "$dir/held.$$"
    case "$then" in ready*) echo READY >&"$RPCREST_NOTIFY_FD";; esac
    [ "$then" = ready ] || exit "$status"
    while :; do sleep 0.1; done
fi
""" + IDLE

# Stand-ins that write what they inherited to ../report-NAME, then idle.
SHELL_REPORT = (
    'out="$(dirname "$0")/../report-$(basename "$0")"\n'
    '{ echo "argv $0 $*"; echo "stat $(cat /proc/$$/stat)"\n'
    '  grep -E "^Sig(Blk|Ign):" /proc/$$/status\n'
    '  for fd in /proc/$$/fd/*; do echo "fd ${fd##*/} $(readlink "$fd")"; done\n'
    '  echo "env NOTIFY_FD=$RPCREST_NOTIFY_FD LISTEN_FDS=$LISTEN_FDS HANDOVER=$RPCREST_HANDOVER'
    ' NOTIFY_SOCKET=$NOTIFY_SOCKET"\n'
    '} > "$out.tmp" && mv "$out.tmp" "$out"\n' + IDLE)
PYTHON_REPORT = """#!/usr/bin/python3
import ctypes, os, re, socket, sys, time
PR_GET_PDEATHSIG = 2
sig = ctypes.c_int(-1)
ctypes.CDLL(None).prctl(PR_GET_PDEATHSIG, ctypes.byref(sig), 0, 0, 0)
with open("/proc/self/status") as f:
    blocked = re.search(r"^SigBlk:.*$", f.read(), re.M).group(0)
lsock = socket.socket(fileno=os.dup(3))
listening = lsock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
out = os.path.join(os.path.dirname(sys.argv[0]), "..", "report-" + os.path.basename(sys.argv[0]))
with open(out + ".tmp", "w") as f:
    f.write("pdeathsig %d\\n%s\\n" % (sig.value, blocked))
    f.write("listen %s:%d listening=%d\\n" % (lsock.getsockname() + (listening,)))
    f.write("env LISTEN_FDS=%s LISTEN_PID=%s NOTIFY_FD=%s mypid=%d\\n" % (
        os.environ.get("LISTEN_FDS"), os.environ.get("LISTEN_PID"),
        os.environ.get("RPCREST_NOTIFY_FD"), os.getpid()))
os.rename(out + ".tmp", out)
os.write(int(os.environ["RPCREST_NOTIFY_FD"]), b"READY\\n")
while True:
    time.sleep(1)
"""


class EchoFailed:
    """A failed echo: false, and says why."""

    def __init__(self, what):
        self.what = what

    def __bool__(self):
        return False

    def __repr__(self):
        return "echo failed: " + self.what


class SupervisorCase(unittest.TestCase):
    """Helpers shared by the supervisor suites (no tests of its own)."""

    def rpcrest(self, **kw):
        """The real programs, started and answering."""
        r = Rpcrest(**kw)
        self.addCleanup(r.cleanup)
        r.start()
        return r

    def stand_ins(self, host_script, gateway_script, **kw):
        r = StandIns(host_script, gateway_script, **kw)
        self.addCleanup(r.cleanup)
        self.addCleanup(self.kill_spawned, r)  # runs first: the test may fail before
        return r                               # rpcrestd stops them

    def kill_spawned(self, r):
        """Kills what spawn() lines started that still runs."""
        if not os.path.isdir(r.dir):
            return  # the test cleaned up already
        for pid in (pid for entry in os.listdir(r.dir) if entry.startswith("spawned.")
                    for pid in spawned(r, entry.split(".")[1]).values()):
            alive = [line for line in describe([pid]) if not line.endswith(" Z")]
            if alive and alive[0].split()[1] in ("(sleep)", "(sh)"):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def wait_for_child(self, r, name, old_pid=None, timeout=5):
        """The pid of `name` once one other than old_pid runs."""
        def new_pid():
            pid = children(r).get(name)
            return pid if pid and pid != old_pid else None
        pid = wait_until(new_pid, timeout)
        self.assertTrue(pid, "no %s (other than pid %s) within %ss; log:\n%s"
                        % (name, old_pid, timeout, r.log()))
        return pid

    def wait_for_ready(self, r, name, old_pid=None, timeout=5):
        """The pid of `name` (other than old_pid) once rpcrestd has its
        READY: a stand-in's script has run every line before its NOTIFY,
        a trap it sets among them, which a fixed wait may not see done on a
        loaded machine."""
        pid = self.wait_for_child(r, name, old_pid, timeout)
        self.wait_for_log(r, r"%s pid %d is ready" % (name, pid), timeout)
        return pid

    def wait_for_log(self, r, pattern, timeout=5):
        found = wait_until(lambda: re.search(pattern, r.log()), timeout)
        self.assertTrue(found, "log has no /%s/ after %ss:\n%s" % (pattern, timeout, r.log()))
        return found

    def kill_when_ready(self, r, name, pid, times):
        """Kills `name` (pid first) each time it is ready, `times` times;
        returns the pid of the one started after the last kill, once ready."""
        for _ in range(times):
            self.wait_for_log(r, r"%s pid %d is ready" % (name, pid))
            os.kill(pid, signal.SIGKILL)
            pid = self.wait_for_child(r, name, pid)
        self.wait_for_log(r, r"%s pid %d is ready" % (name, pid))
        return pid

    def echo_works(self, r, timeout=0.5, port=None):
        """Whether a REST echo works: true, or false with what happened
        instead in its repr (which assertTrue prints)."""
        saved = r.http_port
        try:
            if port:
                r.http_port = port
            status, body = r.http_json("POST", "/v1/example/echo", {"value": "x"},
                                       timeout=timeout)
        except (OSError, ValueError) as e:
            return EchoFailed(repr(e))
        finally:
            r.http_port = saved
        if status == 200 and body == {"value": "x"}:
            return True
        return EchoFailed("%s %s" % (status, body))

    def grpc_echo_works(self, r, timeout=2):
        """A gRPC client (grpcio) on a fresh connection to [host] listen."""
        import grpc
        import harness
        pb2, pb2_grpc = harness.grpc_modules("echo.proto",
                                             os.path.join(harness.ROOT, "services/echo"))
        with grpc.insecure_channel(r.grpc_target()) as ch:
            try:
                reply = pb2_grpc.MyServiceStub(ch).Echo(pb2.StringMessage(value="g"),
                                                        timeout=timeout)
            except grpc.RpcError:
                return False
        return reply.value == "g"

    def ctl(self, r, *args, program=RPCRESTCTL, **kw):
        """rpcrestctl -c INI args... -> CompletedProcess (text)."""
        return subprocess.run([program, "-c", r.ini] + list(args), capture_output=True,
                              text=True, timeout=15, stdin=subprocess.DEVNULL, **kw)

    def serving_stand_ins(self, host_script, gateway_script, **kw):
        """Stand-ins, once both run; returns (r, {name: pid})."""
        r = self.stand_ins(host_script, gateway_script, **kw).start()
        self.assertTrue(wait_until(lambda: self.ctl(r, "status").returncode == 0, 10), r.log())
        return r, children(r)

    def wait_for_spawned(self, r, name, standin=None, timeout=5):
        """The pid spawn(name) started in the stand-in `standin` (any one
        if None)."""
        def find():
            found = spawned(r, name)
            return found.get(standin) if standin else next(iter(found.values()), None)
        pid = wait_until(find, timeout)
        self.assertTrue(pid, "nothing spawned as %s by %s within %ss; log:\n%s"
                        % (name, standin, timeout, r.log()))
        return pid

    def hold_next(self, r, then):
        """The next HELD stand-in process waits for release_held, then does
        `then`."""
        with open(os.path.join(r.dir, "hold"), "w") as f:
            f.write(then + "\n")

    def release_held(self, r):
        open(os.path.join(r.dir, "go"), "w").close()

    def release_held_while_stopped(self, r, pid):
        """Releases the held process pid while rpcrestd is stopped, and
        lets rpcrestd go on once pid has ended: whatever pid said and its
        end reach rpcrestd in the same turn of its loop."""
        os.kill(r.proc.pid, signal.SIGSTOP)
        try:
            self.release_held(r)
            self.assertTrue(wait_until(lambda: not pid_alive(pid), 5))
        finally:
            os.kill(r.proc.pid, signal.SIGCONT)


class SupervisorTest(SupervisorCase):
    # ---- restarts ----------------------------------------------------------
    def check_restart_after_kill(self, name):
        r = self.rpcrest(supervisor={"backoff_jitter": "0"})
        old = children(r)[name]
        other = GATEWAY if name == HOST else HOST
        other_pid = children(r)[other]
        os.kill(old, signal.SIGKILL)
        deadline = time.monotonic() + 5.0  # a generous bound: the machine may be busy

        def recovered():
            pid = children(r).get(name)
            left = deadline - time.monotonic()
            return pid and pid != old and left > 0 and self.echo_works(r, min(left, 0.5))
        self.assertTrue(wait_until(recovered, 5.0),
                        "echo did not work with a new %s within 5 s of the kill; log:\n%s"
                        % (name, r.log()))
        self.assertEqual(children(r).get(other), other_pid, "%s was restarted too" % other)
        self.assertRegex(r.log(), r"%s pid %d killed by signal SIGKILL .*; restarting in 100 ms"
                         % (name, old))
        # rpcrestd writes its line after the fork, and the new process may
        # answer before that on a loaded machine
        self.wait_for_log(r, r"started %s pid %d" % (name, children(r)[name]))

    def test_killed_host_is_restarted(self):
        self.check_restart_after_kill(HOST)

    def test_killed_gateway_is_restarted(self):
        self.check_restart_after_kill(GATEWAY)

    def test_measured_backoff_grows_and_starts_over_after_a_good_start(self):
        """Kill the host each time it comes back: the time from its end to
        the next start (measured from the log's timestamps) follows
        backoff_initial * multiplier^n within the jitter; once it has been
        ready for start_seconds, the next delay is backoff_initial again."""
        sup = {"backoff_initial": "0.2", "backoff_multiplier": "2", "backoff_max": "5",
               "backoff_jitter": "0.1", "start_seconds": "1", "start_retries": "0"}
        r = self.stand_ins(IDLE, IDLE, supervisor=sup).start()
        pid = self.kill_when_ready(r, HOST, self.wait_for_child(r, HOST), 4)
        time.sleep(1.3)  # a good start: ready and up for start_seconds
        self.assertEqual(children(r).get(HOST), pid, r.log())
        os.kill(pid, signal.SIGKILL)
        pid = self.wait_for_child(r, HOST, pid)
        self.wait_for_log(r, r"started %s pid %d" % (HOST, pid))

        log = r.log()
        lines = log.splitlines()
        measured = []
        for i, line in enumerate(lines):
            if re.search(r"rpcrestd: %s pid \d+ killed by signal SIGKILL" % HOST, line):
                start = next(l for l in lines[i + 1:] if re.search(r"started %s pid" % HOST, l))
                measured.append((stamp_of(start) - stamp_of(line)).total_seconds())
        self.assertEqual(len(measured), 5, log)
        for got, want in zip(measured, (0.2, 0.4, 0.8, 1.6, 0.2)):
            self.assertGreaterEqual(got, want * 0.9 - 0.005, (measured, log))
            self.assertLessEqual(got, want * 1.1 + 0.25, (measured, log))
        self.assertTrue(measured[0] < measured[1] < measured[2] < measured[3], measured)
        # the logged delays agree with what was measured
        for got, said in zip(measured, restart_delays(log, HOST)):
            self.assertAlmostEqual(got, said / 1000.0, delta=0.25)
        self.assertEqual(restart_delays(log, GATEWAY), [], log)

    def test_a_good_start_replaced_by_a_hand_over_still_starts_the_count_over(self):
        """Two fast failures, then a gateway that runs well past
        start_seconds and is handed over (a restart, as a reload does) rather
        than ending on its own.  Its good start forgave the failures before
        it: a new process that fails once is restarted after backoff_initial,
        not declared FATAL for a third failure "in a row" from long ago."""
        sup = {"backoff_initial": "0.05", "backoff_multiplier": "2", "backoff_jitter": "0",
               "start_seconds": "3", "start_retries": "3"}  # kills land well within 3 s
        r = self.stand_ins(IDLE, IDLE, supervisor=sup).start()
        pid = self.kill_when_ready(r, GATEWAY, self.wait_for_child(r, GATEWAY), 2)
        time.sleep(3.3)  # a good start: ready and up for start_seconds
        self.assertEqual(self.ctl(r, "restart", GATEWAY).returncode, 0)
        self.wait_for_log(r, r"%s pid \d+ took over from pid %d" % (GATEWAY, pid))
        new = children(r)[GATEWAY]
        os.kill(new, signal.SIGKILL)  # within start_seconds of its start
        self.wait_for_log(r, r"%s pid %d killed by signal SIGKILL" % (GATEWAY, new))
        self.assertTrue(wait_until(lambda: children(r).get(GATEWAY) not in (None, new), 3),
                        r.log())
        log = r.log()
        self.assertNotIn("FATAL", log)
        self.assertEqual(restart_delays(log, GATEWAY), [50, 100, 50], log)

    def test_zero_initial_backoff_still_backs_off(self):
        """backoff_initial = 0 and start_retries = 0, a gateway that exits at
        once: the first restart is immediate, the later ones wait at least
        100 ms (or backoff_max, if lower) and grow, so in two seconds there
        are a handful of starts, not thousands.  The last cases are
        [gateway] overrides: multiplier 1 keeps the delay at the floor, and
        backoff_max below the floor caps it."""
        zero = {"backoff_initial": "0", "start_retries": "0", "backoff_jitter": "0"}
        cases = [  # ([supervisor], [gateway], the first delays, at most this many starts)
            (zero, {}, [0, 100, 200, 400], 8),
            (dict(zero, backoff_jitter="0.1"), {}, [0, (90, 110), (180, 220), (360, 440)], 8),
            (zero, {"backoff_multiplier": "1"}, [0, 100, 100, 100, 100], 30),
            (zero, {"backoff_max": "0.05"}, [0, 50, 50, 50, 50], 50),
        ]
        for sup, gw, want, most in cases:
            with self.subTest(supervisor=sup, gateway=gw):
                r = self.stand_ins(IDLE, "exit 1\n", supervisor=sup, gateway=gw).start()
                self.wait_for_log(r, r"started %s pid" % GATEWAY)
                time.sleep(2)
                log = r.log()
                tail = log[-4000:]  # a tight loop writes megabytes
                n = starts(log, GATEWAY)
                self.assertLessEqual(n, most, "%d starts in 2 s; log ends:\n%s" % (n, tail))
                delays = restart_delays(log, GATEWAY)
                self.assertGreaterEqual(len(delays), len(want), tail)
                for got, expected in zip(delays, want):
                    low, high = expected if isinstance(expected, tuple) else (expected, expected)
                    self.assertTrue(low <= got <= high, (delays, want, tail))
                r.cleanup()

    def test_fatal_after_start_retries_while_the_other_child_stays_up(self):
        sup = {"backoff_initial": "0.05", "backoff_jitter": "0", "start_retries": "3"}
        r = self.stand_ins(None, "exit 3\n", services=("echo",), supervisor=sup).start()
        self.wait_for_log(r, r"%s is FATAL" % GATEWAY)
        host = children(r)[HOST]
        time.sleep(0.6)  # nothing more happens: no fourth start
        log = r.log()
        self.assertEqual(starts(log, GATEWAY), 3, log)
        self.assertEqual(restart_delays(log, GATEWAY), [50, 100], log)
        self.assertRegex(log, r"%s is FATAL: it failed 3 times in a row, each time within "
                         r"start_seconds \(10 s\) of starting \(start_retries = 3\); leaving it "
                         r"down" % GATEWAY)
        self.assertNotIn(GATEWAY, children(r))
        self.assertEqual(children(r).get(HOST), host, "the host was touched; log:\n" + log)
        self.assertIsNone(r.proc.poll())
        # the host still serves gRPC
        self.assertTrue(wait_until(lambda: self._grpc_port_open(r), 2))
        st = self.ctl(r, "status")
        self.assertEqual(st.returncode, 3, st)
        self.assertRegex(st.stdout, r"%s\s+RUNNING\s+%d " % (HOST, host))
        self.assertRegex(st.stdout, r"%s\s+FATAL\s+-\s+-\s+2\s+status 3\s+3 fast failures in "
                         r"a row \(start_retries = 3\)" % GATEWAY)
        # rpcrestctl start gives it another go
        self.assertEqual(self.ctl(r, "start", GATEWAY).returncode, 0)
        self.wait_for_log(r, r"rpcrestctl: starting %s" % GATEWAY)
        self.assertTrue(wait_until(lambda: starts(r.log(), GATEWAY) >= 4, 3), r.log())

    @staticmethod
    def _grpc_port_open(r):
        import socket
        try:
            with socket.create_connection(("127.0.0.1", r.host_port), timeout=0.5):
                return True
        except OSError:
            return False

    def test_restart_never_and_on_failure(self):
        """restart = never leaves a child down whatever its exit; on-failure
        restarts it after a failure but not after exit 0."""
        code_file = "code"
        gateway = NOTIFY + 'sleep 0.3\nexit "$(cat "$(dirname "$0")/../%s")"\n' % code_file
        r = self.stand_ins(IDLE, gateway, supervisor={"backoff_jitter": "0"},
                           gateway={"restart": "on-failure", "backoff_initial": "0.05"})
        with open(os.path.join(r.dir, code_file), "w") as f:
            f.write("1\n")
        r.start()
        self.wait_for_log(r, r"%s pid \d+ exited with status 1 after \d+ ms; restarting in 50 ms"
                          % GATEWAY)
        with open(os.path.join(r.dir, code_file), "w") as f:
            f.write("0\n")
        self.wait_for_log(r, r"%s pid \d+ exited with status 0 after \d+ ms; not restarted "
                          r"\(restart = on-failure\)" % GATEWAY)
        n = starts(r.log(), GATEWAY)
        time.sleep(0.5)
        self.assertEqual(starts(r.log(), GATEWAY), n, r.log())
        self.assertRegex(self.ctl(r, "status").stdout, r"%s\s+STOPPED" % GATEWAY)
        self.assertEqual(starts(r.log(), HOST), 1)

        r2 = self.stand_ins(NOTIFY + "sleep 0.2\nexit 0\n", IDLE, host={"restart": "never"})
        r2.start()
        self.wait_for_log(r2, r"%s pid \d+ exited with status 0 after \d+ ms; not restarted "
                          r"\(restart = never\)" % HOST)
        time.sleep(0.4)
        self.assertEqual(starts(r2.log(), HOST), 1, r2.log())
        self.assertIsNone(r2.proc.poll(), r2.log())

    def test_child_exiting_0_is_restarted_too(self):
        r = self.stand_ins("exit 0\n", IDLE, supervisor={"backoff_jitter": "0"}).start()
        self.wait_for_log(r, r"restarting in 400 ms")
        self.assertEqual(restart_delays(r.log(), HOST)[:3], [100, 200, 400], r.log())
        self.assertRegex(r.log(), r"%s pid \d+ exited with status 0 after \d+ ms; "
                         r"restarting in 100 ms" % HOST)
        self.assertEqual(restart_delays(r.log(), GATEWAY), [], r.log())

    def test_child_that_cannot_exec_is_retried_with_backoff(self):
        r = self.stand_ins(IDLE, "#!/nonexistent/interpreter\n",
                           supervisor={"backoff_jitter": "0"}).start()
        self.wait_for_log(r, r"restarting in 200 ms")
        log = r.log()
        self.assertRegex(log, r"%s\[\d+\]: cannot start %s: exec: No such file or directory"
                         % (GATEWAY, re.escape(os.path.join(r.bin, GATEWAY))))
        self.assertRegex(log, r"%s pid \d+ exited with status 127 after \d+ ms; "
                         r"restarting in 100 ms" % GATEWAY)
        self.assertEqual(starts(log, HOST), 1, log)

    def test_start_that_fails_before_a_process_is_retried_at_most_every_100_ms(self):
        """rpcrestd out of file descriptors cannot even make a new gateway's
        pipes.  start_retries does not count such failures (they are not
        the child's), so with backoff_max = 0 they must still wait the
        100 ms floor instead of spinning; once descriptors are free, the
        gateway starts."""
        import resource
        sup = {"backoff_initial": "0", "backoff_max": "0", "start_retries": "3"}
        r = self.stand_ins(IDLE, IDLE, supervisor=sup).start()
        gateway = self.wait_for_child(r, GATEWAY)
        self.wait_for_log(r, r"%s pid %d is ready" % (GATEWAY, gateway))
        pid = r.proc.pid
        before = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        in_use = {int(fd) for fd in os.listdir("/proc/%d/fd" % pid)}
        lowest_free = min(set(range(len(in_use) + 1)) - in_use)
        # the gateway's two pipes close when it ends: a start needs more (the
        # configuration's memfd and two pipes), and fails at one step or the other
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowest_free, before[1]))
        step = r"(?:memfd_create|pipe)"
        try:
            os.kill(gateway, signal.SIGKILL)
            self.wait_for_log(r, r"cannot start %s: %s: Too many open files" % (GATEWAY, step))
            time.sleep(1.5)
            log = r.log()
            failed = len(re.findall(r"cannot start %s: %s: " % (GATEWAY, step), log))
            self.assertLessEqual(failed, 20, "%d failed starts in 1.5 s; log ends:\n%s"
                                 % (failed, log[-3000:]))
            self.assertRegex(log, r"cannot start %s: %s: Too many open files; retrying in "
                             r"100 ms" % (GATEWAY, step))
            self.assertNotRegex(log, r"retrying in 0 ms")
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, before)
        self.wait_for_child(r, GATEWAY, gateway)
        self.assertIsNone(r.proc.poll(), r.log()[-3000:])

    def test_child_refusing_the_configuration_at_start_stops_rpcrestd_with_78(self):
        """Exit status 78 before the child was ever ready: the configuration
        will not mend itself, so rpcrestd does not restart it but stops
        everything and exits 78, after the child's own reason."""
        plugins = os.path.join(BUILD, "tests", "plugins")
        echo_so = os.path.join(BUILD, "services", "echo.so")
        cases = [  # (INI additions, the child that refuses, what it says)
            ({"ini_extra": "[service.broken]\nplugin = not-a-plugin.so\n"}, HOST,
             "not-a-plugin.so"),
            ({"ini_extra": "[service.noentry]\nplugin = %s/no_entry.so\n" % plugins}, HOST,
             "no_entry.so"),
            ({"ini_extra": "[service.again]\nplugin = %s\n" % echo_so}, HOST, "echo.so"),
            ({"gateway": {"services": "nope.Nope"}}, GATEWAY, "nope.Nope"),
            ({"gateway": {"descriptors": "/etc/hostname"}}, GATEWAY, "not a FileDescriptorSet"),
            ({"gateway": {"access_log": "/nonexistent/dir/a.log"}}, GATEWAY,
             "/nonexistent/dir/a.log"),
        ]
        for kw, child, says in cases:
            with self.subTest(kw):
                r = Rpcrest(supervisor={"backoff_jitter": "0"}, **kw)
                self.addCleanup(r.cleanup)
                open(os.path.join(r.dir, "not-a-plugin.so"), "w").close()
                r.start(wait=False)
                try:
                    status = r.proc.wait(10)
                except subprocess.TimeoutExpired:
                    status = None
                log = r.log()
                self.assertEqual(status, EX_CONFIG, log)
                self.assertEqual(starts(log, child), 1, log)
                own = re.search(r"%s\[\d+\]: .*%s" % (child, re.escape(says)), log)
                verdict = re.search(r"rpcrestd: %s pid \d+ exited with status 78 after \d+ ms, "
                                    r"before it was ready: it refused the configuration" % child,
                                    log)
                self.assertTrue(own and verdict, log)
                self.assertLess(own.start(), verdict.start(), log)
                self.assertRegex(log, r"rpcrestd: %s refused the configuration at start "
                                 r"\(exit status 78, the reason is above\); stopping with exit "
                                 r"status 78" % child)
                self.assertNotRegex(log, r"restarting in", log)
                self.assertEqual(starts(log, GATEWAY), 0 if child == HOST else 1, log)
                self.assertEqual(r.children(), {})

    def test_child_refusing_the_configuration_later_is_left_down(self):
        """After start-up, a process that exits 78 before it is ready is not
        restarted either (FATAL until rpcrestctl start); rpcrestd and the
        other child go on."""
        host = ('mark="$(dirname "$0")/../host-ran"\n'
                'if [ -e "$mark" ]; then echo "configuration refused" >&2; exit 78; fi\n'
                ': > "$mark"\n' + IDLE)
        r = self.stand_ins(host, IDLE, supervisor={"backoff_initial": "0.05"}).start()
        gateway = self.wait_for_child(r, GATEWAY)
        self.wait_for_log(r, r"%s pid %d is ready" % (GATEWAY, gateway))
        os.kill(children(r)[HOST], signal.SIGKILL)
        self.wait_for_log(r, r"%s pid \d+ exited with status 78 after \d+ ms, before it was "
                          r"ready: it refused the configuration, which a restart would not mend; "
                          r"leaving it down \(FATAL\)" % HOST)
        time.sleep(0.5)
        log = r.log()
        self.assertEqual(starts(log, HOST), 2, log)
        self.assertRegex(log, r"event=fatal child=%s failures=\d+ start_retries=5 "
                         r"reason=config_error" % HOST)
        self.assertIsNone(r.proc.poll(), log)
        self.assertEqual(children(r).get(GATEWAY), gateway, log)
        st = self.ctl(r, "status")
        self.assertRegex(st.stdout, r"%s\s+FATAL\s+-\s+-\s+1\s+status 78  refused the "
                         r"configuration \(exit status 78\) before it was ready" % HOST)

    def test_status_says_the_gateway_waits_for_a_failed_host(self):
        """A gateway that never started because the host is FATAL is not
        "waiting for rpcrest-host to be ready": status says the host failed
        and what tries again."""
        r = self.stand_ins("exit 1\n", IDLE, supervisor={"start_retries": "1",
                                                          "backoff_initial": "0.05"}).start()
        self.wait_for_log(r, r"%s is FATAL" % HOST)
        st = self.ctl(r, "status")
        self.assertRegex(st.stdout, r"%s\s+STARTING.*waiting for rpcrest-host, which has failed: "
                         r"'rpcrestctl start host' tries again" % GATEWAY)
        self.assertEqual(starts(r.log(), GATEWAY), 0, r.log())

    def test_child_exiting_78_after_it_was_ready_is_restarted(self):
        """Not a configuration error: a crash, restarted after backoff_max."""
        r = self.stand_ins(NOTIFY + "sleep 0.2\nexit 78\n", IDLE,
                           supervisor={"backoff_jitter": "0", "backoff_max": "0.5"}).start()
        self.wait_for_log(r, r"%s pid \d+ exited with status 78 after \d+ ms; restarting in "
                          r"500 ms \(configuration error\)" % HOST)
        self.assertTrue(wait_until(lambda: starts(r.log(), HOST) >= 2, 3), r.log())
        self.assertIsNone(r.proc.poll(), r.log())

    # ---- readiness -----------------------------------------------------------
    def test_gateway_starts_only_after_the_host_is_ready(self):
        """The host stand-in takes a second to say READY; the gateway is
        started after that, not before."""
        def stamp(name):  # written whole, then renamed into place
            f = '"$(dirname "$0")/../%s' % name
            return 'date +%%s.%%N > %s.tmp" && mv %s.tmp" %s"\n' % (f, f, f)
        host = stamp("host-started") + "sleep 1\n" + stamp("host-ready") + IDLE
        gateway = stamp("gateway-started") + IDLE
        r = self.stand_ins(host, gateway).start()
        self.wait_for_child(r, GATEWAY, timeout=5)

        def read(name):
            path = os.path.join(r.dir, name)
            self.assertTrue(wait_until(lambda: os.path.exists(path), 2), name)
            with open(path) as f:
                return float(f.read())
        host_started, host_ready, gw_started = (
            read("host-started"), read("host-ready"), read("gateway-started"))
        self.assertGreaterEqual(host_ready - host_started, 0.9)
        self.assertGreater(gw_started, host_ready, r.log())
        log = r.log()
        ready_at = log_time(log, r"rpcrestd: %s pid \d+ is ready after \d+ ms" % HOST)
        gw_at = log_time(log, r"rpcrestd: started %s pid" % GATEWAY)
        self.assertIsNotNone(ready_at, log)
        self.assertLessEqual(ready_at, gw_at, log)
        self.assertLess(re.search(r"%s pid \d+ is ready" % HOST, log).start(),
                        log.index("started %s" % GATEWAY), log)

    def test_real_gateway_starts_after_real_host_is_ready(self):
        r = self.rpcrest()
        log = r.log()
        host_ready = re.search(r"rpcrestd: %s pid \d+ is ready after \d+ ms" % HOST, log)
        gw_start = re.search(r"rpcrestd: started %s pid" % GATEWAY, log)
        self.assertTrue(host_ready and gw_start, log)
        self.assertLess(host_ready.start(), gw_start.start(), log)
        # the host's own line about serving comes before rpcrestd calls it ready
        self.assertLess(log.index("%s[" % HOST), host_ready.start(), log)

    def test_child_not_ready_within_ready_timeout_is_restarted(self):
        sup = {"ready_timeout": "0.4", "backoff_initial": "0.05", "backoff_jitter": "0",
               "start_retries": "0", "stop_timeout": "1"}
        r = self.stand_ins(LOOP, IDLE, supervisor=sup).start()
        first = self.wait_for_child(r, HOST)
        self.wait_for_log(r, r"%s pid %d was not ready within 0.4 s \(ready_timeout\); "
                          r"stopping it" % (HOST, first))
        self.wait_for_child(r, HOST, first)
        self.assertRegex(r.log(), r"%s pid %d killed by signal SIGTERM .*; restarting in 50 ms"
                         % (HOST, first))
        self.assertEqual(starts(r.log(), GATEWAY), 0, r.log())

    # ---- stopping ----------------------------------------------------------
    def test_sigterm_stops_everything_gateway_first(self):
        r = self.rpcrest()
        kids = children(r)
        self.assertEqual(sorted(kids), [GATEWAY, HOST])
        r.proc.send_signal(signal.SIGTERM)
        stop_timeout = 3  # the harness's [supervisor] stop_timeout
        self.assertEqual(r.proc.wait(stop_timeout + 2), 0, r.log())
        for name, pid in kids.items():
            self.assertFalse(pid_alive(pid), "%s pid %d still runs" % (name, pid))
            self.assertEqual(group_members(pid), [], "%s's process group lives on" % name)
        log = r.log()
        self.assertIn("received SIGTERM; stopping", log)
        self.assertRegex(log, r"rpcrestd: stopped\n$")
        self.assertEqual(restart_delays(log, HOST) + restart_delays(log, GATEWAY), [], log)
        self.assertLess(log.index("%s pid %d exited" % (GATEWAY, kids[GATEWAY])),
                        log.index("%s[%d]: SIGTERM" % (HOST, kids[HOST])), log)

    def test_host_stop_fits_in_its_stop_timeout(self):
        """A handler that never finishes its call, the default drain_timeout
        (5 s) and stop_timeout = 3: the host shortens its drain (and says
        so at start), cancels the call, names the method and exits 1, all
        before rpcrestd's SIGKILL."""
        import grpc
        import harness
        r = Rpcrest(services=(), ini_extra="\n[service.inspect]\nplugin = %s\ndescriptors = "
                    "%s/services/echo.pb\n" % (os.path.join(BUILD, "tests", "plugins",
                                                              "inspect.so"), BUILD))
        self.addCleanup(r.cleanup)
        r.start()
        self.assertRegex(r.log(), r"rpcrest-host\[\d+\]: drain_timeout 5 s shortened to 1.5 s: "
                         r"the host's stop_timeout \(3 s\) must leave 1.5 s after it")
        pb2, pb2_grpc = harness.grpc_modules("echo.proto",
                                             os.path.join(harness.ROOT, "services/echo"))
        ch = grpc.insecure_channel(r.grpc_target())
        self.addCleanup(ch.close)
        future = pb2_grpc.MyServiceStub(ch).Echo.future(pb2.StringMessage(value="forget"),
                                                         timeout=30)
        time.sleep(0.3)
        r.proc.send_signal(signal.SIGTERM)
        self.assertEqual(r.proc.wait(10), 0, r.log())
        log = r.log()
        self.assertRegex(log, r"rpcrest-host\[\d+\]: drain: 1 call still running after 1.5 s: "
                         r"cancelling it")
        self.assertRegex(log, r"rpcrest-host\[\d+\]: stop: /example.MyService/Echo: 1 call "
                         r"never finished after its handler returned \(plugin \S+inspect.so\)")
        self.assertRegex(log, r"event=exit child=rpcrest-host pid=\d+ status=1 ")
        self.assertNotIn("sending SIGKILL", log)
        with self.assertRaises(grpc.RpcError):
            future.result(timeout=10)

    def test_sigint_stops_too(self):
        r = self.stand_ins(IDLE, IDLE).start()
        kids = [self.wait_for_child(r, HOST), self.wait_for_child(r, GATEWAY)]
        r.proc.send_signal(signal.SIGINT)
        self.assertEqual(r.proc.wait(5), 0, r.log())
        for pid in kids:
            self.assertEqual(group_members(pid), [], r.log())
        self.assertIn("received SIGINT; stopping", r.log())

    def test_child_ignoring_sigterm_gets_sigkill_after_stop_timeout(self):
        stubborn = "trap '' TERM\n" + IDLE
        r = self.stand_ins(IDLE, stubborn, supervisor={"stop_timeout": "0.5"}).start()
        gateway = self.wait_for_ready(r, GATEWAY)
        self.wait_for_child(r, HOST)
        r.proc.send_signal(signal.SIGTERM)
        self.assertEqual(r.proc.wait(5), 0, r.log())
        self.assertEqual(group_members(gateway), [], r.log())
        self.assertRegex(r.log(), r"%s pid %d did not stop within 0.5 s; sending SIGKILL"
                         % (GATEWAY, gateway))
        self.assertRegex(r.log(), r"%s pid %d killed by signal SIGKILL" % (GATEWAY, gateway))

    def test_stopped_child_is_continued_to_stop_gracefully(self):
        """A child stopped by SIGSTOP gets SIGCONT after its SIGTERM, and so
        stops on SIGTERM, not after stop_timeout on SIGKILL."""
        r = self.stand_ins(IDLE, IDLE, supervisor={"stop_timeout": "5"}).start()
        gateway = self.wait_for_child(r, GATEWAY)
        self.wait_for_child(r, HOST)
        os.kill(gateway, signal.SIGSTOP)
        started = time.monotonic()
        stop = self.ctl(r, "stop", "gateway")
        self.assertEqual(stop.returncode, 0, stop)
        self.assertTrue(wait_until(lambda: not pid_alive(gateway), 4), r.log())
        self.assertLess(time.monotonic() - started, 4)
        self.wait_for_log(r, r"%s pid %d killed by signal SIGTERM" % (GATEWAY, gateway))
        self.assertNotIn("SIGKILL", r.log())

    def test_killed_supervisor_takes_its_children_along(self):
        r = self.rpcrest()
        kids = list(r.children().values())  # the guard too
        self.assertEqual(len(kids), 3, r.children())
        r.proc.kill()
        r.proc.wait()
        gone = wait_until(lambda: not any(pid_alive(pid) for pid in kids), 1.0)
        self.assertTrue(gone, "processes still running 1 s after rpcrestd was killed: %s"
                        % describe(pid for pid in kids if pid_alive(pid)))

    def test_killed_supervisor_takes_grandchildren_along(self):
        """A child's own child (which PR_SET_PDEATHSIG does not cover) is
        gone within 1 s of kill -9 of rpcrestd too: the guard kills the
        process groups."""
        host = ('sleep 1000 &\necho $! > "$(dirname "$0")/../grandchild"\n' + IDLE)
        r = self.stand_ins(host, IDLE).start()
        self.wait_for_child(r, GATEWAY)
        path = os.path.join(r.dir, "grandchild")
        self.assertTrue(wait_until(lambda: os.path.exists(path), 2))
        with open(path) as f:
            grandchild = int(f.read())
        everyone = list(r.children().values()) + [grandchild]
        self.assertIn(GUARD, r.children())
        self.assertTrue(pid_alive(grandchild))
        r.proc.kill()
        r.proc.wait()
        gone = wait_until(lambda: not any(pid_alive(pid) for pid in everyone), 1.0)
        self.assertTrue(gone, "still running 1 s after rpcrestd was killed: %s of %s; log:\n%s"
                        % (describe(pid for pid in everyone if pid_alive(pid)),
                           describe(everyone), r.log()))

    def test_leftovers_of_a_child_that_ended_are_killed(self):
        """When a child ends, what it left in its process group goes too."""
        host = ('sleep 1000 &\necho $! > "$(dirname "$0")/../grandchild"\n' + NOTIFY +
                "sleep 0.3\nexit 1\n")
        r = self.stand_ins(host, IDLE, supervisor={"backoff_initial": "1"}).start()
        path = os.path.join(r.dir, "grandchild")
        self.assertTrue(wait_until(lambda: os.path.exists(path), 2))
        with open(path) as f:
            grandchild = int(f.read())
        self.wait_for_log(r, r"%s pid \d+ left processes behind in its group; killed them"
                          % HOST)
        self.assertTrue(wait_until(lambda: not pid_alive(grandchild), 1), r.log())

    def test_ended_members_of_a_child_s_group_are_not_called_leftovers(self):
        """A helper that ended before its parent, not reaped yet (a zombie,
        adopted by rpcrestd), is no process left behind."""
        host = "trap '' TERM\nsleep 1000 &\n" + IDLE  # both outlive SIGTERM
        r = self.stand_ins(host, IDLE, supervisor={"stop_timeout": "0.5"}).start()
        self.wait_for_ready(r, HOST)
        self.wait_for_child(r, GATEWAY)
        self.assertEqual(self.ctl(r, "stop", "host").returncode, 0)
        self.wait_for_log(r, r"%s pid \d+ killed by signal SIGKILL" % HOST)
        self.assertNotIn("left processes behind", r.log())

    # ---- processes that leave their group ------------------------------------
    def test_orphans_become_rpcrestd_s_children_and_are_reaped(self):
        """A process whose parent ended (a helper a plugin daemonized)
        becomes rpcrestd's child (PR_SET_CHILD_SUBREAPER), not init's;
        rpcrestd reaps it when it ends (no zombie) and says in one line what
        it was and how it ended.  rpcrestd is single-threaded, so one
        thread's list of children is all of them."""
        host = HERE + spawn("daemon", "sleep 1", daemon=True) + IDLE
        r = self.stand_ins(host, IDLE).start()
        daemon = self.wait_for_spawned(r, "daemon")
        self.assertEqual(parent_of(daemon), r.proc.pid, r.log())
        with open("/proc/%d/status" % r.proc.pid) as f:
            self.assertRegex(f.read(), r"\nThreads:\s+1\n")
        self.wait_for_log(r, r" rpcrestd: adopted process pid %d \(sleep\) exited with status 0\n"
                          % daemon)
        self.assertNotIn(daemon, child_pids(r.proc.pid))  # reaped: not even a zombie
        self.assertEqual(len(re.findall(r"pid %d\b" % daemon, r.log())), 1, r.log())
        self.assertNotIn("not one of ours", r.log())

    def test_orphans_of_a_child_that_ended_are_killed(self):
        """A helper that left the child's process group (setsid) is
        orphaned when the child ends, and killed then, like the leftovers
        in its group."""
        host = HERE + spawn("helper") + NOTIFY + "sleep 0.3\nexit 1\n"
        r = self.stand_ins(host, IDLE, supervisor={"backoff_initial": "1"}).start()
        first = self.wait_for_child(r, HOST)
        helper = self.wait_for_spawned(r, "helper", first)
        self.wait_for_log(r, r" rpcrestd: %s pid %d left 1 process behind outside its process "
                          r"group: pid %d \(sleep\); killed it\n" % (HOST, first, helper))
        self.assertTrue(wait_until(lambda: not pid_alive(helper), 1), r.log())
        self.assertNotIn("adopted process pid %d" % helper, r.log())  # said once

    def test_orphans_of_a_replaced_process_are_killed_and_nobody_else(self):
        """rpcrestctl restart host: the old host's helper goes with it; the
        new host's helper, the daemons each host left to rpcrestd (adopted
        while their host ran: whose they are is unknown) and the gateway's
        helper stay."""
        script = HERE + spawn("helper") + spawn("daemon", daemon=True) + IDLE
        r, kids = self.serving_stand_ins(script, script)
        old = kids[HOST]
        old_helper = self.wait_for_spawned(r, "helper", old)
        old_daemon = self.wait_for_spawned(r, "daemon", old)
        gw_helper = self.wait_for_spawned(r, "helper", kids[GATEWAY])
        self.assertEqual(self.ctl(r, "restart", HOST).returncode, 0, r.log())
        new = self.wait_for_child(r, HOST, old)
        self.assertTrue(wait_until(lambda: not pid_alive(old), 10), r.log())
        self.wait_for_log(r, r"%s pid %d left 1 process behind outside its process group: "
                          r"pid %d \(sleep\); killed it" % (HOST, old, old_helper))
        self.assertTrue(wait_until(lambda: not pid_alive(old_helper), 1), r.log())
        new_helper = self.wait_for_spawned(r, "helper", new)
        new_daemon = self.wait_for_spawned(r, "daemon", new)
        gateway = children(r)[GATEWAY]  # the host's restart handed the gateway over too
        self.assertTrue(wait_until(lambda: not pid_alive(kids[GATEWAY]), 10), r.log())
        time.sleep(0.3)
        for pid in (new_helper, new_daemon, old_daemon):
            self.assertTrue(pid_alive(pid), "pid %d was killed; log:\n%s" % (pid, r.log()))
        for pid in (new_daemon, old_daemon):
            self.assertEqual(parent_of(pid), r.proc.pid)
        self.assertEqual(parent_of(new_helper), new)
        self.assertFalse(pid_alive(gw_helper), r.log())  # the old gateway's, gone with it
        self.assertTrue(pid_alive(self.wait_for_spawned(r, "helper", gateway)), r.log())

    def test_helpers_of_the_child_still_running_are_left_alone(self):
        """The gateway is killed: its helper goes with it, while the host's
        helper and daemon, and the gateway's daemon (adopted before it
        ended, so not taken for its orphan), stay."""
        script = HERE + spawn("helper") + spawn("daemon", daemon=True) + IDLE
        r, kids = self.serving_stand_ins(script, script, supervisor={"backoff_initial": "1"})
        helpers = {name: self.wait_for_spawned(r, "helper", kids[name]) for name in kids}
        daemons = {name: self.wait_for_spawned(r, "daemon", kids[name]) for name in kids}
        os.kill(kids[GATEWAY], signal.SIGKILL)
        self.wait_for_log(r, r"%s pid %d left 1 process behind outside its process group: "
                          r"pid %d \(sleep\); killed it" % (GATEWAY, kids[GATEWAY],
                                                             helpers[GATEWAY]))
        self.assertTrue(wait_until(lambda: not pid_alive(helpers[GATEWAY]), 1), r.log())
        time.sleep(0.3)
        for pid in (helpers[HOST], daemons[HOST], daemons[GATEWAY]):
            self.assertTrue(pid_alive(pid), "pid %d was killed; log:\n%s" % (pid, r.log()))
        self.assertEqual(parent_of(daemons[HOST]), r.proc.pid)

    def test_stop_stops_adopted_processes_after_the_children(self):
        """SIGTERM: once both children have stopped, every process rpcrestd
        adopted gets SIGTERM (the host's helper too, orphaned as the host
        stopped), SIGKILL after [supervisor] stop_timeout if it ignores
        that, and rpcrestd waits for them before it exits."""
        # it says when its trap is set ($0 names the file): under load a fixed
        # wait may end before, and SIGTERM would then kill it
        stubborn = ("sh -c 'trap \"\" TERM; : > \"$0\"; while :; do sleep 0.1; done' "
                    "\"$d/stubborn.trapped\"")
        host = (HERE + spawn("helper") + spawn("daemon", daemon=True) +
                spawn("stubborn", stubborn, daemon=True) + IDLE)
        r = self.stand_ins(host, IDLE, supervisor={"stop_timeout": "0.5"}).start()
        self.wait_for_child(r, GATEWAY)
        host_pid = self.wait_for_child(r, HOST)
        pids = {name: self.wait_for_spawned(r, name) for name in ("helper", "daemon", "stubborn")}
        self.assertTrue(wait_until(lambda: os.path.exists(os.path.join(r.dir, "stubborn.trapped")),
                                   5), r.log())
        # named as they are when signalled and when they end: sleep, once
        # they have exec'd it (their pid is known from the fork before)
        for name in ("helper", "daemon"):
            self.assertTrue(wait_until(lambda: " (sleep) " in "".join(describe([pids[name]])), 5),
                            describe([pids[name]]))
        r.proc.send_signal(signal.SIGTERM)
        self.assertEqual(r.proc.wait(5), 0, r.log())
        for name, pid in pids.items():
            self.assertFalse(pid_alive(pid), "%s pid %d outlived rpcrestd; log:\n%s"
                             % (name, pid, r.log()))
        log = r.log()
        stopping = log.index("stopping 3 adopted processes (SIGTERM; SIGKILL after 0.5 s)")
        self.assertLess(log.index("event=exit child=%s pid=%d " % (HOST, host_pid)), stopping, log)
        for name in ("helper", "daemon"):
            self.assertRegex(log, r"adopted process pid %d \(sleep\) killed by signal SIGTERM"
                             % pids[name])
        self.assertRegex(log, r"adopted process(es)? did not stop within 0.5 s; sending SIGKILL: "
                         r"pid %d \(sh\)" % pids["stubborn"])
        self.assertRegex(log, r"adopted process pid %d \(sh\) killed by signal SIGKILL"
                         % pids["stubborn"])
        self.assertRegex(log, r"rpcrestd: stopped\n$")

    def test_an_adoptee_is_named_as_it_is_when_signalled(self):
        """An adoptee that has exec'd since rpcrestd first saw it (as a
        forked copy of its parent) is named as it is now in the stop's
        SIGKILL line.  This one execs sleep when the stop's SIGTERM comes,
        which is after the look the stop takes first (its stderr goes
        nowhere: the shell says "Terminated" of its sleep 0.1, to a pipe
        nobody reads any more)."""
        stubborn = ("sh -c 'trap \"exec sleep 1000\" TERM; exec 2>/dev/null; : > \"$0\"; "
                    "while :; do sleep 0.1; done' \"$d/stubborn.trapped\"")
        host = HERE + spawn("stubborn", stubborn, daemon=True) + IDLE
        r = self.stand_ins(host, IDLE, supervisor={"stop_timeout": "2"}).start()
        pid = self.wait_for_spawned(r, "stubborn")
        self.assertTrue(wait_until(lambda: os.path.exists(os.path.join(r.dir, "stubborn.trapped")),
                                   5), r.log())
        r.proc.send_signal(signal.SIGTERM)
        self.assertEqual(r.proc.wait(10), 0, r.log())
        self.assertFalse(pid_alive(pid), r.log())
        log = r.log()
        self.assertRegex(log, r"1 adopted process did not stop within 2 s; sending SIGKILL: "
                         r"pid %d \(sleep\)\n" % pid)
        self.assertRegex(log, r"adopted process pid %d \(sleep\) killed by signal SIGKILL" % pid)

    def test_killed_supervisor_takes_adopted_processes_along(self):
        """kill -9 of rpcrestd: the guard kills what rpcrestd had adopted
        too."""
        host = HERE + spawn("daemon", daemon=True) + IDLE
        r, kids = self.serving_stand_ins(host, IDLE)
        daemon = self.wait_for_spawned(r, "daemon")
        self.assertEqual(parent_of(daemon), r.proc.pid, r.log())
        r.proc.kill()
        r.proc.wait()
        self.assertTrue(wait_until(lambda: not pid_alive(daemon), 1.0),
                        "still running 1 s after rpcrestd was killed: %s"
                        % describe([daemon]))

    def test_ends_of_adopted_processes_are_not_logged_one_by_one_past_a_burst(self):
        """Many short-lived orphans (a plugin that starts `cmd &` per
        call): the first ten ends are logged one by one, the rest counted."""
        host = HERE + "".join(spawn("short%d" % i, "sleep 0.2", daemon=True)
                              for i in range(25)) + IDLE
        r = self.stand_ins(host, IDLE).start()
        pids = [self.wait_for_spawned(r, "short%d" % i) for i in range(25)]
        self.assertTrue(wait_until(lambda: not set(pids) & set(child_pids(r.proc.pid)), 5),
                        r.log())
        r.proc.send_signal(signal.SIGTERM)
        self.assertEqual(r.proc.wait(5), 0, r.log())
        log = r.log()
        self.assertEqual(len(re.findall(r"adopted process pid \d+ \(sleep\) exited", log)), 10,
                         log)
        self.assertRegex(log, r"rpcrestd: 15 more adopted processes ended in the last \d+ s, "
                         r"not logged one by one \(at most 10 a minute are\)\n")

    def test_stop_stops_a_daemon_whose_main_thread_has_ended(self):
        """A daemon whose main thread ended while another thread runs on
        (pthread_exit in main) looks like a process on its way out in /proc
        (PF_EXITING, state Z), yet it runs: adopted that way, it is still
        kept, stopped after the children, and rpcrestd does not wait for it
        for ever."""
        r = self.stand_ins(HERE + 'setsid /usr/bin/python3 "$d/threads.py" "$d/threaded" &\n' +
                           IDLE, IDLE, supervisor={"stop_timeout": "0.5"})
        with open(os.path.join(r.dir, "threads.py"), "w") as f:
            f.write("import ctypes, os, sys, threading, time\n"
                    "pid = os.fork()\n"
                    "if pid:\n"
                    "    with open(sys.argv[1] + '.tmp', 'w') as f:\n"
                    "        f.write(str(pid))\n"
                    "    os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
                    "    time.sleep(0.5)  # its child's main thread ends first\n"
                    "    sys.exit(0)\n"
                    "threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()\n"
                    "ctypes.CDLL(None).pthread_exit(None)\n")
        r.start()
        path = os.path.join(r.dir, "threaded")
        self.assertTrue(wait_until(lambda: os.path.exists(path), 5), r.log())
        with open(path) as f:
            daemon = int(f.read())
        def kill_daemon():
            try:
                os.kill(daemon, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.addCleanup(kill_daemon)
        self.assertTrue(wait_until(lambda: parent_of(daemon) == r.proc.pid, 5), r.log())
        time.sleep(0.3)  # a look or two
        r.proc.send_signal(signal.SIGTERM)
        try:
            status = r.proc.wait(5)
        except subprocess.TimeoutExpired:
            status = None
        self.assertEqual(status, 0, "rpcrestd did not stop; %s; log:\n%s"
                         % (describe([daemon]), r.log()))
        self.assertFalse(os.path.exists("/proc/%d" % daemon), r.log())  # reaped, then
        self.assertRegex(r.log(), r"adopted process pid %d \(python3\) killed by signal SIGTERM"
                         % daemon)

    @unittest.skipUnless(os.getuid() == 0, "needs root, to make a setuid program")
    def test_stop_does_not_wait_for_a_leftover_it_may_not_signal(self):
        """rpcrestd runs as nobody, and what a child left in its process
        group runs as root (a setuid program): the group's SIGKILL does not
        reach it.  rpcrestd says that it cannot signal it, leaves it alone,
        and its stop does not wait for it for ever."""
        host = (HERE + 'if [ ! -e "$d/rooted" ]; then\n'
                '    "$d/asroot" sleep 1000 & echo $! > "$d/rooted.tmp" && '
                'mv "$d/rooted.tmp" "$d/rooted"\n' + NOTIFY + '    sleep 0.3; exit 1\nfi\n' + IDLE)
        r = self.stand_ins(host, IDLE, supervisor={"backoff_initial": "0.1",
                                                   "stop_timeout": "0.5"})
        with open(os.path.join(r.dir, "asroot.c"), "w") as f:
            f.write("#include <unistd.h>\n"
                    "int main(int argc, char **argv)\n{\n"
                    "    (void)argc;\n"
                    "    if (setuid(0) < 0)\n        return 1;\n"
                    "    execvp(argv[1], argv + 1);\n    return 127;\n}\n")
        asroot = os.path.join(r.dir, "asroot")
        subprocess.run(["cc", "-o", asroot, asroot + ".c"], check=True)
        os.chmod(asroot, 0o4755)
        for folder, _, files in os.walk(r.dir):
            os.chmod(folder, 0o777)
        def as_nobody():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
        r.start(preexec_fn=as_nobody, env=env)
        path = os.path.join(r.dir, "rooted")
        self.assertTrue(wait_until(lambda: os.path.exists(path), 5), r.log())
        with open(path) as f:
            rooted = int(f.read())
        def kill_rooted():
            try:
                os.kill(rooted, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.addCleanup(kill_rooted)
        self.wait_for_log(r, r"event=exit child=%s " % HOST)
        self.assertTrue(wait_until(lambda: parent_of(rooted) == r.proc.pid, 5), r.log())
        self.wait_for_log(r, r"cannot send SIGKILL to adopted process pid %d \(sleep\): "
                          r"Operation not permitted; leaving it alone" % rooted)
        self.wait_for_child(r, HOST)
        r.proc.send_signal(signal.SIGTERM)
        try:
            status = r.proc.wait(5)
        except subprocess.TimeoutExpired:
            status = None
        self.assertEqual(status, 0, "rpcrestd did not stop; log:\n%s" % r.log())

    def test_adoptee_names_cannot_forge_log_lines(self):
        """A process's name may hold ")", spaces and a newline: the log
        names it on one line, the newline made harmless."""
        host = HERE + spawn("odd", '"$d"/odd*name 0.2', daemon=True) + IDLE
        r = self.stand_ins(host, IDLE)
        shutil.copy2(shutil.which("sleep"), os.path.join(r.dir, "odd) \nname"))
        r.start()
        pid = self.wait_for_spawned(r, "odd")
        self.wait_for_log(r, r" rpcrestd: adopted process pid %d \(odd\) \?name\) exited with "
                          r"status 0\n" % pid)
        for line in r.log().splitlines():
            self.assertRegex(line, "^" + STAMP + " ", r.log())

    def test_children_that_ended_before_rpcrestd_started_are_reaped(self):
        """A zombie rpcrestd inherits from the program that exec'd it (its
        SIGCHLD went to that program) is reaped at once, not at the next
        end of some other child."""
        def leave_a_zombie():
            if os.fork() == 0:
                os._exit(7)
            time.sleep(0.1)  # ended before the exec
        r = self.stand_ins(IDLE, IDLE).start(preexec_fn=leave_a_zombie)
        self.wait_for_child(r, GATEWAY)
        self.wait_for_log(r, r" rpcrestd: inherited process pid \d+ \(python3\) exited with "
                          r"status 7\n")
        zombies = [line for line in describe(child_pids(r.proc.pid)) if line.endswith(" Z")]
        self.assertEqual(zombies, [], r.log())

    def test_signals_ignored_by_whoever_started_it_still_work(self):
        """Started with SIGCHLD, SIGHUP and SIGINT ignored (as by a shell's
        `&` or nohup), rpcrestd still reaps and restarts, reloads on SIGHUP
        and stops on SIGINT."""
        def ignore_signals():
            for sig in (signal.SIGCHLD, signal.SIGHUP, signal.SIGINT):
                signal.signal(sig, signal.SIG_IGN)
        r = self.stand_ins(IDLE, IDLE).start(preexec_fn=ignore_signals)
        host = self.wait_for_child(r, HOST)
        self.wait_for_child(r, GATEWAY)
        os.kill(host, signal.SIGKILL)
        self.wait_for_child(r, HOST, host)
        self.assertRegex(r.log(), r"%s pid %d killed by signal SIGKILL" % (HOST, host))
        r.proc.send_signal(signal.SIGHUP)
        self.wait_for_log(r, r"received SIGHUP; reloading")
        r.proc.send_signal(signal.SIGINT)
        self.assertEqual(r.proc.wait(5), 0, r.log())
        self.assertIn("received SIGINT; stopping", r.log())

    # ---- what a child gets -------------------------------------------------
    def test_sigusr2_to_every_process_of_the_unit_ends_none(self):
        """SIGUSR2 is the host's (rpcrestd's "publish the private socket
        again"); sent to the whole unit (`systemctl kill -s USR2`) it is
        logged and ignored by rpcrestd and the gateway, and everything
        keeps serving with the same processes."""
        r = self.rpcrest(services=("echo",))
        kids = children(r)
        for pid in [r.proc.pid] + list(kids.values()):
            os.kill(pid, signal.SIGUSR2)
        self.wait_for_log(r, r"rpcrestd: received SIGUSR2; ignored")
        self.wait_for_log(r, r"%s\[%d\]: SIGUSR2 ignored" % (GATEWAY, kids[GATEWAY]))
        status, _, body = r.http("POST", "/v1/example/echo", b'{"value":"still here"}')
        self.assertEqual((status, body), (200, b'{"value":"still here"}'), r.log())
        self.assertIsNone(r.proc.poll(), r.log())
        self.assertEqual(children(r), kids, r.log())

    def test_child_starts_clean(self):
        """Own process group, rpcrestd as parent, `-c <absolute INI>`, no
        ignored or blocked signals, SIGKILL when rpcrestd dies, no fds from
        rpcrestd's own parent; the notification fd, and for the gateway the
        listening socket as fd 3 (LISTEN_FDS=1, LISTEN_PID its own pid).  The
        shell clears its signal mask at startup, so the mask and the
        parent-death signal are read by a Python stand-in."""
        r = self.stand_ins(SHELL_REPORT, PYTHON_REPORT)
        marker = os.path.join(r.dir, "inherited-marker")
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT, 0o600)
        self.addCleanup(os.close, fd)
        env = dict(os.environ, NOTIFY_SOCKET=os.path.join(r.dir, "no-such.sock"))
        r.start(pass_fds=(fd,), env=env)
        reports = {}
        for name in (HOST, GATEWAY):
            path = os.path.join(r.dir, "report-" + name)
            self.assertTrue(wait_until(lambda: os.path.exists(path), 5), r.log())
            with open(path) as f:
                reports[name] = f.read()
        host = children(r)[HOST]

        report = reports[HOST]
        self.assertIn("argv %s -c %s\n" % (os.path.join(r.bin, HOST), os.path.realpath(r.ini)),
                      report)
        fields = re.search(r"^stat (.*)$", report, re.M).group(1).rsplit(")", 1)[1].split()
        self.assertEqual(int(fields[1]), r.proc.pid, "parent")
        self.assertEqual(int(fields[2]), host, "process group")
        # Signals 32 and 33 belong to the C library (sigaction refuses them),
        # so whatever the launcher left there is out of rpcrestd's hands.
        ignored = int(re.search(r"SigIgn:\s+([0-9a-f]+)", report).group(1), 16)
        self.assertEqual(ignored & ~(0b11 << 31), 0, "signals still ignored: %x" % ignored)
        self.assertNotIn(marker, report)
        self.assertRegex(report, r"fd 0 /dev/null\n")
        self.assertRegex(report, r"fd 2 pipe:\[\d+\]\n")  # stdout and stderr: the log pipe
        self.assertRegex(report, r"fd 3 pipe:\[\d+\]\n")  # the notification fd
        self.assertNotIn("socket:", report)  # the gateway's listener is the gateway's
        # on TCP the host may share its port with its successor; NOTIFY_SOCKET
        # is rpcrestd's business, not its children's
        self.assertIn("env NOTIFY_FD=3 LISTEN_FDS= HANDOVER=1 NOTIFY_SOCKET=\n", report)
        # rpcrestd itself still holds the fd it was given
        self.assertIn(marker, os.readlink("/proc/%d/fd/%d" % (r.proc.pid, fd)))

        report = reports[GATEWAY]
        gateway = children(r)[GATEWAY]
        self.assertIn("pdeathsig %d\n" % signal.SIGKILL, report)
        self.assertRegex(report, r"SigBlk:\s+0+\n")
        self.assertIn("listen 127.0.0.1:%d listening=1\n" % r.http_port, report)
        self.assertIn("env LISTEN_FDS=1 LISTEN_PID=%d NOTIFY_FD=4 mypid=%d\n"
                      % (gateway, gateway), report)

    # ---- the log -------------------------------------------------------------
    def test_child_lines_are_whole_prefixed_and_all_there(self):
        """Both children write thousands of lines at once, and one line too
        long for a log line: every line arrives, whole, once, in order,
        prefixed with the time and the child's name and pid."""
        writer = """#!/usr/bin/python3
import os, sys
name = os.path.basename(sys.argv[0])
os.write(int(os.environ["RPCREST_NOTIFY_FD"]), b"READY\\n")
for i in range(3000):
    os.write(1 if i % 2 else 2, ("%s-line-%05d-" % (name, i) + "x" * 150 + "\\n").encode())
os.write(1, b"L" * 40000 + b"\\n")
os.write(2, ("%s-done\\n" % name).encode())
import time
while True:
    time.sleep(1)
"""
        r = self.stand_ins(writer, writer).start()
        for name in (HOST, GATEWAY):
            self.wait_for_log(r, r"%s\[\d+\]: %s-done" % (name, name), timeout=15)
        kids = children(r)
        log = r.log()
        for name in (HOST, GATEWAY):
            prefix = re.compile(r"^%s %s\[%d\]: (.*)$" % (STAMP, name, kids[name]))
            texts = [m.group(1) for m in map(prefix.match, log.splitlines()) if m]
            numbered = [t for t in texts if t.startswith(name + "-line-")]
            self.assertEqual(numbered, ["%s-line-%05d-%s" % (name, i, "x" * 150)
                                        for i in range(3000)])
            pieces = [t for t in texts if t.startswith("L")]
            self.assertEqual("".join(pieces), "L" * 40000)
            self.assertTrue(all(len(p) <= 16384 for p in pieces), [len(p) for p in pieces])
        # every line of the log is one whole line of someone
        for line in log.splitlines():
            self.assertRegex(line, r"^%s (rpcrestd|%s\[\d+\]|%s\[\d+\]): " % (STAMP, HOST, GATEWAY))
        self.assertNotIn("dropped", log)

    def test_slow_log_output_never_blocks_a_child_and_losses_are_counted(self):
        """rpcrestd's stderr is a pipe nobody reads for a while: a child
        writing 200,000 lines still finishes, and once the pipe is read the
        log says how many lines it had to drop; every other line arrived
        whole."""
        total = 200000
        writer = """#!/usr/bin/python3
import os, sys
os.write(int(os.environ["RPCREST_NOTIFY_FD"]), b"READY\\n")
for i in range(%d):
    os.write(2, b"chatty-%%06d-%%s\\n" %% (i, b"y" * 60))
open(os.path.join(os.path.dirname(sys.argv[0]), "..", "done"), "w").close()
import time
while True:
    time.sleep(1)
""" % total
        r = self.stand_ins(writer, IDLE)
        r.start(stdout=subprocess.PIPE)
        done = os.path.join(r.dir, "done")
        finished = wait_until(lambda: os.path.exists(done), 60, 0.1)
        chunks = []
        reader = threading.Thread(target=lambda: chunks.append(r.proc.stdout.read()))
        reader.start()
        self.assertTrue(finished, "the child did not finish writing while the log was stalled")
        time.sleep(0.5)
        r.proc.send_signal(signal.SIGTERM)
        r.proc.wait(10)
        reader.join(10)
        out = b"".join(chunks).decode()
        m = re.search(r"rpcrestd: log output too slow: dropped (\d+) lines", out)
        self.assertTrue(m, out[-3000:])
        got = re.findall(r"^%s %s\[\d+\]: chatty-(\d{6})-y{60}$" % (STAMP, HOST), out, re.M)
        self.assertGreater(len(got), 1000)
        self.assertEqual(len(got) + int(m.group(1)), total)
        numbers = [int(n) for n in got]
        self.assertEqual(numbers, sorted(numbers))
        for line in out.splitlines():
            self.assertRegex(line, r"^%s (rpcrestd|%s\[\d+\]|%s\[\d+\]): " % (STAMP, HOST, GATEWAY))

    def test_log_file_is_reopened_on_sigusr1(self):
        """[supervisor] log_file takes the log; after logrotate's rename,
        SIGUSR1 makes rpcrestd write a new file."""
        talker = NOTIFY + 'while :; do echo tick; sleep 0.1; done\n'
        r = self.stand_ins(talker, IDLE, supervisor={"log_file": "supervised.log"}).start()
        path = os.path.join(r.dir, "supervised.log")

        def read(p):
            try:
                with open(p) as f:
                    return f.read()
            except FileNotFoundError:
                return ""
        self.assertTrue(wait_until(lambda: "%s[" % HOST in read(path), 5), r.log())
        self.assertRegex(read(path), r"%s rpcrestd: started %s pid \d+" % (STAMP, HOST))
        self.assertNotIn("started", r.log())  # stderr stays quiet
        os.rename(path, path + ".1")
        time.sleep(0.3)
        self.assertRegex(read(path + ".1"), r"%s\[\d+\]: tick\n" % HOST)
        r.proc.send_signal(signal.SIGUSR1)
        self.assertTrue(wait_until(lambda: "tick" in read(path), 5), r.log())
        self.assertIn("rpcrestd: received SIGUSR1; reopened %s" % path, read(path))
        before = read(path + ".1").count("tick")
        time.sleep(0.3)
        self.assertEqual(read(path + ".1").count("tick"), before)

    def test_start_refusal_reaches_stderr_with_a_log_file(self):
        """A second rpcrestd on the same INI is refused (exit 78): with a
        log_file too, the reason is on its stderr, where it was started."""
        r = self.stand_ins(IDLE, IDLE, supervisor={"log_file": "supervised.log"}).start()
        self.assertTrue(wait_until(lambda: self.ctl(r, "status").returncode == 0, 10), r.log())
        second = subprocess.run([os.path.join(r.bin, "rpcrestd"), "-c", r.ini],
                                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=15)
        self.assertEqual(second.returncode, EX_CONFIG, second)
        self.assertRegex(second.stderr, r"rpcrestd: .*another rpcrestd pid %d" % r.proc.pid)
        self.assertNotIn("starting with", second.stderr)

    def test_a_childs_refusal_reaches_stderr_with_a_log_file(self):
        """The host refuses the configuration (a plugin's init fails: exit
        78) while rpcrestd starts with a log_file: the start's lines, the
        host's reason among them, reach rpcrestd's stderr (it said nothing
        there, only exit 78); a start that succeeds leaves stderr quiet."""
        bad = os.path.join(BUILD, "tests", "plugins", "bad_init.so")
        r = Rpcrest(services=(), supervisor={"log_file": "supervised.log"},
                    ini_extra="[service.bad]\nplugin = %s\nreason = the disk is full\n" % bad)
        self.addCleanup(r.cleanup)
        r.start(wait=False)
        self.assertEqual(r.proc.wait(20), EX_CONFIG, r.log())
        self.assertIn("init failed: refusing to start: the disk is full", r.log())
        self.assertRegex(r.log(), r"rpcrestd: rpcrest-host refused the configuration")
        ok = Rpcrest(supervisor={"log_file": "supervised.log"})
        self.addCleanup(ok.cleanup)
        ok.start()
        self.assertEqual(ok.log(), "")

    def test_a_long_start_keeps_its_end_for_stderr(self):
        """A start whose lines pass 64 KiB before a child refuses it: what
        reaches stderr is its end, the reason last (the first 64 KiB were
        kept, and the reason was lost)."""
        noisy = ('i=0; while [ $i -lt 2000 ]; do echo "warming entry $i of 2000 .........'
                 '....................................."; i=$((i+1)); done >&2\n'
                 'echo "THE REAL REASON: the database refused the password" >&2\nexit 78\n')
        r = self.stand_ins(noisy, IDLE, supervisor={"log_file": "supervised.log"})
        r.start(wait=False)
        self.assertEqual(r.proc.wait(20), EX_CONFIG, r.log())
        err = r.log()
        self.assertIn("THE REAL REASON: the database refused the password", err)
        self.assertRegex(err, r"rpcrestd: rpcrest-host refused the configuration")
        self.assertRegex(err, r"^rpcrestd: \d+ earlier lines of the start are in ")
        self.assertLess(len(err), 70 * 1024)

    def test_log_file_at_the_file_size_limit(self):
        """A log file that reaches RLIMIT_FSIZE (ulimit -f) loses lines, and
        says how much once it may grow again; rpcrestd is not killed by
        SIGXFSZ, and the line a failed write cut short is ended before the
        next one."""
        import resource
        talker = NOTIFY + 'while :; do echo tick-tick-tick-tick; sleep 0.01; done\n'
        r = self.stand_ins(talker, IDLE, supervisor={"log_file": "supervised.log"})
        # Python ignores SIGXFSZ, and rpcrestd would inherit that
        r.start(preexec_fn=lambda: signal.signal(signal.SIGXFSZ, signal.SIG_DFL))
        path = os.path.join(r.dir, "supervised.log")
        self.assertTrue(wait_until(lambda: os.path.exists(path) and
                                   os.path.getsize(path) > 1000, 5), r.log())
        limit = os.path.getsize(path) + 1000
        resource.prlimit(r.proc.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
        self.assertTrue(wait_until(lambda: os.path.getsize(path) == limit, 5))
        time.sleep(0.3)
        self.assertIsNone(r.proc.poll(), r.log())
        resource.prlimit(r.proc.pid, resource.RLIMIT_FSIZE,
                         (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

        def text():
            with open(path) as f:
                return f.read()
        self.assertTrue(wait_until(lambda: "bytes of log could not be written" in text(), 5))
        time.sleep(0.2)
        with open(path) as f:
            lines = f.read().splitlines()
        whole = re.compile(r"^%s (rpcrestd|%s\[\d+\]|%s\[\d+\]): " % (STAMP, HOST, GATEWAY))
        cut = [line for line in lines if not whole.match(line)]
        self.assertLessEqual(len(cut), 1, cut)  # the one at the limit, alone on its line
        for line in lines:  # no line goes on after a cut one
            self.assertFalse(re.search(".%s" % STAMP, line), line)

    def test_a_terminal_nobody_reads_does_not_stop_rpcrestd(self):
        """stderr on a terminal that is not read (an ssh session that
        stalled): lines are dropped, rpcrestd goes on answering."""
        import pty
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        talker = NOTIFY + 'while :; do echo tick-tick-tick-tick-tick-tick; sleep 0.002; done\n'
        r = self.stand_ins(talker, IDLE)
        r.start(stdout=slave)
        os.close(slave)
        time.sleep(1.5)  # far more than the terminal holds
        for _ in range(5):
            status = self.ctl(r, "status")
            self.assertEqual(status.returncode, 0, status)
        r.proc.send_signal(signal.SIGTERM)
        self.assertEqual(r.proc.wait(10), 0)

    def test_log_lines_have_a_utc_timestamp(self):
        r = self.stand_ins(IDLE, IDLE).start()
        self.wait_for_child(r, GATEWAY)
        self.wait_for_log(r, r"started %s" % GATEWAY)
        self.assertRegex(r.log(), r"^%s rpcrestd: starting with %s\n%s rpcrestd: started %s pid "
                         r"\d+\n" % (STAMP, re.escape(os.path.realpath(r.ini)), STAMP, HOST))

    # ---- configuration and command line ------------------------------------
    def test_bad_ini_exits_78_with_file_and_line(self):
        r = Rpcrest(ini_extra="\n[bogus]\nkey = 1\n")
        self.addCleanup(r.cleanup)
        with open(r.ini) as f:
            line = f.read().split("\n").index("[bogus]") + 1
        r.start(wait=False)
        self.assertEqual(r.proc.wait(5), EX_CONFIG, r.log())
        self.assertIn("%s:%d: unknown section [bogus]" % (os.path.realpath(r.ini), line),
                      r.log())
        self.assertEqual(starts(r.log(), HOST), 0)

    def test_missing_ini_exits_78(self):
        path = os.path.join(BUILD, "no-such-dir", "rpcrest.ini")
        proc = subprocess.run([RPCRESTD, "-c", path], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=10)
        self.assertEqual(proc.returncode, EX_CONFIG)
        self.assertIn(b"%s: No such file or directory" % path.encode(), proc.stderr)

    def test_command_line(self):
        def run(*args):
            return subprocess.run([RPCRESTD] + list(args), stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=10)
        helped = run("-h")
        self.assertEqual(helped.returncode, 0)
        self.assertIn(b"usage: rpcrestd [-c FILE]", helped.stdout)
        for args in (["-x"], ["-c"], ["extra"], ["-c", "a.ini", "b.ini"]):
            proc = run(*args)
            self.assertEqual(proc.returncode, 64, args)
            self.assertIn(b"usage: rpcrestd", proc.stderr, args)

    def test_missing_child_program_is_reported(self):
        r = self.stand_ins(IDLE, IDLE)
        os.unlink(os.path.join(r.bin, GATEWAY))
        r.start()
        self.assertEqual(r.proc.wait(5), 1, r.log())
        self.assertIn("%s: No such file or directory" % os.path.join(r.bin, GATEWAY), r.log())
        self.assertEqual(starts(r.log(), HOST), 0, r.log())

    def test_gateway_port_taken_is_refused_at_start(self):
        import socket
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        self.addCleanup(taken.close)
        r = self.stand_ins(IDLE, IDLE, gateway={"listen": "127.0.0.1:%d" % taken.getsockname()[1]})
        r.start()
        self.assertEqual(r.proc.wait(5), 78, r.log())  # EX_CONFIG: the INI's address
        self.assertRegex(r.log(), r"%s:\d+: \[gateway\] listen: bind 127.0.0.1:%d: Address "
                         r"already in use" % (re.escape(os.path.realpath(r.ini)),
                                              taken.getsockname()[1]))
        self.assertEqual(starts(r.log(), HOST), 0)

    def test_second_rpcrestd_on_the_same_host_address_is_refused(self):
        """The host shares its port with its successor (SO_REUSEPORT), so
        the kernel no longer refuses a second instance: a lock does."""
        first = self.rpcrest()
        second = Rpcrest(host={"listen": "127.0.0.1:%d" % first.host_port})
        self.addCleanup(second.cleanup)
        second.start(wait=False)
        self.assertEqual(second.proc.wait(5), EX_CONFIG, second.log())
        self.assertRegex(second.log(), r"%s:\d+: \[host\] listen: another rpcrestd pid %d "
                         r"serves 127.0.0.1:%d" % (re.escape(os.path.realpath(second.ini)),
                                                   first.proc.pid, first.host_port))
        self.assertEqual(starts(second.log(), HOST), 0)
        self.assertTrue(self.echo_works(first, 5))

    def check_second_rpcrestd_is_refused(self, first, second, key, what, env=None):
        """second exits 78 with FILE:LINE: [host] KEY: WHAT before it starts
        a host that would share first's port."""
        self.addCleanup(second.cleanup)
        with open(second.ini) as f:
            lines = f.read().split("\n")
        host = lines.index("[host]")
        line = next(i for i, l in enumerate(lines) if i > host and l.startswith(key + " = ")) + 1
        second.start(wait=False, env=env)
        self.assertEqual(second.proc.wait(5), EX_CONFIG, second.log())
        self.assertIn("%s:%d: [host] %s: %s" % (os.path.realpath(second.ini), line, key, what),
                      second.log())
        self.assertEqual(starts(second.log(), HOST), 0)
        self.assertTrue(self.echo_works(first, 5))
        log = first.log()
        self.assertEqual(starts(log, HOST), 1, log)

    def test_second_rpcrestd_spelling_the_host_address_otherwise_is_refused(self):
        """localhost:P is 127.0.0.1:P (the lock is named by the numbers)."""
        first = self.rpcrest()
        second = Rpcrest(host={"listen": "localhost:%d" % first.host_port})
        self.check_second_rpcrestd_is_refused(
            first, second, "listen", "another rpcrestd pid %d serves localhost:%d"
            % (first.proc.pid, first.host_port))

    def test_second_rpcrestd_with_another_runtime_dir_is_refused(self):
        """Its lock is elsewhere: it finds the port taken (first's host has
        SO_REUSEPORT on, which a bind without it still meets)."""
        first = self.rpcrest()
        second = Rpcrest(host={"listen": "localhost:%d" % first.host_port})
        runtime = os.path.join(second.dir, "runtime")
        os.mkdir(runtime, 0o700)
        env = dict(os.environ, XDG_RUNTIME_DIR=runtime)
        self.check_second_rpcrestd_is_refused(
            first, second, "listen", "127.0.0.1:%d is in use by another process"
            % first.host_port, env)

    def test_second_rpcrestd_on_the_same_host_metrics_address_is_refused(self):
        metrics = free_port()
        first = self.rpcrest(host={"metrics_listen": "127.0.0.1:%d" % metrics})
        second = Rpcrest(host={"metrics_listen": "127.0.0.1:%d" % metrics})
        self.check_second_rpcrestd_is_refused(
            first, second, "metrics_listen", "127.0.0.1:%d is in use by another process"
            % metrics)


if __name__ == "__main__":
    unittest.main()
