"""The chart's pods, run for real: what `helm template` renders is what runs.

For the default values and for tests/chart/values-v0.7.4.yaml, the DaemonSet's init container
`configuration` and container `registry`, the post-delete hook's `cleanup` container and the
`cleanup-wait` Pod run as processes with exactly their rendered args (after Kubernetes' `$(VAR)`
expansion; nothing added or removed) and env, on a "node": a network namespace with a real
containerd, whose hostPath volumes are the node's files and whose Secret volumes are written from
the rendered Secret (podrun.py says how each piece of Kubernetes is stood in for). The upstream
docker-registry and a dnsmasq (the cluster DNS: the bootstrap and cleanup Service names -> the
node) sit in a second namespace.

Asserted, per values file:
  1. the init container exits 0 and writes hosts.toml for the image's registry with the mirror
     targets in order, NODE_IP expanded, and the capabilities --resolve-tags asks for;
  2. the registry container answers /readyz 200 on its container port and through every
     NodePort/hostPort (forwarders standing in for kube-proxy);
  3. with the upstream stopped, a second containerd on the node pulls the image (CRI) and every
     response it logged came from the first mirror target with 200 (the first containerd had
     pulled it before Spegel was installed, as any node that ran the image would have);
  4. uninstall: the registry exits 0 on SIGTERM; the rendered `cleanup` restores certs.d byte for
     byte (the user's own hosts.toml and files) and answers /readyz; the rendered `cleanup-wait`
     (its probe endpoint resolved by the cluster DNS) exits 0.
Everything is bounded; every process is stopped by PID and both namespaces deleted, on failure too.
"""

import base64
import os
import time
import tomllib
import unittest

import podrun
from itharness import containerd, imagegen, images, spegel, util

SKOPEO_BIN = os.environ.get("SKOPEO_BIN", "skopeo")
HERE = os.path.dirname(os.path.abspath(__file__))
V074_VALUES = os.path.join(HERE, "values-v0.7.4.yaml")
POD_UP_TIMEOUT = 30.0
EXIT_TIMEOUT = 60


def flag_values(args, flag):
    """Values of `--flag=VALUE` arguments, in order."""
    return [a.split("=", 1)[1] for a in args if a.startswith(f"--{flag}=")]


