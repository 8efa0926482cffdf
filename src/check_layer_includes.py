#!/usr/bin/env python3
"""Fails (exit 1, one line per offence) when a file under src/<layer>/ includes a header of a
layer it may not see. The include views already make `#include "registry/route.h"` from a lower
layer fail to compile; this also catches the spellings a view cannot stop, such as
`#include "../registry/route.h"`, which the compiler resolves next to the including file.

usage: check_layer_includes.py SRC_DIR STAMP_FILE
What a layer may see is read from the build files themselves: the order in SRC_DIR/meson.build
(`layer_order = [...]`) and each SRC_DIR/<layer>/meson.build's `layer_uses = [...]`; a layer sees
itself, what it declares, and what those see. `daemon` (and main.cc) sees every layer.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def names(text, var):
    m = re.search(var + r"\s*=\s*\[([^\]]*)\]", text)
    if not m:
        return None
    return re.findall(r"'([^']+)'", m.group(1))


def main():
    src, stamp = sys.argv[1], sys.argv[2]
    with open(os.path.join(src, "meson.build")) as f:
        order = names(f.read(), "layer_order")
    visible = {}
    for layer in order:
        with open(os.path.join(src, layer, "meson.build")) as f:
            uses = names(f.read(), "layer_uses") or []
        seen = {layer}
        for u in uses:
            seen |= visible.get(u, set())
        visible[layer] = seen
    visible["daemon"] = set(order) | {"daemon"}
    offences = []
    for layer in sorted(visible):
        folder = os.path.join(src, layer)
        for root, _, files in os.walk(folder):
            for name in sorted(files):
                if not name.endswith((".h", ".cc")):
                    continue
                path = os.path.join(root, name)
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                for m in INCLUDE.finditer(text):
                    target = m.group(1)
                    if target.startswith("."):
                        resolved = os.path.relpath(
                            os.path.normpath(os.path.join(root, target)), src)
                    else:
                        resolved = target
                    top = resolved.split("/")[0]
                    if top in visible[layer] or top not in visible:
                        continue  # Its own or a lower layer's header, or a system/generated one.
                    line = text.count("\n", 0, m.start()) + 1
                    offences.append(
                        f"{os.path.relpath(path, os.path.dirname(src))}:{line}: includes "
                        f"\"{target}\" ({top}/), but src/{layer} may include only "
                        f"{', '.join(l for l in order + ['daemon'] if l in visible[layer])}")
    if offences:
        print("\n".join(offences), file=sys.stderr)
        return 1
    with open(stamp, "w") as f:
        f.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
