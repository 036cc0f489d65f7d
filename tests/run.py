#!/usr/bin/python3
"""Runs every test suite of rpcrest and ends with one line:
"N passed, N failed" over all of them.  Exit status 0 only if none failed.

Arguments: the cmocka unit-test binaries.  The end-to-end suites are the
tests/e2e/test_*.py modules; each runs in its own process with a time limit.
"""
import glob
import os
import re
import signal
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUITE_TIMEOUT = 900  # seconds for one suite, a safety net only

TAP_LINE = re.compile(r"^(not ok|ok)\s+\d+")


def run(cmd, env=None):
    """(exit code, output); kills the whole process group on timeout."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env, cwd=ROOT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=SUITE_TIMEOUT)
        return proc.returncode, out.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return -1, out.decode("utf-8", "replace") + "\n*** suite timed out\n"


def run_cmocka(binary):
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP")
    code, out = run([binary], env)
    passed = failed = 0
    for line in out.splitlines():
        m = TAP_LINE.match(line)
        if m:
            if m.group(1) == "ok":
                passed += 1
            else:
                failed += 1
    if code != 0 and failed == 0:
        failed = 1  # crashed before reporting
    return passed, failed, out


def run_e2e(module_path):
    code, out = run(["/usr/bin/python3", os.path.join(ROOT, "tests", "e2e", "runner.py"),
                     module_path])
    m = re.search(r"^RESULT passed=(\d+) failed=(\d+) skipped=(\d+)$", out, re.M)
    if not m:
        return 0, 1, out
    passed, failed = int(m.group(1)), int(m.group(2))
    if code != 0 and failed == 0:
        failed = 1
    return passed, failed, out


def main():
    total_passed = total_failed = 0
    suites = [("unit", b) for b in sys.argv[1:]]
    only = os.environ.get("TESTS")  # e.g. TESTS=supervisor runs suites matching it
    suites += [("e2e", p) for p in sorted(glob.glob(os.path.join(ROOT, "tests/e2e/test_*.py")))]
    if only:
        suites = [s for s in suites if only in os.path.basename(s[1])]
    for kind, path in suites:
        name = os.path.basename(path)
        passed, failed, out = run_cmocka(path) if kind == "unit" else run_e2e(path)
        total_passed += passed
        total_failed += failed
        print("%-28s %4d passed, %d failed" % (name, passed, failed), flush=True)
        if failed or os.environ.get("VERBOSE"):
            print("".join("    " + l + "\n" for l in out.splitlines()), flush=True)
    print("%d passed, %d failed" % (total_passed, total_failed))
    return 0 if total_failed == 0 and total_passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
