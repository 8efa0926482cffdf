"""Bad input to the registry HTTP server: malformed requests, limits, invalid digests, path
traversal, Range variants, unsupported methods, HEAD, pipelining, 5,000 idle connections, a client
that stops reading mid-blob and one that sends its head one byte per second.

One containerd per class holds a real image (pushed to docker-registry, CRI-pulled), with one
layer of several MiB. Every test starts its own spegel with short timeouts, takes a baseline of
its memory (VmRSS) and open fds after a warm-up, abuses it, and then checks that it recovered:
a normal blob GET on another connection returns the right bytes, the process is alive, its fd
count returns to the baseline within a bounded wait and VmRSS stays within a stated bound.

Raw sockets (127.0.0.1 only) are used wherever urllib would hide or "fix" what is on the wire.
"""

import hashlib
import json
import os
import resource
import socket
import time
import unittest

from harness import containerd, imagegen, images, registry, spegel, util

KIB = 1024
MIB = 1024 * 1024

# Limits the daemon runs with in these tests (small, so the suite stays fast).
MAX_HEADER_BYTES = 4096
MAX_URL_BYTES = 1024
HEADER_READ_TIMEOUT_S = 2.0
WRITE_STALL_TIMEOUT_S = 2.0
IDLE_TIMEOUT_S = 5.0
LIMIT_FLAGS = {"--max-header-bytes": str(MAX_HEADER_BYTES),
               "--max-url-bytes": str(MAX_URL_BYTES),
               "--header-read-timeout": f"{int(HEADER_READ_TIMEOUT_S)}s",
               "--write-stall-timeout": f"{int(WRITE_STALL_TIMEOUT_S)}s",
               "--idle-timeout": f"{int(IDLE_TIMEOUT_S)}s",
               "--shutdown-timeout": "2s"}
# Per-test changes to LIMIT_FLAGS.
FLAG_OVERRIDES = {
    # The idle connections must outlive the time it takes to open them all; and one DEBUG log
    # line per connection would only slow the run down.
    "test_5000_idle_connections": {"--header-read-timeout": "60s", "--log-level": "INFO"},
    "test_max_connections_excess_are_closed_at_once": {"--max-connections": "40"},
}


def _flags(overrides):
    merged = dict(LIMIT_FLAGS, **overrides)
    return tuple(x for kv in merged.items() for x in kv)

# VmRSS bound after one abusive client: the server keeps no per-request state once an exchange
# ends, and one connection's buffers are at most a few dozen KiB (16 KiB read buffer, a response
# head, parser state); 2 MiB leaves room for allocator slack and the periodic resync's
# allocations, and still catches a leak of a buffer per request over the hundreds of requests
# some tests send.
RSS_BOUND_KIB = 2 * 1024
# After 5,000 connections are closed: while open they cost about 1 KiB each (connection object with
# its llhttp parser and two uv handles), plus a 16 KiB read buffer each while a request head is
# unfinished. Both come from pools that unmap their chunks once empty, so after the close almost
# all of it is gone; +8 MiB is "flat". A per-connection leak of one read buffer would be +78 MiB.
RSS_BOUND_MANY_KIB = 8 * 1024
# Rounds 2..N of 5,000 must end where round 1 ended: growth beyond this is a leak or memory that
# a burst leaves behind (which, multiplied by bursts, is a leak too).
RSS_BOUND_SECOND_ROUND_KIB = 2 * 1024
IDLE_ROUNDS = 4
FD_SETTLE_TIMEOUT_S = 10.0  # linger (2 s) + header timeout (2 s) + slack

# Random payload (gzip does not shrink it). Large enough that a reader can take several MiB and
# stop with more left than the kernel buffers between us and the server hold (<= ~4.5 MiB).
BIG_LAYER_BYTES = 24 * MIB
REPO = "it/bad"


def _pid_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def _pid_fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Response:
    """One parsed HTTP response: status, reason, headers (lower-case name -> value; repeated
    names keep every value in `header_list`), body bytes and the raw head."""

    def __init__(self, status, reason, header_list, body, head):
        self.status = status
        self.reason = reason
        self.header_list = header_list
        self.headers = {k: v for k, v in header_list}
        self.body = body
        self.head = head

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.reason} {self.headers} body={self.body[:200]!r}>"


