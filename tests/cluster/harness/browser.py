"""A real headless Chromium (Debian's `chromium`) that loads one node's status page from a network
namespace whose ONLY interface is loopback, so the page provably fetches nothing external.

    browser ns (lo only)                                        node ns
    chromium -> 127.0.0.1:<port> -> relay -> <tmp>/m.sock -> relay -> 127.0.0.1:<port> (spegel)

The two relays are this file run as a script (`browser.py relay tcp-to-unix|unix-to-tcp ...`,
Python stdlib only), each inside its namespace under `ip netns exec`; the unix socket in a temp
dir is the only path between the namespaces (namespaces share the filesystem, not the network).

Owner: the test that constructs LoopbackBrowser; call close() in tearDown/finally (also on
failure). Every process goes through itharness.util (runner watchdog), is stopped by PID, and
Chromium's helper processes (same session, started with start_new_session) are stopped by PID
too; the namespace goes through netns (deleted in close(), by the watchdog and atexit).
Not thread-safe.
"""

import os
import socket
import sys
import threading
import time

CHROMIUM_BIN = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
# Headless, no sandbox (root), nothing that phones home; a fresh profile per run.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
CHROMIUM_TIMEOUT = 60.0
RELAY_MAX_SECONDS = 900.0


# ---- the relay (run as a script inside a namespace; stdlib only) -----------------------------

def _pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _serve_conn(n, conn, connect):
    """Relays one accepted connection both ways; logs its first request line."""
    try:
        out = connect()
    except OSError as e:
        print(f"conn {n}: connect failed: {e}", flush=True)
        conn.close()
        return
    first = b""
    try:  # the first request line, for the log (the bytes are relayed as they are)
        conn.settimeout(5.0)
        first = conn.recv(65536, socket.MSG_PEEK).split(b"\r\n", 1)[0]
    except OSError:
        pass
    conn.settimeout(None)
    print(f"conn {n}: {first.decode('latin-1')[:200]}", flush=True)
    back = threading.Thread(target=_pipe, args=(out, conn), daemon=True)
    back.start()
    _pipe(conn, out)
    back.join(RELAY_MAX_SECONDS)
    conn.close()
    out.close()


def _relay_main(argv):
    """relay tcp-to-unix HOST:PORT SOCK | relay unix-to-tcp SOCK HOST:PORT. Accepts connections
    on the first address and relays each, both ways, to the second. Prints `ready` once
    listening and one `conn N: <first request line>` per connection; exits after
    RELAY_MAX_SECONDS (bounded even if its owner dies without stopping it)."""
    if len(argv) != 4 or argv[0] != "relay" or argv[1] not in ("tcp-to-unix", "unix-to-tcp"):
        print("usage: browser.py relay tcp-to-unix HOST:PORT SOCK | unix-to-tcp SOCK HOST:PORT",
              file=sys.stderr)
        return 2
    mode, src, dst = argv[1], argv[2], argv[3]

    def tcp_addr(text):
        host, port = text.rsplit(":", 1)
        if host not in ("127.0.0.1", "localhost"):
            raise SystemExit(f"relay: refusing non-loopback address {text}")
        return host, int(port)

    if mode == "tcp-to-unix":
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(tcp_addr(src))

        def connect():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10.0)
            s.connect(dst)
            s.settimeout(None)
            return s
    else:
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(src)
        target = tcp_addr(dst)

        def connect():
            s = socket.create_connection(target, timeout=10.0)
            s.settimeout(None)
            return s
    lsock.listen(64)
    lsock.settimeout(1.0)
    print("ready", flush=True)
    deadline = time.monotonic() + RELAY_MAX_SECONDS
    n = 0
    while time.monotonic() < deadline:
        try:
            conn, _ = lsock.accept()
        except socket.timeout:
            continue
        n += 1
        conn.settimeout(None)
        threading.Thread(target=_serve_conn, args=(n, conn, connect), daemon=True).start()
    return 0


if __name__ == "__main__":
    sys.exit(_relay_main(sys.argv[1:]))


# ---- the harness side ----------------------------------------------------------------------

from itharness import util  # noqa: E402  (not needed by the relay above)

