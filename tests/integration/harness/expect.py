"""Expected live-index contents and comparison against GET /debug/index.

The /debug/index contract: {"ready", "connected", "synced": bool,
  "images": [{"name", "target"}], "blobs": [{"digest", "size", "media_type", "kind"}],
  "tags": [{"ref", "digest"}]}.
"""

import json

from . import util

KINDS = {"index", "manifest", "config", "layer"}


class Expected:
    """What the index should hold: digest -> imagegen.Blob, and tag ref -> digest."""

    def __init__(self):
        self.blobs = {}
        self.tags = {}

    def add_blobs(self, blobs):
        self.blobs.update(blobs)
        return self

    def add_tag(self, ref, digest):
        self.tags[ref] = digest
        return self

    def add_image(self, image, ref, all_platforms=False):
        """An image stored in containerd under tagged name `ref` (one platform unless
        all_platforms)."""
        self.add_blobs(image.all_blobs() if all_platforms else image.blobs_for_platform())
        return self.add_tag(ref, image.top.digest)

    def copy(self):
        c = Expected()
        c.blobs = dict(self.blobs)
        c.tags = dict(self.tags)
        return c


def validate_shape(doc):
    """Returns a list of problems with the document's shape (empty if it follows the contract)."""
    problems = []
    for key in ("ready", "connected", "synced"):
        if not isinstance(doc.get(key), bool):
            problems.append(f"{key!r} is not a bool: {doc.get(key)!r}")
    for key, fields in (("images", ("name", "target")),
                        ("blobs", ("digest", "size", "media_type", "kind")),
                        ("tags", ("ref", "digest"))):
        items = doc.get(key)
        if not isinstance(items, list):
            problems.append(f"{key!r} is not a list")
            continue
        for item in items:
            if not isinstance(item, dict) or any(f not in item for f in fields):
                problems.append(f"{key} entry {item!r} lacks one of {fields}")
    for b in doc.get("blobs") or []:
        if isinstance(b, dict) and b.get("kind") not in KINDS:
            problems.append(f"blob {b.get('digest')} has kind {b.get('kind')!r}")
    return problems


def diff(doc, expected):
    """Human-readable differences between a /debug/index document and `expected` (exact match of
    blob digests with size/media type/kind, and of tags). Empty list when they agree."""
    problems = validate_shape(doc)
    if problems:
        return problems
    got_blobs = {b["digest"]: b for b in doc["blobs"]}
    for d, b in expected.blobs.items():
        g = got_blobs.get(d)
        if g is None:
            problems.append(f"missing blob {d} ({b.kind})")
        elif (g["size"], g["media_type"], g["kind"]) != (b.size, b.media_type, b.kind):
            problems.append(f"blob {d}: got {(g['size'], g['media_type'], g['kind'])}, "
                            f"want {(b.size, b.media_type, b.kind)}")
    for d, g in got_blobs.items():
        if d not in expected.blobs:
            problems.append(f"unexpected blob {d} ({g.get('kind')})")
    got_tags = {t["ref"]: t["digest"] for t in doc["tags"]}
    if got_tags != expected.tags:
        for ref in sorted(set(got_tags) | set(expected.tags)):
            if got_tags.get(ref) != expected.tags.get(ref):
                problems.append(f"tag {ref}: got {got_tags.get(ref)}, want {expected.tags.get(ref)}")
    if len(doc["blobs"]) != len(got_blobs):
        problems.append("duplicate blob entries")
    return problems


def wait_index(spegel, expected, timeout=15.0, require_synced=True):
    """Waits (bounded) until /debug/index matches `expected` exactly (and is synced); returns the
    document. On timeout raises AssertionError listing the remaining differences."""
    last = {"doc": None, "problems": ["no answer"]}

    def matches():
        doc = spegel.debug_index()
        problems = diff(doc, expected)
        if require_synced and not doc.get("synced"):
            problems.append("index not synced")
        last["doc"], last["problems"] = doc, problems
        return not problems and doc
    try:
        return util.wait_until(matches, timeout, "the index to match", 0.1)
    except TimeoutError:
        raise AssertionError(
            f"index did not match within {timeout}s:\n  " + "\n  ".join(last["problems"][:40]) +
            f"\nlast document: {json.dumps(last['doc'])[:3000]}") from None
