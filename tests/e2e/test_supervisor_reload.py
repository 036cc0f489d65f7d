"""rpcrestd reloads (SIGHUP, rpcrestctl reload) and tells systemd it is
ready: a broken INI changes nothing; only the children whose configuration
changed are replaced; a replacement is a hand-over, so a reload that adds a
service under a steady wrk load fails no request; READY=1 reaches a
NOTIFY_SOCKET once both children are ready.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import BUILD, Rpcrest, free_port, pid_alive, port_open, wait_until
from test_supervisor import (GATEWAY, HELD, HOST, IDLE, STAMP, SupervisorCase, children,
                             group_members, starts)

WRK_SECONDS = 4
# wrk's own counts, on one line at the end (non-2xx, and socket errors).
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"value":"under load"}'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\\n",
    summary.requests, e.status, e.connect, e.read, e.write, e.timeout))
end
"""


def rewrite(r, old, new):
    """Replaces old by new in r's INI (once, which must be there)."""
    with open(r.ini) as f:
        text = f.read()
    assert text.count(old) == 1, (old, text)
    with open(r.ini + ".tmp", "w") as f:
        f.write(text.replace(old, new))
    os.rename(r.ini + ".tmp", r.ini)


def append(r, text):
    with open(r.ini, "a") as f:
        f.write(text)


