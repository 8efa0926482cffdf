"""Debian's docker-registry (distribution 2.8) on 127.0.0.1:<free port>, storage in a temp dir.

Owner: the test that constructs it; call close() (or use it as a context manager). Not
thread-safe. The access log (stderr of the registry) goes to <dir>/registry.log.
"""

import os
import socket

from . import daemon, util

REGISTRY_BIN = os.environ.get("DOCKER_REGISTRY_BIN", "docker-registry")
START_TIMEOUT = 10.0

MANIFEST_ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])


def config_yaml(addr, data_dir):
    """docker-registry's config: listen on `addr` (":PORT" or "IP:PORT"), store in `data_dir`,
    deletes allowed, the access log on."""
    return f"""version: 0.1
log: {{level: info, accesslog: {{disabled: false}}}}
storage:
  filesystem: {{rootdirectory: {data_dir}}}
  delete: {{enabled: true}}
  cache: {{blobdescriptor: inmemory}}
http:
  addr: "{addr}"
  headers: {{X-Content-Type-Options: [nosniff]}}
health: {{storagedriver: {{enabled: false}}}}
"""


def serve_command(directory, addr):
    """Prepares `directory` (config.yml, data/) for a docker-registry on `addr`; returns
    (argv of `docker-registry serve`, path of its log)."""
    os.makedirs(os.path.join(directory, "data"))
    config = os.path.join(directory, "config.yml")
    with open(config, "w") as f:
        f.write(config_yaml(addr, os.path.join(directory, "data")))
    return [REGISTRY_BIN, "serve", config], os.path.join(directory, "registry.log")


class Registry(daemon.ManagedDaemon):
    """One docker-registry process with its own config and storage."""

    name = "docker-registry"
    stop_timeout = 5.0

    def __init__(self):
        self.dir = util.make_temp_dir("sit-reg-")
        super().__init__(log_path=os.path.join(self.dir, "registry.log"))
        self.port = util.free_port()
        self.addr = f"{util.LOOPBACK}:{self.port}"
        self.url = f"http://{self.addr}"
        self.config_path = os.path.join(self.dir, "config.yml")
        data = os.path.join(self.dir, "data")
        os.makedirs(data)
        with open(self.config_path, "w") as f:
            f.write(config_yaml(self.addr, data))

    def command(self):
        return [REGISTRY_BIN, "serve", self.config_path]

    def start(self):
        """Starts the registry; waits (bounded) until GET /v2/ answers 200."""
        return self.start_and_wait(
            lambda: util.http_request(self.url + "/v2/", timeout=2)[0] == 200, START_TIMEOUT,
            "docker-registry /v2/")

    def stop_for_good(self):
        """Stops the registry and checks its port refuses connections: from then on a pull
        that succeeds can only have been served by a mirror."""
        self.stop()
        with socket.socket() as s:
            s.settimeout(2.0)
            if s.connect_ex((util.LOOPBACK, self.port)) == 0:
                raise util.HarnessError("the upstream registry still accepts connections")

    def manifest_digest(self, repo, reference):
        """Docker-Content-Digest of HEAD /v2/<repo>/manifests/<reference>, or None if absent."""
        status, headers, _ = util.http_request(f"{self.url}/v2/{repo}/manifests/{reference}",
                                               method="HEAD",
                                               headers={"Accept": MANIFEST_ACCEPT})
        if status != 200:
            return None
        return headers.get("docker-content-digest")
