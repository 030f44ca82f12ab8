#!/usr/bin/env python3
"""Plots end-to-end latency against offered rate from M3 reports of `im-bench --json`.

    python3 bench/plot.py OUT.png LABEL=m3.json [LABEL=other.json ...]

Each report is one line per percentile (p50 solid, p99 dashed) over its steps' offered
rates, on log axes; a step whose sends were not all answered is marked with an x, as
its latency only counts what arrived. Needs matplotlib (`pip install matplotlib`).
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def series(path):
    with open(path) as f:
        report = json.load(f)
    points = []
    for step in report["steps"]:
        rate = step.get("offered_rate")
        latency = step.get("latency", {}).get("end_to_end")
        if rate is None or latency is None:
            continue
        complete = step.get("unanswered", 0) == 0 and step.get("lost", 0) == 0
        points.append((rate, latency["p50_ms"], latency["p99_ms"], complete))
    return sorted(points)


def main(argv):
    if len(argv) < 3 or any("=" not in arg for arg in argv[2:]):
        sys.exit(__doc__)
    out = argv[1]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for n, arg in enumerate(argv[2:]):
        label, path = arg.split("=", 1)
        points = series(path)
        if not points:
            sys.exit(f"{path}: no M3 steps with end-to-end latency")
        color = f"C{n}"
        rates = [p[0] for p in points]
        ax.plot(rates, [p[1] for p in points], "-o", color=color, label=f"{label} p50")
        ax.plot(rates, [p[2] for p in points], "--s", color=color, label=f"{label} p99")
        for rate, _, p99, complete in points:
            if not complete:
                ax.plot([rate], [p99], "x", color="black", markersize=10)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axhline(50, color="grey", linewidth=0.8, linestyle=":")
    ax.text(ax.get_xlim()[1], 50, "50 ms ", va="bottom", ha="right", color="grey")
    ax.set_xlabel("offered rate (messages/s)")
    ax.set_ylabel("end-to-end latency (ms)")
    ax.set_title("M3: 1:1 end-to-end latency against offered rate")
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)


if __name__ == "__main__":
    main(sys.argv)
