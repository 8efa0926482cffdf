#!/usr/bin/python3
"""Checks a Grafana dashboard against the metrics a Spegel scrape declares.

    check_dashboard.py DASHBOARD.json METRICS.txt

METRICS.txt is a Prometheus text exposition (a scrape of spegel's /metrics; the daemon needs
containerd to serve one, so it is taken as a file). Every metric name used in a panel target's
`expr` (and in the templating variables' queries) that starts with `spegel_` or `http_` must be
declared by a `# TYPE name type` line there; for a histogram (or summary) name, `_bucket`,
`_sum` and `_count` series of it are accepted and reported under the base name.

Also fails when the dashboard has no panels or when a panel id repeats (rows' nested panels
included). Prints every unknown name and every problem; on success, `ok: N metrics, M panels`.
Exit status: 0 ok, 1 check failed, 2 usage or unreadable input. Python 3 stdlib only.
"""

import json
import re
import sys

# A metric name as PromQL spells it, not in the middle of another identifier or a `$variable`,
# followed by a selector, a range, a closing parenthesis, whitespace or (in label_values(m, l)
# of a templating query) a comma.
_NAME = re.compile(r"(?<![a-zA-Z0-9_:$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?=[{\[)\s,])")
_PREFIXES = ("spegel_", "http_")
_SUFFIXES = ("_bucket", "_sum", "_count")
_TYPE = re.compile(r"^#\s*TYPE\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s+(\w+)\s*$")
# Double-quoted PromQL strings (label values), so that nothing inside them counts as a name.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def walk_panels(panels):
    """Every panel, rows' nested `panels` included, depth first."""
    for panel in panels or []:
        if not isinstance(panel, dict):
            continue
        yield panel
        yield from walk_panels(panel.get("panels"))


def exprs(dashboard):
    """(where, expr) of every target expr and every templating query."""
    for panel in walk_panels(dashboard.get("panels")):
        for target in panel.get("targets") or []:
            if isinstance(target, dict) and isinstance(target.get("expr"), str):
                yield f"panel {panel.get('id')} ({panel.get('title', '')!r})", target["expr"]
    for var in (dashboard.get("templating") or {}).get("list") or []:
        if not isinstance(var, dict) or var.get("type") != "query":
            continue
        query = var.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if isinstance(query, str):
            yield f"variable ${var.get('name')}", query


def names_in(expr):
    return [n for n in _NAME.findall(_STRING.sub('""', expr)) if n.startswith(_PREFIXES)]


def declared_types(text):
    """{name: type} of every `# TYPE` line."""
    types = {}
    for line in text.splitlines():
        m = _TYPE.match(line)
        if m:
            types[m.group(1)] = m.group(2)
    return types


def resolve(name, types):
    """The declared metric `name` stands for, or None if it is unknown."""
    if name in types:
        return name
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            kind = types.get(base)
            if kind == "histogram" or (kind == "summary" and suffix != "_bucket"):
                return base
    return None


def main(argv):
    if len(argv) != 3:
        print("usage: check_dashboard.py DASHBOARD.json METRICS.txt", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            dashboard = json.load(f)
        with open(argv[2], encoding="utf-8") as f:
            types = declared_types(f.read())
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not isinstance(dashboard, dict):
        print("error: the dashboard is not a JSON object", file=sys.stderr)
        return 2
    if not types:
        print(f"error: {argv[2]} declares no metrics (no `# TYPE` lines)", file=sys.stderr)
        return 2

    failed = False
    panels = list(walk_panels(dashboard.get("panels")))
    if not panels:
        print("no panels in the dashboard")
        failed = True
    seen_ids = {}
    for panel in panels:
        pid = panel.get("id")
        if pid is None:
            print(f"panel {panel.get('title', '')!r} has no id")
            failed = True
        elif pid in seen_ids:
            print(f"panel id {pid} repeats ({seen_ids[pid]!r} and {panel.get('title', '')!r})")
            failed = True
        else:
            seen_ids[pid] = panel.get("title", "")

    used = set()
    unknown = {}
    for where, expr in exprs(dashboard):
        for name in names_in(expr):
            metric = resolve(name, types)
            if metric is None:
                unknown.setdefault(name, where)
            else:
                used.add(metric)
    for name, where in sorted(unknown.items()):
        print(f"unknown metric {name} (first in {where})")
        failed = True
    if failed:
        return 1
    print(f"ok: {len(used)} metrics, {len(panels)} panels")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
