"""The status page's measure (GET /debug/measure?image=REF on the metrics address): an image that
only another node holds is pulled through the peers, and every part names that node.

One cluster for the class: 3 nodes (DNS discovery); node1 pulls an image of a config and three
layers from the upstream, then the upstream's link goes down for good, so anything that arrives
came from a peer. node2 holds nothing of it.
"""

import html
import re
import unittest
import urllib.parse

from harness import browser as br
from harness import cluster as cl

_PART = re.compile(r'<tr class="part"><td>(?P<kind>[^<]*)</td><td class="mono">(?P<digest>[^<]*)'
                   r'</td><td class="source">(?P<source>[^<]*)</td><td class="n">(?P<size>[^<]*)'
                   r'</td>.*?<td>(?P<result>[^<]*)</td></tr>')


class MeasureTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.c = cl.Cluster(nodes=3)
        try:
            cls.c.start()
            cls.n1, cls.n2, cls.n3 = cls.c.nodes
            cls.img = cls.c.generate("measured", layer_sizes=(5000, 300_000, 2_000_000))
            cls.tag, _ = cls.c.push(cls.img)
            cls.tag_key = cls.tag  # registry/repository:tag, as announced
            cls.c.configure_spegels(dns=True)
            cls.c.start_spegels()
            cls.c.wait_members()
            cls.n1.cri_pull(cls.tag)
            cls.c.cut_upstream()
            layers = cls.img.platforms["linux/amd64"].layers
            cls.blobs = [cls.img.platforms["linux/amd64"].config.digest] + [l.digest for l in layers]

            # node2 finds node1 as the provider of the tag and of the last layer
            cls.c.wait_providers(cls.n2, cls.tag_key, {"node1"})
            cls.c.wait_providers(cls.n2, layers[-1].digest, {"node1"})
        except BaseException:
            cls.c.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def measure(self, node, query):
        r = node.http("GET", node.metrics_url("/debug/measure?" + query), timeout=70.0)
        return r.get("status"), r.get("body", "")

    def test_every_part_comes_from_the_node_that_holds_it(self):
        status, page = self.measure(self.n2, "image=" + urllib.parse.quote(self.tag, safe=""))
        self.assertEqual(status, 200, page[-2000:])
        parts = [m.groupdict() for m in _PART.finditer(page)]
        kinds = [p["kind"] for p in parts]
        self.assertEqual(kinds, ["manifest", "config", "layer", "layer", "layer"], page[-3000:])
        self.assertEqual([p["digest"] for p in parts[1:]], self.blobs)
        for p in parts:
            self.assertEqual(p["source"], "node1", p)
            self.assertTrue(p["result"].startswith("ok (200)"), p)
        self.assertIn("all from peers", page)
        self.assertIn(html.escape(self.tag, quote=True), page)  # the form keeps what was typed
        # The bytes were discarded: node2 still holds nothing of the image.
        self.assertFalse(any(self.n2.has_blob(d) for d in self.blobs))
        print(f"      [measure] node2 measured {self.tag}: "
              + ", ".join(f"{p['kind']} {p['size']} from {p['source']}" for p in parts))

    def test_bad_queries_and_unknown_images(self):
        status, page = self.measure(self.n2, "image=%zz")
        self.assertEqual(status, 400)
        self.assertIn("image", page)
        status, page = self.measure(self.n2, "image=" + urllib.parse.quote("Bad Name!"))
        self.assertEqual(status, 400)
        self.assertIn("Bad Name!", html.unescape(page))
        status, page = self.measure(self.n2, "")
        self.assertEqual(status, 200)
        self.assertIn('name="image"', page)
        # Held by no node: a 404 from the cluster, never the upstream (its link is down anyway).
        missing = self.tag.rsplit(":", 1)[0] + ":nobody-has-it"
        status, page = self.measure(self.n3, "image=" + urllib.parse.quote(missing, safe=""))
        self.assertEqual(status, 200)
        self.assertIn("Failed: the manifest did not arrive", page)
        self.assertIn("answered 404", page)

    def test_in_a_browser_on_loopback_only(self):
        """The measure page, loaded by a real Chromium in a namespace with nothing but loopback
        (relayed to node2's metrics port), lists node1 as every part's source."""
        web = br.LoopbackBrowser(self.c.prefix, self.n2.ns, cl.METRICS_PORT)
        self.addCleanup(web.close)
        web.start()
        dom = web.dump_dom("/debug/measure?image=" + urllib.parse.quote(self.tag, safe=""),
                           timeout=90.0)
        parts = [m.groupdict() for m in _PART.finditer(dom)]
        self.assertEqual([p["kind"] for p in parts],
                         ["manifest", "config", "layer", "layer", "layer"], dom[-3000:])
        self.assertEqual({p["source"] for p in parts}, {"node1"})
        self.assertIn("all from peers", dom)
        web.check_loopback_only()

    def test_the_status_page_offers_the_form(self):
        r = self.n2.http("GET", self.n2.metrics_url("/"))
        self.assertIn('<form action="/debug/measure" method="get">', r["body"])


if __name__ == "__main__":
    unittest.main()
