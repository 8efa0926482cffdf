"""The live index (GET /debug/index) against a real containerd: CRI pulls, rmi, imports,
containerd restarts and content GC."""

import time

from harness import expect, imagegen, images, util
from indexbase import ImageSpec, IndexTestCase

MULTI3 = imagegen.DEFAULT_MULTI_PLATFORMS
MULTI2 = ("linux/amd64", "linux/arm64")


class IndexPullTest(IndexTestCase):
    IMAGES = [
        # oci1 and oci2 share their first layer (same seed, size, platform and media type)
        ImageSpec("oci1", "oci", layer_seeds=["shared-base"]),
        ImageSpec("oci2", "oci", layer_seeds=["shared-base"], layer_sizes=(2048, 333)),
        ImageSpec("dock1", "docker", layer_sizes=(1500, 64, 4000, 10)),
        ImageSpec("ocim", "oci", platforms=MULTI3),
        ImageSpec("dockm", "docker", platforms=MULTI2),
        ImageSpec("imp1", "oci", push=False),
        ImageSpec("impm", "oci", platforms=MULTI3, push=False),
        ImageSpec("impall", "docker", platforms=MULTI2, push=False),
    ]

    def test_cri_pulls_are_indexed_exactly(self):
        self.assertEqual(self.images["oci1"].platforms["linux/amd64"].layers[0],
                         self.images["oci2"].platforms["linux/amd64"].layers[0])
        want = expect.Expected()
        for key in ("oci1", "oci2", "dock1", "ocim", "dockm"):
            self.pull(key, want)
        doc = self.wait_index(want)
        self.assert_ready()
        # only the amd64 part of the multi-platform images, plus their index blobs
        got = {b["digest"] for b in doc["blobs"]}
        for key in ("ocim", "dockm"):
            self.assertIn(self.images[key].top.digest, got)
            self.assertFalse(set(self.images[key].non_host_blobs()) & got)
        targets = {}
        for entry in doc["images"]:
            targets.setdefault(entry["name"], entry["target"])
        for key, ref in self.refs.items():
            self.assertEqual(targets.get(ref), self.images[key].top.digest, ref)

    def test_rmi_removes_keys_no_other_image_references(self):
        want = expect.Expected()
        for key in ("oci1", "oci2", "ocim"):
            self.pull(key, want)
        self.wait_index(want)
        shared = self.images["oci1"].platforms["linux/amd64"].layers[0].digest

        images.cri_rmi(self.ctd, self.refs["oci1"])
        want = expect.Expected()
        want.add_image(self.images["oci2"], self.refs["oci2"])
        want.add_image(self.images["ocim"], self.refs["ocim"])
        doc = self.wait_index(want)
        self.assertIn(shared, {b["digest"] for b in doc["blobs"]})

        images.cri_rmi(self.ctd, self.refs["ocim"])
        want = expect.Expected().add_image(self.images["oci2"], self.refs["oci2"])
        self.wait_index(want)
        self.assert_ready()

    def test_imports_are_indexed_host_platform_or_all(self):
        images.ctr_import(self.ctd, self.images["imp1"])
        images.ctr_import(self.ctd, self.images["impm"])
        images.ctr_import(self.ctd, self.images["impall"], all_platforms=True)
        want = expect.Expected()
        want.add_image(self.images["imp1"], "example.test/it/imp1:v1")
        want.add_image(self.images["impm"], "example.test/it/impm:v1")
        want.add_image(self.images["impall"], "example.test/it/impall:v1", all_platforms=True)
        # import writes every blob of the tar; GC drops the other platforms of impm shortly after
        self.wait_index(want, timeout=20.0)
        self.assert_ready()


class IndexRestartTest(IndexTestCase):
    IMAGES = [
        ImageSpec("before1", "oci"),
        ImageSpec("beforem", "docker", platforms=MULTI2),
        ImageSpec("after", "oci", layer_sizes=(100, 200)),
    ]

    def test_containerd_restart_while_spegel_runs(self):
        want = expect.Expected()
        self.pull("before1", want)
        self.pull("beforem", want)
        self.wait_index(want)

        self.ctd.kill()
        util.wait_until(lambda: self.spegel.status("/readyz") == 503, 10.0,
                        "/readyz 503 while containerd is down")
        self.assertEqual(self.spegel.status("/livez"), 200)
        doc = self.spegel.debug_index()
        self.assertFalse(doc["ready"])
        self.assertFalse(doc["connected"])
        # stays unready while containerd stays down (no flapping back to ready on a stale view)
        for _ in range(10):
            self.assertEqual(self.spegel.status("/readyz"), 503)
            time.sleep(0.1)
        self.assertTrue(self.spegel.running())

        self.ctd.start()
        util.wait_until(lambda: self.spegel.status("/readyz") == 200, 20.0,
                        "/readyz 200 after containerd came back")
        self.wait_index(want)

        self.pull("after", want)
        self.wait_index(want)
        self.assert_ready()
        self.assertTrue(self.spegel.running())

    def test_containerd_restart_with_changes_while_down_is_resynced(self):
        # content removed while spegel could not watch: only a resync can notice it
        want = expect.Expected()
        self.pull("before1", want)
        self.pull("after", want)
        self.wait_index(want)
        self.ctd.stop()
        util.wait_until(lambda: self.spegel.status("/readyz") == 503, 10.0,
                        "/readyz 503 while containerd is down")
        self.ctd.start()
        images.cri_rmi(self.ctd, self.refs["after"])
        want = expect.Expected().add_image(self.images["before1"], self.refs["before1"])
        self.wait_index(want, timeout=20.0)
        self.assert_ready()


class IndexGcTest(IndexTestCase):
    IMAGES = [
        ImageSpec("g1", "oci", layer_sizes=(1000, 2000, 3000)),
        ImageSpec("g2", "docker", platforms=MULTI2),
    ]

    def test_content_rm_leaves_index_after_resync(self):
        want = expect.Expected()
        self.pull("g1", want)
        self.pull("g2", want)
        self.wait_index(want)
        # containerd emits no event for this on 1.6: only the 1 s resync can see it
        layer = self.images["g1"].platforms["linux/amd64"].layers[1]
        config = self.images["g2"].platforms["linux/amd64"].config
        self.ctd.ctr("content", "rm", layer.digest, config.digest)
        self.assertNotIn(layer.digest, self.ctd.content_digests())
        del want.blobs[layer.digest]
        del want.blobs[config.digest]
        started = time.monotonic()
        self.wait_index(want, timeout=10.0)
        self.assertLess(time.monotonic() - started, 10.0)
        self.assert_ready()

    def test_gc_deletion_without_event_leaves_index_after_resync(self):
        # containerd's garbage collector deletes content without publishing any event, so only
        # the periodic resync can notice. Make one layer unreferenced (drop the manifest's
        # gc.ref label for it), then run GC synchronously through a lease deletion.
        want = expect.Expected()
        self.pull("g1", want)
        self.wait_index(want)
        p = self.images["g1"].platforms["linux/amd64"]
        layer = p.layers[2]
        self.ctd.ctr("content", "label", p.manifest.digest, "containerd.io/gc.ref.content.l.2=")
        lease = self.ctd.ctr("leases", "create").stdout.split()[0]
        self.ctd.ctr("leases", "rm", "--sync", lease)
        self.assertNotIn(layer.digest, self.ctd.content_digests())
        self.assertIn(p.layers[1].digest, self.ctd.content_digests())
        del want.blobs[layer.digest]
        self.wait_index(want, timeout=10.0)
        self.assert_ready()


if __name__ == "__main__":
    import unittest
    unittest.main()
