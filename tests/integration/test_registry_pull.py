"""containerd pulls through Spegel with the upstream registry down.

Node A: containerd + spegel, images CRI-pulled from the local docker-registry. Node B: a second
containerd (own temp dir) whose certs.d lists A's spegel as mirror (pull+resolve) and the
upstream as `server`. The upstream is stopped before B pulls, so every byte B gets must come
from spegel; B's own logs (containerd's for CRI, `ctr --debug` for ctr) name the URL each
response came from, and the tests check every one of them is spegel's.

Both namespaces containerd sends: `ns=127.0.0.1:PORT` (images named 127.0.0.1:PORT/...) and
`ns=docker.io` (images named docker.io/library/...; certs.d/docker.io overrides `server` to the
LOCAL registry, never a public one).
"""

import hashlib
import os
import time
import unittest

from harness import containerd, imagegen, images, registry, spegel, util

MULTI3 = imagegen.DEFAULT_MULTI_PLATFORMS

# key -> generator arguments; each is generated twice (own seeds) for the two namespaces.
IMAGE_KINDS = {
    "single": dict(fmt="oci", layer_sizes=(3000, 70000)),
    "multi": dict(fmt="oci", platforms=MULTI3, layer_sizes=(5000, 1200)),
    "layers": dict(fmt="docker", layer_sizes=(100, 2000, 300000, 40, 1_500_000, 9000)),
}

# containerd's debug line for every response body/HEAD it received (daemon log and ctr --debug).


