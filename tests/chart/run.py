#!/usr/bin/python3
"""Runs the chart tests (tests/chart/test_*.py, unittest) with the real helm from scripts/setup.

usage: run.py [--allow-skips] [--timeout SECONDS] [--list] [FILTER ...]

FILTER keeps tests whose id (module.Class.test_name) contains any of the given substrings.
Prints one line per test and, as the LAST line, exactly `chart: N passed, N failed`. Skips and
errors count as failed (skips pass only with --allow-skips). Exit code 0 only if nothing failed
and at least one test ran.

Environment: SPEGEL_BIN (default <repo>/build/src/spegel), SPEGEL_BUILD_DIR (default <repo>/build),
HELM (default <repo>/.cache/helm/helm/helm). The pod test needs root (a network namespace and
containerd). A watchdog kills every process the harness started and removes its temp dirs if the
whole run exceeds --timeout.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "cluster"))
sys.path.insert(0, HERE)
# before the harness modules read them at import time
os.environ.setdefault("SPEGEL_BUILD_DIR", os.path.join(REPO, "build"))
os.environ.setdefault("SPEGEL_BIN", os.path.join(os.environ["SPEGEL_BUILD_DIR"], "src", "spegel"))

import harness  # noqa: E402,F401  (tests/cluster/harness; loads tests/integration/harness as `itharness`)
from harness import netns  # noqa: E402
from itharness import runner  # noqa: E402

if __name__ == "__main__":
    sys.exit(runner.main("chart", HERE, __doc__, default_timeout=900.0, cleanup=netns.delete_all))
