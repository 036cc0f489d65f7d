"""A short run of tests/chaos/chaos.py inside make test: 10 s of wrk load
while the host is killed (SIGKILL) every 3 s, then 10 s while the gateway
is.  See chaos.py for what each round checks; `make chaos` runs 60 s each."""
import os
import shutil
import sys
import unittest

import harness

sys.path.insert(0, os.path.join(harness.ROOT, "tests", "chaos"))
import chaos  # noqa: E402

SECONDS = 10
KILL_EVERY = 3


@unittest.skipUnless(shutil.which("wrk"), "wrk is not installed (scripts/deps.sh installs it)")
class Chaos(unittest.TestCase):
    def test_host_killed_under_load(self):
        result = chaos.host_round(SECONDS, KILL_EVERY)
        self.assertGreater(result["statuses"].get("200", 0), 0)

    def test_gateway_killed_under_load(self):
        result = chaos.gateway_round(SECONDS, KILL_EVERY)
        self.assertGreater(result["statuses"].get("200", 0), 0)


if __name__ == "__main__":
    unittest.main()
