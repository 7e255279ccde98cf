#!/usr/bin/python3
"""Prints the first evaluation at which a scalar reaches a threshold, with its wall time.

Usage: scripts/first-reach.py RUN.h5 [NAME] [THRESHOLD]   (defaults: sp_acc/val 0.95)
Exit codes: 0 reached, 1 never reached, 2 bad input (missing file, unknown series, bad
threshold). Needs python3-h5py (scripts/setup-deps installs it)."""
import os
import sys

import h5py


def fail(msg):
    print(f"first-reach.py: error: {msg}", file=sys.stderr)
    return 2


def main(argv):
    if len(argv) < 2 or len(argv) > 4:
        print(__doc__, file=sys.stderr)
        return 2
    path, name = argv[1], argv[2] if len(argv) > 2 else "sp_acc/val"
    try:
        threshold = float(argv[3]) if len(argv) > 3 else 0.95
    except ValueError:
        return fail(f"THRESHOLD: got '{argv[3]}', expected a number")
    if not os.path.isfile(path):
        return fail(f"{path} does not exist (expected a run file, RUN_DIR/run.h5)")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        return fail(f"cannot read {path}: {e}")
    with f:
        if "scalars" not in f:
            return fail(f"{path} has no /scalars group (not an emcomm run file?)")
        names = sorted(n.replace(":", "/") for n in f["scalars"])
        link = name.replace("/", ":")
        if link not in f["scalars"]:
            return fail(f"{path} has no scalar series '{name}'; its series are: {', '.join(names)}")
        series = f["scalars/" + link]
        steps, values = series["step"][:], series["value"][:]
        wall = {}
        if "time:wall_seconds" in f["scalars"]:
            w = f["scalars/time:wall_seconds"]
            wall = dict(zip(w["step"][:].tolist(), w["value"][:].tolist()))
        for step, value in zip(steps.tolist(), values.tolist()):
            if value >= threshold:
                seconds = f", {wall[step]:.1f} s" if step in wall else ""
                print(f"{name} >= {threshold}: step {step}{seconds} (value {value:.4f})")
                return 0
    print(f"{name} never reached {threshold}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
