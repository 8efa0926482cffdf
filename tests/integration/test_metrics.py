"""Metrics, status page and basic auth.

One registry with a generated image; per test a fresh containerd and a spegel whose metrics
server listens on a known loopback port. The metrics test makes known requests (hits, misses,
404s), scrapes /metrics, validates it with `promtool check metrics` and compares counter deltas
with the requests made; the advertised gauges must follow pulls and removals.
"""

import base64
import json
import re
import shutil
import unittest

from harness import containerd, expect, imagegen, images, registry, spegel, util
import indexbase

_SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """{(name, frozenset of (label, value))): float} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise AssertionError(f"unparsable metrics line: {line!r}")
        labels = frozenset(_LABEL.findall(m.group("labels") or ""))
        out[(m.group("name"), labels)] = float(m.group("value"))
    return out


def sample(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


class MetricsTest(indexbase.IndexTestCase):
    IMAGES = [indexbase.ImageSpec("met", layer_sizes=(3000, 70000))]
    START_SPEGEL = False

    def setUp(self):
        super().setUp()
        self.spegel.close()  # the base class's, never started: replaced by one with metrics
        self.spegel = spegel.Spegel(self.ctd, metrics=True)
        self.ctd.start()

    def scrape(self):
        status, headers, body = self.spegel.metrics_get("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"), headers)
        text = body.decode()
        promtool = shutil.which("promtool")
        if promtool is None:
            self.fail("promtool is missing (Debian package prometheus; scripts/setup)")
        res = util.run([promtool, "check", "metrics"], input_bytes=body, check=False)
        self.assertEqual(res.returncode, 0,
                         f"promtool check metrics failed:\n{res.stdout}{res.stderr}\n{text}")
        return parse_metrics(text)

    def test_counters_match_requests_and_promtool_accepts(self):
        self.spegel.start()
        img = self.images["met"]
        ns = self.registry.addr
        before_pull = self.scrape()
        self.assertEqual(sample(before_pull, "spegel_advertised_image_tags", registry=ns), 0)
        self.assertEqual(sample(before_pull, "spegel_members"), 1)
        self.assertEqual(sample(before_pull, "spegel_ready"), 1)

        want = expect.Expected()
        self.pull("met", want)
        self.wait_index(want)
        s0 = self.scrape()
        # The advertised gauges reflect what the index now holds.
        self.assertEqual(sample(s0, "spegel_advertised_image_tags", registry=ns), 1)
        self.assertEqual(sample(s0, "spegel_advertised_image_digests", registry=ns), 1)
        self.assertEqual(sample(s0, "spegel_advertised_content_digests", registry=ns),
                         len(img.blobs_for_platform()))
        # The gauge and /debug/index are two reads: CRI's second image record (name@digest) may
        # land between them, so compare until both reads see the same index (bounded).
        seen = {}

        def index_gauge_matches():
            seen["gauge"] = sample(self.scrape(), "spegel_index_images")
            seen["debug"] = len(self.spegel.debug_index()["images"])
            return seen["gauge"] == seen["debug"]
        try:
            util.wait_until(index_gauge_matches, 5.0, "spegel_index_images to match /debug/index", 0.1)
        except TimeoutError:
            self.fail(f"spegel_index_images {seen.get('gauge')} != /debug/index images "
                      f"{seen.get('debug')}")

        repo = img.name
        manifest = img.top.digest
        layers = img.platforms[imagegen.HOST_PLATFORM].layers
        absent = "sha256:" + "0" * 64
        hits_get = [(f"/v2/{repo}/manifests/{img.tag}?ns={ns}", img.top.size)] * 3
        hits_get += [(f"/v2/{repo}/blobs/{b.digest}?ns={ns}", b.size) for b in layers]
        hits_head = [f"/v2/{repo}/blobs/{layers[0].digest}?ns={ns}"] * 2
        misses = [f"/v2/{repo}/blobs/{absent}?ns={ns}"] * 4
        misses += [f"/v2/{repo}/manifests/nope?ns={ns}"] * 2
        mirrored_misses = [f"/v2/{repo}/blobs/{absent}?ns={ns}"] * 3
        others = [f"/v2/_catalog?ns={ns}"] * 2  # not a manifest or blob path: 404, cache "none"
        for path, size in hits_get:
            status, _, body = self.spegel.get(path)
            self.assertEqual((status, len(body)), (200, size), path)
        for path in hits_head:
            self.assertEqual(self.spegel.get(path, method="HEAD")[0], 200)
        for path in misses:
            self.assertEqual(self.spegel.get(path)[0], 404)
        for path in mirrored_misses:
            self.assertEqual(self.spegel.get(path, headers={"X-Spegel-Mirrored": "true"})[0], 404)
        for path in others:
            self.assertEqual(self.spegel.get(path)[0], 404)
        s1 = self.scrape()

        def delta(name, **labels):
            return sample(s1, name, **labels) - sample(s0, name, **labels)

        def rr(kind, method, code, cache, registry=ns):
            return delta("spegel_registry_requests_total", registry=registry, kind=kind,
                         method=method, code=str(code), cache=cache)
        self.assertEqual(rr("manifest", "GET", 200, "hit"), 3)
        self.assertEqual(rr("blob", "GET", 200, "hit"), len(layers))
        self.assertEqual(rr("blob", "HEAD", 200, "hit"), 2)
        self.assertEqual(rr("blob", "GET", 404, "miss"), 4 + 3)
        self.assertEqual(rr("manifest", "GET", 404, "miss"), 2)
        # Paths that are not manifests or blobs carry no registry (the route parser stops early).
        self.assertEqual(rr("other", "GET", 404, "none", registry="none"), 2)
        # Upstream's name: requests this node could not serve and would hand to peers (a peer's
        # own X-Spegel-Mirrored request is never forwarded, so it is not counted).
        self.assertEqual(delta("spegel_mirror_requests_total", registry=ns, cache="miss"), 4 + 2)
        self.assertEqual(delta("spegel_served_bytes_total", source="local"),
                         sum(size for _, size in hits_get))
        self.assertEqual(delta("spegel_served_bytes_total", source="peer"), 0)
        self.assertEqual(delta("spegel_lookups_total", kind="blob", result="hit"),
                         len(layers) + 2)
        self.assertEqual(delta("spegel_lookups_total", kind="blob", result="miss"), 7)
        self.assertEqual(delta("spegel_lookups_total", kind="manifest", result="hit"), 3)
        total = len(hits_get) + len(hits_head) + len(misses) + len(mirrored_misses) + len(others)
        http_count = sum(v for (name, labels), v in s1.items()
                         if name == "http_request_duration_seconds_count"
                         and ("handler", "/v2/*") in labels) - \
            sum(v for (name, labels), v in s0.items()
                if name == "http_request_duration_seconds_count"
                and ("handler", "/v2/*") in labels)
        self.assertEqual(http_count, total)
        self.assertEqual(sample(s1, "http_requests_inflight", handler="/v2/*"), 0)
        self.assertEqual(delta("http_response_size_bytes_count", handler="/v2/*", method="GET",
                               code="200"), len(hits_get))

        # The image goes away: the advertised gauges follow.
        images.cri_rmi(self.ctd, self.refs["met"])
        util.wait_until(lambda: not self.spegel.debug_index()["images"], 15.0,
                        "spegel to drop the removed image", 0.1)
        s2 = self.scrape()
        self.assertNotIn(("spegel_advertised_image_tags", frozenset({("registry", ns)})), s2)
        self.assertEqual(sample(s2, "spegel_index_images"), 0)

    def test_status_page_probes_and_debug_json(self):
        self.spegel.start()
        status, headers, body = self.spegel.metrics_get("/")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"))
        page = body.decode()
        self.assertIn('<span class="badge ok" id="ready">ready</span>', page)
        self.assertIn("<h2>containerd</h2><p>connected, version ", page)
        self.assertNotIn("<script", page)
        self.assertEqual(self.spegel.metrics_get("/debug/web/")[0], 200)
        # The page's data, as JSON.
        status, headers, body = self.spegel.metrics_get("/debug/status")
        self.assertEqual(status, 200)
        snapshot = json.loads(body)
        self.assertTrue(snapshot["ready"])
        self.assertEqual(snapshot["not_ready"], [])
        # The preflight ran against the fixture's config and passed; the page says so.
        self.assertEqual(snapshot["startup_check"][0], "passed")
        self.assertIn('<ul id="startup-check"><li>passed</li>', page)
        self.assertTrue(snapshot["containerd"]["connected"])
        self.assertEqual(snapshot["holds"]["images"], len(self.spegel.debug_index()["images"]))
        self.assertEqual(snapshot["history"]["step_seconds"], 10)
        self.assertGreaterEqual(len(snapshot["history"]["points"]), 1)
        for path in ("/readyz", "/livez"):
            self.assertEqual(self.spegel.metrics_get(path)[0], 200)
        for path in ("/debug/index", "/debug/members", "/debug/routing"):
            status, headers, body = self.spegel.metrics_get(path)
            self.assertEqual(status, 200, path)
            json.loads(body)
        self.assertEqual(self.spegel.metrics_get("/nope")[0], 404)

    def test_basic_auth(self):
        self.spegel.basic_auth("alice", "s3cret")
        self.spegel.start()  # waits on /readyz: probes are open

        def auth(user, password):
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        self.assertEqual(self.spegel.get("/v2/", headers=auth("alice", "s3cret"))[0], 200)
        want_body = {"errors": [{"code": "UNAUTHORIZED", "message": "invalid credentials"}]}
        for headers in (None, auth("bob", "s3cret"), auth("alice", "wrong"), auth("alice", ""),
                        {"Authorization": "Bearer x"}):
            status, resp_headers, body = self.spegel.get("/v2/", headers=headers)
            self.assertEqual(status, 401, headers)
            self.assertEqual(resp_headers["content-type"], "application/json")
            self.assertEqual(json.loads(body), want_body)
        absent = f"/v2/x/blobs/sha256:{'0' * 64}?ns=example.test"
        self.assertEqual(self.spegel.get(absent)[0], 401)
        self.assertEqual(self.spegel.get(absent, headers=auth("alice", "s3cret"))[0], 404)
        self.assertEqual(self.spegel.status("/readyz"), 200)
        self.assertEqual(self.spegel.status("/livez"), 200)
        self.assertEqual(self.spegel.metrics_get("/metrics")[0], 200)  # metrics stay open
        # The rejected requests are counted with their status.
        text = self.spegel.metrics_get("/metrics")[2].decode()
        self.assertRegex(text, r'http_request_duration_seconds_count\{handler="/v2/\*",'
                               r'method="GET",code="401"\} 6\n')


if __name__ == "__main__":
    unittest.main()
