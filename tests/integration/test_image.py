"""The container image from scripts/build-image, run by a real containerd with `ctr run`.

The image is built offline from $SPEGEL_BIN twice (the bytes must be identical: reproducible),
imported into the test containerd's k8s.io namespace, and run the way the DaemonSet runs it:
host network, read-only root filesystem, containerd's socket at /run/containerd/containerd.sock
and its content store read-only at /var/lib/containerd/io.containerd.content.v1.content, so the
daemon inside uses its default paths. The container then serves its own image: /v2/, the
manifest by tag and digest, and the layer blob (read from the read-only content mount).
"""

import hashlib
import json
import os
import subprocess
import tarfile
import unittest
import uuid

from harness import containerd, spegel, util

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_IMAGE = os.path.join(ROOT, "scripts", "build-image")
REPOSITORY = "ghcr.io/spegel-org/spegel-cpp"
CONTENT_IN_CONTAINER = "/var/lib/containerd/io.containerd.content.v1.content"
SOCKET_IN_CONTAINER = "/run/containerd/containerd.sock"
READY_TIMEOUT = 20.0


def _build(output):
    res = util.run([BUILD_IMAGE, "--binary", spegel.spegel_bin(), "--output", output],
                   timeout=300)
    lines = res.stdout.strip().splitlines()
    fields = dict(line.split(None, 1) for line in lines[:-1])
    return lines[-1], fields["reference"], fields["manifest"]


def _layout_member(tar_path, name):
    with tarfile.open(tar_path) as tar:
        return tar.extractfile(name).read()


class ImageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = util.make_temp_dir("sit-img-")
        cls.ctd = containerd.Containerd()
        try:
            cls.tar_path, cls.ref, cls.digest = _build(os.path.join(cls.dir, "spegel.oci.tar"))
            cls.version = util.run([spegel.spegel_bin(), "version"]).stdout.split()[2]
            cls.ctd.start()
            cls.ctd.ctr("images", "import", cls.tar_path, timeout=120)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.ctd.close()
        finally:
            util.remove_temp_dir(cls.dir)

    def test_build_is_reproducible_and_tagged_with_the_version(self):
        again, ref, digest = _build(os.path.join(self.dir, "again.oci.tar"))
        self.assertEqual(ref, f"{REPOSITORY}:{self.version}")
        self.assertEqual(digest, self.digest)
        with open(self.tar_path, "rb") as a, open(again, "rb") as b:
            self.assertEqual(hashlib.sha256(a.read()).hexdigest(),
                             hashlib.sha256(b.read()).hexdigest())
        index = json.loads(_layout_member(self.tar_path, "index.json"))
        (desc,) = index["manifests"]
        self.assertEqual(desc["digest"], digest)
        self.assertEqual(desc["platform"], {"architecture": "amd64", "os": "linux"})
        self.assertEqual(desc["annotations"]["io.containerd.image.name"], ref)
        manifest = json.loads(_layout_member(self.tar_path, "blobs/sha256/" + digest[7:]))
        config = json.loads(_layout_member(
            self.tar_path, "blobs/sha256/" + manifest["config"]["digest"][7:]))
        self.assertEqual(config["config"]["Entrypoint"], ["/usr/bin/spegel"])
        self.assertEqual((config["os"], config["architecture"]), ("linux", "amd64"))
        self.assertEqual(self.ctd.images()[ref][0], digest)

    def test_ctr_run_serves_v2_from_the_daemonset_mounts(self):
        port = util.free_port()
        cid = f"spegel-img-{uuid.uuid4().hex[:12]}"
        log_path = os.path.join(self.dir, f"{cid}.log")
        args = [containerd.CTR_BIN, "--address", self.ctd.socket, "-n", containerd.NAMESPACE,
                "run", "--rm", "--net-host", "--read-only",
                "--mount", f"type=bind,src={self.ctd.socket},dst={SOCKET_IN_CONTAINER},"
                           "options=rbind:rw",
                "--mount", f"type=bind,src={self.ctd.content_dir},dst={CONTENT_IN_CONTAINER},"
                           "options=rbind:ro",
                # certs.d at the node's own path, as the DaemonSet mounts /etc/containerd/certs.d,
                # so preflight sees that containerd's config_path covers it.
                "--mount", f"type=bind,src={self.ctd.certs_d},dst={self.ctd.certs_d},"
                           "options=rbind:ro",
                self.ref, cid,
                "/usr/bin/spegel", "registry", f"--registry-addr=127.0.0.1:{port}",
                f"--containerd-registry-config-path={self.ctd.certs_d}",
                "--metrics-addr=127.0.0.1:0", "--router-addr=127.0.0.1:0", "--resync-interval=1s"]
        proc = util.start_process(args, log_path)
        base = f"http://127.0.0.1:{port}"
        try:
            def ready():
                if proc.poll() is not None:
                    raise util.HarnessError(f"ctr run exited with {proc.returncode}:\n"
                                            f"{util.tail(log_path)}")
                try:
                    return util.http_request(base + "/readyz", timeout=2.0)[0] == 200
                except OSError:
                    return False
            try:
                util.wait_until(ready, READY_TIMEOUT, "spegel in the container to be ready", 0.1)
            except TimeoutError as e:
                raise AssertionError(f"{e}\n{util.tail(log_path)}") from None

            status, _, body = util.http_request(base + "/v2/")
            self.assertEqual(status, 200, body)
            self.assertEqual(util.http_request(base + "/livez")[0], 200)

            # The container serves its own image out of the read-only content mount.
            repo = REPOSITORY.split("/", 1)[1]
            registry_host = REPOSITORY.split("/", 1)[0]
            by_tag = f"{base}/v2/{repo}/manifests/{self.version}?ns={registry_host}"
            status, headers, body = util.http_request(by_tag)
            self.assertEqual(status, 200, body)
            self.assertEqual(headers["docker-content-digest"], self.digest)
            self.assertEqual("sha256:" + hashlib.sha256(body).hexdigest(), self.digest)
            layer = json.loads(body)["layers"][0]
            status, headers, blob = util.http_request(
                f"{base}/v2/{repo}/blobs/{layer['digest']}?ns={registry_host}", timeout=30.0)
            self.assertEqual(status, 200)
            self.assertEqual(len(blob), layer["size"])
            self.assertEqual("sha256:" + hashlib.sha256(blob).hexdigest(), layer["digest"])
            self.assertIn('"connected to containerd"', util.tail(log_path, 20000))
            self.assertIn(CONTENT_IN_CONTAINER, util.tail(log_path, 20000))
        finally:
            self._stop_container(proc, cid)
        # --rm removed the container once the task ended.
        self.assertNotIn(cid, self.ctd.ctr("containers", "ls", "-q").stdout.split())
        self.assertIn('"exit gracefully"', util.tail(log_path, 20000))

    def _stop_container(self, proc, cid):
        """SIGTERM the task by id (SIGKILL if it lingers), then make sure the container is gone."""
        self.ctd.ctr("task", "kill", "-s", "SIGTERM", cid, check=False, timeout=20)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.ctd.ctr("task", "kill", "-s", "SIGKILL", cid, check=False, timeout=20)
        util.stop_process(proc, term_timeout=10)
        if cid in self.ctd.ctr("containers", "ls", "-q", check=False).stdout.split():
            self.ctd.ctr("task", "delete", "--force", cid, check=False, timeout=20)
            self.ctd.ctr("containers", "delete", cid, check=False, timeout=20)


if __name__ == "__main__":
    unittest.main()