class PodTestBase:
    """One values file per subclass: VALUES_ARGS (helm arguments), MIRRORS (the hosts.toml mirror
    list the values must produce, {ip} = the node's IP) and USER_SECRETS (Secrets the user
    creates before installing, named by the values)."""

    VALUES_ARGS = ()
    MIRRORS = ()
    NODE_PORTS = ()
    USER_SECRETS = {}

    def setUp(self):
        self.objs = podrun.helm_template(list(self.VALUES_ARGS))
        dss = [o for o in self.objs if o["kind"] == "DaemonSet" and not podrun.hook(o)]
        self.assertEqual(len(dss), 1, "one (non-hook) DaemonSet")
        self.ds = dss[0]
        self.pod = self.ds["spec"]["template"]["spec"]
        self.namespace = self.ds["metadata"]["namespace"]
        self.hooks = [o for o in self.objs if podrun.hook(o) == "post-delete"]
        self.cleanup_ds = [o for o in self.hooks if o["kind"] == "DaemonSet"][0]
        self.wait_pod = [o for o in self.hooks if o["kind"] == "Pod"][0]
        self.init = podrun.container(self.pod, "configuration", init=True)
        self.reg = podrun.container(self.pod, "registry")
        vols = {v["name"]: v for v in self.pod["volumes"]}
        self.sock_path = vols["containerd-sock"]["hostPath"]["path"]
        self.content_path = vols["containerd-content"]["hostPath"]["path"]
        self.certs_path = vols["containerd-config"]["hostPath"]["path"]
        self.config_dir = vols["containerd-config-dir"]["hostPath"]["path"]
        self.bootstrap = flag_values(self.reg["args"], "dns-bootstrap-domain")[0]
        wait_args = self.wait_pod["spec"]["containers"][0]["args"]
        self.probe_host = flag_values(wait_args, "probe-endpoint")[0].rsplit(":", 1)[0]

        self.node = podrun.Node(dns_names=[self.bootstrap, self.probe_host])
        self.addCleanup(self.node.close)
        self.node.start()
        node_containerd = podrun.node_containerd_class()
        self.ctd = node_containerd(self.node, self.certs_path)
        self.addCleanup(self.ctd.close)
        # The node's "host" filesystem, as the rendered hostPath volumes name it.
        # containerd's config file: the preflight check reads <config dir>/config.toml.
        self.assertEqual(os.path.basename(self.ctd.config_path), "config.toml")
        self.host_paths = {self.sock_path: self.ctd.socket, self.content_path: self.ctd.content_dir,
                           self.certs_path: self.ctd.certs_d,
                           self.config_dir: os.path.dirname(self.ctd.config_path)}
        self.vol_dir = os.path.join(self.node.dir, "volumes")
        self.gen_dir = util.make_temp_dir("pod-gen-")
        self.addCleanup(util.remove_temp_dir, self.gen_dir)

    # ---- running the rendered containers ---------------------------------------------------

    def prepare(self, pod_spec, spec, pod_name):
        """(argv, env) of a rendered container on this node; its volumes are set up."""
        self.assertEqual(spec["image"], self.reg["image"], f"{spec['name']} runs spegel's image")
        env = podrun.container_env(spec, self.node, pod_name, self.namespace)
        if spec.get("command"):
            self.fail(f"{spec['name']}: a command would replace the image's entrypoint (spegel)")
        args = [podrun.expand(a, env) for a in spec.get("args") or []]
        mounts = podrun.volume_mounts(pod_spec, spec, self.objs, self.host_paths, self.vol_dir,
                                      self.USER_SECRETS)
        argv = self.node.pod_command([spegel.spegel_bin()] + args, mounts, spec["name"])
        return argv, env, args

    def run_to_exit(self, pod_spec, spec, pod_name, timeout=EXIT_TIMEOUT):
        argv, env, _ = self.prepare(pod_spec, spec, pod_name)
        return util.run(argv, timeout=timeout, check=False, env=env)

    def start(self, pod_spec, spec, pod_name):
        argv, env, _ = self.prepare(pod_spec, spec, pod_name)
        log = os.path.join(self.node.dir, f"{spec['name']}.log")
        return self.node.start_process(spec["name"], argv, log, env=env), log

    def wait_ready(self, proc, log, port, what):
        url = f"http://{self.node.ip}:{port}/readyz"

        def ready():
            if proc.poll() is not None:
                return "exited"
            return self.node.http("GET", url, timeout=2.0, max_body=0).get("status") == 200
        try:
            got = util.wait_until(ready, POD_UP_TIMEOUT, f"{what} GET {url} == 200", 0.2)
        except TimeoutError as e:
            self.fail(f"{e}\n{what} log:\n{util.tail(log)}")
        if got == "exited":
            self.fail(f"{what} exited with {proc.returncode}:\n{util.tail(log)}")

    def auth_headers(self):
        name = self.pod_basic_auth_secret()
        if not name:
            return {}
        s = self.USER_SECRETS[name]
        token = base64.b64encode(s["username"] + b":" + s["password"]).decode()
        return {"Authorization": f"Basic {token}"}

    def pod_basic_auth_secret(self):
        for v in self.pod["volumes"]:
            if v["name"] == "basic-auth":
                return v["secret"]["secretName"]
        return None

    # ---- the test --------------------------------------------------------------------------

    def test_pod_configures_serves_and_cleans_up(self):
        t0 = time.monotonic()
        node, ctd = self.node, self.ctd
        pod_name = f"{self.ds['metadata']['name']}-abcde"
        up = f"http://{node.upstream_addr}"
        # The user's own configuration on the node: docker.io goes to the test's upstream.
        ctd.write_hosts("docker.io", up, [up])
        with open(os.path.join(ctd.certs_d, "README"), "wb") as f:
            f.write(b"the node admin's notes\n")
        original = util.snapshot_tree(ctd.certs_d)
        ctd.start()

        # An image on the upstream, pulled by this node before Spegel is installed.
        img = imagegen.generate(os.path.join(self.gen_dir, "img"), seed=f"chart-{type(self).__name__}",
                                name="chart/pod", layer_sizes=(3000, 90000))
        util.run(node.netns.exec_prefix(node.svc_ns) +
                 [SKOPEO_BIN, "copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
                  "--quiet", f"oci:{img.layout_dir}:{img.tag}",
                  f"docker://{node.upstream_addr}/{img.name}:{img.tag}"], timeout=120)
        tag_ref = f"docker.io/{img.name}:{img.tag}"
        images.cri_pull(ctd, tag_ref)

        # 1. The init container(s). Others than spegel's (extraInitContainers) run images this
        # test does not have; they are left out, and said so.
        for c in self.pod.get("initContainers") or []:
            if c["image"] != self.reg["image"]:
                print(f"      [pod] skipping init container {c['name']} ({c['image']})",
                      flush=True)
        res = self.run_to_exit(self.pod, self.init, pod_name)
        self.assertEqual(res.returncode, 0, f"configuration failed:\n{res.stdout}\n{res.stderr}")
        mirrored = flag_values(self.init["args"], "mirrored-registries")
        hosts_dir = "docker.io" if mirrored else "_default"
        if mirrored:
            self.assertIn("https://docker.io", mirrored)
        with open(os.path.join(ctd.certs_d, hosts_dir, "hosts.toml"), "rb") as f:
            text = f.read().decode()
        self.assertNotIn("$(", text)
        doc = tomllib.loads(text)
        want = [m.format(ip=node.ip) for m in self.MIRRORS]
        got = list(doc.get("host", {}))
        self.assertEqual(got[:len(want)], want, f"mirror order in hosts.toml:\n{text}")
        resolve = flag_values(self.init["args"], "resolve-tags") == ["true"]
        caps = ["pull", "resolve"] if resolve else ["pull"]
        for m in want:
            self.assertEqual(doc["host"][m]["capabilities"], caps, text)
        if flag_values(self.init["args"], "prepend-existing") == ["true"]:
            self.assertEqual(got[len(want):], [up], f"the user's host kept after Spegel's:\n{text}")
        else:
            self.assertEqual(got, want, text)

        # 2. kube-proxy's NodePort and the hostPort, then the registry container.
        cport = [p for p in self.reg["ports"] if p["name"] == "registry"][0]
        node_ports = [cport["hostPort"]] if "hostPort" in cport else []
        svcs = [o for o in self.objs if o["kind"] == "Service" and not podrun.hook(o)
                and o["spec"].get("type") == "NodePort"]
        self.assertEqual(len(svcs), 1)
        node_ports += [p["nodePort"] for p in svcs[0]["spec"]["ports"]]
        self.assertEqual(node_ports, list(self.NODE_PORTS))
        for p in node_ports:
            node.forward(p, f"{node.ip}:{cport['containerPort']}")
        reg_proc, reg_log = self.start(self.pod, self.reg, pod_name)
        self.wait_ready(reg_proc, reg_log, cport["containerPort"], "the registry container")
        for p in node_ports:
            r = node.http("GET", f"http://{node.ip}:{p}/readyz", timeout=3.0, max_body=0)
            self.assertEqual(r.get("status"), 200, f"/readyz through :{p}: {r}")
        # Spegel has indexed the node's image (asked on the pod's port, as a peer would).
        murl = (f"http://{node.ip}:{cport['containerPort']}/v2/{img.name}/manifests/"
                f"{img.top.digest}?ns=docker.io")
        try:
            util.wait_until(lambda: node.http("HEAD", murl, headers=self.auth_headers(),
                                              timeout=2.0).get("status") == 200,
                            POD_UP_TIMEOUT, "spegel to serve the node's image", 0.2)
        except TimeoutError as e:
            self.fail(f"{e}\nregistry log:\n{util.tail(reg_log)}")

        if self.auth_headers():
            # basicAuthSecretName: the registry (reading the Secret at the binary's default
            # path, the mountPath) refuses a client without the credentials.
            r = node.http("HEAD", murl, timeout=2.0)
            self.assertEqual(r.get("status"), 401, f"HEAD without credentials: {r}")

        # 3. Only the mirror can serve from here on: a second containerd on the node pulls.
        node.stop_upstream()
        node_containerd = podrun.node_containerd_class()
        ctd2 = node_containerd(node, self.certs_path, certs_src=ctd.certs_d)
        self.addCleanup(ctd2.close)
        ctd2.start()
        ref = tag_ref if resolve else f"docker.io/{img.name}@{img.top.digest}"
        try:
            images.cri_pull(ctd2, ref)
        except util.HarnessError as e:
            self.fail(f"CRI pull {ref} through the mirror failed: {e}\ncontainerd log:\n"
                      f"{util.tail(ctd2.log_path)}\nregistry log:\n{util.tail(reg_log)}")
        self.assertFalse(ctd2.hosts_toml_rejected(), util.tail(ctd2.log_path))
        fetched = containerd.fetch_responses(ctd2.log_text())
        self.assertTrue(fetched, "containerd logged no fetch responses")
        digests = set()
        for url, status in fetched:
            self.assertTrue(url.startswith(f"{want[0]}/v2/{img.name}/"),
                            f"response from {url}, not the first mirror target")
            self.assertEqual(status, "200 OK", url)
            m = containerd.DIGEST_IN_URL.search(url)
            if m:
                digests.add(m.group(1))
        self.assertEqual(set(img.blobs_for_platform()) - digests, set(),
                         "blobs not fetched from the mirror")
        self.assertIn(img.top.digest, {d for d, _ in ctd2.images().values()})

        # 4. Uninstall: the DaemonSet's pod goes first, then the post-delete hooks.
        self.assertEqual(node.stop_process(reg_proc, term_timeout=10.0), 0,
                         f"registry exit code on SIGTERM\n{util.tail(reg_log)}")
        cspec = self.cleanup_ds["spec"]["template"]["spec"]
        cleanup = cspec["containers"][0]
        self.assertEqual(cleanup["name"], "cleanup")
        clean_proc, clean_log = self.start(cspec, cleanup, f"{self.cleanup_ds['metadata']['name']}-fghij")
        rport = [p for p in cleanup["ports"] if p["name"] == "readiness"][0]["containerPort"]
        self.wait_ready(clean_proc, clean_log, rport, "the cleanup container")
        self.assertEqual(util.snapshot_tree(ctd.certs_d), original, "certs.d restored byte for byte")
        wspec = self.wait_pod["spec"]
        res = self.run_to_exit(wspec, wspec["containers"][0], self.wait_pod["metadata"]["name"])
        self.assertEqual(res.returncode, 0, f"cleanup-wait:\n{res.stdout}\n{res.stderr}")
        self.assertEqual(node.stop_process(clean_proc, term_timeout=10.0), 0,
                         f"cleanup exit code on SIGTERM\n{util.tail(clean_log)}")
        self.assertEqual(util.snapshot_tree(ctd.certs_d), original)
        print(f"      [pod] {type(self).__name__}: {len(fetched)} responses from {want[0]}, "
              f"{time.monotonic() - t0:.1f}s", flush=True)


class DefaultValuesPodTest(PodTestBase, unittest.TestCase):
    VALUES_ARGS = ()
    MIRRORS = ("http://{ip}:30020",)
    NODE_PORTS = (30020,)


class V074ValuesPodTest(PodTestBase, unittest.TestCase):
    """v0.7.4's layout: hostPort 30020 first, NodePort 30021 second, k3s paths, an extra mirror
    target, basic auth from a Secret the user creates (basicAuthSecretName)."""
    VALUES_ARGS = ("-f", V074_VALUES)
    MIRRORS = ("http://{ip}:30020", "http://{ip}:30021", "https://mirror.example.com")
    NODE_PORTS = (30020, 30021)
    USER_SECRETS = {"mirror-basic-auth": {"username": b"mirror-user",
                                          "password": b"s3cret-pass"}}
