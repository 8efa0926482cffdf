"""Static peers only, with a shared secret (issue 4, "Must show" 5 and the static source).

No DNS server, no multicast: every spegel gets `--static-bootstrap-peers` listing every node's
router address (its own included: a node must recognise itself) and the same
`--peer-secret-file`. Members must be found, a pull must go through a peer with the upstream cut,
and requests between nodes without a valid X-Spegel-Auth must be refused: router API calls, and
registry requests that claim to be peer fetches (X-Spegel-Mirrored: true).
"""

import os
import unittest
from urllib.parse import quote

from harness import cluster as cl
from itharness import util


class StaticPeersWithSecretTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        missing = [f for f in ("--static-bootstrap-peers", "--peer-secret-file")
                   if not cl.has_flag(f)]
        if missing:
            raise util.HarnessError(f"no {', '.join(missing)} in this build")
        cls.c = cl.Cluster(nodes=3, multicast=False, dns=False)
        try:
            cls.c.start()
            cls.n1, cls.n2, cls.n3 = cls.c.nodes
            cls.x = cls.c.generate("s", layer_sizes=(5000, 150_000))
            cls.x_tag, cls.x_digest = cls.c.push(cls.x)
            cls.layer = cls.x.platforms["linux/amd64"].layers[1].digest
            secret = os.path.join(cls.c.dir, "peer-secret")
            with open(secret, "w") as f:
                f.write(os.urandom(24).hex() + "\n")
            os.chmod(secret, 0o600)
            peers = ",".join(f"{n.ip}:{cl.ROUTER_PORT}" for n in cls.c.nodes)
            cls.c.configure_spegels(dns=False, mdns=False, extra=[
                "--static-bootstrap-peers", peers, "--peer-secret-file", secret,
                "--dns-refresh-interval", "1s"])
            cls.c.start_spegels()
            cls.c.wait_members()
            cls.n1.cri_pull(cls.x_tag)
            cls.c.cut_upstream()

            def announced():
                return "node1" in cls.n2.providers(cls.layer)
            util.wait_until(announced, 20.0, "node2 to find node1 as provider of the layer", 0.3)
        except BaseException:
            cls.c.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def test_static_peers_make_a_full_membership_without_self(self):
        for node in self.c.nodes:
            members = node.members()
            others = {n.name for n in self.c.nodes} - {node.name}
            self.assertEqual(members & {n.name for n in self.c.nodes}, others,
                             f"{node.name} lists {members}")

    def test_signed_peer_fetch_pulls_through_a_peer(self):
        try:
            self.n2.cri_pull(self.x_tag)
        except util.HarnessError as e:
            self.fail(f"pull on node2 failed: {e}\n{self.c.logs()}")
        for b in self.x.blobs_for_platform().values():
            self.assertTrue(self.n2.has_blob(b.digest), f"node2 lacks {b.digest}")

    def test_unsigned_router_calls_are_refused(self):
        base = f"http://{self.n1.ip}:{cl.ROUTER_PORT}"
        lookup = f"{base}/cluster/v1/lookup?key={quote(self.layer, safe='')}"
        r = self.n3.http("GET", lookup, timeout=3.0)
        self.assertEqual(r.get("status"), 401, r)
        bad = self.n3.http("GET", lookup, headers={"X-Spegel-Auth": "1:" + "0" * 64}, timeout=3.0)
        self.assertEqual(bad.get("status"), 401, bad)
        hello = self.n3.http("POST", f"{base}/cluster/v1/hello", timeout=3.0)
        self.assertEqual(hello.get("status"), 401, hello)
        announce = self.n3.http("POST", f"{base}/cluster/v1/announce", timeout=3.0,
                                headers={"X-Spegel-Node": "intruder",
                                         "X-Spegel-Registry-Port": "5000"})
        self.assertEqual(announce.get("status"), 401, announce)
        # The node keeps serving its peers: node3 still finds node1 through the signed API.
        self.assertIn("node1", self.n3.providers(self.layer))

    def test_unsigned_peer_fetch_is_refused(self):
        path = (f"/v2/{self.x.name}/blobs/{self.layer}?ns="
                f"{quote(self.c.upstream_addr, safe='')}")
        url = self.n1.registry_url(path, ip=self.n1.ip)
        r = self.n3.http("GET", url, headers={"X-Spegel-Mirrored": "true"}, timeout=3.0)
        self.assertEqual(r.get("status"), 401, r)
        # An ordinary client request (no peer header) is the registry's normal business.
        ok = self.n3.http("GET", url, timeout=5.0)
        self.assertEqual(ok.get("status"), 200, ok)
        self.assertEqual(ok.get("sha256"), self.layer, ok.get("headers"))


if __name__ == "__main__":
    unittest.main()
