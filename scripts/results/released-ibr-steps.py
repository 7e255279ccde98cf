#!/usr/bin/python3
"""Times the released S2P code's image game (backpropper/s2p, ibr_game/train.py) per step.

COCO is not downloadable here, so this writes a stand-in folder in the layout ibr_game/train.py
reads (feats/{train,valid,test}_feats: float32 [N, 2048] tensors of random features;
dics/{w2i,i2w}; labs/{train,valid,test}_org: one caption per image of 4 to 13 random words over
100 words between <BOS> and <EOS>), then runs the released README command with the step counts
scaled down to K: --min_list_steps K --min_spk_steps K --max_iters 1 and K self-play, listener
and speaker updates in that one round (5K steps; the reference architecture, batch 1000,
10 candidates, 10 000 seed examples). It runs K = 10 and K = 20 (the step counts of our
`referential-reference-step-time` command) and prints each wall time and the marginal seconds
per step, (t20 - t10) / 50, which leaves out loading and the final val/test probes.
The time per step is a property of the shapes only, not of the data: random features cost the
same as COCO's. THREADS sets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS.

usage: released-ibr-steps.py S2P_CHECKOUT [--threads T] [--workdir DIR] [--ks 10,20]
"""
import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time

from released_s2p import add_checkout_args, game_dir, thread_env


def write_folder(root, sizes, words=100, seed=1):
    import torch  # Debian's python3-torch, as the released code needs

    g = torch.Generator().manual_seed(seed)
    specials = ["<PAD>", "<UNK>", "<BOS>", "<EOS>"]
    w2i = collections.OrderedDict((w, i) for i, w in enumerate(specials + [f"w{k}" for k in range(words)]))
    i2w = collections.OrderedDict((i, w) for w, i in w2i.items())
    for d in ("feats", "dics", "labs"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    torch.save(w2i, os.path.join(root, "dics", "w2i"))
    torch.save(i2w, os.path.join(root, "dics", "i2w"))
    for name, n in sizes.items():
        torch.save(torch.randn(n, 2048, generator=g), os.path.join(root, "feats", f"{name}_feats"))
        lengths = torch.randint(4, 14, (n,), generator=g).tolist()
        caps = [[[2] + (4 + torch.randint(0, words, (k,), generator=g)).tolist() + [3]] for k in lengths]
        torch.save(caps, os.path.join(root, "labs", f"{name}_org"))


def run(game, folder, k, threads):
    env = thread_env(threads)
    cmd = ["/usr/bin/python3", "train.py", "--num_distrs", "9", "--num_seed_examples", "10000",
           "--s2p_schedule", "sched", "--s2p_selfplay_updates", str(k), "--s2p_spk_updates", str(k),
           "--s2p_list_updates", str(k), "--min_list_steps", str(k), "--min_spk_steps", str(k),
           "--max_iters", "1", "--coco_path", folder.rstrip("/") + "/"]
    start = time.monotonic()
    r = subprocess.run(cmd, cwd=game, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        print(f"released-ibr-steps: train.py exited with {r.returncode}:\n{r.stderr[-2000:]}", file=sys.stderr)
        sys.exit(1)
    return time.monotonic() - start


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_checkout_args(ap)
    ap.add_argument("--workdir", help="where the stand-in folder goes (default: a temporary directory)")
    ap.add_argument("--ks", default="10,20", help="two step-count scales K (5K steps each)")
    a = ap.parse_args(argv)
    game = game_dir("released-ibr-steps", a.checkout, "ibr_game")
    if game is None:
        return 2
    try:
        ks = [int(x) for x in a.ks.split(",")]
        if len(ks) != 2 or not 0 < ks[0] < ks[1]:
            raise ValueError
    except ValueError:
        print(f"released-ibr-steps: --ks={a.ks}: expected two increasing positive integers, e.g. 10,20",
              file=sys.stderr)
        return 2
    if a.threads < 1:
        print(f"released-ibr-steps: --threads={a.threads}: expected a positive integer", file=sys.stderr)
        return 2
    work = a.workdir or tempfile.mkdtemp(prefix="ibr-coco-")
    folder = os.path.join(work, "coco")
    if not os.path.isfile(os.path.join(folder, "labs", "test_org")):
        # 10 000 seed examples + self-play images + the 1000 s2p-val images; val and test probes of 1000
        write_folder(folder, {"train": 16000, "valid": 1000, "test": 1000})
    t = [run(game, folder, k, a.threads) for k in ks]
    steps = [5 * k for k in ks]
    per_step = (t[1] - t[0]) / (steps[1] - steps[0])
    print(f"threads {a.threads}: " + ", ".join(f"{s} steps {x:.1f} s" for s, x in zip(steps, t))
          + f"; {per_step:.2f} s per step (marginal)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
