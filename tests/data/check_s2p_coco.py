#!/usr/bin/python3
"""Test of scripts/s2p-coco-to-h5.py: writes tiny COCO feature folders in the layout of the S2P
paper's released ibr_game (torch.save files), converts them, and checks the result against
values worked out by hand. Usage: check_s2p_coco.py WORKDIR. Leaves WORKDIR/big.h5 (100 images
of random features and captions) for the caller to train on. Exit 0 when every check holds."""
import collections
import os
import subprocess
import sys

import h5py
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "scripts", "s2p-coco-to-h5.py")


def write_folder(root, w2i, feats, labs):
    for d in ("feats", "dics", "labs"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    torch.save(w2i, os.path.join(root, "dics", "w2i"))
    torch.save(collections.OrderedDict((i, w) for w, i in w2i.items()), os.path.join(root, "dics", "i2w"))
    for name in ("train", "valid", "test"):
        torch.save(feats[name], os.path.join(root, "feats", f"{name}_feats"))
        torch.save(labs[name], os.path.join(root, "labs", f"{name}_org"))


def convert(root, out, *extra):
    return subprocess.run(["/usr/bin/python3", SCRIPT, root, out, *extra], capture_output=True, text=True)


def main(work):
    # Frequency order: the specials, then a, man, dog (kept with --num-words 7), red, rare (<UNK>).
    w2i = collections.OrderedDict((w, i) for i, w in enumerate(
        ["<PAD>", "<UNK>", "<BOS>", "<EOS>", "a", "man", "dog", "red", "rare"]))
    B, E = 2, 3
    feats = {"train": torch.arange(16, dtype=torch.float32).view(4, 4),
             "valid": torch.full((1, 4), 7.5), "test": torch.full((1, 4), -1.0)}
    labs = {
        "train": [
            [[B, 4, 5, E]],                                      # "a man": kept
            [[B] + [4, 5, 6] * 5 + [E], [B, 4, 7, E]],           # first caption too long; "a <unk>" (1/4 unk)
            [[B, 7, 8, E]],                                      # 2/4 unk: dropped
            [[B, E]],                                            # shorter than 4 tokens: dropped
        ],
        "valid": [[[B, 6, 6, 6, E]]],
        "test": [[[B, 5, 4, 6, E]]],
    }
    small = os.path.join(work, "small")
    write_folder(small, w2i, feats, labs)
    out = os.path.join(work, "small.h5")
    r = convert(small, out, "--num-words", "7", "--overwrite")
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as h:
        assert h.attrs["format"] == "emcomm.dataset" and int(h.attrs["format_version"]) == 1
        vocab = [v.decode() if isinstance(v, bytes) else v for v in h["vocab"][()]]
        assert vocab == ["<pad>", "<unk>", "<bos>", "<eos>", "a", "man", "dog"], vocab
        assert h["split"][()].tolist() == [0, 0, 1, 2], h["split"][()]
        assert h["captions"][()].tolist() == [[4, 5, -1], [4, 1, -1], [6, 6, 6], [5, 4, 6]], h["captions"][()]
        f = h["features"][()]
        assert f.dtype == np.float32 and f.shape == (4, 4)
        assert np.array_equal(f[0], np.arange(4)) and np.array_equal(f[1], np.arange(4, 8))
        assert np.all(f[2] == 7.5) and np.all(f[3] == -1.0)

    # Refusals: an existing output without --overwrite, a missing file, a bad option value.
    for args, needle in [((small, out), "already exists"),
                         ((os.path.join(work, "nope"), os.path.join(work, "x.h5")), "missing file"),
                         ((small, os.path.join(work, "y.h5"), "--seq-len", "3"), "--seq-len=3")]:
        r = subprocess.run(["/usr/bin/python3", SCRIPT, *args], capture_output=True, text=True)
        assert r.returncode == 2 and needle in r.stderr, (args, r.returncode, r.stderr)

    # A bigger folder for the caller's training run: 60/20/20 images of 16-d random features with
    # captions of 3 to 6 words over 12 words.
    g = torch.Generator().manual_seed(5)
    w2i_big = collections.OrderedDict((w, i) for i, w in enumerate(SPECIALS + [f"w{k}" for k in range(12)]))
    feats_big, labs_big = {}, {}
    for name, n in (("train", 60), ("valid", 20), ("test", 20)):
        feats_big[name] = torch.randn(n, 16, generator=g)
        labs_big[name] = [[[B] + (4 + torch.randint(0, 12, (int(torch.randint(3, 7, (1,), generator=g)),),
                                                  generator=g)).tolist() + [E]] for _ in range(n)]
    big = os.path.join(work, "big")
    write_folder(big, w2i_big, feats_big, labs_big)
    r = convert(big, os.path.join(work, "big.h5"), "--overwrite")
    assert r.returncode == 0 and "wrote 100 images (60 train, 20 val, 20 test)" in r.stdout, (r.stdout, r.stderr)
    print("ok")


SPECIALS = ["<PAD>", "<UNK>", "<BOS>", "<EOS>"]

if __name__ == "__main__":
    main(sys.argv[1])
