"""The chart, rendered and linted by the real helm (scripts/setup unpacks it into .cache/helm).

Each render is validated by tests/manifests/validate.js (the Kubernetes and CRD schemas, flags and
environment variables against `spegel --help`, ports, mounts, mirror targets, the uninstall hook),
and the values a user sets are checked to arrive as the flags and objects they name. Upstream
values files of v0.7.4 and v0.8 (tests/chart/values-v0.7.4.yaml, values-v0.8.yaml) render
unchanged. The chart is also packaged (scripts/build-chart), pushed to a docker-registry on
loopback with `helm push` and rendered back from oci://.
"""

import json
import os
import re
import subprocess
import unittest

import yaml

from itharness import registry, spegel, util

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CHART = os.path.join(REPO, "charts", "spegel")
HELM = os.environ.get("HELM", os.path.join(REPO, ".cache", "helm", "helm", "helm"))
VALIDATOR = os.path.join(REPO, "tests", "manifests", "validate.js")
V074 = os.path.join(HERE, "values-v0.7.4.yaml")
V08 = os.path.join(HERE, "values-v0.8.yaml")
VPA_API = ["--api-versions", "autoscaling.k8s.io/v1"]


class Helm:
    """The real helm with its cache, config and data in a temp dir of the test's."""

    def __init__(self):
        self.home = util.make_temp_dir("chart-helm-")
        self.env = dict(os.environ, HELM_CACHE_HOME=os.path.join(self.home, "cache"),
                        HELM_CONFIG_HOME=os.path.join(self.home, "config"),
                        HELM_DATA_HOME=os.path.join(self.home, "data"))

    def run(self, *args, check=True, timeout=120):
        res = subprocess.run([HELM, *args], capture_output=True, text=True, env=self.env,
                             timeout=timeout, check=False)
        if check and res.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} exited {res.returncode}:\n{res.stderr}")
        return res

    def template(self, *args, chart=CHART, namespace="spegel"):
        """(render text, [objects]) of `helm template spegel CHART`."""
        text = self.run("template", "spegel", chart, "--namespace", namespace, *args).stdout
        return text, [o for o in yaml.safe_load_all(text) if o]

    def close(self):
        util.remove_temp_dir(self.home)


def validate(test, text, *mirror_targets):
    """Runs validate.js on one render; fails the test with its report when it fails."""
    path = os.path.join(test.helm.home, "render.yaml")
    with open(path, "w") as f:
        f.write(text)
    args = ["node", VALIDATOR, "--suite", "render"]
    for t in mirror_targets:
        args += ["--mirror-target", t]
    res = subprocess.run(args + [path], capture_output=True, text=True, timeout=120, check=False)
    test.assertEqual(res.returncode, 0, f"validate.js:\n{res.stdout}{res.stderr}")
    test.assertRegex(res.stdout, r"render: [1-9][0-9]* passed, 0 failed")
    return res.stdout


def find(objs, kind, name=None):
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} {kind} objects named {name}: "
                             f"{[(o['kind'], o['metadata']['name']) for o in objs]}")
    return found[0]


def pod_spec(ds):
    return ds["spec"]["template"]["spec"]


def container(ds, name):
    spec = pod_spec(ds)
    for c in spec.get("initContainers", []) + spec["containers"]:
        if c["name"] == name:
            return c
    raise AssertionError(f"no container {name}")


def flags(c, name):
    return [a.split("=", 1)[1] for a in c["args"] if a.startswith(f"--{name}=")]


def flag(c, name):
    values = flags(c, name)
    if len(values) != 1:
        raise AssertionError(f"--{name} appears {len(values)} times in {c['args']}")
    return values[0]


def leaf_keys(tree, prefix=""):
    """Dotted paths of every leaf (and every empty map or list) of a values tree."""
    out = []
    for k, v in tree.items():
        p = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out += leaf_keys(v, p + ".")
        else:
            out.append(p)
    return out


class ChartRenderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.helm = Helm()

    @classmethod
    def tearDownClass(cls):
        cls.helm.close()

    def test_lint_strict(self):
        for values in ([], ["-f", V074], ["-f", V08]):
            with self.subTest(values=values):
                res = self.helm.run("lint", "--strict", CHART, *values)
                self.assertIn("1 chart(s) linted, 0 chart(s) failed", res.stdout)

    def test_chart_version_is_spegel_version(self):
        out = subprocess.run([spegel.spegel_bin(), "version"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.split()
        with open(os.path.join(CHART, "Chart.yaml")) as f:
            chart = yaml.safe_load(f)
        self.assertEqual(out[1], "version")
        self.assertEqual(chart["appVersion"], out[2])
        self.assertEqual(chart["version"], out[2])

    def test_default_render(self):
        text, objs = self.helm.template()
        validate(self, text)
        ds = find(objs, "DaemonSet", "spegel")
        init, reg = container(ds, "configuration"), container(ds, "registry")
        # v0.8's topology: a NodePort (30020) kept on the node, no hostPort, pod network.
        self.assertEqual(flags(init, "mirror-targets"), ["http://$(NODE_IP):30020"])
        svc = find(objs, "Service", "spegel-registry")
        self.assertEqual(svc["spec"]["type"], "NodePort")
        self.assertEqual(svc["spec"]["ports"][0]["nodePort"], 30020)
        self.assertEqual(svc["spec"].get("trafficDistribution"), "PreferSameNode")
        self.assertNotIn("hostNetwork", pod_spec(ds))
        self.assertFalse(any("hostPort" in p for p in reg["ports"]))
        self.assertEqual(flag(reg, "dns-bootstrap-domain"), "spegel-bootstrap.spegel.svc.cluster.local.")
        self.assertEqual(pod_spec(ds)["priorityClassName"], "system-node-critical")
        # Upstream's immutable selector, so `helm upgrade` from an upstream release works.
        self.assertEqual(ds["spec"]["selector"]["matchLabels"],
                         {"app.kubernetes.io/name": "spegel", "app.kubernetes.io/instance": "spegel"})
        # Secure by default: a peer secret of the chart's own, mounted where the flag points.
        secret = find(objs, "Secret", "spegel-peer-secret")
        self.assertGreaterEqual(len(secret["data"]["secret"]), 24)  # base64 of >= 16 bytes
        self.assertEqual(flag(reg, "peer-secret-file"), "/etc/spegel/peer/secret")
        self.assertEqual({e["name"] for e in reg["env"]}, {"NODE_ID"})
        # No NetworkPolicy, ServiceMonitor, dashboard or VPA unless asked for.
        self.assertEqual(sorted({o["kind"] for o in objs}),
                         ["DaemonSet", "Pod", "Secret", "Service", "ServiceAccount"])

    def test_v074_values_file(self):
        text, objs = self.helm.template("-f", V074)
        validate(self, text, "https://mirror.example.com")
        ds = find(objs, "DaemonSet", "mirror")
        self.assertEqual(ds["metadata"]["namespace"], "kube-mirror")
        init, reg = container(ds, "configuration"), container(ds, "registry")
        # v0.7.4's topology: hostPort 30020 first, then NodePort 30021, then the user's target.
        self.assertEqual(flags(init, "mirror-targets"),
                         ["http://$(NODE_IP):30020", "http://$(NODE_IP):30021",
                          "https://mirror.example.com"])
        port = next(p for p in reg["ports"] if p["name"] == "registry")
        self.assertEqual((port["containerPort"], port["hostPort"]), (5010, 30020))
        svc = find(objs, "Service", "mirror-registry")
        self.assertEqual(svc["spec"]["ports"][0]["nodePort"], 30021)
        self.assertEqual(svc["metadata"]["annotations"]["service.kubernetes.io/topology-mode"], "auto")
        self.assertNotIn("trafficDistribution", svc["spec"])
        # Every spegel.* key as its flag.
        self.assertEqual(flags(init, "mirrored-registries"), ["https://docker.io", "https://ghcr.io"])
        self.assertEqual(flags(reg, "mirrored-registries"), ["https://docker.io", "https://ghcr.io"])
        self.assertEqual(flags(reg, "registry-filters"), [":latest$", r"^docker\.io/library/busybox"])
        self.assertEqual(flag(init, "resolve-tags"), "false")
        self.assertEqual(flag(init, "prepend-existing"), "true")
        self.assertEqual(flag(init, "containerd-registry-config-path"),
                         "/var/lib/rancher/k3s/agent/etc/containerd/certs.d")
        self.assertEqual(flag(reg, "containerd-sock"), "/run/k3s/containerd/containerd.sock")
        self.assertEqual(flag(reg, "containerd-content-path"),
                         "/var/lib/rancher/k3s/agent/containerd/io.containerd.content.v1.content")
        self.assertEqual(flag(reg, "log-level"), "DEBUG")
        self.assertEqual(flag(reg, "debug-web-enabled"), "false")
        self.assertEqual(flag(reg, "mirror-resolve-retries"), "5")
        self.assertEqual(flag(reg, "mirror-resolve-timeout"), "50ms")
        self.assertEqual(flag(reg, "registry-addr"), ":5010")
        self.assertEqual(flag(reg, "router-addr"), ":5011")
        self.assertEqual(flag(reg, "metrics-addr"), ":9091")
        self.assertEqual(flag(reg, "dns-bootstrap-domain"),
                         "mirror-bootstrap.kube-mirror.svc.example.internal.")
        self.assertNotIn("data-dir", " ".join(reg["args"]))  # persistence: accepted, ignored
        # Basic auth in both containers; the user's extra init container runs first.
        for c in (init, reg):
            self.assertIn("/etc/secrets/basic-auth", [m["mountPath"] for m in c["volumeMounts"]])
        self.assertEqual([c["name"] for c in pod_spec(ds)["initContainers"]],
                         ["wait-for-containerd", "configuration"])
        self.assertEqual(pod_spec(ds)["serviceAccountName"], "mirror-sa")
        self.assertEqual(pod_spec(ds)["priorityClassName"], "system-cluster-critical")
        self.assertEqual(ds["spec"]["template"]["metadata"]["labels"]["team"], "platform")
        self.assertIn({"name": "scratch", "emptyDir": {}}, pod_spec(ds)["volumes"])
        mon = find(objs, "ServiceMonitor")
        self.assertEqual(mon["spec"]["endpoints"][0]["interval"], "30s")
        dash = find(objs, "ConfigMap", "mirror-dashboard")
        self.assertEqual(json.loads(dash["data"]["spegel.json"])["uid"], "spegel-cpp")
        wait = find(objs, "Pod", "mirror-cleanup-wait")
        self.assertEqual(flag(wait["spec"]["containers"][0], "probe-endpoint"),
                         "mirror-cleanup.kube-mirror.svc.example.internal.:8081")

    def test_v08_values_file(self):
        text, objs = self.helm.template("-f", V08, *VPA_API)
        validate(self, text)
        ds = find(objs, "DaemonSet", "spegel-p2p")
        init, reg = container(ds, "configuration"), container(ds, "registry")
        self.assertEqual(flags(init, "mirror-targets"), ["http://$(NODE_IP):31000"])
        self.assertEqual(init["env"], [{"name": "NODE_IP", "value": "127.0.0.1"}])
        svc = find(objs, "Service", "spegel-p2p-registry")
        self.assertEqual(svc["spec"]["internalTrafficPolicy"], "Local")
        self.assertNotIn("trafficDistribution", svc["spec"])
        self.assertEqual([a for a in reg["args"] if a.startswith("--containerd-content-path")], [])
        self.assertNotIn("livenessProbe", reg)
        self.assertEqual(flag(reg, "log-level"), "WARN")
        policy = find(objs, "NetworkPolicy")
        router_rule = policy["spec"]["ingress"][0]
        self.assertEqual(router_rule["ports"], [{"port": "router", "protocol": "TCP"}])
        self.assertIn("podSelector", router_rule["from"][0])
        dash = find(objs, "GrafanaDashboard")
        self.assertEqual(dash["spec"]["instanceSelector"]["matchLabels"], {"dashboards": "grafana"})
        self.assertEqual(json.loads(dash["spec"]["json"])["uid"], "spegel-cpp")
        vpa = find(objs, "VerticalPodAutoscaler")
        self.assertEqual(vpa["spec"]["updatePolicy"], {"minReplicas": 1, "updateMode": "Initial"})
        # Without the API the cluster does not serve, no VPA (as upstream).
        _, without = self.helm.template("-f", V08)
        self.assertEqual([o for o in without if o["kind"] == "VerticalPodAutoscaler"], [])

    def test_own_values(self):
        cases = [
            (["--set", "spegel.routingReplicas=5"], "registry", "routing-replicas", ["5"]),
            (["--set", "spegel.inflightSharing=false"], "registry", "inflight-sharing", ["false"]),
            (["--set", "spegel.mirrorClaimTimeout=1s"], "registry", "mirror-claim-timeout", ["1s"]),
            (["--set", "spegel.resyncInterval=5m"], "registry", "resync-interval", ["5m"]),
            (["--set", "spegel.privateRegistries={https://registry.corp.example}"],
             "configuration", "private-registries", ["https://registry.corp.example"]),
            (["--set", "spegel.mirrorTargets={http://10.0.0.1:5000,http://10.0.0.2:5000}"],
             "configuration", "mirror-targets", ["http://10.0.0.1:5000", "http://10.0.0.2:5000"]),
        ]
        for args, name, flag_name, want in cases:
            with self.subTest(args=args):
                text, objs = self.helm.template(*args)
                validate(self, text, *(want if flag_name == "mirror-targets" else []))
                self.assertEqual(flags(container(find(objs, "DaemonSet", "spegel"), name), flag_name), want)

        # The host network with mDNS: loopback mirror target, ClusterFirstWithHostNet.
        text, objs = self.helm.template("--set", "hostNetwork=true",
                                        "--set", "spegel.mdnsInterfaces={eth0,eth1}")
        validate(self, text)
        ds = find(objs, "DaemonSet", "spegel")
        self.assertTrue(pod_spec(ds)["hostNetwork"])
        self.assertEqual(pod_spec(ds)["dnsPolicy"], "ClusterFirstWithHostNet")
        self.assertEqual(flags(container(ds, "configuration"), "mirror-targets"), ["http://127.0.0.1:5000"])
        self.assertEqual(flags(container(ds, "registry"), "mdns-interfaces"), ["eth0", "eth1"])

        # The peer secret: off, or the user's own Secret (then the chart renders none).
        text, objs = self.helm.template("--set", "spegel.peerSecret.enabled=false")
        validate(self, text)
        self.assertEqual(flags(container(find(objs, "DaemonSet", "spegel"), "registry"), "peer-secret-file"), [])
        self.assertEqual([o for o in objs if o["kind"] == "Secret"], [])
        text, objs = self.helm.template("--set", "spegel.peerSecret.existingSecretName=mine",
                                        "--set", "spegel.peerSecret.key=psk")
        validate(self, text)
        self.assertEqual([o for o in objs if o["kind"] == "Secret"], [])
        ds = find(objs, "DaemonSet", "spegel")
        self.assertEqual(flag(container(ds, "registry"), "peer-secret-file"), "/etc/spegel/peer/psk")
        vol = next(v for v in pod_spec(ds)["volumes"] if v["name"] == "peer-secret")
        self.assertEqual(vol["secret"]["secretName"], "mine")

        # A registry filter with a comma in it reaches the flag escaped (the flag splits on ","
        # and reads "\\," as a comma: tests/unit/cli/flags_test.cc).
        text, objs = self.helm.template(
            "--set-json", 'spegel.registryFilters=[":v[0-9]{1,2}$",":latest$"]')
        validate(self, text)
        self.assertEqual(flags(container(find(objs, "DaemonSet", "spegel"), "registry"),
                               "registry-filters"), [":v[0-9]{1\\,2}$", ":latest$"])

        # containerdMirrorAdd=false: no init container, no certs.d, no uninstall hook.
        text, objs = self.helm.template("--set", "spegel.containerdMirrorAdd=false")
        self.assertNotIn("initContainers", pod_spec(find(objs, "DaemonSet", "spegel")))
        self.assertEqual([o for o in objs if "helm.sh/hook" in o["metadata"].get("annotations", {})], [])

    def test_misspelled_and_invalid_values_fail_naming_the_key(self):
        cases = [
            (["--set", "spegel.mirrorResolveTimeot=1s"], "mirrorResolveTimeot"),
            (["--set", "servce.registry.port=1"], "servce"),
            (["--set", "service.registry.nodeport=30020"], "nodeport"),
            (["--set", "spegel.peerSecret.existingSecret=x"], "existingSecret"),
            (["--set", "spegel.routingReplicas=0"], "routingReplicas"),
            (["--set", "spegel.logLevel=LOUD"], "logLevel"),
            (["--set", "grafanaDashboard.enabled=true", "--set", "grafanaDashboard.mode=Other"], "mode"),
        ]
        for args, key in cases:
            with self.subTest(args=args):
                res = self.helm.run("template", "spegel", CHART, *args, check=False)
                self.assertNotEqual(res.returncode, 0, res.stdout[:300])
                self.assertIn(key, res.stderr)
                self.assertEqual(res.stdout, "")
        res = self.helm.run("template", "spegel", CHART, "--set", "grafanaDashboard.enabled=true",
                            "--set", "grafanaDashboard.mode=GrafanaOperator", check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("matchLabels", res.stderr)

    def test_validator_catches_broken_renders(self):
        """validate.js must fail on what it claims to check, or its passes prove nothing."""
        text, _ = self.helm.template()
        breakages = [
            ("--mirror-targets=http://$(NODE_IP):30020", "--mirror-targets=http://$(NODE_IP):30099",
             "30099"),
            ("--routing-replicas=3", "--routing-replica=3", "--routing-replica is not a flag"),
            ("- --containerd-registry-config-path=/etc/containerd/certs.d\n            - --addr",
             "- --containerd-registry-config-path=/etc/other\n            - --addr",
             "different certs.d"),
            ("- --registry-addr=:5000", "- --registry-addr=:5005", "5005"),
            ("fieldPath: spec.nodeName", "fieldPath: spec.nodeNam\n              bogus: 1", "bogus"),
            ("- name: NODE_ID", "- name: NODE_NAME", "NODE_NAME"),
        ]
        for old, new, why in breakages:
            with self.subTest(broken=new):
                self.assertIn(old, text)
                path = os.path.join(self.helm.home, "broken.yaml")
                with open(path, "w") as f:
                    f.write(text.replace(old, new, 1))
                res = subprocess.run(["node", VALIDATOR, "--suite", "broken", path],
                                     capture_output=True, text=True, timeout=120, check=False)
                self.assertNotEqual(res.returncode, 0, res.stdout)
                self.assertIn(why, res.stdout)

    def test_manifests_are_the_default_render(self):
        res = subprocess.run([os.path.join(REPO, "scripts", "render-manifests"), "--check"],
                             capture_output=True, text=True, timeout=120, check=False)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)

    def test_readme_lists_every_value(self):
        with open(os.path.join(CHART, "values.yaml")) as f:
            values = yaml.safe_load(f)
        with open(os.path.join(CHART, "README.md")) as f:
            readme = f.read()
        listed = set(re.findall(r"^\| `([^`]+)` \|", readme, flags=re.M))
        keys = set(leaf_keys(values))
        covered = lambda k: any(k == r or k.startswith(r + ".") for r in listed)  # noqa: E731
        self.assertEqual(sorted(k for k in keys if not covered(k)), [],
                         "values.yaml keys missing from the README table")
        self.assertEqual(sorted(r for r in listed if not any(k == r or k.startswith(r + ".") for k in keys)),
                         [], "README rows for keys values.yaml lacks")
        for row in re.findall(r"^\| `[^`]+` \| `[^`]*` \| (.*) \|$", readme, flags=re.M):
            self.assertTrue(row.strip(), "a value without a description")
        with open(os.path.join(CHART, "values.schema.json")) as f:
            schema = json.load(f)

        def schema_keys(node, prefix=""):
            out = []
            for k, v in node.get("properties", {}).items():
                if v.get("properties"):
                    out += schema_keys(v, f"{prefix}{k}.")
                else:
                    out.append(f"{prefix}{k}")
            return out
        declared = set(schema_keys(schema)) - {"global"}
        under = lambda k, roots: any(k == r or k.startswith(r + ".") for r in roots)  # noqa: E731
        self.assertEqual(sorted(d for d in declared if not any(under(k, [d]) for k in keys)), [],
                         "schema keys without a default in values.yaml")
        self.assertEqual(sorted(k for k in keys if not under(k, declared)), [],
                         "values the schema does not declare")

    def test_oci_push_and_install_source(self):
        """scripts/build-chart packages it; helm push uploads it to a registry on loopback; the
        render from oci:// equals the render from the directory (but for the random secret)."""
        out = os.path.join(self.helm.home, "pkg")
        res = subprocess.run([os.path.join(REPO, "scripts", "build-chart"), "--output", out],
                             capture_output=True, text=True, timeout=180, check=False,
                             env=self.helm.env)
        self.assertEqual(res.returncode, 0, res.stderr)
        package = res.stdout.strip().splitlines()[-1]
        self.assertTrue(package.endswith("spegel-0.1.0.tgz") and os.path.isfile(package), package)
        reg = registry.Registry()
        try:
            reg.start()
            push = self.helm.run("push", package, f"oci://{reg.addr}/charts", "--plain-http")
            self.assertIn(f"{reg.addr}/charts/spegel:0.1.0", push.stdout + push.stderr)
            ref = f"oci://{reg.addr}/charts/spegel"
            pulled, objs = self.helm.template("--version", "0.1.0", "--plain-http", "-f", V074,
                                              chart=ref)
            local, _ = self.helm.template("-f", V074)
            self.assertEqual(self._without_secret(pulled), self._without_secret(local))
            validate(self, pulled, "https://mirror.example.com")
            shown = self.helm.run("show", "values", ref, "--version", "0.1.0", "--plain-http").stdout
            with open(os.path.join(CHART, "values.yaml")) as f:
                self.assertEqual(shown.strip(), f.read().strip())
            # The registry really holds it as a Helm chart artifact.
            status, _, body = util.http_request(f"{reg.url}/v2/charts/spegel/manifests/0.1.0",
                                                headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body)["config"]["mediaType"],
                             "application/vnd.cncf.helm.config.v1+json")
        finally:
            reg.close()

    def test_dashboard_queries_exported_metrics(self):
        """The dashboard queries only metrics spegel exports: checked against a real scrape
        (testdata/metrics-sample.txt, saved from build/src/spegel's /metrics), whose every family
        the metrics code still registers (so the sample cannot go stale unnoticed)."""
        sample = os.path.join(HERE, "testdata", "metrics-sample.txt")
        with open(sample) as f:
            families = re.findall(r"^# TYPE (\S+) ", f.read(), flags=re.M)
        sources = ""
        for name in sorted(os.listdir(os.path.join(REPO, "src", "metrics"))):
            if name.endswith(".cc"):
                with open(os.path.join(REPO, "src", "metrics", name)) as f:
                    sources += f.read()
        self.assertGreater(len(families), 10)
        self.assertEqual([f for f in families if f'"{f}"' not in sources], [],
                         "families in the sample that src/metrics no longer registers")
        res = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "check_dashboard.py"),
                              os.path.join(CHART, "monitoring", "grafana-dashboard.json"), sample],
                             capture_output=True, text=True, timeout=60, check=False)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertRegex(res.stdout, r"ok: [1-9][0-9]* metrics, [1-9][0-9]* panels")

    @staticmethod
    def _without_secret(text):
        return re.sub(r"(?m)^  secret: \S+$", "  secret: <random>", text)


if __name__ == "__main__":
    unittest.main()
