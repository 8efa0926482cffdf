"""The test runner behind tests/integration/run.py and tests/cluster/run.py.

usage: run.py [--allow-skips] [--timeout SECONDS] [--list] [FILTER ...]

`main()` discovers <test_dir>/test_*.py (unittest), keeps the tests whose id
(module.Class.test_name) contains any FILTER, and prints one line per test and, as the LAST line,
exactly `<suite>: N passed, N failed` (scripts/test parses it). Skips and errors count as failed
(skips pass only with --allow-skips). Exit code 0 only if nothing failed and at least one test
ran.

A watchdog (and SIGINT/SIGTERM) kills every process the harness started, removes its temp dirs,
runs the suite's own `cleanup` and prints the last line with one more failure, if the whole run
exceeds --timeout. The same cleanup runs after a normal run: nothing should be left then, and a
leak is a harness bug, not a pass.
"""

import argparse
import os
import signal
import threading
import time
import unittest

from . import util


class _Result(unittest.TestResult):
    def __init__(self, allow_skips):
        super().__init__()
        self.allow_skips = allow_skips
        self.passed = 0
        self.failed = 0
        self._start = time.monotonic()
        self._reported = False
        self._subtest_failures = []

    def startTest(self, test):
        super().startTest(test)
        self._start = time.monotonic()
        self._reported = False
        self._subtest_failures = []
        print(f"RUN   {test.id()}", flush=True)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._subtest_failures.append(f"{subtest.id()}:\n{self._exc_info_to_string(err, test)}")

    def stopTest(self, test):
        # a test whose subtests failed gets neither addSuccess nor addFailure from unittest
        if not self._reported:
            self.failed += 1
            why = "\n".join(self._subtest_failures) or "no result reported"
            self._report("FAIL", test, why)
        super().stopTest(test)

    def _report(self, word, test, detail=None):
        self._reported = True
        took = time.monotonic() - self._start
        print(f"{word:<5} {test.id()} ({took:.1f}s)", flush=True)
        if detail:
            print("      " + detail.rstrip().replace("\n", "\n      "), flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1
        self._report("PASS", test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.failed += 1
        self._report("FAIL", test, self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self.failed += 1
        self._report("ERROR", test, self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        if self.allow_skips:
            self.passed += 1
            self._report("SKIP", test, f"skipped (allowed): {reason}")
        else:
            self.failed += 1
            self._report("SKIP", test, f"skipped, counted as failed: {reason}")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.passed += 1
        self._report("XFAIL", test)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.failed += 1
        self._report("XPASS", test, "unexpected success")


def _iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _iter_tests(t)
        else:
            yield t


def main(suite, test_dir, doc, default_timeout, cleanup=lambda: None):
    """Runs the suite `suite` (the name in the last line) of test_dir/test_*.py; returns the exit
    code. `doc` is the caller's module docstring (its first paragraph is the --help text);
    `cleanup` runs after the harness's own cleanup, on every way out."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("filters", nargs="*")
    ap.add_argument("--allow-skips", action="store_true")
    ap.add_argument("--timeout", type=float, default=default_timeout)
    ap.add_argument("--list", action="store_true", help="list the selected tests and exit")
    opts = ap.parse_args()

    loader = unittest.TestLoader()
    discovered = loader.discover(test_dir, pattern="test_*.py", top_level_dir=test_dir)
    selected = unittest.TestSuite()
    load_errors = 0
    for t in _iter_tests(discovered):
        if type(t).__name__ == "_FailedTest":  # import error in a test module: always reported
            load_errors += 1
            selected.addTest(t)
            continue
        if not opts.filters or any(f in t.id() for f in opts.filters):
            selected.addTest(t)
    if opts.list:
        for t in _iter_tests(selected):
            print(t.id())
        return 0

    result = _Result(opts.allow_skips)

    def finish_early(why):
        print(f"ABORT {why}: killing harness processes", flush=True)
        util.emergency_cleanup()
        cleanup()
        print(f"{suite}: {result.passed} passed, {result.failed + 1} failed", flush=True)
        os._exit(1)

    watchdog = threading.Timer(opts.timeout, finish_early, args=(f"run exceeded {opts.timeout}s",))
    watchdog.daemon = True
    watchdog.start()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: finish_early(f"signal {signum}"))

    started = time.monotonic()
    selected.run(result)
    watchdog.cancel()
    util.emergency_cleanup()  # nothing should be left; a leak here is a harness bug, not a pass
    cleanup()
    took = time.monotonic() - started
    ran = result.passed + result.failed
    print(f"took {took:.1f}s, {ran} tests ({load_errors} load errors)", flush=True)
    if ran == 0:
        print("no tests selected", flush=True)
    print(f"{suite}: {result.passed} passed, {result.failed + (1 if ran == 0 else 0)} failed",
          flush=True)
    return 0 if result.failed == 0 and ran > 0 else 1
