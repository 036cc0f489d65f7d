"""End-to-end test harness: starts the real rpcrest programs on free loopback
ports with a temporary INI, talks to them over HTTP and gRPC, and cleans up
every process it started (by PID).

Only 127.0.0.1 / ::1 / unix sockets are ever used.
"""
import atexit
import http.client
import importlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The build folder under test: build/, or what RPCREST_BUILD names (make
# SAN=1 builds into build-san/ and sets it), relative to the repository.
BUILD = os.path.join(ROOT, os.environ.get("RPCREST_BUILD") or "build")
# Set by `make test SAN=1`: the programs are built with ASan+UBSan (tests
# that cannot run them that way, such as valgrind ones, skip).
SANITIZED = os.environ.get("RPCREST_SAN") == "1"
PYTHON = "/usr/bin/python3"


_PORTS_GIVEN = set()


def _outgoing_port_range():
    """The ports the kernel gives outgoing connections (their source port)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(v) for v in f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    """A TCP port on 127.0.0.1 that nothing is bound to right now, below the
    ports the kernel gives outgoing connections (so that no client's
    connection can take it as its source port before the server binds it),
    and not handed out before by this process."""
    low = _outgoing_port_range()[0]
    first, last = 20000, min(low, 65536) - 1
    for _ in range(200 if last - first >= 1000 else 0):
        port = random.randint(first, last)
        if port in _PORTS_GIVEN:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _PORTS_GIVEN.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # no such range here
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.02):
    """Polls predicate() until it is truthy or timeout seconds pass; returns
    its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def cpu_ticks(pid):
    """utime + stime of a process (all its threads), in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def varint(n):
    """n (>= 0) as a protobuf varint."""
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def rss_kib(pid):
    """VmRSS of a running process, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def paused_stream_clients(port, n, count, size):
    """n connections, each asking the gateway on `port` for testkit's
    stream of `count` messages of `size` bytes and reading none of it (a
    4 KiB receive buffer); the caller closes them."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /v1/testkit/stream?count=%d&size=%d HTTP/1.1\r\nHost: x\r\n\r\n"
                  % (count, size))
        socks.append(s)
    return socks


def reset_peak_rss(pid):
    """Sets VmHWM of a process (of this user) back to its VmRSS."""
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")


def peak_rss_kib(pid):
    """VmHWM (the most VmRSS has been since the start or reset_peak_rss)
    of a running process, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM for %d" % pid)


def stop_process(proc, timeout=10):
    """SIGTERM to a process this test started, then SIGKILL by PID if it is
    still there after `timeout` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def children_of(pid, leaders_only=False):
    """{comm: pid} of the live direct children of pid; of several with one
    name (a host and the one it hands over to), the one started last, which
    after pids wrap around need not have the highest pid.  leaders_only:
    process group leaders only, as rpcrestd starts its children (a forked
    copy of a child's shell that rpcrestd adopted, with the child's name,
    is not one)."""
    found, started = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) != pid or fields[0] == "Z":
            continue
        if leaders_only and int(fields[2]) != int(entry):
            continue
        start = int(fields[19])  # starttime, field 22 of /proc/PID/stat
        if comm not in found or _started_after(start, int(entry), started[comm], found[comm]):
            found[comm], started[comm] = int(entry), start
    return found


def _pid_max():
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 32768


PID_MAX = _pid_max()


def _started_after(start, pid, other_start, other_pid):
    """Whether process pid (started at clock tick `start`) started after
    other_pid.  Within one tick (10 ms) the pids tell, as the kernel hands
    them out in turn: the one ahead of the other in that turn, which after
    pids wrap around at pid_max is the lower one (32763, then 301)."""
    if start != other_start:
        return start > other_start
    return (pid - other_pid) % PID_MAX < PID_MAX // 2


_BUILD_FOR_ANYONE = []


def build_for_anyone():
    """A folder with copies of the programs and services/ that any user may
    read, for tests whose processes run as another user (nobody): the build
    folder itself may be in a home only its owner enters (a clone in /root,
    mode 700).  Made once, removed at exit."""
    if not _BUILD_FOR_ANYONE:
        folder = tempfile.mkdtemp(prefix="rpcrest-build-")
        atexit.register(shutil.rmtree, folder, True)
        os.chmod(folder, 0o755)
        for name in ("rpcrestd", "rpcrest-host", "rpcrest-gateway", "rpcrestctl"):
            shutil.copy2(os.path.join(BUILD, name), folder)
        shutil.copytree(os.path.join(BUILD, "services"), os.path.join(folder, "services"))
        for path, dirs, files in os.walk(folder):  # whatever the umask of the build
            for name in dirs + files:
                entry = os.path.join(path, name)
                mode = os.stat(entry).st_mode
                os.chmod(entry, mode | 0o444 | (0o111 if mode & 0o100 else 0))
        _BUILD_FOR_ANYONE.append(folder)
    return _BUILD_FOR_ANYONE[0]


class Rpcrest:
    """One rpcrestd (and its children) with its own INI in a temp folder.

    ini_sections: extra text appended to the INI (e.g. more [service.x]).
    host/gateway/supervisor: dicts of extra keys for those sections.
    descriptors: write each service's `descriptors = …` key (False: leave
    it out, so that the gateway discovers the API through reflection).
    """

    def __init__(self, services=("echo",), host=None, gateway=None, supervisor=None,
                 ini_extra="", descriptors=True, programs=BUILD, services_from=BUILD):
        self.programs = programs  # the folder of rpcrestd, which runs its children from there
        self.services_from = services_from  # the folder whose services/ the INI names
        self.dir = tempfile.mkdtemp(prefix="rpcrest-test-")
        self.host_port = free_port()
        self.http_port = free_port()
        while self.http_port == self.host_port:
            self.http_port = free_port()
        self.ini = os.path.join(self.dir, "rpcrest.ini")
        self.log_path = os.path.join(self.dir, "rpcrestd.log")
        self.proc = None
        self._log = None
        self._cleanup_at_exit = False
        sup = {"stop_timeout": "3"}
        sup.update(supervisor or {})
        hst = {"listen": "127.0.0.1:%d" % self.host_port, "threads": "2"}
        hst.update(host or {})
        gw = {"listen": "127.0.0.1:%d" % self.http_port, "timeout": "2"}
        gw.update(gateway or {})
        lines = []
        for name, keys in (("supervisor", sup), ("host", hst), ("gateway", gw)):
            lines.append("[%s]" % name)
            lines += ["%s = %s" % kv for kv in keys.items()]
            lines.append("")
        for svc in services:
            lines += ["[service.%s]" % svc,
                      "plugin = %s/services/%s.so" % (services_from, svc)]
            if descriptors:
                lines.append("descriptors = %s/services/%s.pb" % (services_from, svc))
            lines.append("")
        with open(self.ini, "w") as f:
            f.write("\n".join(lines) + ini_extra)

    # ---- lifecycle -------------------------------------------------------
    def start(self, wait=True, timeout=10, env=None):
        if not self._cleanup_at_exit:  # in case a setUpClass fails and skips tearDownClass
            atexit.register(self.cleanup)
            self._cleanup_at_exit = True
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([os.path.join(self.programs, "rpcrestd"), "-c", self.ini],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env)
        if wait and not self.wait_ready(timeout):
            raise AssertionError("rpcrest did not become ready in %ss; log:\n%s"
                                 % (timeout, self.log()))
        return self

    def wait_ready(self, timeout=10):
        """Both ports accept connections and the echo round trip works."""
        def ready():
            if self.proc.poll() is not None:
                return False
            if not (port_open(self.host_port) and port_open(self.http_port)):
                return False
            try:
                status, _, _ = self.http("POST", "/v1/example/echo", b'{"value":"ping"}')
                return status == 200
            except OSError:
                return False
        return wait_until(ready, timeout, 0.05)

    def children(self):
        """{"rpcrest-host": pid, "rpcrest-gateway": pid} as seen in /proc;
        none once rpcrestd has exited (its pid may belong to another process)."""
        if not self.proc or self.proc.poll() is not None:
            return {}
        return children_of(self.proc.pid, leaders_only=True)

    def stop(self):
        """SIGTERM rpcrestd, wait; then make sure every process it started is
        gone (SIGKILL by PID as a last resort)."""
        if not self.proc:
            return
        kids = list(self.children().values())
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in kids:
            if pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self._log:
            self._log.close()
            self._log = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # ---- talking to it ---------------------------------------------------
    def http(self, method, path, body=None, headers=None, timeout=10):
        """(status, {lower-case header: value}, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            hdrs = {"Content-Type": "application/json"} if body is not None else {}
            hdrs.update(headers or {})
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def http_json(self, method, path, obj=None, **kw):
        body = None if obj is None else json.dumps(obj).encode()
        status, headers, data = self.http(method, path, body, **kw)
        return status, (json.loads(data) if data else None)

    def grpc_target(self):
        return "127.0.0.1:%d" % self.host_port


_stub_cache = {}


def grpc_modules(proto_name, proto_dir):
    """Generates Python message and gRPC stub modules for proto_dir/proto_name
    with grpc_tools (at test time, into a temp folder) and imports them.
    Returns (pb2, pb2_grpc)."""
    key = (proto_name, proto_dir)
    if key in _stub_cache:
        return _stub_cache[key]
    out = tempfile.mkdtemp(prefix="rpcrest-stubs-")
    atexit.register(shutil.rmtree, out, True)
    import grpc_tools
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    cmd = [PYTHON, "-m", "grpc_tools.protoc", "-I" + proto_dir,
           "-I" + os.path.join(ROOT, "proto"), "-I/usr/include", "-I" + well_known,
           "--python_out=" + out, "--grpc_python_out=" + out, proto_name]
    subprocess.run(cmd, check=True, cwd=ROOT)
    # annotations/http are imported by the generated module
    for dep in ("google/api/http.proto", "google/api/annotations.proto"):
        subprocess.run([PYTHON, "-m", "grpc_tools.protoc", "-I" + os.path.join(ROOT, "proto"),
                        "-I/usr/include", "-I" + well_known, "--python_out=" + out, dep],
                       check=True, cwd=ROOT)
    sys.path.insert(0, out)
    base = proto_name[:-len(".proto")].replace("/", ".")
    mods = (importlib.import_module(base + "_pb2"), importlib.import_module(base + "_pb2_grpc"))
    _stub_cache[key] = mods
    return mods
