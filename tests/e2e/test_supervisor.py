"""rpcrestd end to end: it restarts a child that dies (with a growing delay),
stops everything on SIGTERM, takes its children along when it is killed, and
refuses a bad configuration with exit status 78.

Most tests run the real rpcrestd, rpcrest-host and rpcrest-gateway.  A few
run a copy of rpcrestd next to small shell-script stand-ins for the children
(rpcrestd runs the programs found next to itself), to see exactly what a
child inherits, a child that ignores SIGTERM, or one that exits 0.
"""
import os
import re
import shutil
import signal
import subprocess
import time
import unittest

from harness import BUILD, Rpcrest, pid_alive, wait_until

HOST = "rpcrest-host"
GATEWAY = "rpcrest-gateway"
RPCRESTD = os.path.join(BUILD, "rpcrestd")
EX_CONFIG = 78


def restart_delays(log, name):
    """The restart delays (ms) the log gives for `name`, in order."""
    return [int(ms) for ms in
            re.findall(r" rpcrestd: %s pid \d+ .*; restarting in (\d+) ms" % name, log)]


def starts(log, name):
    return len(re.findall(r" rpcrestd: started %s pid \d+" % name, log))


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


class StandIns(Rpcrest):
    """A copy of rpcrestd in its own bin/ folder, next to scripts that stand
    in for rpcrest-host and rpcrest-gateway (shell, unless a script starts
    with its own #! line)."""

    def __init__(self, host_script, gateway_script, **kw):
        super().__init__(services=(), **kw)
        self.bin = os.path.join(self.dir, "bin")
        os.mkdir(self.bin)
        shutil.copy2(RPCRESTD, self.bin)
        for name, script in ((HOST, host_script), (GATEWAY, gateway_script)):
            path = os.path.join(self.bin, name)
            with open(path, "w") as f:
                f.write(script if script.startswith("#!") else "#!/bin/sh\n" + script)
            os.chmod(path, 0o755)

    def start(self, wait=False, timeout=0, pass_fds=(), preexec_fn=None):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([os.path.join(self.bin, "rpcrestd"), "-c", self.ini],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, pass_fds=pass_fds,
                                     preexec_fn=preexec_fn)
        return self


# A stand-in that runs until it is killed.
IDLE = "while :; do sleep 0.1; done\n"

# Stand-ins that write what they inherited to ../report-NAME, then idle.
SHELL_REPORT = (
    'out="$(dirname "$0")/../report-$(basename "$0")"\n'
    '{ echo "argv $0 $*"; echo "stat $(cat /proc/$$/stat)"\n'
    '  grep -E "^Sig(Blk|Ign):" /proc/$$/status\n'
    '  for fd in /proc/$$/fd/*; do echo "fd ${fd##*/} $(readlink "$fd")"; done\n'
    '} > "$out.tmp" && mv "$out.tmp" "$out"\n' + IDLE)
PYTHON_REPORT = """#!/usr/bin/python3
import ctypes, os, re, sys, time
PR_GET_PDEATHSIG = 2
sig = ctypes.c_int(-1)
ctypes.CDLL(None).prctl(PR_GET_PDEATHSIG, ctypes.byref(sig), 0, 0, 0)
with open("/proc/self/status") as f:
    blocked = re.search(r"^SigBlk:.*$", f.read(), re.M).group(0)
out = os.path.join(os.path.dirname(sys.argv[0]), "..", "report-" + os.path.basename(sys.argv[0]))
with open(out + ".tmp", "w") as f:
    f.write("pdeathsig %d\\n%s\\n" % (sig.value, blocked))
os.rename(out + ".tmp", out)
while True:
    time.sleep(1)
"""


