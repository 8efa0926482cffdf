"""Preflight against a real containerd 1.6 started with each configuration Spegel cannot work
with (discard_unpacked_layers = true, no config_path, a config_path without Spegel's certs.d), and
with a good one: `spegel preflight` alone and `spegel registry` at start. containerd 2.x rules are
covered by unit tests (only 1.6 is installable here)."""

import json
import os
import time
import unittest

from harness import containerd, spegel, util


def preflight_args(ctd, *extra):
    return ["preflight", "--containerd-sock", ctd.socket] + spegel.preflight_args(ctd) + list(extra)


def refusal_log(stderr):
    """The parsed JSON log line "preflight refused", or None."""
    for line in stderr.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("msg") == "preflight refused":
            return doc
    return None


class PreflightTestCase(unittest.TestCase):
    CTD_OPTIONS = {}

    def setUp(self):
        self.ctd = containerd.Containerd(**self.CTD_OPTIONS)
        self.addCleanup(self.ctd.close)
        self.ctd.start()

    def run_preflight(self, *extra):
        started = time.monotonic()
        res = spegel.run_to_exit(preflight_args(self.ctd, *extra), timeout=30.0)
        self.assertLess(time.monotonic() - started, 15.0)
        return res

    def run_registry_to_exit(self, *extra):
        """`spegel registry` on the fixture; it must exit by itself (bounded)."""
        args = spegel.registry_args(self.ctd.socket, self.ctd.content_dir,
                                    f"{util.LOOPBACK}:{util.free_port()}",
                                    metrics_addr=f"{util.LOOPBACK}:0")
        return spegel.run_to_exit(args + spegel.preflight_args(self.ctd) + list(extra),
                                  timeout=30.0)

    def assert_refused(self, res, *needles):
        self.assertEqual(res.returncode, 1, f"stdout: {res.stdout}\nstderr: {res.stderr}")
        for needle in needles:
            self.assertIn(needle, res.stderr)
        # the same message as a JSON log line at ERROR
        doc = refusal_log(res.stderr)
        self.assertIsNotNone(doc, res.stderr)
        self.assertEqual(doc["level"], "ERROR")
        for needle in needles:
            self.assertIn(needle, doc["error"])
        # and the fix: which file, and that containerd needs a restart
        self.assertIn(f"Fix: add these lines to {self.ctd.config_path}", res.stderr)
        self.assertIn("then restart containerd", res.stderr)


class GoodConfigTest(PreflightTestCase):
    def test_preflight_passes(self):
        res = self.run_preflight()
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(f"config_path {self.ctd.certs_d}", res.stdout)
        self.assertIn("1.6.", res.stdout)
        self.assertIn('"msg":"preflight passed"', res.stderr)

    def test_registry_starts_after_passing_preflight(self):
        sp = spegel.Spegel(self.ctd)
        self.addCleanup(sp.close)
        sp.start()
        line = json.loads(sp.wait_log('"preflight passed"'))
        self.assertEqual(line["config_path"], self.ctd.certs_d)
        self.assertTrue(line["containerd_version"].startswith("1.6."))

    def test_effective_config_wins_over_a_stale_file(self):
        """The CRI status is what containerd runs with; a file it does not use cannot refuse."""
        stale = os.path.join(self.ctd.dir, "stale.toml")
        with open(stale, "w") as f:
            f.write('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n'
                    "  discard_unpacked_layers = true\n")
        res = self.run_preflight("--containerd-config", stale)
        self.assertEqual(res.returncode, 0, res.stderr)

    def test_certs_d_elsewhere_is_refused_with_the_flag_to_use(self):
        other = os.path.join(self.ctd.dir, "elsewhere.d")
        res = self.run_preflight("--containerd-registry-config-path", other)
        self.assert_refused(res, f'config_path is "{self.ctd.certs_d}"',
                            f"does not include {other}",
                            f"--containerd-registry-config-path {self.ctd.certs_d}",
                            f'config_path = "{other}"')


class DiscardUnpackedLayersTest(PreflightTestCase):
    CTD_OPTIONS = {"discard_unpacked_layers": True}

    NEEDLES = ("discard_unpacked_layers is true",
               "Spegel has nothing to serve",
               '  [plugins."io.containerd.grpc.v1.cri".containerd]\n'
               "    discard_unpacked_layers = false")

    def test_preflight_refuses(self):
        res = self.run_preflight()
        self.assert_refused(res, *self.NEEDLES)
        self.assertNotIn("config_path is", res.stderr)  # that part is fine

    def test_registry_refuses_to_start(self):
        res = self.run_registry_to_exit()
        self.assert_refused(res, *self.NEEDLES)
        self.assertNotIn("spegel registry started", res.stderr)

    def test_skip_preflight_starts_anyway(self):
        sp = spegel.Spegel(self.ctd, extra_args=["--skip-preflight"])
        self.addCleanup(sp.close)
        sp.start()
        self.assertFalse(sp.log_lines_with("preflight"))


class NoConfigPathTest(PreflightTestCase):
    CTD_OPTIONS = {"registry_config_path": None}

    def test_preflight_refuses(self):
        res = self.run_preflight()
        self.assert_refused(res, "config_path is not set",
                            f"never reads the hosts.toml files Spegel writes under "
                            f"{self.ctd.certs_d}",
                            '  [plugins."io.containerd.grpc.v1.cri".registry]\n'
                            f'    config_path = "{self.ctd.certs_d}"')

    def test_registry_refuses_to_start(self):
        res = self.run_registry_to_exit()
        self.assert_refused(res, "config_path is not set")


class ConfigPathWithoutCertsDTest(PreflightTestCase):
    """config_path lists directories, none of them the one Spegel writes."""

    def setUp(self):
        self.other = util.make_temp_dir("sit-certs-")
        self.addCleanup(util.remove_temp_dir, self.other)
        self.CTD_OPTIONS = {"registry_config_path": f"{self.other}:{self.other}/more"}
        super().setUp()

    def test_preflight_refuses(self):
        res = self.run_preflight()
        self.assert_refused(res, f'config_path is "{self.other}:{self.other}/more"',
                            f"does not include {self.ctd.certs_d}",
                            f"--containerd-registry-config-path {self.other}")

    def test_registry_refuses_to_start(self):
        res = self.run_registry_to_exit()
        self.assert_refused(res, f"does not include {self.ctd.certs_d}")

    def test_a_list_that_includes_certs_d_passes(self):
        res = self.run_preflight("--containerd-registry-config-path", f"{self.other}/more/")
        self.assertEqual(res.returncode, 0, res.stderr)


class UnreachableTest(unittest.TestCase):
    def test_preflight_says_it_could_not_check(self):
        d = util.make_temp_dir("sit-pre-")
        self.addCleanup(util.remove_temp_dir, d)
        started = time.monotonic()
        res = spegel.run_to_exit(["preflight", "--containerd-sock", os.path.join(d, "none.sock"),
                                  "--containerd-timeout", "2s"], timeout=30.0)
        self.assertLess(time.monotonic() - started, 10.0)
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertIn("cannot reach containerd", res.stderr)
        self.assertIsNone(refusal_log(res.stderr))


if __name__ == "__main__":
    unittest.main()
