#!/usr/bin/python3
"""Runs the containers the Helm chart renders as plain processes on a "node": a network
namespace with a real containerd, next to a namespace with the upstream docker-registry and a
dnsmasq standing in for the cluster DNS. Used by tests/chart/test_pod.py.

What is Kubernetes' job here, and how this module does it instead:
  * rendering: the real helm (`helm template`); the multi-document YAML is decoded by the real
    kubectl (`kubectl annotate --local -o json`, which needs no cluster), so the objects are
    exactly what Kubernetes' own decoder makes of the chart's output (kubectl adds an empty
    metadata.annotations where there was none; nothing else changes);
  * env: `value` as is (with `$(VAR)` expansion of earlier variables), `valueFrom.fieldRef` from
    the node (status.hostIP / status.podIP -> the node's IP: the pod shares the node's network
    namespace here; spec.nodeName -> the node's name; metadata.name/namespace -> the pod's);
    nothing is inherited from the test's own environment (spegel reads env twins of its flags);
  * args: Kubernetes' `$(VAR)` expansion (`$$` escapes, unknown variables stay as written);
  * volumes and the container's filesystem: each container runs in a private mount namespace
    (mount_script) where its volumes are bind mounts at their mountPaths (hostPath volumes: the
    node's files in the test's temp dir; Secret volumes: files written from the rendered
    Secret, or from a Secret the user creates), so the args need no rewriting and the binary's
    default paths (e.g. /etc/secrets/basic-auth) see what the pod would; a missing mount point
    is made inside a writable overlay (upper dir in the temp dir: nothing on this machine is
    written); the host's containerd directories are hidden under an empty tmpfs; and
    /etc/resolv.conf names the test's dnsmasq, as kubelet's names the cluster DNS;
  * kube-proxy (NodePort) and the hostPort: a TCP forwarder (`podrun.py forward`, below) inside
    the node namespace from NODE_IP:<port> to the pod's container port.

The node's containerd runs in a private mount namespace of its own too, where the rendered
certs.d hostPath (e.g. /etc/containerd/certs.d) is a bind mount of the node's certs.d in the test's
temp dir: containerd's `config_path` is then the very path a real node has, and spegel's
preflight compares it with its own default as it would on a node.

Safety: every process goes through itharness.util (stopped by PID, killed by the runner's
watchdog); namespaces through the cluster harness's netns module (deleted in close() and
atexit); no namespace gets a default route; every HTTP request to a namespace address runs inside
a namespace (nsclient.py, the forwarder). Not thread-safe: drive it from the test thread.
"""

import base64
import json
import os
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
HELM_BIN = os.environ.get("HELM_BIN", os.path.join(REPO, ".cache", "helm", "helm", "helm"))
KUBECTL_BIN = os.environ.get("KUBECTL_BIN",
                             os.path.join(REPO, ".cache", "helm", "kubectl", "kubectl"))
CHART_DIR = os.environ.get("SPEGEL_CHART_DIR", os.path.join(REPO, "charts", "spegel"))
PYTHON = "/usr/bin/python3"
CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

def _harness():
    """The integration harness (as itharness) and the cluster harness's netns module; imported
    lazily so `podrun.py forward` runs without them."""
    import harness  # noqa: F401  (tests/cluster/harness; loads itharness)
    from harness import netns
    import itharness
    return itharness, netns


# ---- rendering -----------------------------------------------------------------------------

def helm_template(values_args, release="spegel", namespace="spegel", timeout=60):
    """`helm template RELEASE charts/spegel --namespace NAMESPACE VALUES_ARGS...` decoded into a
    list of objects (dicts) by kubectl. Raises RuntimeError with helm's/kubectl's stderr."""
    res = subprocess.run([HELM_BIN, "template", release, CHART_DIR, "--namespace", namespace,
                          *values_args], capture_output=True, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"helm template failed ({res.returncode}): "
                           f"{res.stderr.decode(errors='replace')}")
    return decode_manifests(res.stdout, timeout=timeout)


