"""Tests of the harness itself: the generator's predictions against real tools (skopeo,
docker-registry, containerd via CRI and ctr). These need no spegel."""

import gzip
import hashlib
import io
import json
import os
import tarfile
import unittest

from harness import containerd, expect, imagegen, images, registry, util


def _sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class GeneratorTest(unittest.TestCase):
    def setUp(self):
        self.dir = util.make_temp_dir("sit-gen-")
        self.addCleanup(util.remove_temp_dir, self.dir)

    def _gen(self, sub, **kw):
        return imagegen.generate(os.path.join(self.dir, sub), **kw)

    def test_same_seed_same_bytes_other_seed_other_digests(self):
        a = self._gen("a", seed="s1", name="demo/a", platforms=imagegen.DEFAULT_MULTI_PLATFORMS)
        b = self._gen("b", seed="s1", name="demo/a", platforms=imagegen.DEFAULT_MULTI_PLATFORMS)
        c = self._gen("c", seed="s2", name="demo/a", platforms=imagegen.DEFAULT_MULTI_PLATFORMS)
        self.assertEqual(a.all_blobs(), b.all_blobs())
        self.assertEqual(a.top.digest, b.top.digest)
        self.assertFalse(set(a.all_blobs()) & set(c.all_blobs()))

    def test_layout_blobs_hash_to_their_names_and_match_predictions(self):
        for fmt in ("oci", "docker"):
            img = self._gen(fmt, seed="s3", name="demo/x", fmt=fmt,
                            platforms=("linux/amd64", "linux/arm64"), layer_sizes=(100, 2000, 30))
            blob_dir = os.path.join(img.layout_dir, "blobs", "sha256")
            on_disk = {}
            for fn in os.listdir(blob_dir):
                with open(os.path.join(blob_dir, fn), "rb") as f:
                    data = f.read()
                self.assertEqual(_sha(data), "sha256:" + fn)
                on_disk["sha256:" + fn] = data
            self.assertEqual(set(on_disk), set(img.all_blobs()))
            for d, b in img.all_blobs().items():
                self.assertEqual(len(on_disk[d]), b.size)
                self.assertEqual(b.media_type, imagegen.MEDIA_TYPES[fmt][b.kind])
            # 1 index + 2 x (manifest + config + 3 layers)
            self.assertEqual(len(img.all_blobs()), 1 + 2 * 5)
            index = json.loads(on_disk[img.top.digest])
            self.assertEqual(index["mediaType"], imagegen.MEDIA_TYPES[fmt]["index"])
            self.assertEqual([m["platform"]["architecture"] for m in index["manifests"]],
                             ["amd64", "arm64"])
            for plat, p in img.platforms.items():
                manifest = json.loads(on_disk[p.manifest.digest])
                self.assertEqual(manifest["config"]["digest"], p.config.digest)
                self.assertEqual([l["digest"] for l in manifest["layers"]],
                                 [l.digest for l in p.layers])
                config = json.loads(on_disk[p.config.digest])
                self.assertEqual(f"{config['os']}/{config['architecture']}", plat)
                # diff_ids are the digests of the uncompressed tars, and the tars are readable
                for layer, diff_id in zip(p.layers, config["rootfs"]["diff_ids"]):
                    raw = gzip.decompress(on_disk[layer.digest])
                    self.assertEqual(_sha(raw), diff_id)
                    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
                        members = tar.getmembers()
                        self.assertEqual(len(members), 2)
                        self.assertTrue(all(m.mtime == 0 for m in members))
            top_ann = json.loads(open(os.path.join(img.layout_dir, "index.json")).read())
            self.assertEqual(top_ann["manifests"][0]["digest"], img.top.digest)

    def test_single_platform_top_is_manifest_and_host_set(self):
        img = self._gen("s", seed="s4", name="demo/s", layer_sizes=(10, 20))
        self.assertFalse(img.multi)
        self.assertEqual(img.top.kind, "manifest")
        self.assertEqual(set(img.blobs_for_platform()), set(img.all_blobs()))
        self.assertEqual(len(img.all_blobs()), 4)
        self.assertEqual(img.non_host_blobs(), {})

    def test_multi_platform_host_set_excludes_other_platforms(self):
        img = self._gen("m", seed="s5", name="demo/m", platforms=imagegen.DEFAULT_MULTI_PLATFORMS)
        host = img.blobs_for_platform()
        self.assertIn(img.top.digest, host)
        self.assertEqual(len(host), 1 + 1 + 1 + 2)
        self.assertEqual(len(img.non_host_blobs()), 2 * 4)
        self.assertFalse(set(host) & set(img.non_host_blobs()))

    def test_layer_seeds_share_layers_between_images(self):
        a = self._gen("a", seed="a", name="demo/a", layer_sizes=(50, 60), layer_seeds=["base"])
        b = self._gen("b", seed="b", name="demo/b", layer_sizes=(50, 70), layer_seeds=["base"])
        self.assertEqual(a.platforms["linux/amd64"].layers[0], b.platforms["linux/amd64"].layers[0])
        self.assertNotEqual(a.platforms["linux/amd64"].layers[1].digest,
                            b.platforms["linux/amd64"].layers[1].digest)


