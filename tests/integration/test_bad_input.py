"""Bad input to the index and the daemon: unparseable or wrongly shaped manifests in the content
store, image records with invalid names, flags that do not parse, a missing containerd socket."""

import json
import os
import time
import unittest

from harness import expect, imagegen, images, spegel, util
from indexbase import ImageSpec, IndexTestCase


def _json(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


class BadContentTest(IndexTestCase):
    IMAGES = [
        ImageSpec("good", "oci", layer_sizes=(500, 600)),
        ImageSpec("goodm", "docker", platforms=("linux/amd64", "linux/arm64")),
    ]

    def _bad_image(self, name, data, media_type):
        digest = self.ctd.ingest(data, ref="bad")
        images.create_image(self.ctd, name, digest, media_type, len(data))
        return digest

    def test_bad_manifests_are_logged_and_skipped(self):
        want = expect.Expected()
        self.pull("good", want)
        self.pull("goodm", want)
        self.wait_index(want)
        good = self.images["good"].platforms["linux/amd64"]
        bad = {
            "garbage": (b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.im',
                        imagegen.OCI_MANIFEST),
            "binary": (bytes(range(256)) * 4, imagegen.OCI_INDEX),
            "schema": (_json({"schemaVersion": 2, "mediaType": imagegen.OCI_MANIFEST,
                              "config": "sha256:" + "0" * 64, "layers": {"a": 1}}),
                       imagegen.OCI_MANIFEST),
            "array": (_json([{"digest": good.config.digest}]), imagegen.DOCKER_MANIFEST),
            "badlist": (_json({"schemaVersion": 2, "mediaType": imagegen.DOCKER_LIST,
                               "manifests": "not a list"}), imagegen.DOCKER_LIST),
        }
        digests = {}
        for key, (data, media_type) in bad.items():
            digests[key] = self._bad_image(f"example.test/bad/{key}:v1", data, media_type)
        for key, digest in digests.items():
            self.spegel.wait_log(digest, timeout=10.0, levels=("WARN", "ERROR"))
        # everything good stays indexed; the bad blobs and their tags do not appear
        doc = self.wait_index(want)
        got = {b["digest"] for b in doc["blobs"]}
        self.assertFalse(set(digests.values()) & got)
        self.assert_ready()
        # and new good content is still picked up after the bad records
        images.ctr_import(self.ctd, self.images["good"])
        want.add_tag("example.test/it/good:v1", self.images["good"].top.digest)
        self.wait_index(want)

    def test_images_with_invalid_names_are_skipped(self):
        want = expect.Expected()
        self.pull("good", want)
        self.wait_index(want)
        top = self.images["good"].top
        bad_names = ["not a ref", "sha256:" + "ab" * 32, "example.test/UPPER/case:v1",
                     "example.test/it/x:bad tag!"]
        for name in bad_names:
            images.create_image(self.ctd, name, top.digest, top.media_type, top.size)
        for name in bad_names:
            self.spegel.wait_log(json.dumps(name)[1:-1], timeout=10.0)
        doc = self.wait_index(want)
        self.assertEqual({t["ref"] for t in doc["tags"]}, {self.refs["good"]})
        self.assert_ready()
        # a sync after the bad names still works: a new pull shows up
        self.pull("goodm", want)
        self.wait_index(want)


class FlagTest(unittest.TestCase):
    """Flags that do not parse: exit code 2, stderr names the flag, quickly."""

    def setUp(self):
        self.dir = util.make_temp_dir("sit-flag-")
        self.addCleanup(util.remove_temp_dir, self.dir)
        self.args = spegel.registry_args(os.path.join(self.dir, "none.sock"),
                                         os.path.join(self.dir, "content"),
                                         f"127.0.0.1:{util.free_port()}")

    def _with(self, flag, value):
        args = list(self.args)
        args[args.index(flag) + 1] = value
        return args

    def test_unparseable_flag_values_exit_2_naming_the_flag(self):
        cases = [("--registry-addr", "nonsense"),
                 ("--registry-addr", "127.0.0.1:99999"),
                 ("--resync-interval", "5x"),
                 ("--resync-interval", ""),
                 ("--log-level", "LOUD"),
                 ("--containerd-namespace", "")]
        for flag, value in cases:
            with self.subTest(flag=flag, value=value):
                started = time.monotonic()
                res = spegel.run_to_exit(self._with(flag, value), timeout=10.0)
                self.assertEqual(res.returncode, 2, f"stderr: {res.stderr[-1000:]}")
                self.assertIn(flag.lstrip("-"), res.stderr)
                self.assertLess(time.monotonic() - started, 5.0)


class MissingSocketTest(IndexTestCase):
    IMAGES = [ImageSpec("late", "oci", layer_sizes=(100,))]
    START_SPEGEL = False  # containerd is created but not started

    def test_starts_unready_and_becomes_ready_when_containerd_appears(self):
        self.assertFalse(os.path.exists(self.ctd.socket))
        self.spegel.start(wait_ready=False)
        for _ in range(10):
            self.assertEqual(self.spegel.status("/readyz"), 503)
            self.assertEqual(self.spegel.status("/livez"), 200)
            time.sleep(0.1)
        doc = self.spegel.debug_index()
        self.assertFalse(doc["connected"])
        self.assertFalse(doc["ready"])
        self.spegel.wait_log(self.ctd.socket, timeout=5.0)
        self.assertTrue(self.spegel.running())

        self.ctd.start()
        util.wait_until(lambda: self.spegel.status("/readyz") == 200, 20.0,
                        "/readyz 200 once containerd is up")
        want = expect.Expected()
        self.pull("late", want)
        self.wait_index(want)
        self.assert_ready()


if __name__ == "__main__":
    unittest.main()
