"""End-to-end tests of TLS and least privilege.

TLS: certificates are made here with openssl (a CA, a server certificate for
IP 127.0.0.1 and DNS localhost, a client certificate, and a client
certificate from a CA nobody trusts).  HTTPS on the gateway (curl --cacert,
both with the socket rpcrestd passes down and with one the gateway binds
itself), TLS and mutual TLS on the host's gRPC port (Python grpcio), the
gateway calling a host over mutual TLS (discovery, calls and health on the
same channel), and the errors for bad certificate files.

Privilege: [supervisor] user = nobody (the children's uids and groups from
/proc/PID/status, ports below 1024 bound before the switch, the private
socket's folder and mode), the errors for an unknown user and for a user
that is not root, and plugins other users could replace (StrictModes).
"""
import atexit
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import time
import unittest

import grpc

import harness

EX_CONFIG = 78
HOST_BIN = os.path.join(harness.BUILD, "rpcrest-host")
GATEWAY_BIN = os.path.join(harness.BUILD, "rpcrest-gateway")
ECHO_SO = os.path.join(harness.BUILD, "services", "echo.so")
ECHO_PB = os.path.join(harness.BUILD, "services", "echo.pb")
ECHO = "/example.MyService/Echo"
NOBODY = 65534


def string_message(value):
    """example.StringMessage{value} in the wire format (field 1, string)."""
    data = value.encode()
    assert len(data) < 128
    return b"\x0a" + bytes([len(data)]) + data


_certs = []  # the folder of certificates, made once on first use