class SupervisorTest(unittest.TestCase):
    def rpcrest(self, **kw):
        """The real programs, started and answering."""
        r = Rpcrest(**kw)
        self.addCleanup(r.cleanup)
        r.start()
        return r

    def stand_ins(self, host_script, gateway_script, **kw):
        r = StandIns(host_script, gateway_script, **kw)
        self.addCleanup(r.cleanup)
        return r

    def wait_for_child(self, r, name, old_pid=None, timeout=5):
        """The pid of `name` once one other than old_pid runs."""
        def new_pid():
            pid = r.children().get(name)
            return pid if pid and pid != old_pid else None
        pid = wait_until(new_pid, timeout)
        self.assertTrue(pid, "no %s (other than pid %s) within %ss; log:\n%s"
                        % (name, old_pid, timeout, r.log()))
        return pid

    def wait_for_log(self, r, pattern, timeout=5):
        found = wait_until(lambda: re.search(pattern, r.log()), timeout)
        self.assertTrue(found, "log has no /%s/ after %ss:\n%s" % (pattern, timeout, r.log()))
        return found

    def echo_works(self, r, timeout=0.5):
        try:
            status, body = r.http_json("POST", "/v1/example/echo", {"value": "x"},
                                       timeout=timeout)
        except (OSError, ValueError):
            return False
        return status == 200 and body == {"value": "x"}

    # ---- restarts ----------------------------------------------------------
    def check_restart_after_kill(self, name):
        r = self.rpcrest()
        old = r.children()[name]
        other = GATEWAY if name == HOST else HOST
        other_pid = r.children()[other]
        os.kill(old, signal.SIGKILL)
        killed_at = time.monotonic()
        deadline = killed_at + 2.0

        def recovered():
            pid = r.children().get(name)
            left = deadline - time.monotonic()
            return pid and pid != old and left > 0 and self.echo_works(r, min(left, 0.5))
        self.assertTrue(wait_until(recovered, 2.0),
                        "echo did not work with a new %s within 2 s of the kill; log:\n%s"
                        % (name, r.log()))
        self.assertEqual(r.children().get(other), other_pid, "%s was restarted too" % other)
        self.assertRegex(r.log(), r"%s pid %d killed by signal SIGKILL .*; restarting in 100 ms"
                         % (name, old))
        self.assertRegex(r.log(), r"started %s pid %d" % (name, r.children()[name]))

    def test_killed_host_is_restarted(self):
        self.check_restart_after_kill(HOST)

    def test_killed_gateway_is_restarted(self):
        self.check_restart_after_kill(GATEWAY)

    def test_restart_delay_doubles_and_resets_after_10s_up(self):
        r = self.rpcrest()
        pid = r.children()[HOST]
        for _ in range(4):
            os.kill(pid, signal.SIGKILL)
            pid = self.wait_for_child(r, HOST, pid)
        self.assertEqual(restart_delays(r.log(), HOST), [100, 200, 400, 800], r.log())
        self.assertEqual(restart_delays(r.log(), GATEWAY), [], r.log())

        # up for 10 s: the next crash starts over at 100 ms
        time.sleep(10.5)
        self.assertEqual(r.children().get(HOST), pid, r.log())
        os.kill(pid, signal.SIGKILL)
        self.wait_for_child(r, HOST, pid)
        self.assertEqual(restart_delays(r.log(), HOST), [100, 200, 400, 800, 100], r.log())

    def test_child_exiting_0_is_restarted_too(self):
        r = self.stand_ins("exit 0\n", IDLE).start()
        self.wait_for_log(r, r"restarting in 400 ms")
        self.assertEqual(restart_delays(r.log(), HOST)[:3], [100, 200, 400], r.log())
        self.assertRegex(r.log(), r"%s pid \d+ exited with status 0 after \d+ ms; "
                         r"restarting in 100 ms" % HOST)
        self.assertEqual(restart_delays(r.log(), GATEWAY), [], r.log())

    def test_child_that_cannot_exec_is_retried_with_backoff(self):
        r = self.stand_ins(IDLE, "#!/nonexistent/interpreter\n").start()
        self.wait_for_log(r, r"restarting in 200 ms")
        log = r.log()
        self.assertRegex(log, r"cannot start %s: exec: No such file or directory"
                         % re.escape(os.path.join(r.bin, GATEWAY)))
        self.assertRegex(log, r"%s pid \d+ exited with status 127 after \d+ ms; "
                         r"restarting in 100 ms" % GATEWAY)
        self.assertEqual(starts(log, HOST), 1, log)

    def test_child_config_error_is_not_restarted_in_a_fast_loop(self):
        # a plugin file that exists but is no plugin: the host exits 78
        not_a_plugin = "[service.broken]\nplugin = not-a-plugin.so\n"
        r = Rpcrest(ini_extra=not_a_plugin)
        self.addCleanup(r.cleanup)
        open(os.path.join(r.dir, "not-a-plugin.so"), "w").close()
        started = time.monotonic()
        r.start(wait=False)
        self.wait_for_log(r, r"%s pid \d+ exited with status %d" % (HOST, EX_CONFIG))
        time.sleep(max(0.0, 3.0 - (time.monotonic() - started)))
        log = r.log()
        self.assertIsNone(r.proc.poll(), "rpcrestd ended; log:\n" + log)
        self.assertLessEqual(starts(log, HOST), 2, log)
        self.assertRegex(log, r"%s pid \d+ exited with status 78 after \d+ ms; "
                         r"restarting in 5000 ms" % HOST)
        self.assertEqual(starts(log, GATEWAY), 1, log)

    # ---- stopping ----------------------------------------------------------
    def test_sigterm_stops_everything(self):
        r = self.rpcrest()
        kids = r.children()
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
        gateway = self.wait_for_child(r, GATEWAY)
        self.wait_for_child(r, HOST)
        time.sleep(0.2)  # let the script set its trap
        r.proc.send_signal(signal.SIGTERM)
        self.assertEqual(r.proc.wait(5), 0, r.log())
        self.assertEqual(group_members(gateway), [], r.log())
        self.assertRegex(r.log(), r"%s pid %d did not stop within 0.5 s; sending SIGKILL"
                         % (GATEWAY, gateway))
        self.assertRegex(r.log(), r"%s pid %d killed by signal SIGKILL" % (GATEWAY, gateway))

    def test_killed_supervisor_takes_its_children_along(self):
        r = self.rpcrest()
        kids = list(r.children().values())
        self.assertEqual(len(kids), 2)
        r.proc.kill()
        r.proc.wait()
        gone = wait_until(lambda: not any(pid_alive(pid) for pid in kids), 1.0)
        self.assertTrue(gone, "children still running 1 s after rpcrestd was killed: %s"
                        % [pid for pid in kids if pid_alive(pid)])

    def test_sighup_is_logged_and_survived(self):
        r = self.rpcrest()
        kids = r.children()
        r.proc.send_signal(signal.SIGHUP)
        self.wait_for_log(r, r"received SIGHUP; reload is not supported")
        time.sleep(0.3)
        self.assertIsNone(r.proc.poll(), r.log())
        self.assertEqual(r.children(), kids)
        self.assertTrue(self.echo_works(r, 5))

    def test_signals_ignored_by_whoever_started_it_still_work(self):
        """Started with SIGCHLD, SIGHUP and SIGINT ignored (as by a shell's
        `&` or nohup), rpcrestd still reaps and restarts, logs SIGHUP and
        stops on SIGINT."""
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
        self.wait_for_log(r, r"received SIGHUP")
        r.proc.send_signal(signal.SIGINT)
        self.assertEqual(r.proc.wait(5), 0, r.log())
        self.assertIn("received SIGINT; stopping", r.log())

    # ---- what a child gets -------------------------------------------------
    def test_child_starts_clean(self):
        """Own process group, rpcrestd as parent, `-c <absolute INI>`, no
        ignored or blocked signals, SIGKILL when rpcrestd dies, and no fds
        from rpcrestd's own parent.  The shell clears its signal mask at
        startup, so the mask and the parent-death signal are read by a
        Python stand-in."""
        r = self.stand_ins(SHELL_REPORT, PYTHON_REPORT)
        marker = os.path.join(r.dir, "inherited-marker")
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT, 0o600)
        self.addCleanup(os.close, fd)
        r.start(pass_fds=(fd,))
        reports = {}
        for name in (HOST, GATEWAY):
            path = os.path.join(r.dir, "report-" + name)
            self.assertTrue(wait_until(lambda: os.path.exists(path), 5), r.log())
            with open(path) as f:
                reports[name] = f.read()
        host = r.children()[HOST]

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
        # rpcrestd itself still holds the fd it was given
        self.assertIn(marker, os.readlink("/proc/%d/fd/%d" % (r.proc.pid, fd)))

        report = reports[GATEWAY]
        self.assertIn("pdeathsig %d\n" % signal.SIGKILL, report)
        self.assertRegex(report, r"SigBlk:\s+0+\n")

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

    def test_log_lines_have_a_utc_timestamp(self):
        r = self.stand_ins(IDLE, IDLE).start()
        self.wait_for_child(r, GATEWAY)
        self.wait_for_log(r, r"started %s" % GATEWAY)
        stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z rpcrestd: "
        self.assertRegex(r.log(), r"^%sstarting with %s\n%sstarted %s pid \d+\n"
                         % (stamp, re.escape(os.path.realpath(r.ini)), stamp, HOST))


if __name__ == "__main__":
    unittest.main()
