"""Pull coalescing and in-flight sharing (issue 12, "Must show" 1 and 2), with the real
containerd on every node and the upstream throttled so that it is the bottleneck.

One cluster for the class: 4 nodes discovering each other by DNS, the upstream's egress limited
to UPSTREAM_RATE (tbf on its eth0, inside its namespace). Upstream requests and bytes are counted
from the docker-registry's access log. Every pull must succeed and every blob must be committed
by containerd (which checks size and digest); each layer must be fetched from the upstream in
full exactly once. The figures (wall times, upstream bytes over one pull's) are printed.
"""

import glob
import hashlib
import os
import re
import threading
import time
import unittest

from harness import cluster as cl
from harness import netns
from itharness import util

UPSTREAM_RATE = "300mbit"
LAYER = 24 << 20
NODES = 4


def _require_inflight_build():
    if not cl.has_flag("--inflight-sharing"):
        raise util.HarnessError(f"{cl.itspegel.spegel_bin()} has no --inflight-sharing")


class InflightTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        _require_inflight_build()
        cls.c = cl.Cluster(nodes=NODES)
        try:
            cls.c.start()
            cls.cold = cls.c.generate("cold", layer_sizes=(LAYER,) * 3, compresslevel=0)
            cls.late = cls.c.generate("late", layer_sizes=(LAYER,) * 2, compresslevel=0)
            cls.cold_tag, _ = cls.c.push(cls.cold)
            cls.late_tag, _ = cls.c.push(cls.late)
            cls.c.configure_spegels(dns=True)
            cls.c.start_spegels()
            cls.c.wait_members()
            netns.run_in(cls.c.upstream_ns, ["tc", "qdisc", "replace", "dev", "eth0", "root",
                                             "tbf", "rate", UPSTREAM_RATE, "burst", "256kb",
                                             "latency", "400ms"])
        except BaseException:
            cls.c.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def pull_all(self, image_tag, nodes, start_gap_s=0.0, first_wait=None):
        """Pulls on every node in `nodes` in its own thread; the first starts at once, the others
        after `first_wait()` returns (or `start_gap_s`). Returns {node: seconds}."""
        times, errors = {}, {}

        def pull(node):
            t0 = time.monotonic()
            try:
                node.cri_pull(image_tag, timeout=300)
                times[node.name] = time.monotonic() - t0
            except util.HarnessError as e:
                errors[node.name] = str(e)[:400]
        threads = [threading.Thread(target=pull, args=(n,)) for n in nodes]
        threads[0].start()
        if first_wait is not None:
            first_wait()
        elif start_gap_s:
            time.sleep(start_gap_s)
        for t in threads[1:]:
            t.start()
        for t in threads:
            t.join(600)
        if errors:
            self.fail(f"pulls failed: {errors}\n{self.c.logs(max_bytes=4000)}")
        return times

    def upstream_blob_gets(self, lines, digest):
        return [ln for ln in lines if f"/blobs/{digest}" in ln and '"GET ' in ln]

    @staticmethod
    def bytes_of(line):
        # docker-registry's access log: ... "GET /v2/... HTTP/1.1" 200 <bytes> "-" ...
        m = re.search(r'" (\d{3}) (\d+) ', line)
        return int(m.group(2)) if m else 0

    def check_image(self, image, nodes):
        for node in nodes:
            for b in image.blobs_for_platform().values():
                path = node.ctd.blob_path(b.digest)
                self.assertTrue(node.has_blob(b.digest), f"{node.name} lacks {b.kind} {b.digest}")
                h = hashlib.sha256()
                with open(path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                self.assertEqual("sha256:" + h.hexdigest(), b.digest, f"{node.name} {path}")

    def report(self, title, image, lines, times):
        layers = image.platforms["linux/amd64"].layers
        layer_bytes = sum(lay.size for lay in layers)
        up = sum(self.bytes_of(ln) for d in [lay.digest for lay in layers]
                 for ln in self.upstream_blob_gets(lines, d))
        print(f"      [{title}] {len(times)} nodes, {len(layers)} x {LAYER >> 20} MiB, upstream "
              f"{UPSTREAM_RATE}: upstream layer bytes {up / layer_bytes:.2f}x one pull; pull "
              f"times " + ", ".join(f"{k} {v:.1f}s" for k, v in sorted(times.items())) +
              f"; slowest/fastest {max(times.values()) / min(times.values()):.2f}")
        return up, layer_bytes

    def test_a_cold_rollout_fetches_each_layer_once_from_upstream(self):
        before = len(self.c.upstream_requests())
        times = self.pull_all(self.cold_tag, self.c.nodes)
        lines = self.c.upstream_requests()[before:]
        self.check_image(self.cold, self.c.nodes)
        for lay in self.cold.platforms["linux/amd64"].layers:
            gets = self.upstream_blob_gets(lines, lay.digest)
            self.assertEqual(len(gets), 1, f"layer {lay.digest}: upstream GETs {gets}\n"
                             f"{self.c.logs(max_bytes=3000)}")
            self.assertEqual(self.bytes_of(gets[0]), lay.size, gets[0])
        up, layer_bytes = self.report("cold rollout", self.cold, lines, times)
        self.assertEqual(up, layer_bytes)
        claims = [n.metrics_json("/debug/routing").get("stats", {}) for n in self.c.nodes]
        self.assertTrue(any(s for s in claims), claims)

    def test_b_late_joiners_stream_from_the_download_in_flight(self):
        before = len(self.c.upstream_requests())
        first_layer = self.late.platforms["linux/amd64"].layers[0].digest

        def first_is_downloading():
            # node1's upstream GET of the first layer has started: its ingest is growing.
            n1 = self.c.nodes[0]
            util.wait_until(lambda: any(
                os.path.getsize(p) > (1 << 20) for p in glob.glob(
                    os.path.join(n1.ctd.content_dir, "ingest", "*", "data"))), 60.0,
                "node1's ingest to grow", 0.02)
            time.sleep(0.2)
        times = self.pull_all(self.late_tag, self.c.nodes, first_wait=first_is_downloading)
        lines = self.c.upstream_requests()[before:]
        self.check_image(self.late, self.c.nodes)
        for lay in self.late.platforms["linux/amd64"].layers:
            gets = self.upstream_blob_gets(lines, lay.digest)
            self.assertEqual(len(gets), 1, f"layer {lay.digest}: upstream GETs {gets}\n"
                             f"{self.c.logs(max_bytes=3000)}")
        self.report("late joiners", self.late, lines, times)
        self.assertTrue(first_layer)


if __name__ == "__main__":
    unittest.main()
