"""A real containerd (with the CRI plugin) confined to one temp dir.

Owner: the test that constructs it; call close() in tearDown/finally (also usable as a context
manager). Not thread-safe: drive it from the test thread.

Layout of the temp dir (short, under /tmp, because unix socket paths are limited to 108 bytes):
  config.toml, containerd.log, root/, state/, opt/, certs.d/, cni/, c.sock (+ .ttrpc), d.sock
Nothing is written outside it: the opt plugin path points inside too (environment.md §4).
"""

import hashlib
import os
import re

from . import daemon, util

CONTAINERD_BIN = os.environ.get("CONTAINERD_BIN", "containerd")
CTR_BIN = os.environ.get("CTR_BIN", "ctr")
NAMESPACE = "k8s.io"
START_TIMEOUT = 10.0

_IMAGE_LINE = re.compile(r"^(?P<name>.*?)\s+(?P<type>application/\S+)\s+(?P<digest>sha256:[0-9a-f]{64})\s")


def _require_loopback(urls):
    """Raises HarnessError unless every URL is loopback (tests never send traffic elsewhere)."""
    for url in urls:
        if not url.startswith(("http://127.0.0.1", "http://[::1]", "http://localhost")):
            raise util.HarnessError(f"refusing non-loopback registry URL {url}")


# Default of Containerd(registry_config_path=...): the fixture's own certs.d.
CERTS_D = object()


# containerd's debug log line for each registry response it received, and the digest in its URL.
_FETCH_RESPONSE = re.compile(r'msg="fetch response received".*?response\.status="(?P<status>[^"]+)"'
                             r'.*?url="(?P<url>[^"]+)"')
DIGEST_IN_URL = re.compile(r"/(?:manifests|blobs)/(sha256:[0-9a-f]{64})")


def fetch_responses(log_text):
    """[(url, status)] of every registry response a containerd debug log shows, in order."""
    return [(m.group("url"), m.group("status")) for m in _FETCH_RESPONSE.finditer(log_text)]


