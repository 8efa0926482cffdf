"""The registry v2 data path against clients nobody here wrote, and under faults.

One node per module (setUpModule): a docker-registry with generated images, a containerd that
CRI-pulled them, and a spegel serving them. Tests that need other daemon flags start their own
spegel against the same containerd. Covered: Range resume after a cut; curl (HEAD, GET, Range)
and skopeo (inspect, copy) byte-identical to docker-registry, ns-style, path-style and without
ns; the gRPC Content.Read fallback; sendfile(2) under strace; SIGTERM with a download in flight;
a blob deleted behind spegel's back (GC on serve).
"""

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from harness import containerd, imagegen, images, registry, spegel, util

CURL_BIN = os.environ.get("CURL_BIN", "curl")
STRACE_BIN = os.environ.get("STRACE_BIN", "strace")
MIB = 1 << 20

# key -> generator arguments
IMAGES = {
    # a multi-MiB layer (random payload: gzip keeps it at ~3 MiB) for resume and sendfile
    "big": dict(fmt="oci", layer_sizes=(3 * MIB, 1000)),
    "multi": dict(fmt="oci", platforms=imagegen.DEFAULT_MULTI_PLATFORMS, layer_sizes=(5000, 300)),
    "dock": dict(fmt="docker", layer_sizes=(1500, 64, 40000)),
    # larger than the loopback socket buffers can absorb (tcp_wmem max 4 MiB): stays in flight
    "huge": dict(fmt="oci", layer_sizes=(16 * MIB,)),
    # only the GC test deletes its content
    "gc": dict(fmt="oci", layer_sizes=(7000, 8000, 9000, 10000)),
}
# pulled on node A both as 127.0.0.1:PORT/library/amb:v1 and docker.io/library/amb:v1
AMBIGUOUS = "amb"

MANIFEST_ACCEPT = registry.MANIFEST_ACCEPT


class _Node:
    """The module's shared fixture; see the module docstring."""

    def __init__(self):
        self.gen_dir = util.make_temp_dir("sit-gen-")
        self.registry = registry.Registry()
        self.ctd = containerd.Containerd()
        self.spegel = None
        self.images = {}

    def start(self):
        self.registry.start()
        self.ctd.start()
        self.ctd.write_hosts_toml_strict(self.registry.addr, self.registry.url)
        # docker.io is overridden to the LOCAL registry, never a public one
        self.ctd.write_hosts_toml_strict("docker.io", self.registry.url)
        for key, kw in list(IMAGES.items()) + [(AMBIGUOUS, dict(fmt="oci", layer_sizes=(900,)))]:
            repo = f"library/{key}" if key == AMBIGUOUS else f"cl/{key}"
            img = imagegen.generate(os.path.join(self.gen_dir, key), seed=f"clients-{key}",
                                    name=repo, **kw)
            images.push(img, self.registry)
            images.cri_pull(self.ctd, f"{self.registry.addr}/{repo}:{img.tag}")
            self.images[key] = img
        # the 127.0.0.1 pulls above loaded a hosts.toml of the same shape; had containerd
        # rejected it, a docker.io pull would go to registry-1.docker.io: never do that
        if self.ctd.hosts_toml_rejected():
            raise util.HarnessError("containerd rejected a hosts.toml")
        images.cri_pull(self.ctd, f"docker.io/library/{AMBIGUOUS}:v1")
        self.spegel = start_spegel(self)

    def close(self):
        if self.spegel is not None:
            self.spegel.close()
        self.ctd.close()
        self.registry.close()
        util.remove_temp_dir(self.gen_dir)


NODE = None


def setUpModule():
    global NODE
    NODE = _Node()
    try:
        NODE.start()
    except BaseException:
        NODE.close()
        NODE = None
        raise


def tearDownModule():
    global NODE
    if NODE is not None:
        NODE.close()
        NODE = None


def start_spegel(node, content_dir=None, resync=None, extra_args=()):
    """Starts a spegel on the node's containerd and waits until it indexed every pushed tag."""
    sp = spegel.Spegel(node.ctd, content_dir=content_dir, extra_args=extra_args)
    if resync is not None:
        sp.args[sp.args.index("--resync-interval") + 1] = resync
    try:
        sp.start()
        want = {f"{node.registry.addr}/{img.name}:{img.tag}": img.top.digest
                for img in node.images.values()}

        def indexed():
            tags = {t["ref"]: t["digest"] for t in sp.debug_index()["tags"]}
            return all(tags.get(k) == v for k, v in want.items())
        util.wait_until(indexed, 15.0, "spegel to index every pulled tag", 0.1)
    except BaseException:
        sp.close()
        raise
    return sp


