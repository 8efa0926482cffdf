#!/usr/bin/python3
"""Spegel demos for a machine whose containerd is absent or must not be touched (scripts/run).

  demo.py node    [--demo-dir DIR] [--registry-addr A] [--metrics-addr A] [--router-addr A]
                  [--max-runtime S] [SPEGEL REGISTRY FLAGS...]
      A private containerd with all its state under DIR (default .cache/demo), a sample image
      made offline by tests/integration/harness/imagegen.py and imported with `ctr images
      import`, and `spegel registry` against it on loopback (127.0.0.1:5000, status page
      127.0.0.1:9090, router 127.0.0.1:5001). Prints curl lines to try once /readyz is 200.
  demo.py cluster [--demo-dir DIR] [--max-runtime S]
      Three nodes in network namespaces (tests/cluster/harness/cluster.py: a containerd and a
      spegel each, an upstream docker-registry, dnsmasq for the headless name). node1 pulls the
      sample image from the upstream, the upstream's link goes down, node2 and node3 pull it
      through their spegels; prints node, source, bytes, time, read from the upstream's access
      log and each spegel's spegel_served_bytes_total. Then pull coalescing: the upstream comes
      back, throttled to 300 Mbit/s so that the pulls overlap, and the three nodes pull a second,
      new image (3 layers of 8 MiB) at once; prints each node's wall time and where each of its
      layers came from (upstream, a copy in flight on another node, or a peer's complete copy;
      from each spegel's /debug/status), and the bytes the upstream sent for that image against
      one image's size (about 1.0x: the cluster downloaded it once, not three times). DIR
      (default .cache/demo-cluster) only holds state.json, which a next run uses to clean up
      after a killed one.

Both run until SIGINT/SIGTERM (or --max-runtime, default 24 h), then stop every process they
started by PID (containerd included) and delete the namespaces. Every process started is listed
in DIR/pids.json (node) or DIR/state.json (cluster) while it runs. Traffic goes only to loopback
or to addresses inside the namespaces made here, from inside them (the cluster harness's rules).
"""

import sys

sys.dont_write_bytecode = True  # nothing written into the source tree either

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("SPEGEL_BUILD_DIR", os.path.join(REPO, "build"))
os.environ.setdefault("SPEGEL_BIN", os.path.join(os.environ["SPEGEL_BUILD_DIR"], "src", "spegel"))
sys.path.insert(0, os.path.join(REPO, "tests", "cluster"))

import harness  # noqa: E402,F401  (loads tests/integration/harness as `itharness`)
from itharness import containerd as itcontainerd  # noqa: E402
from itharness import imagegen  # noqa: E402
from itharness import spegel as itspegel  # noqa: E402
from itharness import util  # noqa: E402

MARKER = ".spegel-demo"
IMAGE_NAME = "spegel-demo/hello"
IMAGE_TAG = "v1"
IMAGE_REGISTRY = "docker.io"
SOCKET_MAX = 107  # sun_path is 108 bytes with the NUL
READY_TIMEOUT = 30.0


class Stop(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM (a BaseException, like KeyboardInterrupt, so
    the harness's `except Exception` in bounded waits does not swallow it)."""


def say(*lines):
    for line in lines:
        print(line, flush=True)


def _on_signal(signum, _frame):
    raise Stop(signum)


def _ignore_signals():
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)




def _stop_pid(pid, cmdline, what):
    """SIGTERM, then SIGKILL after 10 s, of `pid` if it is still the process recorded (same
    cmdline: a reused PID is left alone). Returns True if it was ours and is gone."""
    if util.proc_cmdline(pid) != cmdline:
        return False
    say(f"demo: stopping {what} left from an earlier run (PID {pid})")
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if util.proc_cmdline(pid) != cmdline:  # gone, or a zombie (empty cmdline)
                return True
            time.sleep(0.1)
    return util.proc_cmdline(pid) != cmdline






def _unmount_under(path):
    """Unmounts whatever a killed containerd left mounted under `path` (deepest first)."""
    path = os.path.realpath(path)
    mounts = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mp = line.split()[4].replace("\\040", " ")
                if mp == path or mp.startswith(path + "/"):
                    mounts.append(mp)
    except OSError:
        return
    for mp in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", mp], capture_output=True, timeout=10)


class Recorder:
    """The processes started, written to a JSON file after every start (for the next run's
    cleanup and for tests)."""

    def __init__(self, path):
        self.path = path
        self.entries = []

    def add(self, what, proc, **extra):
        self.entries.append({"what": what, "pid": proc.pid,
                             "cmdline": util.proc_cmdline(proc.pid) or
                             [str(a) for a in proc.args], **extra})
        self.write()

    def write(self, **doc):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"pids": self.entries, **doc}, f, indent=1)
        os.replace(tmp, self.path)

    def remove(self):
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass


