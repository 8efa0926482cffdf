"""What the benchmarks (scripts/bench-serve, bench-sync, bench-cluster) share: loading the test
harness, editing a spegel argument list, tar headers, loopback HTTP and /proc figures.

How the benchmarks find this module and the harness without editing sys.path: Python puts the
directory of the script it runs first on sys.path, so `import benchlib` in scripts/bench-* finds
this file. Importing it loads tests/integration/harness by file location (importlib) as the
package `itharness`, the name the cluster harness gives it too, so one process holds one copy of
the harness's process and temp-dir registry. After `import benchlib`, `from itharness import
util` works; load_cluster_harness() does the same for tests/cluster/harness (as `clharness`).

Not a test: nothing here asserts. Loopback only: every HTTP helper talks to 127.0.0.1.
"""

import http.client
import importlib
import importlib.util
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_package(name, path):
    """Imports the package in directory `path` as `name` (once; later calls return it)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(path, "__init__.py"),
                                                  submodule_search_locations=[path])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_load_package("itharness", os.path.join(REPO, "tests", "integration", "harness"))
from itharness import util  # noqa: E402


def load_cluster_harness():
    """tests/cluster/harness as the package `clharness`, with its `cluster` and `netns` modules
    imported. Set SPEGEL_BIN / SPEGEL_BUILD_DIR before: the harness reads them at import."""
    package = _load_package("clharness", os.path.join(REPO, "tests", "cluster", "harness"))
    importlib.import_module("clharness.cluster")
    importlib.import_module("clharness.netns")
    return package


# ---- spegel arguments ------------------------------------------------------------------------

def with_flag(args, flag, value):
    """`args` with `flag`'s value set to `value` (replaced in place, else appended). Starting
    from the harness's own argument list keeps whatever flags it passes (preflight, metrics)."""
    args = list(args)
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    return args


# ---- tar -------------------------------------------------------------------------------------

def ustar_header(name, size, typeflag=b"0", mode=0o644):
    """A POSIX ustar header block for a regular file or directory (uid/gid 0, mtime 0)."""
    raw = name.encode()
    if len(raw) > 100:
        raise ValueError(f"tar member name too long: {name}")
    h = bytearray(512)
    h[0:len(raw)] = raw
    h[100:108] = b"%07o\0" % mode
    h[108:116] = b"%07o\0" % 0
    h[116:124] = b"%07o\0" % 0
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"%011o\0" % 0
    h[148:156] = b" " * 8
    h[156:157] = typeflag
    h[257:263] = b"ustar\0"
    h[263:265] = b"00"
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def ustar_member(name, data):
    """A regular-file tar member: header, data, zero padding to the 512-byte block."""
    pad = (-len(data)) % 512
    return ustar_header(name, len(data)) + data + b"\0" * pad


# ---- loopback HTTP ---------------------------------------------------------------------------
# http.client, not util.http_request (urllib): one plain connection per request, no opener to
# build, so polling every 2 ms and a manifest check cost as little as possible.

def http_get(port, path, method="GET", headers=None, timeout=60.0, sink=None, max_body=None):
    """One request to 127.0.0.1:port: (status, headers lower-cased, body bytes, or b"" with a
    sink). With `sink`, the body is passed to it in chunks instead of being kept; `max_body`
    reads at most that many bytes. Connection errors raise (OSError)."""
    conn = http.client.HTTPConnection(util.LOOPBACK, port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        if sink is None:
            return resp.status, hdrs, resp.read(max_body) if max_body else resp.read()
        while True:
            chunk = resp.read(1 << 20)
            if not chunk:
                break
            sink(chunk)
        return resp.status, hdrs, b""
    finally:
        conn.close()


def http_status(port, path, timeout=2.0):
    """Status of GET http://127.0.0.1:port/path, None when the connection fails."""
    try:
        return http_get(port, path, timeout=timeout)[0]
    except OSError:
        return None


# ---- /proc -----------------------------------------------------------------------------------

def status_kb(pid, key):
    """A `Key:  N kB` field of /proc/PID/status, in kB (0 if the process or field is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def load_note():
    """The 1/5/15-minute load averages and CPU count: figures on a busy machine are noisy."""
    with open("/proc/loadavg") as f:
        avg = " ".join(f.read().split()[:3])
    return f"load average {avg} on {os.cpu_count()} CPUs"
