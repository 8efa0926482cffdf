"""The spegel daemon under test (`spegel registry ...`), bound to 127.0.0.1:<free port>.

Owner: the test that constructs it; call stop()/close() in tearDown/finally. Not thread-safe.
The binary is $SPEGEL_BIN (default /work/main/build/src/spegel); stderr goes to <dir>/spegel.log.
"""

import json
import os
import subprocess

from . import daemon, util

READY_TIMEOUT = 15.0


def spegel_bin():
    return os.environ.get("SPEGEL_BIN", "/work/main/build/src/spegel")


def registry_args(ctd_socket, content_dir, addr, namespace="k8s.io", resync="1s",
                  log_level="DEBUG", metrics_addr="127.0.0.1:0", basic_auth_dir=None):
    """The argument list of `spegel registry` as the tests run it. The metrics server and the
    router API get free loopback ports (the defaults :9090 and :5001 would collide between
    parallel spegels; no cluster source is configured, so a node here is a cluster of one); basic auth
    reads `basic_auth_dir` when given (a missing directory means auth off)."""
    args = ["registry", "--containerd-sock", ctd_socket, "--containerd-namespace", namespace,
            "--containerd-content-path", content_dir, "--registry-addr", addr,
            "--resync-interval", resync, "--log-level", log_level, "--metrics-addr", metrics_addr,
            "--router-addr", "127.0.0.1:0"]
    if basic_auth_dir is not None:
        args += ["--basic-auth-dir", basic_auth_dir]
    return args


def preflight_args(ctd):
    """Points spegel's preflight at a Containerd fixture's own config file and certs.d (instead
    of /etc/containerd); no arguments without a fixture."""
    if ctd is None:
        return []
    return ["--containerd-config", ctd.config_path,
            "--containerd-registry-config-path", ctd.certs_d]


def run_to_exit(args, timeout=10.0):
    """Runs spegel with `args` and waits (bounded) for it to exit; returns CompletedProcess."""
    return util.run([spegel_bin()] + list(args), timeout=timeout, check=False)


class Spegel(daemon.ManagedDaemon):
    """One `spegel registry` process pointed at a Containerd fixture (or just a socket path)."""

    name = "spegel"
    log_name = "spegel"

    def __init__(self, ctd=None, socket=None, content_dir=None, extra_args=(), metrics=False):
        """With `metrics`, the metrics server listens on a known free port (metrics_url);
        otherwise on port 0. Basic auth reads <dir>/basic-auth: write `username`/`password`
        there before start() to turn it on (basic_auth())."""
        self.dir = util.make_temp_dir("sit-spg-")
        super().__init__(log_path=os.path.join(self.dir, "spegel.log"),
                         stdout_path=os.path.join(self.dir, "spegel.out"))
        self.port = util.free_port()
        self.addr = f"{util.LOOPBACK}:{self.port}"
        self.url = f"http://{self.addr}"
        self.metrics_port = util.free_port() if metrics else 0
        self.metrics_url = f"http://{util.LOOPBACK}:{self.metrics_port}" if metrics else None
        self.basic_auth_dir = os.path.join(self.dir, "basic-auth")
        self.socket = socket or ctd.socket
        self.content_dir = content_dir or ctd.content_dir
        self.args = registry_args(self.socket, self.content_dir, self.addr,
                                  metrics_addr=f"{util.LOOPBACK}:{self.metrics_port}",
                                  basic_auth_dir=self.basic_auth_dir)
        self.args += preflight_args(ctd) + list(extra_args)

    def command(self):
        return [spegel_bin()] + self.args

    def start(self, wait_ready=True, timeout=READY_TIMEOUT):
        """Starts the daemon; waits until /readyz is 200 (or, with wait_ready=False, until
        /livez answers 200) within `timeout`. One that does not come up is left running (for
        the test to inspect; close() stops it)."""
        self.launch()
        path = "/readyz" if wait_ready else "/livez"
        self.wait_up(lambda: self.status(path) == 200, timeout, f"spegel {path} == 200",
                     explain=True)
        return self

    def stop(self, timeout=10.0):
        """SIGTERM (SIGKILL after `timeout`); returns and remembers the exit code (the last one
        when it was not running)."""
        super().stop(timeout)
        return self.exit_code

    def basic_auth(self, username, password=None):
        """Writes the credentials files (call before start())."""
        os.makedirs(self.basic_auth_dir, exist_ok=True)
        with open(os.path.join(self.basic_auth_dir, "username"), "w") as f:
            f.write(username)
        if password is not None:
            with open(os.path.join(self.basic_auth_dir, "password"), "w") as f:
                f.write(password)

    # ---- HTTP ------------------------------------------------------------------------------

    def metrics_get(self, path, method="GET", headers=None, timeout=5.0):
        """(status, headers, body) of one request to the metrics server (needs metrics=True)."""
        if self.metrics_url is None:
            raise util.HarnessError("this Spegel was started without a known metrics port")
        return util.http_request(self.metrics_url + path, method=method, headers=headers,
                                 timeout=timeout)

    def get(self, path, method="GET", headers=None, timeout=5.0):
        """(status, headers, body) of one request to this spegel (loopback only)."""
        return util.http_request(self.url + path, method=method, headers=headers, timeout=timeout)

    def status(self, path):
        """HTTP status of GET path, or None if the connection failed."""
        try:
            return self.get(path, timeout=2.0)[0]
        except (OSError, subprocess.SubprocessError):
            return None

    def wait_tags(self, want, timeout, what):
        """Waits until /debug/index maps every tag key in `want` to its digest."""
        def indexed():
            tags = {t["ref"]: t["digest"] for t in self.debug_index()["tags"]}
            return all(tags.get(k) == v for k, v in want.items())
        util.wait_until(indexed, timeout, what, 0.1)

    def debug_index(self):
        """Parsed JSON of GET /debug/index; raises HarnessError on a non-200 or bad JSON."""
        status, _, body = self.get("/debug/index")
        if status != 200:
            raise util.HarnessError(f"/debug/index answered {status}: {body[:500]!r}")
        try:
            return json.loads(body)
        except ValueError as e:
            raise util.HarnessError(f"/debug/index is not JSON: {body[:500]!r}") from e

    # ---- logs ------------------------------------------------------------------------------

    def log_lines_with(self, *needles, levels=None):
        """Log lines containing every one of `needles` (and, if `levels` is given, whose JSON
        "level" is one of them)."""
        out = []
        for line in self.log_text().splitlines():
            if not all(n in line for n in needles):
                continue
            if levels is not None:
                try:
                    if json.loads(line).get("level") not in levels:
                        continue
                except ValueError:
                    continue
            out.append(line)
        return out

    def wait_log(self, *needles, timeout=10.0, levels=None):
        """Waits (bounded) for a log line containing all needles; returns the first such line."""
        lines = util.wait_until(lambda: self.log_lines_with(*needles, levels=levels), timeout,
                                f"a spegel log line containing {needles!r}"
                                + (f" at level {levels}" if levels else ""), 0.1)
        return lines[0]
