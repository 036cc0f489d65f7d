"""End-to-end tests of the host's private unix socket ([host] private_listen,
common/rp_private.c): by default the gateway reaches the host over it; the
host publishes it as a symlink to its own socket and removes both on a
clean stop; `off`, or a [gateway] upstream, keeps the gateway on TCP; a
socket that cannot be bound is said once.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import harness


def upstream_of(log):
    """The upstream the gateway said it uses ("listening on ... upstream X")."""
    for line in log.splitlines():
        if "rpcrest-gateway" in line and " upstream " in line:
            return line.rsplit(" upstream ", 1)[1].strip()
    return None


class PrivateSocket(unittest.TestCase):
    def test_gateway_uses_the_private_socket_by_default(self):
        path_dir = tempfile.mkdtemp(prefix="rpcrest-private-")
        self.addCleanup(shutil.rmtree, path_dir, True)
        path = os.path.join(path_dir, "host.sock")
        with harness.Rpcrest(host={"private_listen": "unix:" + path}) as r:
            status, _, body = r.http("POST", "/v1/example/echo", b'{"value":"over unix"}')
            self.assertEqual((status, body), (200, b'{"value":"over unix"}'))
            self.assertTrue(harness.wait_until(lambda: upstream_of(r.log()), 5), r.log())
            self.assertEqual(upstream_of(r.log()), "unix:" + path)
            # PATH is a symlink to the host's own socket PATH.PID
            target = os.readlink(path)
            host_pid = r.children()["rpcrest-host"]
            self.assertEqual(target, "%s.%d" % (path, host_pid))
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            s.close()
            # the public address still serves gRPC clients
            self.assertTrue(harness.port_open(r.host_port))
        # a clean stop leaves nothing behind
        self.assertFalse(os.path.lexists(path), os.listdir(path_dir))
        self.assertFalse(os.path.lexists(target))

    def test_host_sweeps_what_killed_hosts_left(self):
        """A host that was killed leaves its socket (PATH.PID) and maybe the
        link to it.  A host that publishes its own in the default runtime
        folder removes the sockets of that family nobody accepts on, and
        links to sockets that are gone; what still answers, and anything
        named otherwise, stays."""
        runtime = tempfile.mkdtemp(prefix="rpcrest-runtime-")
        self.addCleanup(shutil.rmtree, runtime, True)
        os.chmod(runtime, 0o700)

        def unix_socket(name, listening):
            s = socket.socket(socket.AF_UNIX)
            s.bind(os.path.join(runtime, name))
            if listening:
                s.listen(1)
                self.addCleanup(s.close)
            else:
                s.close()  # the file stays, as a killed host leaves it
                old = time.time() - 120  # a host may be starting on a newer one
                os.utime(os.path.join(runtime, name), (old, old))

        unix_socket("host-0123456789abcdef.sock.4242", False)
        os.symlink(os.path.join(runtime, "host-0123456789abcdef.sock.4242"),
                   os.path.join(runtime, "host-0123456789abcdef.sock"))
        unix_socket("host-fedcba9876543210.sock.4343", True)
        os.symlink(os.path.join(runtime, "host-fedcba9876543210.sock.4343"),
                   os.path.join(runtime, "host-fedcba9876543210.sock"))
        unix_socket("other.sock.4444", False)
        unix_socket("host-00112233445566aa.sock.4545", False)
        fresh = os.path.join(runtime, "host-00112233445566aa.sock.4545")
        os.utime(fresh, None)  # bound just now: maybe a host between bind and listen
        open(os.path.join(runtime, "notes.txt"), "w").close()
        r = harness.Rpcrest()
        self.addCleanup(r.cleanup)
        r.start(env=dict(os.environ, XDG_RUNTIME_DIR=runtime))
        self.assertEqual(r.http("POST", "/v1/example/echo", b'{"value":"x"}')[0], 200)
        left = set(os.listdir(runtime))
        self.assertNotIn("host-0123456789abcdef.sock.4242", left)
        self.assertNotIn("host-0123456789abcdef.sock", left)
        for name in ("host-fedcba9876543210.sock.4343", "host-fedcba9876543210.sock",
                     "other.sock.4444", "notes.txt", "host-00112233445566aa.sock.4545"):
            self.assertIn(name, left)
        # and the host's own
        host_pid = r.children()["rpcrest-host"]
        self.assertTrue(any(n.endswith(".sock.%d" % host_pid) for n in left), left)

    def test_a_socket_that_cannot_be_bound_is_said_once(self):
        """When the host cannot bind its own socket PATH.PID, one line says
        so, naming the setting, the path and why (not gRPC core's error as
        well, nor a second line of the host's), and the host serves on its
        public address alone."""
        d = tempfile.mkdtemp(prefix="rpcrest-private-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o700)
        path = os.path.join(d, "host.sock")
        port = harness.free_port()
        ini = os.path.join(d, "host.ini")
        with open(ini, "w") as f:
            f.write("[host]\nlisten = 127.0.0.1:%d\nprivate_listen = unix:%s\n"
                    "[service.echo]\nplugin = %s/services/echo.so\n"
                    % (port, path, harness.BUILD))
        log_path = os.path.join(d, "host.log")
        with open(log_path, "wb") as log:
            # the shell's pid is the host's (exec): a folder where its socket goes
            proc = subprocess.Popen(
                ["/bin/sh", "-c", 'mkdir "$0.$$" && exec "$1" -c "$2"', path,
                 os.path.join(harness.BUILD, "rpcrest-host"), ini],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(harness.stop_process, proc)

        def lines():
            with open(log_path) as f:
                return f.read().splitlines()
        self.assertTrue(harness.wait_until(
            lambda: any(" serving example.MyService " in l for l in lines()), 10), lines())
        self.assertTrue(harness.port_open(port))
        harness.stop_process(proc)
        lines = lines()
        about = [l for l in lines if "private_listen" in l or "bind" in l or "grpc " in l]
        self.assertEqual(about, [
            "rpcrest-host: [host] private_listen: cannot bind unix:%s.%d: the path exists and "
            "is not a socket; the gateway will use 127.0.0.1:%d" % (path, proc.pid, port)],
            lines)

    def test_off_keeps_the_gateway_on_tcp(self):
        with harness.Rpcrest(host={"private_listen": "off"}) as r:
            status, _, _ = r.http("POST", "/v1/example/echo", b'{"value":"tcp"}')
            self.assertEqual(status, 200)
            self.assertTrue(harness.wait_until(lambda: upstream_of(r.log()), 5), r.log())
            self.assertEqual(upstream_of(r.log()), "ipv4:127.0.0.1:%d" % r.host_port)

    def test_upstream_wins(self):
        r = harness.Rpcrest()
        self.addCleanup(r.cleanup)
        target = "ipv4:127.0.0.1:%d" % r.host_port
        with open(r.ini) as f:
            text = f.read()
        with open(r.ini, "w") as f:
            f.write(text.replace("[gateway]\n", "[gateway]\nupstream = %s\n" % target, 1))
        r.start()
        self.assertTrue(harness.wait_until(lambda: upstream_of(r.log()), 5), r.log())
        self.assertEqual(upstream_of(r.log()), target)

    def test_bad_value_is_a_config_error(self):
        r = harness.Rpcrest(host={"private_listen": "tcp:1"})
        self.addCleanup(r.cleanup)
        r.start(wait=False)
        r.proc.wait(10)
        self.assertEqual(r.proc.returncode, 78, r.log())
        self.assertIn("private_listen: 'tcp:1' is not off or unix:PATH", r.log())


if __name__ == "__main__":
    unittest.main()
