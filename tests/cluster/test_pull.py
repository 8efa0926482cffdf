"""Pulls across the cluster with the upstream cut (issue 4, "Must show" 1 a, c, d, e, f).

One cluster for the class: 3 nodes discovering each other by DNS (dnsmasq), announce TTL 5 s.
setUpClass: every spegel up and joined; node1 pulls X and BIG (one 64 MiB layer) from the
upstream, node2 pulls BIG too (two holders), node1 pulls MANY (20 layers); Z is pushed but never
pulled; then the upstream's link goes down for good. The tests run in name order (a, b, c, d, e,
f) and build on each other: (a) leaves X on node2 and node3, which (e) and (f) rely on.
"""

import datetime
import os
import re
import threading
import time
import unittest

from harness import cluster as cl
from harness import netns
from itharness import util

ANNOUNCE_TTL_S = 5
BIG_LAYER = 64 << 20
MANY_LAYERS = 20


def _require_cluster_build():
    missing = [f for f in ("--node-id", "--dns-bootstrap-domain", "--announce-ttl",
                           "--router-addr") if not cl.has_flag(f)]
    if missing:
        raise util.HarnessError(f"{cl.itspegel.spegel_bin()} has no {', '.join(missing)}: the "
                                "cluster layer is not in this build")


class PeerPullTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        _require_cluster_build()
        cls.c = cl.Cluster(nodes=3)
        try:
            cls.c.start()
            cls.n1, cls.n2, cls.n3 = cls.c.nodes
            cls.x = cls.c.generate("x", layer_sizes=(3000, 200_000))
            cls.big = cls.c.generate("big", layer_sizes=(BIG_LAYER,), compresslevel=0)
            cls.z = cls.c.generate("z", layer_sizes=(1000,))
            cls.many = cls.c.generate("many", layer_sizes=tuple(
                1000 + 97 * i for i in range(MANY_LAYERS)))
            cls.x_tag, cls.x_digest = cls.c.push(cls.x)
            cls.big_tag, _ = cls.c.push(cls.big)
            cls.z_tag, _ = cls.c.push(cls.z)
            cls.many_tag, _ = cls.c.push(cls.many)
            cls.c.configure_spegels(dns=True, announce_ttl=f"{ANNOUNCE_TTL_S}s")
            cls.c.start_spegels()
            cls.c.wait_members()
            cls.n1.cri_pull(cls.x_tag)
            cls.n1.cri_pull(cls.big_tag)
            cls.n2.cri_pull(cls.big_tag)
            cls.n1.cri_pull(cls.many_tag)
            cls.c.cut_upstream()
            cls.big_layer = cls.big.platforms["linux/amd64"].layers[0].digest
            for node in (cls.n1, cls.n2):
                assert node.has_blob(cls.big_layer), node.name
            # every holder announced: node3 finds them before any test starts
            cls.c.wait_providers(cls.n3, cls.x.top.digest, {"node1"})
            cls.c.wait_providers(cls.n3, cls.big_layer, {"node1", "node2"})
            many_last = cls.many.platforms["linux/amd64"].layers[-1].digest
            cls.c.wait_providers(cls.n2, many_last, {"node1"})
        except BaseException:
            cls.c.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def cri_pull_ok(self, node, ref, timeout=120):
        try:
            return node.cri_pull(ref, timeout=timeout)
        except util.HarnessError as e:
            self.fail(f"CRI pull {ref} on {node.name} failed: {e}\ncontainerd log:\n"
                      f"{util.tail(node.ctd.log_path, 2000)}\n{self.c.logs()}")

    def assert_has_image(self, node, image):
        for b in image.blobs_for_platform().values():
            self.assertTrue(node.has_blob(b.digest), f"{node.name} lacks {b.kind} {b.digest}")

    def assert_upstream_cut(self):
        r = netns.http(self.n1.ns, "GET", f"http://{self.c.upstream_addr}/v2/", timeout=1.0)
        self.assertIn("error", r, f"the upstream still answers: {r}")

    # ---- (a) ---------------------------------------------------------------------------------

    def test_a_pull_by_tag_and_digest_through_peers(self):
        self.assert_upstream_cut()
        before = len(self.c.upstream_requests())
        self.cri_pull_ok(self.n2, self.x_tag)
        self.assert_has_image(self.n2, self.x)
        self.cri_pull_ok(self.n3, self.x_digest)
        self.assert_has_image(self.n3, self.x)
        # tag resolution across nodes on a node that already has the content
        self.cri_pull_ok(self.n3, self.x_tag)
        self.assertEqual(self.c.upstream_requests()[before:], [])
        self.assert_upstream_cut()

    # ---- (b) ---------------------------------------------------------------------------------

    def test_b_a_20_layer_pull_costs_at_most_one_router_round_per_key(self):
        before = self.n2.metrics_json("/debug/routing")["stats"]
        self.cri_pull_ok(self.n2, self.many_tag)
        self.assert_has_image(self.n2, self.many)
        after = self.n2.metrics_json("/debug/routing")["stats"]
        d = {k: after[k] - before[k] for k in ("locator_requests", "locator_router_rounds",
                                                "locator_coalesced", "locator_cache_hits",
                                                "lookup_messages", "claim_requests",
                                                "claim_messages")}
        keys = len(self.many.blobs_for_platform()) + 1  # every blob and manifest, plus the tag
        # A blob GET that misses asks the key's owner once: a claim (pull coalescing, whose
        # `have` answer names the holders) in place of a lookup round.
        rounds = d["locator_router_rounds"] + d["claim_requests"]
        print(f"      (b) {MANY_LAYERS}-layer pull on node2: {d['locator_requests']} lookups + "
              f"{d['claim_requests']} claims asked, {rounds} router rounds "
              f"({d['locator_router_rounds']} lookup rounds: {d['locator_coalesced']} shared, "
              f"{d['locator_cache_hits']} from the cache; {d['claim_messages']} claim messages), "
              f"{d['lookup_messages']} lookup messages; {keys} distinct keys", flush=True)
        # One peer request per blob at least; every request is a round, shared or kept.
        self.assertGreaterEqual(d["locator_requests"] + d["claim_requests"], MANY_LAYERS)
        self.assertEqual(d["locator_requests"], d["locator_router_rounds"] +
                         d["locator_coalesced"] + d["locator_cache_hits"])
        self.assertLessEqual(rounds, keys)

    # ---- (c) ---------------------------------------------------------------------------------

    def test_c_provider_killed_mid_transfer(self):
        holders = {self.n1.ip: self.n1, self.n2.ip: self.n2}
        cl.throttle(self.c, self.n3, "100mbit")   # 64 MiB takes ~5 s toward node3
        self.addCleanup(cl.unthrottle, self.c, self.n3)
        result = {}

        def pull():
            t0 = time.monotonic()
            try:
                self.n3.cri_pull(self.big_tag, timeout=120)
                result["ok"] = True
            except util.HarnessError as e:
                result["error"] = str(e)
            result["seconds"] = time.monotonic() - t0
        t = threading.Thread(target=pull)
        t.start()
        victim = None
        try:
            def provider():
                for node in holders.values():
                    if self.n3.ip in cl.serving_peers(node):
                        return node
                return None
            victim = util.wait_until(provider, 30.0, "node3's spegel to connect to a holder", 0.05)
            time.sleep(0.5)           # some bytes flow, the transfer is far from done
            victim.spegel.kill()
            self.addCleanup(self._restart, victim)   # the later tests need every node
        finally:
            t.join(150)
        self.assertFalse(t.is_alive(), "the CRI pull did not end")
        print(f"      (c) killed {victim.name if victim else None} mid-transfer; pull took "
              f"{result.get('seconds', 0):.1f}s", flush=True)
        self.assertTrue(result.get("ok"), f"{result.get('error')}\n{self.c.logs()}")
        self.assertTrue(self.n3.has_blob(self.big_layer))

    def _restart(self, node):
        node.spegel.start()
        self.c.wait_members()

    # ---- (d) ---------------------------------------------------------------------------------

    def test_d_unknown_image_fails_fast(self):
        # node3: its containerd never talked to the upstream (it pulled only through peers), so
        # it holds no pooled keep-alive connection to it. (On node2, which pulled from the
        # upstream, containerd reuses such a connection to the dead upstream and waits ~20 s
        # for TCP to give up: containerd's cost, not Spegel's.)
        node = self.n3
        # Spegel's own answer for a manifest no node has: a 404 within the resolve budget
        url = node.registry_url(f"/v2/{self.z.name}/manifests/{self.z.tag}"
                                f"?ns={self.c.upstream_addr.replace(':', '%3A')}")
        r = node.http("HEAD", url, timeout=5.0)
        self.assertEqual(r.get("status"), 404, r)
        # containerd: mirror 404, then the cut upstream; it must give up, and soon
        mark = os.path.getsize(node.ctd.log_path)
        t0 = time.monotonic()
        res = util.run([cl.itimages.cri_bin(), "--address", node.ctd.socket, "pull",
                        self.z_tag], timeout=60, check=False)
        took = time.monotonic() - t0
        mirror_s = _mirror_seconds(node.ctd.log_path, mark)
        print(f"      (d) spegel 404 in {r['elapsed_ms']:.1f} ms; CRI pull gave up after "
              f"{took:.2f}s, of which the mirror (spegel) took "
              f"{'?' if mirror_s is None else f'{mirror_s * 1000:.1f} ms'} (exit "
              f"{res.returncode})", flush=True)
        self.assertNotEqual(res.returncode, 0, "a pull of an image nobody has succeeded")
        self.assertLess(r["elapsed_ms"], 1000.0)
        self.assertIsNotNone(mirror_s, "containerd's log shows no answer from the mirror")
        self.assertLess(mirror_s, 1.0)
        # ~3 s of this is the kernel giving up on ARP for the cut upstream (EHOSTUNREACH)
        self.assertLess(took, 5.0, res.stderr[-1000:])

    # ---- (e) ---------------------------------------------------------------------------------

    def test_e_delete_withdraws_within_ttl(self):
        key = self.x.top.digest
        self.c.wait_providers(self.n3, key, {"node1"})
        self.n1.cri_rmi(self.x_tag)
        t0 = time.monotonic()
        last = {}

        def gone():
            last["p"] = self.n3.providers(key)
            return "node1" not in last["p"]
        try:
            util.wait_until(gone, ANNOUNCE_TTL_S * 2 + 5, "node1 to leave the providers", 0.2)
        except TimeoutError as e:
            self.fail(f"{e}; last {last.get('p')}\n{self.c.logs()}")
        print(f"      (e) node1 withdrawn after {time.monotonic() - t0:.1f}s "
              f"(announce TTL {ANNOUNCE_TTL_S}s); providers now {sorted(last['p'])}", flush=True)
        self.assertIn("node2", last["p"], "node2 still holds X and must stay a provider")

    # ---- (f) ---------------------------------------------------------------------------------

    def test_f_restart_rejoins_and_serves(self):
        before = self.n1.metrics_json("/debug/members")
        self.n2.spegel.kill()
        self.n2.spegel.start()
        self.c.wait_members()
        after = self.n1.metrics_json("/debug/members")
        self.assertIn("node2", cl.node_ids(after))
        if "incarnation" in str(before):
            self.assertNotEqual(_incarnation(before, "node2"), _incarnation(after, "node2"),
                                f"node2 restarted but its incarnation did not change: {after}")
        # node2 is now the only holder of X (node1 deleted it in (e)): node3 drops X and pulls
        # it again, which only node2 can serve.
        self.n3.cri_rmi(self.x_tag)
        util.wait_until(lambda: not self.n3.has_blob(self.x.top.digest), 20.0,
                        "node3's containerd to collect X's manifest", 0.2)
        self.c.wait_providers(self.n3, self.x.top.digest, {"node2"})
        self.cri_pull_ok(self.n3, self.x_tag)
        self.assert_has_image(self.n3, self.x)


