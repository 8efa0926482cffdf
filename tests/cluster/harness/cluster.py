"""A Spegel cluster in network namespaces: N nodes (containerd + spegel each), an upstream
docker-registry and a dnsmasq answering the headless name, all on one bridge.

Topology (x = 20 + PID % 200, names prefixed `sc<pid>`):
  sc<pid>-sw    bridge br0 (the switch)
  sc<pid>-up    docker-registry on 10.213.x.2:5000 (the upstream; cut with cut_upstream())
  sc<pid>-dns   dnsmasq on 10.213.x.3:53: spegel.test -> every node's address
  sc<pid>-nI    node I: 10.213.x.(10+I); containerd (socket in its temp dir, reachable from the
                root namespace), spegel on :5000 (registry), :5001 (router), :9090 (metrics)
Each node's certs.d/<upstream>/hosts.toml lists its own spegel (http://127.0.0.1:5000, the
node's loopback since containerd runs inside the node namespace) as mirror and the upstream as
server. No namespace has a default route; every HTTP request to a namespace address is made by
nsclient.py inside a namespace.

Owner: the test class that constructs it (close() in tearDownClass, also on failure). Not
thread-safe. Processes go through itharness.util (runner watchdog), namespaces through netns.
"""

import hashlib
import json
import os
import re
import subprocess
import time

from itharness import containerd as itcontainerd
from itharness import daemon as itdaemon
from itharness import imagegen
from itharness import images as itimages
from itharness import registry as itregistry
from itharness import spegel as itspegel
from itharness import util

from . import netns

SKOPEO_BIN = os.environ.get("SKOPEO_BIN", "skopeo")
DNSMASQ_BIN = os.environ.get("DNSMASQ_BIN", "dnsmasq")
HEADLESS_NAME = "spegel.test"
REGISTRY_PORT = 5000
ROUTER_PORT = 5001
METRICS_PORT = 9090
READY_TIMEOUT = 20.0


def spegel_help():
    """`spegel registry --help` text (cached): used to tell which cluster flags exist yet."""
    if not hasattr(spegel_help, "text"):
        res = util.run([itspegel.spegel_bin(), "registry", "--help"], timeout=10, check=False)
        spegel_help.text = res.stdout + res.stderr
    return spegel_help.text


def has_flag(flag):
    return re.search(re.escape(flag) + r"\b", spegel_help()) is not None


def node_ids(doc, key_names=("node_id", "id", "node")):
    """Every node id found in a JSON document: values of `key_names` in any nested object, and
    bare strings in lists. Tolerant of the exact shape of /debug/members and /debug/routing."""
    found = set()

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k in key_names and isinstance(x, str):
                    found.add(x)
                else:
                    walk(x)
        elif isinstance(v, list):
            for x in v:
                if isinstance(x, str) and re.fullmatch(r"node\d+", x):
                    found.add(x)
                else:
                    walk(x)
    walk(doc)
    return found


class NodeContainerd(itcontainerd.Containerd):
    """The integration harness's Containerd, started inside a node namespace."""

    def __init__(self, ns):
        super().__init__()
        self.ns = ns

    def command(self):
        return netns.exec_prefix(self.ns) + super().command()

    def start_banner(self):
        return f"starting containerd in {self.ns}"

    def write_mirror_hosts_toml(self, host, server, mirrors):
        """certs.d/<host>/hosts.toml: `server`, then each mirror as a [host] (pull+resolve),
        as `spegel configuration` writes it. Without mirrors the server is listed as a [host]
        (containerd 1.6 rejects a file with `server` and no [host] table). URLs must be
        loopback or in the test range 10.213.0.0/16."""
        for url in (server, *mirrors):
            if not re.match(r"http://(127\.0\.0\.1|10\.213\.\d+\.\d+)(:\d+)?$", url):
                raise util.HarnessError(f"refusing registry URL {url}")
        self.write_hosts(host, server, mirrors or (server,))