def make_certs():
    folder = tempfile.mkdtemp(prefix="rpcrest-certs-")
    atexit.register(shutil.rmtree, folder, True)

    def run(*args):
        subprocess.run(args, cwd=folder, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def signed(name, ca, ext, bits=2048):
        run("openssl", "req", "-newkey", "rsa:%d" % bits, "-nodes", "-keyout", name + ".key",
            "-out", name + ".csr", "-subj", "/CN=" + name)
        with open(os.path.join(folder, name + ".ext"), "w") as f:
            f.write(ext + "\n")
        run("openssl", "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey",
            ca + ".key", "-CAcreateserial", "-days", "2", "-extfile", name + ".ext",
            "-out", name + ".pem")

    for ca in ("ca", "rogue-ca"):
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca + ".key",
            "-out", ca + ".pem", "-days", "2", "-subj", "/CN=rpcrest test " + ca)
    signed("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                           "extendedKeyUsage=serverAuth")
    signed("client", "ca", "extendedKeyUsage=clientAuth")
    signed("rogue", "rogue-ca", "extendedKeyUsage=clientAuth")
    signed("weak", "ca", "subjectAltName=IP:127.0.0.1", bits=1024)  # too weak for OpenSSL
    with open(os.path.join(folder, "junk.pem"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    return folder


def cert(name):
    """The path of a file made by make_certs: ca.pem, server.pem/.key,
    client.pem/.key, rogue-ca.pem, rogue.pem/.key (signed by rogue-ca),
    weak.pem/.key (RSA 1024), junk.pem."""
    if not _certs:
        _certs.append(make_certs())
    return os.path.join(_certs[0], name)


def read(name):
    with open(cert(name), "rb") as f:
        return f.read()


def https(port, method, path, body=None, timeout=10):
    """(status, body) over HTTPS, checking the server against our CA."""
    ctx = ssl.create_default_context(cafile=cert("ca.pem"))
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ctx)
    try:
        conn.request(method, path, body=body,
                     headers={"Content-Type": "application/json"} if body else {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def https_ready(port):
    try:
        return https(port, "POST", "/v1/example/echo", b'{"value":"ping"}', 2)[0] == 200
    except (OSError, ssl.SSLError, http.client.HTTPException):
        return False


def failed_handshakes(port, n):
    """n plain HTTP requests to a TLS port, each a failed handshake."""
    for _ in range(n):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                s.recv(100)
            except OSError:
                pass
    time.sleep(0.3)  # for the last lines to reach the log


def curl(*args):
    """curl's (exit status, stdout)."""
    p = subprocess.run(["curl", "-sS", "--max-time", "10"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout


def echo_call(channel, value="over tls", timeout=5):
    call = channel.unary_unary(ECHO)
    return call(string_message(value), timeout=timeout)


def tls_channel(port, client=None, ca="ca.pem"):
    creds = grpc.ssl_channel_credentials(
        root_certificates=read(ca),
        private_key=read(client + ".key") if client else None,
        certificate_chain=read(client + ".pem") if client else None)
    return grpc.secure_channel("127.0.0.1:%d" % port, creds)


class Process:
    """One program run alone with an INI of its own; stopped by PID."""

    def __init__(self, binary, text):
        self.dir = tempfile.mkdtemp(prefix="rpcrest-security-")
        self.ini = os.path.join(self.dir, "rpcrest.ini")
        self.log_path = os.path.join(self.dir, "log")
        with open(self.ini, "w") as f:
            f.write(text)
        self.binary = binary
        self.proc = None

    def start(self, **kw):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([self.binary, "-c", self.ini], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, **kw)
        return self

    def exit_status(self, timeout=10):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Case(unittest.TestCase):
    def rpcrest(self, **kw):
        r = harness.Rpcrest(**kw)
        self.addCleanup(r.cleanup)
        return r

    def process(self, binary, text):
        p = Process(binary, text)
        self.addCleanup(p.cleanup)
        return p

    def refused(self, p, what, **kw):
        """Starts p, expects exit 78 with `what` in its output."""
        p.start(**kw)
        self.assertEqual(p.exit_status(), EX_CONFIG, p.log())
        self.assertIn(what, p.log())
        return p.log()


# ---- TLS ------------------------------------------------------------------------

class GatewayHttps(Case):
    def test_https_with_the_socket_rpcrestd_passes_down(self):
        r = self.rpcrest(gateway={"cert": cert("server.pem"), "key": cert("server.key")})
        r.start(wait=False)
        self.assertTrue(harness.wait_until(lambda: https_ready(r.http_port), 15), r.log())
        rc, out = curl("--cacert", cert("ca.pem"), "-d", '{"value":"over https"}',
                       "https://127.0.0.1:%d/v1/example/echo" % r.http_port)
        self.assertEqual((rc, out), (0, b'{"value":"over https"}'))
        # the name in the certificate is checked: localhost is in it too
        rc, out = curl("--cacert", cert("ca.pem"), "--resolve",
                       "localhost:%d:127.0.0.1" % r.http_port, "-d", '{"value":"by name"}',
                       "https://localhost:%d/v1/example/echo" % r.http_port)
        self.assertEqual((rc, out), (0, b'{"value":"by name"}'))
        # a client that does not trust the CA stops; plain HTTP gets no answer
        rc, _ = curl("https://127.0.0.1:%d/v1/example/echo" % r.http_port)
        self.assertEqual(rc, 60, "curl: peer certificate cannot be authenticated")
        rc, out = curl("http://127.0.0.1:%d/v1/example/echo" % r.http_port)
        self.assertNotEqual(rc, 0)
        self.assertTrue(harness.wait_until(  # it may serve before it logs
            lambda: "listening on https://127.0.0.1:%d" % r.http_port in r.log(), 5), r.log())
        # the gateway is still serving
        self.assertEqual(https(r.http_port, "GET", "/healthz")[0], 200)
        # TLS 1.2 and 1.3 only, with forward secrecy (openssl offers the rest
        # at security level 0)
        for args, takes in ((["-tls1"], False), (["-tls1_1"], False),
                            (["-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0"], False),
                            (["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"], False),
                            (["-tls1_2"], True), (["-tls1_3"], True)):
            with self.subTest(args=args):
                extra = [] if "-cipher" in args else ["-cipher", "ALL:@SECLEVEL=0"]
                p = subprocess.run(["openssl", "s_client", "-connect",
                                    "127.0.0.1:%d" % r.http_port] + args + extra,
                                   input=b"", capture_output=True, timeout=10)
                out = p.stdout.decode("utf-8", "replace")
                self.assertEqual("Cipher is (NONE)" not in out and p.returncode == 0, takes,
                                 out[-600:] + p.stderr.decode("utf-8", "replace")[-600:])

    def test_certificate_gnutls_refuses(self):
        """A brainpoolP256r1 key passes OpenSSL's check, but GnuTLS (which
        serves HTTPS, and checks the gateway's PEM files) takes no such
        curve: FILE:LINE and exit 78, as for any other unusable key, not
        exit 1 and restarts."""
        tmp = tempfile.mkdtemp(prefix="rpcrest-brainpool-")
        self.addCleanup(shutil.rmtree, tmp, True)
        key, crt = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:brainpoolP256r1", "-nodes", "-keyout", key, "-out",
                        crt, "-subj", "/CN=127.0.0.1", "-days", "2"],
                       check=True, capture_output=True, timeout=30)
        p = self.process(GATEWAY_BIN, "[gateway]\nlisten = 127.0.0.1:%d\nupstream = 127.0.0.1:1\n"
                         "descriptors = %s\ntimeout = 0.2\ncert = %s\nkey = %s\n"
                         % (harness.free_port(), ECHO_PB, crt, key))
        log = self.refused(p, ": key: %s: not an unencrypted PEM private key (" % key)
        self.assertRegex(log, r"\S+\.ini:\d+: key: ")
        # checked on its own at start, before the API is loaded
        self.assertNotIn("serving", log)

    def test_start_failure_is_not_blamed_on_the_certificate(self):
        """With a certificate GnuTLS takes, the HTTP server failing to start
        (libmicrohttpd or the gateway's own sockets out of descriptors
        here) is exit 1 and one line with its reason,
        not the certificate's FILE:LINE and exit 78, which rpcrestd takes
        for a configuration error and does not restart.  Where the
        descriptors run out moves with the build, so the limit goes up one
        at a time until the gateway serves; four threads start four daemons,
        so several limits fall on one."""
        text = ("[gateway]\nlisten = 127.0.0.1:%d\nupstream = 127.0.0.1:1\ndescriptors = %s\n"
                "timeout = 0.2\nthreads = 4\nmetrics = off\ncert = %s\nkey = %s\n"
                % (harness.free_port(), ECHO_PB, cert("server.pem"), cert("server.key")))
        daemon_failures = []
        for limit in range(4, 100):
            p = self.process(GATEWAY_BIN, text)
            p.start(preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                          (limit, limit)))
            self.assertTrue(harness.wait_until(
                lambda: p.proc.poll() is not None or "listening on" in p.log(), 10), p.log())
            log = p.log()
            if p.proc.poll() is None:
                break  # enough descriptors: serving
            self.assertNotIn("cert:", log)
            if "cannot start the HTTP server" in log:
                daemon_failures.append((p.proc.returncode, log))
        self.assertIn("listening on", log)
        self.assertTrue(daemon_failures, "libmicrohttpd never failed to start")
        for status, log in daemon_failures:
            self.assertEqual(status, 1, log)
            self.assertRegex(log, r"rpcrest-gateway: listen 127\.0\.0\.1:\d+: cannot start the "
                             r"HTTP server: [^\n]*Too many open files\n")
            self.assertNotIn("GnuTLS", log)
            self.assertLessEqual(log.count("libmicrohttpd"), 1, log)

    def test_https_on_a_socket_the_gateway_binds(self):
        r = self.rpcrest()
        r.start()
        port = harness.free_port()
        p = self.process(GATEWAY_BIN, "[gateway]\nlisten = 127.0.0.1:%d\nupstream = %s\n"
                         "descriptors = %s\ncert = %s\nkey = %s\n"
                         % (port, r.grpc_target(), ECHO_PB, cert("server.pem"),
                            cert("server.key"))).start()
        self.assertTrue(harness.wait_until(lambda: https_ready(port), 10), p.log())
        rc, out = curl("--cacert", cert("ca.pem"), "-d", '{"value":"alone"}',
                       "https://127.0.0.1:%d/v1/example/echo" % port)
        self.assertEqual((rc, out), (0, b'{"value":"alone"}'))
        # 300 plaintext requests, each a failed handshake: at most 10 lines a
        # second in the log (it wrote one each, 4,000 a second from one loop)
        failed_handshakes(port, 300)
        lines = [l for l in p.log().splitlines() if "libmicrohttpd" in l]
        self.assertLessEqual(len(lines), 40, lines[:5])
        self.assertGreaterEqual(len(lines), 1)


class HostTls(Case):
    def test_private_socket_unusable_and_no_upstream_ca(self):
        """The gateway cannot fall back to the host's TLS port without
        upstream_ca: it says so and exits (plaintext there failed every call
        while the gateway looked ready)."""
        folder = tempfile.mkdtemp(prefix="rpcrest-open-")
        self.addCleanup(shutil.rmtree, folder, True)
        os.chmod(folder, 0o755)  # others may enter: not a folder for the private socket
        r = self.rpcrest(host={"cert": cert("server.pem"), "key": cert("server.key"),
                               "private_listen": "unix:%s/host.sock" % folder})
        r.start(wait=False)
        self.assertTrue(harness.wait_until(
            lambda: "the gateway can reach the host only over its private socket" in r.log(),
            15), r.log())

    def test_tls_port_and_the_gateway_on_the_private_socket(self):
        r = self.rpcrest(host={"cert": cert("server.pem"), "key": cert("server.key")})
        r.start()  # the REST echo works: the gateway uses the plaintext private socket
        with tls_channel(r.host_port) as ch:
            self.assertEqual(echo_call(ch, "grpc over tls"), string_message("grpc over tls"))
        with grpc.insecure_channel(r.grpc_target()) as ch:
            with self.assertRaises(grpc.RpcError) as cm:
                echo_call(ch, timeout=3)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        # a client that does not trust the server's CA
        with tls_channel(r.host_port, ca="rogue-ca.pem") as ch:
            with self.assertRaises(grpc.RpcError) as cm:
                echo_call(ch, timeout=3)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        # 300 failed handshakes (plain HTTP): gRPC core's line for each is
        # limited to 10 a second in the log
        failed_handshakes(r.host_port, 300)
        failed = [l for l in r.log().splitlines() if "Handshake failed" in l]
        self.assertLessEqual(len(failed), 40, failed[:3])

    def test_client_ca_requires_a_client_certificate(self):
        r = self.rpcrest(host={"cert": cert("server.pem"), "key": cert("server.key"),
                               "client_ca": cert("ca.pem")})
        r.start()
        with tls_channel(r.host_port, client="client") as ch:
            self.assertEqual(echo_call(ch, "mutual"), string_message("mutual"))
        for client in (None, "rogue"):
            with tls_channel(r.host_port, client=client) as ch:
                with self.assertRaises(grpc.RpcError, msg=client) as cm:
                    echo_call(ch, timeout=3)
                self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)


class GatewayToHostMutualTls(Case):
    """A gateway alone (reflection, no descriptor file) in front of a host
    whose port requires client certificates."""

    def host(self):
        r = self.rpcrest(services=("echo", "testkit"),
                         host={"cert": cert("server.pem"), "key": cert("server.key"),
                               "client_ca": cert("ca.pem"), "private_listen": "off"},
                         gateway={"upstream_ca": cert("ca.pem"),
                                  "upstream_cert": cert("client.pem"),
                                  "upstream_key": cert("client.key")})
        r.start()  # its own gateway calls it over mutual TLS too
        return r

    def gateway(self, r, keys):
        port = harness.free_port()
        text = "[gateway]\nlisten = 127.0.0.1:%d\nupstream = ipv4:127.0.0.1:%d\ntimeout = 3\n" % (
            port, r.host_port)
        text += "".join("%s = %s\n" % kv for kv in keys.items())
        return port, self.process(GATEWAY_BIN, text).start()

    def test_calls_discovery_and_health_over_mutual_tls(self):
        r = self.host()
        self.assertIn("upstream ipv4:127.0.0.1:%d (TLS)" % r.host_port, r.log())
        port, p = self.gateway(r, {"upstream_ca": cert("ca.pem"),
                                   "upstream_cert": cert("client.pem"),
                                   "upstream_key": cert("client.key")})
        self.assertTrue(harness.wait_until(lambda: "listening on http://" in p.log(), 10),
                        p.log())
        self.assertIn("upstream ipv4:127.0.0.1:%d (TLS)" % r.host_port, p.log())
        self.assertIn("calls: on each HTTP thread's own HTTP/2 connections to "
                      "ipv4:127.0.0.1:%d (TLS)" % r.host_port, p.log())
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/v1/example/echo", body=b'{"value":"mtls"}')
        resp = conn.getresponse()
        self.assertEqual((resp.status, resp.read()), (200, b'{"value":"mtls"}'))
        big = b'{"value":"' + b"m" * (1 << 20) + b'"}'  # many TLS records each way
        for _ in range(3):
            conn.request("POST", "/v1/example/echo", body=big)
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (200, big))
        conn.request("GET", "/v1/testkit/stream?count=2000&size=1000")  # a stream too
        resp = conn.getresponse()
        lines = resp.read().split(b"\n")
        self.assertEqual((resp.status, len(lines), lines[-1]), (200, 2001, b""))
        self.assertIn(b'"index":1999', lines[-2])
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        body = resp.read()
        self.assertEqual(resp.status, 200, body)
        self.assertIn(b'"status":"SERVING"', body)
        conn.close()

    def test_upstream_name_is_the_name_checked(self):
        """The upstream's certificate must carry upstream_name and be signed
        by upstream_ca; a handshake that fails is the connect's failure,
        with GnuTLS's reason."""
        r = self.host()
        mtls = {"upstream_ca": cert("ca.pem"), "upstream_cert": cert("client.pem"),
                "upstream_key": cert("client.key"), "descriptors": ECHO_PB}
        cases = (({"upstream_name": "localhost"}, 200, None),
                 ({"upstream_name": "elsewhere.example"}, 503,
                  "(for elsewhere.example): The certificate is NOT trusted. The name in the "
                  "certificate does not match the expected."),
                 ({"upstream_ca": cert("rogue-ca.pem")}, 503,
                  "(for 127.0.0.1): The certificate is NOT trusted. The certificate issuer is "
                  "unknown."))
        for keys, want, why in cases:
            port, p = self.gateway(r, dict(mtls, **keys))
            self.assertTrue(harness.wait_until(lambda: "listening on http://" in p.log(), 10),
                            p.log())
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/v1/example/echo", body=b'{"value":"named"}')
            resp = conn.getresponse()
            body = resp.read()
            conn.close()
            self.assertEqual(resp.status, want, (keys, body))
            if why:
                self.assertIn("cannot connect to the upstream: TLS handshake: the upstream's "
                              "certificate " + why, body.decode())

    def test_reflection_says_why_it_cannot_connect(self):
        """Discovery waits for the upstream to be reachable, so its deadline
        is all it learns; the log line names the handshake's failure too."""
        r = self.host()
        port, p = self.gateway(r, {"upstream_ca": cert("ca.pem"),
                                   "upstream_cert": cert("client.pem"),
                                   "upstream_key": cert("client.key"),
                                   "upstream_name": "elsewhere.example"})
        self.assertTrue(harness.wait_until(lambda: "listening on http://" in p.log(), 15),
                        p.log())
        line = [l for l in p.log().splitlines() if "reflection: no answer" in l]
        self.assertEqual(len(line), 1, p.log())
        self.assertIn("; cannot connect: ", line[0])
        self.assertIn("TLS handshake: the upstream's certificate (for elsewhere.example): "
                      "The certificate is NOT trusted. The name in the certificate does not "
                      "match the expected.", line[0])

    def test_without_a_client_certificate_the_host_refuses(self):
        """Under TLS 1.3 the host refuses the missing certificate after the
        gateway's handshake is done: still a connect that failed, logged
        once and backed off (it was a new handshake for every request)."""
        r = self.host()
        port, p = self.gateway(r, {"upstream_ca": cert("ca.pem"), "descriptors": ECHO_PB})
        self.assertTrue(harness.wait_until(lambda: "listening on http://" in p.log(), 10),
                        p.log())
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(20):
            conn.request("POST", "/v1/example/echo", body=b'{"value":"mtls"}')
            resp = conn.getresponse()
            body = resp.read()
            self.assertEqual(resp.status, 503, body)
            message = json.loads(body)["message"]
            # (its alert, or its closing the connection, as the host's OpenSSL sends it)
            self.assertTrue(message.startswith("cannot connect to the upstream: "), message)
        conn.close()
        self.assertEqual(p.log().count("cannot connect: "), 1, p.log())


class BadTlsFiles(Case):
    def test_bad_files_are_config_errors(self):
        cases = [
            ({"gateway": {"cert": cert("junk.pem"), "key": cert("server.key")}},
             ": cert: %s: not a PEM certificate" % cert("junk.pem")),
            ({"gateway": {"cert": cert("server.pem"), "key": cert("client.key")}},
             ": key: %s: the key does not match the certificate" % cert("client.key")),
            ({"host": {"cert": cert("server.pem"), "key": cert("server.key"),
                       "client_ca": cert("server.key")}},
             ": client_ca: %s: not a PEM certificate" % cert("server.key")),
            ({"gateway": {"upstream_ca": cert("missing.pem")}},
             ": upstream_ca: %s: No such file or directory" % cert("missing.pem")),
            ({"gateway": {"cert": cert("server.pem")}},
             ": [gateway] cert is set but key is not"),
        ]
        for keys, what in cases:
            r = self.rpcrest(**keys)
            r.start(wait=False)
            r.proc.wait(10)
            self.assertEqual(r.proc.returncode, EX_CONFIG, r.log())
            self.assertIn(r.ini + ":", r.log())
            self.assertIn(what, r.log())
        # each program checks on its own too
        p = self.process(HOST_BIN, "[host]\nlisten = 127.0.0.1:%d\ncert = %s\nkey = %s\n"
                         "[service.echo]\nplugin = %s\n"
                         % (harness.free_port(), cert("server.pem"), cert("rogue.key"), ECHO_SO))
        log = self.refused(p, "the key does not match the certificate")
        self.assertIn(p.ini + ":4: key: ", log)
        p = self.process(GATEWAY_BIN, "[gateway]\nlisten = 127.0.0.1:%d\nupstream = "
                         "127.0.0.1:1\ncert = %s\nkey = %s\n"
                         % (harness.free_port(), cert("junk.pem"), cert("server.key")))
        self.refused(p, p.ini + ":4: cert: %s: not a PEM certificate" % cert("junk.pem"))

    def test_a_key_too_weak_for_openssl_is_a_config_error_of_the_host(self):
        """An RSA-1024 certificate passes the PEM checks, but the TLS library
        gRPC core serves the host's port with refuses it: said so, as a
        configuration error, not 'cannot bind' (exit 1, restarted 5 times,
        then FATAL), also through rpcrestd."""
        p = self.process(HOST_BIN, "[host]\nlisten = 127.0.0.1:%d\ncert = %s\nkey = %s\n"
                         "[service.echo]\nplugin = %s\n"
                         % (harness.free_port(), cert("weak.pem"), cert("weak.key"), ECHO_SO))
        log = self.refused(p, p.ini + ":3: cert: %s: OpenSSL, which serves the host's TLS, "
                           "refuses the certificate: ee key too small" % cert("weak.pem"))
        self.assertNotIn("cannot bind", log)
        r = self.rpcrest(host={"cert": cert("weak.pem"), "key": cert("weak.key")})
        r.start(wait=False)
        r.proc.wait(20)
        self.assertEqual(r.proc.returncode, EX_CONFIG, r.log())
        self.assertIn("refuses the certificate: ee key too small", r.log())


# ---- least privilege ---------------------------------------------------------------

def proc_ids(pid):
    """(uids, gids, groups) from /proc/PID/status."""
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                ids[key] = [int(v) for v in value.split()]
    return ids["Uid"], ids["Gid"], ids["Groups"]


def free_low_port(avoid=()):
    """A port below 1024 nothing listens on (binding it needs root)."""
    for port in range(980, 900, -1):
        if port in avoid:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise unittest.SkipTest("no free port below 1024")


@unittest.skipUnless(os.geteuid() == 0, "switching users needs root")
class RunAsNobody(Case):
    def test_children_run_as_nobody_after_binding_low_ports(self):
        host_port = free_low_port()
        http_port = free_low_port((host_port,))
        r = self.rpcrest(supervisor={"user": "nobody", "group": "nogroup"},
                         host={"listen": "127.0.0.1:%d" % host_port},
                         gateway={"listen": "127.0.0.1:%d" % http_port},
                         programs=harness.build_for_anyone(),
                         services_from=harness.build_for_anyone())
        r.host_port, r.http_port = host_port, http_port
        r.start(timeout=15)
        kids = {k: v for k, v in r.children().items() if k.startswith("rpcrest-")}
        self.assertEqual(set(kids), {"rpcrest-host", "rpcrest-gateway"}, r.log())
        nogroup = 65534
        for name, pid in kids.items():
            uids, gids, groups = proc_ids(pid)
            self.assertEqual(uids, [NOBODY] * 4, name)
            self.assertEqual(gids, [nogroup] * 4, name)
            self.assertNotIn(0, groups, name)
        self.assertEqual(proc_ids(r.proc.pid)[0][1], 0)  # rpcrestd stays root
        self.assertIn("running as user nobody (uid 65534, gid 65534)", r.log())
        # gRPC clients reach the host on its low port, and the gateway reaches
        # it over the private socket, in a folder only nobody can enter
        with grpc.insecure_channel("127.0.0.1:%d" % host_port) as ch:
            self.assertEqual(echo_call(ch, "as nobody"), string_message("as nobody"))
        upstream = [l for l in r.log().splitlines() if "rpcrest-gateway" in l and " upstream " in l]
        self.assertTrue(upstream, r.log())
        path = upstream[-1].rsplit(" upstream unix:", 1)[1].strip()
        folder = os.path.dirname(path)
        st = os.lstat(folder)
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (NOBODY, 0o700), folder)
        sock = os.path.realpath(path)
        st = os.stat(sock)
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (NOBODY, 0o600), sock)
        # a hand-over (reload with a change) starts new children as nobody too
        with open(r.ini, "a") as f:
            f.write("\n[service.testkit]\nplugin = %s/services/testkit.so\n" % r.services_from)
        os.kill(r.proc.pid, signal.SIGHUP)
        def new_host_serving():
            pid = r.children().get("rpcrest-host")
            if pid in (None, kids["rpcrest-host"]):
                return None
            return "rpcrest-host[%d]: serving " % pid in r.log() and pid
        pid = harness.wait_until(new_host_serving, 15)
        self.assertTrue(pid, r.log())
        self.assertEqual(proc_ids(pid)[0], [NOBODY] * 4)
        self.assertIn("rpcrest-host[%d]: running as user nobody (uid 65534, gid 65534) from "
                      "after starting the server (a port below 1024)" % pid, r.log())

    def test_with_ports_above_1023_the_host_switches_before_loading_plugins(self):
        r = self.rpcrest(supervisor={"user": "nobody", "group": "nogroup"},
                         programs=harness.build_for_anyone(),
                         services_from=harness.build_for_anyone())
        r.start(timeout=15)
        pid = r.children()["rpcrest-host"]
        self.assertEqual(proc_ids(pid)[0], [NOBODY] * 4)
        self.assertIn("rpcrest-host[%d]: running as user nobody (uid 65534, gid 65534) from "
                      "before loading plugins" % pid, r.log())
        with grpc.insecure_channel("127.0.0.1:%d" % r.host_port) as ch:
            self.assertEqual(echo_call(ch, "early"), string_message("early"))
        # a hand-over: the new host binds the same port beside the old one,
        # both as nobody, and new connections are steered to it
        with open(r.ini, "a") as f:
            f.write("\n[service.testkit]\nplugin = %s/services/testkit.so\n" % r.services_from)
        os.kill(r.proc.pid, signal.SIGHUP)

        def new_host_serving():
            new = r.children().get("rpcrest-host")
            return new not in (None, pid) and "rpcrest-host[%d]: serving " % new in r.log() and new
        new = harness.wait_until(new_host_serving, 15)
        self.assertTrue(new, r.log())
        self.assertEqual(proc_ids(new)[0], [NOBODY] * 4)
        self.assertNotIn("cannot steer", r.log())
        with grpc.insecure_channel("127.0.0.1:%d" % r.host_port) as ch:
            self.assertEqual(echo_call(ch, "after"), string_message("after"))

    def test_a_gateway_started_by_hand_binds_then_switches(self):
        r = self.rpcrest()
        r.start()
        port = free_low_port()
        anyone = harness.build_for_anyone()
        p = self.process(os.path.join(anyone, "rpcrest-gateway"),
                         "[supervisor]\nuser = nobody\n[gateway]\n"
                         "listen = 127.0.0.1:%d\nupstream = %s\ndescriptors = %s\n"
                         % (port, r.grpc_target(), os.path.join(anyone, "services", "echo.pb"))
                         ).start()
        self.assertTrue(harness.wait_until(lambda: "listening on http://" in p.log(), 10),
                        p.log())
        self.assertEqual(proc_ids(p.proc.pid)[0], [NOBODY] * 4)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/v1/example/echo", body=b'{"value":"low port"}')
        resp = conn.getresponse()
        self.assertEqual((resp.status, resp.read()), (200, b'{"value":"low port"}'))
        conn.close()

    def test_a_start_without_threads_ends_in_bounded_time(self):
        """The kernel refuses threads (RLIMIT_NPROC of 4, as a user of its
        own: root is not held to it): the host and the gateway end at once
        with status 1 and say so, the host before gRPC core starts a thread
        (gRPC core 1.51 either waits for good in its teardown for a thread
        that never started, deaf to SIGTERM, or ends the process with an
        assertion)."""
        anyone = harness.build_for_anyone()
        folder = tempfile.mkdtemp(prefix="rpcrest-nproc-")
        self.addCleanup(shutil.rmtree, folder, True)
        os.chmod(folder, 0o755)
        port, http_port = harness.free_port(), harness.free_port()
        inis = {
            "rpcrest-host": "[host]\nlisten = 127.0.0.1:%d\nthreads = 2\nprivate_listen = off\n"
                            "[service.echo]\nplugin = %s/services/echo.so\n" % (port, anyone),
            "rpcrest-gateway": "[gateway]\nlisten = 127.0.0.1:%d\nupstream = 127.0.0.1:%d\n"
                               "threads = 2\ndescriptors = %s/services/echo.pb\n"
                               % (http_port, port, anyone),
        }

        # a user of its own, with no process anywhere: RLIMIT_NPROC counts
        # every task of the user (nobody's may run elsewhere, even unseen)
        busy = set()
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                busy.add(os.stat("/proc/" + pid).st_uid)
            except OSError:
                pass
        uid = next(u for u in range(61000, 62000) if u not in busy)

        # util-linux's prlimit and setpriv, not a preexec_fn: in a child this
        # process forks, gRPC's fork handlers may start threads, which the
        # switch of user would count against the limit before the exec
        as_a_new_user_with_4_threads = ["prlimit", "--nproc=4:4", "setpriv", "--reuid=%d" % uid,
                                        "--regid=%d" % uid, "--clear-groups"]
        for program, text in inis.items():
            ini = os.path.join(folder, program + ".ini")
            with open(ini, "w") as f:
                f.write(text)
            os.chmod(ini, 0o644)
            started = time.monotonic()
            proc = subprocess.run(as_a_new_user_with_4_threads +
                                  [os.path.join(anyone, program), "-c", ini],
                                  capture_output=True, text=True, timeout=30,
                                  stdin=subprocess.DEVNULL)
            self.assertEqual(proc.returncode, 1, (program, proc.stderr))
            self.assertLess(time.monotonic() - started, 4, program)
            self.assertRegex(proc.stderr, r"cannot start: the kernel gave \d+ of the \d+ threads "
                             r"a start needs.*pthread_create: Resource temporarily "
                             r"unavailable \(RLIMIT_NPROC of this user: 4\)", program)
            self.assertNotIn("gRPC core waits", proc.stderr, program)

    def test_unknown_user_is_a_config_error(self):
        r = self.rpcrest(supervisor={"user": "rpcrest-no-such-user"})
        r.start(wait=False)
        r.proc.wait(10)
        self.assertEqual(r.proc.returncode, EX_CONFIG, r.log())
        self.assertIn(":3: user: no such user 'rpcrest-no-such-user'", r.log())

    def test_not_root_is_a_clear_error(self):
        # rpcrestd started as nobody, asked to run its children as root
        anyone = harness.build_for_anyone()
        r = self.rpcrest(supervisor={"user": "root"}, programs=anyone, services_from=anyone)
        os.chmod(r.dir, 0o755)
        os.chmod(r.ini, 0o644)
        os.chmod(r.log_path, 0o666) if os.path.exists(r.log_path) else None
        log = open(r.log_path, "ab")
        self.addCleanup(log.close)
        r.proc = subprocess.Popen([os.path.join(r.programs, "rpcrestd"), "-c", r.ini],
                                  stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=subprocess.STDOUT, user=NOBODY, group=65534,
                                  extra_groups=[])
        r.proc.wait(10)
        self.assertEqual(r.proc.returncode, EX_CONFIG, r.log())
        self.assertIn("user = root: this process runs as uid 65534, not root, so it cannot "
                      "switch to root", r.log())


