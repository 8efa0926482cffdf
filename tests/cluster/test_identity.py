"""One notion of self (Membership::Classify): a node-id collision is seen and said.

Three nodes discovering each other by DNS; node3's spegel is started with node1's id
(`--node-id node1`, given last, wins). node1 and node3 then hear their own id from another
address with another incarnation (DNS hellos, router calls): that is a collision, not their own
looped-back message. Both must say so: an ERROR log line naming the other address and the fix,
spegel_node_id_collisions_total, /debug/status and /debug/members, and a notice on the status
page. node2 has no collision. Neither colliding node ever lists its own id as a member.
(How a collision is then resolved is the rest of issue 29.)
"""

import json
import re
import unittest

from harness import cluster as cl
from itharness import util

SEEN_WITHIN_S = 15.0  # DNS refresh 1 s, hellos retried within seconds


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


if __name__ == "__main__":
    unittest.main()
