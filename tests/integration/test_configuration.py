"""`spegel configuration` / `spegel cleanup` against a real containerd.

Node A: containerd + `spegel registry`, holding an image CRI-pulled from the local registry.
Node B: a second containerd whose certs.d starts with the user's own files (a hosts.toml for the
registry with a certificate next to it, a docker.io directory, a stray file). `spegel
configuration` rewrites B's certs.d to mirror the registry through A's spegel; the upstream
registry is then stopped, so B's CRI pull can only succeed through spegel, and B's containerd
debug log names the URL of every response it received. `spegel cleanup` must then bring back
B's original tree byte for byte (contents, modes, symlinks).
"""

import os
import socket
import time
import unittest

from harness import containerd, imagegen, images, registry, spegel, util



def run_spegel(*args, timeout=20):
    return spegel.run_to_exit(list(args), timeout=timeout)


class ConfigurationPullTest(unittest.TestCase):
    """One node A with spegel and the image; a fresh node B per test."""

    @classmethod
    def setUpClass(cls):
        cls.gen_dir = util.make_temp_dir("sit-gen-")
        cls.registry = registry.Registry()
        cls.node_a = containerd.Containerd()
        cls.spegel = None
        cls.imgs = {}
        try:
            cls.registry.start()
            cls.node_a.write_hosts_toml_strict(cls.registry.addr, cls.registry.url)
            cls.node_a.start()
            for key, kw in (("single", dict(fmt="oci", layer_sizes=(3000, 70000))),
                            ("docker", dict(fmt="docker", layer_sizes=(100, 250000))),
                            ("multi", dict(fmt="oci", platforms=imagegen.DEFAULT_MULTI_PLATFORMS,
                                           layer_sizes=(5000, 1200)))):
                repo = f"cfg/{key}"
                img = imagegen.generate(os.path.join(cls.gen_dir, key), seed=f"cfg-{key}",
                                        name=repo, **kw)
                images.push(img, cls.registry)
                ref = f"{cls.registry.addr}/{repo}:{img.tag}"
                images.cri_pull(cls.node_a, ref)
                cls.imgs[key] = (ref, img)
            cls.spegel = spegel.Spegel(cls.node_a)
            cls.spegel.start()
            want = {ref: img.top.digest for ref, img in cls.imgs.values()}

            cls.spegel.wait_tags(want, 15.0, "spegel on node A to index the pulled images")
            # From here on only spegel can serve.
            cls.registry.stop_for_good()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.spegel is not None:
            cls.spegel.close()
        cls.node_a.close()
        cls.registry.close()
        util.remove_temp_dir(cls.gen_dir)

    def setUp(self):
        self.node_b = containerd.Containerd()
        self.addCleanup(self.node_b.close)
        certs = self.node_b.certs_d
        # The user's own configuration on node B (loopback URLs only).
        self.node_b.write_hosts_toml_strict(self.registry.addr, self.registry.url)
        with open(os.path.join(certs, self.registry.addr, "ca.crt"), "wb") as f:
            f.write(b"-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n")
        os.chmod(os.path.join(certs, self.registry.addr, "ca.crt"), 0o600)
        self.node_b.write_hosts_toml_strict("docker.io", self.registry.url)
        with open(os.path.join(certs, "README"), "wb") as f:
            f.write(b"user notes\n")
        os.symlink("docker.io", os.path.join(certs, "docker-alias"))
        self.original = util.snapshot_tree(certs)
        self.node_b.start()

    # ---- helpers ---------------------------------------------------------------------------

    def configure(self, *extra):
        res = run_spegel("configuration", "--containerd-registry-config-path",
                         self.node_b.certs_d, "--mirror-targets", self.spegel.url, *extra)
        self.assertEqual(res.returncode, 0, f"configuration failed:\n{res.stderr}")
        return res

    def cleanup_and_check(self):
        res = run_spegel("cleanup", "--containerd-registry-config-path", self.node_b.certs_d)
        self.assertEqual(res.returncode, 0, f"cleanup failed:\n{res.stderr}")
        self.assertEqual(util.snapshot_tree(self.node_b.certs_d), self.original)
        # Twice is harmless.
        res = run_spegel("cleanup", "--containerd-registry-config-path", self.node_b.certs_d)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(util.snapshot_tree(self.node_b.certs_d), self.original)

    def pull_through_spegel(self, key):
        ref, img = self.imgs[key]
        mark = os.path.getsize(self.node_b.log_path)
        try:
            images.cri_pull(self.node_b, ref)
        except util.HarnessError as e:
            self.fail(f"CRI pull {ref} on node B failed: {e}\nnode B log:\n"
                      f"{util.tail(self.node_b.log_path)}\nspegel log:\n"
                      f"{util.tail(self.spegel.log_path)}")
        self.assertFalse(self.node_b.hosts_toml_rejected(), util.tail(self.node_b.log_path))
        with open(self.node_b.log_path, "rb") as f:
            f.seek(mark)
            log = f.read().decode(errors="replace")
        fetched = containerd.fetch_responses(log)
        self.assertTrue(fetched, "containerd logged no fetch responses")
        got = set()
        for url, status in fetched:
            self.assertTrue(url.startswith(self.spegel.url + "/v2/" + img.name + "/"),
                            f"response from {url}, not spegel")
            self.assertEqual(status, "200 OK", url)
            m = containerd.DIGEST_IN_URL.search(url)
            if m:
                got.add(m.group(1))
        self.assertEqual(set(img.blobs_for_platform()) - got, set(),
                         "blobs node B did not fetch from spegel")
        self.assertTrue(any(f"/manifests/{img.tag}?" in url for url, _ in fetched),
                        "the tag was not resolved through spegel")
        self.assertEqual(self.node_b.images().get(ref, (None,))[0], img.top.digest)

    # ---- tests -----------------------------------------------------------------------------

    def test_registry_mirror_pull_then_cleanup(self):
        self.configure("--mirrored-registries", self.registry.url)
        certs = self.node_b.certs_d
        with open(os.path.join(certs, self.registry.addr, "hosts.toml")) as f:
            text = f.read()
        self.assertIn(f"server = '{self.registry.url}'", text)
        self.assertIn(f"[host.'{self.spegel.url}']\ncapabilities = ['pull', 'resolve']\n", text)
        # Everything the user had is in _backup, byte for byte.
        backup = util.snapshot_tree(os.path.join(certs, "_backup"))
        self.assertEqual(backup, self.original)
        self.assertEqual(sorted(os.listdir(certs)), sorted(["_backup", self.registry.addr]))

        self.pull_through_spegel("single")
        # Idempotent: a second run (init container restart) keeps the backup and the result.
        before = util.snapshot_tree(certs)
        self.configure("--mirrored-registries", self.registry.url)
        self.assertEqual(util.snapshot_tree(certs), before)
        self.pull_through_spegel("docker")
        self.cleanup_and_check()

    def test_default_mirror_with_prepend_then_cleanup(self):
        # _default (no --mirrored-registries): no `server`, containerd uses the ref's host.
        self.configure("--prepend-existing", "--resolve-tags=true")
        certs = self.node_b.certs_d
        self.assertEqual(sorted(os.listdir(certs)), ["_backup", "_default"])
        with open(os.path.join(certs, "_default", "hosts.toml")) as f:
            text = f.read()
        self.assertNotIn("server", text)
        self.pull_through_spegel("multi")
        self.cleanup_and_check()