def _sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class PullThroughSpegelTest(unittest.TestCase):
    """One node A (containerd + spegel) per class; a fresh node B per test."""

    @classmethod
    def setUpClass(cls):
        cls.gen_dir = util.make_temp_dir("sit-gen-")
        cls.registry = registry.Registry()
        cls.node_a = containerd.Containerd()
        cls.spegel = None
        cls.refs = []  # (ref by tag, ref by digest, GeneratedImage, ns)
        try:
            cls.registry.start()
            cls.node_a.start()
            cls.node_a.write_hosts_toml_strict(cls.registry.addr, cls.registry.url)
            cls.node_a.write_hosts_toml_strict("docker.io", cls.registry.url)
            for ns in (cls.registry.addr, "docker.io"):  # 127.0.0.1 first: see below
                for kind, kw in IMAGE_KINDS.items():
                    if ns == "docker.io":
                        repo = f"library/pull-{kind}"
                    else:
                        repo = f"pull/{kind}"
                    img = imagegen.generate(os.path.join(cls.gen_dir, f"{ns.replace(':', '_')}-{kind}"),
                                            seed=f"pull-{ns}-{kind}", name=repo, **kw)
                    images.push(img, cls.registry)
                    tag_ref = f"{ns}/{repo}:{img.tag}"
                    digest_ref = f"{ns}/{repo}@{img.top.digest}"
                    if ns == "docker.io" and cls.node_a.hosts_toml_rejected():
                        # containerd would fall back to registry-1.docker.io: never go there
                        raise util.HarnessError("node A's containerd rejected a hosts.toml")
                    images.cri_pull(cls.node_a, tag_ref)
                    cls.refs.append((tag_ref, digest_ref, img, ns))
            if cls.node_a.hosts_toml_rejected():
                raise util.HarnessError("node A's containerd rejected a hosts.toml")
            cls.spegel = spegel.Spegel(cls.node_a)
            cls.spegel.start()
            want_tags = {r[0]: r[2].top.digest for r in cls.refs}

            cls.spegel.wait_tags(want_tags, 15.0, "spegel on node A to index every pulled tag")
            # The upstream goes away for good: from here on only spegel can serve.
            cls.registry.stop_for_good()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.spegel is not None:
            cls.spegel.close()
        cls.node_a.close()
        cls.registry.close()
        util.remove_temp_dir(cls.gen_dir)

    def setUp(self):
        self.node_b = containerd.Containerd()
        self.addCleanup(self.node_b.close)
        for host in (self.registry.addr, "docker.io"):
            self.node_b.write_hosts_toml(host, server=self.registry.url,
                                         mirrors=[self.spegel.url])
        self.node_b.start()
        self.assertTrue(self.spegel.running(), util.tail(self.spegel.log_path))

    # ---- helpers ---------------------------------------------------------------------------

    def _ctr_pull(self, ref):
        """ctr pull on node B with --debug; returns its stderr (containerd's resolver log)."""
        res = self.node_b.ctr("--debug", "images", "pull", "--plain-http", "--hosts-dir",
                              self.node_b.certs_d, ref, timeout=60, check=False)
        self.assertEqual(res.returncode, 0, f"ctr pull {ref} failed:\n{res.stderr[-3000:]}\n"
                         f"spegel log:\n{util.tail(self.spegel.log_path)}")
        return res.stderr

    def _cri_pull(self, ref):
        try:
            images.cri_pull(self.node_b, ref)
        except util.HarnessError as e:
            self.fail(f"CRI pull {ref} failed: {e}\nnode B log:\n"
                      f"{util.tail(self.node_b.log_path)}\nspegel log:\n"
                      f"{util.tail(self.spegel.log_path)}")

    def _check_served_by_spegel(self, log_text, img, ns, tag=None):
        """Every response B received during this pull (log_text) was spegel's, each with
        ?ns=<ns>, and every blob of the host platform came from it."""
        fetched = containerd.fetch_responses(log_text)
        self.assertTrue(fetched, "containerd logged no fetch responses")
        prefix = self.spegel.url + "/v2/" + img.name + "/"
        ns_query = "ns=" + ns.replace(":", "%3A")
        mine = set()
        for url, status in fetched:
            self.assertTrue(url.startswith(prefix), f"response from {url}, not spegel")
            self.assertIn(ns_query, url)
            self.assertEqual(status, "200 OK", url)
            digest = containerd.DIGEST_IN_URL.search(url)
            if digest:
                mine.add(digest.group(1))
        want = set(img.blobs_for_platform())
        self.assertEqual(want - mine, set(), "blobs B did not fetch from spegel")
        if tag is not None:  # the tag was resolved by spegel too
            self.assertTrue(any(f"/manifests/{tag}?" in url for url, _ in fetched),
                            f"no tag resolution through spegel in {fetched}")

    def _check_node_b(self, name, img):
        """B's image `name` targets the generator's top digest and B's content holds exactly
        the host-platform blobs of the images pulled so far, with the generator's bytes."""
        got = self.node_b.images()
        self.assertIn(name, got)
        self.assertEqual(got[name][0], img.top.digest)
        self.assertEqual(got[name][1], img.top.media_type)
        content = self.node_b.content_digests()
        for digest, blob in img.blobs_for_platform().items():
            self.assertIn(digest, content)
            with open(self.node_b.blob_path(digest), "rb") as f:
                data = f.read()
            self.assertEqual(len(data), blob.size, digest)
            self.assertEqual(_sha(data), digest)
        # nothing of the other platforms came along
        self.assertFalse(set(img.non_host_blobs()) & content)

    def _expected_content(self):
        out = set()
        for _, _, img, _ in self.refs:
            out |= set(img.blobs_for_platform())
        return out

    def _pull_all(self, method, by):
        self.assertFalse(self.registry.proc)  # the upstream is down
        for tag_ref, digest_ref, img, ns in self.refs:
            ref = tag_ref if by == "tag" else digest_ref
            with self.subTest(ref=ref):
                # the docker.io pulls come after the 127.0.0.1 ones, whose hosts.toml has the
                # same shape: if containerd had rejected it, stop before it goes to Docker Hub
                self.assertFalse(self.node_b.hosts_toml_rejected())
                if method == "ctr":
                    log_text = self._ctr_pull(ref)
                else:
                    before = os.path.getsize(self.node_b.log_path)
                    self._cri_pull(ref)
                    with open(self.node_b.log_path, "rb") as f:
                        f.seek(before)
                        log_text = f.read().decode("utf-8", "replace")
                self._check_served_by_spegel(log_text, img, ns,
                                             tag=img.tag if by == "tag" else None)
                self._check_node_b(ref, img)
        self.assertEqual(self.node_b.content_digests(), self._expected_content())
        self.assertFalse(self.node_b.hosts_toml_rejected())
        self.assertTrue(self.spegel.running())
        # spegel has no access log; what it does log must show no trouble while serving. The one
        # WARN expected is the start-up notice that this node runs without a peer secret.
        lines = self.spegel.log_lines_with("", levels=("WARN", "ERROR"))
        notices = [line for line in lines if '"msg":"no peer secret:' in line]
        self.assertEqual(len(notices), 1, lines)
        self.assertEqual([line for line in lines if line not in notices], [])

    # ---- tests -----------------------------------------------------------------------------

    def test_ctr_pull_by_tag(self):
        self._pull_all("ctr", "tag")

    def test_ctr_pull_by_digest(self):
        self._pull_all("ctr", "digest")

    def test_cri_pull_by_tag(self):
        self._pull_all("cri", "tag")

    def test_cri_pull_by_digest(self):
        self._pull_all("cri", "digest")

    def test_unknown_image_fails_fast_without_upstream(self):
        # spegel answers 404 at once for what it does not hold, so the pull fails quickly
        # (upstream down) instead of hanging on the mirror
        ref = f"{self.registry.addr}/pull/absent:v1"
        started = time.monotonic()
        res = self.node_b.ctr("images", "pull", "--plain-http", "--hosts-dir",
                              self.node_b.certs_d, ref, timeout=30, check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertLess(time.monotonic() - started, 10.0)
        status, headers, body = self.spegel.get(
            f"/v2/pull/absent/manifests/v1?ns={self.registry.addr}", method="GET")
        self.assertEqual(status, 404)
        self.assertIn(b"MANIFEST_UNKNOWN", body)


if __name__ == "__main__":
    unittest.main()
