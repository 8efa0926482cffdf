"""Announcements bound to their sender (issue 29): a host on the segment that is no node, and
only reaches the router port and the mDNS group, cannot speak for node1.

Three nodes find each other by DNS and mDNS; node1 pulls an image and announces it. A forger in
a namespace of its own (10.213.x.60, no spegel) then sends, under node1's id:
  * hellos with a newer incarnation and with one far ahead of the clock;
  * an announce of a key node1 has (+key), one of a key it has not, and a withdrawal (-key);
  * a claim and a progress report;
  * an mDNS record with node1's incarnation and the forger's address, then its goodbye.
Every HTTP call must be refused with 409, and the mDNS record and goodbye ignored: node2 and
node3 still list node1 at node1's address with its incarnation, the owners still list node1 at
its address as the layer's provider, and node2 still pulls the image through the peers with the
upstream cut. Each refusal is counted (foreign_refused on /debug/members) and logged.
"""

import json
import os
import re
import time
import unittest
from urllib.parse import quote

from harness import cluster as cl
from harness import netns
from itharness import util

FORGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness", "mdns_forge.py")
FORGER_OCTET = 60


def member(node, node_id):
    for m in node.metrics_json("/debug/members")["members"]:
        if m["node_id"] == node_id:
            return m
    return None


def provider_addresses(node, key, node_id):
    doc = node.metrics_json("/debug/routing?key=" + quote(key, safe=""))
    return {p.get("address") for p in doc.get("providers", []) if p.get("node_id") == node_id}


class ForgingClientTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.c = cl.Cluster(nodes=3)
        try:
            cls.c.start()
            cls.n1, cls.n2, cls.n3 = cls.c.nodes
            cls.forger_ns = cls.c.segment.attach("fg", FORGER_OCTET, multicast=True)
            netns.assert_no_default_route(cls.forger_ns)
            cls.forger_ip = f"{cls.c.subnet}.{FORGER_OCTET}"
            cls.x = cls.c.generate("forge", layer_sizes=(4000, 120_000))
            cls.x_tag, cls.x_digest = cls.c.push(cls.x)
            cls.layer = cls.x.platforms["linux/amd64"].layers[1].digest
            cls.c.configure_spegels(dns=True, mdns=True)
            cls.c.start_spegels()
            cls.c.wait_members()
            cls.n1.cri_pull(cls.x_tag)
            cls.c.wait_providers(cls.n2, cls.layer, {"node1"})
            cls.before = {n.name: member(n, "node1") for n in (cls.n2, cls.n3)}
        except BaseException:
            cls.c.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def forge(self, node, path, body, headers=None):
        url = f"http://{node.ip}:{cl.ROUTER_PORT}{path}"
        r = netns.http(self.forger_ns, "POST", url, headers=headers or {}, data=body)
        self.assertNotIn("error", r, f"{path} to {node.name}: {r}")
        return r

    def test_forged_calls_are_refused_and_change_nothing(self):
        inc = self.before["node2"]["incarnation"]
        now_ms = int(time.time() * 1000)
        as_node1 = {"X-Spegel-Node": "node1", "X-Spegel-Registry-Port": str(cl.REGISTRY_PORT)}
        other_key = "sha256:" + "e" * 64
        calls = [
            ("hello, newer incarnation", "/cluster/v1/hello",
             f"id=node1\ninc={now_ms + 1000}\nregistry={cl.REGISTRY_PORT}\n"
             f"router={cl.ROUTER_PORT}\n", None),
            ("hello, far ahead of the clock", "/cluster/v1/hello",
             f"id=node1\ninc=99999999999999\nregistry={cl.REGISTRY_PORT}\n"
             f"router={cl.ROUTER_PORT}\n", None),
            ("announce of node1's key", "/cluster/v1/announce", f"ttl=600000\n+{self.layer}\n", as_node1),
            ("announce of another key", "/cluster/v1/announce", f"ttl=600000\n+{other_key}\n",
             as_node1),
            ("withdrawal", "/cluster/v1/announce", f"ttl=600000\n-{self.layer}\n", as_node1),
            ("claim", "/cluster/v1/claim", f"key={self.layer}\nserve=1\n", as_node1),
            ("progress", "/cluster/v1/progress", f"fetching 10 120000 {self.layer}\n", as_node1),
        ]
        for node in (self.n2, self.n3):
            for what, path, body, headers in calls:
                r = self.forge(node, path, body, headers)
                self.assertEqual(r["status"], 409, f"{what} to {node.name}: {r}")
        # mDNS: node1's incarnation at the forger's address for a few seconds, then a goodbye.
        res = netns.run_in(self.forger_ns, [netns.PYTHON, FORGE, self.forger_ip, "node1",
                                            str(inc), self.forger_ip, str(cl.REGISTRY_PORT),
                                            str(cl.ROUTER_PORT), "3"], timeout=60, check=False)
        out = json.loads(res.stdout or "{}")
        self.assertTrue(out.get("registered") and out.get("goodbye"), f"{out} {res.stderr[-500:]}")
        time.sleep(1.0)  # the goodbye has been multicast; give the nodes a moment to act on it
        for node in (self.n2, self.n3):
            m = member(node, "node1")
            self.assertIsNotNone(m, f"{node.name} dropped node1\n{self.c.logs()}")
            self.assertEqual(m["addresses"], [self.n1.ip], node.name)
            self.assertEqual(m["incarnation"], inc, node.name)
            self.assertNotIn(self.forger_ip, json.dumps(node.metrics_json("/debug/members")))
            refused = node.metrics_json("/debug/members")["self"]["foreign_refused"]
            # 5 router calls refused as foreign (the two hellos: one foreign, one not believed),
            # plus the mDNS record and its goodbye on a node that heard them.
            self.assertGreaterEqual(refused, 5, node.name)
            log = node.spegel.log_text()
            self.assertIn("refused a message naming a member from an address it is not bound to",
                          log)
            metrics = node.http("GET", node.metrics_url("/metrics"))["body"]
            m = re.search(r"^spegel_membership_refused_total (\d+)", metrics, re.M)
            self.assertIsNotNone(m, metrics[-2000:])
            self.assertEqual(int(m.group(1)), refused)
            self.assertEqual(node.metrics_json("/debug/status")["foreign_refused"], refused)
            page = node.http("GET", node.metrics_url("/"))["body"]
            self.assertIn('id="refused"', page)
        # Every owner that knows the layer still has node1 at node1's address, and only there.
        for node in (self.n2, self.n3):
            addrs = provider_addresses(node, self.layer, "node1")
            self.assertEqual(addrs, {self.n1.ip}, f"{node.name}: {addrs}")
        self.c.wait_providers(self.n2, self.layer, {"node1"})
        # The proof that matters: node2 still pulls through node1 with the upstream cut.
        self.c.cut_upstream()
        try:
            self.n2.cri_pull(self.x_tag)
        finally:
            self.c.restore_upstream()
        self.assertTrue(self.n2.has_blob(self.layer))
        print(f"      [forgery] {len(calls)} kinds of router call x 2 nodes refused with 409; "
              f"mDNS record and goodbye ignored; node2 pulled through node1")


if __name__ == "__main__":
    unittest.main()
