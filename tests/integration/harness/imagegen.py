"""Offline image generator: writes one image into an OCI image layout directory.

Deterministic: the same arguments give byte-identical blobs. Layers are real gzip-compressed tar
files (one directory and one file of seeded pseudo-random bytes, mtime 0, uid/gid 0), so
containerd can unpack them on a CRI pull.

The result carries the expected digests, sizes and media types, computed here with hashlib over
the exact bytes written, so tests compare what containerd/spegel report against an independent
prediction.
"""

import dataclasses
import gzip
import hashlib
import io
import json
import os
import random
import tarfile

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

MEDIA_TYPES = {
    "oci": {"index": OCI_INDEX, "manifest": OCI_MANIFEST, "config": OCI_CONFIG,
            "layer": OCI_LAYER},
    "docker": {"index": DOCKER_LIST, "manifest": DOCKER_MANIFEST, "config": DOCKER_CONFIG,
               "layer": DOCKER_LAYER},
}

HOST_PLATFORM = "linux/amd64"
DEFAULT_MULTI_PLATFORMS = ("linux/amd64", "linux/arm64", "linux/arm/v7")


@dataclasses.dataclass(frozen=True)
class Blob:
    digest: str
    size: int
    media_type: str
    kind: str  # index | manifest | config | layer


@dataclasses.dataclass
class PlatformImage:
    platform: str  # "os/arch" or "os/arch/variant"
    manifest: Blob
    config: Blob
    layers: list

    def blobs(self):
        return [self.manifest, self.config, *self.layers]


@dataclasses.dataclass
class GeneratedImage:
    layout_dir: str
    name: str        # repository part of the reference, e.g. "demo/single"
    tag: str
    fmt: str         # "oci" | "docker"
    top: Blob        # the index/list for multi-platform images, else the manifest
    platforms: dict  # platform string -> PlatformImage

    @property
    def multi(self):
        return self.top.kind == "index"

    def blobs_for_platform(self, platform=HOST_PLATFORM):
        """digest -> Blob for what a pull (or import) of ONE platform stores."""
        out = {self.top.digest: self.top} if self.multi else {}
        for b in self.platforms[platform].blobs():
            out[b.digest] = b
        return out

    def all_blobs(self):
        """digest -> Blob for every blob of every platform (an --all-platforms pull/import)."""
        out = {self.top.digest: self.top} if self.multi else {}
        for p in self.platforms.values():
            for b in p.blobs():
                out[b.digest] = b
        return out

    def non_host_blobs(self, platform=HOST_PLATFORM):
        """Blobs only other platforms use: absent after a single-platform pull."""
        host = self.blobs_for_platform(platform)
        return {d: b for d, b in self.all_blobs().items() if d not in host}


def _digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json_bytes(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=False).encode()


def _descriptor(blob, platform=None):
    d = {"mediaType": blob.media_type, "digest": blob.digest, "size": blob.size}
    if platform:
        parts = platform.split("/")
        d["platform"] = {"architecture": parts[1], "os": parts[0]}
        if len(parts) > 2:
            d["platform"]["variant"] = parts[2]
    return d


def make_layer_tar(seed, size, compresslevel=6):
    """Returns (gzip bytes, uncompressed tar bytes) of a deterministic one-file tar layer.
    compresslevel 0 (gzip "stored" blocks) makes large random layers ~25x faster to build."""
    rng = random.Random(seed)
    # In 64 MiB steps: randbytes() of 256 MiB or more overflows. Steps that are multiples of 4
    # bytes give the very bytes one call would, so digests do not depend on the step.
    step = 64 << 20
    payload = b"".join(rng.randbytes(min(step, size - off)) for off in range(0, size, step))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        dirname = "data-" + hashlib.sha256(seed.encode()).hexdigest()[:12]
        info = tarfile.TarInfo(dirname)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        info.mtime = 0
        tar.addfile(info)
        info = tarfile.TarInfo(f"{dirname}/payload.bin")
        info.size = len(payload)
        info.mode = 0o644
        info.mtime = 0
        tar.addfile(info, io.BytesIO(payload))
    raw = buf.getvalue()
    return gzip.compress(raw, compresslevel=compresslevel, mtime=0), raw


