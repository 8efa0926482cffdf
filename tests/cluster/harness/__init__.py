"""Harness for the cluster tests in network namespaces (see tests/cluster/README.md).

The integration harness (tests/integration/harness) is imported as the package `itharness`, so
both can be used side by side without a name clash; its process and temp-dir registry
(itharness.util) is the one the cluster runner's watchdog empties.
"""

import importlib.util
import os
import sys

_INTEGRATION = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "integration", "harness")


def _load_integration_harness():
    if "itharness" in sys.modules:
        return sys.modules["itharness"]
    spec = importlib.util.spec_from_file_location(
        "itharness", os.path.join(_INTEGRATION, "__init__.py"),
        submodule_search_locations=[_INTEGRATION])
    module = importlib.util.module_from_spec(spec)
    sys.modules["itharness"] = module
    spec.loader.exec_module(module)
    return module


_load_integration_harness()