def _clean_stale_pids(path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return {}
    for e in reversed(doc.get("pids", [])):  # newest first: spegel before its containerd
        _stop_pid(e["pid"], e["cmdline"], e.get("what", "a process"))
    return doc


def prepare_dir(d):
    """Makes `d` an empty demo dir. An existing one is reused only if it carries the marker a
    demo run writes (never wipes a directory it did not make); processes a killed run left
    behind (recorded in pids.json) are stopped by PID first."""
    if os.path.isdir(d) and os.listdir(d):
        if not os.path.exists(os.path.join(d, MARKER)):
            raise SystemExit(f"demo: {d} exists, is not empty and was not made by the demo; "
                             "choose another --demo-dir")
        _clean_stale_pids(os.path.join(d, "pids.json"))
        left = util.procs_pointing_into(d)
        if left:
            raise SystemExit(f"demo: processes not started by this demo still use {d}: PIDs "
                             f"{' '.join(map(str, left))}; stop them or choose another --demo-dir")
        _unmount_under(d)
        for name in os.listdir(d):
            p = os.path.join(d, name)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.remove(p)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, MARKER), "w") as f:
        f.write("made by scripts/demo.py; emptied by the next demo run\n")


def _loopback_addr(raw, flag):
    """'127.0.0.1:P', '[::1]:P', 'localhost:P' or ':P'/'P' -> (listen arg, URL host:port)."""
    m = re.fullmatch(r"(?:(127\.\d+\.\d+\.\d+|\[::1\]|localhost)?:)?(\d+)", raw)
    if not m:
        raise SystemExit(f"demo: {flag} {raw}: the demo listens on loopback only (use "
                         "127.0.0.1:PORT)")
    host = m.group(1) or "127.0.0.1"
    if host == "localhost":
        host = "127.0.0.1"
    return f"{host}:{m.group(2)}", f"{host}:{m.group(2)}"


def _wait_or_die(procs, max_runtime):
    """Sleeps until a signal (Stop), max_runtime, or one of `procs` (name -> (Popen, log))
    exiting; bounded by max_runtime."""
    deadline = time.monotonic() + max_runtime
    while time.monotonic() < deadline:
        for name, (proc, log) in procs.items():
            if proc is not None and proc.poll() is not None:
                say(f"demo: {name} exited with {proc.returncode}; its log ({log}) ends with:",
                    util.tail(log, 3000))
                return 1
        time.sleep(0.5)
    say(f"demo: --max-runtime {max_runtime:.0f}s reached")
    return 0


# ---- the demo node ---------------------------------------------------------------------------

