#!/usr/bin/env python3
"""Times the released S2P code's Lewis loop (backpropper/s2p, or_game/train.py) per round.

Runs its README command with --num-iters N (default 3) on /usr/bin/python3 (Debian's
python3-torch) and prints the seconds between its "Combined iters" lines, i.e. the time of each
round of 20 self-play and up to 5 supervised steps with its per-round probes. THREADS sets
OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS (1: one core, as the issue's figure).

usage: released-s2p-rounds.py S2P_CHECKOUT [--iters N] [--threads T]
"""
import argparse
import subprocess
import sys
import time

from released_s2p import add_checkout_args, game_dir, thread_env


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_checkout_args(ap)
    ap.add_argument("--iters", type=int, default=3)
    a = ap.parse_args(argv)
    game = game_dir("released-s2p-rounds", a.checkout, "or_game")
    if game is None:
        return 2
    env = thread_env(a.threads)
    cmd = ["/usr/bin/python3", "-u", "train.py", "--num-compbot-samples-train", "1000",
           "--init-supervised-iters", "5", "--num-selfplay-iters", "20", "--num-supervised-iters", "5",
           "--num-iters", str(a.iters), "--num-encoders-train", "50"]
    start = time.monotonic()
    marks = []
    with subprocess.Popen(cmd, cwd=game, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as p:
        for line in p.stdout:
            if line.startswith("Combined iters"):
                marks.append(time.monotonic())
        rc = p.wait()
    end = time.monotonic()
    if rc != 0 or not marks:
        print(f"released-s2p-rounds: train.py exited with {rc}", file=sys.stderr)
        return 1
    marks.append(end)  # the last round ends with the process
    rounds = [b - a for a, b in zip(marks, marks[1:])]
    print(f"threads {a.threads}: setup and pretraining {marks[0] - start:.1f} s; rounds "
          + ", ".join(f"{r:.1f}" for r in rounds) + f" s; mean {sum(rounds) / len(rounds):.1f} s per round")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
