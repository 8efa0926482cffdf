"""Correct answers in the corners (issue 31).

GcMissTest (item 1): containerd's garbage collector deletes content without an event, so a
node's index can list a blob whose file is gone. Two nodes pull the same image; node2's copy of a
layer is then removed behind containerd's back, as GC does, and the upstream is cut. A GET of
that layer from node2's registry must still be answered 200 with exactly the layer's bytes, from
node1, within the same request (before: 404 until the next resync). The blob is dropped from
node2's index (so node2 no longer announces it) and counted once in
spegel_index_blobs_gone_total; a second GET is a plain miss served by the peer.

RangeTest (item 3, range correctness): containerd 2.x fetches a layer as several concurrent
ranges. One layer asked as 8 concurrent ranges from node1 (its local copy) and from node2 (which
has no copy: through node1) must come back 206 with every part's bytes exact and its
Content-Range; a range past the end is the same 416 on both (RANGE_INVALID, `bytes */SIZE`,
Docker-Content-Digest). The in-flight path answers with the same code (registry/blob_range.h,
tests/unit/registry/inflight_test.cc).

PrivateRegistryTest (item 4): node2's hosts.toml is written by `spegel configuration
--private-registries <upstream>`: its mirror may pull but not resolve. node2's containerd must
then resolve the tag at the upstream itself (the upstream's access log shows node2 asking for
the manifest by tag), while every layer still comes from node1 through node2's Spegel (the
upstream serves node2 no layer).
"""

import concurrent.futures
import hashlib
import os
import re
import unittest

from harness import cluster as cl
from harness import netns
from itharness import spegel as itspegel
from itharness import util


def metric(node, series):
    metrics = node.http("GET", node.metrics_url("/metrics"))["body"]
    m = re.search(r"^" + re.escape(series) + r" (\d+)", metrics, re.M)
    return int(m.group(1)) if m else None


def gone_total(node):
    return metric(node, "spegel_index_blobs_gone_total")


def served_bytes(node):
    return {source: metric(node, f'spegel_served_bytes_total{{source="{source}"}}')
            for source in ("local", "peer")}


class _TwoNodes:
    """Two nodes finding each other by DNS, and one image (KEY, LAYERS) pushed to the upstream."""
    KEY = ""
    LAYERS = ()
    EXTRA = ()

    @classmethod
    def setUpClass(cls):
        cls.c = cl.Cluster(nodes=2)
        try:
            cls.c.start()
            cls.n1, cls.n2 = cls.c.nodes
            cls.img = cls.c.generate(cls.KEY, layer_sizes=cls.LAYERS)
            cls.tag, _ = cls.c.push(cls.img)
            cls.c.configure_spegels(dns=True, extra=cls.EXTRA)
            cls.c.start_spegels()
            cls.c.wait_members()
        except BaseException:
            cls.c.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.close()


class GcMissTest(_TwoNodes, unittest.TestCase):
    # No periodic resync during the test: removing only the file leaves containerd's
    # metadata, which a resync would read back (real GC removes both).
    KEY = "gc-miss"
    LAYERS = (3000, 300_000)
    EXTRA = ("--resync-interval", "1h")

    def test_a_blob_gone_under_us_is_served_by_a_peer_in_the_same_request(self):
        layer = self.img.platforms["linux/amd64"].layers[1].digest
        for n in (self.n1, self.n2):
            n.cri_pull(self.tag)
            self.assertTrue(n.has_blob(layer), n.name)
        self.c.wait_providers(self.n2, layer, {"node1"})
        self.assertEqual(gone_total(self.n2), 0)
        path = f"/v2/{self.img.name}/blobs/{layer}"
        self.assertEqual(self.n2.http("GET", self.n2.registry_url(path))["status"], 200)
        # GC removes the file without telling anyone.
        os.unlink(self.n2.ctd.blob_path(layer))
        before = served_bytes(self.n2)
        self.c.cut_upstream()
        try:
            answers = []
            for _ in range(2):
                r = self.n2.http("GET", self.n2.registry_url(path), timeout=10.0)
                answers.append(r.get("status"))
                self.assertEqual(r.get("status"), 200, f"{r}\n{self.c.logs()}")
                self.assertEqual(r["sha256"], layer)
                size = r["bytes"]
        finally:
            self.c.restore_upstream()
        self.assertEqual(gone_total(self.n2), 1)
        # Issue 31, item 2: an answer proxied from a peer is counted once, as the peer's.
        after = served_bytes(self.n2)
        self.assertEqual(after["peer"] - before["peer"], 2 * size, (before, after))
        self.assertEqual(after["local"] - before["local"], 0, (before, after))

        def providers_at_owners():
            ids = set()
            for n in self.c.nodes:  # both own every key here
                doc = n.metrics_json("/debug/routing?key=" + layer)
                ids |= {p["node_id"] for p in doc.get("local_entries", [])}
            return ids if "node2" not in ids else None
        left = util.wait_until(providers_at_owners, 10.0, "node2's entry withdrawn", 0.2)
        self.assertEqual(left, {"node1"})
        print(f"      [gc miss] node2 answered {answers} for a layer GC removed under it, from "
              f"node1; spegel_index_blobs_gone_total 1; the owners now list {sorted(left)}; "
              f"served bytes peer +{after['peer'] - before['peer']}, local "
              f"+{after['local'] - before['local']}")