class RawClient:
    """A plain TCP client to 127.0.0.1:port that writes exact bytes and parses responses itself.

    Responses are framed by Content-Length only (the server always sends one and never chunks).
    Owned by one test; not thread-safe. close() is idempotent.
    """

    def __init__(self, port, timeout=5.0, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((util.LOOPBACK, port))
        self.buf = bytearray()

    def send(self, data):
        self.sock.sendall(data)
        return self

    def _fill(self):
        chunk = self.sock.recv(256 * KIB)
        if not chunk:
            raise EOFError(f"connection closed by the server; buffered: {bytes(self.buf[:200])!r}")
        self.buf += chunk

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 64 * KIB:
                raise AssertionError(f"response head too long: {bytes(self.buf[:300])!r}")
            self._fill()
        end = self.buf.index(b"\r\n\r\n") + 4
        head = bytes(self.buf[:end])
        del self.buf[:end]
        lines = head[:-4].decode("latin-1").split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        if version != "HTTP/1.1":
            raise AssertionError(f"bad status line {lines[0]!r}")
        header_list = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or name != name.strip():
                raise AssertionError(f"bad response header line {line!r}")
            header_list.append((name.lower(), value.strip()))
        return int(status), reason, header_list, head

    def read_response(self, method="GET"):
        status, reason, header_list, head = self.read_head()
        lengths = [v for k, v in header_list if k == "content-length"]
        if len(lengths) != 1:
            raise AssertionError(f"expected exactly one Content-Length: {head!r}")
        if any(k == "transfer-encoding" for k, _ in header_list):
            raise AssertionError(f"unexpected Transfer-Encoding: {head!r}")
        length = int(lengths[0])
        if method == "HEAD":
            length = 0
        while len(self.buf) < length:
            self._fill()
        body = bytes(self.buf[:length])
        del self.buf[:length]
        return Response(status, reason, header_list, body, head)

    def read_until_eof(self, timeout):
        """Reads until the server closes (EOF or reset); returns every byte after what was
        already parsed. Raises TimeoutError if it stays open for `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"server kept the connection open for {timeout}s")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(256 * KIB)
            except ConnectionResetError:
                break
            except socket.timeout:
                continue
            if not chunk:
                break
            self.buf += chunk
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def no_bytes_within(self, seconds):
        """True if nothing (not even EOF) arrives within `seconds`."""
        self.sock.settimeout(seconds)
        try:
            chunk = self.sock.recv(4096)
        except socket.timeout:
            return True
        self.buf += chunk
        return False

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def request(method, target, headers=(), host=True, body=b""):
    """The exact bytes of one HTTP/1.1 request."""
    lines = [f"{method} {target} HTTP/1.1"]
    if host:
        lines.append("Host: 127.0.0.1")
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class RegistryBadInputTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.gen_dir = util.make_temp_dir("sit-gen-")
        cls.registry = cls.ctd = None
        try:
            cls.registry = registry.Registry()
            cls.ctd = containerd.Containerd()
            cls.registry.start()
            cls.image = imagegen.generate(os.path.join(cls.gen_dir, "bad"), seed="bad-input",
                                          name=REPO, layer_sizes=(BIG_LAYER_BYTES, 5000, 300))
            cls.ref = images.push(cls.image, cls.registry)
            cls.ctd.write_hosts_toml(cls.registry.addr)
            cls.ctd.start()
            images.cri_pull(cls.ctd, cls.ref)
        except BaseException:
            cls.tearDownClass()
            raise
        plat = cls.image.platforms[imagegen.HOST_PLATFORM]
        cls.manifest = plat.manifest
        cls.config = plat.config
        cls.big, cls.mid, cls.small = plat.layers
        cls.blob_bytes = {}
        for b in plat.blobs():
            with open(os.path.join(cls.image.layout_dir, "blobs", "sha256", b.digest[7:]),
                      "rb") as f:
                cls.blob_bytes[b.digest] = f.read()
        assert len(cls.blob_bytes[cls.big.digest]) > 4 * MIB

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.ctd is not None:
                cls.ctd.close()
        finally:
            if cls.registry is not None:
                cls.registry.close()
            util.remove_temp_dir(cls.gen_dir)

    # ---- per-test daemon, baseline and recovery checks --------------------------------------

    def setUp(self):
        self.clients = []
        self.start_spegel(_flags(FLAG_OVERRIDES.get(self._testMethodName, {})))

    def start_spegel(self, flags):
        self.spegel = spegel.Spegel(self.ctd, extra_args=flags)
        self.addCleanup(self._stop_spegel, self.spegel)
        self.spegel.start()
        # Readiness does not mean this image is indexed yet; the blobs must be served.
        util.wait_until(lambda: self.spegel.status(self.blob_path(self.small)) == 200, 15.0,
                        "the pulled image to be served")
        self.pid = self.spegel.proc.pid
        # Warm up: every kind of response once, so first-use allocations are in the baseline.
        for path in (self.blob_path(self.big), self.blob_path(self.mid),
                     self.manifest_path(self.manifest.digest), "/v2/", "/v2/x/blobs/sha256:1"):
            self.spegel.get(path, timeout=10.0)
        self.assert_fds_settle(None)
        time.sleep(0.3)
        self.base_fds = _pid_fd_count(self.pid)
        self.base_rss = _pid_rss_kib(self.pid)

    def _stop_spegel(self, daemon):
        for c in self.clients:
            c.close()
        if daemon.proc is not None and not daemon.running():
            code = daemon.proc.returncode
            log = util.tail(daemon.log_path)
            daemon.close()
            self.fail(f"spegel exited during the test with {code}; log tail:\n{log}")
        # After the abuse it still shuts down cleanly on SIGTERM (--shutdown-timeout 2s).
        code = daemon.stop(timeout=10.0)
        log = util.tail(daemon.log_path)
        daemon.close()
        self.assertEqual(code, 0, f"spegel exited with {code} on SIGTERM; log tail:\n{log}")

    def client(self, timeout=5.0, rcvbuf=None):
        c = RawClient(self.spegel.port, timeout=timeout, rcvbuf=rcvbuf)
        self.clients.append(c)
        return c

    def blob_path(self, blob_or_digest, repo=REPO):
        d = getattr(blob_or_digest, "digest", blob_or_digest)
        return f"/v2/{repo}/blobs/{d}"

    def manifest_path(self, reference, repo=REPO):
        return f"/v2/{repo}/manifests/{reference}"

    def fd_count(self):
        return _pid_fd_count(self.pid)

    def assert_fds_settle(self, at_most, timeout=FD_SETTLE_TIMEOUT_S):
        """Waits until the fd count is <= at_most (None: until it stops changing)."""
        if at_most is None:
            last = {"n": -1}

            def stable():
                n = self.fd_count()
                same = n == last["n"]
                last["n"] = n
                return same
            util.wait_until(stable, timeout, "spegel's fd count to settle", 0.2)
            return
        try:
            util.wait_until(lambda: self.fd_count() <= at_most, timeout,
                            f"spegel's fd count to return to {at_most}", 0.05)
        except TimeoutError:
            self.fail(f"spegel holds {self.fd_count()} fds {timeout}s after the abuse, baseline "
                      f"{at_most}: {self._fd_targets()}")

    def _fd_targets(self):
        out = []
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            try:
                out.append(os.readlink(f"/proc/{self.pid}/fd/{fd}"))
            except OSError:
                pass
        return sorted(out)

    def assert_serves_blob(self, blob=None, timeout=10.0):
        """A normal GET on a fresh connection returns the blob's exact bytes."""
        blob = blob or self.mid
        status, headers, body = self.spegel.get(self.blob_path(blob), timeout=timeout)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(headers.get("docker-content-digest"), blob.digest)
        self.assertEqual(len(body), blob.size)
        self.assertEqual("sha256:" + hashlib.sha256(body).hexdigest(), blob.digest)

    def assert_recovered(self, what, rss_bound_kib=RSS_BOUND_KIB):
        """After the abuse: still serving, alive, fds back to the baseline, memory flat."""
        self.assertTrue(self.spegel.running(), f"spegel died after {what}")
        self.assert_serves_blob()
        self.assert_fds_settle(self.base_fds)
        rss = _pid_rss_kib(self.pid)
        print(f"      [{self._testMethodName}] {what}: VmRSS {self.base_rss} -> {rss} KiB "
              f"(+{rss - self.base_rss}, bound +{rss_bound_kib}); fds {self.base_fds} -> "
              f"{self.fd_count()}", flush=True)
        self.assertLessEqual(rss - self.base_rss, rss_bound_kib,
                             f"VmRSS grew from {self.base_rss} to {rss} KiB after {what}")
        self.assertTrue(self.spegel.running(), f"spegel died after {what}")
        return rss

    # ---- assertion helpers -----------------------------------------------------------------

    def exchange(self, raw, method="GET"):
        """Sends raw bytes on a new connection and reads one response."""
        c = self.client()
        c.send(raw)
        return c, c.read_response(method)

    def assert_error_and_close(self, raw, status, what):
        """The server answers `status` with a text error of exact length, says
        `Connection: close` and closes (nothing else follows on the wire)."""
        c, r = self.exchange(raw)
        self.assertEqual(r.status, status, f"{what}: {r!r}")
        self.assertEqual(r.headers.get("connection"), "close", f"{what}: {r!r}")
        self.assertTrue(r.body.endswith(b"\n"), f"{what}: {r!r}")
        rest = c.read_until_eof(HEADER_READ_TIMEOUT_S + 5.0)
        self.assertEqual(rest, b"", f"{what}: bytes after the error response")
        c.close()
        return r

    def assert_oci_error(self, r, status, codes, what):
        self.assertEqual(r.status, status, f"{what}: {r!r}")
        self.assertEqual(r.headers.get("content-type"), "application/json", f"{what}: {r!r}")
        self.assertEqual(int(r.headers["content-length"]), len(r.body))
        doc = r.json()  # a short Content-Length would cut the JSON
        self.assertIsInstance(doc.get("errors"), list, f"{what}: {doc}")
        self.assertEqual(len(doc["errors"]), 1, f"{what}: {doc}")
        err = doc["errors"][0]
        codes = (codes,) if isinstance(codes, str) else tuple(codes)
        self.assertIn(err.get("code"), codes, f"{what}: {doc}")
        self.assertIsInstance(err.get("message"), str, f"{what}: {doc}")
        return err["code"]

    def get_on(self, c, path, method="GET", headers=()):
        """One request on an existing keep-alive connection."""
        c.send(request(method, path, headers))
        return c.read_response(method)

    def assert_next_exchange_ok(self, c):
        """The connection is still usable and in sync: the previous response's
        Content-Length was exact (a wrong one would garble this parse)."""
        r = self.get_on(c, "/v2/")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"{}")

    # ---- malformed requests ----------------------------------------------------------------

    def test_malformed_request_lines_get_400_and_close(self):
        cases = [
            ("no target", b"GET\r\n\r\n", 400),
            ("bare CR after the version", b"GET /v2/ HTTP/1.1\rHost: x\r\r\n\r\n", 400),
            ("bare LF line ends", b"GET /v2/ HTTP/1.1\nHost: x\n\n", 400),
            ("lower-case method", b"get /v2/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            ("binary garbage", bytes(range(1, 32)) + b"\r\n\r\n", 400),
            ("NUL in target", b"GET /v2/\x00/x HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            ("space in target", b"GET /v2/ x HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            ("bad protocol name", b"GET /v2/ HTTX/1.1\r\nHost: x\r\n\r\n", 400),
            ("header without colon", b"GET /v2/ HTTP/1.1\r\nHost x\r\n\r\n", 400),
            ("space in header name", b"GET /v2/ HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
            ("space before colon", b"GET /v2/ HTTP/1.1\r\nHost : x\r\n\r\n", 400),
            ("NUL in header value", b"GET /v2/ HTTP/1.1\r\nHost: a\x00b\r\n\r\n", 400),
            ("two Content-Lengths", b"GET /v2/ HTTP/1.1\r\nContent-Length: 1\r\n"
                                    b"Content-Length: 2\r\n\r\nab", 400),
            ("negative Content-Length", b"GET /v2/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
            ("bad chunk size",
             b"PUT /v2/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
            ("unknown transfer coding",
             b"GET /v2/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
            # HTTP/0.9's request line has no version: refused as a version, not as garbage.
            ("no version (HTTP/0.9 form)", b"GET /v2/\r\n\r\n", 505),
            ("HTTP/2.0 version", b"GET /v2/ HTTP/2.0\r\nHost: x\r\n\r\n", 505),
            ("HTTP/0.9 version", b"GET /v2/ HTTP/0.9\r\nHost: x\r\n\r\n", 505),
        ]
        for what, raw, status in cases:
            with self.subTest(what=what):
                r = self.assert_error_and_close(raw, status, what)
                self.assertEqual(r.headers.get("content-type"), "text/plain; charset=utf-8")
        # obs-fold (a header line starting with a space): RFC 9112 5.2 lets a server reject it
        # (400) or replace it with a space; either way the connection stays in sync.
        c, r = self.exchange(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n y\r\n\r\n")
        self.assertIn(r.status, (200, 400), r)
        if r.status == 200:
            self.assert_next_exchange_ok(c)
        self.assert_recovered("malformed request lines")

    def test_unknown_method_gets_501_and_known_unsupported_ones_405(self):
        self.assert_error_and_close(request("BREW", "/v2/"), 501, "BREW")
        self.assert_error_and_close(request("BREW", self.blob_path(self.small)), 501, "BREW blob")
        # A method llhttp knows but the registry does not serve reaches the handler: OCI 405.
        for method in ("PROPFIND", "OPTIONS", "TRACE"):
            with self.subTest(method=method):
                c, r = self.exchange(request(method, self.blob_path(self.small)))
                self.assert_oci_error(r, 405, "UNSUPPORTED", method)
                self.assertEqual(r.headers.get("allow"), "GET, HEAD")
                self.assert_next_exchange_ok(c)
        self.assert_recovered("unknown methods")

    def test_header_block_too_large_gets_431(self):
        # Just under the limit is served normally: the limit is where it says it is.
        filler = "a" * (MAX_HEADER_BYTES - 400)
        c, r = self.exchange(request("GET", self.blob_path(self.small), [("X-Fill", filler)]))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, self.blob_bytes[self.small.digest])
        cases = [
            ("one big header", [("X-Fill", "a" * (MAX_HEADER_BYTES + 1))]),
            ("many small headers", [(f"X-H{i}", "v" * 20) for i in range(400)]),
            ("far over the limit", [("X-Fill", "b" * (256 * KIB))]),
            ("huge header name", [("X" * (MAX_HEADER_BYTES * 2), "v")]),
        ]
        for what, headers in cases:
            with self.subTest(what=what):
                self.assert_error_and_close(request("GET", "/v2/", headers), 431, what)
        self.assert_recovered("oversized header blocks")

    def test_url_too_long_gets_414(self):
        # A long but allowed target reaches the router (an unknown blob: 404, not 414).
        digest = "sha256:" + "0" * 64
        pad = "p" * (MAX_URL_BYTES - 200)
        c, r = self.exchange(request("GET", self.blob_path(digest) + "?pad=" + pad))
        self.assert_oci_error(r, 404, "BLOB_UNKNOWN", "long allowed target")
        for what, target in [("just over", "/v2/" + "a" * (MAX_URL_BYTES - 3)),
                             ("long query", "/v2/?q=" + "x" * (MAX_URL_BYTES * 4)),
                             ("64 KiB path", "/v2/" + "a/" * (32 * KIB))]:
            with self.subTest(what=what):
                self.assert_error_and_close(request("GET", target), 414, what)
        self.assert_recovered("over-long URLs")

    def test_content_length_with_chunked_gets_400_and_no_smuggling(self):
        smuggled = request("GET", self.blob_path(self.small))
        raw = (b"GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled)
        r = self.assert_error_and_close(raw, 400, "Content-Length + chunked")
        self.assertNotIn(self.blob_bytes[self.small.digest], r.body)
        # Also with the headers the other way round, and on a PUT with a body.
        raw = (b"PUT /v2/x/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Content-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        self.assert_error_and_close(raw, 400, "chunked + Content-Length")
        # Body limits: a declared body above the limit is 413 without waiting for it.
        raw = request("PUT", "/v2/x/blobs/uploads/", [("Content-Length", str(100 * MIB))])
        self.assert_error_and_close(raw, 413, "100 MiB declared body")
        self.assert_recovered("conflicting framing headers")

    # ---- registry routes with bad names and digests ----------------------------------------

    def test_invalid_digests_get_400_digest_invalid(self):
        hex64 = self.small.digest[7:]
        bad = {
            "unknown algorithm md5": "md5:" + hex64[:32],
            "unknown algorithm sha1": "sha1:" + hex64[:40],
            "unknown algorithm, sha256 length": "blake3:" + hex64,
            "hex too short": "sha256:" + hex64[:63],
            "hex too long": "sha256:" + hex64 + "0",
            "sha512 with sha256 length": "sha512:" + hex64,
            "upper-case hex": "sha256:" + hex64.upper(),
            "one upper-case letter": "sha256:" + hex64[:-1] + "A",
            "non-hex": "sha256:" + "g" * 64,
            "empty hex": "sha256:",
            "no algorithm": ":" + hex64,
            "bare hex": hex64,
            "upper-case algorithm": "SHA256:" + hex64,
            "percent-escaped": "sha256:" + hex64[:62] + "%41",
        }
        c = self.client()
        for what, digest in bad.items():
            with self.subTest(what=what, route="blob"):
                r = self.get_on(c, self.blob_path(digest))
                self.assert_oci_error(r, 400, "DIGEST_INVALID", what)
            if ":" in digest:  # a manifest reference without ':' is a tag
                with self.subTest(what=what, route="manifest"):
                    r = self.get_on(c, self.manifest_path(digest))
                    self.assert_oci_error(r, 400, "DIGEST_INVALID", what)
            with self.subTest(what=what, route="blob HEAD"):
                r = self.get_on(c, self.blob_path(digest), method="HEAD")
                self.assertEqual(r.status, 400)
                self.assertGreater(int(r.headers["content-length"]), 0)
        self.assert_next_exchange_ok(c)  # every Content-Length above was exact
        self.assert_recovered("invalid digests")

    def test_path_traversal_never_reaches_outside_the_store(self):
        with open("/etc/passwd", "rb") as f:
            passwd = f.read()
        hexd = self.small.digest[7:]
        good = self.small.digest
        targets = [
            "/v2/../../../../etc/passwd",
            "/v2/it/../../../../etc/passwd/blobs/" + good,
            "/v2/../blobs/" + good,
            "/v2/it/../bad/blobs/" + good,
            "/v2/%2e%2e/%2e%2e/blobs/" + good,
            "/v2/it%2f..%2f..%2fetc/blobs/" + good,
            "/v2/it/bad/blobs/sha256:../../../../../../etc/passwd",
            "/v2/it/bad/blobs/sha256:" + "../" * 21 + "x",
            "/v2/it/bad/blobs/sha256:..%2f..%2f..%2f..%2fetc%2fpasswd",
            "/v2/it/bad/blobs/sha256%3a" + hexd,
            "/v2/it/bad/blobs/sha256:%2e%2e%2f%2e%2e%2fetc%2fpasswd",
            "/v2/it/bad/blobs/sha256:" + hexd + "/../../../../../../etc/passwd",
            "/v2/it/bad/blobs/../../../../etc/passwd",
            "/v2/it/bad/manifests/../../../../etc/passwd",
            "/v2/it/bad/manifests/..%2f..%2fetc%2fpasswd",
            "/v2/it/bad/manifests/sha256:../../../etc/passwd",
            "/v2/it/bad/manifests/v1?ns=..%2f..%2fetc",
            "/v2/it/bad/blobs/" + good + "?ns=../../../../etc/passwd",
            "/v2/it/bad/blobs/sha512:" + "../" * 42 + "xx",
            "//etc/passwd",
            "/etc/passwd",
            "/../../../../etc/passwd",
            "/v2/./././etc/passwd",
            "http://127.0.0.1/../../etc/passwd",
        ]
        c = self.client()
        for target in targets:
            with self.subTest(target=target):
                r = self.get_on(c, target)
                self.assertNotIn(b"root:", r.body)
                self.assertNotEqual(r.body, passwd)
                if r.status == 200:
                    # Only a digest-addressed request may succeed, and then with that blob.
                    self.assertEqual(r.body, self.blob_bytes[good], target)
                    self.assertEqual(r.headers.get("docker-content-digest"), good)
                    continue
                self.assertIn(r.status, (400, 404), f"{target}: {r!r}")
                if r.status == 400:
                    self.assert_oci_error(r, 400, ("NAME_INVALID", "DIGEST_INVALID",
                                                   "TAG_INVALID"), target)
                elif r.headers.get("content-type") == "application/json":
                    self.assert_oci_error(r, 404, ("NAME_UNKNOWN", "BLOB_UNKNOWN",
                                                   "MANIFEST_UNKNOWN"), target)
                self.assertEqual(int(r.headers["content-length"]), len(r.body))
        # Specific expectations where the route is unambiguous.
        for target, status, code in [
                ("/v2/it/../bad/blobs/" + good, 400, "NAME_INVALID"),
                ("/v2/%2e%2e/%2e%2e/blobs/" + good, 400, "NAME_INVALID"),
                ("/v2/it/bad/blobs/sha256:" + "../" * 21 + "x", 400, "DIGEST_INVALID"),
                ("/v2/it/bad/blobs/sha256:..%2f..%2f..%2f..%2fetc%2fpasswd", 400,
                 "DIGEST_INVALID")]:
            with self.subTest(target=target, expect=code):
                self.assert_oci_error(self.get_on(c, target), status, code, target)
        self.assert_next_exchange_ok(c)
        self.assert_recovered("path traversal attempts")

    def test_unknown_digest_and_tag_get_404_json(self):
        c = self.client()
        unknown256 = "sha256:" + hashlib.sha256(b"not in the store").hexdigest()
        unknown512 = "sha512:" + hashlib.sha512(b"not in the store").hexdigest()
        for digest in (unknown256, unknown512):
            with self.subTest(digest=digest):
                r = self.get_on(c, self.blob_path(digest))
                self.assert_oci_error(r, 404, "BLOB_UNKNOWN", digest)
                r = self.get_on(c, self.manifest_path(digest))
                self.assert_oci_error(r, 404, "MANIFEST_UNKNOWN", digest)
                g = self.get_on(c, self.blob_path(digest))
                h = self.get_on(c, self.blob_path(digest), method="HEAD")
                self.assertEqual(h.status, 404)
                self.assertEqual(h.headers["content-length"], str(len(g.body)))
        # A layer asked for as a manifest is not a manifest.
        r = self.get_on(c, self.manifest_path(self.small.digest))
        self.assert_oci_error(r, 404, "MANIFEST_UNKNOWN", "layer as manifest")
        # Tags: unknown ones 404, the pulled one resolves (with and without ns).
        ns = self.registry.addr
        for ref in ("nope", "v2", "latest"):
            for q in ("", f"?ns={ns}"):
                with self.subTest(tag=ref, query=q):
                    r = self.get_on(c, self.manifest_path(ref) + q)
                    self.assert_oci_error(r, 404, "MANIFEST_UNKNOWN", ref + q)
        r = self.get_on(c, f"/v2/it/other/manifests/v1?ns={ns}")
        self.assert_oci_error(r, 404, "MANIFEST_UNKNOWN", "other repository")
        # A reference that is no valid tag names no manifest: 404 (the spec's only failure of a
        # manifest GET or HEAD; docker-registry answers the same), the message naming it.
        for what, target in [("bad tag", self.manifest_path("bad!tag")),
                             ("tag too long", self.manifest_path("t" * 200)),
                             ("dot tag", self.manifest_path(".INVALID_MANIFEST_NAME"))]:
            with self.subTest(what=what):
                r = self.get_on(c, target)
                self.assert_oci_error(r, 404, "MANIFEST_UNKNOWN", what)
                self.assertIn(target.rsplit("/", 1)[1][:100].encode(), r.body)
        for q in ("", f"?ns={ns}"):
            r = self.get_on(c, self.manifest_path("v1") + q,
                            headers=[("Accept", registry.MANIFEST_ACCEPT)])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers.get("docker-content-digest"), self.manifest.digest)
            self.assertEqual(r.body, self.blob_bytes[self.manifest.digest])
        self.assert_next_exchange_ok(c)
        self.assert_recovered("unknown digests and tags")

    def test_write_methods_get_405_unsupported(self):
        c = self.client()
        paths = ["/v2/", self.blob_path(self.small), self.manifest_path("v1"),
                 self.manifest_path(self.manifest.digest), "/v2/it/bad/blobs/uploads/",
                 "/v2/it/bad/blobs/uploads/some-uuid?digest=" + self.small.digest,
                 "/v2/_catalog", "/v2/it/bad/tags/list"]
        for method in ("PUT", "DELETE", "POST", "PATCH"):
            for path in paths:
                with self.subTest(method=method, path=path):
                    body = b"hello" if method in ("PUT", "POST", "PATCH") else b""
                    headers = [("Content-Length", str(len(body)))] if body else []
                    c.send(request(method, path, headers, body=body))
                    r = c.read_response(method)
                    self.assert_oci_error(r, 405, "UNSUPPORTED", f"{method} {path}")
                    self.assertEqual(r.headers.get("allow"), "GET, HEAD")
                    self.assertNotEqual(r.headers.get("connection"), "close")
        # A chunked body is drained the same way.
        c.send(b"PUT /v2/it/bad/manifests/v9 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
               b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        self.assert_oci_error(c.read_response(), 405, "UNSUPPORTED", "chunked PUT")
        self.assert_next_exchange_ok(c)
        # Nothing was written: the store and the index are as before.
        self.assert_serves_blob(self.small)
        r = self.get_on(c, self.manifest_path("v9"))
        self.assert_oci_error(r, 404, "MANIFEST_UNKNOWN", "tag a PUT tried to create")
        self.assert_recovered("write methods")

    # ---- Range -----------------------------------------------------------------------------

    def test_range_variants(self):
        blob = self.mid
        data = self.blob_bytes[blob.digest]
        size = len(data)
        unsat = f"bytes */{size}"
        cases = [
            # (Range header, status, body, Content-Range)
            ("bytes=0-0", 206, data[:1], f"bytes 0-0/{size}"),
            ("bytes=-3", 206, data[-3:], f"bytes {size - 3}-{size - 1}/{size}"),
            ("bytes=10-19", 206, data[10:20], f"bytes 10-19/{size}"),
            ("bytes=100-", 206, data[100:], f"bytes 100-{size - 1}/{size}"),
            (f"bytes={size - 1}-", 206, data[-1:], f"bytes {size - 1}-{size - 1}/{size}"),
            (f"bytes=0-{size * 10}", 206, data, f"bytes 0-{size - 1}/{size}"),
            ("bytes=0-99999999999999999999999999", 206, data, f"bytes 0-{size - 1}/{size}"),
            (f"bytes=-{size + 1000}", 206, data, f"bytes 0-{size - 1}/{size}"),
            ("BYTES=0-0", 206, data[:1], f"bytes 0-0/{size}"),
            ("bytes=-0", 416, None, unsat),
            (f"bytes={size}-", 416, None, unsat),
            (f"bytes={size + 10}-{size + 20}", 416, None, unsat),
            ("bytes=99999999999999999999999-", 416, None, unsat),
            ("bytes=5-1", 200, data, None),
            ("bytes=0-1,5-6", 200, data, None),
            ("bytes=0-0, -1", 200, data, None),
            ("items=0-1", 200, data, None),
            ("bytes=", 200, data, None),
            ("bytes=-", 200, data, None),
            ("bytes=+1-2", 200, data, None),
            ("bytes=1 - 2", 200, data, None),
            ("bytes=a-b", 200, data, None),
            ("0-1", 200, data, None),
        ]
        c = self.client()
        for header, status, body, content_range in cases:
            with self.subTest(range=header):
                r = self.get_on(c, self.blob_path(blob), headers=[("Range", header)])
                self.assertEqual(r.status, status, f"Range: {header}: {r!r}")
                self.assertEqual(r.headers.get("content-range"), content_range, header)
                self.assertEqual(r.headers.get("docker-content-digest"), blob.digest)
                if status == 416:
                    self.assert_oci_error(r, 416, "RANGE_INVALID", header)
                else:
                    self.assertEqual(r.headers.get("accept-ranges"), "bytes")
                    self.assertEqual(int(r.headers["content-length"]), len(body))
                    self.assertTrue(r.body == body, f"Range: {header}: wrong bytes")
                # HEAD agrees with GET on status and length.
                h = self.get_on(c, self.blob_path(blob), method="HEAD",
                                headers=[("Range", header)])
                self.assertEqual(h.status, status, header)
                self.assertEqual(h.headers["content-length"], r.headers["content-length"])
                self.assertEqual(h.headers.get("content-range"), content_range)
        # A Range on a multi-MiB blob from the middle, by sendfile from an offset.
        big = self.blob_bytes[self.big.digest]
        r = self.get_on(c, self.blob_path(self.big), headers=[("Range", "bytes=3000000-5000000")])
        self.assertEqual(r.status, 206)
        self.assertTrue(r.body == big[3000000:5000001])
        self.assert_next_exchange_ok(c)
        self.assert_recovered("Range variants")

    # ---- HEAD and pipelining ---------------------------------------------------------------

    def test_head_sends_headers_only_with_the_gets_length(self):
        paths = [self.blob_path(self.big), self.blob_path(self.small),
                 self.manifest_path(self.manifest.digest), self.manifest_path("v1"), "/v2/",
                 self.blob_path("sha256:" + "1" * 64), self.blob_path("sha256:XYZ"),
                 "/readyz", "/livez", "/no/such/path"]
        for path in paths:
            with self.subTest(path=path):
                c = self.client()
                g = self.get_on(c, path)
                h = self.get_on(c, path, method="HEAD")
                self.assertEqual(h.status, g.status)
                self.assertEqual(h.headers.get("content-length"), str(len(g.body)))
                for name in ("content-type", "docker-content-digest", "accept-ranges"):
                    self.assertEqual(h.headers.get(name), g.headers.get(name), name)
                # No body bytes follow the head: nothing arrives, then the next exchange
                # parses from the first byte.
                self.assertTrue(c.no_bytes_within(0.3), f"bytes after a HEAD response: "
                                                         f"{bytes(c.buf[:100])!r}")
                self.assert_next_exchange_ok(c)
        self.assert_recovered("HEAD requests")

    def test_pipelined_requests_are_answered_in_order(self):
        c = self.client()
        three = (request("GET", self.blob_path(self.small))
                 + request("HEAD", self.blob_path(self.big))
                 + request("GET", self.manifest_path(self.manifest.digest)))
        c.send(three)
        r1 = c.read_response("GET")
        r2 = c.read_response("HEAD")
        r3 = c.read_response("GET")
        self.assertEqual((r1.status, r2.status, r3.status), (200, 200, 200))
        self.assertEqual(r1.body, self.blob_bytes[self.small.digest])
        self.assertEqual(r2.headers["content-length"], str(self.big.size))
        self.assertEqual(r2.headers["docker-content-digest"], self.big.digest)
        self.assertEqual(r3.body, self.blob_bytes[self.manifest.digest])
        # Mixed with errors and a big body, in one write, 61 requests deep.
        order = [self.big] + [self.small, self.config, None, self.mid, None] * 12
        raw = b"".join(request("GET", self.blob_path(b) if b else "/v2/x/blobs/sha256:bad")
                       for b in order)
        c.send(raw)
        for i, b in enumerate(order):
            r = c.read_response()
            if b is None:
                self.assert_oci_error(r, 400, "DIGEST_INVALID", f"pipelined #{i}")
            else:
                self.assertEqual(r.status, 200, f"pipelined #{i}")
                self.assertEqual(r.headers.get("docker-content-digest"), b.digest, f"#{i}")
                self.assertTrue(r.body == self.blob_bytes[b.digest], f"#{i}: wrong bytes")
        self.assert_next_exchange_ok(c)
        # A pipeline ending in a malformed request: the good ones are answered, then 400, close.
        c2 = self.client()
        c2.send(request("GET", self.blob_path(self.small)) + request("GET", "/v2/")
                + b"bad request\r\n\r\n" + request("GET", "/v2/"))
        self.assertEqual(c2.read_response().body, self.blob_bytes[self.small.digest])
        self.assertEqual(c2.read_response().status, 200)
        r = c2.read_response()
        self.assertEqual(r.status, 400)
        self.assertEqual(r.headers.get("connection"), "close")
        self.assertEqual(c2.read_until_eof(5.0), b"")
        self.assert_recovered("pipelined requests")

    # ---- connections, slow clients ---------------------------------------------------------

    def _open_idle(self, n, first_bytes=b""):
        """n connections to spegel that send `first_bytes` (if any) and then nothing."""
        socks = []
        try:
            for _ in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.settimeout(10.0)
                s.connect((util.LOOPBACK, self.spegel.port))
                if first_bytes:
                    s.sendall(first_bytes)
        except BaseException:
            for s in socks:
                s.close()
            raise
        return socks

    def test_5000_idle_connections(self):
        n = 5000
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = n + 1000
        if soft < want:
            if hard != resource.RLIM_INFINITY and hard < want:
                self.fail(f"RLIMIT_NOFILE hard limit {hard} < {want}: cannot open {n} sockets")
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        with open(f"/proc/{self.pid}/limits") as f:
            line = next(l for l in f if l.startswith("Max open files"))
        daemon_soft, daemon_hard = line.split()[3:5]
        self.assertEqual(daemon_soft, daemon_hard, f"spegel did not raise its fd limit: {line}")
        if daemon_soft != "unlimited":
            self.assertGreater(int(daemon_soft), n + self.base_fds, line)
        # Odd rounds: connections that send nothing. Even rounds: each sends an unfinished request
        # head, so the server holds a read buffer for every one of them while they are open.
        partial_head = b"GET /v2/ HTTP/1.1\r\nHost: x\r\nUser-Agent: idle"
        rss_after = []
        for round_no in range(1, IDLE_ROUNDS + 1):
            kind = "silent" if round_no % 2 else "half a request head"
            started = time.monotonic()
            socks = self._open_idle(n, b"" if round_no % 2 else partial_head)
            try:
                util.wait_until(lambda: self.fd_count() >= self.base_fds + n, 20.0,
                                f"spegel to accept {n} connections", 0.1)
                took = time.monotonic() - started
                rss_open = _pid_rss_kib(self.pid)
                # While they are all open, others are served, and the idle ones got nothing.
                self.assert_serves_blob(self.big, timeout=20.0)
                self.assert_serves_blob()
                for s in socks[:: n // 50]:
                    s.setblocking(False)
                    try:
                        got = s.recv(10)
                    except BlockingIOError:
                        got = None
                    self.assertIsNone(got, "an idle connection got bytes or EOF")
                # And one of them can still complete a request.
                s = socks[n // 2]
                s.setblocking(True)
                s.settimeout(5.0)
                s.sendall(b"\r\n\r\n" if round_no % 2 == 0 else request("GET", "/v2/"))
                self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 200 "))
                print(f"      [{self._testMethodName}] round {round_no} ({kind}): {n} connections "
                      f"open in {took:.1f}s, fds {self.fd_count()}, VmRSS {rss_open} KiB "
                      f"(+{rss_open - self.base_rss}, {(rss_open - self.base_rss) * 1024 // n} "
                      f"B/connection)", flush=True)
            finally:
                for s in socks:
                    s.close()
            rss_after.append(self.assert_recovered(f"round {round_no}: {n} {kind} connections "
                                                   "closed", RSS_BOUND_MANY_KIB))
        growth = [rss - rss_after[0] for rss in rss_after]
        print(f"      [{self._testMethodName}] VmRSS after each round {rss_after} KiB; growth over "
              f"round 1 {growth} KiB (bound +{RSS_BOUND_SECOND_ROUND_KIB})", flush=True)
        for round_no, grew in enumerate(growth[1:], start=2):
            self.assertLessEqual(grew, RSS_BOUND_SECOND_ROUND_KIB,
                                 f"VmRSS after round {round_no} of {n} connections grew by {grew} "
                                 f"KiB over round 1: {rss_after}")

    def test_max_connections_excess_are_closed_at_once(self):
        socks = self._open_idle(40)
        try:
            util.wait_until(lambda: self.fd_count() >= self.base_fds + 40, 10.0,
                            "spegel to accept 40 connections", 0.05)
            extra = self.client(timeout=5.0)
            try:
                extra.send(request("GET", "/v2/"))
                rest = extra.read_until_eof(5.0)
            except (BrokenPipeError, ConnectionResetError):
                rest = b""
            self.assertEqual(rest, b"", "a connection over the limit got a response")
        finally:
            for s in socks:
                s.close()
        self.assert_recovered("connections over --max-connections")

    def test_client_that_stops_reading_is_dropped_after_write_stall_timeout(self):
        # A fixed receive buffer (no autotuning) so the stall starts soon after we stop reading.
        c = self.client(timeout=10.0, rcvbuf=256 * KIB)
        c.send(request("GET", self.blob_path(self.big)))
        status, _, headers, _ = c.read_head()
        self.assertEqual(status, 200)
        self.assertEqual(int(headers_value(headers, "content-length")), self.big.size)
        # First read slowly but steadily for longer than the stall timeout: that is progress,
        # not a stall, so the connection must stay (its socket and the blob's file are open).
        # The rate must exceed what the kernel needs to report the server's socket writable
        # again (a third of its send buffer, <= 4 MiB here) within the timeout: 2 MiB/s.
        got = len(c.buf)
        c.buf.clear()
        tick, per_tick = 0.125, 256 * KIB
        steady_until = time.monotonic() + 1.5 * WRITE_STALL_TIMEOUT_S
        while time.monotonic() < steady_until:
            want = got + per_tick
            while got < want:
                got += len(c.sock.recv(want - got))
            time.sleep(tick)
        self.assertGreaterEqual(self.fd_count(), self.base_fds + 2,
                                "a slow but steady reader was dropped")
        self.assertLess(got, self.big.size // 2)
        # Now stop reading entirely: the server drops the connection after the stall timeout
        # although the client keeps its socket open, and serves others meanwhile.
        stopped = time.monotonic()
        self.assert_serves_blob()
        self.assert_serves_blob(self.big)
        try:
            util.wait_until(lambda: self.fd_count() <= self.base_fds,
                            WRITE_STALL_TIMEOUT_S + 8.0, "the stalled connection to be dropped",
                            0.05)
        except TimeoutError:
            self.fail(f"stalled reader still connected {WRITE_STALL_TIMEOUT_S + 8.0}s after it "
                      f"stopped reading; fds {self.fd_count()} vs baseline {self.base_fds}")
        dropped_after = time.monotonic() - stopped
        self.assertGreaterEqual(dropped_after, WRITE_STALL_TIMEOUT_S * 0.75,
                                "dropped before the write-stall timeout")
        # The client then sees the end of the connection, short of the full blob.
        rest = c.read_until_eof(10.0)
        print(f"      [{self._testMethodName}] steady reader (2 MiB/s) kept for "
              f"{1.5 * WRITE_STALL_TIMEOUT_S}s; stalled reader dropped {dropped_after:.2f}s after "
              f"it stopped reading (--write-stall-timeout {WRITE_STALL_TIMEOUT_S}s) with "
              f"{got + len(rest)} of {self.big.size} bytes delivered", flush=True)
        self.assertLess(got + len(rest), self.big.size)
        self.assert_recovered("a stalled reader")

    def test_client_sending_headers_one_byte_per_second_gets_408(self):
        raw = request("GET", self.blob_path(self.small), [("User-Agent", "slow")])
        c = self.client(timeout=10.0)
        first = time.monotonic()
        served_meanwhile = False
        answer = None
        for i, byte in enumerate(raw):
            try:
                c.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            if i == 1:
                self.assert_serves_blob()
                served_meanwhile = True
            if not c.no_bytes_within(1.0):
                answer = time.monotonic() - first
                break
            if time.monotonic() - first > HEADER_READ_TIMEOUT_S + 8.0:
                break
        self.assertIsNotNone(answer, "no answer to a head trickling in one byte per second")
        self.assertTrue(served_meanwhile)
        c.sock.settimeout(5.0)
        r = c.read_response()
        self.assertEqual(r.status, 408, r)
        self.assertEqual(r.headers.get("connection"), "close")
        self.assertGreaterEqual(answer, HEADER_READ_TIMEOUT_S * 0.75)
        self.assertLessEqual(answer, HEADER_READ_TIMEOUT_S + 3.0)
        self.assertEqual(c.read_until_eof(5.0), b"")
        print(f"      [{self._testMethodName}] 408 after {answer:.2f}s "
              f"(--header-read-timeout {HEADER_READ_TIMEOUT_S}s)", flush=True)
        # A connection that never sends a byte is closed silently after the same timeout.
        silent = self.client(timeout=10.0)
        t0 = time.monotonic()
        self.assertEqual(silent.read_until_eof(HEADER_READ_TIMEOUT_S + 5.0), b"")
        self.assertGreaterEqual(time.monotonic() - t0, HEADER_READ_TIMEOUT_S * 0.75)
        self.assert_recovered("a slow sender")


def headers_value(header_list, name):
    for k, v in header_list:
        if k == name:
            return v
    return None


if __name__ == "__main__":
    unittest.main()
