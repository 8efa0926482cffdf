"""The status page and the access log, on a cluster that has just pulled through a peer.

One cluster for the class: 3 nodes discovering each other by DNS, spegel at DEBUG (one `request`
log line per registry request). setUpClass: node1 pulls A from the upstream; once node2 finds
node1 for A's tag and every blob, node2 pulls A (every manifest and blob from node1) and B
(pushed, held by nobody: spegel answers 404 and containerd goes upstream).

(a) node2's access log has exactly one `request` line per registry request its containerd made
    to the mirror (containerd's own fetch log), with the status containerd received; A's come
    from the peer node1 with the blobs' exact sizes, B's are 404 with source none and went
    upstream (and the upstream's own log never served A); node1 logged the peer requests it
    served (source local, peer_request true); no line for /readyz or /livez.
(b) node2's status page, loaded by Debian's Chromium (--dump-dom, then --screenshot) in a
    namespace whose only interface is lo, bridged to node2's metrics port through a unix socket
    (harness/browser.py): the browser asked for the page alone; readiness badge; members node1-3
    with node2 as self; one chart step per /debug/status history point, whose counts add up to
    the totals; the pulls table row for row against recent_pulls, A's as "peer (node1)"; the
    `saved` card equal to the totals' bytes in the page's units (and to A's size); the
    screenshot a PNG (SCREENSHOT_SIZE), kept as an artifact under build/test-logs/status-page/
    ($SPEGEL_TEST_LOGS/status-page/; path printed).
"""

import collections
import json
import os
import re
import unittest
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

from harness import browser as br
from harness import cluster as cl
from itharness import containerd as itcontainerd
from itharness import util

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCREENSHOT_SIZE = (1100, 1400)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _require_cluster_build():
    missing = [f for f in ("--node-id", "--dns-bootstrap-domain", "--router-addr")
               if not cl.has_flag(f)]
    if missing:
        raise util.HarnessError(f"{cl.itspegel.spegel_bin()} has no {', '.join(missing)}: the "
                                "cluster layer is not in this build")


def request_lines(text):
    """The parsed JSON `request` lines of a spegel log."""
    out = []
    for ln in text.splitlines():
        if '"msg":"request"' not in ln:
            continue
        try:
            doc = json.loads(ln)
        except ValueError:
            continue
        if doc.get("msg") == "request":
            out.append(doc)
    return out


def human_bytes(n):
    """metrics/status_page.cc HumanBytes, independently: B below 1 KiB, then KiB/MiB/GiB/TiB
    with 2, 1 or 0 decimals below 10, 100 and above."""
    if n < 1024:
        return f"{n} B"
    v, unit = n / 1024.0, 0
    units = ["KiB", "MiB", "GiB", "TiB"]
    while v >= 1024.0 and unit + 1 < len(units):
        v /= 1024.0
        unit += 1
    digits = 2 if v < 10 else (1 if v < 100 else 0)
    return f"{v:.{digits}f} {units[unit]}"


class StatusPageTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        _require_cluster_build()
        cls.c = cl.Cluster(nodes=3)
        try:
            cls.c.start()
            cls.n1, cls.n2, cls.n3 = cls.c.nodes
            cls.a = cls.c.generate("sp-a", layer_sizes=(3000, 300_000))
            cls.b = cls.c.generate("sp-b", layer_sizes=(5000,))
            cls.a_tag, _ = cls.c.push(cls.a)
            cls.b_tag, _ = cls.c.push(cls.b)
            cls.c.configure_spegels(dns=True)   # registry_args: --log-level DEBUG
            cls.c.start_spegels()
            cls.c.wait_members()
            cls.n1.cri_pull(cls.a_tag)
            # node2 finds node1 for A's tag and every blob: no request of A goes upstream
            cls.c.wait_providers(cls.n2, cls.a_tag, {"node1"})
            for blob in cls.a.blobs_for_platform().values():
                cls.c.wait_providers(cls.n2, blob.digest, {"node1"})
            # what node2's containerd and node1's and node2's spegel log from here on
            cls.ctd2_mark = len(cls.n2.ctd.log_text())
            cls.log_mark = {n.name: len(n.spegel.log_text()) for n in cls.c.nodes}
            cls.upstream_mark = len(cls.c.upstream_requests())
            cls.n2.cri_pull(cls.a_tag)
            cls.n2.cri_pull(cls.b_tag)
            # the probes that must not be logged as registry requests
            for node in (cls.n1, cls.n2):
                for path in ("/readyz", "/livez"):
                    if node.registry_status(path) != 200:
                        raise util.HarnessError(f"{node.name} {path} is not 200")
        except BaseException:
            cls.c.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def requests_since_mark(self, node):
        return request_lines(node.spegel.log_text()[self.log_mark[node.name]:])

    # ---- (a) ---------------------------------------------------------------------------------

    def test_a_access_log_has_one_line_per_containerd_request(self):
        fetched = itcontainerd.fetch_responses(self.n2.ctd.log_text()[self.ctd2_mark:])
        mirror = [(u, s) for u, s in fetched if u.startswith("http://127.0.0.1:5000/v2/")]
        upstream = [(u, s) for u, s in fetched if u.startswith(f"http://{self.c.upstream_addr}/")]
        self.assertEqual(len(mirror) + len(upstream), len(fetched), fetched)
        self.assertTrue(mirror, f"node2's containerd logged no request to its mirror: {fetched}")

        # containerd logs a response when its headers arrive; spegel logs the request when its
        # last byte is out: wait (bounded) until the counts can match
        def own_lines():
            lines = [r for r in self.requests_since_mark(self.n2) if not r["peer_request"]]
            return len(lines) >= len(mirror)
        try:
            util.wait_until(own_lines, 5.0, "node2's request lines", 0.1)
        except TimeoutError:
            pass  # the comparison below says what is missing
        n2_all = self.requests_since_mark(self.n2)
        n1_all = self.requests_since_mark(self.n1)
        dump = ("node2:\n" + "\n".join(json.dumps(r) for r in n2_all) + "\nnode1:\n" +
                "\n".join(json.dumps(r) for r in n1_all))
        n2_lines = [r for r in n2_all if not r["peer_request"]]
        self.assertEqual([r for r in n2_all if r["peer_request"]], [],
                         f"nobody fetched from node2\n{dump}")

        # 1. one line per request containerd made to its mirror, with the status it received
        def url_key(url, status):
            u = urlsplit(url)
            return u.path, parse_qs(u.query).get("ns", [""])[0], int(status.split()[0])
        want = collections.Counter(url_key(u, s) for u, s in mirror)
        got = collections.Counter((r["path"], r["ns"], r["status"]) for r in n2_lines)
        self.assertEqual(got, want, f"node2's request lines vs containerd's mirror requests\n"
                         f"containerd: {mirror}\n{dump}")
        for r in n2_lines:
            self.assertEqual(r["ns"], self.c.upstream_addr, r)
            self.assertTrue(r["complete"], r)
            self.assertIn(r["method"], ("GET", "HEAD"), r)

        # 2. image A (node1 has it): every request from the peer node1, with the exact sizes
        sizes = {b.digest: b.size for b in self.a.blobs_for_platform().values()}
        a_lines = [r for r in n2_lines if r["path"].startswith(f"/v2/{self.a.name}/")]
        self.assertTrue(a_lines, dump)
        for r in a_lines:
            self.assertEqual((r["status"], r["source"], r["peer"]), (200, "peer", "node1"), r)
            digest = r["path"].rsplit("/", 1)[1]
            if r["method"] == "GET":
                self.assertEqual(r["bytes"], sizes.get(digest), r)
            else:
                self.assertEqual(r["bytes"], 0, r)
        got_a = {r["path"].rsplit("/", 1)[1] for r in a_lines if r["method"] == "GET"}
        self.assertEqual(got_a, set(sizes), f"node2 GETs of A\n{dump}")
        self.assertEqual([u for u, _ in upstream if f"/{self.a.name}/" in u], [],
                         "node2's containerd went upstream for A")
        served = self.c.upstream_requests()[self.upstream_mark:]   # docker-registry's own log
        self.assertEqual([ln for ln in served if f"/v2/{self.a.name}/" in ln], [],
                         "the upstream served A after node1 had it")
        self.assertTrue(any(f"/v2/{self.b.name}/" in ln for ln in served), served)

        # 3. image B (nobody has it): 404, source none, and containerd went upstream for each
        b_lines = [r for r in n2_lines if r["path"].startswith(f"/v2/{self.b.name}/")]
        self.assertEqual(len(a_lines) + len(b_lines), len(n2_lines), dump)
        self.assertTrue(b_lines, dump)
        self.assertEqual(b_lines[0]["method"], "HEAD", b_lines[0])   # the tag, resolved first
        self.assertTrue(b_lines[0]["path"].endswith(f"/manifests/{self.b.tag}"), b_lines[0])
        for r in b_lines:
            self.assertEqual((r["status"], r["source"], r["peer"]), (404, "none", ""), r)
        self.assertEqual(sorted(urlsplit(u).path for u, _ in upstream),
                         sorted(r["path"] for r in b_lines),
                         "every request node2's spegel answered 404 went upstream, no other")

        # 4. node1 served what node2 fetched from it: peer requests, from its own store
        n1_peer = [r for r in n1_all if r["peer_request"]]
        self.assertEqual([r for r in n1_all if not r["peer_request"]], [],
                         f"node1's containerd pulled nothing after the mark\n{dump}")
        self.assertEqual(collections.Counter((r["path"], r["ns"]) for r in n1_peer),
                         collections.Counter((r["path"], r["ns"]) for r in a_lines),
                         f"node1's peer requests vs node2's lines from node1\n{dump}")
        for r in n1_peer:
            self.assertEqual((r["status"], r["source"], r["peer"], r["complete"]),
                             (200, "local", "", True), r)
        for r in a_lines:
            if r["method"] == "GET":
                served = [x for x in n1_peer if x["path"] == r["path"] and x["method"] == "GET"]
                self.assertTrue(served and all(x["bytes"] == r["bytes"] for x in served),
                                f"{r} vs node1's {served}")

        # 5. probes are not registry requests: none in any log, from its start
        for node in self.c.nodes:
            probes = [r for r in request_lines(node.spegel.log_text())
                      if r.get("path", "").split("?")[0] in ("/readyz", "/livez")]
            self.assertEqual(probes, [], f"{node.name} logged probes as requests")
        print(f"      (a) node2: {len(n2_lines)} request lines = containerd's {len(mirror)} "
              f"mirror requests ({len(a_lines)} of A from peer node1, {len(b_lines)} of B 404 "
              f"-> {len(upstream)} upstream); node1: {len(n1_peer)} peer requests served local",
              flush=True)

    # ---- (b) ---------------------------------------------------------------------------------

    def test_b_status_page_in_a_browser_on_loopback_only(self):
        web = br.LoopbackBrowser(self.c.prefix, self.n2.ns, cl.METRICS_PORT)
        self.addCleanup(web.close)
        web.start()
        r = web.http("GET", "/debug/status", timeout=5.0)   # the relays carry HTTP
        self.assertEqual(r.get("status"), 200, r)
        self.assertEqual(json.loads(r["body"])["node_id"], "node2")

        # a chart with closed steps behind the open one: the pulls' step has closed
        util.wait_until(lambda: len(self.n2.metrics_json("/debug/status")["history"]["points"])
                        >= 3, 35.0, "node2's history to have 3 points", 0.5)
        conns_before = len(web.relay_connections())
        dom = web.dump_dom("/")
        # Fetched right after the DOM: the newest history point is the step still open (its
        # end is "now"); if a 10 s step closed between the two fetches, the JSON has one more.
        st = self.n2.metrics_json("/debug/status")
        web.check_loopback_only()  # still nothing but lo after the browser ran
        doc = parse_html(dom)
        where = f"\nDOM:\n{dom[:6000]}\n/debug/status: {json.dumps(st)[:4000]}"

        # what the browser asked for: the page alone (and maybe the favicon), nothing else
        asked = [ln.split(": ", 1)[1] for ln in web.relay_connections()[conns_before:]]
        asked = [a for a in asked if a]   # preconnected sockets send nothing
        self.assertIn("GET / HTTP/1.1", asked, web.relay_connections())
        self.assertEqual([a for a in asked if a not in ("GET / HTTP/1.1",
                                                        "GET /favicon.ico HTTP/1.1")], [])

        self.assertEqual(text(by_id(doc, "ready")), "ready" if st["ready"] else "not ready")
        self.assertTrue(st["ready"], st["not_ready"])

        # members: node2 (self) first, then the others
        rows = find_all(by_id(doc, "members"), lambda e: e.tag == "tr" and
                        "member" in e.attrs.get("class", "").split())
        self.assertEqual(rows[0].attrs.get("class"), "member self", where)
        names = [text(find_all(row, lambda e: e.tag == "td")[0]).split()[0] for row in rows]
        self.assertEqual(names[0], "node2", where)
        self.assertEqual(sorted(names), ["node1", "node2", "node3"], where)
        self.assertEqual(sorted(m["node_id"] for m in st["members"]), ["node1", "node3"])

        # the chart: one <g class="step"> per history point
        svg = by_id(doc, "traffic")
        self.assertEqual(svg.tag, "svg")
        steps = find_all(svg, lambda e: e.tag == "g" and e.attrs.get("class") == "step")
        self.assertEqual(len(steps), dom.count('<g class="step"'))
        points = st["history"]["points"]
        self.assertEqual(st["history"]["step_seconds"], 10)
        self.assertIn(len(points) - len(steps), (0, 1), f"{len(steps)} steps, {len(points)} "
                      f"points{where}")
        ends = [int(g.attrs["data-end"]) for g in steps]
        # the closed steps are the same; the open one ends at its fetch time
        self.assertEqual(ends[:-1], [p["end_unix_s"] for p in points][:len(ends) - 1], where)
        self.assertLessEqual(ends[-1], points[-1]["end_unix_s"])
        # every step's tooltip counts its requests; together they are the totals
        series = {"local": "served here", "peer": "from a peer", "inflight":
                  "from an in-flight copy", "not_found": "not found (to upstream)"}
        for field, label in series.items():
            counted = 0
            for g in steps:
                m = re.search(r"(\d+) " + re.escape(label),
                              text(find_all(g, lambda e: e.tag == "title")[0]))
                self.assertIsNotNone(m, f"step {g.attrs} has no count for {label}")
                counted += int(m.group(1))
            self.assertEqual(counted, st["totals"][field], f"{field} over the chart's steps")
            self.assertEqual(sum(p["delta"][field] for p in points), st["totals"][field])
        self.assertGreater(st["totals"]["peer"], 0)

        # the pulls: the same rows as recent_pulls, A's from peer (node1)
        pulls = [[text(td) for td in find_all(row, lambda e: e.tag == "td")]
                 for row in find_all(by_id(doc, "pulls"), lambda e: e.tag == "tr" and
                                     e.attrs.get("class") == "pull")]
        recent = st["recent_pulls"]
        self.assertEqual(len(pulls), len(recent), where)
        for cells, p in zip(pulls, recent):
            source = f"{p['source']} ({p['peer']})" if p["peer"] else p["source"]
            # a non-2xx answer's body is an error document: the page shows no size for it
            size = human_bytes(p["bytes"]) if 200 <= p["status"] < 300 else "-"
            self.assertEqual((cells[1], cells[3], cells[4], cells[5], cells[7]),
                             (p["image"], p["kind"], source, size,
                              str(p["status"]) + ("" if p["complete"] else ", cut short")),
                             where)
        a_image = f"{self.c.upstream_addr}/{self.a.name}"
        from_peer = [c for c in pulls if c[4] == "peer (node1)"]
        self.assertEqual(len(from_peer), len(self.a.blobs_for_platform()), where)
        self.assertTrue(all(c[1] == a_image and c[7] == "200" for c in from_peer), from_peer)
        self.assertEqual(sorted(c[5] for c in from_peer),
                         sorted(human_bytes(b.size) for b in self.a.blobs_for_platform().values()))
        b_rows = [c for c in pulls if c[1] == f"{self.c.upstream_addr}/{self.b.name}"]
        self.assertTrue(b_rows and all(c[4] == "none" and c[7] == "404" for c in b_rows), b_rows)

        # saved: what the upstream did not send, as /debug/status totals say, non-zero
        t = st["totals"]
        saved = t["peer_bytes"] + t["inflight_bytes"]
        self.assertEqual(t["peer_bytes"], sum(b.size for b in self.a.blobs_for_platform().values()))
        self.assertGreater(saved, 0)
        card = by_id(doc, "saved")
        value = text(find_all(card, lambda e: e.attrs.get("class") == "v")[0])
        self.assertEqual(value, human_bytes(saved), where)
        self.assertNotEqual(value, "0 B")
        total = t["local"] + t["peer"] + t["inflight"] + t["not_found"]
        self.assertEqual(text(find_all(by_id(doc, "requests"), lambda e: e.attrs.get("class") ==
                                       "v")[0]), f"{total} request" + ("" if total == 1 else "s"))
        self.assertEqual(text(find_all(by_id(doc, "cluster"), lambda e: e.attrs.get("class") ==
                                       "v")[0]), "3 nodes")
        for section in ("holds", "coalescing"):
            by_id(doc, section)

        # the screenshot: an artifact that outlives the run, next to scripts/test's logs
        out_dir = os.path.join(os.environ.get("SPEGEL_TEST_LOGS", os.path.join(
            REPO, "build", "test-logs")), "status-page")
        os.makedirs(out_dir, exist_ok=True)
        png = os.path.join(out_dir, "status-page.png")
        size = web.screenshot("/", png, size=SCREENSHOT_SIZE)
        with open(os.path.join(out_dir, "status-page.html"), "w") as f:
            f.write(dom)
        with open(png, "rb") as f:
            head = f.read(24)
        self.assertGreater(size, 0)
        self.assertEqual(head[:8], PNG_MAGIC, png)
        self.assertEqual(head[12:16], b"IHDR")
        width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        self.assertEqual((width, height), SCREENSHOT_SIZE)
        web.check_loopback_only()
        print(f"      (b) Chromium in a loopback-only namespace: {len(names)} members, "
              f"{len(steps)} chart steps ({len(points)} status points), {len(from_peer)} pulls "
              f"from peer (node1), saved {value}; browser requests {asked}; screenshot {png} "
              f"({size} bytes)", flush=True)


# ---- a small DOM for assertions (stdlib html.parser) -------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Element:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Element("#document", {}, None)

    def handle_starttag(self, tag, attrs):
        e = Element(tag, attrs, self.cur)
        self.cur.children.append(e)
        if tag not in VOID:
            self.cur = e

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Element(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        e = self.cur
        while e is not None and e.tag != tag:
            e = e.parent
        if e is not None and e.parent is not None:
            self.cur = e.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse_html(markup):
    p = _TreeBuilder()
    p.feed(markup)
    p.close()
    return p.root


def find_all(e, pred):
    out = []
    for c in e.children:
        if isinstance(c, Element):
            if pred(c):
                out.append(c)
            out.extend(find_all(c, pred))
    return out


def by_id(root, ident):
    found = find_all(root, lambda e: e.attrs.get("id") == ident)
    if len(found) != 1:
        raise AssertionError(f"{len(found)} elements with id={ident!r} in the DOM")
    return found[0]


def text(e):
    """The element's text content, whitespace collapsed."""
    parts = []

    def walk(x):
        for c in x.children:
            if isinstance(c, str):
                parts.append(c)
            else:
                walk(c)
    walk(e)
    return " ".join("".join(parts).split())


if __name__ == "__main__":
    unittest.main()
