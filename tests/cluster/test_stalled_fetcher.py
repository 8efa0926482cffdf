"""A stalled fake fetcher costs a pull seconds, never the pull (issue 30, row 3).

Three nodes find each other by DNS. An outsider in a namespace of its own (10.213.x.61, no
spegel, no peer secret in this cluster) first claims a key without saying hello: declined, since
only members take part in coalescing. Then harness/fake_fetcher.py, run inside its namespace,
says hello to every node from its own address (a member: its address is on the nodes' static
list, a configured source), claims every key of a fresh
image at every node (so at each key's claim owner it is the fetcher), reports false progress for
all of them every second, and answers every GET it is sent with a head and 10 bytes, then holds.

node2 then pulls the image with the upstream up. Its followers' streams from the outsider stall;
they end their containerd's response cleanly, avoid the outsider for that key, and name it in the
next claim; nobody confirms the outsider's progress, so the owner bans it (it never gets the
claim back, however often it claims again) and node2's containerd goes upstream with its Range.
The pull must succeed within PULL_BOUND_S (containerd's own timeouts are minutes; before the fix
it failed after about 23 s), every blob must be committed intact, and node3's pull afterwards
too.
"""

import json
import os
import time
import unittest

from harness import cluster as cl
from harness import netns
from itharness import util

FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness", "fake_fetcher.py")
FAKE_OCTET = 61
FAKE_ID = "fake-fetcher"
PULL_BOUND_S = 60.0


def _require_inflight_build():
    if not cl.has_flag("--inflight-sharing"):
        raise util.HarnessError(f"{cl.itspegel.spegel_bin()} has no --inflight-sharing")


class StalledFakeFetcherTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        _require_inflight_build()
        cls.c = cl.Cluster(nodes=3)
        cls.fake = None
        try:
            cls.c.start()
            cls.n1, cls.n2, cls.n3 = cls.c.nodes
            cls.img = cls.c.generate("stalled", layer_sizes=(3 << 20, 3 << 20), compresslevel=0)
            cls.tag, _ = cls.c.push(cls.img)
            cls.keys = sorted(cls.img.blobs_for_platform())
            # The outsider's address is on every node's static list: a configured source names
            # it, so its hello is taken (a member gone bad; a stranger's hello gets 403).
            cls.fake_ip = f"{cls.c.subnet}.{FAKE_OCTET}"
            cls.c.configure_spegels(dns=True, extra=(
                "--mirror-claim-timeout", "1s",
                "--static-bootstrap-peers", f"{cls.fake_ip}:{cl.ROUTER_PORT}"))
            cls.c.start_spegels()
            cls.c.wait_members()
            cls.fake_ns = cls.c.segment.attach("fk", FAKE_OCTET, multicast=False)
            netns.assert_no_default_route(cls.fake_ns)
        except BaseException:
            cls.c.close()
            raise

    @classmethod
    def tearDownClass(cls):
        util.stop_process(cls.fake, term_timeout=5.0)
        cls.c.close()

    def fake_events(self):
        try:
            with open(self.fake_out) as f:
                return [json.loads(ln) for ln in f if ln.strip().startswith("{")]
        except OSError:
            return []

    def start_fake(self):
        self.fake_out = os.path.join(self.c.dir, "fake_fetcher.out")
        log = os.path.join(self.c.dir, "fake_fetcher.log")
        argv = [netns.PYTHON, FAKE, self.fake_ip, FAKE_ID,
                os.path.join(self.img.layout_dir, "blobs", "sha256"),
                ",".join(n.ip for n in self.c.nodes), ",".join(self.keys),
                "--registry-port", str(cl.REGISTRY_PORT), "--router-port", str(cl.ROUTER_PORT)]
        type(self).fake = util.start_process(netns.exec_prefix(self.fake_ns) + argv, log,
                                             stdout_path=self.fake_out)

        def claimed():
            if self.fake.poll() is not None:
                raise util.HarnessError(f"fake fetcher exited:\n{util.tail(log)}")
            return any("claims_done" in e for e in self.fake_events())
        util.wait_until(claimed, 30.0, "the fake fetcher's claims", 0.1)

    def claim_stats(self):
        out = {}
        for n in self.c.nodes:
            for k, v in n.metrics_json("/debug/routing").get("claims", {}).items():
                out[k] = out.get(k, 0) + v
        return out

    def test_a_stalled_fake_fetcher_costs_seconds_not_the_pull(self):
        # A stranger's claim is declined: only members fetch or serve.
        r = netns.http(self.fake_ns, "POST", f"http://{self.n1.ip}:{cl.ROUTER_PORT}/cluster/v1/claim",
                       headers={"X-Spegel-Node": FAKE_ID,
                                "X-Spegel-Registry-Port": str(cl.REGISTRY_PORT)},
                       data=f"key={self.keys[0]}\nserve=1\n")
        self.assertEqual((r.get("status"), r.get("body", "").split("\n")[0]), (200, "decline"), r)

        self.start_fake()
        events = self.fake_events()
        hellos = [e for e in events if "hello" in e]
        self.assertEqual([e["status"] for e in hellos], [200] * 3, hellos)
        fetch_at = {e["claim"] for e in events if e.get("answer") == "fetch"}
        self.assertEqual(fetch_at, set(self.keys), [e for e in events if "claim" in e])
        for n in self.c.nodes:
            self.assertIn(FAKE_ID, n.members(), n.name)
        time.sleep(1.5)  # its false progress has reached every node at least once

        t0 = time.monotonic()
        self.n2.cri_pull(self.tag, timeout=PULL_BOUND_S + 60)
        took = time.monotonic() - t0
        events = self.fake_events()
        served = [e for e in events if "served" in e]
        stats = self.claim_stats()
        self.assertLess(took, PULL_BOUND_S, f"{self.c.logs(max_bytes=4000)}")
        for b in self.img.blobs_for_platform().values():
            self.assertTrue(self.n2.has_blob(b.digest), f"node2 lacks {b.kind} {b.digest}")
            self.assertEqual("sha256:" + cl.sha256_file(self.n2.ctd.blob_path(b.digest)), b.digest)
        # The outsider was really read from, and lost its claims for good.
        self.assertTrue(served, f"nobody read from the fake fetcher\n{self.c.logs(max_bytes=3000)}")
        self.assertGreaterEqual(stats.get("banned", 0), 1, stats)
        reclaims = [e["reclaim"] for e in events if "reclaim" in e]
        self.assertNotIn("fetch", reclaims, reclaims)
        log = self.n2.spegel.log_text()
        self.assertIn("source avoided for this key", log)
        print(f"      [stalled fake fetcher] node2's pull took {took:.1f}s (bound "
              f"{PULL_BOUND_S:.0f}s); the fake served {len(served)} GETs; owners' claims "
              f"{ {k: stats.get(k, 0) for k in ('complaints', 'banned', 'revoked', 'strangers')} }; "
              f"its claims again after revocation: {sorted(set(reclaims)) or 'none'}")

        # Another node's pull goes on without it.
        t0 = time.monotonic()
        self.n3.cri_pull(self.tag, timeout=PULL_BOUND_S + 60)
        took3 = time.monotonic() - t0
        self.assertLess(took3, PULL_BOUND_S, f"{self.c.logs(max_bytes=4000)}")
        for b in self.img.blobs_for_platform().values():
            self.assertTrue(self.n3.has_blob(b.digest), f"node3 lacks {b.kind} {b.digest}")
        print(f"      [stalled fake fetcher] node3's pull afterwards took {took3:.1f}s; the fake "
              f"served {len([e for e in self.fake_events() if 'served' in e]) - len(served)} "
              f"more GETs")


if __name__ == "__main__":
    unittest.main()