class ReloadTest(SupervisorCase):
    def wait_handed_over(self, r, name, old_pid, timeout=10):
        """The new pid of `name`, once the old one is gone."""
        pid = self.wait_for_child(r, name, old_pid, timeout)
        self.assertTrue(wait_until(lambda: not pid_alive(old_pid), timeout),
                        "%s pid %d still runs; log:\n%s" % (name, old_pid, r.log()))
        return pid

    # ---- a broken INI -----------------------------------------------------------
    def test_sighup_with_a_broken_ini_changes_nothing(self):
        r = self.rpcrest()
        kids = children(r)
        with open(r.ini) as f:
            good = f.read()
        lines = good.split("\n")
        at = lines.index("[gateway]") + 1
        lines.insert(at, "listen = not-an-address")
        with open(r.ini, "w") as f:
            f.write("\n".join(lines))
        r.proc.send_signal(signal.SIGHUP)
        self.wait_for_log(r, r"reload refused: %s:%d: listen: 'not-an-address' is not "
                          % (re.escape(os.path.realpath(r.ini)), at + 1))
        self.assertRegex(r.log(), r"carrying on with the running configuration")
        time.sleep(0.5)
        self.assertIsNone(r.proc.poll(), r.log())
        self.assertEqual(children(r), kids, r.log())
        self.assertTrue(self.echo_works(r, 5))
        # the same through rpcrestctl: its exit status and message say so
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 1, ctl)
        self.assertIn("reload refused: %s:%d: listen: 'not-an-address'"
                      % (os.path.realpath(r.ini), at + 1), ctl.stderr)
        self.assertEqual(children(r), kids)
        # mended: a reload that affects nobody
        with open(r.ini, "w") as f:
            f.write(good)
        ctl = self.ctl(r, "reload")
        self.assertEqual((ctl.returncode, ctl.stdout), (0, "reloaded; no child is affected\n"))
        time.sleep(0.3)
        self.assertEqual(children(r), kids, r.log())

    def test_children_started_after_a_refused_reload_run_the_configuration_in_force(self):
        """rpcrestd hands each child the text of the running configuration,
        not the file: a crash after a refused reload restarts both children
        on what runs, though the file on disk would stop them (exit 78)."""
        r = self.rpcrest()
        kids = children(r)
        rewrite(r, "[host]\n", "[host]\nthreads = many\n")
        rewrite(r, "[gateway]\n", "[gateway]\ntimeout = never\n")
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 1, ctl)
        self.assertIn("reload refused", ctl.stderr)
        for name in (HOST, GATEWAY):
            os.kill(kids[name], signal.SIGKILL)
            pid = self.wait_for_child(r, name, kids[name], 10)
            self.assertTrue(wait_until(lambda: self.echo_works(r, 1), 10), r.log())
            self.assertEqual(children(r)[name], pid, r.log())
        self.assertNotRegex(r.log(), r"rpcrest-(host|gateway)\[\d+\]: .*'(many|never)'")
        ctl = self.ctl(r, "restart", "host")  # a hand-over on the same text
        self.assertEqual(ctl.returncode, 0, (ctl, r.log()))
        self.assertTrue(wait_until(lambda: self.echo_works(r, 1), 10), r.log())

    def test_host_restarted_after_a_failed_reload_runs_the_configuration_in_force(self):
        r = self.rpcrest()
        kids = children(r)
        append(r, "\n[service.refuses]\nplugin = %s/tests/plugins/bad_init.so\n"
               "reason = not today\n" % BUILD)
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 1, ctl)
        self.assertIn("reload failed", ctl.stderr)
        refusals = r.log().count("refusing to start: not today")
        os.kill(kids[HOST], signal.SIGKILL)
        self.wait_for_child(r, HOST, kids[HOST], 10)
        self.assertTrue(wait_until(lambda: self.echo_works(r, 1), 10), r.log())
        self.assertEqual(r.log().count("refusing to start: not today"), refusals, r.log())

    def someone_listening(self, reuseport=False):
        """A port another process listens on (this test's socket, closed at
        cleanup), with SO_REUSEPORT if asked; returns the port."""
        s = socket.socket()
        self.addCleanup(s.close)
        if reuseport:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        return s.getsockname()[1]

    def test_reload_that_cannot_bind_the_new_gateway_port_changes_nothing(self):
        r = self.rpcrest()
        kids = children(r)
        port = self.someone_listening()
        rewrite(r, "listen = 127.0.0.1:%d" % r.http_port, "listen = 127.0.0.1:%d" % port)
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 1, ctl)
        self.assertRegex(ctl.stderr, r"reload refused: %s:\d+: \[gateway\] listen: bind "
                         r"127.0.0.1:%d: Address already in use"
                         % (re.escape(os.path.realpath(r.ini)), port))
        time.sleep(0.3)
        self.assertEqual(children(r), kids)
        self.assertTrue(self.echo_works(r, 5))

    def test_reload_with_a_log_file_it_cannot_open_is_refused(self):
        r = self.rpcrest()
        kids = children(r)
        rewrite(r, "[supervisor]\n", "[supervisor]\nlog_file = /nonexistent/x.log\n")
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 1, ctl)
        self.assertIn("reload refused: %s:2: [supervisor] log_file: cannot open "
                      "/nonexistent/x.log: No such file or directory" % os.path.realpath(r.ini),
                      ctl.stderr)
        # still logging where it did, and the running configuration is kept
        self.wait_for_log(r, r"event=reload result=refused error=\"[^\"]*log_file: cannot open")
        self.assertNotIn("event=reload result=ok", r.log())
        self.assertEqual(children(r), kids)
        self.assertTrue(self.echo_works(r, 5))

    def test_reload_with_a_log_file_that_is_a_fifo_nobody_reads_is_refused(self):
        """Opening a FIFO for writing waits for a reader: rpcrestd must not
        wait in it (it would stop answering, reaping and restarting)."""
        r = self.rpcrest()
        kids = children(r)
        fifo = os.path.join(r.dir, "log.fifo")
        os.mkfifo(fifo)
        rewrite(r, "[supervisor]\n", "[supervisor]\nlog_file = %s\n" % fifo)
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 1, ctl)
        self.assertIn("reload refused: %s:2: [supervisor] log_file: cannot open %s: it is a "
                      "FIFO that no process reads" % (os.path.realpath(r.ini), fifo), ctl.stderr)
        self.assertEqual(self.ctl(r, "status").returncode, 0)
        self.assertEqual(children(r), kids)
        self.assertTrue(self.echo_works(r, 5))

    def test_reload_of_the_same_ini_with_a_control_socket_path_not_canonical(self):
        """control_socket = ./ctl.sock (or a path through a symlink): the
        socket rpcrestd made at start is the one the reload names, not
        "another rpcrestd"."""
        r = self.rpcrest(supervisor={"control_socket": "./ctl.sock"})
        kids = children(r)
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 0, ctl)
        self.assertIn("reloaded; no child is affected", ctl.stdout)
        os.kill(r.proc.pid, signal.SIGHUP)
        self.wait_for_log(r, r"event=reload result=ok(.|\n)*event=reload result=ok")
        self.assertNotIn("result=refused", r.log())
        self.assertEqual(children(r), kids)

    def test_a_new_stop_timeout_replaces_the_children_it_applies_to(self):
        """Each child plans its stop by its stop_timeout (the gateway's
        grace, the host's drain): a new value replaces it, as supervisord's
        stopwaitsecs does; [gateway] stop_timeout, the gateway alone."""
        r = self.rpcrest(supervisor={"stop_timeout": "10"})
        kids = children(r)
        rewrite(r, "[gateway]\n", "[gateway]\nstop_timeout = 4\n")
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 0, ctl)
        self.assertIn("%s: [gateway] stop_timeout changed" % GATEWAY, ctl.stdout)
        self.assertNotIn(HOST, ctl.stdout)
        self.wait_for_child(r, GATEWAY, kids[GATEWAY])
        self.assertEqual(children(r)[HOST], kids[HOST])
        self.assertTrue(wait_until(lambda: self.echo_works(r), 5), r.log())
        rewrite(r, "stop_timeout = 10\n", "stop_timeout = 8\n")  # [supervisor]: the host's
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 0, ctl)
        self.assertIn("%s: [host] stop_timeout changed" % HOST, ctl.stdout)
        # the gateway only follows the new host
        self.assertIn("%s: the host it calls was handed over; handed over" % GATEWAY,
                      ctl.stdout)
        self.assertNotIn("[gateway]", ctl.stdout)
        self.wait_for_child(r, HOST, kids[HOST])
        # the same value moved to the host's own section: no change
        rewrite(r, "stop_timeout = 8\n", "")
        rewrite(r, "[host]\n", "[host]\nstop_timeout = 8\n")
        ctl = self.ctl(r, "reload")
        self.assertEqual((ctl.returncode, ctl.stdout), (0, "reloaded; no child is affected\n"))
        self.wait_for_child(r, HOST, kids[HOST])
        self.assertTrue(wait_until(lambda: self.echo_works(r), 5), r.log())

    def test_a_replaced_process_stops_with_its_own_stop_timeout(self):
        """A reload lowers the host's stop_timeout: the old host, which
        planned its stop by the old one (here a 1.5 s drain), gets that
        long, not the new value, before SIGKILL."""
        draining = "trap 'sleep 1.5; exit 0' TERM\n" + IDLE
        r = self.stand_ins(draining, IDLE, supervisor={"stop_timeout": "10"}).start()
        host = self.wait_for_ready(r, HOST)
        self.wait_for_ready(r, GATEWAY)
        rewrite(r, "stop_timeout = 10\n", "stop_timeout = 0.5\n")
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 0, ctl)
        self.assertIn("%s: [host] stop_timeout changed" % HOST, ctl.stdout)
        self.wait_for_log(r, r"%s pid %d exited with status 0" % (HOST, host), timeout=8)
        self.assertNotIn("did not stop within", r.log())

    def test_rebuilt_gateway_descriptors_file_replaces_the_gateway(self):
        folder = tempfile.mkdtemp(prefix="rpcrest-test-")
        self.addCleanup(shutil.rmtree, folder, True)
        pb = os.path.join(folder, "api.pb")
        shutil.copy(os.path.join(BUILD, "services", "echo.pb"), pb)
        r = self.rpcrest(descriptors=False, gateway={"descriptors": pb})
        kids = children(r)
        shutil.copy(os.path.join(BUILD, "services", "echo.pb"), pb + ".new")
        os.utime(pb + ".new", ns=(0, 10**9))  # a different mtime whatever the clock does
        os.rename(pb + ".new", pb)
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 0, ctl)
        self.assertRegex(ctl.stdout, r"rpcrest-gateway: .*descriptors file.*; handed over")
        self.assertNotIn("rpcrest-host", ctl.stdout)
        self.wait_handed_over(r, "rpcrest-gateway", kids["rpcrest-gateway"])
        self.assertEqual(children(r)["rpcrest-host"], kids["rpcrest-host"])
        self.assertTrue(self.echo_works(r, 5))

    def test_rebuilt_plugin_replaces_the_host(self):
        """A plugin rebuilt in place (same path, new file) since rpcrestd
        loaded the configuration: the host is handed over (and the gateway
        follows it, as for any new host)."""
        folder = tempfile.mkdtemp(prefix="rpcrest-test-")
        self.addCleanup(shutil.rmtree, folder, True)
        so = os.path.join(folder, "echo.so")
        shutil.copy(os.path.join(BUILD, "services", "echo.so"), so)
        r = Rpcrest()
        self.addCleanup(r.cleanup)
        rewrite(r, "plugin = %s/services/echo.so" % BUILD, "plugin = %s" % so)
        r.start()
        kids = children(r)
        shutil.copy(so, so + ".new")
        os.rename(so + ".new", so)
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 0, ctl)
        self.assertEqual(ctl.stdout, "rpcrest-host: [service.echo] plugin file changed; handed "
                         "over\nrpcrest-gateway: the host it calls was handed over; handed "
                         "over\n")
        # answered once the gateway too has moved to the new host: REST
        # requests right after the reload reach the new code (they went to
        # the old host in about half of the tries)
        status = self.ctl(r, "status")
        self.assertNotIn("getting ready", status.stdout)
        self.assertNotEqual(children(r)["rpcrest-gateway"], kids["rpcrest-gateway"], status.stdout)
        self.wait_handed_over(r, "rpcrest-host", kids["rpcrest-host"])
        self.wait_handed_over(r, "rpcrest-gateway", kids["rpcrest-gateway"])
        self.assertTrue(self.echo_works(r, 5))

    def test_sighup_and_sigusr1_while_rpcrestd_starts_do_not_end_it(self):
        """Sent as soon as rpcrestd runs its own code (it blocks them first
        thing), before it has read the INI or started a child: acted on once
        its loop runs."""
        r = Rpcrest()
        self.addCleanup(r.cleanup)
        r.start(wait=False)

        def hup_blocked():
            with open("/proc/%d/status" % r.proc.pid) as f:
                mask = [l for l in f if l.startswith("SigBlk:")][0].split()[1]
            return int(mask, 16) & (1 << (signal.SIGHUP - 1))
        self.assertTrue(wait_until(hup_blocked, 5))
        r.proc.send_signal(signal.SIGHUP)
        r.proc.send_signal(signal.SIGUSR1)
        self.assertTrue(wait_until(lambda: self.echo_works(r), 10), r.log())
        self.assertIsNone(r.proc.poll(), r.log())
        self.wait_for_log(r, r"received SIGHUP; reloading")
        self.wait_for_log(r, r"received SIGUSR1")

    def test_reload_that_would_restart_a_child_in_a_tight_loop_is_refused(self):
        """[gateway] backoff_max = 0 with start_retries = 0: a reload is
        refused like a start, and the running policy still backs off."""
        r = self.rpcrest()
        kids = children(r)
        with open(r.ini) as f:
            good = f.read()
        rewrite(r, "[gateway]\n",
                "[gateway]\nbackoff_initial = 0\nbackoff_max = 0\nstart_retries = 0\n")
        with open(r.ini) as f:
            line = f.read().split("\n").index("start_retries = 0") + 1
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 1, ctl)
        self.assertIn("reload refused: %s:%d: [gateway] backoff_max = 0 with start_retries = 0 "
                      "(never give up) would restart the gateway at once, for ever, while it "
                      "keeps failing: set one of them above 0" % (os.path.realpath(r.ini), line),
                      ctl.stderr)
        self.wait_for_log(r, r"event=reload result=refused error=\"[^\"]*backoff_max = 0")
        self.assertNotIn("event=reload result=ok", r.log())
        self.assertEqual(children(r), kids)
        self.assertTrue(self.echo_works(r, 5))
        # the running policy (backoff_initial 0.1 s, jitter 0.1) still applies; the
        # file is put back first, as a new gateway reads the one on disk
        with open(r.ini, "w") as f:
            f.write(good)
        os.kill(kids[GATEWAY], signal.SIGKILL)
        found = self.wait_for_log(r, r"%s pid %d killed by signal SIGKILL .*; restarting in "
                                  r"(\d+) ms" % (GATEWAY, kids[GATEWAY]))
        self.assertTrue(90 <= int(found.group(1)) <= 110, found.group(0))
        self.wait_for_child(r, GATEWAY, kids[GATEWAY])

    def test_reload_lowering_backoff_max_brings_a_waiting_restart_forward(self):
        """A gateway waiting out a 30 s backoff when a reload lowers
        backoff_max to 0.2 s starts within the new maximum, not 30 s later;
        a reload that raises it leaves the waiting restart where it was."""
        sup = {"backoff_initial": "30", "backoff_max": "60", "backoff_jitter": "0"}
        r = self.stand_ins(IDLE, "exit 1\n", supervisor=sup).start()
        self.wait_for_log(r, r"%s pid \d+ exited with status 1 .*; restarting in 30000 ms"
                          % GATEWAY)
        rewrite(r, "backoff_max = 60\n", "backoff_max = 90\n")
        self.assertEqual(self.ctl(r, "reload").returncode, 0)
        time.sleep(0.5)
        self.assertEqual(starts(r.log(), GATEWAY), 1, r.log())
        rewrite(r, "backoff_initial = 30\n", "backoff_initial = 0.1\n")
        rewrite(r, "backoff_max = 90\n", "backoff_max = 0.2\n")
        reloaded = time.monotonic()
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 0, ctl)
        self.assertTrue(wait_until(lambda: starts(r.log(), GATEWAY) >= 2, 3), r.log())
        self.assertLess(time.monotonic() - reloaded, 3)
        self.wait_for_log(r, r"%s: the restart waiting \d+ ms more now waits backoff_max "
                          r"\(200 ms\)" % GATEWAY)

    def test_reload_moving_the_host_to_a_port_another_process_listens_on_is_refused(self):
        """The other listener has SO_REUSEPORT, as another rpcrestd's host
        would: the new host could bind beside it, so rpcrestd checks first."""
        r = self.rpcrest()
        kids = children(r)
        port = self.someone_listening(reuseport=True)
        rewrite(r, "listen = 127.0.0.1:%d" % r.host_port, "listen = localhost:%d" % port)
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 1, ctl)
        self.assertRegex(ctl.stderr, r"reload refused: %s:\d+: \[host\] listen: 127.0.0.1:%d is "
                         r"in use by another process" % (re.escape(os.path.realpath(r.ini)), port))
        time.sleep(0.3)
        self.assertEqual(children(r), kids, r.log())
        self.assertTrue(self.echo_works(r, 5))
        # the same address spelled otherwise is the running host's own: a hand-over
        rewrite(r, "listen = localhost:%d" % port, "listen = localhost:%d" % r.host_port)
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 0, ctl)
        self.wait_handed_over(r, HOST, kids[HOST])
        self.assertTrue(wait_until(lambda: self.echo_works(r), 10), r.log())

    def test_reload_whose_new_host_fails_is_reported_and_undone(self):
        """The new host refuses its configuration (a plugin whose init()
        fails: exit 78) before it is ready: the reload has failed, the old
        host keeps serving, and the gateway is not handed over either."""
        r = self.rpcrest()
        kids = children(r)
        with open(r.ini) as f:
            good = f.read()
        append(r, "\n[service.refuses]\nplugin = %s/tests/plugins/bad_init.so\n"
               "reason = not today\n" % BUILD)
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 1, ctl)
        # with what the new host said last: why it refused
        self.assertRegex(ctl.stderr, r"^reload failed: %s: hand-over to pid \d+ failed: exited "
                         r"with status 78; it said: %s: \S+\.ini:\d+: \[service.refuses\] plugin "
                         r"\S+bad_init.so: init failed: refusing to start: not today; %s pid %d keeps serving "
                         r"the running configuration, and %s is not handed over\n$"
                         % (HOST, HOST, HOST, kids[HOST], GATEWAY))
        log = r.log()
        self.assertRegex(log, r"%s\[\d+\]: .*refusing to start: not today" % HOST)
        self.assertRegex(log, r"rpcrestd: event=reload result=failed error=\"%s: hand-over to "
                         r"pid \d+ failed: exited with status 78; " % HOST)
        self.assertNotIn("event=reload result=ok", log)
        self.assertEqual(starts(log, GATEWAY), 1, log)
        time.sleep(0.3)
        self.assertEqual(children(r), kids, r.log())
        self.assertTrue(self.echo_works(r, 5))
        metrics = self.ctl(r, "metrics").stdout
        self.assertIn('rpcrest_supervisor_reloads_total{result="failed"} 1', metrics)
        # the running configuration is still the old one: the mended file changes nothing
        with open(r.ini, "w") as f:
            f.write(good)
        ctl = self.ctl(r, "reload")
        self.assertEqual((ctl.returncode, ctl.stdout), (0, "reloaded; no child is affected\n"))
        self.assertEqual(children(r), kids, r.log())

    def test_reload_whose_new_gateway_refuses_it_is_reported_and_undone(self):
        """Only [gateway] changed, and the new gateway exits 78 on it: the
        reload fails (exit 1, the reason), the old gateway serves on, and a
        gateway started later (after a crash) runs the configuration in
        force, not the refused one."""
        r = self.rpcrest()
        kids = children(r)
        rewrite(r, "timeout = 2", "timeout = 2\nservices = nope.Svc")
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 1, ctl)
        self.assertRegex(ctl.stderr, r"reload failed: %s: hand-over to pid \d+ failed: exited "
                         r"with status 78; it said: .*%s:\d+: .*nope\.Svc.*; %s pid %d keeps "
                         r"serving the running configuration\n$"
                         % (GATEWAY, re.escape(os.path.realpath(r.ini)), GATEWAY, kids[GATEWAY]))
        self.assertIn("event=reload result=failed", r.log())
        self.assertEqual(children(r), kids)
        self.assertTrue(self.echo_works(r, 5))
        os.kill(kids[GATEWAY], signal.SIGKILL)
        self.wait_for_child(r, GATEWAY, kids[GATEWAY])
        self.assertTrue(wait_until(lambda: self.echo_works(r), 10), r.log())

    def test_reload_moving_the_gateway_to_a_new_port_whose_gateway_fails_keeps_the_old(self):
        """The new port is rpcrestd's until the reload ends: a failed one
        closes it and the old port still serves."""
        r = self.rpcrest()
        kids = children(r)
        new_port = free_port()
        rewrite(r, "listen = 127.0.0.1:%d" % r.http_port,
                "listen = 127.0.0.1:%d\nservices = nope.Svc" % new_port)
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 1, ctl)
        self.assertIn("keeps serving the running configuration", ctl.stderr)
        self.assertFalse(port_open(new_port))
        self.assertTrue(self.echo_works(r, 5))
        # the same move without the refused key works, on the new port
        rewrite(r, "\nservices = nope.Svc", "")
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 0, ctl)
        self.assertIn("%s: [gateway] listen changed; handed over" % GATEWAY, ctl.stdout)
        self.assertTrue(self.echo_works(r, 5, port=new_port))
        self.wait_handed_over(r, GATEWAY, kids[GATEWAY])
        self.assertFalse(port_open(r.http_port))

    def test_reload_changing_both_parts_answers_once_the_new_gateway_is_ready(self):
        """Both parts changed: the reload waits for the new host, then for
        the new gateway, and says both were handed over."""
        r = self.rpcrest()
        kids = children(r)
        rewrite(r, "threads = 2", "threads = 1")
        rewrite(r, "timeout = 2", "timeout = 3")
        ctl = self.ctl(r, "reload")
        self.assertEqual((ctl.returncode, ctl.stderr), (0, ""), ctl)
        self.assertRegex(ctl.stdout, r"^%s: \[host\] threads changed; handed over\n"
                         r"%s: \[gateway\] timeout changed; handed over\n$" % (HOST, GATEWAY))
        log = r.log()
        gateway = int(re.search(r"%s pid (\d+) took over from pid %d" % (GATEWAY, kids[GATEWAY]),
                                log).group(1))
        self.assertLess(log.index("%s pid %d is ready" % (GATEWAY, gateway)),
                        log.index("event=reload result=ok changed=%s,%s" % (HOST, GATEWAY)), log)
        self.assertTrue(self.echo_works(r, 5))

    def test_a_request_sent_alone_after_each_reload_is_answered_at_once(self):
        """Thirty reloads changing both parts, each followed by one request on
        a new connection, the only one: each is accepted and answered at
        once.  (The gateways used to watch their shared socket with
        EPOLLEXCLUSIVE, and the one wake-up could go to the old gateway as it
        stopped watching: about 1 request in 12 then waited, accepted by
        nobody, until the client gave up; this caught it in about half of
        the runs on a quiet machine.)"""
        r = self.rpcrest()
        slow = []
        for i in range(30):
            if i % 2 == 0:
                rewrite(r, "threads = 2", "threads = 1")
                rewrite(r, "\ntimeout = 2", "\ntimeout = 3")
            else:
                rewrite(r, "threads = 1", "threads = 2")
                rewrite(r, "\ntimeout = 3", "\ntimeout = 2")
            ctl = self.ctl(r, "reload")
            self.assertEqual(ctl.returncode, 0, ctl)
            start = time.monotonic()
            works = self.echo_works(r, 3)
            took = time.monotonic() - start
            if not works or took > 1:
                slow.append((i, works, round(took, 3)))
        self.assertEqual(slow, [], r.log())

    def test_reload_changing_both_parts_whose_new_gateway_refuses_is_undone(self):
        """Both parts changed and the new host took over, but the new
        gateway refuses its part (exit 78): the reload has failed, the old
        host (parked until then) serves again and the new one stops, so
        nothing has changed: the old gateway serves on, a gateway started
        after a crash runs the running configuration and reaches the old
        host through the private socket, gRPC clients reach it too."""
        r = self.rpcrest()
        kids = children(r)
        rewrite(r, "threads = 2", "threads = 1")
        rewrite(r, "timeout = 2", "timeout = 2\nservices = nope.Svc")
        ctl = self.ctl(r, "reload")
        self.assertEqual((ctl.returncode, ctl.stdout), (1, ""), ctl)
        self.assertRegex(ctl.stderr, r"^reload failed: %s: hand-over to pid \d+ failed: exited "
                         r"with status 78; it said: .*nope\.Svc.*; %s pid %d keeps serving the "
                         r"running configuration; %s pid %d serves again \(pid (\d+), which had "
                         r"taken over from it, stops\)\n$"
                         % (GATEWAY, GATEWAY, kids[GATEWAY], HOST, kids[HOST]))
        new_host = int(re.search(r"\(pid (\d+), which", ctl.stderr).group(1))
        self.assertTrue(wait_until(lambda: not pid_alive(new_host), 10), r.log())
        self.assertEqual(children(r), kids, r.log())
        log = r.log()
        self.assertIn("event=reload result=failed", log)
        self.assertNotIn("event=reload result=ok", log)
        self.assertTrue(self.echo_works(r, 5))
        self.assertTrue(wait_until(lambda: self.grpc_echo_works(r), 5), r.log())
        metrics = self.ctl(r, "metrics").stdout
        self.assertIn('rpcrest_supervisor_reloads_total{result="failed"} 1', metrics)
        # a crash: the gateway comes back on the running configuration and
        # finds the old host's private socket (the new host's end removed
        # the path; the old host published it again)
        os.kill(kids[GATEWAY], signal.SIGKILL)
        gateway = self.wait_for_child(r, GATEWAY, kids[GATEWAY])
        self.assertTrue(wait_until(lambda: self.echo_works(r), 10), r.log())
        # (a gateway serves before it logs that it listens)
        self.wait_for_log(r, r"%s\[%d\]: listening on http://\S+ with \d+ threads?, "
                          r"upstream unix:" % (GATEWAY, gateway))
        self.assertNotIn("FATAL", r.log())
        # the mended file: the host's part is what changes
        rewrite(r, "\nservices = nope.Svc", "")
        ctl = self.ctl(r, "reload")
        self.assertEqual((ctl.returncode, ctl.stdout),
                         (0, "%s: [host] threads changed; handed over\n%s: the host it calls "
                          "was handed over; handed over\n" % (HOST, GATEWAY)), r.log())
        self.wait_handed_over(r, HOST, kids[HOST])
        self.assertTrue(wait_until(lambda: self.echo_works(r), 10), r.log())

    def test_reload_moving_the_host_whose_new_gateway_refuses_is_undone(self):
        """[host] listen moves (both parts change: the gateway finds the
        host by it) and the new gateway refuses: the old host, on the old
        port, serves again, and the new port is closed."""
        r = self.rpcrest()
        kids = children(r)
        new_port = free_port()
        rewrite(r, "listen = 127.0.0.1:%d" % r.host_port, "listen = 127.0.0.1:%d" % new_port)
        rewrite(r, "timeout = 2", "timeout = 2\nservices = nope.Svc")
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 1, ctl)
        self.assertIn("%s pid %d serves again" % (HOST, kids[HOST]), ctl.stderr)
        new_host = int(re.search(r"\(pid (\d+), which", ctl.stderr).group(1))
        self.assertTrue(wait_until(lambda: not pid_alive(new_host), 10), r.log())
        self.assertFalse(port_open(new_port))
        self.assertEqual(children(r), kids, r.log())
        self.assertTrue(self.echo_works(r, 5))
        self.assertTrue(wait_until(lambda: self.grpc_echo_works(r), 5), r.log())
        os.kill(kids[GATEWAY], signal.SIGKILL)
        self.wait_for_child(r, GATEWAY, kids[GATEWAY])
        self.assertTrue(wait_until(lambda: self.echo_works(r), 10), r.log())

    def held_gateway_rpcrest(self):
        """The real programs, but a new gateway started while the file
        `hold` exists next to them waits for the file `go` before it runs:
        a reload's second stage held open."""
        bindir = tempfile.mkdtemp(prefix="rpcrest-held-")
        self.addCleanup(shutil.rmtree, bindir, True)
        shutil.copy(os.path.join(BUILD, "rpcrestd"), bindir)
        os.symlink(os.path.join(BUILD, "rpcrest-host"), os.path.join(bindir, "rpcrest-host"))
        wrapper = os.path.join(bindir, "rpcrest-gateway")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nd="$(dirname "$0")"\n'
                    'if mv "$d/hold" "$d/held.$$" 2>/dev/null; then\n'
                    '    while [ ! -e "$d/go" ]; do sleep 0.02; done\nfi\n'
                    'exec %s "$@"\n' % os.path.join(BUILD, "rpcrest-gateway"))
        os.chmod(wrapper, 0o755)
        r = Rpcrest(programs=bindir)
        self.addCleanup(r.cleanup)
        r.start()
        r.bindir = bindir
        return r

    def reload_with_held_gateway(self, r):
        """Changes both parts (the new gateway refuses its part) and starts
        `rpcrestctl reload` with the new gateway held; returns the waiting
        rpcrestctl, the new host's pid and the held gateway's."""
        kids = children(r)
        open(os.path.join(r.bindir, "hold"), "w").close()
        self.addCleanup(lambda: open(os.path.join(r.bindir, "go"), "w").close())
        rewrite(r, "threads = 2", "threads = 1")
        rewrite(r, "timeout = 2", "timeout = 2\nservices = nope.Svc")
        waiting = subprocess.Popen([os.path.join(BUILD, "rpcrestctl"), "-c", r.ini, "reload"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(waiting.stdout.close)
        self.addCleanup(waiting.stderr.close)
        self.addCleanup(waiting.wait)
        host = int(self.wait_for_log(r, r"%s pid (\d+) took over from pid %d"
                                     % (HOST, kids[HOST])).group(1))
        gateway = int(self.wait_for_log(r, r"started %s pid (\d+) to take over"
                                        % GATEWAY).group(1))
        self.assertTrue(wait_until(lambda: not os.path.exists(os.path.join(r.bindir, "hold")),
                                   5), r.log())  # it is the one held
        return waiting, host, gateway

    def test_new_host_ending_in_the_second_stage_fails_the_reload(self):
        """In the second stage the new host crashes: the reload fails at
        once (it had gone on, and then stopped the old host, which served),
        the new gateway goes, the old host serves again with the old
        gateway, nothing runs the new file, and the private socket's path
        points at the old host (a gateway started then uses it, not TCP)."""
        r = self.held_gateway_rpcrest()
        kids = children(r)
        waiting, host, held = self.reload_with_held_gateway(r)
        os.kill(host, signal.SIGKILL)
        out, err = waiting.communicate(timeout=30)
        self.assertEqual(waiting.returncode, 1, (out, err))
        self.assertIn("reload failed: %s: the new pid %d killed by signal SIGKILL (Killed) before %s was "
                      "handed over to it; %s pid %d keeps serving the running configuration; "
                      "%s pid %d serves again (pid %d, which had taken over from it, has ended)"
                      % (HOST, host, GATEWAY, GATEWAY, kids[GATEWAY], HOST, kids[HOST], host),
                      err)
        self.assertTrue(wait_until(lambda: not pid_alive(held), 10), r.log())
        # the old gateway may have tried the dead host's socket just before
        # the path was published again: it calls again after its reconnect
        # backoff (at most 1 s), answering 503 until then
        self.assertTrue(wait_until(lambda: self.echo_works(r, 5), 5), r.log())
        self.assertTrue(wait_until(lambda: self.grpc_echo_works(r), 5), r.log())
        time.sleep(0.5)  # no restart of the host on the new file, and the old one stays
        self.assertEqual(children(r), kids, r.log())
        self.assertNotIn("stopping %s pid %d" % (HOST, kids[HOST]), r.log())
        # the end of the reload's host is no failure of the host: nothing
        # restarted, and no fast failure counted (five would have made the
        # serving host FATAL)
        self.assertIn("%s pid %d killed by signal SIGKILL (Killed) after" % (HOST, host), r.log())
        self.assertIn("before the reload that started it took effect", r.log())
        self.assertNotIn("event=restart child=%s" % HOST, r.log())
        status = json.loads(self.ctl(r, "status", "--json").stdout)
        host_status = [c for c in status["children"] if c["name"] == HOST][0]
        self.assertEqual((host_status["state"], host_status["fast_failures"]), ("RUNNING", 0),
                         host_status)
        os.kill(kids[GATEWAY], signal.SIGKILL)
        gateway = self.wait_for_child(r, GATEWAY, kids[GATEWAY])
        self.assertTrue(wait_until(lambda: self.echo_works(r), 10), r.log())
        # (a gateway serves before it logs that it listens)
        self.wait_for_log(r, r"%s\[%d\]: listening on http://\S+ with \d+ threads?, "
                          r"upstream unix:" % (GATEWAY, gateway))

    def test_undo_after_the_old_gateway_ended_starts_one_on_the_running_configuration(self):
        """In the second stage the old gateway crashes, so the held new one
        takes its place; it then refuses the new configuration: the reload
        is undone, the old host (kept parked meanwhile) serves again, and a
        gateway starts on the running configuration instead of the child
        being left FATAL."""
        r = self.held_gateway_rpcrest()
        kids = children(r)
        waiting, _, _ = self.reload_with_held_gateway(r)
        os.kill(kids[GATEWAY], signal.SIGKILL)
        self.wait_for_log(r, r"%s pid %d killed by signal SIGKILL" % (GATEWAY, kids[GATEWAY]))
        time.sleep(0.2)
        self.assertTrue(pid_alive(kids[HOST]), r.log())  # parked, not stopped
        open(os.path.join(r.bindir, "go"), "w").close()
        out, err = waiting.communicate(timeout=30)
        self.assertEqual(waiting.returncode, 1, (out, err))
        self.assertIn("no %s serves now (a new one starts on the running configuration); %s "
                      "pid %d serves again" % (GATEWAY, HOST, kids[HOST]), err)
        self.assertTrue(wait_until(lambda: self.echo_works(r), 10), r.log())
        self.assertEqual(children(r)[HOST], kids[HOST])
        self.assertEqual(self.ctl(r, "status").returncode, 0, r.log())

    def test_restart_under_way_is_redone_after_a_failed_reload(self):
        """rpcrestctl restart gateway, and before its new process is ready a
        reload whose new gateway refuses its part: the reload's process
        took the restart's place, so once the reload has failed the
        restart starts again, on the running configuration."""
        r = self.held_gateway_rpcrest()
        kids = children(r)
        open(os.path.join(r.bindir, "hold"), "w").close()
        self.addCleanup(lambda: open(os.path.join(r.bindir, "go"), "w").close())
        self.assertEqual(self.ctl(r, "restart", "gateway").returncode, 0)
        held = int(self.wait_for_log(r, r"started %s pid (\d+) to take over" % GATEWAY).group(1))
        # held once it has taken the file (else the reload's gateway would take it)
        self.assertTrue(wait_until(lambda: not os.path.exists(os.path.join(r.bindir, "hold")),
                                   5), r.log())
        rewrite(r, "timeout = 2", "timeout = 2\nservices = nope.Svc")
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 1, ctl)
        self.assertIn("%s pid %d keeps serving the running configuration (the restart asked for "
                      "before the reload starts again)" % (GATEWAY, kids[GATEWAY]), ctl.stderr)
        self.assertIn("%s: pid %d, getting ready to take over for an earlier request (restart "
                      "or reload), gives way to a new process" % (GATEWAY, held), r.log())
        self.wait_handed_over(r, GATEWAY, kids[GATEWAY])
        self.assertTrue(wait_until(lambda: self.echo_works(r), 10), r.log())

    def test_while_a_reload_waits_the_host_is_left_to_it(self):
        """While a reload waits for its new host, another reload and
        start/stop/restart of the host are refused: a third host would
        outrun the reload's and run the new file under the old state."""
        r = self.rpcrest()
        kids = children(r)
        append(r, "\n[service.refuses]\nplugin = %s/tests/plugins/bad_init.so\n"
               "reason = not today\ndelay_ms = 2000\n" % BUILD)
        waiting = subprocess.Popen([os.path.join(BUILD, "rpcrestctl"), "-c", r.ini, "reload"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(waiting.wait)
        self.assertTrue(wait_until(lambda: "handing over to a new process" in r.log(), 5),
                        r.log())
        for request in ("restart host", "stop host", "start host"):
            ctl = self.ctl(r, *request.split())
            self.assertEqual(ctl.returncode, 1, (request, ctl))
            self.assertIn("a reload is waiting for its new %s" % HOST, ctl.stderr)
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 1, ctl)
        self.assertIn("the previous reload is under way", ctl.stderr)
        out, err = waiting.communicate(timeout=30)
        self.assertEqual(waiting.returncode, 1, (out, err))
        self.assertIn("reload failed: ", err)
        self.assertEqual(children(r), kids, r.log())
        self.assertTrue(self.echo_works(r, 5))

    def test_sigterm_while_a_reload_waits_stops_everything(self):
        """The waiting rpcrestctl is told the reload failed, and the new
        host goes with the rest: rpcrestd exits 0, leaving no process."""
        r = self.rpcrest()
        pids = list(children(r).values())
        append(r, "\n[service.refuses]\nplugin = %s/tests/plugins/bad_init.so\n"
               "reason = not today\ndelay_ms = 2000\n" % BUILD)
        waiting = subprocess.Popen([os.path.join(BUILD, "rpcrestctl"), "-c", r.ini, "reload"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(waiting.stdout.close)
        self.addCleanup(waiting.stderr.close)
        self.addCleanup(waiting.wait)
        new = self.wait_for_log(r, r"started %s pid (\d+) to take over" % HOST)
        pids.append(int(new.group(1)))
        self.assertTrue(pid_alive(pids[-1]), r.log())
        r.proc.send_signal(signal.SIGTERM)
        self.assertEqual(r.proc.wait(10), 0, r.log())
        out, err = waiting.communicate(timeout=10)
        self.assertEqual(waiting.returncode, 1, (out, err))
        # not that anything serves on: everything stops
        self.assertEqual(err, "reload failed: rpcrestd is stopping\n")
        for pid in pids:
            self.assertEqual(group_members(pid), [], r.log())

    def test_while_a_reload_waits_for_its_new_gateway_after_the_host(self):
        """Both parts changed and the new host has taken over: while the
        new gateway gets ready, another reload and start/stop/restart of
        the gateway are refused; SIGTERM then fails the reload and stops
        everything."""
        r, kids = self.serving_stand_ins(IDLE, HELD)
        self.hold_next(r, "ready")
        rewrite(r, "threads = 2", "threads = 1")
        rewrite(r, "timeout = 2", "timeout = 3")
        waiting = subprocess.Popen([os.path.join(BUILD, "rpcrestctl"), "-c", r.ini, "reload"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(waiting.stdout.close)
        self.addCleanup(waiting.stderr.close)
        self.addCleanup(waiting.wait)
        self.addCleanup(lambda: os.path.isdir(r.dir) and self.release_held(r))
        new = int(self.wait_for_log(r, r"started %s pid (\d+) to take over" % GATEWAY).group(1))
        self.assertRegex(r.log(), r"%s pid \d+ took over from pid %d" % (HOST, kids[HOST]))
        for request in ("restart gateway", "stop gateway", "start gateway", "restart host",
                        "stop host", "start host"):
            ctl = self.ctl(r, *request.split())
            self.assertEqual(ctl.returncode, 1, (request, ctl))
            self.assertIn("a reload is waiting for its new %s" % GATEWAY, ctl.stderr)
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 1, ctl)
        self.assertIn("the previous reload is under way (its new %s is getting ready)" % GATEWAY,
                      ctl.stderr)
        self.assertIsNone(waiting.poll())
        r.proc.send_signal(signal.SIGTERM)
        self.assertEqual(r.proc.wait(10), 0, r.log())
        out, err = waiting.communicate(timeout=10)
        self.assertEqual(waiting.returncode, 1, (out, err))
        self.assertEqual(err, "reload failed: rpcrestd is stopping\n")
        for pid in list(kids.values()) + [new]:
            self.assertEqual(group_members(pid), [], r.log())

    def test_reload_while_rpcrestd_stops_is_refused(self):
        """rpcrestctl reload after SIGTERM, while a child that ignores it
        holds the stop up: refused like SIGHUP, and nothing is reloaded."""
        stubborn = "trap '' TERM\n" + IDLE
        r = self.stand_ins(IDLE, stubborn, supervisor={"stop_timeout": "3"}).start()
        self.wait_for_child(r, HOST)
        self.wait_for_ready(r, GATEWAY)
        r.proc.send_signal(signal.SIGTERM)
        self.wait_for_log(r, "received SIGTERM; stopping")
        rewrite(r, "timeout = 2", "timeout = 7")
        ctl = self.ctl(r, "reload")
        self.assertEqual((ctl.returncode, ctl.stdout, ctl.stderr),
                         (1, "", "rpcrestd is stopping; not reloading\n"))
        self.assertNotIn("event=reload", r.log())
        self.assertEqual(r.proc.wait(10), 0, r.log())

    def test_reload_replacing_the_host_answers_once_it_has_taken_over(self):
        r = self.rpcrest()
        kids = children(r)
        rewrite(r, "threads = 2", "threads = 1")
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 0, ctl)
        # the gateway is handed over too, to talk to the new host: said so
        self.assertEqual(ctl.stdout, "%s: [host] threads changed; handed over\n"
                         "%s: the host it calls was handed over; handed over\n"
                         % (HOST, GATEWAY))
        log = r.log()
        self.assertRegex(log, r"%s pid \d+ took over from pid %d" % (HOST, kids[HOST]))
        self.assertIn("event=reload result=ok changed=%s,%s" % (HOST, GATEWAY), log)
        self.assertLess(log.index("took over from pid %d" % kids[HOST]),
                        log.index("event=reload result=ok"), log)
        self.wait_handed_over(r, GATEWAY, kids[GATEWAY])
        self.assertTrue(wait_until(lambda: self.echo_works(r), 10), r.log())

    # ---- interleavings with a reload that waits for its new host -------------------
    def reload_held_host(self, r, then):
        """Changes [host] and starts `rpcrestctl reload`, whose new host
        (HELD) waits for release_held, then does `then`; returns the
        waiting rpcrestctl and the new host's pid."""
        self.hold_next(r, then)
        with open(r.ini) as f:
            threads = re.search(r"\nthreads = (\d+)\n", f.read()).group(1)
        rewrite(r, "threads = %s" % threads, "threads = %d" % (int(threads) % 4 + 1))
        waiting = subprocess.Popen([os.path.join(BUILD, "rpcrestctl"), "-c", r.ini, "reload"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(waiting.stdout.close)
        self.addCleanup(waiting.stderr.close)
        self.addCleanup(waiting.wait)
        # a failed test lets the host go before it waits for rpcrestctl
        self.addCleanup(lambda: os.path.isdir(r.dir) and self.release_held(r))
        started = self.wait_for_log(r, r"started %s pid (\d+) to take over" % HOST)
        return waiting, int(started.group(1))

    def test_reload_whose_new_host_is_ready_at_once_takes_effect(self):
        """A new host that says READY before rpcrestd's loop has gone round
        once after starting it (a silent stand-in) takes over, and the
        reload is applied, not reported failed."""
        r, kids = self.serving_stand_ins(IDLE, IDLE)
        rewrite(r, "threads = 2", "threads = 1")
        ctl = self.ctl(r, "reload")
        self.assertEqual((ctl.returncode, ctl.stdout, ctl.stderr),
                         (0, "%s: [host] threads changed; handed over\n%s: the host it calls "
                          "was handed over; handed over\n" % (HOST, GATEWAY), ""), r.log())
        log = r.log()
        self.assertIn("event=reload result=ok changed=%s,%s" % (HOST, GATEWAY), log)
        self.assertNotIn("result=failed", log)
        self.wait_handed_over(r, HOST, kids[HOST])
        self.wait_handed_over(r, GATEWAY, kids[GATEWAY])

    def test_new_host_ending_in_the_loop_turn_of_its_ready_fails_the_reload(self):
        """The new host writes READY and exits at once, and rpcrestd reads
        both in one turn of its loop (it is stopped meanwhile): the
        hand-over has failed, with that pid and status; the old host is
        neither told to stop nor replaced, and status and metrics say so."""
        r, kids = self.serving_stand_ins(HELD, IDLE)
        waiting, new = self.reload_held_host(r, "ready-exit 3")
        self.release_held_while_stopped(r, new)
        out, err = waiting.communicate(timeout=10)
        self.assertEqual((waiting.returncode, out, err), (
            1, "", "reload failed: %s: hand-over to pid %d failed: exited with status 3; %s pid "
            "%d keeps serving the running configuration, and %s is not handed over\n"
            % (HOST, new, HOST, kids[HOST], GATEWAY)), r.log())
        time.sleep(1)  # a restart would be 0.1 s away, its READY at once
        log = r.log()
        self.assertEqual(children(r), kids, log)
        self.assertRegex(log, r"event=exit child=%s pid=%d status=3 uptime_ms=\d+ ready=1 "
                         r"expected=0" % (HOST, new))
        self.assertNotIn("took over from pid %d" % kids[HOST], log)
        self.assertNotIn("stopping %s pid %d" % (HOST, kids[HOST]), log)
        self.assertEqual(starts(log, HOST), 2, log)
        self.assertEqual(starts(log, GATEWAY), 1, log)
        st = self.ctl(r, "status")
        self.assertEqual(st.returncode, 0, st)
        self.assertRegex(st.stdout, r"\n%s\s+RUNNING\s+%d\s.*hand-over to pid %d failed: exited "
                         r"with status 3\n" % (HOST, kids[HOST], new))
        metrics = self.ctl(r, "metrics").stdout
        for sample in ('rpcrest_supervisor_reloads_total{result="failed"} 1',
                       'rpcrest_supervisor_reloads_total{result="ok"} 0',
                       'rpcrest_supervisor_child_up{child="%s"} 1' % HOST,
                       'rpcrest_supervisor_restarts_total{child="%s"} 0' % HOST):
            self.assertIn(sample + "\n", metrics)

    def test_gateway_started_while_a_reload_waits_starts_once_it_is_applied(self):
        """rpcrestctl start gateway while the reload waits for its new host:
        the gateway would read the new file before the reload is applied, so
        it starts only once the reload is done."""
        r, kids = self.serving_stand_ins(HELD, IDLE)
        self.assertEqual(self.ctl(r, "stop", "gateway").returncode, 0)
        self.assertTrue(wait_until(lambda: GATEWAY not in children(r), 5), r.log())
        rewrite(r, "timeout = 2", "timeout = 7")
        waiting, _ = self.reload_held_host(r, "ready")
        ctl = self.ctl(r, "start", "gateway")
        time.sleep(0.5)
        self.assertNotIn(GATEWAY, children(r), r.log())
        self.assertEqual((ctl.returncode, ctl.stdout),
                         (0, "starting %s once the reload under way is done\n" % GATEWAY))
        st = self.ctl(r, "status")
        self.assertRegex(st.stdout, r"\n%s\s+STARTING\s+-\s.*waiting for the reload under way"
                         % GATEWAY)
        self.release_held(r)
        out, err = waiting.communicate(timeout=10)
        self.assertEqual(waiting.returncode, 0, (out, err, r.log()))
        gateway = self.wait_for_child(r, GATEWAY, kids[GATEWAY])
        # the process can be seen before rpcrestd has logged its start
        self.wait_for_log(r, "started %s pid %d" % (GATEWAY, gateway))
        log = r.log()
        self.assertLess(log.index("event=reload result=ok"),
                        log.index("started %s pid %d" % (GATEWAY, gateway)), log)
        self.assertEqual(starts(log, GATEWAY), 2, log)

    def test_gateway_restarted_while_a_reload_waits_starts_once_it_has_failed(self):
        """The same with rpcrestctl restart, and a reload that fails: the
        gateway starts once it has."""
        r, kids = self.serving_stand_ins(HELD, IDLE)
        self.assertEqual(self.ctl(r, "stop", "gateway").returncode, 0)
        self.assertTrue(wait_until(lambda: GATEWAY not in children(r), 5), r.log())
        waiting, _ = self.reload_held_host(r, "exit 3")
        ctl = self.ctl(r, "restart", "gateway")
        time.sleep(0.5)
        self.assertNotIn(GATEWAY, children(r), r.log())
        self.assertEqual((ctl.returncode, ctl.stdout),
                         (0, "restarting %s once the reload under way is done\n" % GATEWAY))
        self.release_held(r)
        out, err = waiting.communicate(timeout=10)
        self.assertEqual(waiting.returncode, 1, (out, err, r.log()))
        gateway = self.wait_for_child(r, GATEWAY, kids[GATEWAY])
        self.wait_for_log(r, "started %s pid %d" % (GATEWAY, gateway))
        log = r.log()
        self.assertLess(log.index("event=reload result=failed"),
                        log.index("started %s pid %d" % (GATEWAY, gateway)), log)
        self.assertEqual(children(r).get(HOST), kids[HOST], log)

    def test_old_host_ending_while_a_reload_waits_leaves_the_place_to_the_new_one(self):
        """The serving host is killed while the reload's new host gets
        ready: that one becomes the host (no third process reading the new
        file before the reload is applied, no FATAL while it starts), and
        the reload is applied once it is ready."""
        for policy in ({}, {"start_retries": "1"}):
            with self.subTest(policy=policy):
                r, kids = self.serving_stand_ins(HELD, IDLE, supervisor=policy)
                waiting, new = self.reload_held_host(r, "ready")
                os.kill(kids[HOST], signal.SIGKILL)
                self.wait_for_log(r, r"event=exit child=%s pid=%d signal=SIGKILL" % (HOST,
                                                                                   kids[HOST]))
                time.sleep(0.5)  # a restart would be 0.1 s away
                log = r.log()
                self.assertEqual(starts(log, HOST), 2, log)
                self.assertNotIn("event=fatal", log)
                st = self.ctl(r, "status")
                self.assertRegex(st.stdout, r"\n%s\s+STARTING\s+%d\s" % (HOST, new), log)
                self.release_held(r)
                out, err = waiting.communicate(timeout=10)
                self.assertEqual((waiting.returncode, out, err),
                                 (0, "%s: [host] threads changed; handed over\n" % HOST, ""),
                                 r.log())
                self.assertTrue(wait_until(lambda: self.ctl(r, "status").returncode == 0, 5))
                self.assertEqual(children(r), {HOST: new, GATEWAY: kids[GATEWAY]}, r.log())
                r.cleanup()

    def test_old_host_ending_while_the_new_one_fails_is_reported_and_restarted(self):
        """The same when the new host then fails: the reload has failed,
        the answer says that no host serves, and the host is restarted
        under its restart policy."""
        r, kids = self.serving_stand_ins(HELD, IDLE)
        waiting, new = self.reload_held_host(r, "exit 3")
        os.kill(kids[HOST], signal.SIGKILL)
        self.wait_for_log(r, r"event=exit child=%s pid=%d signal=SIGKILL" % (HOST, kids[HOST]))
        self.release_held(r)
        out, err = waiting.communicate(timeout=10)
        self.assertEqual((waiting.returncode, out, err), (
            1, "", "reload failed: %s: the new pid %d exited with status 3 before it was ready; "
            "pid %d, which ran the running configuration, ended during the hand-over: no %s "
            "serves now\n" % (HOST, new, kids[HOST], HOST)), r.log())
        self.wait_for_child(r, HOST, new)
        self.assertTrue(wait_until(lambda: self.ctl(r, "status").returncode == 0, 5), r.log())
        self.assertEqual(starts(r.log(), HOST), 3, r.log())

    # ---- what a reload replaces ----------------------------------------------------
    def test_sighup_changing_only_the_gateway_port_moves_the_gateway(self):
        r = self.rpcrest()
        kids = children(r)
        old_port, new_port = r.http_port, free_port()
        rewrite(r, "listen = 127.0.0.1:%d" % old_port, "listen = 127.0.0.1:%d" % new_port)
        r.proc.send_signal(signal.SIGHUP)
        gateway = self.wait_handed_over(r, GATEWAY, kids[GATEWAY])
        self.assertEqual(children(r).get(HOST), kids[HOST], "the host was replaced:\n" + r.log())
        self.assertTrue(self.echo_works(r, 5, port=new_port), r.log())
        self.assertTrue(wait_until(lambda: not port_open(old_port), 3),
                        "the old port still accepts connections")
        log = r.log()
        self.assertRegex(log, r"reload: %s: \[gateway\] listen changed; handing over" % GATEWAY)
        self.assertRegex(log, r"%s pid %d took over from pid %d" % (GATEWAY, gateway,
                                                                    kids[GATEWAY]))
        self.assertNotRegex(log, r"reload: %s" % HOST)
        self.assertEqual(starts(log, HOST), 1, log)

    def test_new_process_is_ready_before_the_old_one_is_told_to_stop(self):
        r = self.rpcrest()
        kids = children(r)
        rewrite(r, "timeout = 2", "timeout = 3")
        self.assertEqual(self.ctl(r, "reload").returncode, 0)
        gateway = self.wait_handed_over(r, GATEWAY, kids[GATEWAY])
        log = r.log()
        ready = re.search(r"%s pid %d is ready" % (GATEWAY, gateway), log)
        old_stops = re.search(r"%s\[%d\]: Terminated: stopping" % (GATEWAY, kids[GATEWAY]), log)
        self.assertTrue(ready and old_stops, log)
        self.assertLess(ready.start(), old_stops.start(), log)
        self.assertEqual(children(r).get(HOST), kids[HOST])

    def test_host_change_hands_over_the_host_and_then_the_gateway(self):
        """A [host] change replaces the host, and the gateway too (its new
        generation talks to the new host); the old host stops only once the
        old gateway has gone."""
        r = self.rpcrest()
        kids = children(r)
        rewrite(r, "threads = 2", "threads = 1")
        r.proc.send_signal(signal.SIGHUP)
        host = self.wait_handed_over(r, HOST, kids[HOST])
        gateway = self.wait_handed_over(r, GATEWAY, kids[GATEWAY])
        self.assertTrue(self.echo_works(r, 5))
        log = r.log()
        self.assertRegex(log, r"reload: %s: \[host\] threads changed; handing over" % HOST)
        self.assertRegex(log, r"%s: handing over too, so that it talks to the new %s"
                         % (GATEWAY, HOST))
        old_gw_gone = log.index("%s pid %d exited" % (GATEWAY, kids[GATEWAY]))
        old_host_told = log.index("stopping %s pid %d" % (HOST, kids[HOST]))
        self.assertLess(log.index("%s pid %d is ready" % (GATEWAY, gateway)), old_gw_gone)
        self.assertLess(old_gw_gone, old_host_told, log)
        self.assertLess(log.index("%s pid %d is ready" % (HOST, host)), old_host_told)

    def test_reload_with_a_unix_socket_host_restarts_it(self):
        """gRPC removes a unix socket's file when it stops, so a host on a
        unix socket is not run twice: the old one stops, then the new one
        starts."""
        r = Rpcrest(host={"listen": "unix:host.sock"})
        self.addCleanup(r.cleanup)
        r.start(wait=False)
        self.assertTrue(wait_until(lambda: self.echo_works(r), 10), r.log())
        kids = children(r)
        rewrite(r, "threads = 2", "threads = 1")
        r.proc.send_signal(signal.SIGHUP)
        host = self.wait_for_child(r, HOST, kids[HOST], 10)
        self.assertTrue(wait_until(lambda: self.echo_works(r), 10), r.log())
        log = r.log()
        self.assertRegex(log, r"%s listens on a unix socket: stopping pid %d before starting "
                         r"its replacement" % (HOST, kids[HOST]))
        self.assertLess(log.index("%s pid %d exited" % (HOST, kids[HOST])),
                        log.index("started %s pid %d" % (HOST, host)), log)

    # ---- under load ------------------------------------------------------------------
    def test_reload_adding_a_service_under_load_fails_no_request(self):
        """wrk posts to /v1/example/echo for a few seconds over 16
        connections; a second in, a reload adds [service.testkit]: wrk counts
        no non-2xx answer and no socket error, and the new service's routes
        answer afterwards."""
        self.check_reload_under_load(descriptors=True)

    def test_reload_under_load_with_the_api_from_reflection(self):
        """The same when the gateway learns the API from the host's server
        reflection (no descriptors files): the new gateway asks the new
        host."""
        self.check_reload_under_load(descriptors=False)

    def test_gateway_reloads_under_load_with_a_connection_per_request_fail_no_request(self):
        """Three reloads that change a [gateway] key while four clients post
        over a new connection each time: the new gateway takes connections
        from the shared socket only once it has its API, so no request gets
        the 503 of a gateway still starting (nor any other failure)."""
        r = self.rpcrest(descriptors=False)
        stop = threading.Event()
        failures, counts = [], [0]

        def client():
            while not stop.is_set():
                try:
                    status, body = r.http_json("POST", "/v1/example/echo", {"value": "x"},
                                               timeout=10)
                except OSError as e:
                    status, body = "error", repr(e)
                if (status, body) != (200, {"value": "x"}):
                    failures.append((status, body))
                counts[0] += 1

        clients = [threading.Thread(target=client) for _ in range(4)]
        for t in clients:
            t.start()
        try:
            for timeout in ("3", "2", "3"):
                old = children(r)[GATEWAY]
                with open(r.ini) as f:
                    text = f.read()
                rewrite(r, re.search(r"\ntimeout = \d+\n", text).group(0),
                        "\ntimeout = %s\n" % timeout)
                r.proc.send_signal(signal.SIGHUP)
                self.wait_handed_over(r, GATEWAY, old)
                time.sleep(0.3)
        finally:
            stop.set()
            for t in clients:
                t.join(15)
        self.assertGreater(counts[0], 100)
        self.assertEqual(failures, [], r.log())
        self.assertEqual(len(re.findall(r"%s pid \d+ took over from pid" % GATEWAY, r.log())), 3)

    def check_reload_under_load(self, descriptors):
        wrk = shutil.which("wrk")
        self.assertTrue(wrk, "wrk is not installed (scripts/deps.sh installs it)")
        testkit = os.path.join(BUILD, "services", "testkit.so")
        self.assertTrue(os.path.exists(testkit), testkit)
        r = self.rpcrest(descriptors=descriptors)
        kids = children(r)
        self.assertEqual(r.http("POST", "/v1/testkit/echo", b"{}")[0], 404)
        script = os.path.join(r.dir, "post.lua")
        with open(script, "w") as f:
            f.write(WRK_SCRIPT)
        load = subprocess.Popen([wrk, "-t2", "-c16", "-d%ds" % WRK_SECONDS, "--timeout", "5s",
                                 "-s", script, "http://127.0.0.1:%d/v1/example/echo" % r.http_port],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        self.addCleanup(lambda: load.poll() is None and load.kill())
        time.sleep(1.2)
        append(r, "\n[service.testkit]\nplugin = %s\n%s\n" % (
            testkit, "descriptors = " + os.path.join(BUILD, "services", "testkit.pb")
            if descriptors else ""))
        r.proc.send_signal(signal.SIGHUP)
        out, _ = load.communicate(timeout=WRK_SECONDS + 20)
        out = out.decode()
        m = re.search(r"^RESULT requests=(\d+) non2xx=(\d+) connect=(\d+) read=(\d+) "
                      r"write=(\d+) timeout=(\d+)$", out, re.M)
        self.assertTrue(m, out)
        requests, non2xx, *socket_errors = map(int, m.groups())
        print("\nreload under load (%s): %d requests, %d non-2xx, %d socket errors"
              % ("descriptor files" if descriptors else "reflection", requests, non2xx,
                 sum(socket_errors)))
        log = r.log()
        self.assertRegex(log, r"%s pid \d+ took over from pid %d" % (HOST, kids[HOST]), log)
        self.assertRegex(log, r"%s pid \d+ took over from pid %d" % (GATEWAY, kids[GATEWAY]))
        self.assertGreater(requests, 1000, out)
        self.assertEqual(non2xx, 0, out + log)
        self.assertEqual(sum(socket_errors), 0, out + log)
        # the new service answers, through the new gateway and host
        status, body = r.http_json("POST", "/v1/testkit/echo", {})
        self.assertEqual(status, 200, (body, log))
        self.assertTrue(self.echo_works(r, 5))
        self.assertTrue(wait_until(lambda: not pid_alive(kids[HOST]), 10), log)
        self.assertNotIn(kids[GATEWAY], children(r).values())

    # ---- systemd ---------------------------------------------------------------------
    def test_ready_1_reaches_notify_socket_once_both_are_ready(self):
        r = Rpcrest()
        self.addCleanup(r.cleanup)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(listener.close)
        path = os.path.join(r.dir, "notify.sock")
        listener.bind(path)
        listener.settimeout(15)
        env = dict(os.environ, NOTIFY_SOCKET=path)
        r._log = open(r.log_path, "ab")
        r.proc = subprocess.Popen([os.path.join(BUILD, "rpcrestd"), "-c", r.ini],
                                  stdin=subprocess.DEVNULL, stdout=r._log,
                                  stderr=subprocess.STDOUT, env=env)
        message = listener.recv(4096).decode()
        self.assertIn("READY=1", message.split("\n"), message)
        self.assertIn("STATUS=rpcrest-host and rpcrest-gateway are running",
                      message.split("\n"), message)
        # by now both are serving
        self.assertTrue(self.echo_works(r, 5), r.log())
        st = self.ctl(r, "status")
        self.assertEqual(st.returncode, 0, st)
        log = r.log()
        told = log.index("told systemd READY=1")
        self.assertLess(re.search(r"%s pid \d+ is ready" % GATEWAY, log).start(), told, log)
        self.assertLess(re.search(r"%s pid \d+ is ready" % HOST, log).start(), told, log)
        # the children do not see NOTIFY_SOCKET
        for pid in children(r).values():
            with open("/proc/%d/environ" % pid, "rb") as f:
                self.assertNotIn(b"NOTIFY_SOCKET=", f.read())
        # once, not again after a restart
        os.kill(children(r)[GATEWAY], signal.SIGKILL)
        self.wait_for_log(r, r"started %s pid" % GATEWAY, 5)
        self.assertTrue(wait_until(lambda: self.echo_works(r), 5))
        listener.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            listener.recv(4096)
        r.proc.send_signal(signal.SIGTERM)
        listener.settimeout(5)
        self.assertEqual(listener.recv(4096), b"STOPPING=1")
        self.assertEqual(r.proc.wait(10), 0)

    def test_unit_file_is_shipped(self):
        unit = os.path.join(os.path.dirname(BUILD), "contrib", "systemd", "rpcrest.service")
        with open(unit) as f:
            text = f.read()
        for line in ("Type=notify", "NotifyAccess=main", "KillMode=mixed"):
            self.assertIn(line + "\n", text)
        self.assertRegex(text, r"\nExecStart=\S+/rpcrestd -c \S+\n")
        self.assertRegex(text, r"\nExecReload=\S+/rpcrestctl -c \S+ reload\n")


if __name__ == "__main__":
    unittest.main()