def run_node(opts, extra):
    d = os.path.abspath(opts.demo_dir)
    ctd_dir = os.path.join(d, "ctd")
    if len(os.path.join(ctd_dir, "c.sock.ttrpc")) > SOCKET_MAX:
        raise SystemExit(f"demo: --demo-dir {d} is too long for containerd's unix socket "
                         f"({SOCKET_MAX} bytes); choose a shorter path")
    registry_addr, registry_host = _loopback_addr(opts.registry_addr, "--registry-addr")
    metrics_addr, metrics_host = _loopback_addr(opts.metrics_addr, "--metrics-addr")
    router_addr, _ = _loopback_addr(opts.router_addr, "--router-addr")
    prepare_dir(d)
    rec = Recorder(os.path.join(d, "pids.json"))
    ctd = None
    spegel = None
    code = 1
    try:
        ctd = itcontainerd.Containerd(state_dir=ctd_dir)
        ctd.start()
        rec.add("containerd", ctd.proc, log=ctd.log_path)
        version = re.search(r"Server:\s*Version:\s*(\S+)",
                            ctd.ctr("version", namespace=None, timeout=10).stdout)
        say(f"demo: containerd {version.group(1) if version else '?'} (PID {ctd.proc.pid}), "
            f"socket {ctd.socket}, log {ctd.log_path}")

        image = imagegen.generate(os.path.join(d, "image"), seed="spegel-demo", name=IMAGE_NAME,
                                  tag=IMAGE_TAG, layer_sizes=(1 << 20, 64 << 10),
                                  full_name=f"{IMAGE_REGISTRY}/{IMAGE_NAME}:{IMAGE_TAG}")
        tar = imagegen.layout_tar(image.layout_dir, os.path.join(d, "image.tar"))
        ctd.ctr("images", "import", tar, timeout=60)
        blobs = image.blobs_for_platform()
        ctd.wait_content(blobs.keys(), timeout=15.0)
        total = sum(b.size for b in blobs.values())
        say(f"demo: sample image {IMAGE_REGISTRY}/{IMAGE_NAME}:{IMAGE_TAG} made offline "
            f"({len(blobs)} blobs, {total} bytes) and imported with ctr")

        log_path = os.path.join(d, "spegel.log")
        args = ["registry", "--containerd-sock", ctd.socket, "--containerd-namespace",
                itcontainerd.NAMESPACE, "--containerd-content-path", ctd.content_dir,
                "--containerd-config", ctd.config_path,
                "--containerd-registry-config-path", ctd.certs_d,
                "--registry-addr", registry_addr, "--metrics-addr", metrics_addr,
                "--router-addr", router_addr, "--log-level", "INFO"] + list(extra)
        spegel = util.start_process([itspegel.spegel_bin()] + args, log_path,
                                    stdout_path=os.path.join(d, "spegel.out"))
        rec.add("spegel", spegel, log=log_path)
        base = f"http://{registry_host}"

        def ready():  # wait_until takes exceptions for "not yet": an exit ends the wait too
            if spegel.poll() is not None:
                return True
            try:
                return util.http_request(base + "/readyz", timeout=2.0)[0] == 200
            except OSError:
                return False
        util.wait_until(ready, READY_TIMEOUT, f"spegel /readyz on {base}", 0.1)
        if spegel.poll() is not None:
            raise util.HarnessError(f"spegel exited with {spegel.returncode}; {log_path} ends "
                                    f"with:\n{util.tail(log_path)}")

        manifest = image.top
        layer = image.platforms[imagegen.HOST_PLATFORM].layers[0]
        path = f"/v2/{IMAGE_REGISTRY}/{IMAGE_NAME}"
        status, headers, body = util.http_request(
            f"{base}{path}/manifests/{IMAGE_TAG}", headers={"Accept": manifest.media_type})
        if status != 200 or headers.get("docker-content-digest") != manifest.digest:
            raise util.HarnessError(f"spegel does not serve the sample manifest: {status} "
                                    f"{headers} {body[:300]!r}\n{util.tail(log_path)}")
        say(f"demo: spegel ready (PID {spegel.pid}), log {log_path}; PIDs in {rec.path}",
            "try:",
            f"  curl -i {base}/v2/",
            f"  curl -i -H 'Accept: {manifest.media_type}' {base}{path}/manifests/{IMAGE_TAG}",
            f"  curl -s {base}{path}/blobs/{layer.digest} | sha256sum"
            f"    # the {layer.size}-byte layer",
            f"  status page: http://{metrics_host}/   (metrics: http://{metrics_host}/metrics)",
            "demo: Ctrl-C stops spegel and containerd")
        code = _wait_or_die({"spegel": (spegel, log_path),
                             "containerd": (ctd.proc, ctd.log_path)}, opts.max_runtime)
    except Stop:
        code = 0
    except (util.HarnessError, TimeoutError) as e:
        say(f"demo: failed: {e}")
        if "Address already in use" in str(e):
            say("demo: a port is taken; choose others with --registry-addr, --metrics-addr and "
                "--router-addr (127.0.0.1:PORT)")
    finally:
        _ignore_signals()
        if spegel is not None:
            util.stop_process(spegel, term_timeout=10.0)
        if ctd is not None:
            ctd.stop()
        rec.remove()
        say(f"demo: stopped spegel and containerd; state left in {d} (emptied by the next run)")
    return code


# ---- the demo cluster ------------------------------------------------------------------------

