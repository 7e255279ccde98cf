#!/usr/bin/python3
"""S2P populations side by side (docs/RESULTS.md): the final figures of finished runs.

    scripts/results/s2p-population-table.py LABEL=RUN_DIR [LABEL=RUN_DIR ...] [--matrices]

One column per run: the steps it trained, its wall time, and the population-mean figures of its
last evaluation (summary.json "final"; S2P logs the member mean as sp_acc/<split> etc.), with
the mean of the off-diagonal cross-play cells on the val sample (crossplay_mean/val: speaker i
with listener j != i). --matrices also prints each run's last cross-play matrix
(/matrices/crossplay:val of run.h5; pairs not sampled at that evaluation show as "–").
Needs python3-h5py for --matrices. Exit codes: 0 ok, 2 bad input.
"""
import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tables import open_run_h5  # noqa: E402

FIGURES = [
    "sp_acc/train", "sp_acc/val", "sp_acc/test", "crossplay_mean/val",
    "listener_human_acc/train", "listener_human_acc/val", "listener_human_acc/test",
    "speaker_human_match/train", "speaker_human_match/val", "speaker_human_match/test",
    "speaker_token_acc/val", "speaker_token_acc/test",
]


def cell(x):
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def matrix(label, run_dir):
    with open_run_h5(run_dir, "--matrices") as f:
        if "matrices/crossplay:val" not in f:
            raise ValueError(f"{run_dir}/run.h5 has no /matrices/crossplay:val (population.size = 1?)")
        m = f["matrices/crossplay:val/value"][-1]
    P = m.shape[0]
    lines = [f"| {label} | " + " | ".join(f"l{j}" for j in range(P)) + " |", "|---" * (P + 1) + "|"]
    for i in range(P):
        row = [f"**{m[i, j]:.3f}**" if i == j else cell(float(m[i, j])) for j in range(P)]
        lines.append(f"| s{i} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv):
    ap = argparse.ArgumentParser(prog="s2p-population-table.py", description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", metavar="LABEL=RUN_DIR")
    ap.add_argument("--matrices", action="store_true", help="also print each run's last cross-play matrix")
    args = ap.parse_args(argv[1:])
    cols = []
    for spec in args.runs:
        label, sep, run_dir = spec.partition("=")
        if not sep or not label or not run_dir:
            print(f"s2p-population-table.py: error: '{spec}' is not LABEL=RUN_DIR", file=sys.stderr)
            return 2
        path = os.path.join(run_dir, "summary.json")
        if not os.path.isfile(path):
            print(f"s2p-population-table.py: error: {path} does not exist (the run has not finished)",
                  file=sys.stderr)
            return 2
        with open(path) as f:
            cols.append((label, run_dir, json.load(f)))
    print("| | " + " | ".join(label for label, _, _ in cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    print("| steps | " + " | ".join(str(s["steps"]) for _, _, s in cols) + " |")
    print("| wall time | " + " | ".join(f"{s['wall_seconds'] / 60:.1f} min" for _, _, s in cols) + " |")
    for name in FIGURES:
        print(f"| {name} | " + " | ".join(cell(s["final"].get(name)) for _, _, s in cols) + " |")
    if args.matrices:
        for label, run_dir, _ in cols:
            print()
            try:
                print(matrix(label, run_dir))
            except (OSError, KeyError, ValueError) as e:
                print(f"s2p-population-table.py: error: {e}", file=sys.stderr)
                return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