class ConfigurationErrorsTest(unittest.TestCase):
    """Bad values exit 2 and unwritable paths exit 1, each naming the value; nothing changes."""

    def setUp(self):
        self.dir = util.make_temp_dir("sit-cfg-")
        self.addCleanup(util.remove_temp_dir, self.dir)

    def test_bad_values_exit_2(self):
        certs = os.path.join(self.dir, "certs.d")
        cases = [
            (["--mirror-targets", "127.0.0.1:5000"], "127.0.0.1:5000"),
            (["--mirror-targets", "http://127.0.0.1:5000", "--mirror-targets", "_default"],
             "_default"),
            (["--mirror-targets", "http://127.0.0.1:5000", "--mirrored-registries",
              "https://docker.io/library"], "https://docker.io/library"),
            (["--mirror-targets", "http://u:p@127.0.0.1:5000"], "http://u:p@127.0.0.1:5000"),
            (["--mirror-targets", "ftp://127.0.0.1"], "ftp://127.0.0.1"),
            ([], "--mirror-targets"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                res = run_spegel("configuration", "--containerd-registry-config-path", certs,
                                 *args)
                self.assertEqual(res.returncode, 2, res.stderr)
                self.assertIn(needle, res.stderr)
                self.assertFalse(os.path.exists(certs))

    def test_unwritable_path_exit_1(self):
        blocker = os.path.join(self.dir, "file")
        with open(blocker, "w") as f:
            f.write("x")
        for path in (blocker, os.path.join(blocker, "certs.d")):
            with self.subTest(path=path):
                res = run_spegel("configuration", "--containerd-registry-config-path", path,
                                 "--mirror-targets", "http://127.0.0.1:5000")
                self.assertEqual(res.returncode, 1, res.stderr)
                self.assertIn(path, res.stderr)
        with open(blocker) as f:
            self.assertEqual(f.read(), "x")

    def test_a_config_path_list_is_written_into_its_first_entry(self):
        # containerd 2.2's default config_path is a list: Spegel writes into (and cleanup
        # restores) its first entry, and says so; the second entry is never touched.
        first = os.path.join(self.dir, "first")
        second = os.path.join(self.dir, "second")
        os.makedirs(second)
        with open(os.path.join(second, "keep"), "w") as f:
            f.write("untouched\n")
        listed = f"{first}:{second}"
        res = run_spegel("configuration", "--containerd-registry-config-path", listed,
                         "--mirrored-registries", "https://docker.io",
                         "--mirror-targets", "http://127.0.0.1:5000")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("config_path is a list", res.stderr)
        self.assertTrue(os.path.exists(os.path.join(first, "docker.io", "hosts.toml")))
        self.assertEqual(os.listdir(second), ["keep"])
        res = run_spegel("cleanup", "--containerd-registry-config-path", listed)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertFalse(os.path.exists(os.path.join(first, "docker.io", "hosts.toml")))
        self.assertEqual(os.listdir(second), ["keep"])

    def test_cleanup_without_backup_is_a_no_op(self):
        certs = os.path.join(self.dir, "certs.d")
        os.makedirs(os.path.join(certs, "docker.io"))
        with open(os.path.join(certs, "docker.io", "hosts.toml"), "w") as f:
            f.write("server = 'http://127.0.0.1:1'\n")
        before = util.snapshot_tree(certs)
        res = run_spegel("cleanup", "--containerd-registry-config-path", certs)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(util.snapshot_tree(certs), before)


class CleanupHooksTest(unittest.TestCase):
    """Upstream's uninstall hooks: `cleanup --addr` restores, then answers GET /readyz until
    SIGTERM (exit 0); `cleanup-wait --probe-endpoint localhost:PORT` exits 0 once every address
    of the name answered 200 `--threshold` rounds in a row, and 1 at its --timeout when nothing
    answers."""

    def setUp(self):
        self.dir = util.make_temp_dir("sit-cln-")
        self.addCleanup(util.remove_temp_dir, self.dir)

    def test_cleanup_serves_readiness_and_cleanup_wait_sees_it(self):
        certs = os.path.join(self.dir, "certs.d")
        res = run_spegel("configuration", "--containerd-registry-config-path", certs,
                         "--mirror-targets", "http://127.0.0.1:5000")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(os.path.isdir(os.path.join(certs, "_default")), os.listdir(certs))
        port = util.free_port()
        log = os.path.join(self.dir, "cleanup.log")
        # All addresses: localhost may resolve to ::1 as well as 127.0.0.1.
        proc = util.start_process([spegel.spegel_bin(), "cleanup",
                                   "--containerd-registry-config-path", certs,
                                   "--addr", f":{port}"], log)
        self.addCleanup(util.stop_process, proc)

        def ready():
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
                s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return s.recv(100).startswith(b"HTTP/1.1 200 ")
        util.wait_until(ready, 10.0, "cleanup --addr to answer /readyz", 0.05)
        # Restored before it serves: Spegel's _default mirror is gone.
        self.assertFalse(os.path.exists(os.path.join(certs, "_default")), os.listdir(certs))

        t0 = time.monotonic()
        res = run_spegel("cleanup-wait", "--probe-endpoint", f"localhost:{port}",
                         "--threshold", "3", "--period", "100ms", "--timeout", "10s", timeout=20)
        took = time.monotonic() - t0
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertGreaterEqual(took, 0.2, "three rounds are two periods apart at least")
        print(f"      [cleanup hooks] cleanup-wait saw 3 ready rounds in {took:.2f}s", flush=True)

        self.assertEqual(util.stop_process(proc), 0, util.tail(log))

    def test_cleanup_wait_times_out_when_nothing_answers(self):
        port = util.free_port()
        res = run_spegel("cleanup-wait", "--probe-endpoint", f"127.0.0.1:{port}",
                         "--period", "100ms", "--timeout", "1s", timeout=20)
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertIn("timed out", res.stderr)
        bad = run_spegel("cleanup-wait", "--probe-endpoint", "no-port-here")
        self.assertEqual(bad.returncode, 2, bad.stderr)
        self.assertIn("--probe-endpoint", bad.stderr)
