"""Upstream Spegel's HTTP bootstrap (issue 13, part 2): no DNS, no multicast, no static peers.

node1 serves `GET /id` on --http-bootstrap-addr; node2 and node3 are started the way an upstream
user starts them, with `--bootstrap-kind http --http-bootstrap-url http://<node1>:5002/id`. Every
node must list the others: node2 and node3 learn of each other from node1's /id, which lists node1
first and then its members. The document must be upstream's AddrInfo JSON. A pull then goes through the peers as with any other discovery.
"""

import json
import unittest

from harness import cluster as cl
from itharness import util

BOOTSTRAP_PORT = 5002


class HttpBootstrapTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not cl.has_flag("--http-bootstrap-url"):
            raise util.HarnessError(f"{cl.itspegel.spegel_bin()} has no --http-bootstrap-url")
        cls.c = cl.Cluster(nodes=3, multicast=False, dns=False)
        try:
            cls.c.start()
            n1 = cls.c.nodes[0]
            n1.configure_spegel(dns=False, extra=("--bootstrap-kind", "http",
                                                  "--http-bootstrap-addr", f":{BOOTSTRAP_PORT}"))
            url = f"http://{n1.ip}:{BOOTSTRAP_PORT}/id"
            for n in cls.c.nodes[1:]:
                n.configure_spegel(dns=False, extra=("--bootstrap-kind", "http",
                                                     "--http-bootstrap-url", url,
                                                     "--dns-refresh-interval", "1s"))
            cls.c.start_spegels()
            cls.image = cls.c.generate("boot", layer_sizes=(1 << 20,))
            cls.tag, _ = cls.c.push(cls.image)
        except BaseException:
            cls.c.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def test_a_id_is_upstreams_addrinfo_document(self):
        n1, n2 = self.c.nodes[0], self.c.nodes[1]
        r = n2.http("GET", f"http://{n1.ip}:{BOOTSTRAP_PORT}/id")
        self.assertEqual(r.get("status"), 200, r)
        doc = json.loads(r["body"])
        self.assertIsInstance(doc, list)
        self.assertEqual(doc[0], {"ID": "node1", "Addrs": [f"/ip4/{n1.ip}/tcp/{cl.ROUTER_PORT}"]})
        self.c.wait_members(timeout=30.0)
        doc = json.loads(n2.http("GET", f"http://{n1.ip}:{BOOTSTRAP_PORT}/id")["body"])
        self.assertEqual({e["ID"]: e["Addrs"] for e in doc[1:]},
                         {n.name: [f"/ip4/{n.ip}/tcp/{cl.ROUTER_PORT}"] for n in self.c.nodes[1:]})
        self.assertEqual(n2.http("GET", f"http://{n1.ip}:{BOOTSTRAP_PORT}/other").get("status"),
                         404)

    def test_b_every_node_finds_the_others(self):
        self.c.wait_members(timeout=30.0)
        for n in self.c.nodes[1:]:
            doc = n.metrics_json("/debug/members")
            node1 = [m for m in doc["members"] if m["node_id"] == "node1"]
            self.assertEqual(len(node1), 1, doc)
            self.assertIn("http", node1[0]["sources"], doc)

    def test_c_a_pull_goes_through_the_peers(self):
        self.c.wait_members(timeout=30.0)
        n1, n2 = self.c.nodes[0], self.c.nodes[1]
        n1.cri_pull(self.tag)
        layer = self.image.platforms["linux/amd64"].layers[0]
        util.wait_until(lambda: "node1" in n2.providers(layer.digest), 20.0,
                        "node1's layer to be announced", 0.2)
        self.c.cut_upstream()
        try:
            n2.cri_pull(self.tag)
        finally:
            self.c.restore_upstream()
        self.assertTrue(n2.has_blob(layer.digest))


if __name__ == "__main__":
    unittest.main()
