#!/usr/bin/python3
"""Runs the integration tests (tests/integration/test_*.py, unittest).

usage: run.py [--allow-skips] [--timeout SECONDS] [--list] [FILTER ...]

FILTER keeps tests whose id (module.Class.test_name) contains any of the given substrings.
Prints one line per test and, as the LAST line, exactly `integration: N passed, N failed`.
Skips and errors count as failed (skips pass only with --allow-skips). Exit code 0 only if
nothing failed and at least one test ran.

Environment: SPEGEL_BIN (the daemon under test), SPEGEL_BUILD_DIR (where the cri/ctd_probe test
tools are; default /work/main/build-it), CRI_BIN, CTD_PROBE_BIN override single tools.
A watchdog kills every process the harness started and removes its temp dirs if the whole run
exceeds --timeout.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from harness import runner  # noqa: E402

if __name__ == "__main__":
    sys.exit(runner.main("integration", HERE, __doc__, default_timeout=900.0))