def _sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _generated_bytes(img, digest):
    with open(os.path.join(img.layout_dir, "blobs", "sha256", digest.split(":", 1)[1]),
              "rb") as f:
        return f.read()


def raw_get_partial(addr, path, keep_bytes, rcvbuf=None):
    """Sends one GET on a fresh connection, reads the head and `keep_bytes` of the body, then
    closes. Returns (status line, headers dict lower-cased, body prefix)."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n".encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed inside the head: {buf!r}")
            buf += chunk
        head, body = buf.split(b"\r\n\r\n", 1)
        while len(body) < keep_bytes:
            chunk = s.recv(min(65536, keep_bytes - len(body)))
            if not chunk:
                break
            body += chunk
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, body[:keep_bytes]


def curl(url, method="GET", headers=()):
    """One request with curl (a client nobody here wrote). Returns (status, headers dict with
    lower-cased names, body bytes). Loopback only."""
    host = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "[::1]", "localhost"):
        raise util.HarnessError(f"refusing non-loopback URL {url}")
    args = [CURL_BIN, "-sS", "--http1.1", "--noproxy", "*", "--max-time", "20", "-D", "-"]
    args += ["-I"] if method == "HEAD" else ["-X", method]
    for h in headers:
        args += ["-H", h]
    with tempfile.NamedTemporaryFile(prefix="sit-curl-", dir="/tmp") as body_file:
        args += ["-o", body_file.name, url]
        res = util.run(args, timeout=30, check=False)
        body = body_file.read()
    if res.returncode != 0:
        raise util.HarnessError(f"curl {url} failed ({res.returncode}): {res.stderr}")
    text = res.stdout  # the head (-D -); headers are ASCII
    if method == "HEAD":  # with -I curl writes the head to -o too, and reads no body
        body = b""
    blocks = [b for b in text.split("\r\n\r\n") if b.strip()]
    lines = blocks[-1].split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


def skopeo(*args, timeout=120, check=True):
    return util.run([images.SKOPEO_BIN, *args], timeout=timeout, check=check)


class RangeResumeTest(unittest.TestCase):
    def _resume(self, sp, img, layer, cut):
        path = f"/v2/{img.name}/blobs/{layer.digest}?ns={NODE.registry.addr}"
        status, headers, first = raw_get_partial(sp.addr, path, cut)
        self.assertIn(" 200 ", status)
        self.assertEqual(int(headers["content-length"]), layer.size)
        self.assertEqual(len(first), cut)
        status, headers, rest = sp.get(path, headers={"Range": f"bytes={cut}-"}, timeout=20)
        self.assertEqual(status, 206)
        self.assertEqual(headers.get("content-range"),
                         f"bytes {cut}-{layer.size - 1}/{layer.size}")
        self.assertEqual(int(headers["content-length"]), layer.size - cut)
        self.assertEqual(headers.get("docker-content-digest"), layer.digest)
        joined = first + rest
        self.assertEqual(len(joined), layer.size)
        self.assertEqual(_sha(joined), layer.digest)

    def test_cut_download_resumes_with_range(self):
        img = NODE.images["big"]
        layer = img.platforms["linux/amd64"].layers[0]
        self.assertGreater(layer.size, 3 * MIB)
        for cut in (1, 1_000_000, layer.size - 1):
            with self.subTest(cut=cut):
                self._resume(NODE.spegel, img, layer, cut)
        self.assertTrue(NODE.spegel.running())


class CurlTest(unittest.TestCase):
    """curl against spegel and against docker-registry must agree on status, Content-Type,
    Content-Length, Docker-Content-Digest, Content-Range and body."""

    def _compare(self, spegel_path, registry_path, method="GET", headers=(), blob=None):
        s = curl(NODE.spegel.url + spegel_path, method, headers)
        r = curl(NODE.registry.url + registry_path, method, headers)
        what = f"{method} {spegel_path} {headers}"
        self.assertEqual(s[0], r[0], what)
        for h in ("content-length", "docker-content-digest", "content-range"):
            self.assertEqual(s[1].get(h), r[1].get(h), f"{h}: {what}")
        if blob is None or blob.kind in ("manifest", "index"):
            self.assertEqual(s[1].get("content-type"), r[1].get("content-type"), what)
        else:
            # docker-registry labels every blob application/octet-stream; spegel sends the
            # media type containerd stored (as upstream Spegel does)
            self.assertEqual(s[1].get("content-type"), blob.media_type, what)
        self.assertEqual(s[2], r[2], what)
        return s

    def test_head_then_get_pipelined_head_has_no_body(self):
        # HEAD and GET on one connection: the GET's status line must follow the HEAD's head
        # directly (a body after a HEAD head would corrupt the stream)
        img = NODE.images["dock"]
        layer = img.platforms["linux/amd64"].layers[0]
        path = f"/v2/{img.name}/blobs/{layer.digest}"
        mpath = f"/v2/{img.name}/manifests/{img.tag}?ns={NODE.registry.addr}"
        req = (f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n"
               f"HEAD {mpath} HTTP/1.1\r\nHost: x\r\n\r\n"
               f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").encode()
        with socket.create_connection((util.LOOPBACK, NODE.spegel.port), timeout=10) as s:
            s.sendall(req)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head1, rest = data.split(b"\r\n\r\n", 1)
        self.assertTrue(head1.startswith(b"HTTP/1.1 200"), head1)
        self.assertIn(f"content-length: {layer.size}".encode(), head1.lower())
        head2, rest = rest.split(b"\r\n\r\n", 1)
        self.assertTrue(head2.startswith(b"HTTP/1.1 200"), head2)
        self.assertIn(f"docker-content-digest: {img.top.digest}".encode(), head2.lower())
        head3, body = rest.split(b"\r\n\r\n", 1)
        self.assertTrue(head3.startswith(b"HTTP/1.1 200"), head3)
        self.assertEqual(body, _generated_bytes(img, layer.digest))

    def _manifest_paths(self, img, ref):
        reg = NODE.registry.addr
        return [
            (f"/v2/{img.name}/manifests/{ref}?ns={reg}", f"/v2/{img.name}/manifests/{ref}"),
            (f"/v2/{img.name}/manifests/{ref}?ns={reg.replace(':', '%3A')}",
             f"/v2/{img.name}/manifests/{ref}"),
            (f"/v2/{reg}/{img.name}/manifests/{ref}", f"/v2/{img.name}/manifests/{ref}"),
            (f"/v2/{img.name}/manifests/{ref}", f"/v2/{img.name}/manifests/{ref}"),
        ]

    def test_manifests_by_tag_and_digest_all_styles(self):
        accept = (f"Accept: {MANIFEST_ACCEPT}",)
        for key in ("big", "multi", "dock"):
            img = NODE.images[key]
            refs = [img.tag, img.top.digest]
            if img.multi:
                refs.append(img.platforms["linux/amd64"].manifest.digest)
            for ref in refs:
                for sp_path, reg_path in self._manifest_paths(img, ref):
                    for method in ("HEAD", "GET"):
                        with self.subTest(path=sp_path, method=method):
                            s = self._compare(sp_path, reg_path, method, accept)
                            self.assertEqual(s[0], 200)
                            if method == "GET":
                                want = img.top if ref == img.tag else None
                                if want is not None:
                                    self.assertEqual(_sha(s[2]), want.digest)

    def test_blobs_get_head_and_ranges(self):
        reg = NODE.registry.addr
        for key in ("big", "multi", "dock"):
            img = NODE.images[key]
            p = img.platforms["linux/amd64"]
            for blob in [p.config, *p.layers]:
                paths = [(f"/v2/{img.name}/blobs/{blob.digest}?ns={reg}",
                          f"/v2/{img.name}/blobs/{blob.digest}"),
                         (f"/v2/{reg}/{img.name}/blobs/{blob.digest}",
                          f"/v2/{img.name}/blobs/{blob.digest}"),
                         (f"/v2/{img.name}/blobs/{blob.digest}",
                          f"/v2/{img.name}/blobs/{blob.digest}")]
                size = blob.size
                ranges = ["bytes=0-0", f"bytes=1-{min(size - 1, 99)}", "bytes=-50",
                          f"bytes={size // 2}-", f"bytes={size - 1}-{size + 1000}"]
                for i, (sp_path, reg_path) in enumerate(paths):
                    with self.subTest(path=sp_path):
                        for method in ("HEAD", "GET"):
                            s = self._compare(sp_path, reg_path, method, blob=blob)
                            self.assertEqual(s[0], 200)
                            self.assertEqual(int(s[1]["content-length"]), size)
                        self.assertEqual(s[2], _generated_bytes(img, blob.digest))
                        if i > 0:  # ranges do not depend on how the name was given
                            continue
                        for rng in ranges:
                            s = self._compare(sp_path, reg_path, "GET", (f"Range: {rng}",), blob)
                            self.assertEqual(s[0], 206, rng)
                        # unsatisfiable: 416 with Content-Range bytes */SIZE and an OCI JSON
                        # error. (Not compared: docker-registry 2.8 answers 416 with the full
                        # blob's Content-Length and a short body, which curl rejects.)
                        s = curl(NODE.spegel.url + sp_path, "GET", (f"Range: bytes={size}-",))
                        self.assertEqual(s[0], 416)
                        self.assertEqual(s[1].get("content-range"), f"bytes */{size}")
                        self.assertEqual(s[1].get("content-type"), "application/json")
                        self.assertEqual(int(s[1]["content-length"]), len(s[2]))
                        self.assertEqual(json.loads(s[2])["errors"][0]["code"],
                                         "RANGE_INVALID")

    def test_ranges_spegel_ignores_get_the_whole_blob(self):
        img = NODE.images["dock"]
        layer = img.platforms["linux/amd64"].layers[2]
        data = _generated_bytes(img, layer.digest)
        url = f"{NODE.spegel.url}/v2/{img.name}/blobs/{layer.digest}"
        for rng in ("bytes=0-1,5-6", "bytes=abc", "items=0-5", "bytes=5-1"):
            with self.subTest(range=rng):
                status, headers, body = curl(url, "GET", (f"Range: {rng}",))
                self.assertEqual(status, 200)
                self.assertNotIn("content-range", headers)
                self.assertEqual(body, data)

    def test_tag_without_ns_ambiguous_then_disambiguated(self):
        img = NODE.images[AMBIGUOUS]
        accept = (f"Accept: {MANIFEST_ACCEPT}",)
        status, headers, body = curl(f"{NODE.spegel.url}/v2/library/{AMBIGUOUS}/manifests/v1",
                                     "GET", accept)
        self.assertEqual(status, 404)
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(json.loads(body)["errors"][0]["code"], "MANIFEST_UNKNOWN")
        self.assertIn(b"ambiguous", body)
        for path in (f"/v2/library/{AMBIGUOUS}/manifests/v1?ns=docker.io",
                     f"/v2/docker.io/library/{AMBIGUOUS}/manifests/v1",
                     f"/v2/library/{AMBIGUOUS}/manifests/v1?ns={NODE.registry.addr}",
                     f"/v2/{NODE.registry.addr}/library/{AMBIGUOUS}/manifests/v1"):
            with self.subTest(path=path):
                status, headers, body = curl(NODE.spegel.url + path, "GET", accept)
                self.assertEqual(status, 200)
                self.assertEqual(headers.get("docker-content-digest"), img.top.digest)
                self.assertEqual(_sha(body), img.top.digest)

    def test_unknown_names_and_blobs_are_oci_errors(self):
        img = NODE.images["big"]
        missing = "sha256:" + "0" * 64
        for path, code in ((f"/v2/{img.name}/manifests/nope?ns={NODE.registry.addr}",
                            "MANIFEST_UNKNOWN"),
                           (f"/v2/{img.name}/blobs/{missing}", "BLOB_UNKNOWN"),
                           (f"/v2/{img.name}/manifests/{missing}", "MANIFEST_UNKNOWN"),
                           (f"/v2/{img.name}/blobs/sha256:xyz", "DIGEST_INVALID")):
            with self.subTest(path=path):
                s = curl(NODE.spegel.url + path)
                r = curl(NODE.registry.url + path.split("?")[0])
                self.assertEqual(s[1].get("content-type"), "application/json")
                self.assertEqual(int(s[1]["content-length"]), len(s[2]))
                self.assertEqual(json.loads(s[2])["errors"][0]["code"], code)
                self.assertEqual(s[0], r[0])
                self.assertEqual(json.loads(r[2])["errors"][0]["code"], code)


class SkopeoTest(unittest.TestCase):
    """skopeo cannot add ?ns=, so it relies on the unambiguous-tag rule."""

    def _inspect(self, addr, img, *extra):
        return skopeo("inspect", "--tls-verify=false", *extra,
                      f"docker://{addr}/{img.name}:{img.tag}", check=False)

    def test_inspect_raw_and_config_identical_to_registry(self):
        for key in ("big", "multi", "dock"):
            img = NODE.images[key]
            with self.subTest(image=key):
                for extra in (("--raw",), ("--config", "--raw"), ("--no-tags",)):
                    s = self._inspect(NODE.spegel.addr, img, *extra)
                    r = self._inspect(NODE.registry.addr, img, *extra)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertEqual(s.returncode, 0, f"{extra}: {s.stderr}")
                    if extra == ("--no-tags",):
                        sj, rj = json.loads(s.stdout), json.loads(r.stdout)
                        self.assertEqual(sj.pop("Name"), f"{NODE.spegel.addr}/{img.name}")
                        rj.pop("Name")
                        self.assertEqual(sj, rj)
                    else:
                        self.assertEqual(s.stdout, r.stdout)
                top = self._inspect(NODE.spegel.addr, img, "--raw").stdout.encode()
                self.assertEqual(_sha(top), img.top.digest)

    def test_inspect_plain(self):
        # Plain `skopeo inspect` also lists the repository's tags (GET /v2/<name>/tags/list).
        img = NODE.images["big"]
        s = self._inspect(NODE.spegel.addr, img)
        r = self._inspect(NODE.registry.addr, img)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(s.returncode, 0, s.stderr)
        sj, rj = json.loads(s.stdout), json.loads(r.stdout)
        sj.pop("Name")
        rj.pop("Name")
        self.assertEqual(sj, rj)

    def test_list_tags_pages_as_the_spec_says(self):
        # skopeo list-tags follows the Link header; the answer must equal the registry's, and a
        # page of n=1 must hold one tag and echo the repository name as requested.
        img = NODE.images["big"]
        out = {}
        for which, addr in (("spegel", NODE.spegel.addr), ("registry", NODE.registry.addr)):
            r = skopeo("list-tags", "--tls-verify=false", f"docker://{addr}/{img.name}",
                       check=False)
            self.assertEqual(r.returncode, 0, f"{which}: {r.stderr}")
            out[which] = json.loads(r.stdout)["Tags"]
        self.assertIn(img.tag, out["spegel"])
        self.assertTrue(set(out["spegel"]) <= set(out["registry"]), out)
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
        for addr in (NODE.spegel.addr, NODE.registry.addr):
            with self.subTest(addr=addr):
                with direct.open(
                        f"http://{addr}/v2/{img.name}/tags/list?n=1", timeout=10) as resp:
                    doc = json.loads(resp.read())
                self.assertEqual(doc["name"], img.name)
                self.assertEqual(len(doc["tags"]), 1, doc)
        # n is a number: docker-registry and spegel refuse anything else with 400.
        with self.assertRaises(urllib.error.HTTPError) as ctx:
            direct.open(f"http://{NODE.spegel.addr}/v2/{img.name}/tags/list?n=x", timeout=10)
        self.assertEqual(ctx.exception.code, 400)
        self.assertIn(b"PAGINATION_NUMBER_INVALID", ctx.exception.read())

    def test_copy_to_oci_layout_is_byte_identical(self):
        out = util.make_temp_dir("sit-sko-")
        self.addCleanup(util.remove_temp_dir, out)
        for key in ("big", "multi", "dock"):
            img = NODE.images[key]
            with self.subTest(image=key):
                dirs = {}
                for which, addr in (("spegel", NODE.spegel.addr),
                                    ("registry", NODE.registry.addr)):
                    d = os.path.join(out, f"{key}-{which}")
                    skopeo("copy", "--quiet", "--src-tls-verify=false",
                           f"docker://{addr}/{img.name}:{img.tag}", f"oci:{d}:{img.tag}")
                    dirs[which] = d
                s_blobs, r_blobs = (_layout_blobs(dirs[w]) for w in ("spegel", "registry"))
                self.assertEqual(set(s_blobs), set(r_blobs))
                for digest, data in s_blobs.items():
                    self.assertEqual(data, r_blobs[digest], digest)
                    self.assertEqual(_sha(data), digest)
                with open(os.path.join(dirs["spegel"], "index.json"), "rb") as f1, \
                        open(os.path.join(dirs["registry"], "index.json"), "rb") as f2:
                    self.assertEqual(f1.read(), f2.read())
                p = img.platforms["linux/amd64"]
                for blob in [p.config, *p.layers]:
                    self.assertEqual(s_blobs.get(blob.digest), _generated_bytes(img, blob.digest))
                if img.fmt == "oci":  # an OCI manifest is copied unchanged
                    self.assertIn(p.manifest.digest, s_blobs)
        self.assertTrue(NODE.spegel.running())


def _layout_blobs(layout_dir):
    blob_dir = os.path.join(layout_dir, "blobs", "sha256")
    out = {}
    for fn in os.listdir(blob_dir):
        with open(os.path.join(blob_dir, fn), "rb") as f:
            out["sha256:" + fn] = f.read()
    return out


class GrpcFallbackTest(unittest.TestCase):
    """With an unreadable content path spegel streams blobs through containerd's Content.Read."""

    def test_blobs_and_ranges_through_content_read(self):
        sp = start_spegel(NODE, content_dir="/nonexistent-dir")
        self.addCleanup(sp.close)
        self.assertEqual(sp.debug_index()["content_root"], "")
        sp.wait_log("content directory not readable")
        img = NODE.images["big"]
        layer = img.platforms["linux/amd64"].layers[0]
        data = _generated_bytes(img, layer.digest)
        path = f"/v2/{img.name}/blobs/{layer.digest}?ns={NODE.registry.addr}"
        status, headers, body = sp.get(path, timeout=30)
        self.assertEqual(status, 200)
        self.assertEqual(int(headers["content-length"]), layer.size)
        self.assertEqual(body, data)
        # ranges inside one 1 MiB read, across read boundaries, and the tail
        for first, last in ((10, 20), (MIB - 5, 2 * MIB + 5), (layer.size - 7, layer.size - 1),
                            (0, layer.size - 1)):
            with self.subTest(range=(first, last)):
                status, headers, body = sp.get(path, headers={"Range": f"bytes={first}-{last}"},
                                               timeout=30)
                self.assertEqual(status, 206)
                self.assertEqual(headers.get("content-range"), f"bytes {first}-{last}/{layer.size}")
                self.assertEqual(body, data[first:last + 1])
        status, headers, body = sp.get(path, headers={"Range": f"bytes={layer.size}-"})
        self.assertEqual(status, 416)
        self.assertEqual(headers.get("content-range"), f"bytes */{layer.size}")
        # a cut download resumed over the fallback
        _, _, first_part = raw_get_partial(sp.addr, path, 1_500_000)
        status, _, rest = sp.get(path, headers={"Range": "bytes=1500000-"}, timeout=30)
        self.assertEqual(status, 206)
        self.assertEqual(_sha(first_part + rest), layer.digest)
        # small blobs and manifests too, via curl
        for key in ("dock", "multi"):
            other = NODE.images[key]
            p = other.platforms["linux/amd64"]
            for blob in (p.config, p.layers[0]):
                status, _, body = curl(f"{sp.url}/v2/{other.name}/blobs/{blob.digest}")
                self.assertEqual(status, 200)
                self.assertEqual(body, _generated_bytes(other, blob.digest))
            status, headers, body = curl(f"{sp.url}/v2/{other.name}/manifests/{other.tag}"
                                         f"?ns={NODE.registry.addr}", "GET",
                                         (f"Accept: {MANIFEST_ACCEPT}",))
            self.assertEqual(status, 200)
            self.assertEqual(body, _generated_bytes(other, other.top.digest))
        self.assertTrue(sp.running())
        self.assertEqual(sp.log_lines_with("", levels=("ERROR",)), [])


