#!/usr/bin/python3
"""Runs the cluster tests in network namespaces (tests/cluster/test_*.py, unittest).

usage: run.py [--allow-skips] [--timeout SECONDS] [--list] [FILTER ...]

FILTER keeps tests whose id (module.Class.test_name) contains any of the given substrings.
Prints one line per test and, as the LAST line, exactly `cluster: N passed, N failed`.
Skips and errors count as failed (skips pass only with --allow-skips). Exit code 0 only if
nothing failed and at least one test ran.

Environment: SPEGEL_BIN (the daemon under test; default <repo>/build/src/spegel), SPEGEL_BUILD_DIR
(where the cri test tool is; default <repo>/build), CRI_BIN overrides the tool. Needs root (network
namespaces, containerd).
A watchdog kills every process the harness started and removes its temp dirs if the whole run
exceeds --timeout.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
# before the harness modules read them at import time
os.environ.setdefault("SPEGEL_BUILD_DIR", os.path.join(REPO, "build"))
os.environ.setdefault("SPEGEL_BIN", os.path.join(os.environ["SPEGEL_BUILD_DIR"], "src", "spegel"))

import harness  # noqa: E402,F401  (loads tests/integration/harness as `itharness`)
from harness import netns  # noqa: E402
from itharness import runner  # noqa: E402

if __name__ == "__main__":
    sys.exit(runner.main("cluster", HERE, __doc__, default_timeout=600.0,
                         cleanup=netns.delete_all))
