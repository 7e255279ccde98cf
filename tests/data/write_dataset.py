#!/usr/bin/env python3
"""Writes a small referential-game dataset (docs/dataset-format.md, format_version 1) with h5py
alone, the way a user converting their own images or features would: plain numpy arrays,
contiguous datasets, fixed-length byte strings for the vocabulary. The C++ tests read it back
(tests/envs/referential_dataset_test.cc) and train on it (tests/e2e/referential_train_test.cc).

Content: 24 images of 16x16 pixels; image i is black with a 4x4 block of colour i%4
(red, green, blue, white) at corner (i//4)%4 and brightness 100 + 6*i, so all 24 differ. Its
caption is "<colour> <corner>" and its concept [colour, corner]. Rows 0-15 train, 16-19 val,
20-23 test. With --features the objects are 8-d float32 vectors instead of images.

Usage: write_dataset.py OUT.h5 [--features] [--malformed KIND]
KIND breaks one thing (see MALFORMED below)."""
import sys

import h5py
import numpy as np

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
VOCAB = ["<pad>", "<unk>", "<bos>", "<eos>", "red", "green", "blue", "white",
         "top-left", "top-right", "bottom-left", "bottom-right"]
N = 24

MALFORMED = [
    "no_images",          # neither images nor features
    "images_rank",        # images [N, H, W] (no channel axis)
    "images_float",       # images stored as float32
    "captions_rows",      # captions has N-1 rows
    "caption_id",         # a caption id beyond the vocabulary
    "caption_hole",       # a word after the -1 padding
    "empty_split",        # no test rows
    "split_value",        # a split value of 3
    "no_split",           # split dataset missing
    "bad_special",        # vocab[0] is not <pad>
    "format",             # wrong root format attribute
    "version",            # format_version 2
    "concepts_rows",      # concepts has N+1 rows
]


def write(path, features=False, malformed=None):
    images = np.zeros((N, 16, 16, 3), dtype=np.uint8)
    captions = np.full((N, 3), -1, dtype=np.int32)
    concepts = np.zeros((N, 2), dtype=np.int32)
    for i in range(N):
        colour, corner = i % 4, (i // 4) % 4
        y, x = (corner // 2) * 12, (corner % 2) * 12
        scale = (100 + 6 * i) / 255.0
        images[i, y:y + 4, x:x + 4] = [int(c * scale) for c in COLOURS[colour]]
        captions[i, 0] = 4 + colour
        captions[i, 1] = 8 + corner
        concepts[i] = [colour, corner]
    split = np.array([0] * 16 + [1] * 4 + [2] * 4, dtype=np.uint8)
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "emcomm.run" if malformed == "format" else "emcomm.dataset"
        f.attrs["format_version"] = 2 if malformed == "version" else 1
        if features:
            feats = np.zeros((N, 8), dtype=np.float32)
            for i in range(N):
                feats[i, i % 4] = 1.0
                feats[i, 4 + (i // 4) % 4] = 1.0 + i / 10.0
            f["features"] = feats
        elif malformed == "images_rank":
            f["images"] = images[..., 0]
        elif malformed == "images_float":
            f["images"] = images.astype(np.float32)
        elif malformed != "no_images":
            f["images"] = images
        if malformed == "captions_rows":
            captions = captions[:-1]
        if malformed == "caption_id":
            captions[5, 1] = len(VOCAB)
        if malformed == "caption_hole":
            captions[7, 2] = 4
            captions[7, 1] = -1
        f["captions"] = captions
        vocab = list(VOCAB)
        if malformed == "bad_special":
            vocab[0] = "PAD"
        f["vocab"] = np.array([w.encode() for w in vocab], dtype="S12")
        if malformed == "empty_split":
            split[20:] = 1
        if malformed == "split_value":
            split[3] = 3
        if malformed != "no_split":
            f["split"] = split
            f["split"].attrs["encoding"] = "0=train,1=val,2=test"
        if malformed == "concepts_rows":
            concepts = np.concatenate([concepts, concepts[:1]])
        f["concepts"] = concepts
        f["concepts"].attrs["names"] = [b"colour", b"corner"]


if __name__ == "__main__":
    args = sys.argv[1:]
    malformed = None
    if "--malformed" in args:
        k = args.index("--malformed")
        malformed = args[k + 1]
        assert malformed in MALFORMED, malformed
        del args[k:k + 2]
    features = "--features" in args
    if features:
        args.remove("--features")
    write(args[0], features, malformed)