class NodeSpegel(itdaemon.ManagedDaemon):
    """`spegel registry` inside a node namespace. Owner: its Node. Not thread-safe."""

    log_name = "spegel"

    def __init__(self, node, args):
        super().__init__(log_path=os.path.join(node.dir, "spegel.log"),
                         stdout_path=os.path.join(node.dir, "spegel.out"))
        self.node = node
        self.name = f"spegel on {node.name}"
        self.args = list(args)
        self.starts = 0

    def command(self):
        return netns.exec_prefix(self.node.ns) + [itspegel.spegel_bin()] + self.args

    def start(self, wait_ready=True, timeout=READY_TIMEOUT):
        self.launch(f"start #{self.starts + 1}")
        self.starts += 1
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=READY_TIMEOUT):
        self.wait_up(lambda: self.node.registry_status("/readyz") == 200, timeout,
                     f"spegel on {self.node.name} /readyz", 0.1, explain=True)


class Node:
    """One node: namespace, address, containerd and (once configured) spegel."""

    def __init__(self, cluster, index, ns):
        self.cluster = cluster
        self.index = index
        self.name = f"node{index}"
        self.ns = ns
        self.ip = f"{cluster.subnet}.{10 + index}"
        self.ctd = NodeContainerd(ns)
        self.dir = self.ctd.dir
        self.spegel = None

    # ---- spegel ----------------------------------------------------------------------------

    def spegel_args(self, dns=True, mdns=False, announce_ttl=None, extra=(), node_id=True):
        """node_id: True gives --node-id <node name>; False gives none (spegel's default, the
        host name, which every namespace here shares)."""
        args = itspegel.registry_args(self.ctd.socket, self.ctd.content_dir,
                                      f":{REGISTRY_PORT}", metrics_addr=f":{METRICS_PORT}")
        args += itspegel.preflight_args(self.ctd)
        if node_id:
            args += ["--node-id", self.name]
        args += ["--router-addr", f":{ROUTER_PORT}", "--mirror-resolve-timeout", "50ms"]
        if dns:
            args += ["--dns-bootstrap-domain", HEADLESS_NAME,
                     "--dns-resolvers", f"{self.cluster.dns_ip}:53",
                     "--dns-refresh-interval", "1s"]
        if mdns:
            args += ["--mdns-interfaces", "eth0"]
        if announce_ttl:
            args += ["--announce-ttl", announce_ttl]
        return args + list(extra)

    def configure_spegel(self, **kw):
        self.spegel = NodeSpegel(self, self.spegel_args(**kw))
        return self.spegel

    # ---- HTTP from inside the node namespace -----------------------------------------------

    def registry_url(self, path, ip=None):
        return f"http://{ip or '127.0.0.1'}:{REGISTRY_PORT}{path}"

    def metrics_url(self, path):
        return f"http://127.0.0.1:{METRICS_PORT}{path}"

    def http(self, method, url, **kw):
        return netns.http(self.ns, method, url, **kw)

    def registry_status(self, path):
        return netns.status(self.ns, self.registry_url(path))

    def metrics_json(self, path):
        r = self.http("GET", self.metrics_url(path), timeout=3.0)
        if r.get("status") != 200:
            raise util.HarnessError(f"{self.name} {path}: {r}")
        return json.loads(r["body"])

    def members(self):
        """Node ids listed by GET /debug/members on this node's metrics address (its
        "members" list when the document has one)."""
        doc = self.metrics_json("/debug/members")
        return node_ids(doc.get("members", doc) if isinstance(doc, dict) else doc)

    def providers(self, key):
        """Node ids listed as providers by GET /debug/routing?key=<key>."""
        from urllib.parse import quote
        doc = self.metrics_json("/debug/routing?key=" + quote(key, safe=""))
        return node_ids(doc.get("providers", doc) if isinstance(doc, dict) else doc)

    # ---- containerd ------------------------------------------------------------------------

    def cri_pull(self, ref, timeout=120):
        return itimages.cri_pull(self.ctd, ref, timeout=timeout)

    def cri_rmi(self, ref, timeout=60):
        return itimages.cri_rmi(self.ctd, ref, timeout=timeout)

    def has_blob(self, digest):
        return os.path.exists(self.ctd.blob_path(digest))

    def close(self):
        try:
            if self.spegel is not None:
                self.spegel.stop(timeout=5.0)
        finally:
            self.ctd.close()