def _metric(text, name, labels):
    """Sum of samples of `name` whose labels include `labels` (dict) in Prometheus text."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        m = re.match(re.escape(name) + r"(\{[^}]*\})?\s+(\S+)", line)
        if not m:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(2))
    return total


def _served(node):
    """(local, peer) body bytes this node's spegel has served (spegel_served_bytes_total)."""
    r = node.http("GET", node.metrics_url("/metrics"), timeout=3.0)
    if r.get("status") != 200:
        raise util.HarnessError(f"{node.name} /metrics: {r}")
    text = r["body"]
    return (_metric(text, "spegel_served_bytes_total", {"source": "local"}),
            _metric(text, "spegel_served_bytes_total", {"source": "peer"}))


_ACCESS = re.compile(r'^(\S+) \S+ \S+ \[[^\]]*\] "(GET|HEAD) (\S+) HTTP/[\d.]+" (\d+) (\d+|-)')


def _upstream_bytes(c, since, ip):
    """Body bytes of GET /v2/... 200 answers the upstream gave to `ip` after access-log line
    `since` (the registry's combined access log)."""
    total = 0
    for line in c.upstream_requests()[since:]:
        m = _ACCESS.match(line)
        if m and m.group(1) == ip and m.group(2) == "GET" and m.group(4) == "200" \
                and m.group(5) != "-":
            total += int(m.group(5))
    return total


_ACCESS_ANY = re.compile(r'^(\S+) \S+ \S+ \[[^\]]*\] "GET (\S+) HTTP/[\d.]+" (200|206) (\d+)')

COALESCE_RATE = "300mbit"      # the upstream's egress during the simultaneous pulls
COALESCE_LAYERS = (8 << 20,) * 3
PULL_TIMEOUT = 300


def _upstream_gets(c, since, repo):
    """[(client ip, path, bytes)] of GET /v2/<repo>/... answers (200 and 206, Range resumes
    included) in the upstream's access log after line `since`."""
    out = []
    for line in c.upstream_requests()[since:]:
        m = _ACCESS_ANY.match(line)
        if m and m.group(2).startswith(f"/v2/{repo}/"):
            out.append((m.group(1), m.group(2), int(m.group(4))))
    return out


def _unthrottle_upstream(c):
    from harness import netns
    if c.upstream_ns is not None:
        netns.run_in(c.upstream_ns, ["tc", "qdisc", "del", "dev", "eth0", "root"], timeout=10,
                     check=False)


def _pull_together(nodes, ref):
    """CRI pulls of `ref` on every node at once (one thread each, released together). Returns
    {node name: seconds}; raises HarnessError naming the pulls that failed. Bounded: each pull
    by PULL_TIMEOUT, the joins by PULL_TIMEOUT + 30 s."""
    times, errors = {}, {}
    gate = threading.Barrier(len(nodes))

    def pull(node):
        try:
            gate.wait(10.0)
            t0 = time.monotonic()
            node.cri_pull(ref, timeout=PULL_TIMEOUT)
            times[node.name] = time.monotonic() - t0
        except Exception as e:  # noqa: BLE001 - reported below, by node
            errors[node.name] = str(e)[:600]
    threads = [threading.Thread(target=pull, args=(n,), daemon=True) for n in nodes]
    for t in threads:
        t.start()
    deadline = time.monotonic() + PULL_TIMEOUT + 30.0
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    late = [n.name for n, t in zip(nodes, threads) if t.is_alive()]
    if late:
        raise util.HarnessError(f"pulls still running after {PULL_TIMEOUT + 30:.0f} s: {late}")
    if errors:
        raise util.HarnessError(f"pulls failed: {errors}")
    return times


