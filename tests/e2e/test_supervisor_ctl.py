"""rpcrestctl: status (text and --json), start, stop, restart and reload
over rpcrestd's control socket, which only its owner (and root) may use.
"""
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
import unittest

from harness import Rpcrest, build_for_anyone, pid_alive, wait_until
from test_supervisor import (GATEWAY, HELD, HOST, IDLE, LOOP, NOTIFY, RPCRESTCTL,
                             SupervisorCase, children, starts)

UPTIME = r"\d+:\d\d:\d\d"


class CtlTest(SupervisorCase):
    def test_status_text_and_json(self):
        r = self.rpcrest()
        kids = children(r)
        st = self.ctl(r, "status")
        self.assertEqual(st.returncode, 0, st)
        lines = st.stdout.splitlines()
        self.assertRegex(lines[0], r"^NAME\s+STATE\s+PID\s+UPTIME\s+RESTARTS\s+LAST EXIT$")
        self.assertRegex(lines[1], r"^%s\s+RUNNING\s+%d\s+%s\s+0\s+-$" % (HOST, kids[HOST], UPTIME))
        self.assertRegex(lines[2], r"^%s\s+RUNNING\s+%d\s+%s\s+0\s+-$"
                         % (GATEWAY, kids[GATEWAY], UPTIME))
        self.assertEqual(len(lines), 3)

        js = self.ctl(r, "status", "--json")
        self.assertEqual(js.returncode, 0, js)
        doc = json.loads(js.stdout)
        self.assertEqual(json.loads(self.ctl(r, "--json", "status").stdout).keys(), doc.keys())
        self.assertEqual(doc["pid"], r.proc.pid)
        self.assertEqual(doc["config"], os.path.realpath(r.ini))
        by_name = {c["name"]: c for c in doc["children"]}
        self.assertEqual(sorted(by_name), [GATEWAY, HOST])
        for name, c in by_name.items():
            self.assertEqual(c["state"], "RUNNING")
            self.assertEqual(c["pid"], kids[name])
            self.assertGreater(c["uptime_seconds"], 0)
            self.assertEqual(c["restarts"], 0)
            self.assertIsNone(c["last_exit"])
        # after a crash: restarts and the last exit, by signal
        os.kill(kids[GATEWAY], 9)
        self.wait_for_child(r, GATEWAY, kids[GATEWAY])
        self.assertTrue(wait_until(lambda: self.ctl(r, "status").returncode == 0, 5))
        c = {c["name"]: c for c in json.loads(self.ctl(r, "status", "--json").stdout)["children"]}
        self.assertEqual(c[GATEWAY]["restarts"], 1)
        self.assertEqual(c[GATEWAY]["last_exit"], {"signal": "SIGKILL", "signal_number": 9})
        self.assertRegex(self.ctl(r, "status").stdout,
                         r"%s\s+RUNNING\s+\d+\s+%s\s+1\s+SIGKILL" % (GATEWAY, UPTIME))

    def test_status_json_of_a_config_path_that_is_not_utf8(self):
        """A path may hold any byte: --json still answers JSON, UTF-8 as it is,
        a control character as \\u00XX and a byte that is not UTF-8 as \\ufffd
        (as the access log writes them); rpcrestd's log gets no terminal
        escape."""
        r = self.stand_ins(IDLE, IDLE)
        odd = os.path.join(r.dir, "caf\u00e9 \x1b[31m\udcff")  # \udcff: the byte 0xff
        os.mkdir(odd)
        ini = os.path.join(odd, "rpcrest.ini")
        shutil.copy(r.ini, ini)
        r.ini = ini
        r.start()

        def status(*args):  # bytes: rpcrestctl's errors name the path as it is
            return subprocess.run([RPCRESTCTL, "-c", ini, "status"] + list(args),
                                  capture_output=True, timeout=15, stdin=subprocess.DEVNULL)
        self.assertTrue(wait_until(lambda: status().returncode == 0, 10), r.log())
        out = status("--json").stdout
        self.assertEqual(json.loads(out.decode("utf-8"))["config"],
                         os.path.realpath(ini).replace("\udcff", "\ufffd"))
        self.assertIn(b"caf\xc3\xa9 \\u001b[31m\\ufffd/rpcrest.ini", out)
        with open(r.log_path, "rb") as f:
            self.assertIn(b"caf\xc3\xa9 ?[31m\xff/rpcrest.ini", f.read())

    def test_stop_start_restart(self):
        r = self.rpcrest()
        kids = children(r)
        stop = self.ctl(r, "stop", GATEWAY)
        self.assertEqual((stop.returncode, stop.stdout),
                         (0, "stopping %s (pid %d)\n" % (GATEWAY, kids[GATEWAY])))
        self.assertTrue(wait_until(lambda: not pid_alive(kids[GATEWAY]), 5), r.log())
        time.sleep(0.5)  # and it stays down
        self.assertNotIn(GATEWAY, children(r))
        st = self.ctl(r, "status")
        self.assertEqual(st.returncode, 3, st)
        self.assertRegex(st.stdout, r"%s\s+STOPPED\s+-\s+-\s+0\s+status 0" % GATEWAY)
        self.assertRegex(st.stdout, r"%s\s+RUNNING\s+%d" % (HOST, kids[HOST]))
        again = self.ctl(r, "stop", "gateway")
        self.assertEqual(again.stdout, "%s is not running\n" % GATEWAY)

        start = self.ctl(r, "start", "gateway")
        self.assertEqual((start.returncode, start.stdout), (0, "starting %s\n" % GATEWAY))
        gateway = self.wait_for_child(r, GATEWAY, kids[GATEWAY])
        self.assertTrue(wait_until(lambda: self.echo_works(r), 5), r.log())
        self.assertEqual(self.ctl(r, "start", GATEWAY).stdout,
                         "%s is already RUNNING (pid %d)\n" % (GATEWAY, gateway))

        restart = self.ctl(r, "restart", HOST)
        self.assertEqual((restart.returncode, restart.stdout), (0, "restarting %s\n" % HOST))
        host = self.wait_for_child(r, HOST, kids[HOST])
        self.assertTrue(wait_until(lambda: not pid_alive(kids[HOST]), 10), r.log())
        self.assertTrue(wait_until(lambda: self.echo_works(r), 5), r.log())
        self.assertRegex(r.log(), r"%s pid %d took over from pid %d" % (HOST, host, kids[HOST]))
        c = {c["name"]: c for c in json.loads(self.ctl(r, "status", "--json").stdout)["children"]}
        self.assertEqual(c[HOST]["restarts"], 1)
        self.assertEqual(c[HOST]["pid"], host)

    def test_restart_of_the_gateway_while_the_host_is_stopped_says_when(self):
        """The gateway's replacement starts only once the host is ready:
        the answer, the log and the status say so, and it happens then."""
        r, kids = self.serving_stand_ins(IDLE, IDLE)
        self.assertEqual(self.ctl(r, "stop", HOST).returncode, 0)
        self.assertTrue(wait_until(lambda: not pid_alive(kids[HOST]), 5), r.log())
        restart = self.ctl(r, "restart", GATEWAY)
        self.assertEqual((restart.returncode, restart.stdout),
                         (0, "restarting %s once %s is ready (pid %d serves until then)\n"
                          % (GATEWAY, HOST, kids[GATEWAY])))
        self.assertIn("restarts once %s is ready" % HOST, self.ctl(r, "status").stdout)
        time.sleep(0.3)
        self.assertEqual(children(r).get(GATEWAY), kids[GATEWAY])
        self.assertEqual(self.ctl(r, "start", HOST).returncode, 0)
        self.wait_for_child(r, GATEWAY, kids[GATEWAY])
        self.assertTrue(wait_until(lambda: not pid_alive(kids[GATEWAY]), 5), r.log())

    def test_many_draining_hosts_do_not_hide_the_gateway(self):
        """Seventy host hand-overs in a row whose old hosts take their time
        to stop: rpcrestd still reads the gateway's readiness and output,
        so restarting the gateway works meanwhile."""
        stubborn = "trap 'sleep 20; exit 0' TERM\n" + IDLE
        gateway = NOTIFY + 'echo "gateway $$ says hello"\n' + LOOP
        r = self.stand_ins(stubborn, gateway, supervisor={"stop_timeout": "30"}).start()
        self.wait_for_child(r, GATEWAY)
        host = self.wait_for_ready(r, HOST)
        for _ in range(70):
            self.assertEqual(self.ctl(r, "restart", HOST).returncode, 0, r.log())
            host = self.wait_for_ready(r, HOST, host)

        def gateway_moved_to_last_host():  # the gateway hands over after each host
            log = r.log()
            took_over = log.rfind("%s pid %d took over" % (HOST, host))
            m = re.compile(r"%s pid (\d+) took over" % GATEWAY).search(log, took_over)
            return int(m.group(1)) if took_over >= 0 and m else None
        gateway = wait_until(gateway_moved_to_last_host, 5)
        self.assertTrue(gateway, r.log())
        restart = self.ctl(r, "restart", GATEWAY)
        self.assertEqual(restart.returncode, 0, restart)
        new_gateway = self.wait_for_child(r, GATEWAY, gateway)
        self.assertTrue(wait_until(lambda: "gateway %d says hello" % new_gateway in r.log(), 5),
                        r.log())
        self.assertTrue(wait_until(lambda: re.search(
            r"%s\s+RUNNING\s+%d" % (GATEWAY, new_gateway), self.ctl(r, "status").stdout), 5),
            r.log())

    def test_restart_whose_new_process_ends_in_the_turn_of_its_ready_keeps_the_old_one(self):
        """rpcrestctl restart gateway: the new gateway writes READY and
        exits at once, and rpcrestd reads both in one turn of its loop (it
        is stopped meanwhile): the hand-over has failed, the old gateway,
        never told to stop, keeps serving, and nothing else is started."""
        r, kids = self.serving_stand_ins(IDLE, HELD)
        self.hold_next(r, "ready-exit 4")
        restart = self.ctl(r, "restart", GATEWAY)
        self.assertEqual((restart.returncode, restart.stdout), (0, "restarting %s\n" % GATEWAY))
        new = int(self.wait_for_log(r, r"started %s pid (\d+) to take over from pid %d"
                                    % (GATEWAY, kids[GATEWAY])).group(1))
        self.release_held_while_stopped(r, new)
        self.wait_for_log(r, r"event=exit child=%s pid=%d status=4 uptime_ms=\d+ ready=1 "
                          r"expected=0" % (GATEWAY, new))
        time.sleep(1)  # a restart would be 0.1 s away, its READY at once
        log = r.log()
        self.assertEqual(children(r), kids, log)
        self.assertRegex(log, r"%s pid %d exited with status 4 after \d+ ms, before it took over: "
                         r"the hand-over failed; pid %d keeps serving"
                         % (GATEWAY, new, kids[GATEWAY]))
        self.assertNotIn("took over from pid %d" % kids[GATEWAY], log)
        self.assertEqual(starts(log, GATEWAY), 2, log)
        st = self.ctl(r, "status")
        self.assertEqual(st.returncode, 0, st)
        self.assertRegex(st.stdout, r"\n%s\s+RUNNING\s+%d\s.*hand-over to pid %d failed: exited "
                         r"with status 4\n" % (GATEWAY, kids[GATEWAY], new))

    def test_child_ending_during_its_hand_over_leaves_the_place_to_the_new_process(self):
        """rpcrestctl restart gateway, and the old gateway is killed while
        the new one gets ready: the new one takes its place at once, and no
        third gateway is started to race it."""
        r, kids = self.serving_stand_ins(IDLE, HELD)
        self.hold_next(r, "ready")
        self.assertEqual(self.ctl(r, "restart", GATEWAY).returncode, 0)
        new = int(self.wait_for_log(r, r"started %s pid (\d+) to take over from pid %d"
                                    % (GATEWAY, kids[GATEWAY])).group(1))
        os.kill(kids[GATEWAY], 9)
        self.wait_for_log(r, r"%s pid %d killed by signal SIGKILL \(Killed\) after \d+ ms, while "
                          r"pid %d was getting ready to take over from it: pid %d takes its "
                          r"place now" % (GATEWAY, kids[GATEWAY], new, new))
        time.sleep(0.5)  # a restart would be 0.1 s away
        self.assertEqual(starts(r.log(), GATEWAY), 2, r.log())
        self.assertRegex(self.ctl(r, "status").stdout, r"\n%s\s+STARTING\s+%d\s" % (GATEWAY, new))
        self.release_held(r)
        self.assertTrue(wait_until(lambda: self.ctl(r, "status").returncode == 0, 5), r.log())
        self.assertEqual(children(r), {HOST: kids[HOST], GATEWAY: new}, r.log())
        self.assertEqual(starts(r.log(), GATEWAY), 2, r.log())

    def test_start_while_the_child_is_stopping_starts_it_once_it_has_stopped(self):
        """stop, then start before the old process has finished stopping:
        the start is not lost."""
        slow = "trap 'sleep 1; exit 0' TERM\n" + IDLE
        r = self.stand_ins(IDLE, slow).start()
        old = self.wait_for_ready(r, GATEWAY)
        self.assertEqual(self.ctl(r, "stop", GATEWAY).returncode, 0)
        start = self.ctl(r, "start", GATEWAY)
        self.assertEqual((start.returncode, start.stdout),
                         (0, "starting %s once pid %d has stopped\n" % (GATEWAY, old)))
        self.assertTrue(pid_alive(old))
        new = self.wait_for_child(r, GATEWAY, old, timeout=5)
        self.assertFalse(pid_alive(old), r.log())
        self.assertTrue(wait_until(lambda: self.ctl(r, "status").returncode == 0, 5), r.log())
        self.assertEqual(children(r)[GATEWAY], new)

    def test_requests_made_while_the_gateway_is_stopped_are_served_once_it_starts(self):
        """Connections made while the gateway is stopped wait in rpcrestd's
        listening socket; the gateway started again takes them only once it
        has loaded its API, so each gets its answer, not a 503 (both ways
        of learning the API: descriptor files and reflection)."""
        for descriptors in (True, False):
            with self.subTest(descriptors=descriptors):
                r = self.rpcrest(descriptors=descriptors)
                kids = children(r)
                self.assertEqual(self.ctl(r, "stop", GATEWAY).returncode, 0)
                self.assertTrue(wait_until(lambda: not pid_alive(kids[GATEWAY]), 5), r.log())
                answers = []

                def post():
                    try:
                        answers.append(r.http_json("POST", "/v1/example/echo", {"value": "x"},
                                                   timeout=20))
                    except OSError as e:
                        answers.append(("error", repr(e)))

                posts = [threading.Thread(target=post) for _ in range(4)]
                for t in posts:
                    t.start()
                time.sleep(0.5)  # all four wait in the listen backlog
                self.assertEqual(answers, [])
                self.assertEqual(self.ctl(r, "start", GATEWAY).returncode, 0)
                for t in posts:
                    t.join(30)
                self.assertEqual(answers, [(200, {"value": "x"})] * 4, r.log())

    def test_reload_reports_what_it_does(self):
        r = self.rpcrest()
        rl = self.ctl(r, "reload")
        self.assertEqual((rl.returncode, rl.stdout), (0, "reloaded; no child is affected\n"))
        with open(r.ini) as f:
            text = f.read()
        with open(r.ini, "w") as f:
            f.write(text.replace("timeout = 2", "timeout = 3"))
        rl = self.ctl(r, "reload")
        self.assertEqual(rl.returncode, 0, rl)
        # answered once the new gateway has taken over
        self.assertEqual(rl.stdout, "%s: [gateway] timeout changed; handed over\n" % GATEWAY)
        self.wait_for_log(r, r"rpcrestctl: reload")

    def test_usage_and_bad_requests(self):
        r = self.rpcrest()
        for args in ([], ["frobnicate"], ["stop"], ["status", "extra"], ["reload", "--json"],
                     ["start", "a", "b"]):
            proc = self.ctl(r, *args)
            self.assertEqual(proc.returncode, 64, (args, proc))
            self.assertIn("usage: rpcrestctl", proc.stderr)
        bad = self.ctl(r, "stop", "nonesuch")
        self.assertEqual(bad.returncode, 1, bad)
        self.assertIn("stop needs a child: rpcrest-host or rpcrest-gateway (not 'nonesuch')",
                      bad.stderr)
        helped = subprocess.run([RPCRESTCTL, "-h"], capture_output=True, text=True, timeout=5)
        self.assertEqual(helped.returncode, 0)
        self.assertIn("status [--json]", helped.stdout)

    def test_malformed_requests_get_an_error_answer(self):
        """Sent by hand, not by rpcrestctl: each is answered with status 1
        and a reason, and rpcrestd goes on serving."""
        r = self.rpcrest()
        kids = children(r)
        path = os.path.join(os.path.realpath(r.dir), "rpcrestd.sock")

        def ask(raw, half_close=False):
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(3)
                s.connect(path)
                s.sendall(raw)
                if half_close:
                    s.shutdown(socket.SHUT_WR)
                answer = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        return answer
                    answer += chunk
        self.assertEqual(ask(b"frobnicate\n"), b"1\nrpcrestd: unknown request 'frobnicate' "
                         b"(known: status [--json], start NAME, stop NAME, restart NAME, "
                         b"reload, metrics)\n")
        for raw in (b"\0status\n", b"status\0\n", b"stop\0 rpcrest-host\n"):
            self.assertEqual(ask(raw), b"1\nrpcrestd: a request line may not hold a NUL byte\n", raw)
        self.assertEqual(ask(b"\n"), b"1\nrpcrestd: empty request\n")
        # too long: read to its end, so that the answer is not cut off by a reset
        for raw in (b"status" + b" " * 600 + b"\n", b"x" * 300000 + b"\n", b"s" * 511 + b"\n"):
            self.assertEqual(ask(raw), b"1\nrpcrestd: request longer than 511 bytes\n", len(raw))
        self.assertTrue(ask(b"status\n").startswith(b"0\nNAME"))
        # the end of the connection ends a line without a newline (printf status | nc -U)
        self.assertTrue(ask(b"status", half_close=True).startswith(b"0\nNAME"))
        self.assertEqual(ask(b"", half_close=True), b"")
        self.assertEqual(children(r), kids, r.log())

    def test_clients_that_never_ask_do_not_lock_others_out(self):
        """More idle connections than rpcrestd serves at once: a request
        made meanwhile waits for a free place (the idle ones are dropped
        after 5 s), and is answered, instead of failing."""
        r = self.stand_ins(IDLE, IDLE).start()
        self.wait_for_child(r, GATEWAY)
        path = os.path.join(os.path.realpath(r.dir), "rpcrestd.sock")
        idle = []
        for _ in range(12):
            s = socket.socket(socket.AF_UNIX)
            self.addCleanup(s.close)
            s.connect(path)
            idle.append(s)
        time.sleep(0.2)
        started = time.monotonic()
        ctl = self.ctl(r, "status")
        self.assertEqual(ctl.returncode, 0, ctl)
        self.assertIn("%s RUNNING" % GATEWAY, re.sub(" +", " ", ctl.stdout))
        self.assertLess(time.monotonic() - started, 8)
        for s in idle:  # each was dropped without an answer
            s.settimeout(10)
            self.assertEqual(s.recv(100), b"")
        self.assertIsNone(r.proc.poll(), r.log())

    def test_a_stopped_rpcrestd_with_a_full_queue_times_out(self):
        """rpcrestd stopped (SIGSTOP) and its listen queue full: rpcrestctl
        gives up after its answer timeout instead of waiting in connect for
        as long as rpcrestd stays stopped."""
        r = self.stand_ins(IDLE, IDLE).start()
        self.wait_for_child(r, GATEWAY)
        path = os.path.join(os.path.realpath(r.dir), "rpcrestd.sock")
        os.kill(r.proc.pid, signal.SIGSTOP)
        self.addCleanup(lambda: pid_alive(r.proc.pid) and os.kill(r.proc.pid, signal.SIGCONT))
        queued = []
        while True:  # until the queue is full (the backlog, and one more)
            s = socket.socket(socket.AF_UNIX)
            self.addCleanup(s.close)
            s.setblocking(False)
            try:
                s.connect(path)
            except BlockingIOError:
                break
            queued.append(s)
        self.assertGreater(len(queued), 10)
        started = time.monotonic()
        ctl = self.ctl(r, "status")
        self.assertEqual(ctl.returncode, 1, ctl)
        self.assertIn("rpcrestd did not accept within 10 s", ctl.stderr)
        self.assertLess(time.monotonic() - started, 13)
        os.kill(r.proc.pid, signal.SIGCONT)

    def test_out_of_files_pauses_accepting_instead_of_spinning(self):
        """When accept fails for want of file descriptors, the connection
        stays queued and rpcrestd tries again every 100 ms instead of
        polling a socket it cannot accept from in a tight loop; once a
        descriptor is free the waiting client is answered."""
        import resource
        r = self.stand_ins(IDLE, IDLE).start()
        self.wait_for_child(r, GATEWAY)
        pid = r.proc.pid
        path = os.path.join(os.path.realpath(r.dir), "rpcrestd.sock")
        before = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        in_use = {int(fd) for fd in os.listdir("/proc/%d/fd" % pid)}
        lowest_free = min(set(range(len(in_use) + 1)) - in_use)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowest_free, before[1]))
        try:
            s = socket.socket(socket.AF_UNIX)
            self.addCleanup(s.close)
            s.connect(path)  # queued: accept4 cannot get it a descriptor
            s.sendall(b"status\n")

            def cpu_ticks():
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                return int(fields[11]) + int(fields[12])
            time.sleep(0.3)
            t0 = cpu_ticks()
            time.sleep(1.5)
            used = cpu_ticks() - t0
            self.assertLess(used, 0.3 * os.sysconf("SC_CLK_TCK"),
                            "rpcrestd used %d ticks in 1.5 s with accept failing" % used)
            log = r.log()
            self.assertEqual(log.count("control socket: accept: Too many open files"), 1, log)
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, before)
        s.settimeout(5)
        answer = b""
        while not answer.endswith(b"\n") or GATEWAY.encode() not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
        self.assertTrue(answer.startswith(b"0\n"), answer)
        self.assertIn(b"%s RUNNING" % GATEWAY.encode(), re.sub(b" +", b" ", answer))
        self.assertIsNone(r.proc.poll(), r.log())

    def test_no_rpcrestd(self):
        r = Rpcrest()
        self.addCleanup(r.cleanup)
        proc = self.ctl(r, "status")
        self.assertEqual(proc.returncode, 1, proc)
        self.assertIn("cannot connect to %s/rpcrestd.sock: No such file or directory (is "
                      "rpcrestd running?)" % os.path.realpath(r.dir), proc.stderr)

    def test_a_config_that_is_not_a_regular_file(self):
        """A FIFO (which rpcrestd refuses at once) or a folder as the INI:
        rpcrestctl says so at once, rather than wait for a writer or look
        for rpcrestd's socket next to it."""
        r = Rpcrest()
        self.addCleanup(r.cleanup)
        fifo = os.path.join(r.dir, "fifo.ini")
        os.mkfifo(fifo)
        for path in (fifo, r.dir):
            proc = subprocess.run([RPCRESTCTL, "-c", path, "status"], capture_output=True,
                                  text=True, timeout=5, stdin=subprocess.DEVNULL)
            self.assertEqual(proc.returncode, 1, proc)
            self.assertEqual(proc.stderr, "rpcrestctl: %s: not a regular file\n" % path)
            self.assertEqual(proc.stdout, "")

    def test_a_config_with_an_error_still_names_the_socket(self):
        """An INI edited since rpcrestd read it, with an error in it: its
        control_socket still leads to rpcrestd."""
        r = self.rpcrest(supervisor={"control_socket": "ctl.sock"})
        with open(r.ini, "a") as ini:
            ini.write("[host]\nthreads = many\n" + "; " + "x" * 300 + "\n")
        proc = self.ctl(r, "status")
        self.assertEqual(proc.returncode, 0, proc)
        self.assertIn(GATEWAY, proc.stdout)

    def test_socket_from_the_ini_and_a_stale_one_is_replaced(self):
        r = Rpcrest(supervisor={"control_socket": "ctl/control.sock"})
        self.addCleanup(r.cleanup)
        os.mkdir(os.path.join(r.dir, "ctl"))
        path = os.path.join(os.path.realpath(r.dir), "ctl", "control.sock")
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(path)
        stale.close()  # a socket file nobody answers on, as after kill -9
        r.start()
        st = os.stat(path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(st.st_uid, os.geteuid())
        self.assertEqual(self.ctl(r, "status").returncode, 0)
        r.proc.send_signal(15)
        self.assertEqual(r.proc.wait(10), 0)
        self.assertFalse(os.path.exists(path), "the socket file outlived rpcrestd")

    def test_a_second_rpcrestd_does_not_take_a_live_control_socket(self):
        first = self.rpcrest()
        second = Rpcrest(supervisor={"control_socket": os.path.join(first.dir, "rpcrestd.sock")})
        self.addCleanup(second.cleanup)
        second.start(wait=False)
        self.assertEqual(second.proc.wait(5), 78, second.log())
        self.assertIn("%s:3: [supervisor] control_socket: %s/rpcrestd.sock: another rpcrestd "
                      "answers on it" % (os.path.realpath(second.ini), first.dir), second.log())
        self.assertEqual(self.ctl(first, "status").returncode, 0)

    def test_refused_for_a_caller_who_may_not_open_the_socket(self):
        """The socket is 0600: another user cannot connect.  (As root, the
        test runs rpcrestctl as nobody; otherwise it takes its own rights
        away from the socket.)"""
        r = self.rpcrest()
        kids = children(r)
        path = os.path.join(os.path.realpath(r.dir), "rpcrestd.sock")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chmod(r.dir, 0o755)  # the INI is readable, the socket is not
            os.chmod(r.ini, 0o644)

            def as_nobody():
                os.setgroups([])
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
            ctl = os.path.join(build_for_anyone(), "rpcrestctl")  # nobody may run it
            proc = self.ctl(r, "status", preexec_fn=as_nobody, program=ctl)
            self.assertEqual(proc.returncode, 1, proc)
            self.assertIn("cannot connect to %s: Permission denied" % path, proc.stderr)
            # and rpcrestd checks who is asking, even if the file were opened up
            os.chmod(path, 0o666)
            proc = self.ctl(r, "stop", HOST, preexec_fn=as_nobody, program=ctl)
            self.assertEqual(proc.returncode, 1, proc)
            self.assertIn("rpcrestd: permission denied", proc.stderr)
            self.wait_for_log(r, r"control socket: refused a connection from uid %d"
                              % nobody.pw_uid)
        else:
            os.chmod(path, 0)
            proc = self.ctl(r, "status")
            self.assertEqual(proc.returncode, 1, proc)
            self.assertIn("cannot connect to %s: Permission denied" % path, proc.stderr)
        self.assertEqual(children(r), kids, "a refused request acted; log:\n" + r.log())

    def test_fatal_child_in_status_and_start(self):
        sup = {"backoff_initial": "0.05", "backoff_jitter": "0", "start_retries": "2"}
        r = self.stand_ins(IDLE, "exit 4\n", supervisor=sup).start()
        self.wait_for_log(r, r"%s is FATAL" % GATEWAY)
        doc = json.loads(self.ctl(r, "status", "--json").stdout)
        c = {c["name"]: c for c in doc["children"]}
        self.assertEqual(c[GATEWAY]["state"], "FATAL")
        self.assertIsNone(c[GATEWAY]["pid"])
        self.assertEqual(c[GATEWAY]["last_exit"], {"code": 4})
        self.assertEqual(c[GATEWAY]["fast_failures"], 2)
        self.assertEqual(c[HOST]["state"], "RUNNING")
        self.assertEqual(self.ctl(r, "restart", GATEWAY).returncode, 0)
        self.assertTrue(wait_until(lambda: starts(r.log(), GATEWAY) == 3, 3), r.log())
        self.wait_for_log(r, r"(?s)rpcrestctl: restarting %s.*%s is FATAL" % (GATEWAY, GATEWAY))


if __name__ == "__main__":
    unittest.main()