class Cluster:
    """The whole topology. start() brings up the network, upstream, DNS and containerds; spegels
    are configured per test class (configure_spegels / start_spegels)."""

    def __init__(self, nodes=3, multicast=True, dns=True):
        pid = os.getpid()
        self.prefix = f"sc{pid}"
        self.subnet = f"10.213.{20 + pid % 200}"
        self.upstream_ip = f"{self.subnet}.2"
        self.dns_ip = f"{self.subnet}.3"
        self.upstream_addr = f"{self.upstream_ip}:{REGISTRY_PORT}"
        self.n_nodes = nodes
        self.multicast = multicast
        self.with_dns = dns
        self.dir = util.make_temp_dir("scl-")
        self.gen_dir = os.path.join(self.dir, "gen")
        self.segment = None
        self.nodes = []
        self.registry_proc = None
        self.dns_proc = None
        self.upstream_ns = self.dns_ns = None
        self.upstream_cut = False

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self):
        try:
            self.segment = netns.Segment(self.prefix, self.subnet)
            self.upstream_ns = self.segment.attach("up", 2, multicast=False)
            if self.with_dns:
                self.dns_ns = self.segment.attach("dns", 3, multicast=False)
            for i in range(1, self.n_nodes + 1):
                ns = self.segment.attach(f"n{i}", 10 + i, multicast=self.multicast)
                self.nodes.append(Node(self, i, ns))
            for ns in self.segment.hosts:
                netns.assert_no_default_route(ns)
            self._start_upstream()
            if self.with_dns:
                self._start_dns()
            for n in self.nodes:
                n.ctd.write_mirror_hosts_toml(self.upstream_addr, f"http://{self.upstream_addr}",
                                              [f"http://127.0.0.1:{REGISTRY_PORT}"])
                n.ctd.start()
        except BaseException:
            self.close()
            raise
        return self

    def _start_upstream(self):
        argv, self.registry_log = itregistry.serve_command(os.path.join(self.dir, "registry"),
                                                           f":{REGISTRY_PORT}")
        self.registry_proc = util.start_process(netns.exec_prefix(self.upstream_ns) + argv,
                                                self.registry_log)

        def up():
            if self.registry_proc.poll() is not None:
                raise util.HarnessError(f"docker-registry exited:\n{util.tail(self.registry_log)}")
            return netns.status(self.upstream_ns, f"http://127.0.0.1:{REGISTRY_PORT}/v2/") == 200
        util.wait_until(up, 15.0, "the upstream docker-registry", 0.1)

    def _start_dns(self):
        d = os.path.join(self.dir, "dns")
        os.makedirs(d)
        self.dns_log = os.path.join(d, "dnsmasq.log")
        args = [DNSMASQ_BIN, "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                "--port=53", f"--listen-address={self.dns_ip}", "--bind-interfaces",
                "--log-queries", "--log-facility=-", f"--pid-file={d}/dnsmasq.pid",
                "--local-ttl=1"]
        args += [f"--host-record={HEADLESS_NAME},{n.ip}" for n in self.nodes]
        self.dns_proc = util.start_process(netns.exec_prefix(self.dns_ns) + args, self.dns_log)
        want = sorted(n.ip for n in self.nodes)

        def answers():
            if self.dns_proc.poll() is not None:
                raise util.HarnessError(f"dnsmasq exited:\n{util.tail(self.dns_log)}")
            return netns.dns_query(self.nodes[0].ns, HEADLESS_NAME, self.dns_ip,
                                   timeout=1.0).get("addresses") == want
        util.wait_until(answers, 15.0, f"dnsmasq to answer {HEADLESS_NAME} with {want}", 0.2)

    def close(self):
        """Stops every process by PID, deletes every namespace and the temp dirs."""
        for n in self.nodes:
            try:
                n.close()
            except Exception:  # noqa: BLE001 - keep tearing down
                pass
        for proc in (self.dns_proc, self.registry_proc):
            util.stop_process(proc, term_timeout=5.0)
        self.dns_proc = self.registry_proc = None
        if self.segment is not None:
            self.segment.close()
            self.segment = None
        util.remove_temp_dir(self.dir)

    # ---- spegel ----------------------------------------------------------------------------

    def configure_spegels(self, **kw):
        for n in self.nodes:
            n.configure_spegel(**kw)

    def start_spegels(self, nodes=None):
        """Starts the spegels of `nodes` (default all) together, then waits for each /readyz."""
        nodes = nodes or self.nodes
        for n in nodes:
            n.spegel.start(wait_ready=False)
        for n in nodes:
            n.spegel.wait_ready()

    def stop_spegels(self):
        for n in self.nodes:
            if n.spegel is not None:
                n.spegel.stop(timeout=5.0)

    def wait_members(self, nodes=None, timeout=20.0):
        """Waits until every node in `nodes` lists every other node in /debug/members."""
        nodes = nodes or self.nodes
        names = {n.name for n in nodes}
        last = {}

        def complete():
            for n in nodes:
                last[n.name] = n.members()
                if not (names - {n.name}) <= last[n.name]:
                    return False
            return True
        try:
            util.wait_until(complete, timeout, "every node to list the others", 0.3)
        except TimeoutError as e:
            raise AssertionError(f"{e}; last /debug/members: {last}") from None

    # ---- upstream --------------------------------------------------------------------------

    def cut_upstream(self):
        """Takes the upstream's link down: from then on only peers can serve."""
        self.segment.link(self.upstream_ns, up=False)
        self.upstream_cut = True

    def restore_upstream(self):
        self.segment.link(self.upstream_ns, up=True)
        self.upstream_cut = False

    def generate(self, key, **kw):
        """imagegen.generate into this cluster's gen dir (seed = key)."""
        return imagegen.generate(os.path.join(self.gen_dir, key), seed=f"cluster-{key}",
                                 name=f"cluster/{key}", **kw)

    def push(self, image):
        """skopeo copy (inside the upstream namespace, to its loopback) and a digest check.
        Returns (ref by tag, ref by digest) as the nodes name them."""
        util.run(netns.exec_prefix(self.upstream_ns) +
                 [SKOPEO_BIN, "copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
                  "--quiet", f"oci:{image.layout_dir}:{image.tag}",
                  f"docker://127.0.0.1:{REGISTRY_PORT}/{image.name}:{image.tag}"], timeout=300)
        from itharness.registry import MANIFEST_ACCEPT
        r = netns.http(self.upstream_ns, "HEAD",
                       f"http://127.0.0.1:{REGISTRY_PORT}/v2/{image.name}/manifests/{image.tag}",
                       headers={"Accept": MANIFEST_ACCEPT})
        got = r.get("headers", {}).get("docker-content-digest")
        if got != image.top.digest:
            raise util.HarnessError(f"upstream has {got} for {image.name}, expected "
                                    f"{image.top.digest}")
        return (f"{self.upstream_addr}/{image.name}:{image.tag}",
                f"{self.upstream_addr}/{image.name}@{image.top.digest}")

    def upstream_requests(self):
        """Lines of the upstream's access log (requests it served)."""
        try:
            with open(self.registry_log, "rb") as f:
                return [ln for ln in f.read().decode("utf-8", "replace").splitlines()
                        if '"GET /v2/' in ln or '"HEAD /v2/' in ln]
        except OSError:
            return []

    def wait_providers(self, node, key, want, timeout=20.0):
        """Waits until `node`'s lookup of `key` lists every node id in the set `want`; raises
        AssertionError with the last answer and the spegel logs when it does not in time."""
        last = {}

        def found():
            last["p"] = node.providers(key)
            return want <= last["p"]
        try:
            util.wait_until(found, timeout, f"{node.name} to find {want} for {key}", 0.3)
        except TimeoutError as e:
            raise AssertionError(f"{e}; last providers {last.get('p')}\n{self.logs()}") from None

    def logs(self, nodes=None, max_bytes=3000):
        """Tails of the spegel logs, for failure messages."""
        out = []
        for n in nodes or self.nodes:
            if n.spegel is not None:
                out.append(f"--- {n.name} spegel log ---\n{util.tail(n.spegel.log_path, max_bytes)}")
        return "\n".join(out)


