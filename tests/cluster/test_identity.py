"""One notion of self (Membership::Classify): a node-id collision is seen and said.

Three nodes discovering each other by DNS; node3's spegel is started with node1's id
(`--node-id node1`, given last, wins). node1 and node3 then hear their own id from another
address with another incarnation (DNS hellos, router calls): that is a collision, not their own
looped-back message. Both must say so: an ERROR log line naming the other address and the fix,
spegel_node_id_collisions_total, /debug/status and /debug/members, and a notice on the status
page. node2 has no collision. Neither colliding node ever lists its own id as a member.
An explicit --node-id is never renamed: both keep it, and both nodes' own pulls still work.

DefaultIdCollisionTest: three nodes started without --node-id all take the host name (every
namespace here shares it). They must resolve it by themselves within RESOLVED_WITHIN_S: each moves
to the host name plus a machine-id suffix (the same here: one machine), collides again, and moves
to the host name plus its address. Then every node lists the other two under distinct ids, the
collisions were logged and counted, and with the upstream cut every node pulls every other's
image through the peers.
"""

import json
import re
import socket
import time
import unittest

from harness import cluster as cl
from itharness import util

SEEN_WITHIN_S = 15.0  # DNS refresh 1 s, hellos retried within seconds
RESOLVED_WITHIN_S = 30.0  # two renames, each seen within a DNS round and a hello


def collisions(node):
    return node.metrics_json("/debug/status")["node_id_collisions"]


class NodeIdCollisionTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.c = cl.Cluster(nodes=3)
        try:
            cls.c.start()
            cls.n1, cls.n2, cls.n3 = cls.c.nodes
            cls.n1.configure_spegel(dns=True)
            cls.n2.configure_spegel(dns=True)
            cls.n3.configure_spegel(dns=True, extra=("--node-id", "node1"))
            cls.c.start_spegels()
        except BaseException:
            cls.c.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def test_both_sides_see_and_say_the_collision(self):
        try:
            util.wait_until(lambda: collisions(self.n1) > 0 and collisions(self.n3) > 0,
                            SEEN_WITHIN_S, "node1 and node3 to see the collision", 0.3)
        except TimeoutError as e:
            self.fail(f"{e}\n{self.c.logs()}")
        for node, other in ((self.n1, self.n3), (self.n3, self.n1)):
            lines = [json.loads(line) for line in
                     node.spegel.log_text().splitlines() if "node id collision" in line]
            self.assertTrue(lines, node.name)
            self.assertEqual(lines[0]["level"], "ERROR")
            self.assertEqual(lines[0]["node_id"], "node1")
            self.assertIn("--node-id", lines[0]["msg"])
            self.assertIn(other.ip, {line["other_address"] for line in lines}, lines)
            # Rate-limited: one line per other address per minute, however many messages.
            per_address = {}
            for line in lines:
                per_address[line["other_address"]] = per_address.get(line["other_address"], 0) + 1
            self.assertTrue(all(n == 1 for n in per_address.values()), per_address)
            # The metric, /debug/members and the page say it too.
            metrics = node.http("GET", node.metrics_url("/metrics"))["body"]
            m = re.search(r"^spegel_node_id_collisions_total (\d+)", metrics, re.M)
            self.assertIsNotNone(m, metrics[-2000:])
            self.assertGreater(int(m.group(1)), 0)
            members = node.metrics_json("/debug/members")
            self.assertGreater(members["self"]["node_id_collisions"], 0)
            self.assertNotIn("node1", {x["node_id"] for x in members["members"]})
            page = node.http("GET", node.metrics_url("/"))["body"]
            self.assertIn('id="collision"', page)
            self.assertIn("Give each node its own --node-id", page)
        self.assertEqual(collisions(self.n2), 0)
        print(f"      [collision] node1 saw {collisions(self.n1)}, node3 saw {collisions(self.n3)}, "
              f"node2 0")

    def test_pulls_of_both_nodes_keep_working(self):
        for node, key in ((self.n1, "id-one"), (self.n3, "id-three")):
            image = self.c.generate(key, layer_sizes=(3000, 40_000))
            tag, _ = self.c.push(image)
            node.cri_pull(tag)
            self.assertTrue(node.has_blob(image.platforms["linux/amd64"].layers[1].digest))
        # Still both reported, neither renamed: an explicit id is kept.
        for node in (self.n1, self.n3):
            self.assertEqual(node.metrics_json("/debug/members")["self"]["node_id"], "node1")
            self.assertGreater(collisions(node), 0)


