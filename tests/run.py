#!/usr/bin/python3
"""Runs every test suite of rpcrest and ends with one line:
"N passed, N failed" over all of them.  Exit status 0 only if none failed.

Arguments: the cmocka unit-test binaries (and anything else that prints TAP
lines).  The end-to-end suites are the tests/e2e/test_*.py modules; each
runs in its own process with a time limit.

Environment: RPCREST_BUILD, the build folder under test (default build/;
read by tests/e2e/harness.py).  RPCREST_SAN=1 (make test SAN=1): every
program a suite starts, however deep, gets ASAN_OPTIONS, LSAN_OPTIONS and
UBSAN_OPTIONS that write any report to a file in a folder of that suite's
own; a suite that leaves a report there fails, and the report is printed.
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUITE_TIMEOUT = 900  # seconds for one suite, a safety net only

TAP_LINE = re.compile(r"^(not ok|ok)\s+\d+")
SANITIZED = os.environ.get("RPCREST_SAN") == "1"
LSAN_SUPPRESSIONS = os.path.join(ROOT, "tests", "lsan.supp")


def sanitizer_env(report_dir):
    """The environment for one suite of a sanitized build: a report of any
    process goes to report_dir/{asan,ubsan}.PID and ends that process."""
    san = os.path.join(report_dir, "asan")
    ub = os.path.join(report_dir, "ubsan")
    return dict(
        os.environ,
        # gcc's UBSan ignores log_path next to ASan: it prints to stderr
        # and, with abort_on_error, aborts, which ASan then reports (with
        # the __ubsan_handle_* frame and the line) in its log file.
        ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:print_stacktrace=1:handle_abort=1:"
                     "log_path=" + san,
        LSAN_OPTIONS="suppressions=%s:print_suppressions=0:log_path=%s"
                     % (LSAN_SUPPRESSIONS, san),
        UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=" + ub)


def sanitizer_reports(report_dir):
    """The text of every report left in report_dir."""
    text = ""
    for path in sorted(glob.glob(os.path.join(report_dir, "*"))):
        with open(path, "rb") as f:
            text += "==== %s\n%s\n" % (os.path.basename(path), f.read().decode("utf-8", "replace"))
    return text


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


def run_cmocka(binary, env=None):
    env = dict(env or os.environ, CMOCKA_MESSAGE_OUTPUT="TAP")
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


def run_e2e(module_path, env=None):
    code, out = run(["/usr/bin/python3", os.path.join(ROOT, "tests", "e2e", "runner.py"),
                     module_path], env)
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
    # TESTS=supervisor runs the suites whose file name contains "supervisor";
    # TESTS=gw_route,discovery those that contain either.
    only = [w for w in os.environ.get("TESTS", "").split(",") if w]
    suites += [("e2e", p) for p in sorted(glob.glob(os.path.join(ROOT, "tests/e2e/test_*.py")))]
    if only:
        suites = [s for s in suites if any(w in os.path.basename(s[1]) for w in only)]
    for kind, path in suites:
        name = os.path.basename(path)
        report_dir = tempfile.mkdtemp(prefix="rpcrest-san-") if SANITIZED else None
        if report_dir:  # programs that switched to another user report here too
            os.chmod(report_dir, 0o1777)
        env = sanitizer_env(report_dir) if SANITIZED else None
        passed, failed, out = run_cmocka(path, env) if kind == "unit" else run_e2e(path, env)
        if SANITIZED:
            reports = sanitizer_reports(report_dir)
            shutil.rmtree(report_dir, ignore_errors=True)
            if reports:
                failed += 1
                out += "\n*** sanitizer reports:\n" + reports
        total_passed += passed
        total_failed += failed
        print("%-28s %4d passed, %d failed" % (name, passed, failed), flush=True)
        if failed or os.environ.get("VERBOSE"):
            print("".join("    " + l + "\n" for l in out.splitlines()), flush=True)
    print("%d passed, %d failed" % (total_passed, total_failed))
    return 0 if total_failed == 0 and total_passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
