"""scripts/run on a machine with no containerd at the socket it is given: the demo node (issue 9).

`scripts/run` with a --containerd-sock that does not exist (auto-detection) and `scripts/run
--demo` (explicitly; also over the state a SIGKILLed earlier run left) must print the demo line
first, get ready within 60 s (the build is done before: the test runs ninja first), print curl
lines that real curl can use (manifest body hashes to its Docker-Content-Digest, blob hashes to
its digest), and on SIGTERM leave no process behind: neither one it recorded in pids.json nor any
whose cwd or arguments point into the demo dir. With a containerd that answers, scripts/run runs
`spegel registry` against it, and a preflight refusal adds the `scripts/run --demo` hint.

Every demo uses a temp --demo-dir and free loopback ports (the defaults 5000/9090 may be busy).
"""

import hashlib
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

from harness import containerd, spegel, util

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN = os.path.join(REPO, "scripts", "run")
CURL_BIN = os.environ.get("CURL_BIN", "curl")
READY_BOUND_S = 60.0








def curl(url, headers=()):
    """GET with the real curl; returns (status, headers lower-cased, body bytes)."""
    with tempfile.NamedTemporaryFile(prefix="sit-curl-", dir="/tmp") as body_file:
        args = [CURL_BIN, "-sS", "--max-time", "20", "-D", "-", "-o", body_file.name]
        for h in headers:
            args += ["-H", h]
        res = util.run(args + [url], timeout=30, check=False)
        if res.returncode != 0:
            raise util.HarnessError(f"curl {url} failed ({res.returncode}): {res.stderr}")
        with open(body_file.name, "rb") as f:
            body = f.read()
    lines = res.stdout.replace("\r", "").split("\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, sep, v = line.partition(":")
        if sep:
            hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


class DemoRun:
    """One `scripts/run ...` process; stdout and stderr go (in order) to one file."""

    def __init__(self, test, args, tmp):
        self.test = test
        self.tmp = tmp
        self.log = os.path.join(tmp, f"run-{len(os.listdir(tmp))}.log")
        self.started = time.monotonic()
        self.proc = util.start_process(["bash", RUN] + list(args), self.log)
        test.addCleanup(self.stop)

    def text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def lines(self):
        return self.text().splitlines()

    def wait_ready(self, timeout=READY_BOUND_S):
        """Waits until the try-lines are printed; returns the seconds it took."""
        def printed():  # wait_until treats exceptions as "not yet": an exit ends the wait too
            return self.proc.poll() is not None or any(
                line.startswith("  status page: ") for line in self.lines())
        try:
            util.wait_until(printed, timeout, "scripts/run to print the try-lines", 0.1)
        except TimeoutError as e:
            self.test.fail(f"{e}\noutput:\n{self.text()[-4000:]}")
        if self.proc.poll() is not None:
            self.test.fail(f"scripts/run exited with {self.proc.returncode}:\n"
                           f"{self.text()[-4000:]}")
        return time.monotonic() - self.started

    def try_lines(self):
        """{'v2': url, 'manifest': (url, accept), 'blob': url, 'status': url} from the output."""
        out = {}
        for line in self.lines():
            url = re.search(r"http://\S+", line)
            if line.startswith("  curl ") and url:
                if "/manifests/" in line:
                    accept = re.search(r"-H 'Accept: ([^']+)'", line)
                    out["manifest"] = (url.group(0), accept.group(1) if accept else None)
                elif "/blobs/" in line:
                    out["blob"] = url.group(0)
                elif url.group(0).endswith("/v2/"):
                    out["v2"] = url.group(0)
            elif line.startswith("  status page: ") and url:
                out["status"] = url.group(0)
        return out

    def stop(self, sig=signal.SIGTERM, timeout=30.0):
        return util.stop_process(self.proc, term_timeout=timeout, sig=sig)


class DemoNodeTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        # the build is not part of the 60 s bound: bring build/src/spegel up to date first
        util.run(["ninja", "-C", os.path.join(REPO, "build"), "src/spegel"], timeout=1800)

    def setUp(self):
        self.tmp = util.make_temp_dir("sit-demo-")
        self.addCleanup(util.remove_temp_dir, self.tmp)
        self.demo_dir = os.path.join(self.tmp, "d")
        self.ports = [util.free_port() for _ in range(3)]
        self.recorded = []  # pids.json entries seen, for the leak check and the cleanup
        self.addCleanup(self._kill_recorded)

    def _kill_recorded(self):
        for e in self.recorded:
            if util.proc_cmdline(e["pid"]) == e["cmdline"]:
                os.kill(e["pid"], signal.SIGKILL)

    def demo_args(self, *extra):
        reg, met, rtr = self.ports
        return ["--containerd-sock", os.path.join(self.tmp, "no-such.sock"),
                "--demo-dir", self.demo_dir, "--registry-addr", f"127.0.0.1:{reg}",
                "--metrics-addr", f"127.0.0.1:{met}", "--router-addr", f"127.0.0.1:{rtr}",
                *extra]

    def read_pids(self):
        with open(os.path.join(self.demo_dir, "pids.json")) as f:
            entries = json.load(f)["pids"]
        self.recorded += entries
        return entries

    def check_serves(self, run):
        urls = run.try_lines()
        self.assertEqual(set(urls), {"v2", "manifest", "blob", "status"}, run.text())
        reg, met, _ = self.ports
        for key in ("v2", "blob"):
            self.assertTrue(urls[key].startswith(f"http://127.0.0.1:{reg}/v2/"), urls)
        self.assertTrue(urls["manifest"][0].startswith(f"http://127.0.0.1:{reg}/v2/"), urls)
        self.assertEqual(urls["status"], f"http://127.0.0.1:{met}/")

        status, _, body = curl(urls["v2"])
        self.assertEqual((status, body), (200, b"{}"))

        url, accept = urls["manifest"]
        self.assertIsNotNone(accept, "the manifest line carries an Accept header")
        status, headers, body = curl(url, [f"Accept: {accept}"])
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(headers.get("content-type"), accept)
        self.assertEqual("sha256:" + hashlib.sha256(body).hexdigest(),
                         headers.get("docker-content-digest"))
        layers = [d["digest"] for d in json.loads(body)["layers"]]

        status, headers, body = curl(urls["blob"])
        digest = urls["blob"].rsplit("/", 1)[1]
        self.assertEqual(status, 200)
        self.assertIn(digest, layers, "the printed blob is a layer of the printed manifest")
        self.assertEqual("sha256:" + hashlib.sha256(body).hexdigest(), digest)
        self.assertEqual(int(headers["content-length"]), len(body))

        status, _, body = curl(urls["status"])
        self.assertEqual(status, 200)
        self.assertIn(b"Spegel", body)

    def stop_and_check_clean(self, run, entries):
        netns_before = {n for n in util.netns_names() if n.startswith(f"sc{run.proc.pid}-")}
        for e in entries:
            self.assertEqual(util.proc_cmdline(e["pid"]), e["cmdline"],
                             f"{e['what']} runs until SIGTERM")
        code = run.stop(signal.SIGTERM, timeout=30.0)
        self.assertEqual(code, 0, run.text()[-3000:])
        for e in entries:
            self.assertNotEqual(util.proc_cmdline(e["pid"]), e["cmdline"],
                                f"{e['what']} (PID {e['pid']}) still runs after SIGTERM")
        left = util.procs_pointing_into(self.tmp)
        self.assertEqual(left, [], f"processes left in the demo dir: "
                                   f"{[(p, util.proc_cmdline(p)) for p in left]}")
        self.assertEqual(netns_before, set())
        self.assertEqual({n for n in util.netns_names() if n.startswith(f"sc{run.proc.pid}-")},
                         set(), "namespaces left behind")
        self.assertIn("demo: stopped spegel and containerd", run.text())

    def test_auto_demo_without_containerd(self):
        run = DemoRun(self, self.demo_args(), self.tmp)
        took = run.wait_ready()
        sock = os.path.join(self.tmp, "no-such.sock")
        self.assertEqual(run.lines()[0],
                         f"demo: no containerd answers on {sock}; starting a demo node under "
                         f"{self.demo_dir} (scripts/run --demo)")
        print(f"      scripts/run without containerd: try-lines after {took:.1f} s", flush=True)
        self.assertLess(took, READY_BOUND_S)
        entries = self.read_pids()
        self.assertEqual(sorted(e["what"] for e in entries), ["containerd", "spegel"])
        self.check_serves(run)
        # nothing outside the demo dir: containerd's root, state and sockets are inside it
        with open(os.path.join(self.demo_dir, "ctd", "config.toml")) as f:
            config = f.read()
        for path in re.findall(r'"(/[^"]*)"', config):
            self.assertTrue(path.startswith(self.demo_dir + "/"), path)
        self.stop_and_check_clean(run, entries)

    def test_explicit_demo_over_a_killed_run(self):
        first = DemoRun(self, self.demo_args("--demo"), self.tmp)
        first.wait_ready()
        self.assertTrue(first.lines()[0].startswith("demo: --demo given; starting a demo node "
                                                    f"under {self.demo_dir} "), first.lines()[0])
        stale = self.read_pids()
        first.stop(signal.SIGKILL)  # containerd and spegel stay behind, as after a crash
        for e in stale:
            self.assertEqual(util.proc_cmdline(e["pid"]), e["cmdline"], "orphan of the killed run")

        second = DemoRun(self, self.demo_args("--demo"), self.tmp)
        took = second.wait_ready()
        self.assertLess(took, READY_BOUND_S)
        self.assertTrue(second.lines()[0].startswith("demo: --demo given;"), second.lines()[0])
        for e in stale:
            self.assertNotEqual(util.proc_cmdline(e["pid"]), e["cmdline"],
                                f"the killed run's {e['what']} (PID {e['pid']}) was stopped")
        self.check_serves(second)
        self.stop_and_check_clean(second, self.read_pids())


class RunWithContainerdTest(unittest.TestCase):
    """scripts/run when a containerd answers: `spegel registry` against it, not the demo."""

    def run_args(self, ctd, reg_port):
        return ["--containerd-sock", ctd.socket, "--containerd-namespace", "k8s.io",
                "--containerd-content-path", ctd.content_dir,
                "--registry-addr", f"127.0.0.1:{reg_port}", "--metrics-addr", "127.0.0.1:0",
                "--router-addr", "127.0.0.1:0"] + spegel.preflight_args(ctd)

    def test_registry_against_an_answering_containerd(self):
        ctd = containerd.Containerd()
        self.addCleanup(ctd.close)
        ctd.start()
        tmp = util.make_temp_dir("sit-demo-")
        self.addCleanup(util.remove_temp_dir, tmp)
        port = util.free_port()
        run = DemoRun(self, self.run_args(ctd, port), tmp)

        def ready():
            if run.proc.poll() is not None:
                return True
            try:
                return util.http_request(f"http://127.0.0.1:{port}/readyz", timeout=2.0)[0] == 200
            except OSError:
                return False
        util.wait_until(ready, READY_BOUND_S, "spegel /readyz via scripts/run", 0.2)
        self.assertIsNone(run.proc.poll(), f"scripts/run exited:\n{run.text()[-4000:]}")
        self.assertFalse(any(line.startswith("demo") for line in run.lines()), run.text())
        # scripts/run exec'd the daemon: its PID is spegel's
        self.assertEqual(os.path.basename(util.proc_cmdline(run.proc.pid)[0]), "spegel")
        self.assertEqual(run.stop(), 0)

    def test_preflight_refusal_names_the_demo(self):
        ctd = containerd.Containerd(discard_unpacked_layers=True)
        self.addCleanup(ctd.close)
        ctd.start()
        res = util.run(["bash", RUN] + self.run_args(ctd, util.free_port()), timeout=300,
                       check=False)
        self.assertEqual(res.returncode, 1, f"{res.stdout}\n{res.stderr}")
        self.assertIn("discard_unpacked_layers = false", res.stderr)
        self.assertIn(f"Fix: add these lines to {ctd.config_path}", res.stderr)
        self.assertIn("scripts/run --demo", res.stderr)


if __name__ == "__main__":
    unittest.main()
