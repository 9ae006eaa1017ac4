#!/usr/bin/python3
"""Checks docs/grafana/sluice-dashboard.json against the control plane's Prometheus exporter:
the file is valid JSON with unique panel ids, every query uses the ${datasource} variable, and
every sluice_* metric name the dashboard uses is one controlplane/metrics/prometheus.cpp writes
(a literal name there, or sluice_vip_/sluice_backend_ + a family of its kFamilies table, with
_total for counters). Exit 0 when it holds, 1 (naming what is wrong) otherwise.

  docs/grafana/check_dashboard.py [DASHBOARD.json] [PROMETHEUS.cpp]
"""
import json
import os
import re
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DASHBOARD = os.path.join(REPO, "docs", "grafana", "sluice-dashboard.json")
EXPORTER = os.path.join(REPO, "controlplane", "metrics", "prometheus.cpp")
METRIC = re.compile(r"\bsluice_[a-z0-9_]+")
# One row of kFamilies: {"name", "type", "help" "more help", &VipCounters::x | nullptr,
# &BackendCounters::y | nullptr}.
FAMILY = re.compile(r'\{"([a-z0-9_]+)",\s*"(counter|gauge)",\s*(?:"(?:[^"\\]|\\.)*"\s*)+,\s*'
                    r"(nullptr|&control::VipCounters::\w+),\s*"
                    r"(nullptr|&control::BackendCounters::\w+)\}")


def exported_names(source):
    names = {m for m in METRIC.findall(source) if not m.endswith("_")}
    families = FAMILY.findall(source)
    if not families:
        raise SystemExit(f"{EXPORTER}: no kFamilies rows found (did its layout change?)")
    for name, kind, vip, backend in families:
        suffix = name + ("_total" if kind == "counter" else "")
        if vip != "nullptr":
            names.add("sluice_vip_" + suffix)
        if backend != "nullptr":
            names.add("sluice_backend_" + suffix)
    return names


def queries(dashboard):
    """(where, expression) of every query: panel targets and templating variables."""
    for panel in dashboard.get("panels", []):
        for sub in [panel, *panel.get("panels", [])]:
            for target in sub.get("targets", []):
                yield f"panel {sub.get('id')} '{sub.get('title')}' {target.get('refId')}", target["expr"]
    for var in dashboard.get("templating", {}).get("list", []):
        query = var.get("query")
        if isinstance(query, dict):
            query = query.get("query", "")
        if var.get("type") == "query":
            yield f"variable ${var['name']}", query


def check(dashboard_path, exporter_path):
    problems = []
    with open(dashboard_path) as f:
        dashboard = json.load(f)
    with open(exporter_path) as f:
        exported = exported_names(f.read())
    ids = [p["id"] for p in dashboard["panels"]]
    if len(ids) != len(set(ids)):
        problems.append(f"panel ids are not unique: {ids}")
    used = set()
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        if panel.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"panel {panel['id']} '{panel['title']}': datasource is not ${{datasource}}")
        if not panel.get("targets"):
            problems.append(f"panel {panel['id']} '{panel['title']}': no query")
    for where, expr in queries(dashboard):
        names = set(METRIC.findall(expr))
        if not names:
            problems.append(f"{where}: no sluice_* metric in {expr!r}")
        for name in sorted(names - exported):
            problems.append(f"{where}: {name} is not exported by {exporter_path}")
        used |= names
    for p in problems:
        print(f"check_dashboard: {p}")
    print(f"check_dashboard: {len(dashboard['panels'])} panels, {len(used)} metric names used "
          f"({', '.join(sorted(used))}), {len(exported)} exported; "
          f"{'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(check(sys.argv[1] if len(sys.argv) > 1 else DASHBOARD,
                   sys.argv[2] if len(sys.argv) > 2 else EXPORTER))
