#!/usr/bin/python3
"""The Markdown table of an `emcomm compare` directory (its summary.md), with a chosen set of rows.

    scripts/results/compare-table.py COMPARE_DIR [--rows PREFIX,...] [--drop PREFIX,...]

Prints the header, the "runs ok" row and every metric row of COMPARE_DIR/summary.md whose name
starts with one of --rows (default: all) and with none of --drop, in summary.md's order and
format. This is how the compare tables of docs/RESULTS.md are made (scripts/reproduce).
Exit codes: 0 ok, 2 bad input (missing directory or summary.md, no table in it).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tables import comma_list  # noqa: E402


def table(summary_path, rows, drop):
    with open(summary_path) as f:
        lines = f.read().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("| metric |")), None)
    if start is None or start + 1 >= len(lines) or not lines[start + 1].startswith("|---"):
        raise ValueError(f"{summary_path} holds no compare table (a '| metric |' header)")
    out = lines[start:start + 2]
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        name = line.split("|")[1].strip()
        if name == "runs ok":
            out.append(line)
            continue
        if rows and not any(name.startswith(p) for p in rows):
            continue
        if any(name.startswith(p) for p in drop):
            continue
        out.append(line)
    return "\n".join(out)


def main(argv):
    ap = argparse.ArgumentParser(prog="compare-table.py", description=__doc__.splitlines()[0])
    ap.add_argument("compare_dir")
    ap.add_argument("--rows", default="", help="keep only metrics starting with one of these (comma list)")
    ap.add_argument("--drop", default="", help="leave out metrics starting with one of these (comma list)")
    args = ap.parse_args(argv[1:])
    path = os.path.join(args.compare_dir, "summary.md")
    if not os.path.isfile(path):
        print(f"compare-table.py: error: {path} does not exist (expected an `emcomm compare --out` directory)",
              file=sys.stderr)
        return 2
    try:
        print(table(path, comma_list(args.rows), comma_list(args.drop)))
    except ValueError as e:
        print(f"compare-table.py: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
