"""What the running programs map: the libraries each one loads decide much
of its memory (README, "Dependencies"; docs/benchmarks.md).  The gateway
maps neither gRPC core nor OpenSSL nor absl; a host linked the default way
(GRPC_LINK=static) maps gRPC core, absl and libstdc++ from inside itself,
not as shared libraries, and exports absl's deadlock-detection switch so
that common/rp_absl.c can turn it off.
"""
import os
import re
import subprocess
import unittest

from harness import BUILD, SANITIZED, Rpcrest

DEADLOCK_SWITCH = re.compile(r"SetMutexDeadlockDetectionMode")
# The sanitizers' runtimes (make test SAN=1) load libstdc++ themselves.
STDCXX = () if SANITIZED else ("libstdc++",)


def mapped_libraries(pid):
    """The file names of the shared objects the process maps."""
    names = set()
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 6 and ".so" in fields[5]:
                names.add(os.path.basename(fields[5]))
    return names


def matching(names, *prefixes):
    return sorted(n for n in names if n.startswith(prefixes))


def linked_static():
    """True when the programs of BUILD were linked with GRPC_LINK=static."""
    try:
        with open(os.path.join(BUILD, "link-settings")) as f:
            return f.read().split()[:1] == ["static"]
    except OSError:
        return False


class Footprint(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rp = Rpcrest(services=("echo",)).start()
        cls.kids = cls.rp.children()

    @classmethod
    def tearDownClass(cls):
        cls.rp.cleanup()

    def test_gateway_maps_no_grpc_core_openssl_or_absl(self):
        libs = mapped_libraries(self.kids["rpcrest-gateway"])
        self.assertEqual(matching(libs, "libgrpc", "libgpr", "libcrypto", "libssl", "libabsl",
                                  *STDCXX), [])
        self.assertTrue(matching(libs, "libmicrohttpd"), libs)  # the check reads real maps

    def test_host_maps_grpc_core_absl_and_libstdcxx_from_itself(self):
        if not linked_static():
            self.skipTest("built with GRPC_LINK=shared")
        libs = mapped_libraries(self.kids["rpcrest-host"])
        self.assertEqual(matching(libs, "libgrpc", "libgpr", "libupb", "libre2", "libcares",
                                  "libabsl", *STDCXX), [])
        self.assertTrue(matching(libs, "libcrypto"), libs)  # OpenSSL stays shared

    def test_host_exports_the_deadlock_detection_switch(self):
        if not linked_static():
            self.skipTest("built with GRPC_LINK=shared: absl's own library has it")
        out = subprocess.run(["nm", "-D", "--defined-only", os.path.join(BUILD, "rpcrest-host")],
                             capture_output=True, text=True, check=True).stdout
        self.assertRegex(out, DEADLOCK_SWITCH)


if __name__ == "__main__":
    unittest.main()
