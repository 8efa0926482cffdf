"""Membership by one source at a time (issue 4, "Must show" 1 b and 2).

mDNS only: no DNS server, no DNS flags, `--mdns-interfaces eth0` (multicast stays on the bridge
inside the test namespaces). DNS only: multicast off on every node's eth0 and no 224/4 route,
no mdns flag; dnsmasq answers spegel.test with every node. Either way every node must list the
others in /debug/members. A real mDNS client from Debian (python3-zeroconf; mdns-scan too) run
inside a node namespace must see the other nodes' `_spegel._tcp` instances.
"""

import json
import os
import time
import unittest

from harness import cluster as cl
from harness import netns
from itharness import util

BROWSE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness", "mdns_browse.py")
QU = os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness", "mdns_qu.py")


def _require(*flags):
    missing = [f for f in flags if not cl.has_flag(f)]
    if missing:
        raise util.HarnessError(f"{cl.itspegel.spegel_bin()} has no {', '.join(missing)}: the "
                                "cluster layer is not in this build")


class MdnsOnlyTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        _require("--node-id", "--mdns-interfaces")
        cls.c = cl.Cluster(nodes=3, multicast=True, dns=False)
        try:
            cls.c.start()
            cls.c.configure_spegels(dns=False, mdns=True)
            cls.c.start_spegels()
        except BaseException:
            cls.c.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def test_members_found_by_mdns(self):
        self.c.wait_members(timeout=20.0)

    def test_qu_question_gets_unicast_answers(self):
        # RFC 6762 §5.4: a question with the QU bit is answered by unicast to the querier. The
        # querier (a namespace of its own) never joins the group: it sees unicast replies only.
        self.c.wait_members(timeout=20.0)
        ns = self.c.segment.attach("qu", 70, multicast=True)
        netns.assert_no_default_route(ns)
        ip = f"{self.c.subnet}.70"
        got = {}
        for mode in ("qu", "qm"):
            res = netns.run_in(ns, [netns.PYTHON, QU, ip, mode, "2"], timeout=60, check=False)
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            got[mode] = json.loads(res.stdout)["replies"]
        self.assertEqual(sorted(r["from"] for r in got["qu"]), sorted(n.ip for n in self.c.nodes),
                         got)
        by_ip = {n.ip: n.name for n in self.c.nodes}
        for r in got["qu"]:
            self.assertEqual(r["ids"], [by_ip[r["from"]]], r)
        self.assertEqual(got["qm"], [], "a QM question is answered by multicast only")
        print(f"      [mdns QU] {len(got['qu'])} unicast answers to a QU question "
              f"({sorted(i for r in got['qu'] for i in r['ids'])}); 0 to a QM one")

    def test_zeroconf_sees_the_other_nodes(self):
        n1 = self.c.nodes[0]
        res = netns.run_in(n1.ns, [netns.PYTHON, BROWSE, n1.ip, "3"], timeout=60, check=False)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        seen = json.loads(res.stdout)
        by_id = {}
        for name, info in seen.items():
            self.assertIsNotNone(info, f"no SRV/TXT resolved for {name}: {seen}")
            by_id[info["txt"].get("id")] = (name, info)
        for node in self.c.nodes[1:]:
            self.assertIn(node.name, by_id, f"zeroconf in {n1.ns} saw {seen}")
            name, info = by_id[node.name]
            self.assertTrue(name.endswith("._spegel._tcp.local."), name)
            self.assertIn(node.ip, info["addresses"], info)
            self.assertEqual(info["port"], cl.REGISTRY_PORT, info)

    def test_mdns_scan_sees_the_service(self):
        n1 = self.c.nodes[0]
        res = netns.run_in(n1.ns, ["timeout", "4", "mdns-scan"], timeout=30, check=False)
        text = res.stdout + res.stderr
        for node in self.c.nodes[1:]:
            self.assertIn(f"{node.name}._spegel._tcp.local", text, text[-2000:])

    def test_stopped_node_says_goodbye(self):
        n3 = self.c.nodes[2]
        n3.spegel.stop()
        try:
            def dropped():
                return all("node3" not in n.members() for n in self.c.nodes[:2])
            util.wait_until(dropped, 10.0, "node1 and node2 to drop node3 after its goodbye", 0.2)
        finally:
            n3.spegel.start()
        self.c.wait_members()


class DnsOnlyTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        _require("--node-id", "--dns-bootstrap-domain", "--dns-resolvers")
        cls.c = cl.Cluster(nodes=3, multicast=False, dns=True)
        try:
            cls.c.start()
            cls.c.configure_spegels(dns=True, mdns=False)
            cls.c.start_spegels()
        except BaseException:
            cls.c.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def test_multicast_is_blocked(self):
        for n in self.c.nodes:
            link = netns.run_in(n.ns, ["ip", "link", "show", "eth0"]).stdout
            self.assertNotIn("MULTICAST", link.split(">")[0], link)
            routes = netns.run_in(n.ns, ["ip", "route", "show"]).stdout
            self.assertNotIn("224.0.0.0/4", routes)

    def test_members_found_by_dns(self):
        self.c.wait_members(timeout=20.0)
        queries = util.tail(self.c.dns_log, 20000)
        self.assertIn(f"query[A] {cl.HEADLESS_NAME}", queries)