def _layer_sources(node, layers, up_gets, since_ms):
    """([label per layer], /debug/status totals) for `node`: "upstream" (a GET of it from this
    node in the upstream's access log), "in-flight from <node>" / "peer <node>" (a complete
    answer of this node's spegel to its containerd, from a download in flight / a complete copy
    on <node>, in /debug/status recent_pulls); more than one joined with "+" (e.g. a stream cut
    short and resumed upstream)."""
    doc = node.metrics_json("/debug/status")
    labels = []
    for lay in layers:
        parts = []
        for p in doc.get("recent_pulls", []):
            if p.get("reference") != lay.digest or p.get("unix_ms", 0) < since_ms \
                    or not p.get("complete") or p.get("status") not in (200, 206):
                continue
            if p.get("source") == "inflight":
                parts.append(f"in-flight from {p.get('peer') or '?'}")
            elif p.get("source") == "peer":
                parts.append(f"peer {p.get('peer') or '?'}")
            elif p.get("source") == "local":
                parts.append("local")
        if any(ip == node.ip and path.endswith("/blobs/" + lay.digest)
               for ip, path, _ in up_gets):
            parts.append("upstream")
        labels.append("+".join(dict.fromkeys(parts)) or "?")
    return labels, doc.get("totals", {})


def _clean_stale_cluster(state_path):
    """Stops the processes, deletes the namespaces and temp dirs a killed earlier run recorded."""
    doc = _clean_stale_pids(state_path)
    if not doc:
        return
    existing = util.netns_names()
    for ns in doc.get("namespaces", []):
        if re.fullmatch(r"sc\d+-[a-z0-9]+", ns) and ns in existing:
            say(f"demo-cluster: deleting namespace {ns} left from an earlier run")
            util.run(["ip", "netns", "del", ns], timeout=10, check=False)
    for t in doc.get("dirs", []):
        if re.fullmatch(r"/tmp/(scl|sit)-[^/]+", t) and os.path.isdir(t):
            _unmount_under(t)
            shutil.rmtree(t, ignore_errors=True)
    os.remove(state_path)


def coalesce(c, probe):
    """Part 2, pull coalescing: the upstream back (throttled), a new image pulled by every node
    at once; prints a table of wall times and layer sources, and upstream bytes / image size."""
    from harness import cluster as cl
    from harness import netns

    c.restore_upstream()
    util.wait_until(lambda: netns.status(probe.ns, f"http://{c.upstream_addr}/v2/") == 200,
                    15.0, f"the upstream to answer {probe.ns} again", 0.2)
    image = c.generate("rollout", layer_sizes=COALESCE_LAYERS, compresslevel=0)
    tag_ref, _ = c.push(image)
    blobs = image.blobs_for_platform()
    total = sum(b.size for b in blobs.values())
    layers = image.platforms[imagegen.HOST_PLATFORM].layers
    for n in c.nodes:
        if any(n.has_blob(b.digest) for b in blobs.values()):
            raise util.HarnessError(f"{n.name} already holds part of {tag_ref}")
    say(f"demo-cluster: upstream restored; new image {tag_ref} ({len(layers)} layers of "
        f"{COALESCE_LAYERS[0] >> 20} MiB, {len(blobs)} blobs, {total} bytes) made offline and "
        f"pushed; no node has it. The upstream's link is throttled to {COALESCE_RATE} and the "
        f"{len(c.nodes)} nodes pull it at once")
    since = len(c.upstream_requests())
    since_ms = int(time.time() * 1000) - 1000
    before = {n.name: n.metrics_json("/debug/status").get("totals", {}) for n in c.nodes}
    cl.throttle_upstream(c, COALESCE_RATE)
    try:
        t0 = time.monotonic()
        times = _pull_together(c.nodes, tag_ref)
        wall = time.monotonic() - t0
    finally:
        _unthrottle_upstream(c)
    for n in c.nodes:
        missing = [b.digest for b in blobs.values() if not n.has_blob(b.digest)]
        if missing:
            raise util.HarnessError(f"{n.name} lacks {missing} after the pull")
    ups = _upstream_gets(c, since, image.name)
    up_total = sum(nbytes for _, _, nbytes in ups)

    # a request is logged at its last byte, which may trail containerd's commit a little
    rows = {}

    def sourced():
        for n in c.nodes:
            rows[n.name] = _layer_sources(n, layers, ups, since_ms)
        return all("?" not in labels for labels, _ in rows.values())
    try:
        util.wait_until(sourced, 5.0, "every layer's source", 0.25)
    except TimeoutError:
        pass  # printed as "?"

    width = max([22] + [len(lab) for labels, _ in rows.values() for lab in labels]) + 2
    say("", f"{'node':<7} {'time':>8}  " +
        "".join(f"{f'layer {i + 1} ({lay.size >> 20} MiB)':<{width}}"
                for i, lay in enumerate(layers)) + "from peers")
    for n in c.nodes:
        labels, totals = rows[n.name]
        got = {k: int(totals.get(k, 0)) - int(before[n.name].get(k, 0))
               for k in ("inflight_bytes", "peer_bytes")}
        via = f"{got['inflight_bytes'] / (1 << 20):.1f} MiB in flight"
        if got["peer_bytes"]:
            via += f", {got['peer_bytes'] / (1 << 20):.1f} MiB from copies"
        say(f"{n.name:<7} {times[n.name]:>6.2f} s  " +
            "".join(f"{lab:<{width}}" for lab in labels) + via)
    say(f"upstream sent {up_total} bytes for this image, one image is {total} bytes: "
        f"{up_total / total:.2f}x (the {len(c.nodes)} nodes pulled at once in {wall:.2f} s; "
        f"{len(c.nodes)} separate downloads would be {len(c.nodes)}.00x)")
    say("(upstream = the node's GET in the upstream's access log; in-flight from nodeX = its "
        "spegel streamed the layer from nodeX's download while it ran; peer nodeX = from nodeX's "
        "complete copy; both from recent_pulls in each spegel's /debug/status, and from peers = "
        "its totals.inflight_bytes and totals.peer_bytes. Upstream bytes: every GET answer for "
        "this image in the upstream's access log, manifests included)", "")


