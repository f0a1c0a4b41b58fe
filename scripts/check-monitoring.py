#!/usr/bin/python3
"""Checks what srtfwd ships for Prometheus and Grafana:

  * contrib/prometheus/srtfwd-rules.yml: `promtool check rules` and
    `promtool test rules contrib/prometheus/srtfwd-rules.test.yml`;
  * contrib/grafana/srtfwd.json: valid JSON, every panel has a query, and
    every srtfwd_* metric a query or a rule names is one that /metrics
    exposes (the names in the table in src/admin/metrics.cc).

Exit 0 when all hold; 1 with one line per problem otherwise. promtool comes
with the Debian package prometheus (scripts/setup.sh installs it).
"""

import json
import os
import re
import shutil
import subprocess
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
problems = []


def exposed_metrics():
    """Metric names /metrics can show: string literals "srtfwd_..." in the admin room."""
    names = set()
    admin = os.path.join(root, "src", "admin")
    for f in os.listdir(admin):
        if f.endswith(".cc"):
            with open(os.path.join(admin, f)) as fh:
                names |= set(re.findall(r'"(srtfwd_[a-z0-9_]+)"', fh.read()))
    return names


def metric_names(expr):
    return set(re.findall(r"\b(srtfwd_[a-z0-9_]+)\b", expr))


known = exposed_metrics()
if len(known) < 20:
    problems.append(f"only {len(known)} metric names found in src/admin: the pattern is stale")

# -- the dashboard
dash_path = os.path.join(root, "contrib", "grafana", "srtfwd.json")
try:
    with open(dash_path) as f:
        dash = json.load(f)
except (OSError, ValueError) as e:
    problems.append(f"{dash_path}: {e}")
    dash = {"panels": []}
panels = dash.get("panels", [])
if not panels:
    problems.append(f"{dash_path}: no panels")
seen_lcore = False
for p in panels:
    title = p.get("title", f"panel {p.get('id')}")
    exprs = [t.get("expr", "") for t in p.get("targets", [])]
    if not exprs or not all(exprs):
        problems.append(f"dashboard panel {title!r}: a target without a query")
    for e in exprs:
        names = metric_names(e)
        if not names:
            problems.append(f"dashboard panel {title!r}: {e!r} names no srtfwd metric")
        for n in sorted(names - known):
            problems.append(f"dashboard panel {title!r}: {n} is not a metric srtfwd exposes")
        seen_lcore |= "by (lcore)" in e
if not seen_lcore:
    problems.append("dashboard: no per-lcore panel (sum by (lcore))")

# -- the rules
rules_path = os.path.join(root, "contrib", "prometheus", "srtfwd-rules.yml")
with open(rules_path) as f:
    for n in sorted(metric_names(f.read()) - known):
        problems.append(f"{rules_path}: {n} is not a metric srtfwd exposes")
promtool = shutil.which("promtool")
no_promtool = promtool is None
if no_promtool:
    problems.append("promtool not found (apt-get install prometheus, or run scripts/setup.sh)")
else:
    for args in (["check", "rules", "srtfwd-rules.yml"], ["test", "rules", "srtfwd-rules.test.yml"]):
        r = subprocess.run([promtool, *args], cwd=os.path.dirname(rules_path),
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            problems.append(f"promtool {' '.join(args)} failed:\n{r.stdout}{r.stderr}")
        else:
            print(f"promtool {' '.join(args)}: ok")

for p in problems:
    print(p, file=sys.stderr)
print(f"dashboard: {len(panels)} panels checked against {len(known)} metric names")
if no_promtool and len(problems) == 1 and os.environ.get("CI") != "true":
    sys.exit(77)  # meson: skipped (under CI=true it fails)
sys.exit(1 if problems else 0)