class RealToolsTest(unittest.TestCase):
    """One registry with four pushed images per class; a fresh containerd per test."""

    @classmethod
    def setUpClass(cls):
        cls.gen_dir = util.make_temp_dir("sit-gen-")
        cls.registry = registry.Registry()
        try:
            cls.registry.start()
            cls.images = {}
            cls.refs = {}
            for key, fmt, plats in (("oci1", "oci", None),
                                    ("dock1", "docker", None),
                                    ("ocim", "oci", imagegen.DEFAULT_MULTI_PLATFORMS),
                                    ("dockm", "docker", ("linux/amd64", "linux/arm64"))):
                img = imagegen.generate(os.path.join(cls.gen_dir, key), seed=f"harness-{key}",
                                        name=f"harness/{key}", fmt=fmt, platforms=plats,
                                        layer_sizes=(3000, 500, 12000),
                                        full_name=f"example.test/harness/{key}:v1")
                cls.images[key] = img
                cls.refs[key] = images.push(img, cls.registry)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.registry.close()
        util.remove_temp_dir(cls.gen_dir)

    def setUp(self):
        self.ctd = containerd.Containerd()
        self.addCleanup(self.ctd.close)
        self.ctd.start()
        self.ctd.write_hosts_toml(self.registry.addr)

    def test_push_preserves_digests_for_every_platform(self):
        for key, img in self.images.items():
            self.assertEqual(self.registry.manifest_digest(img.name, img.tag), img.top.digest)
            for p in img.platforms.values():
                self.assertEqual(self.registry.manifest_digest(img.name, p.manifest.digest),
                                 p.manifest.digest)

    def test_cri_pull_stores_exactly_the_host_platform_blobs(self):
        want = expect.Expected()
        for key in ("oci1", "dock1", "ocim", "dockm"):
            images.cri_pull(self.ctd, self.refs[key])
            want.add_image(self.images[key], self.refs[key])
        self.assertEqual(self.ctd.content_digests(), set(want.blobs))
        recorded = self.ctd.images()
        for key, ref in self.refs.items():
            self.assertEqual(recorded[ref][0], self.images[key].top.digest, ref)
            self.assertEqual(recorded[ref][1], self.images[key].top.media_type, ref)
        for d in self.images["ocim"].non_host_blobs():
            self.assertFalse(os.path.exists(self.ctd.blob_path(d)))
        for d, b in want.blobs.items():
            self.assertEqual(os.path.getsize(self.ctd.blob_path(d)), b.size)
        # rmi removes every record of the image (tag, digest ref, config id)
        images.cri_rmi(self.ctd, self.refs["oci1"])
        after = self.ctd.images()
        self.assertNotIn(self.refs["oci1"], after)
        self.assertIn(self.refs["dock1"], after)

    def test_ctr_pull_single_and_all_platforms(self):
        images.ctr_pull(self.ctd, self.refs["dockm"])
        img = self.images["dockm"]
        self.assertEqual(self.ctd.content_digests(), set(img.blobs_for_platform()))
        images.ctr_pull(self.ctd, self.refs["ocim"], all_platforms=True)
        self.assertEqual(self.ctd.content_digests(),
                         set(img.blobs_for_platform()) | set(self.images["ocim"].all_blobs()))

    def test_import_single_multi_and_all_platforms(self):
        images.ctr_import(self.ctd, self.images["oci1"])
        images.ctr_import(self.ctd, self.images["ocim"])
        want = set(self.images["oci1"].all_blobs()) | set(self.images["ocim"].blobs_for_platform())
        self.ctd.wait_content(want)
        images.ctr_import(self.ctd, self.images["dockm"], all_platforms=True)
        want |= set(self.images["dockm"].all_blobs())
        self.ctd.wait_content(want)
        recorded = self.ctd.images()
        for key in ("oci1", "ocim", "dockm"):
            self.assertEqual(recorded[f"example.test/harness/{key}:v1"][0],
                             self.images[key].top.digest)

    def test_restart_on_same_root_keeps_content(self):
        images.ctr_pull(self.ctd, self.refs["oci1"])
        before = self.ctd.content_digests()
        self.ctd.kill()
        self.assertFalse(self.ctd.running())
        self.ctd.start()
        self.assertEqual(self.ctd.content_digests(), before)
        self.assertIn(self.refs["oci1"], self.ctd.images())

    def test_ingest_and_content_rm(self):
        digest = self.ctd.ingest(b"{not json")
        self.assertEqual(digest, _sha(b"{not json"))
        self.assertIn(digest, self.ctd.content_digests())
        images.create_image(self.ctd, "example.test/bad/garbage:v1", digest,
                            imagegen.OCI_MANIFEST, 9)
        images.create_image(self.ctd, "not a ref", digest, imagegen.OCI_MANIFEST, 9)
        recorded = self.ctd.images()
        self.assertEqual(recorded["example.test/bad/garbage:v1"],
                         (digest, imagegen.OCI_MANIFEST))
        self.assertEqual(recorded["not a ref"], (digest, imagegen.OCI_MANIFEST))
        self.ctd.ctr("content", "rm", digest)
        self.assertNotIn(digest, self.ctd.content_digests())


if __name__ == "__main__":
    unittest.main()