class _LayoutWriter:
    def __init__(self, layout_dir):
        self.dir = layout_dir
        self.blob_dir = os.path.join(layout_dir, "blobs", "sha256")
        os.makedirs(self.blob_dir, exist_ok=True)
        with open(os.path.join(layout_dir, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')

    def put(self, data, media_type, kind):
        digest = _digest(data)
        path = os.path.join(self.blob_dir, digest[7:])
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
        return Blob(digest, len(data), media_type, kind)


def generate(layout_dir, seed, name, tag="v1", fmt="oci", platforms=None,
             layer_sizes=(4096, 8192), layer_seeds=None, full_name=None, compresslevel=6):
    """Writes one image into the OCI layout at layout_dir (created if needed) and returns a
    GeneratedImage.

    platforms: None -> single platform linux/amd64, top = the manifest; a sequence -> an
      index (OCI) or manifest list (Docker) over those platforms, even if it has one entry.
    layer_sizes: payload bytes per layer (the same count for every platform).
    layer_seeds: optional per-layer seeds replacing the image seed, so images can share layers
      (same layer seed, size and platform -> identical blob).
    full_name: the image name recorded in index.json for `ctr images import`
      (io.containerd.image.name); defaults to "<name>:<tag>".
    compresslevel: gzip level of the layers (0 = stored, fast for large random layers).
    """
    if fmt not in MEDIA_TYPES:
        raise ValueError(f"unknown format {fmt!r}")
    mt = MEDIA_TYPES[fmt]
    writer = _LayoutWriter(layout_dir)
    plat_list = list(platforms) if platforms else [HOST_PLATFORM]
    per_platform = {}
    for plat in plat_list:
        parts = plat.split("/")
        layers, diff_ids = [], []
        for i, size in enumerate(layer_sizes):
            lseed = layer_seeds[i] if layer_seeds and i < len(layer_seeds) else f"{seed}/{i}"
            gz, raw = make_layer_tar(f"{lseed}/{plat}/{size}", size, compresslevel)
            layers.append(writer.put(gz, mt["layer"], "layer"))
            diff_ids.append(_digest(raw))
        config_obj = {
            "created": "1970-01-01T00:00:00Z",
            "architecture": parts[1],
            "os": parts[0],
            "config": {"Env": ["PATH=/usr/bin:/bin"], "Labels": {"spegel.test.seed": str(seed)}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": f"imagegen {i}"}
                        for i in range(len(layers))],
        }
        if len(parts) > 2:
            config_obj["variant"] = parts[2]
        config = writer.put(_json_bytes(config_obj), mt["config"], "config")
        manifest_obj = {
            "schemaVersion": 2,
            "mediaType": mt["manifest"],
            "config": _descriptor(config),
            "layers": [_descriptor(b) for b in layers],
        }
        manifest = writer.put(_json_bytes(manifest_obj), mt["manifest"], "manifest")
        per_platform[plat] = PlatformImage(plat, manifest, config, layers)

    if platforms:
        index_obj = {
            "schemaVersion": 2,
            "mediaType": mt["index"],
            "manifests": [_descriptor(p.manifest, plat) for plat, p in per_platform.items()],
        }
        top = writer.put(_json_bytes(index_obj), mt["index"], "index")
    else:
        top = per_platform[HOST_PLATFORM].manifest

    layout_index = {
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": top.media_type, "digest": top.digest, "size": top.size,
            "annotations": {
                "org.opencontainers.image.ref.name": tag,
                "io.containerd.image.name": full_name or f"{name}:{tag}",
            },
        }],
    }
    with open(os.path.join(layout_dir, "index.json"), "wb") as f:
        f.write(_json_bytes(layout_index))
    return GeneratedImage(layout_dir, name, tag, fmt, top, per_platform)


def layout_tar(layout_dir, tar_path):
    """Packs an OCI layout dir into a tar (deterministic order, mtime 0) for `ctr images import`."""
    with tarfile.open(tar_path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for root, dirs, files in os.walk(layout_dir):
            dirs.sort()
            for fn in sorted(files):
                path = os.path.join(root, fn)
                arc = os.path.relpath(path, layout_dir)
                info = tar.gettarinfo(path, arc)
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(path, "rb") as f:
                    tar.addfile(info, f)
    return tar_path