class MdnsAndDnsTest(unittest.TestCase):
    """Both sources in one cluster (issue 31, item 5): every member is known through mDNS and
    through DNS, as one entry listing both sources, and with the upstream cut node2 and node3
    pull node1's image through the peers."""

    @classmethod
    def setUpClass(cls):
        _require("--mdns-interfaces", "--dns-bootstrap-domain")
        cls.c = cl.Cluster(nodes=3, multicast=True, dns=True)
        try:
            cls.c.start()
            cls.c.configure_spegels(dns=True, mdns=True)
            cls.c.start_spegels()
        except BaseException:
            cls.c.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def sources(self, node):
        return {m["node_id"]: set(m["sources"].split(","))
                for m in node.metrics_json("/debug/members")["members"]}

    def test_a_member_known_through_both_sources(self):
        self.c.wait_members(timeout=20.0)

        def both():
            seen = {n.name: self.sources(n) for n in self.c.nodes}
            ok = all(len(v) == 2 and all({"mdns", "dns"} <= s for s in v.values())
                     for v in seen.values())
            return seen if ok else None
        seen = util.wait_until(both, 20.0, "every member known through mDNS and DNS", 0.3)
        print(f"      [mdns+dns] sources per member: "
              f"{ {k: {i: sorted(s) for i, s in v.items()} for k, v in seen.items()} }")
        image = self.c.generate("both-sources", layer_sizes=(3000, 50_000))
        tag, _ = self.c.push(image)
        self.c.nodes[0].cri_pull(tag)
        layer = image.platforms["linux/amd64"].layers[1].digest
        for n in self.c.nodes[1:]:
            self.c.wait_providers(n, layer, {"node1"})
        self.c.cut_upstream()
        try:
            for n in self.c.nodes[1:]:
                n.cri_pull(tag)
                self.assertTrue(n.has_blob(layer), n.name)
        finally:
            self.c.restore_upstream()



class MdnsAddressChangeTest(unittest.TestCase):
    """An address that changes at run time (DHCP at the edge; issue 31, item 5): node3's eth0
    gets a new address and loses its old one. Its mDNS agent reads the interfaces again every
    5 s, announces the new address under a new incarnation; node1 and node2 ask the old address
    (no answer), move node3 to the new one and forget the old one, within CHANGE_BOUND_S. node3
    announces its keys again from there, and with the upstream cut node1 pulls node3's image
    through it."""
    CHANGE_BOUND_S = 20.0  # address check 5 s + announcement + a probe of the old address

    @classmethod
    def setUpClass(cls):
        _require("--mdns-interfaces")
        cls.c = cl.Cluster(nodes=3, multicast=True, dns=False)
        try:
            cls.c.start()
            cls.c.configure_spegels(dns=False, mdns=True)
            cls.c.start_spegels()
        except BaseException:
            cls.c.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def addresses_of(self, node, node_id):
        for m in node.metrics_json("/debug/members")["members"]:
            if m["node_id"] == node_id:
                return m["addresses"]
        return None

    def test_a_new_address_is_announced_and_the_old_one_withdrawn(self):
        n1, n2, n3 = self.c.nodes
        self.c.wait_members(timeout=20.0)
        image = self.c.generate("moved", layer_sizes=(3000, 60_000))
        tag, _ = self.c.push(image)
        n3.cri_pull(tag)
        layer = image.platforms["linux/amd64"].layers[1].digest
        self.c.wait_providers(n1, layer, {"node3"})
        old, new = n3.ip, f"{self.c.subnet}.33"
        # As a DHCP client does: the old lease goes, the new one comes (deleting a primary
        # address after adding a second one would take both: no promote_secondaries here).
        netns.run_in(n3.ns, ["ip", "addr", "del", f"{old}/24", "dev", "eth0"])
        netns.run_in(n3.ns, ["ip", "addr", "add", f"{new}/24", "dev", "eth0"])
        t0 = time.monotonic()

        def moved():
            seen = {n.name: self.addresses_of(n, "node3") for n in (n1, n2)}
            return seen if all(v == [new] for v in seen.values()) else None
        try:
            util.wait_until(moved, self.CHANGE_BOUND_S, "node3 at its new address everywhere", 0.3)
        except TimeoutError as e:
            self.fail(f"{e}\n{self.c.logs()}")
        took = time.monotonic() - t0

        def provider_at_new():
            doc = n1.metrics_json("/debug/routing?key=" + layer)
            found = [p for p in doc.get("providers", [])
                     if p.get("node_id") == "node3"]
            return found if found and all(p.get("address") == new for p in found) else None
        util.wait_until(provider_at_new, 20.0, "node3's entry at its new address", 0.3)
        self.c.cut_upstream()
        try:
            n1.cri_pull(tag)
        finally:
            self.c.restore_upstream()
        self.assertTrue(n1.has_blob(layer))
        print(f"      [address change] node3 {old} -> {new}: every member lists only the new "
              f"address {took:.1f}s after the change (bound {self.CHANGE_BOUND_S:.0f}s); node1 "
              f"pulled node3's image through it with the upstream cut")


if __name__ == "__main__":
    unittest.main()