class Containerd(daemon.ManagedDaemon):
    """One containerd daemon on its own root/state/sockets; restartable on the same root.

    The CRI settings Spegel depends on can be changed for preflight tests:
    `discard_unpacked_layers` (default False) and `registry_config_path` (default: this fixture's
    certs.d; None leaves config_path out of config.toml; any other string is written as is).
    `state_dir` puts everything in that directory (created if needed) instead of a new temp dir
    (scripts/demo.py; close() removes it like a temp dir).
    """

    name = "containerd"

    def __init__(self, discard_unpacked_layers=False, registry_config_path=CERTS_D,
                 state_dir=None):
        if state_dir is None:
            self.dir = util.make_temp_dir("sit-ctd-")
        else:
            os.makedirs(state_dir, exist_ok=True)
            self.dir = state_dir
        super().__init__(log_path=os.path.join(self.dir, "containerd.log"))
        self.root = os.path.join(self.dir, "root")
        self.state = os.path.join(self.dir, "state")
        self.certs_d = os.path.join(self.dir, "certs.d")
        self.socket = os.path.join(self.dir, "c.sock")
        self.config_path = os.path.join(self.dir, "config.toml")
        self.discard_unpacked_layers = discard_unpacked_layers
        self.registry_config_path = (self.certs_d if registry_config_path is CERTS_D
                                     else registry_config_path)
        for d in (self.root, self.state, self.certs_d, os.path.join(self.dir, "cni"),
                  os.path.join(self.dir, "opt")):
            os.makedirs(d, exist_ok=True)
        self._write_config()

    @property
    def content_dir(self):
        """The content store root (blobs/sha256/<hex> live under it)."""
        return os.path.join(self.root, "io.containerd.content.v1.content")

    def blob_path(self, digest):
        algo, hexpart = digest.split(":", 1)
        return os.path.join(self.content_dir, "blobs", algo, hexpart)

    def _write_config(self):
        d = self.dir
        discard = "true" if self.discard_unpacked_layers else "false"
        registry = ("" if self.registry_config_path is None else
                    f'config_path = "{self.registry_config_path}"')
        text = f"""version = 2
root = "{self.root}"
state = "{self.state}"

[grpc]
  address = "{self.socket}"

[ttrpc]
  address = "{self.socket}.ttrpc"

[debug]
  address = "{d}/d.sock"
  level = "debug"

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.6"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      discard_unpacked_layers = {discard}
    [plugins."io.containerd.grpc.v1.cri".registry]
      {registry}
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "{d}/cni-bin"
      conf_dir = "{d}/cni"
  [plugins."io.containerd.internal.v1.opt"]
    path = "{d}/opt"
"""
        with open(self.config_path, "w") as f:
            f.write(text)

    # ---- lifecycle -------------------------------------------------------------------------

    def command(self):
        return [CONTAINERD_BIN, "--config", self.config_path]

    def start_banner(self):
        return "starting containerd"

    def start(self):
        """Starts the daemon and waits (bounded) until `ctr version` answers on its socket."""
        return self.start_and_wait(self._answers, START_TIMEOUT,
                                   "containerd to answer `ctr version`", self.start_banner())

    def _answers(self):
        return util.run([CTR_BIN, "--address", self.socket, "version"], timeout=5,
                        check=False).returncode == 0

    def restart(self):
        self.stop()
        return self.start()

    # ---- tools -----------------------------------------------------------------------------

    def ctr(self, *args, check=True, timeout=60, input_bytes=None, namespace=NAMESPACE):
        """Runs `ctr --address SOCK -n NAMESPACE ARGS...`; returns CompletedProcess (text)."""
        cmd = [CTR_BIN, "--address", self.socket]
        if namespace:
            cmd += ["-n", namespace]
        return util.run(cmd + list(args), timeout=timeout, check=check, input_bytes=input_bytes)

    def content_digests(self):
        """Set of digests present in the content store (`ctr content ls -q`)."""
        out = self.ctr("content", "ls", "-q").stdout
        return {line.strip() for line in out.splitlines() if line.strip()}

    def wait_content(self, expected, timeout=10.0):
        """Waits (bounded) until the content store holds exactly the digests in `expected`.

        Needed after `ctr images import`: it writes every blob of the tar, and containerd's
        asynchronous GC removes the ones no image references (other platforms) shortly after.
        """
        expected = set(expected)
        last = {}

        def same():
            last["got"] = self.content_digests()
            return last["got"] == expected
        try:
            util.wait_until(same, timeout, "the content store to settle", 0.1)
        except TimeoutError:
            got = last.get("got", set())
            raise AssertionError(f"content store did not settle within {timeout}s: "
                                 f"extra {sorted(got - expected)}, "
                                 f"missing {sorted(expected - got)}") from None

    def images(self):
        """Dict image name -> (target digest, target media type) from `ctr images ls`."""
        result = {}
        for line in self.ctr("images", "ls").stdout.splitlines()[1:]:
            m = _IMAGE_LINE.match(line)
            if m:
                result[m.group("name")] = (m.group("digest"), m.group("type"))
        return result

    def ingest(self, data, ref="harness-ingest"):
        """Writes bytes into the content store; returns the digest. Labels it as a GC root so it
        survives until the test removes it."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        # ctr ingests under a temporary lease; once it ends, GC may collect the blob before the
        # label lands. Retry a few times: the label makes it a GC root for good.
        last = None
        for _ in range(5):
            self.ctr("content", "ingest", "--expected-size", str(len(data)),
                     "--expected-digest", digest, f"{ref}-{digest[7:19]}", input_bytes=data)
            last = self.ctr("content", "label", digest, "containerd.io/gc.root=harness",
                            check=False)
            if last.returncode == 0:
                return digest
        raise util.HarnessError(f"could not ingest and pin {digest}: {last.stderr}")

    def write_hosts_toml(self, host, server=None, mirrors=()):
        """Writes certs.d/<host>/hosts.toml: mirrors first (pull+resolve), then `server`.

        `server` defaults to http://<host>; every URL must be loopback (tests never leave it).
        """
        server = server or f"http://{host}"
        _require_loopback((server, *mirrors))
        return self.write_hosts(host, server, mirrors)

    def write_hosts_toml_strict(self, host, server, mirrors=()):
        """Like write_hosts_toml, but the file always has a [host] table, so containerd 1.6
        accepts it even without mirrors.

        containerd 1.6.20 rejects a hosts.toml that has `server` and no [host] table ("failed to
        decode hosts.toml: invalid `host` tree") and then uses its defaults: for docker.io that
        is https://registry-1.docker.io, which tests must never reach. Here the upstream is
        listed as the last [host] (pull+resolve) as well as `server`. Loopback URLs only.
        """
        _require_loopback((server, *mirrors))
        return self.write_hosts(host, server, (*mirrors, server))

    def write_hosts(self, host, server, hosts):
        """Writes certs.d/<host>/hosts.toml: `server`, then one [host] table (pull+resolve) for
        each URL in `hosts`, in order; returns its path. The caller has checked the URLs."""
        lines = [f'server = "{server}"', ""]
        for m in hosts:
            lines += [f'[host."{m}"]', '  capabilities = ["pull", "resolve"]', ""]
        d = os.path.join(self.certs_d, host)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "hosts.toml")
        with open(path, "w") as f:
            f.write("\n".join(lines))
        return path

    def hosts_toml_rejected(self):
        """True if containerd logged that it could not decode a hosts.toml (it then falls back
        to built-in defaults, e.g. registry-1.docker.io for docker.io)."""
        try:
            with open(self.log_path, "rb") as f:
                return b"failed to decode hosts.toml" in f.read()
        except OSError:
            return False
