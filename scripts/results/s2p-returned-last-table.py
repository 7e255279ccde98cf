#!/usr/bin/python3
"""S2P schedules side by side with both the returned model and the last one (docs/RESULTS.md).

    scripts/results/s2p-returned-last-table.py COMPARE_DIR --returned FIG,... --last FIG,...

COMPARE_DIR is an `emcomm compare --out` directory of S2P runs that vary one option (its
results.csv names each run's variant, seed, status and run directory). One column per variant,
in results.csv's order; each cell is the mean ± 95 % CI (Student t) over the variant's finished
seeds. Rows:
  "FIG, returned"  the model the run returns (summary.json "final": with s2p.select=seed_val or
                   seed_val_listener, the one selected on seed-validation);
  "FIG, last"      the last evaluation (the last value of /scalars/FIG in run.h5, "/" as ":");
  "selected step"  summary.json final "selected_step".
Needs python3-h5py for --last. Exit codes: 0 ok, 2 bad input.
"""
import argparse
import csv
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tables import comma_list, mean_ci, open_run_h5  # noqa: E402


def read_runs(compare_dir):
    """{variant: [run_dir, ...]} of the finished runs, variants in results.csv's order."""
    path = os.path.join(compare_dir, "results.csv")
    if not os.path.isfile(path):
        raise ValueError(f"{path} does not exist (expected an `emcomm compare --out` directory)")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or "seed" not in rows[0] or "run_dir" not in rows[0]:
        raise ValueError(f"{path} has no seed and run_dir columns")
    head = rows[0]
    seed_col, status_col, dir_col = head.index("seed"), head.index("status"), head.index("run_dir")
    runs = {}
    for r in rows[1:]:
        variant = ", ".join(r[:seed_col]) or "base"  # no --vary: the one variant summary.md calls base
        runs.setdefault(variant, [])
        if r[status_col] == "ok":
            # results.csv holds absolute paths; a compare directory moved or copied elsewhere
            # still has its runs beside results.csv under the same names.
            run_dir = r[dir_col]
            if not os.path.isdir(run_dir):
                run_dir = os.path.join(compare_dir, os.path.basename(run_dir.rstrip("/")))
            runs[variant].append(run_dir)
    return runs


def last_value(run_dir, fig):
    with open_run_h5(run_dir, "--last") as f:
        key = "scalars/" + fig.replace("/", ":") + "/value"
        if key not in f:
            raise ValueError(f"{run_dir}/run.h5 has no /{key}")
        return float(f[key][-1])


def final(run_dir):
    path = os.path.join(run_dir, "summary.json")
    if not os.path.isfile(path):
        raise ValueError(f"{path} does not exist (the run has not finished)")
    with open(path) as f:
        return json.load(f)["final"]


def table(runs, returned, last):
    variants = list(runs)
    lines = ["| metric | " + " | ".join(variants) + " |", "|---" * (len(variants) + 1) + "|",
             "| runs ok | " + " | ".join(str(len(runs[v])) for v in variants) + " |"]
    finals = {v: [final(d) for d in runs[v]] for v in variants}
    for fig in returned:
        cells = [mean_ci([s.get(fig) for s in finals[v]]) for v in variants]
        lines.append(f"| {fig}, returned | " + " | ".join(cells) + " |")
    for fig in last:
        cells = [mean_ci([last_value(d, fig) for d in runs[v]]) for v in variants]
        lines.append(f"| {fig}, last | " + " | ".join(cells) + " |")
    cells = [mean_ci([s.get("selected_step") for s in finals[v]], ".0f") for v in variants]
    lines.append("| selected step | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv):
    ap = argparse.ArgumentParser(prog="s2p-returned-last-table.py", description=__doc__.splitlines()[0])
    ap.add_argument("compare_dir")
    ap.add_argument("--returned", default="", help="figures of the returned model (comma list)")
    ap.add_argument("--last", default="", help="figures of the last evaluation (comma list)")
    args = ap.parse_args(argv[1:])
    try:
        print(table(read_runs(args.compare_dir), comma_list(args.returned), comma_list(args.last)))
    except (OSError, ValueError, KeyError) as e:
        print(f"s2p-returned-last-table.py: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