class RangeTest(_TwoNodes, unittest.TestCase):
    KEY = "ranges"
    LAYERS = (3000, 1_000_003)
    PARTS = 8

    def test_eight_concurrent_ranges_local_and_through_a_peer(self):
        layer = self.img.platforms["linux/amd64"].layers[1].digest
        self.n1.cri_pull(self.tag)
        self.assertFalse(self.n2.has_blob(layer))
        self.c.wait_providers(self.n2, layer, {"node1"})
        with open(self.n1.ctd.blob_path(layer), "rb") as f:
            data = f.read()
        size = len(data)
        step = size // self.PARTS + 1
        parts = [(i * step, min(size, (i + 1) * step) - 1) for i in range(self.PARTS)]
        path = f"/v2/{self.img.name}/blobs/{layer}"
        for node, how in ((self.n1, "local"), (self.n2, "peer")):
            def get(part, node=node):
                return node.http("GET", node.registry_url(path), timeout=20.0,
                                 headers={"Range": f"bytes={part[0]}-{part[1]}"},
                                 max_body=size + 1)
            with concurrent.futures.ThreadPoolExecutor(self.PARTS) as pool:
                answers = list(pool.map(get, parts))
            for (first, last), r in zip(parts, answers):
                with self.subTest(how=how, part=(first, last)):
                    self.assertEqual(r.get("status"), 206, r)
                    self.assertEqual(r["headers"].get("content-range"),
                                     f"bytes {first}-{last}/{size}")
                    self.assertEqual(r["sha256"],
                                     "sha256:" + hashlib.sha256(data[first:last + 1]).hexdigest())
            beyond = node.http("GET", node.registry_url(path), headers={"Range": f"bytes={size}-"})
            self.assertEqual(beyond.get("status"), 416, (how, beyond))
            self.assertEqual(beyond["headers"].get("content-range"), f"bytes */{size}")
            self.assertEqual(beyond["headers"].get("docker-content-digest"), layer)
            self.assertIn("RANGE_INVALID", beyond.get("body", ""))
            print(f"      [ranges] {how}: {self.PARTS} concurrent ranges of a {size}-byte layer "
                  f"exact, 206 with Content-Range; past the end 416 RANGE_INVALID")


class PrivateRegistryTest(_TwoNodes, unittest.TestCase):
    KEY = "private"
    LAYERS = (3000, 200_000)

    def test_tags_resolve_at_the_registry_and_layers_come_from_a_peer(self):
        layers = [x.digest for x in self.img.platforms["linux/amd64"].layers]
        self.n1.cri_pull(self.tag)
        for layer in layers:
            self.c.wait_providers(self.n2, layer, {"node1"})
        upstream = f"http://{self.c.upstream_addr}"
        res = netns.run_in(self.n2.ns, [
            itspegel.spegel_bin(), "configuration",
            "--containerd-registry-config-path", self.n2.ctd.certs_d,
            "--mirrored-registries", upstream, "--private-registries", upstream,
            "--mirror-targets", f"http://127.0.0.1:{cl.REGISTRY_PORT}"], timeout=30, check=False)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        hosts = os.path.join(self.n2.ctd.certs_d, self.c.upstream_addr, "hosts.toml")
        with open(hosts) as f:
            text = f.read()
        self.assertIn("capabilities = ['pull']\n", text)
        self.assertNotIn("resolve", text)
        before = len(self.c.upstream_requests())
        self.n2.cri_pull(self.tag)
        lines = [ln for ln in self.c.upstream_requests()[before:] if self.n2.ip in ln]
        by_tag = [ln for ln in lines if f"/manifests/{self.img.tag}" in ln]
        layer_gets = [ln for ln in lines if any(f"/blobs/{d}" in ln for d in layers)]
        for layer in layers:
            self.assertTrue(self.n2.has_blob(layer), layer)
        print(f"      [private registry] node2's requests at the upstream: {len(lines)} "
              f"({len(by_tag)} for the tag, {len(layer_gets)} for layers); layers from node1")
        self.assertTrue(by_tag, "\n".join(lines) or "node2 never asked the upstream")
        self.assertEqual(layer_gets, [], "\n".join(lines))


if __name__ == "__main__":
    unittest.main()
