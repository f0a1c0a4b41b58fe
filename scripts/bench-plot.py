#!/usr/bin/python3
"""Draws a scripts/bench.sh run from its CSV: Mpps against installed sessions
for every program of the run (each run a dot, the median a line), and
handshakes per second per balancer against its target, as measured and as
the control lcore's CPU time per handshake gives them. Figures from a
shared host move between minutes: the programs' ratios in the same run are
what the plot is for.
  usage: bench-plot.py RESULTS.csv OUT_DIR   (writes bench-mpps.png, bench-handshakes.png)
Debian's python3-matplotlib, run with /usr/bin/python3."""
import csv
import os
import statistics
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

path, out = sys.argv[1], sys.argv[2]
with open(path) as f:
    rows = list(csv.DictReader(f))
if not rows:
    sys.exit(f"bench-plot: {path}: no figures")
date = rows[0]["date"]
os.makedirs(out, exist_ok=True)

mpps = defaultdict(lambda: defaultdict(list))  # program -> sessions -> [Mpps]
hs = defaultdict(lambda: defaultdict(list))  # metric -> balancer -> [handshakes/s]
for r in rows:
    if r["metric"] == "mpps":
        mpps[r["program"]][int(r["sessions"])].append(float(r["value"]))
    elif r["metric"].startswith("handshakes_per_s"):
        hs[r["metric"]][r["program"]].append(float(r["value"]))

if mpps:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = {"srtfwd": ("C0", "o"), "testpmd-5tswap": ("C7", "s"), "l3fwd-em": ("C1", "^"),
              "lookup-floor": ("C2", "v"), "baseline-srtfwd": ("C3", "D")}
    for i, (prog, by) in enumerate(sorted(mpps.items(), key=lambda kv: kv[0] != "srtfwd")):
        color, marker = styles.get(prog, (f"C{4 + i}", "x"))
        xs = sorted(by)
        for x in xs:
            ax.scatter([x] * len(by[x]), by[x], color=color, marker=marker, alpha=0.35, s=18)
        ax.plot(xs, [statistics.median(by[x]) for x in xs], color=color, marker=marker,
                label=f"{prog} (median)")
    ax.set_xscale("log")
    ax.set_xlabel("installed sessions (l3fwd-em: flows, both directions' keys)")
    ax.set_ylabel("Mpps, one forwarding lcore")
    ax.set_ylim(bottom=0)
    ax.set_title(f"scripts/bench.sh, looped pcap -> net_null, {date}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "bench-mpps.png"), dpi=110)
    print(f"bench-plot: {os.path.join(out, 'bench-mpps.png')}")

if hs:
    targets = {"memory": 50000, "redis": 20000}
    kinds = [("handshakes_per_s", "measured over the window", "C0"),
             ("handshakes_per_s_dedicated_core", "from CPU time per handshake (a core of its own)", "C9")]
    kinds = [k for k in kinds if k[0] in hs]
    names = sorted({n for k in kinds for n in hs[k[0]]})
    width = 0.8 / len(kinds)
    fig, ax = plt.subplots(figsize=(6, 4))
    for j, (metric, label, color) in enumerate(kinds):
        xs = [i - 0.4 + width * (j + 0.5) for i in range(len(names))]
        ax.bar(xs, [statistics.median(hs[metric][n]) if hs[metric][n] else 0 for n in names],
               width, color=color, label=label)
    for i, n in enumerate(names):
        if n in targets:
            ax.hlines(targets[n], i - 0.45, i + 0.45, colors="C3", linestyles="--",
                      label="target" if i == 0 else None)
    ax.set_xticks(range(len(names)), names)
    top = max([v for k in kinds for n in names for v in hs[k[0]][n]] + [targets.get(n, 0) for n in names])
    ax.set_ylim(0, top * 1.4)  # room for the legend
    ax.set_ylabel("handshakes per second, one control lcore")
    ax.set_xlabel("balancer")
    ax.set_title(f"srtfwd-hs-bench, {date}")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "bench-handshakes.png"), dpi=110)
    print(f"bench-plot: {os.path.join(out, 'bench-handshakes.png')}")