def self_id(node):
    return node.metrics_json("/debug/members")["self"]["node_id"]


class DefaultIdCollisionTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.c = cl.Cluster(nodes=3)
        try:
            cls.c.start()
            cls.images = [cls.c.generate(f"default-id-{i}", layer_sizes=(3000, 60_000))
                          for i in (1, 2, 3)]
            cls.refs = [cls.c.push(image)[0] for image in cls.images]
            cls.c.configure_spegels(dns=True, mdns=True, node_id=False)
            cls.started = time.monotonic()
            cls.c.start_spegels()
        except BaseException:
            cls.c.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def resolved(self):
        ids = [self_id(n) for n in self.c.nodes]
        if len(set(ids)) != 3:
            return None
        for node, own in zip(self.c.nodes, ids):
            if set(node.members()) != set(ids) - {own}:
                return None
        return ids

    def state(self):
        """Each node's id, members and log lines above DEBUG, for a failure message."""
        out = []
        for n in self.c.nodes:
            doc = n.metrics_json("/debug/members")
            out.append(f"--- {n.name} ({n.ip}) self={doc['self']} members={doc['members']}")
            out += [line for line in n.spegel.log_text().splitlines()
                    if '"level":"DEBUG"' not in line][-40:]
        return "\n".join(out)

    def test_a_three_nodes_on_one_host_name_form_a_cluster(self):
        host = socket.gethostname()
        try:
            ids = util.wait_until(self.resolved, RESOLVED_WITHIN_S,
                                  "three distinct ids and a full membership", 0.3)
        except TimeoutError as e:
            self.fail(f"{e}\n{self.state()}")
        took = time.monotonic() - self.started
        self.__class__.ids = ids
        renamed = 0
        for node, own in zip(self.c.nodes, ids):
            renames = node.metrics_json("/debug/members")["self"]["node_id_renames"]
            if renames == 0:
                self.assertEqual(own, host, node.name)  # kept the default: nobody else has it
                continue
            renamed += 1
            # Counted and logged at ERROR before it was resolved, and the move logged.
            self.assertGreater(collisions(node), 0, node.name)
            log = node.spegel.log_text()
            self.assertIn('"level":"ERROR","msg":"node id collision', log)
            self.assertIn("node id collision resolved", log)
            self.assertEqual(node.metrics_json("/debug/status")["node_id_renames"], renames)
            page = node.http("GET", node.metrics_url("/"))["body"]
            self.assertIn('id="renamed"', page)
            self.assertIn(own, page)
            if renames == 1:  # host name + machine-id suffix
                self.assertRegex(own, "^" + re.escape(host) + "-[0-9a-f]{8}$")
            else:  # one machine-id here: then host name + address
                self.assertEqual(renames, 2, node.name)
                self.assertEqual(own, f"{host}-{node.ip.replace('.', '-')}")
        # Of three nodes sharing one id, at most one can keep it.
        self.assertGreaterEqual(renamed, 2, ids)
        print(f"      [default ids] {ids} resolved {took:.1f}s after start "
              f"(bound {RESOLVED_WITHIN_S:.0f}s)")

    def test_b_every_node_pulls_every_other_image_through_the_peers(self):
        ids = getattr(self.__class__, "ids", None) or util.wait_until(
            self.resolved, RESOLVED_WITHIN_S, "distinct ids", 0.3)
        for node, ref in zip(self.c.nodes, self.refs):
            node.cri_pull(ref)
        for image, owner_id in zip(self.images, ids):
            layer = image.platforms["linux/amd64"].layers[1].digest
            for node in self.c.nodes:
                if self_id(node) != owner_id:
                    self.c.wait_providers(node, layer, {owner_id})
        self.c.cut_upstream()
        try:
            for i, node in enumerate(self.c.nodes):
                for j, ref in enumerate(self.refs):
                    if i != j:
                        node.cri_pull(ref)
        finally:
            self.c.restore_upstream()
        for node in self.c.nodes:
            for image in self.images:
                self.assertTrue(node.has_blob(image.platforms["linux/amd64"].layers[1].digest))


if __name__ == "__main__":
    unittest.main()