def decode_manifests(yaml_bytes, timeout=60):
    """Multi-document YAML -> list of objects, decoded by the real kubectl offline. `annotate
    --local` with the removal of an annotation nobody sets changes nothing and prints each
    object as JSON (KUBECONFIG=/dev/null: no cluster is ever contacted)."""
    env = dict(os.environ, KUBECONFIG="/dev/null")
    res = subprocess.run([KUBECTL_BIN, "annotate", "--local", "-f", "-", "-o", "json",
                          "spegel-test.invalid/none-"], input=yaml_bytes, capture_output=True,
                         timeout=timeout, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"kubectl could not decode the rendered chart ({res.returncode}): "
                           f"{res.stderr.decode(errors='replace')}")
    text = res.stdout.decode()
    dec = json.JSONDecoder()
    objs, i = [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        obj, i = dec.raw_decode(text, i)
        objs.extend(obj["items"] if obj.get("kind") == "List" else [obj])
    return objs


def find(objs, kind, name):
    """The one object of `kind` named `name`; raises LookupError naming what there is."""
    hits = [o for o in objs if o.get("kind") == kind and o["metadata"]["name"] == name]
    if len(hits) != 1:
        have = sorted(f"{o.get('kind')}/{o['metadata']['name']}" for o in objs)
        raise LookupError(f"expected one {kind}/{name} in the rendered chart, found "
                          f"{len(hits)}; rendered: {have}")
    return hits[0]


def container(pod_spec, name, init=False):
    """The (init) container `name` of a pod spec."""
    key = "initContainers" if init else "containers"
    for c in pod_spec.get(key) or []:
        if c["name"] == name:
            return c
    raise LookupError(f"no {key[:-1]} named {name}: "
                      f"{[c['name'] for c in pod_spec.get(key) or []]}")


def hook(obj):
    """The helm.sh/hook annotation of an object ("" when it is not a hook)."""
    return (obj["metadata"].get("annotations") or {}).get("helm.sh/hook", "")


# ---- Kubernetes' expansion rules -----------------------------------------------------------

def expand(text, env):
    """Kubernetes' $(VAR) expansion (kubelet's expansion.Expand): `$$` is a literal `$`,
    `$(NAME)` is env[NAME] when NAME is defined and stays as written otherwise."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2:end]
                    out.append(env[name] if name in env else text[i:end + 1])
                    i = end + 1
                    continue
        out.append(text[i])
        i += 1
    return "".join(out)


def container_env(spec, node, pod_name, pod_namespace):
    """The container's environment as kubelet gives it: the rendered env, fieldRefs from the
    node and pod, literal values expanded against the variables before them. Only PATH (the
    image's) and HOSTNAME are added; nothing comes from the test's own environment."""
    fields = {"status.hostIP": node.ip, "status.podIP": node.ip, "spec.nodeName": node.name,
              "metadata.name": pod_name, "metadata.namespace": pod_namespace}
    env = {"PATH": CONTAINER_PATH, "HOSTNAME": pod_name}
    if spec.get("envFrom"):
        raise ValueError(f"container {spec['name']}: envFrom is not supported by this test")
    for e in spec.get("env") or []:
        if "value" in e or "valueFrom" not in e:
            env[e["name"]] = expand(e.get("value", ""), env)
            continue
        ref = e["valueFrom"].get("fieldRef")
        if not ref or ref.get("fieldPath") not in fields:
            raise ValueError(f"container {spec['name']}: env {e['name']} has a source this test "
                             f"does not provide: {e['valueFrom']}")
        env[e["name"]] = fields[ref["fieldPath"]]
    return env


# ---- volumes -------------------------------------------------------------------------------

# Host directories a pod does not see (the node's containerd config, state and k3s' copies):
# covered by an empty tmpfs in each container's mount namespace when they exist here.
HIDDEN_HOST_DIRS = ("/etc/containerd", "/run/containerd", "/var/lib/containerd", "/run/k3s",
                    "/var/lib/rancher")


def volume_mounts(pod_spec, spec, objs, host_paths, vol_dir, user_secrets=None):
    """[(mountPath, path on this machine, readOnly)] for every volumeMount of container `spec`.

    hostPath volumes map through `host_paths` (the node's "host" filesystem: rendered host path
    -> file or dir in the test's temp dir; a host path the node does not have is an error).
    Secret volumes are written under `vol_dir` from the rendered Secret, or from `user_secrets`
    ({name: {key: bytes}}: Secrets the user creates, e.g. basicAuthSecretName); the files hold
    the decoded bytes, as the kubelet writes them. emptyDir: a fresh dir under `vol_dir`."""
    volumes = {v["name"]: v for v in pod_spec.get("volumes") or []}
    out = []
    for m in spec.get("volumeMounts") or []:
        if m.get("subPath") or m.get("subPathExpr"):
            raise ValueError(f"volumeMount {m['name']}: subPath is not supported by this test")
        vol = volumes.get(m["name"])
        if vol is None:
            raise ValueError(f"container {spec['name']} mounts {m['name']}, which the pod does "
                             "not declare")
        target = os.path.join(vol_dir, spec["name"], m["name"])
        if "hostPath" in vol:
            path = vol["hostPath"]["path"]
            if path not in host_paths:
                raise ValueError(f"volume {m['name']}: hostPath {path} is not a path this "
                                 f"test's node has ({sorted(host_paths)})")
            src = host_paths[path]
        elif "secret" in vol:
            src = write_secret_volume(vol, objs, target, user_secrets or {})
        elif "emptyDir" in vol:
            os.makedirs(target, exist_ok=True)
            src = target
        else:
            raise ValueError(f"volume {m['name']}: kind {sorted(vol)} is not supported by this "
                             "test")
        out.append((m["mountPath"], src, bool(m.get("readOnly"))))
    return out


def write_secret_volume(vol, objs, target, user_secrets):
    """Writes a Secret volume's files (items, or every key) from the rendered Secret (or one
    the user creates); returns the directory."""
    sv = vol["secret"]
    name = sv["secretName"]
    if name in user_secrets:
        data = dict(user_secrets[name])
    else:
        secret = find(objs, "Secret", name)
        data = {k: base64.b64decode(v, validate=True) for k, v in (secret.get("data") or {}).items()}
    items = sv.get("items") or [{"key": k, "path": k} for k in data]
    os.makedirs(target, exist_ok=True)
    for item in items:
        if item["key"] not in data:
            raise ValueError(f"Secret {name} has no key {item['key']}")
        path = os.path.join(target, item["path"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data[item["key"]])
        os.chmod(path, item.get("mode", sv.get("defaultMode", 0o644)))
    return target


def mount_script(mounts, resolv_conf, scratch):
    """The shell script that gives a process its filesystem view in a private mount namespace
    (run by `unshare --mount --propagation private /bin/sh -c SCRIPT`; then `exec "$@"`):
      * HIDDEN_HOST_DIRS that exist here get an empty tmpfs (a pod does not see them);
      * a mount point whose parent does not exist here gets a writable overlay over its nearest
        existing ancestor (upper and work dirs under `scratch`: this machine's files are never
        written), so the directory can be made in the namespace only;
      * /etc/resolv.conf is the node's (kubelet writes one naming the cluster DNS);
      * every (mountPath, source, readOnly) in `mounts` is a bind mount of source at mountPath.
    Nothing is mounted or created outside the namespace."""
    import shlex
    q = shlex.quote
    lines = ["set -e"]
    writable = []                       # dirs already made writable in the namespace

    def covered(path):
        return any(path == w or path.startswith(w.rstrip("/") + "/") for w in writable)

    for d in HIDDEN_HOST_DIRS:
        if os.path.isdir(d):
            lines.append(f"mount -t tmpfs -o mode=0755,size=1m pod-hidden {q(d)}")
            writable.append(d)
    overlays = []
    for mp, _, _ in sorted(mounts, key=lambda m: len(m[0])):
        if covered(mp) or os.path.exists(mp):
            continue                    # nothing to create outside a writable layer
        anc = os.path.dirname(mp.rstrip("/"))
        while not os.path.isdir(anc):
            anc = os.path.dirname(anc)
        overlays.append(anc)
        writable.append(anc)
    # Overlays first (they would hide binds made under them), outermost first.
    for i, anc in enumerate(sorted(overlays, key=len)):
        upper, work = os.path.join(scratch, f"ovl{i}", "upper"), os.path.join(scratch, f"ovl{i}",
                                                                               "work")
        os.makedirs(upper)
        os.makedirs(work)
        lines.insert(1 + i, f"mount -t overlay pod-overlay -o lowerdir={q(anc)},upperdir="
                            f"{q(upper)},workdir={q(work)} {q(anc)}")
    lines.append(f"mount --bind {q(resolv_conf)} /etc/resolv.conf")
    for mp, src, ro in sorted(mounts, key=lambda m: len(m[0])):
        if os.path.isdir(src):
            lines.append(f"mkdir -p {q(mp)}")
        else:
            lines.append(f"mkdir -p {q(os.path.dirname(mp))}; [ -e {q(mp)} ] || : > {q(mp)}")
        lines.append(f"mount --bind {q(src)} {q(mp)}")
        if ro:
            lines.append(f"mount -o remount,bind,ro {q(mp)}")
    lines.append('exec "$@"')
    return "\n".join(lines)


# ---- the node ------------------------------------------------------------------------------

class Node:
    """Two namespaces joined by one veth pair (no bridge, no default route):
      pc<pid>-node  the node: 10.213.x.10; containerd(s), the pod's containers, the forwarders;
      pc<pid>-svc   outside the node: 10.213.x.2; docker-registry :5000 (the upstream) and
                    dnsmasq :53 (the cluster DNS: `dns_names` -> the node's IP).
    """

    def __init__(self, name="chart-node-1", dns_names=()):
        itharness, netns = _harness()
        self.util = itharness.util
        self.netns = netns
        pid = os.getpid()
        self.prefix = f"pc{pid}"
        self.subnet = f"10.213.{20 + pid % 200}"
        self.ip = f"{self.subnet}.10"
        self.svc_ip = f"{self.subnet}.2"
        self.upstream_addr = f"{self.svc_ip}:5000"
        self.name = name
        self.dns_names = [n.rstrip(".") for n in dns_names]
        self.dir = self.util.make_temp_dir("pod-")
        self.resolv_conf = os.path.join(self.dir, "resolv.conf")
        self.procs = []           # Popen of every process this node started, in start order
        self.node_ns = self.svc_ns = None
        self.registry_proc = self.dns_proc = None
        self.scratch_dirs = []    # overlay upper/work dirs of the mount namespaces

    def start(self):
        try:
            self.node_ns = self.netns.add(f"{self.prefix}-node")
            self.svc_ns = self.netns.add(f"{self.prefix}-svc")
            ip = ["ip", "-n", self.node_ns]
            self.util.run(ip + ["link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
                                "netns", self.svc_ns], timeout=10)
            for ns, addr in ((self.node_ns, self.ip), (self.svc_ns, self.svc_ip)):
                self.util.run(["ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0"],
                              timeout=10)
                self.util.run(["ip", "-n", ns, "link", "set", "eth0", "up"], timeout=10)
                self.netns.assert_no_default_route(ns)
            with open(self.resolv_conf, "w") as f:
                f.write(f"nameserver {self.svc_ip}\n")
            self._start_upstream()
            self._start_dns()
        except BaseException:
            self.close()
            raise
        return self

    def _start_upstream(self):
        from itharness import registry as itregistry
        argv, self.registry_log = itregistry.serve_command(os.path.join(self.dir, "registry"),
                                                           self.upstream_addr)
        self.registry_proc = self.start_process("docker-registry",
                                                self.netns.exec_prefix(self.svc_ns) + argv,
                                                self.registry_log)

        def up():
            if self.registry_proc.poll() is not None:
                raise self.util.HarnessError(f"docker-registry exited:\n"
                                             f"{self.util.tail(self.registry_log)}")
            return self.netns.status(self.svc_ns, f"http://{self.upstream_addr}/v2/") == 200
        self.util.wait_until(up, 15.0, "the upstream docker-registry", 0.1)

    def _start_dns(self):
        d = os.path.join(self.dir, "dns")
        os.makedirs(d)
        self.dns_log = os.path.join(d, "dnsmasq.log")
        args = [os.environ.get("DNSMASQ_BIN", "dnsmasq"), "--no-daemon", "--conf-file=/dev/null",
                "--no-resolv", "--no-hosts", "--port=53", f"--listen-address={self.svc_ip}",
                "--bind-interfaces", "--log-queries", "--log-facility=-",
                f"--pid-file={d}/dnsmasq.pid", "--local-ttl=1"]
        args += [f"--host-record={n},{self.ip}" for n in self.dns_names]
        self.dns_proc = self.start_process("dnsmasq", self.netns.exec_prefix(self.svc_ns) + args,
                                           self.dns_log)

        def answers():
            if self.dns_proc.poll() is not None:
                raise self.util.HarnessError(f"dnsmasq exited:\n{self.util.tail(self.dns_log)}")
            return all(self.netns.dns_query(self.node_ns, n, self.svc_ip, timeout=1.0)
                       .get("addresses") == [self.ip] for n in self.dns_names)
        self.util.wait_until(answers, 15.0, f"dnsmasq to answer {self.dns_names}", 0.2)

    def start_process(self, what, args, log_path, env=None):
        proc = self.util.start_process(args, log_path, env=env)
        self.procs.append((what, proc))
        return proc

    def stop_process(self, proc, term_timeout=5.0):
        """Stops one process this node started (by PID); returns its exit code."""
        code = self.util.stop_process(proc, term_timeout=term_timeout)
        self.procs = [(w, p) for w, p in self.procs if p is not proc]
        return code

    def stop_upstream(self):
        """Stops the upstream registry and checks, from inside the node, that its port refuses
        connections: from then on only the mirror can serve a pull."""
        self.stop_process(self.registry_proc)
        self.registry_proc = None
        r = self.netns.http(self.node_ns, "GET", f"http://{self.upstream_addr}/v2/", timeout=2.0)
        if "error" not in r:
            raise self.util.HarnessError(f"the upstream still answers: {r}")

    # ---- processes in the node --------------------------------------------------------------

    def pod_command(self, argv, mounts, what):
        """argv run in the node's network namespace, in a private mount namespace made by
        mount_script(mounts) (the exec chain keeps the PID: ip netns exec, unshare and sh all
        exec)."""
        scratch = self.util.make_temp_dir("pod-mnt-")
        self.scratch_dirs.append(scratch)
        return (self.netns.exec_prefix(self.node_ns) +
                ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                 mount_script(mounts, self.resolv_conf, scratch), what] + list(argv))

    def forward(self, port, target):
        """Stands in for kube-proxy (a NodePort) or the CNI's hostPort mapping: a TCP forwarder
        inside the node from NODE_IP:port to `target` (the pod's IP:containerPort)."""
        log = os.path.join(self.dir, f"forward-{port}.log")
        proc = self.start_process(f"forwarder :{port}", self.netns.exec_prefix(self.node_ns) +
                                  [PYTHON, os.path.abspath(__file__), "forward",
                                   f"{self.ip}:{port}", target], log)

        def listening():
            if proc.poll() is not None:
                raise self.util.HarnessError(f"forwarder :{port} exited:\n{self.util.tail(log)}")
            with open(log, "rb") as f:
                return b"listening" in f.read()
        self.util.wait_until(listening, 10.0, f"the forwarder on {self.ip}:{port}", 0.05)
        return proc

    def http(self, method, url, **kw):
        return self.netns.http(self.node_ns, method, url, **kw)

    def close(self):
        """Stops every process this node started (newest first, by PID), deletes both
        namespaces and the temp dir."""
        for _, proc in reversed(self.procs):
            try:
                self.util.stop_process(proc, term_timeout=5.0)
            except Exception:  # noqa: BLE001 - keep tearing down
                pass
        self.procs = []
        for ns in (self.node_ns, self.svc_ns):
            if ns is not None:
                self.netns.delete(ns)
        self.node_ns = self.svc_ns = None
        for d in self.scratch_dirs:
            self.util.remove_temp_dir(d)
        self.util.remove_temp_dir(self.dir)


def node_containerd_class():
    """A containerd (the integration harness's fixture) running inside the node namespace, whose
    config_path is `certs_path` (the rendered hostPath: the path a real node has) in a private
    mount namespace where that path is a bind mount of `certs_src` (the node's certs.d in the
    temp dir), with the node's resolv.conf (the test's dnsmasq, which answers nothing else)."""
    itharness, netns = _harness()
    from itharness import containerd as itcontainerd

    class NodeContainerd(itcontainerd.Containerd):
        def __init__(self, node, certs_path, certs_src=None):
            super().__init__(registry_config_path=certs_path)
            self.node = node
            self.certs_path = certs_path
            # A second containerd on the same node reads the same certs.d.
            self.node_certs_d = certs_src or self.certs_d

        def command(self):
            return self.node.pod_command(super().command(),
                                         [(self.certs_path, self.node_certs_d, False)],
                                         "node-mounts")

        def start_banner(self):
            return f"starting containerd in {self.node.node_ns}"

    return NodeContainerd


# ---- the forwarder (runs inside the node namespace) ----------------------------------------

def _addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def _check_test_address(host):
    import ipaddress
    ip = ipaddress.ip_address(host)
    if not (ip.is_loopback or ip in ipaddress.ip_network("10.213.0.0/16")):
        sys.exit(f"forward: refusing {host}: not loopback or the test range 10.213.0.0/16")


def _has_default_route():
    with open("/proc/net/route") as f:
        return any(line.split()[1] == "00000000" for line in f.readlines()[1:]
                   if len(line.split()) > 1)


def forward_main(listen, target):
    """Accepts on `listen` and pipes each connection to `target` both ways (half-closes passed
    on) until SIGTERM. Only inside a namespace without a default route, only test addresses."""
    import threading
    if _has_default_route():
        sys.exit("forward: refusing to run where a default route exists (the root namespace)")
    lhost, lport = _addr(listen)
    thost, tport = _addr(target)
    _check_test_address(lhost)
    _check_test_address(thost)

    def pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass

    def serve(client):
        try:
            upstream = socket.create_connection((thost, tport), timeout=5.0)
        except OSError:
            client.close()   # as kube-proxy: the connection just fails
            return
        upstream.settimeout(None)
        t = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
        t.start()
        pipe(client, upstream)
        t.join()
        client.close()
        upstream.close()

    srv = socket.create_server((lhost, lport), backlog=128)
    print(f"forward: listening on {listen} -> {target}", file=sys.stderr, flush=True)
    while True:
        client, _ = srv.accept()
        threading.Thread(target=serve, args=(client,), daemon=True).start()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "forward":
        forward_main(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: podrun.py forward LISTEN_IP:PORT TARGET_IP:PORT")
