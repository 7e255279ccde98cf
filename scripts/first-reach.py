#!/usr/bin/python3
"""Prints the first evaluation at which a scalar reaches a threshold, with its wall time.

Usage: scripts/first-reach.py RUN.h5 [NAME] [THRESHOLD]   (defaults: sp_acc/val 0.95)
Needs python3-h5py (scripts/setup-deps installs it)."""
import sys

import h5py


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    path, name = argv[1], argv[2] if len(argv) > 2 else "sp_acc/val"
    threshold = float(argv[3]) if len(argv) > 3 else 0.95
    with h5py.File(path, "r") as f:
        series = f["scalars/" + name.replace("/", ":")]
        wall = f["scalars/time:wall_seconds"]
        for step, value, seconds in zip(series["step"][:], series["value"][:], wall["value"][:]):
            if value >= threshold:
                print(f"{name} >= {threshold}: step {step}, {seconds:.1f} s (value {value:.4f})")
                return 0
    print(f"{name} never reached {threshold}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