from . import netns  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def _session_members(sid):
    """PIDs of live processes whose session id is `sid` (Chromium's helpers)."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read().decode("latin-1")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        # fields after "comm)": state ppid pgrp session ...
        if len(fields) > 3 and fields[3] == str(sid) and fields[0] != "Z":
            pids.append(int(name))
    return pids


class LoopbackBrowser:
    """Namespace `<prefix>-web` with only `lo`, its 127.0.0.1:<port> relayed to 127.0.0.1:<port>
    inside `node_ns` through a unix socket; runs Chromium there."""

    def __init__(self, prefix, node_ns, port):
        self.prefix = prefix
        self.node_ns = node_ns
        self.port = port
        self.ns = None
        self.dir = util.make_temp_dir("scl-web-")
        self.sock = os.path.join(self.dir, "m.sock")
        self.relays = []  # (Popen, log path)
        self.runs = 0

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self):
        try:
            self.ns = netns.add(f"{self.prefix}-web")   # lo up, nothing else
            self.check_loopback_only()
            self._relay(self.node_ns, "unix-to-tcp", self.sock, f"127.0.0.1:{self.port}",
                        "relay-node")
            self._relay(self.ns, "tcp-to-unix", f"127.0.0.1:{self.port}", self.sock,
                        "relay-web")
        except BaseException:
            self.close()
            raise
        return self

    def _relay(self, ns, mode, src, dst, name):
        log = os.path.join(self.dir, f"{name}.log")
        proc = util.start_process(netns.exec_prefix(ns) +
                                  [netns.PYTHON, os.path.abspath(__file__), "relay", mode, src,
                                   dst], log)
        self.relays.append((proc, log))

        def ready():
            if proc.poll() is not None:
                raise util.HarnessError(f"relay {name} exited {proc.returncode}: "
                                        f"{util.tail(log)}")
            with open(log, "rb") as f:
                return b"ready\n" in f.read()
        util.wait_until(ready, 10.0, f"relay {name} to listen", 0.05)

    def close(self):
        """Stops both relays by PID, deletes the namespace and the temp dir."""
        for proc, _ in self.relays:
            util.stop_process(proc, term_timeout=5.0)
        self.relays = []
        if self.ns is not None:
            netns.delete(self.ns)
            self.ns = None
        util.remove_temp_dir(self.dir)

    # ---- checks ----------------------------------------------------------------------------

    def check_loopback_only(self):
        """Raises HarnessError unless the namespace's only link is `lo` and every route in its
        main tables goes through lo (no default route, nothing to leave by)."""
        links = netns.run_in(self.ns, ["ip", "-o", "link", "show"]).stdout.splitlines()
        names = [ln.split(":")[1].strip().split("@")[0] for ln in links if ln.strip()]
        if names != ["lo"]:
            raise util.HarnessError(f"{self.ns} has links {names}, want only lo")
        netns.assert_no_default_route(self.ns)
        for family in ("-4", "-6"):
            routes = netns.run_in(self.ns, ["ip", family, "route", "show"]).stdout.splitlines()
            stray = [r for r in routes if r.strip() and " dev lo" not in f" {r}"]
            if stray:
                raise util.HarnessError(f"{self.ns} has routes off loopback: {stray}")
        return names

    def relay_connections(self):
        """The `conn N: <request line>` lines of the browser-side relay: every connection the
        browser opened (the only way out of its namespace)."""
        if len(self.relays) < 2:
            return []
        with open(self.relays[1][1], "rb") as f:
            return [ln for ln in f.read().decode("utf-8", "replace").splitlines()
                    if ln.startswith("conn ")]

    def http(self, method, path, **kw):
        """One request to the node's port through the relays, from inside the browser ns."""
        return netns.http(self.ns, method, f"http://127.0.0.1:{self.port}{path}", **kw)

    # ---- chromium --------------------------------------------------------------------------

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def run_chromium(self, args, timeout=CHROMIUM_TIMEOUT):
        """Runs Chromium with CHROMIUM_FLAGS, a fresh profile dir and `args` inside the
        namespace, bounded by `timeout`; returns (exit code, stdout bytes, stderr text). Its
        helper processes are stopped by PID when it is done."""
        if not os.access(CHROMIUM_BIN, os.X_OK):
            raise util.HarnessError(f"{CHROMIUM_BIN} is missing: apt-get install chromium "
                                    "(scripts/setup installs it)")
        self.runs += 1
        run_dir = os.path.join(self.dir, f"chromium-{self.runs}")
        profile = os.path.join(run_dir, "profile")
        os.makedirs(profile)
        out_path = os.path.join(run_dir, "stdout")
        err_path = os.path.join(run_dir, "stderr")
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": run_dir,
               "XDG_CONFIG_HOME": os.path.join(run_dir, "config"),
               "XDG_CACHE_HOME": os.path.join(run_dir, "cache"), "TMPDIR": run_dir,
               "LANG": "C.UTF-8"}
        argv = (netns.exec_prefix(self.ns) + [CHROMIUM_BIN] + CHROMIUM_FLAGS +
                [f"--user-data-dir={profile}"] + list(args))
        proc = util.start_process(argv, err_path, env=env, stdout_path=out_path)
        try:
            try:
                proc.wait(timeout=timeout)
            except Exception:  # noqa: BLE001 - TimeoutExpired: stopped below, then reported
                util.stop_process(proc, term_timeout=5.0)
                raise util.HarnessError(f"chromium did not finish in {timeout:.1f}s: "
                                        f"{' '.join(args)}\n{util.tail(err_path, 2000)}")
            code = util.stop_process(proc, term_timeout=5.0)
        finally:
            self._reap_session(proc.pid)
        with open(out_path, "rb") as f:
            out = f.read()
        return code, out, util.tail(err_path, 4000)

    @staticmethod
    def _reap_session(sid, timeout=5.0):
        """Helpers of the Chromium started with session `sid` exit with it; any left after
        `timeout` get SIGKILL, by PID."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _session_members(sid):
                return
            time.sleep(0.1)
        for pid in _session_members(sid):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass

    def dump_dom(self, path, timeout=CHROMIUM_TIMEOUT):
        """The DOM Chromium built from the page at `path` (--dump-dom), as text."""
        code, out, err = self.run_chromium(["--dump-dom", self.url(path)], timeout)
        if code != 0 or not out.strip():
            raise util.HarnessError(f"chromium --dump-dom exited {code} with {len(out)} bytes:"
                                    f"\n{err}")
        return out.decode("utf-8", "replace")

    def screenshot(self, path, png_path, size=(1280, 1600), timeout=CHROMIUM_TIMEOUT):
        """Writes a PNG of the page at `path` to `png_path` (--screenshot); returns its size."""
        code, _, err = self.run_chromium([f"--screenshot={png_path}",
                                          f"--window-size={size[0]},{size[1]}",
                                          self.url(path)], timeout)
        if code != 0 or not os.path.exists(png_path):
            raise util.HarnessError(f"chromium --screenshot exited {code}, no {png_path}:\n{err}")
        return os.path.getsize(png_path)
