#!/usr/bin/env python3
"""Stages containerd's API .proto files for protoc's C++ generator.

Usage: stage_protos.py --root DIR [--root DIR...] --outdir DIR IMPORT_PATH=FLAT_NAME...

Each IMPORT_PATH (the path other protos import it by, e.g.
"github.com/containerd/containerd/api/types/descriptor.proto" or "google/rpc/status.proto") is
looked up under the roots in order and copied to DIR/FLAT_NAME.proto. The copy differs from the
original only as listed here; the wire format, packages, message names and field numbers are
unchanged:

* imports of staged files are rewritten to their flat names (services/content/v1/content.proto
  and events/content.proto would otherwise collide as "content.proto");
* `import weak` lines (gogoproto, containerd's fieldpath plugin) are dropped: protoc's open-source
  C++ generator aborts on weak imports;
* `option (gogoproto.*)` / `option (containerd.plugin.*)` statements and such field options are
  dropped, since their definitions are no longer imported;
* fields named after C++20 keywords that protoc 3.21 does not escape (introspection's
  `repeated string requires = 3`) get a trailing underscore, as protoc does for older keywords
  (`namespace` -> `namespace_()`). Only the name changes; the wire format is keyed by number.

Any other import that is neither staged nor a well-known type is an error, and so is any gogoproto
or containerd.plugin reference left after stripping: a newer upstream file fails loudly here
instead of confusing protoc.

One addition: containerd >= 2.1 publishes /content/create with containerd.events.ContentCreate
{digest = 1, size = 2}, which the 1.6 API lacks. When events/content.proto has no ContentCreate
message, the upstream definition is appended so clients can decode the event from newer servers.
"""

import argparse
import os
import re
import sys

STRIPPED_OPTION_PREFIXES = ("(gogoproto.", "(containerd.plugin.")
WELL_KNOWN_PREFIX = "google/protobuf/"

CONTENT_EVENTS_PATH = "github.com/containerd/containerd/api/events/content.proto"
CONTENT_CREATE = """
// Added by proto/stage_protos.py: containerd >= 2.1 (containerd#11006), same package, same fields.
message ContentCreate {
	string digest = 1;
	int64 size = 2;
}
"""

IMPORT_RE = re.compile(r'^\s*import\s+(weak\s+|public\s+)?"([^"]+)"\s*;\s*$')
OPTION_RE = re.compile(r"^\s*option\s+(\([^)]*\)[\w.]*)\s*=.*;\s*$")
FIELD_OPTIONS_RE = re.compile(r"\s*\[([^\]]*)\]\s*;")
CXX20_KEYWORDS = ("char8_t", "concept", "consteval", "constinit", "co_await", "co_return",
                  "co_yield", "requires")
FIELD_NAME_RE = re.compile(r"^(\s*(?:repeated\s+|optional\s+)?[\w.<>, ]+\s+)(%s)(\s*=\s*\d+)"
                           % "|".join(CXX20_KEYWORDS))


def split_options(text):
    """Splits 'a = 1, b = "x,y"' at top-level commas (commas inside quotes are kept)."""
    parts, current, quote = [], [], None
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            current.append(ch)
        elif ch == ",":
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def strip_field_options(line):
    match = FIELD_OPTIONS_RE.search(line)
    if not match:
        return line
    kept = [o for o in split_options(match.group(1)) if not o.startswith(STRIPPED_OPTION_PREFIXES)]
    replacement = " [" + ", ".join(kept) + "];" if kept else ";"
    return line[: match.start()] + replacement + line[match.end():]


def stage(src_path, import_path, flat_names):
    out = []
    with open(src_path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for number, line in enumerate(lines, 1):
        where = f"{import_path}:{number}"
        imp = IMPORT_RE.match(line)
        if imp:
            weak, target = imp.group(1), imp.group(2)
            if weak and weak.strip() == "weak":
                continue
            if target in flat_names:
                out.append(f'import "{flat_names[target]}.proto";')
            elif target.startswith(WELL_KNOWN_PREFIX):
                out.append(line)
            else:
                raise SystemExit(f"stage_protos: {where}: import of unstaged file {target!r}")
            continue
        opt = OPTION_RE.match(line)
        if opt and opt.group(1).startswith(STRIPPED_OPTION_PREFIXES):
            continue
        line = strip_field_options(line)
        line = FIELD_NAME_RE.sub(r"\1\2_\3", line)
        code = line.split("//", 1)[0]
        if "gogoproto" in code or "containerd.plugin" in code:
            raise SystemExit(f"stage_protos: {where}: unhandled Go-only option: {line.strip()}")
        out.append(line)
    text = "\n".join(out) + "\n"
    if import_path == CONTENT_EVENTS_PATH and not re.search(r"\bmessage\s+ContentCreate\b", text):
        text += CONTENT_CREATE
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, action="append", help="import root (repeatable)")
    parser.add_argument("--outdir", required=True)
    parser.add_argument("files", nargs="+", metavar="IMPORT_PATH=FLAT_NAME")
    args = parser.parse_args()

    flat_names = {}
    for spec in args.files:
        import_path, sep, flat = spec.partition("=")
        if not sep or not flat or "/" in flat:
            parser.error(f"bad file spec {spec!r}")
        flat_names[import_path] = flat

    os.makedirs(args.outdir, exist_ok=True)
    for import_path, flat in flat_names.items():
        candidates = [os.path.join(root, import_path) for root in args.root]
        src = next((c for c in candidates if os.path.isfile(c)), None)
        if src is None:
            raise SystemExit(
                f"stage_protos: {import_path} not found under {args.root} (run scripts/setup)")
        text = stage(src, import_path, flat_names)
        dst = os.path.join(args.outdir, flat + ".proto")
        with open(dst + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(dst + ".tmp", dst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
