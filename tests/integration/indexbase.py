"""Fixture base for tests of the live index: one registry with generated images per class, a
fresh containerd and spegel per test (spegel stopped before containerd on teardown)."""

import os
import unittest

from harness import containerd, expect, imagegen, images, registry, spegel, util


class ImageSpec:
    def __init__(self, key, fmt="oci", platforms=None, layer_sizes=(2048, 700, 9000),
                 layer_seeds=None, push=True):
        self.key = key
        self.fmt = fmt
        self.platforms = platforms
        self.layer_sizes = layer_sizes
        self.layer_seeds = layer_seeds
        self.push = push


class IndexTestCase(unittest.TestCase):
    """Subclasses set IMAGES (a list of ImageSpec); pushed images get cls.refs[key]."""

    IMAGES = []
    START_SPEGEL = True

    @classmethod
    def setUpClass(cls):
        cls.gen_dir = util.make_temp_dir("sit-gen-")
        cls.registry = registry.Registry()
        cls.images = {}
        cls.refs = {}
        try:
            cls.registry.start()
            for spec in cls.IMAGES:
                img = imagegen.generate(
                    os.path.join(cls.gen_dir, spec.key), seed=f"{cls.__name__}-{spec.key}",
                    name=f"it/{spec.key}", fmt=spec.fmt, platforms=spec.platforms,
                    layer_sizes=spec.layer_sizes, layer_seeds=spec.layer_seeds,
                    full_name=f"example.test/it/{spec.key}:v1")
                cls.images[spec.key] = img
                if spec.push:
                    cls.refs[spec.key] = images.push(img, cls.registry)
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
        self.ctd.write_hosts_toml(self.registry.addr)
        self.spegel = spegel.Spegel(self.ctd)
        self.addCleanup(self._stop_spegel)
        if self.START_SPEGEL:
            self.ctd.start()
            self.spegel.start()

    def _stop_spegel(self):
        if not self.spegel.running() and self.spegel.proc is not None:
            code = self.spegel.proc.returncode
            log = util.tail(self.spegel.log_path)
            self.spegel.close()
            self.fail(f"spegel exited during the test with {code}; log tail:\n{log}")
        self.spegel.close()

    # ---- helpers ---------------------------------------------------------------------------

    def pull(self, key, want=None):
        """CRI-pulls a pushed image; records it in `want` (an expect.Expected) if given."""
        images.cri_pull(self.ctd, self.refs[key])
        if want is not None:
            want.add_image(self.images[key], self.refs[key])

    def wait_index(self, want, timeout=15.0):
        try:
            return expect.wait_index(self.spegel, want, timeout)
        except AssertionError as e:
            raise AssertionError(f"{e}\nspegel log tail:\n{util.tail(self.spegel.log_path)}") \
                from None

    def assert_ready(self):
        self.assertEqual(self.spegel.status("/livez"), 200)
        self.assertEqual(self.spegel.status("/readyz"), 200)
        doc = self.spegel.debug_index()
        self.assertTrue(doc["ready"] and doc["connected"] and doc["synced"], doc)
