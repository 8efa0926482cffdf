"""Network namespaces for the cluster tests: one L2 segment (a bridge in its own "switch"
namespace) and hosts attached to it by veth pairs. Nothing is added to the root namespace.

Safety rules this module enforces (environment.md §8):
  - names are prefixed with the runner's PID (`sc<pid>-...`), addresses are 10.213.<x>.0/24 with
    <x> derived from the PID, so parallel runs never collide;
  - no namespace gets a default route; multicast gets a 224.0.0.0/4 route on eth0 only when
    asked (needed to send multicast without a default route);
  - every namespace made here is recorded and deleted by delete_all() (atexit, runner watchdog).

Not thread-safe: drive it from the test thread (delete_all may also run from the watchdog).
"""

import atexit
import os
import json
import subprocess
import threading

from itharness import util

HERE = os.path.dirname(os.path.abspath(__file__))
NSCLIENT = os.path.join(HERE, "nsclient.py")
PYTHON = "/usr/bin/python3"

_lock = threading.Lock()
_live = []  # namespace names, creation order


def _ip(*args, check=True):
    return util.run(["ip", *args], timeout=10, check=check)


def run_in(ns, args, timeout=60, check=True, input_bytes=None):
    """Runs `args` inside namespace `ns` (ip netns exec); returns CompletedProcess (text)."""
    return util.run(["ip", "netns", "exec", ns, *args], timeout=timeout, check=check,
                    input_bytes=input_bytes)


def exec_prefix(ns):
    """The argument prefix that runs a command inside `ns` (ip netns exec execs, no fork, so
    the PID of the started process is the command's own)."""
    return ["ip", "netns", "exec", ns]


def add(name):
    """Creates namespace `name` with lo up; recorded for delete_all()."""
    _ip("netns", "add", name)
    with _lock:
        _live.append(name)
    _ip("-n", name, "link", "set", "lo", "up")
    return name


def delete(name):
    """Deletes one namespace (its veths go with it); tolerates it being gone."""
    _ip("netns", "del", name, check=False)
    with _lock:
        if name in _live:
            _live.remove(name)


def delete_all():
    """Deletes every namespace this process made (newest first). For teardown and the watchdog."""
    with _lock:
        names = list(reversed(_live))
    for n in names:
        try:
            subprocess.run(["ip", "netns", "del", n], capture_output=True, timeout=10)
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
    with _lock:
        _live.clear()


atexit.register(delete_all)


class Segment:
    """One bridge (br0 in namespace `<prefix>-sw`) and hosts attached with `attach()`."""

    def __init__(self, prefix, subnet):
        self.prefix = prefix
        self.subnet = subnet            # "10.213.<x>"
        self.switch = add(f"{prefix}-sw")
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        self.hosts = {}                 # namespace -> ip

    def attach(self, short, host_octet, multicast=True):
        """Creates namespace `<prefix>-<short>` with eth0 = 10.213.<x>.<host_octet>/24 on the
        bridge; returns the namespace name. No default route is ever added."""
        ns = add(f"{self.prefix}-{short}")
        port = f"p-{short}"
        _ip("-n", self.switch, "link", "add", port, "type", "veth", "peer", "name", "eth0",
            "netns", ns)
        _ip("-n", self.switch, "link", "set", port, "master", "br0")
        _ip("-n", self.switch, "link", "set", port, "up")
        ip = f"{self.subnet}.{host_octet}"
        _ip("-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        if multicast:
            _ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0")
        else:
            _ip("-n", ns, "link", "set", "eth0", "multicast", "off")
        self.hosts[ns] = ip
        return ns

    def link(self, ns, up):
        """Takes eth0 of `ns` up or down (down = the host is cut off the segment)."""
        _ip("-n", ns, "link", "set", "eth0", "up" if up else "down")

    def close(self):
        for ns in list(self.hosts):
            delete(ns)
        self.hosts.clear()
        delete(self.switch)


def assert_no_default_route(ns):
    """Raises HarnessError if `ns` has a default route (it must never have one)."""
    out = _ip("-n", ns, "route", "show", "default").stdout.strip()
    out6 = _ip("-n", ns, "-6", "route", "show", "default").stdout.strip()
    if out or out6:
        raise util.HarnessError(f"namespace {ns} has a default route: {out} {out6}")


def http(ns, method, url, headers=None, timeout=5.0, max_body=1 << 20, no_hash=False, data=None):
    """One HTTP request made from INSIDE namespace `ns` by nsclient.py (`data`: a text body).
    Returns the parsed JSON (keys status, headers, body, bytes, sha256, ttfb_ms, elapsed_ms, or
    error)."""
    args = [PYTHON, NSCLIENT, "request", method, url, "--timeout", str(timeout),
            "--max-body", str(max_body)] + (["--no-hash"] if no_hash else [])
    if data is not None:
        args += ["--data", data]
    for k, v in (headers or {}).items():
        args += ["-H", f"{k}: {v}"]
    res = run_in(ns, args, timeout=timeout + 30, check=False)
    if res.returncode != 0:
        raise util.HarnessError(f"nsclient failed in {ns} (exit {res.returncode}): "
                                f"{res.stdout[-500:]} {res.stderr[-1000:]}")
    return json.loads(res.stdout)


def http_repeat(ns, method, url, count, headers=None, timeout=5.0):
    """`count` keep-alive requests from inside `ns`; returns {statuses, latencies_ms, errors}."""
    args = [PYTHON, NSCLIENT, "repeat", method, url, str(count), "--timeout", str(timeout)]
    for k, v in (headers or {}).items():
        args += ["-H", f"{k}: {v}"]
    res = run_in(ns, args, timeout=timeout * count + 60, check=False)
    if res.returncode != 0:
        raise util.HarnessError(f"nsclient failed in {ns} (exit {res.returncode}): "
                                f"{res.stdout[-500:]} {res.stderr[-1000:]}")
    return json.loads(res.stdout)


def status(ns, url, timeout=2.0):
    """HTTP status of GET url from inside ns, or None on a connection error."""
    r = http(ns, "GET", url, timeout=timeout, max_body=0)
    return r.get("status")



def dns_query(ns, name, server, timeout=2.0):
    """One A query for `name` to `server`:53 from inside `ns`; returns nsclient's JSON."""
    res = run_in(ns, [PYTHON, NSCLIENT, "dns", name, server, "--timeout", str(timeout)],
                 timeout=timeout + 30, check=False)
    if res.returncode != 0:
        raise util.HarnessError(f"nsclient dns failed in {ns}: {res.stdout} {res.stderr}")
    return json.loads(res.stdout)