class StrictModes(Case):
    """A plugin other users could replace is refused at start, exit 78."""

    def plugin_copy(self, dir_mode, file_mode):
        base = tempfile.mkdtemp(prefix="rpcrest-plugins-")
        self.addCleanup(shutil.rmtree, base, True)
        folder = os.path.join(base, "lib")
        os.mkdir(folder)
        path = os.path.join(folder, "echo.so")
        shutil.copy(ECHO_SO, path)
        os.chmod(path, file_mode)
        os.chmod(folder, dir_mode)
        return folder, path

    def host_with(self, path):
        return self.process(HOST_BIN, "[host]\nlisten = 127.0.0.1:%d\n[service.echo]\n"
                            "plugin = %s\n" % (harness.free_port(), path))

    def test_world_writable_plugin_is_refused(self):
        _, path = self.plugin_copy(0o755, 0o757)
        p = self.host_with(path)
        log = self.refused(p, "%s is writable by others (mode 0757)" % path)
        self.assertIn(p.ini + ":4: [service.echo] plugin %s refused: " % path, log)

    def test_group_writable_folder_is_refused(self):
        folder, path = self.plugin_copy(0o775, 0o755)
        p = self.host_with(path)
        self.refused(p, "folder %s is writable by its group (mode 0775)" % folder)

    def test_a_safe_copy_in_a_temp_folder_loads(self):
        _, path = self.plugin_copy(0o755, 0o755)  # /tmp: sticky, root's: fine
        p = self.host_with(path).start()
        self.assertTrue(harness.wait_until(lambda: "serving " in p.log(), 10), p.log())


if __name__ == "__main__":
    unittest.main()