# strace -yy decodes fds: sockets as <TCP:[LOCAL->PEER]>, files as <PATH>.
_SENDFILE = re.compile(r"sendfile\((?P<out>\d+)<(?P<out_desc>TCP6?:\[[^\]]*\]|[^<>]*)>, "
                       r"(?P<in>\d+)<(?P<in_desc>[^<>]*)>.*\)\s+= (?P<ret>-?\d+)")
_WRITE = re.compile(r"(?:write|writev|sendto|sendmsg)\((?P<fd>\d+)<(?P<desc>TCP6?:\[[^\]]*\]|[^<>]*)>"
                    r".*\)\s+= (?P<ret>-?\d+)")


def _join_resumed(lines):
    """strace -f splits calls interrupted by another thread into `<unfinished ...>` and
    `<... NAME resumed>` lines; joins them per pid."""
    pending = {}
    out = []
    for line in lines:
        pid, _, rest = line.partition(" ")
        if rest.endswith("<unfinished ...>"):
            pending[pid] = rest[: -len("<unfinished ...>")].rstrip()
            continue
        m = re.match(r"<\.\.\. \w+ resumed>(.*)", rest)
        if m and pid in pending:
            rest = pending.pop(pid) + m.group(1)
        out.append(rest)
    return out


class SendfileTest(unittest.TestCase):
    def test_blob_body_goes_through_sendfile(self):
        sp = start_spegel(NODE)
        self.addCleanup(sp.close)
        trace = os.path.join(sp.dir, "strace.out")
        strace_log = os.path.join(sp.dir, "strace.log")
        tracer = util.start_process(
            [STRACE_BIN, "-f", "-yy", "-e", "trace=sendfile,write,writev,sendto,sendmsg",
             "-o", trace, "-p", str(sp.proc.pid)], strace_log)
        self.addCleanup(util.stop_process, tracer, 5.0, signal.SIGINT)
        util.wait_until(lambda: "attached" in util.tail(strace_log), 10.0, "strace to attach")
        time.sleep(0.2)

        img = NODE.images["big"]
        layer = img.platforms["linux/amd64"].layers[0]
        self.assertGreater(layer.size, 3 * MIB)
        with socket.create_connection((util.LOOPBACK, sp.port), timeout=20) as s:
            client_port = s.getsockname()[1]
            s.sendall(f"GET /v2/{img.name}/blobs/{layer.digest} HTTP/1.1\r\nHost: x\r\n"
                      "Connection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        self.assertIn(b" 200 ", head.split(b"\r\n")[0])
        self.assertEqual(_sha(body), layer.digest)
        time.sleep(0.3)
        util.stop_process(tracer, 5.0, signal.SIGINT)  # detaches; spegel keeps running
        self.assertTrue(sp.running())

        with open(trace) as f:
            calls = _join_resumed(f.read().splitlines())
        peer = f"127.0.0.1:{client_port}]"
        sent = 0
        files = set()
        written = 0
        for call in calls:
            m = _SENDFILE.search(call)
            if m and m.group("out_desc").endswith(peer) and m.group("out_desc").startswith("TCP"):
                if int(m.group("ret")) > 0:
                    sent += int(m.group("ret"))
                files.add(m.group("in_desc"))
                continue
            m = _WRITE.search(call)
            if m and m.group("desc").endswith(peer) and int(m.group("ret")) > 0:
                written += int(m.group("ret"))
        self.assertEqual(sent, layer.size, f"sendfile bytes on the socket; trace:\n"
                         + "\n".join(calls[:50]))
        self.assertEqual(files, {NODE.ctd.blob_path(layer.digest)})
        # only the response head is written the ordinary way
        self.assertGreater(written, 0)
        self.assertLess(written, 1024)
        self.assertEqual(written, len(head) + 4)


class SigtermTest(unittest.TestCase):
    SHUTDOWN_S = 2.0

    def _start(self):
        sp = start_spegel(NODE, extra_args=("--shutdown-timeout", "2s"))
        self.addCleanup(sp.close)
        return sp

    def _slow_download(self, sp):
        img = NODE.images["huge"]
        layer = img.platforms["linux/amd64"].layers[0]
        self.assertGreater(layer.size, 15 * MIB)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect((util.LOOPBACK, sp.port))
        s.sendall(f"GET /v2/{img.name}/blobs/{layer.digest} HTTP/1.1\r\nHost: x\r\n\r\n"
                  .encode())
        got = s.recv(4096)
        self.assertIn(b" 200 ", got.split(b"\r\n")[0])
        time.sleep(0.5)  # the server fills the socket buffers and waits for this reader
        return s, layer, got

    def _refused(self, sp):
        with socket.socket() as c:
            c.settimeout(1.0)
            return c.connect_ex((util.LOOPBACK, sp.port)) != 0

    def test_stalled_download_is_cut_at_the_deadline_exit_0(self):
        sp = self._start()
        s, layer, _ = self._slow_download(sp)
        self.addCleanup(s.close)
        proc = sp.proc
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        util.wait_until(lambda: self._refused(sp), 1.0, "new connections to be refused")
        self.assertIsNone(proc.poll(), "spegel should wait for the in-flight download")
        try:
            code = proc.wait(timeout=self.SHUTDOWN_S + 3.0)
        except subprocess.TimeoutExpired:
            self.fail(f"spegel did not exit within {self.SHUTDOWN_S + 3.0}s of SIGTERM")
        took = time.monotonic() - started
        self.assertEqual(code, 0, util.tail(sp.log_path))
        self.assertLess(took, self.SHUTDOWN_S + 1.5)
        self.assertTrue(self._refused(sp))
        # the stalled client sees its response end early, not a hang
        s.settimeout(10)
        total = 0
        while True:
            try:
                chunk = s.recv(1 << 16)
            except ConnectionResetError:
                break
            if not chunk:
                break
            total += len(chunk)
        self.assertLess(total, layer.size)

    def test_download_in_flight_completes_during_drain(self):
        sp = self._start()
        s, layer, got = self._slow_download(sp)
        self.addCleanup(s.close)
        proc = sp.proc
        proc.send_signal(signal.SIGTERM)
        util.wait_until(lambda: self._refused(sp), 1.0, "new connections to be refused")
        self.assertIsNone(proc.poll())
        # now drain quickly: the whole blob arrives before the 2 s deadline
        head, body = got.split(b"\r\n\r\n", 1)
        h = hashlib.sha256(body)
        n = len(body)
        s.settimeout(10)
        while n < layer.size:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
        self.assertEqual(n, layer.size)
        self.assertEqual("sha256:" + h.hexdigest(), layer.digest)
        code = proc.wait(timeout=self.SHUTDOWN_S + 3.0)
        self.assertEqual(code, 0, util.tail(sp.log_path))


class GcOnServeTest(unittest.TestCase):
    """Content deleted while spegel runs, with the periodic resync an hour away."""

    def setUp(self):
        self.sp = start_spegel(NODE, resync="1h")
        self.addCleanup(self.sp.close)
        self.img = NODE.images["gc"]
        self.layers = self.img.platforms["linux/amd64"].layers

    def _blob_url(self, blob):
        return f"{self.sp.url}/v2/{self.img.name}/blobs/{blob.digest}?ns={NODE.registry.addr}"

    def _listed(self):
        return {b["digest"] for b in self.sp.debug_index()["blobs"]}

    def _assert_blob_unknown(self, blob, method):
        status, headers, body = curl(self._blob_url(blob), method)
        self.assertEqual(status, 404, f"{method} {blob.digest}")
        self.assertEqual(headers.get("content-type"), "application/json")
        if method == "GET":
            self.assertEqual(int(headers["content-length"]), len(body))
            self.assertEqual(json.loads(body)["errors"][0]["code"], "BLOB_UNKNOWN")
        else:  # HEAD: the error's length, no body
            self.assertGreater(int(headers["content-length"]), 0)
            self.assertEqual(body, b"")

    def _run_gc(self):
        lease = NODE.ctd.ctr("leases", "create").stdout.split()[0]
        NODE.ctd.ctr("leases", "rm", "--sync", lease)

    def _assert_rest_served(self, kept):
        status, _, body = curl(self._blob_url(kept))
        self.assertEqual(status, 200)
        self.assertEqual(_sha(body), kept.digest)
        self.assertIn(kept.digest, self._listed())
        self.assertTrue(self.sp.running())
        self.assertEqual(self.sp.status("/readyz"), 200)

    def test_content_rm_then_get_is_blob_unknown(self):
        gone = self.layers[0]
        NODE.ctd.ctr("content", "rm", gone.digest)
        self._run_gc()  # `content rm` drops the metadata; GC removes the file
        util.wait_until(lambda: not os.path.exists(NODE.ctd.blob_path(gone.digest)), 10.0,
                        "containerd to delete the file")
        self._assert_blob_unknown(gone, "GET")
        self.assertNotIn(gone.digest, self._listed())
        self._assert_blob_unknown(gone, "HEAD")
        self._assert_rest_served(self.layers[3])

    def test_gc_without_event_is_noticed_on_serve(self):
        # containerd's GC deletes content without any event: drop the manifest's references to
        # two layers, then run GC synchronously
        p = self.img.platforms["linux/amd64"]
        gone_head, gone_get = self.layers[1], self.layers[2]
        NODE.ctd.ctr("content", "label", p.manifest.digest, "containerd.io/gc.ref.content.l.1=",
                     "containerd.io/gc.ref.content.l.2=")
        self._run_gc()
        for blob in (gone_head, gone_get):
            util.wait_until(lambda: not os.path.exists(NODE.ctd.blob_path(blob.digest)), 10.0,
                            f"containerd to delete the file of {blob.digest}")
        listed = self._listed()
        self.assertIn(gone_head.digest, listed, "precondition: the index has not noticed yet")
        self.assertIn(gone_get.digest, listed, "precondition: the index has not noticed yet")
        self._assert_blob_unknown(gone_head, "HEAD")
        self._assert_blob_unknown(gone_get, "GET")
        listed = self._listed()
        self.assertNotIn(gone_head.digest, listed)
        self.assertNotIn(gone_get.digest, listed)
        self._assert_rest_served(self.layers[3])


if __name__ == "__main__":
    unittest.main()
