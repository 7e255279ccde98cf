#!/usr/bin/python3
"""`emcomm analyze` of one run file as the Markdown table of docs/RESULTS.md.

    scripts/results/analyze-table.py RUN.h5

Runs `emcomm analyze RUN.h5 --json --no-write` (EMCOMM, default build/experiments/emcomm) and
prints one column per split, one row per figure, in analyze's order: the counts (step, rows,
symbols_used) as integers, every other figure with 4 decimals, "-" where analyze has no value (null). Exit codes: analyze's.
"""
import json
import os
import subprocess
import sys


COUNTS = {"step", "rows", "symbols_used"}


def fmt(name, x):
    if x is None:
        return "-"
    return str(int(x)) if name in COUNTS else f"{x:.4f}"


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    emcomm = os.environ.get("EMCOMM", "build/experiments/emcomm")
    out = subprocess.run([emcomm, "analyze", argv[1], "--json", "--no-write"], capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stderr, end="", file=sys.stderr)
        return out.returncode
    data = json.loads(out.stdout)
    splits = sorted(data)
    names = list(data[splits[0]])
    print("| split | " + " | ".join(splits) + " |")
    print("|---" * (len(splits) + 1) + "|")
    for n in names:
        print(f"| {n} | " + " | ".join(fmt(n, data[s].get(n)) for s in splits) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