def timed(fn, *args, **kw):
    """(result or exception, seconds) of fn(*args, **kw)."""
    t0 = time.monotonic()
    try:
        r = fn(*args, **kw)
    except (util.HarnessError, subprocess.SubprocessError) as e:
        r = e
    return r, time.monotonic() - t0


def throttle(c, node, rate="100mbit"):
    """Limits traffic TOWARD `node` (the switch port's egress) to `rate`, so a large blob takes
    seconds and a test can act mid-transfer. unthrottle() removes it."""
    netns.run_in(c.segment.switch, ["tc", "qdisc", "replace", "dev", f"p-n{node.index}", "root",
                                    "tbf", "rate", rate, "burst", "256kb", "latency", "200ms"])


def throttle_upstream(c, rate):
    """Limits what the upstream sends (tbf on eth0 inside its namespace) to `rate`, so that it
    is the bottleneck of every pull."""
    netns.run_in(c.upstream_ns, ["tc", "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate",
                                 rate, "burst", "256kb", "latency", "400ms"])


def crawl_upstream_to(c, node, rate, total):
    """The upstream's traffic toward `node` alone crawls at `rate` (an htb class on the
    upstream's eth0, chosen by destination address); everything else shares `total`. Undo it with
    throttle_upstream(c, total)."""
    ns, dev = c.upstream_ns, ["dev", "eth0"]
    netns.run_in(ns, ["tc", "qdisc", "replace", *dev, "root", "handle", "1:", "htb", "default",
                      "10"])
    netns.run_in(ns, ["tc", "class", "add", *dev, "parent", "1:", "classid", "1:10", "htb",
                      "rate", total])
    netns.run_in(ns, ["tc", "class", "add", *dev, "parent", "1:", "classid", "1:20", "htb",
                      "rate", rate, "ceil", rate])
    netns.run_in(ns, ["tc", "filter", "add", *dev, "parent", "1:", "protocol", "ip", "prio", "1",
                      "u32", "match", "ip", "dst", f"{node.ip}/32", "flowid", "1:20"])


def sha256_file(path):
    """Hex SHA-256 of the file at `path`."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def unthrottle(c, node):
    netns.run_in(c.segment.switch, ["tc", "qdisc", "del", "dev", f"p-n{node.index}", "root"],
                 check=False)


def serving_peers(node, port=REGISTRY_PORT):
    """Peer IPs with an established TCP connection to `port` on `node` (ss inside its ns)."""
    out = netns.run_in(node.ns, ["ss", "-Htn", "state", "established", "sport", "=",
                                 f":{port}"], check=False).stdout
    peers = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            host = parts[-1].rsplit(":", 1)[0].strip("[]")
            peers.add(host.removeprefix("::ffff:"))  # dual-stack listeners show mapped IPv4
    return peers
