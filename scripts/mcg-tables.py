#!/usr/bin/python3
"""Per-agent Pitfalls tables of an `emcomm compare` directory of matrix-game runs.

Usage: scripts/mcg-tables.py COMPARE_DIR [COMPARE_DIR ...] [final [NAME,...]|training|probe|norms|curve NAME[,NAME...]]
  final    (default) per variant: reward, sc/agent<j>, ic/agent<j> with mi_floor/agent<j>,
           cic/sender<j>, sender_msg_entropy, of the last evaluation (summary.json "final"); or the
           figures NAME,...
  training per variant: mean over every evaluation of sc/agent<j>, ic/agent<j> (run.h5 scalars)
  probe    per variant: probe_acc, probe_acc_nocomm, probe_acc_sep, probe_acc_sep_nocomm, probe_acc_noinput
           per agent (last evaluation)
  norms    per variant and evaluation step: w_norm/comm and w_norm/payoff per agent (run.h5)
  curve    per variant and evaluation step: the named scalar series (run.h5), e.g. sc/agent0,sc/agent1
Cells are mean +- 95 % CI (Student t) over the seeds of a variant (directories <variant>-seed<k>);
the variants of every COMPARE_DIR go into one table, in the order given, named "DIR: variant" when
there are several.
Exit codes: 0 ok, 2 bad input. Needs python3-h5py."""
import csv
import glob
import json
import math
import os
import re
import sys

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tables import mean_ci  # noqa: E402




def runs(directory):
    # In the order of compare's results.csv (the --vary order), else by name.
    order = []
    csv_path = os.path.join(directory, "results.csv")
    if os.path.isfile(csv_path):
        with open(csv_path) as f:
            for row in csv.DictReader(f):
                order.append(os.path.basename(row.get("run_dir", "")))
    found = glob.glob(os.path.join(directory, "*-seed*"))
    rank = {os.path.basename(d): i for i, d in enumerate(order)}
    groups = {}
    for d in sorted(found, key=lambda d: (rank.get(os.path.basename(d), len(rank)), d)):
        m = re.match(r"(.*)-seed(\d+)$", os.path.basename(d))
        if m and os.path.isfile(os.path.join(d, "summary.json")):
            groups.setdefault(m.group(1), []).append(d)
    return groups


def final(d):
    with open(os.path.join(d, "summary.json")) as f:
        return json.load(f)["final"]


def series(d, name):
    with h5py.File(os.path.join(d, "run.h5"), "r") as f:
        key = "scalars/" + name.replace("/", ":")
        if key not in f:
            return [], []
        return list(f[key + "/step"][:]), list(f[key + "/value"][:])


def table(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(r) + " |")


def main(argv):
    modes = ("final", "training", "probe", "norms", "curve")
    args = argv[1:]
    dirs = []
    while args and args[0] not in modes:
        dirs.append(args.pop(0))
    what = args.pop(0) if args else "final"
    names = args.pop(0) if what in ("curve", "final") and args else None
    if not dirs or args or (what == "curve" and names is None):
        print(__doc__, file=sys.stderr)
        return 2
    groups = {}
    for d in dirs:
        found = runs(d)
        if not found:
            print(f"mcg-tables.py: error: no <variant>-seed<k> runs with summary.json in {d}", file=sys.stderr)
            return 2
        label = os.path.basename(os.path.normpath(d))
        for variant, ds in found.items():
            groups[f"{label}: {variant}" if len(dirs) > 1 else variant] = ds
    if what == "final":
        keys = ["reward/mean", "sc/agent0", "sc/agent1", "ic/agent0", "ic/agent1", "mi_floor/agent0",
                "cic/sender0", "cic/sender1", "sender_msg_entropy"]
        if names:
            keys = names.split(",")
        rows = [[v, str(len(ds))] + [mean_ci([final(d).get(k) for d in ds]) for k in keys] for v, ds in groups.items()]
        table(["variant", "seeds"] + keys, rows)
    elif what == "training":
        keys = ["sc/agent0", "sc/agent1", "ic/agent0", "ic/agent1", "mi_floor/agent0"]
        rows = []
        for v, ds in groups.items():
            row = [v, str(len(ds))]
            for k in keys:
                per_run = []
                for d in ds:
                    _, vals = series(d, k)
                    per_run.append(sum(vals) / len(vals) if vals else None)
                row.append(mean_ci(per_run))
            rows.append(row)
        table(["variant", "seeds"] + [k + " (mean over evaluations)" for k in keys], rows)
    elif what == "probe":
        keys = [f"{p}/agent{j}" for j in (0, 1)
                for p in ("probe_acc", "probe_acc_nocomm", "probe_acc_sep", "probe_acc_sep_nocomm", "probe_acc_noinput")]
        rows = [[v, str(len(ds))] + [mean_ci([final(d).get(k) for d in ds]) for k in keys] for v, ds in groups.items()]
        table(["variant", "seeds"] + keys, rows)
    else:
        keys = [f"w_norm/{b}/agent{j}" for j in (0, 1) for b in ("comm", "payoff")]
        if what == "curve":
            keys = names.split(",")
        for v, ds in groups.items():
            steps, _ = series(ds[0], keys[0])
            if not steps:
                continue
            print(f"\n{v} ({len(ds)} seeds)\n")
            rows = []
            for i, s in enumerate(steps):
                rows.append([str(s)] + [mean_ci([series(d, k)[1][i] if len(series(d, k)[1]) > i else None for d in ds])
                                        for k in keys])
            table(["step"] + keys, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