def run_cluster(opts):
    from harness import cluster as cl
    from harness import netns

    d = os.path.abspath(opts.demo_dir)
    if os.path.isdir(d) and os.listdir(d) and not os.path.exists(os.path.join(d, MARKER)):
        raise SystemExit(f"demo-cluster: {d} exists, is not empty and was not made by the demo; "
                         "choose another --demo-dir")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, MARKER), "w") as f:
        f.write("made by scripts/demo.py (--demo-cluster)\n")
    state_path = os.path.join(d, "state.json")
    _clean_stale_cluster(state_path)

    def record():
        with util._registry_lock:  # noqa: SLF001 - the harness's own registry of what it started
            procs = list(util._live_processes.values())  # noqa: SLF001
            dirs = sorted(util._live_dirs)  # noqa: SLF001
        with netns._lock:  # noqa: SLF001
            names = list(netns._live)  # noqa: SLF001
        doc = {"pids": [{"what": os.path.basename(str(p.args[4] if p.args[:3] ==
                                                        ["ip", "netns", "exec"] else p.args[0])),
                         "pid": p.pid,
                         "cmdline": util.proc_cmdline(p.pid) or [str(a) for a in p.args]}
                        for p in procs if p.poll() is None],
               "namespaces": names, "dirs": dirs}
        tmp = state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(tmp, state_path)

    c = None
    code = 1
    try:
        c = cl.Cluster(nodes=3, multicast=False, dns=True)
        say(f"demo-cluster: namespaces {c.prefix}-sw (bridge), {c.prefix}-up (upstream "
            f"docker-registry {c.upstream_addr}), {c.prefix}-dns (dnsmasq), "
            f"{c.prefix}-n1..n3 (containerd + spegel, {c.subnet}.11-13)")
        c.start()
        record()
        c.configure_spegels(dns=True)
        c.start_spegels()
        record()
        c.wait_members()
        say("demo-cluster: 3 spegels ready, each lists the other two as members")

        image = c.generate("hello", layer_sizes=(8 << 20, 256 << 10), compresslevel=0)
        tag_ref, _ = c.push(image)
        blobs = image.blobs_for_platform()
        total = sum(b.size for b in blobs.values())
        say(f"demo-cluster: sample image {tag_ref} ({len(blobs)} blobs, {total} bytes) made "
            "offline and pushed to the upstream")

        rows = []

        def pull(node):
            served0 = {n.name: _served(n) for n in c.nodes}
            log0 = len(c.upstream_requests())
            t0 = time.monotonic()
            node.cri_pull(tag_ref, timeout=120)
            took = time.monotonic() - t0
            missing = [b.digest for b in blobs.values() if not node.has_blob(b.digest)]
            if missing:
                raise util.HarnessError(f"{node.name} lacks {missing} after the pull")
            served1 = {n.name: _served(n) for n in c.nodes}
            peer_bytes = int(served1[node.name][1] - served0[node.name][1])
            up_bytes = _upstream_bytes(c, log0, node.ip)
            servers = [n.name for n in c.nodes if n is not node
                       and served1[n.name][0] > served0[n.name][0]]
            if peer_bytes and not up_bytes:
                source, nbytes = f"peer ({', '.join(servers) or '?'})", peer_bytes
            elif up_bytes and not peer_bytes:
                source, nbytes = "upstream", up_bytes
            elif up_bytes and peer_bytes:
                source, nbytes = f"upstream + peer ({', '.join(servers)})", up_bytes + peer_bytes
            else:
                source, nbytes = "none", 0
            rows.append((node.name, source, nbytes, took))
            say(f"demo-cluster: {node.name} pulled {tag_ref} in {took:.2f} s from {source}")

        n1, n2, n3 = c.nodes
        pull(n1)
        # node1's spegel announces what it now has; wait until the others can find it
        keys = [b.digest for b in blobs.values()]
        for node in (n2, n3):
            util.wait_until(lambda node=node: all("node1" in node.providers(k) for k in keys),
                            30.0, f"{node.name} to find node1 as a provider", 0.3)
        c.cut_upstream()
        r = netns.http(n2.ns, "GET", f"http://{c.upstream_addr}/v2/", timeout=1.0)
        if "error" not in r:
            raise util.HarnessError(f"the upstream still answers after the cut: {r}")
        say(f"demo-cluster: upstream cut (eth0 of {c.upstream_ns} is down; a GET /v2/ from "
            f"{n2.ns} fails: {r['error']})")
        pull(n2)
        pull(n3)

        say("", f"{'node':<7} {'source':<22} {'bytes':>10} {'time':>9}")
        for name, source, nbytes, took in rows:
            say(f"{name:<7} {source:<22} {nbytes:>10} {took:>7.2f} s")
        say(f"(image: {total} bytes; source and bytes: upstream = GET answers in the upstream's "
            "access log to that node, peer = spegel_served_bytes_total{source=\"peer\"} on "
            "that node's spegel, serving node = whose {source=\"local\"} grew)", "")
        coalesce(c, n2)
        say("demo-cluster: running until Ctrl-C. Status pages, from this machine as root:")
        for n in c.nodes:
            say(f"  ip netns exec {n.ns} curl -s http://127.0.0.1:{cl.METRICS_PORT}/")
        say(f"  ip netns exec {n2.ns} curl -s http://127.0.0.1:{cl.METRICS_PORT}/metrics | "
            "grep spegel_served_bytes_total")
        procs = {n.name + " spegel": (n.spegel.proc, n.spegel.log_path) for n in c.nodes}
        code = _wait_or_die(procs, opts.max_runtime)
    except Stop:
        code = 0
    except (util.HarnessError, TimeoutError, AssertionError) as e:
        say(f"demo-cluster: failed: {e}")
        if c is not None:
            say(c.logs())
    finally:
        _ignore_signals()
        if c is not None:
            c.close()
        netns.delete_all()
        try:
            os.remove(state_path)
        except FileNotFoundError:
            pass
        say("demo-cluster: stopped every process by PID and deleted the namespaces")
    return code


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=("node", "cluster"))
    ap.add_argument("--demo-dir")
    ap.add_argument("--containerd-sock", help="ignored: the demo starts its own containerd")
    ap.add_argument("--registry-addr", default="127.0.0.1:5000")
    ap.add_argument("--metrics-addr", default="127.0.0.1:9090")
    ap.add_argument("--router-addr", default="127.0.0.1:5001")
    ap.add_argument("--max-runtime", type=float, default=24 * 3600.0)
    opts, extra = ap.parse_known_args()
    sys.stdout.reconfigure(line_buffering=True)
    if os.geteuid() != 0:
        raise SystemExit("demo: needs root (containerd, network namespaces)")
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, _on_signal)
    if opts.mode == "node":
        opts.demo_dir = opts.demo_dir or os.path.join(REPO, ".cache", "demo")
        return run_node(opts, extra)
    if extra:
        raise SystemExit(f"demo-cluster: unknown arguments {' '.join(extra)}")
    opts.demo_dir = opts.demo_dir or os.path.join(REPO, ".cache", "demo-cluster")
    return run_cluster(opts)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Stop:
        sys.exit(0)
