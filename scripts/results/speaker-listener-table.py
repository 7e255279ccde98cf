#!/usr/bin/python3
"""The per-run table of MADDPG/DDPG on the particle speaker_listener scenario (docs/RESULTS.md).

    scripts/results/speaker-listener-table.py COMPARE_DIR [COMPARE_DIR ...] [--threshold 0.84]

One row per finished run under each COMPARE_DIR (an `emcomm compare` output directory of
speaker_listener runs), named <maddpg|ddpg>[-ens<K>]-s<seed>: the first evaluation whose
target_reach reaches the threshold (train step / episodes played / wall seconds), then the
figures of the last evaluation (summary.json "final"): target_reach, target_touch, the per-agent
reward, cic, cic_uniform, ic, the message entropy and the speaker's mean H(c|s). A last line
counts, per learner, the runs that reached the threshold. Needs python3-h5py.
Exit codes: 0 ok, 2 bad input (missing directory, no finished run).
"""
import argparse
import configparser
import json
import os
import sys

import h5py

COLUMNS = ["target_reach", "target_touch", "reward", "cic", "cic_uniform", "ic", "entropy", "sender_msg_entropy"]
HEADER = ("| run | first eval ≥ {t:.0%} (step / episodes / wall s) | target_reach | target_touch | reward | cic "
          "| cic_uniform | ic | msg entropy | sender H(c\\|s) |")


def learner(run_dir):
    ini = configparser.ConfigParser()
    ini.read(os.path.join(run_dir, "config.ini"))
    name = "ddpg" if ini.getboolean("maddpg", "local_critic", fallback=False) else "maddpg"
    k = ini.getint("maddpg", "ensemble", fallback=1)
    return (name + (f"-ens{k}" if k > 1 else "")), ini.getint("maddpg", "envs", fallback=1)


def first_reach(run_dir, threshold, envs):
    os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")
    with h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
        reach, wall = f["scalars/target_reach"], f["scalars/time:wall_seconds"]
        walls = dict(zip(wall["step"][:].tolist(), wall["value"][:].tolist()))
        for step, value in zip(reach["step"][:].tolist(), reach["value"][:].tolist()):
            if value >= threshold:
                w = walls.get(step)
                return f"{step} / {step * envs} / {w:.0f}" if w is not None else f"{step} / {step * envs} / –"
    return "never"


def rows(compare_dir, threshold):
    out = []
    for name in sorted(os.listdir(compare_dir)):
        run = os.path.join(compare_dir, name)
        summary = os.path.join(run, "summary.json")
        if not os.path.isfile(summary):
            continue
        with open(summary) as f:
            s = json.load(f)
        who, envs = learner(run)
        final = s["final"]
        cells = [f"{final[c]:.3f}" if c in final else "–" for c in COLUMNS]
        reach = first_reach(run, threshold, envs)
        out.append((who, s["seed"], reach, cells))
    return out


def main(argv):
    ap = argparse.ArgumentParser(prog="speaker-listener-table.py", description=__doc__.splitlines()[0])
    ap.add_argument("compare_dirs", nargs="+")
    ap.add_argument("--threshold", type=float, default=0.84)
    args = ap.parse_args(argv[1:])
    table = []
    for d in args.compare_dirs:
        if not os.path.isdir(d):
            print(f"speaker-listener-table.py: error: {d} is not a directory", file=sys.stderr)
            return 2
        table += rows(d, args.threshold)
    if not table:
        print("speaker-listener-table.py: error: no finished run (summary.json) under " + " ".join(args.compare_dirs),
              file=sys.stderr)
        return 2
    table.sort(key=lambda r: (r[0] != "maddpg", r[0], r[1]))
    print(HEADER.format(t=args.threshold))
    print("|---" * (len(COLUMNS) + 2) + "|")
    for who, seed, reach, cells in table:
        print(f"| {who}-s{seed} | {reach} | " + " | ".join(cells) + " |")
    print()
    counts = {}
    for who, _, reach, _ in table:
        hit, n = counts.get(who, (0, 0))
        counts[who] = (hit + (reach != "never"), n + 1)
    print("Reached " + f"{args.threshold:.0%}: " + "; ".join(f"{w} {h} of {n}" for w, (h, n) in counts.items()) + ".")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
