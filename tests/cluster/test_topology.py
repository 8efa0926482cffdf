"""The harness itself: namespaces without default routes, dnsmasq answering the headless name,
containerd in a node namespace pulling from the upstream through its hosts.toml, spegel ready
inside a namespace and reachable from another node. No cluster feature of spegel is needed."""

import unittest

from harness import cluster as cl
from harness import netns
from itharness import util


class TopologyTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.c = cl.Cluster(nodes=3).start()

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def test_no_default_route_anywhere(self):
        for ns in list(self.c.segment.hosts) + [self.c.segment.switch]:
            netns.assert_no_default_route(ns)
        # nsclient refuses to run in the root namespace (it has a default route)
        res = util.run([netns.PYTHON, netns.NSCLIENT, "request", "GET",
                        f"http://{self.c.nodes[0].ip}:5000/"], check=False)
        self.assertEqual(res.returncode, 3, res.stdout + res.stderr)
        self.assertIn("refused", res.stdout)

    def test_dns_answers_headless_name_with_every_node(self):
        want = sorted(n.ip for n in self.c.nodes)
        for n in self.c.nodes:
            r = netns.dns_query(n.ns, cl.HEADLESS_NAME, self.c.dns_ip)
            self.assertEqual(r.get("addresses"), want, r)
        r = netns.dns_query(self.c.nodes[0].ns, "nothing.test", self.c.dns_ip)
        self.assertEqual(r.get("addresses"), [], r)

    def test_containerd_in_namespace_pulls_upstream_through_hosts_toml(self):
        img = self.c.generate("topo", layer_sizes=(2000, 30000))
        tag_ref, _ = self.c.push(img)
        node = self.c.nodes[1]
        before = len(self.c.upstream_requests())
        node.cri_pull(tag_ref)   # no spegel on the node: the mirror refuses, the server serves
        for b in img.blobs_for_platform().values():
            self.assertTrue(node.has_blob(b.digest), b)
        served = self.c.upstream_requests()[before:]
        self.assertTrue(any(node.ip in ln for ln in served),
                        f"the upstream log shows no request from {node.ip}: {served}")

    def test_spegel_ready_inside_namespace(self):
        node = self.c.nodes[2]
        args = node.spegel_args() if cl.has_flag("--node-id") else \
            cl.itspegel.registry_args(node.ctd.socket, node.ctd.content_dir, ":5000",
                                      metrics_addr=":9090") + cl.itspegel.preflight_args(node.ctd)
        sp = cl.NodeSpegel(node, args)
        node.spegel = sp
        try:
            sp.start()
            # from another node, to this node's address
            r = netns.http(self.c.nodes[0].ns, "GET", node.registry_url("/readyz", ip=node.ip))
            self.assertEqual(r.get("status"), 200, r)
        finally:
            sp.stop()
            node.spegel = None


if __name__ == "__main__":
    unittest.main()
