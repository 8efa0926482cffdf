"""Moving generated images around: push to the registry (skopeo), pull into containerd (CRI via
the `cri` test tool, or `ctr images pull`), and `ctr images import`.

All functions block until the tool finishes (each call is time-bounded) and raise
util.HarnessError with the tool's output on failure.
"""

import os

from . import imagegen
from . import util

SKOPEO_BIN = os.environ.get("SKOPEO_BIN", "skopeo")
BUILD_DIR = os.environ.get("SPEGEL_BUILD_DIR", "/work/main/build-it")


def cri_bin():
    """Path of the CRI client test tool (env CRI_BIN, else <build>/tests/tools/cri)."""
    return os.environ.get("CRI_BIN", os.path.join(BUILD_DIR, "tests", "tools", "cri"))


def ctd_probe_bin():
    """Path of the containerd probe test tool (env CTD_PROBE_BIN, else <build>/tests/tools/ctd_probe)."""
    return os.environ.get("CTD_PROBE_BIN", os.path.join(BUILD_DIR, "tests", "tools", "ctd_probe"))


def _require_tool(path, what):
    if not os.access(path, os.X_OK):
        raise util.HarnessError(f"{what} not found at {path} (build it with ninja -C <build dir>)")
    return path


def push(image, registry, repo=None, tag=None):
    """Pushes a generated layout with `skopeo copy --all --preserve-digests` and checks the
    registry reports the generator's top digest for the tag. Returns the pushed reference
    "127.0.0.1:PORT/REPO:TAG"."""
    repo = repo or image.name
    tag = tag or image.tag
    ref = f"{registry.addr}/{repo}:{tag}"
    dir_copy = None
    try:
        if image.fmt == "docker":
            # skopeo's oci: transport only accepts OCI media types in index.json; its dir:
            # transport carries Docker schema2 manifests and lists unchanged.
            dir_copy = util.make_temp_dir("sit-dir-")
            source = "dir:" + _dir_transport_copy(image, dir_copy)
        else:
            source = f"oci:{image.layout_dir}:{image.tag}"
        util.run([SKOPEO_BIN, "copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
                  "--quiet", source, f"docker://{ref}"], timeout=120)
    finally:
        if dir_copy:
            util.remove_temp_dir(dir_copy)
    got = registry.manifest_digest(repo, tag)
    if got != image.top.digest:
        raise util.HarnessError(f"registry has {got} for {ref}, generator predicted "
                                f"{image.top.digest}")
    return ref


def _dir_transport_copy(image, out_dir):
    """Lays the image out for skopeo's dir: transport (version 1.1): manifest.json is the top
    manifest/list, <hex>.manifest.json the list's instances, <hex> every other blob."""
    with open(os.path.join(out_dir, "version"), "w") as f:
        f.write("Directory Transport Version: 1.1\n")
    src = os.path.join(image.layout_dir, "blobs", "sha256")
    for digest, blob in image.all_blobs().items():
        hexpart = digest.split(":", 1)[1]
        if digest == image.top.digest:
            name = "manifest.json"
        elif blob.kind == "manifest":
            name = hexpart + ".manifest.json"
        else:
            name = hexpart
        os.link(os.path.join(src, hexpart), os.path.join(out_dir, name))
    return out_dir


def cri_pull(ctd, ref, timeout=60):
    """Pulls through containerd's CRI plugin (PullImage), which resolves via certs.d."""
    # The tool's own gRPC deadline (120 s unless told) must not end a long pull before `timeout`.
    return util.run([_require_tool(cri_bin(), "cri tool"), "--address", ctd.socket,
                     "--timeout", str(max(int(timeout), 120)), "pull", ref],
                    timeout=timeout + 10).stdout


def cri_rmi(ctd, ref, timeout=60):
    """RemoveImage through CRI."""
    return util.run([_require_tool(cri_bin(), "cri tool"), "--address", ctd.socket, "rmi", ref],
                    timeout=timeout).stdout


def cri_images(ctd, timeout=30):
    """The `cri images` listing, as text."""
    return util.run([_require_tool(cri_bin(), "cri tool"), "--address", ctd.socket, "images"],
                    timeout=timeout).stdout


def ctr_pull(ctd, ref, all_platforms=False, timeout=60):
    """`ctr -n k8s.io images pull --plain-http --hosts-dir <certs.d>` (resolves in the ctr
    process, not in the daemon)."""
    args = ["images", "pull", "--plain-http", "--hosts-dir", ctd.certs_d]
    if all_platforms:
        args.append("--all-platforms")
    return ctd.ctr(*args, ref, timeout=timeout).stdout


def ctr_import(ctd, image, all_platforms=False, timeout=60):
    """Tars the image's layout and runs `ctr -n k8s.io images import` on it. The image name is
    the layout's io.containerd.image.name annotation."""
    tar_dir = util.make_temp_dir("sit-tar-")
    try:
        tar_path = imagegen.layout_tar(image.layout_dir, os.path.join(tar_dir, "image.tar"))
        args = ["images", "import"]
        if all_platforms:
            args.append("--all-platforms")
        return ctd.ctr(*args, tar_path, timeout=timeout).stdout
    finally:
        util.remove_temp_dir(tar_dir)


def create_image(ctd, name, digest, media_type, size, check=True, timeout=30):
    """Creates an image record pointing at any descriptor (no validation by containerd), using
    the ctd_probe test tool: `ctd_probe --address SOCK create-image NAME DIGEST MEDIATYPE SIZE`."""
    return util.run([_require_tool(ctd_probe_bin(), "ctd_probe tool"), "--address", ctd.socket,
                     "create-image", name, digest, media_type, str(size)],
                    timeout=timeout, check=check)