_CTD_TIME = re.compile(r'^time="([0-9T:.\-]+)Z"')


def _mirror_seconds(log_path, offset):
    """Seconds between containerd's first request to its mirror (127.0.0.1:5000) and the
    mirror's response, from containerd's debug log after `offset`; None if absent."""
    def ts(line):
        m = _CTD_TIME.match(line)
        if not m:
            return None
        whole, _, frac = m.group(1).partition(".")
        return datetime.datetime.fromisoformat(whole).timestamp() + float("0." + (frac or "0"))
    sent = got = None
    with open(log_path, "rb") as f:
        f.seek(offset)
        for line in f.read().decode("utf-8", "replace").splitlines():
            if 'host="127.0.0.1:5000"' not in line:
                continue
            if sent is None and 'msg="do request"' in line:
                sent = ts(line)
            elif sent is not None and 'msg="fetch response received"' in line:
                got = ts(line)
                break
    return None if sent is None or got is None else got - sent


def _incarnation(doc, node_id):
    """The incarnation listed for node_id in a /debug/members document, or None."""
    found = []

    def walk(v):
        if isinstance(v, dict):
            if node_id in (v.get("node_id"), v.get("id")) and "incarnation" in v:
                found.append(v["incarnation"])
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(doc)
    return found[0] if found else None


if __name__ == "__main__":
    unittest.main()
