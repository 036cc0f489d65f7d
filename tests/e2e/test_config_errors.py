"""A bad INI stops each of rpcrestd, rpcrest-host and rpcrest-gateway at once
with exit status 78 and the same "FILE:LINE: what is wrong" on stderr: all
three read the file through common/rp_config.c."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import BUILD, free_port

PROGRAMS = ("rpcrestd", "rpcrest-host", "rpcrest-gateway")
EX_CONFIG = 78

# (INI text, line of the error or None for "any", what the message says)
CASES = [
    ("; settings\n[bogus]\nkey = 1\n", 2, "unknown section [bogus]"),
    ("[host]\nlisten = 127.0.0.1:0\n", 2, "listen: '127.0.0.1:0' is not HOST:PORT"),
    ("[gateway]\nlisten = 127.0.0.1:8080\ndrain_timeout = 5\n", 3,
     "unknown key 'drain_timeout' in [gateway]"),
    ("[supervisor]\nstop_timeout = 1\nstop_timeout = 2\n", 3,
     "key 'stop_timeout' appears twice in [supervisor]"),
    ("[service.x]\nplugin = nope.so\n", 2, "plugin: {dir}/nope.so: No such file or directory"),
    ("[host]\n\n[service.x]\ncolor = red\n", 3, "[service.x] has no 'plugin = PATH.so'"),
    ("[service.no good]\n", 1, "[service.no good]: a service name is letters, digits"),
    ("[host]\nthreads\n", 2, "syntax error"),
    ("[host]\nlisten = 127.0.0.1:8080\n", None, "[host] and [gateway] both listen on"),
    # restart policies that would restart a failing child at once, for ever
    ("[supervisor]\nbackoff_initial = 0\nbackoff_max = 0\nstart_retries = 0\n", 4,
     "[supervisor] backoff_max = 0 with start_retries = 0 (never give up) would restart a "
     "child at once, for ever, while it keeps failing: set one of them above 0"),
    ("[supervisor]\nstart_retries = 0\n[gateway]\nbackoff_initial = 0\nbackoff_max = 0\n", 5,
     "[gateway] backoff_max = 0 with [supervisor] start_retries = 0 (never give up) would "
     "restart the gateway at once"),
    ("[host]\nbackoff_initial = 0\nstart_seconds = 0\n", 3,
     "[host] backoff_initial = 0 with start_seconds = 0 (any start that gets ready is a good "
     "one) would restart the host at once, for ever, while it keeps failing right after it is "
     "ready"),
]


class ConfigErrors(unittest.TestCase):
    def setUp(self):
        self.dir = os.path.realpath(tempfile.mkdtemp(prefix="rpcrest-config-"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.ini = os.path.join(self.dir, "rpcrest.ini")

    def run_program(self, program, ini):
        """(exit status, stderr text); a program that does not stop is killed
        by subprocess.run's timeout and fails the test."""
        proc = subprocess.run([os.path.join(BUILD, program), "-c", ini],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        return proc.returncode, proc.stderr.decode("utf-8", "replace")

    # Every case runs on every program; the failures are listed together.
    def test_each_program_reports_file_and_line(self):
        problems = []
        for text, line, what in CASES:
            with open(self.ini, "w") as f:
                f.write(text)
            expected = re.escape(self.ini) + ":" + (str(line) if line else r"\d+") + ": " \
                + re.escape(what.format(dir=self.dir))
            for program in PROGRAMS:
                status, err = self.run_program(program, self.ini)
                if status != EX_CONFIG or not re.search(expected, err):
                    problems.append("%s on %r: exit %s, stderr %r (expected /%s/)"
                                    % (program, text, status, err, expected))
        self.assertEqual(problems, [], "\n".join(problems))

    def test_each_program_reports_a_missing_file(self):
        missing = os.path.join(self.dir, "nope.ini")
        for program in PROGRAMS:
            status, err = self.run_program(program, missing)
            self.assertEqual(status, EX_CONFIG, "%s: %s" % (program, err))
            self.assertIn("%s: No such file or directory" % missing, err, program)

    def test_each_program_writes_one_clean_line_under_its_name(self):
        """The error is one line of the program's log: its name first
        (rpcrestd's after the time), no control character from the path
        reaching the terminal."""
        for name, text in (("no\x1bpe.ini", None), ("b\x1bad.ini", "[bogus]\n")):
            path = os.path.join(self.dir, name)
            if text:
                with open(path, "w") as f:
                    f.write(text)
            shown = re.escape(path.replace("\x1b", "?"))
            for program in PROGRAMS:
                status, err = self.run_program(program, path)
                self.assertEqual(status, EX_CONFIG, "%s: %r" % (program, err))
                self.assertRegex(err, r"\A(\S+ )?%s: %s(:1: unknown section|: No such file)[^\n]*"
                                 r"\n\Z" % (re.escape(program), shown), program)

    def test_rpcrestd_reports_its_own_files_with_file_and_line(self):
        """[supervisor] control_socket and log_file are rpcrestd's alone: a
        path it cannot use is a configuration error like the others."""
        with open(os.path.join(self.dir, "regular.txt"), "w") as f:
            f.write("not a socket\n")
        cases = [
            ("control_socket = regular.txt",
             "[supervisor] control_socket: %s/regular.txt: exists and is not a socket" % self.dir),
            ("control_socket = /nonexistent/x.sock",
             "[supervisor] control_socket: /nonexistent/x.sock: bind: No such file or directory"),
            ("log_file = /nonexistent/x.log",
             "[supervisor] log_file: cannot open /nonexistent/x.log: No such file or directory"),
            ("log_file = /tmp", "[supervisor] log_file: cannot open /tmp: Is a directory"),
            ("log_file = log.fifo", "[supervisor] log_file: cannot open %s/log.fifo: it is a "
             "FIFO that no process reads" % self.dir),
        ]
        os.mkfifo(os.path.join(self.dir, "log.fifo"))
        problems = []
        for key, what in cases:
            with open(self.ini, "w") as f:
                f.write("[host]\nlisten = 127.0.0.1:%d\n[gateway]\nlisten = 127.0.0.1:%d\n"
                        "[supervisor]\n%s\n" % (free_port(), free_port(), key))
            status, err = self.run_program("rpcrestd", self.ini)
            expected = "%s:6: %s" % (self.ini, what)
            if status != EX_CONFIG or expected not in err:
                problems.append("%r: exit %s, stderr %r (expected %r)" % (key, status, err,
                                                                          expected))
        self.assertEqual(problems, [], "\n".join(problems))


    def test_rpcrestd_reports_addresses_that_cannot_be_bound(self):
        """An address the host or the gateway could never bind is the INI's
        error, said at once, not a child failing until it is given up on.
        192.0.2.1 is a documentation address, no interface's: bind fails at
        once, and nothing is sent."""
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        self.addCleanup(busy.close)
        in_use = busy.getsockname()[1]
        port = free_port()
        cases = [
            ("listen = 192.0.2.1:%d" % port, "listen = 127.0.0.1:%d" % free_port(), 2,
             "[host] listen: cannot bind 192.0.2.1:%d: Cannot assign requested address" % port),
            ("listen = unix:/nonexistent/dir/h.sock", "listen = 127.0.0.1:%d" % free_port(), 2,
             "[host] listen: unix:/nonexistent/dir/h.sock: folder /nonexistent/dir: No such "
             "file or directory"),
            ("listen = 127.0.0.1:%d" % free_port(), "listen = 127.0.0.1:%d" % in_use, 4,
             "[gateway] listen: bind 127.0.0.1:%d: Address already in use" % in_use),
            ("listen = 127.0.0.1:%d" % free_port(), "listen = 192.0.2.1:%d" % port, 4,
             "[gateway] listen: bind 192.0.2.1:%d: Cannot assign requested address" % port),
        ]
        problems = []
        for host, gateway, line, what in cases:
            with open(self.ini, "w") as f:
                f.write("[host]\n%s\n[gateway]\n%s\n" % (host, gateway))
            status, err = self.run_program("rpcrestd", self.ini)
            expected = "%s:%d: %s" % (self.ini, line, what)
            if status != EX_CONFIG or expected not in err:
                problems.append("%r / %r: exit %s, stderr %r (expected %r)"
                                % (host, gateway, status, err, expected))
        self.assertEqual(problems, [], "\n".join(problems))

if __name__ == "__main__":
    unittest.main()
