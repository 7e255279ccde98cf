#!/usr/bin/env python3
"""Writes a small referential-game dataset (docs/dataset-format.md, format_version 1) with h5py
alone, the way a user converting their own images or features would: plain numpy arrays,
contiguous datasets, fixed-length byte strings for the vocabulary. The C++ tests read it back
(tests/envs/referential_dataset_test.cc) and train on it (tests/e2e/referential_train_test.cc).

Content: 24 images of 16x16 pixels; image i is black with a 4x4 block of colour i%4
(red, green, blue, white) at corner (i//4)%4 and brightness 100 + 6*i, so all 24 differ. Its
caption is "<colour> <corner>" and its concept [colour, corner]. Rows 0-15 train, 16-19 val,
20-23 test. With --features the objects are 8-d float32 vectors instead of images.

Usage: write_dataset.py OUT.h5 [--features] [--malformed KIND] [--variant KIND]
--malformed KIND breaks one thing (see MALFORMED below; the features_* kinds imply --features).
--variant KIND stores the same content in other types the format accepts (see VARIANTS)."""
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
    "both_objects",       # images and features
    "images_channels",    # images [N, H, W, 4] (RGBA)
    "images_empty",       # images [0, H, W, 3] (and every other dataset with 0 rows)
    "features_nan",       # a NaN feature (row 6)
    "features_inf",       # an infinite feature (row 7)
    "features_range",     # float64 features with a value beyond float32's range (row 8)
    "features_int",       # features stored as int32
    "empty_caption",      # caption row 6 is all -1
    "caption_pad",        # <pad> (id 0) inside caption row 2
    "caption_bos",        # <bos> (id 2) inside caption row 3
    "caption_eos",        # <eos> (id 3) inside caption row 4
    "caption_negative",   # id -2 in caption row 9
    "captions_float",     # captions stored as float32
    "captions_no_vocab",  # captions without vocab
    "vocab_no_captions",  # vocab without captions
    "vocab_ints",         # vocab stored as integers
    "concepts_negative",  # concept -1 in row 10
    "concepts_float",     # concepts stored as float32
    "names_count",        # three attribute names for two concept columns
    "no_format",          # no root format attribute
    "no_version",         # no root format_version attribute
    "version_float",      # format_version 1.0 (a float)
    "version_string",     # format_version "1" (a string)
    "split_float",        # split stored as float32
    "split_negative",     # a split value of -1 (int8 split)
]

VARIANTS = [
    "float64",            # features as float64 (h5py's default float): read as float32
    "wide_ints",          # split, captions, concepts as int64, images unchanged
    "vlen_vocab",         # vocab as variable-length UTF-8 strings (h5py.string_dtype())
]


def write(path, features=False, malformed=None, variant=None):
    features = features or (malformed or "").startswith("features_")
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
    if malformed == "images_empty":
        images, captions, concepts, split = images[:0], captions[:0], concepts[:0], split[:0]
    with h5py.File(path, "w") as f:
        if malformed != "no_format":
            f.attrs["format"] = "emcomm.run" if malformed == "format" else "emcomm.dataset"
        if malformed == "version_float":
            f.attrs["format_version"] = 1.0
        elif malformed == "version_string":
            f.attrs["format_version"] = "1"
        elif malformed != "no_version":
            f.attrs["format_version"] = 2 if malformed == "version" else 1
        if features or malformed == "both_objects":
            # Values of the form k/8 or 1 + i/10: exactly representable in float32 or not, the
            # reader's float32 is numpy's float32 of the stored value.
            feats = np.zeros((N, 8), dtype=np.float64)
            for i in range(N):
                feats[i, i % 4] = 1.0
                feats[i, 4 + (i // 4) % 4] = 1.0 + i / 10.0
            if malformed == "features_nan":
                feats[6, 2] = np.nan
            if malformed == "features_inf":
                feats[7, 5] = -np.inf
            if malformed == "features_range":
                feats[8, 1] = 1e300
            if malformed == "features_int":
                f["features"] = np.round(feats).astype(np.int32)
            elif malformed == "features_range" or variant == "float64":
                f["features"] = feats
            else:
                f["features"] = feats.astype(np.float32)
        if malformed == "images_rank":
            f["images"] = images[..., 0]
        elif malformed == "images_float":
            f["images"] = images.astype(np.float32)
        elif malformed == "images_channels":
            f["images"] = np.concatenate([images, images[..., :1]], axis=3)
        elif not features and malformed != "no_images" or malformed == "both_objects":
            f["images"] = images
        if malformed == "captions_rows":
            captions = captions[:-1]
        if malformed == "caption_id":
            captions[5, 1] = len(VOCAB)
        if malformed == "caption_hole":
            captions[7, 2] = 4
            captions[7, 1] = -1
        if malformed == "empty_caption":
            captions[6, :] = -1
        if malformed == "caption_pad":
            captions[2, 1] = 0
        if malformed == "caption_bos":
            captions[3, 0] = 2
        if malformed == "caption_eos":
            captions[4, 2] = 3
        if malformed == "caption_negative":
            captions[9, 1] = -2
        if malformed == "captions_float":
            captions = captions.astype(np.float32)
        if variant == "wide_ints":
            captions = captions.astype(np.int64)
        if malformed != "vocab_no_captions":
            f["captions"] = captions
        vocab = list(VOCAB)
        if malformed == "bad_special":
            vocab[0] = "PAD"
        if malformed == "vocab_ints":
            f["vocab"] = np.arange(len(vocab), dtype=np.int32)
        elif variant == "vlen_vocab":
            f.create_dataset("vocab", data=vocab, dtype=h5py.string_dtype())
        elif malformed != "captions_no_vocab":
            f["vocab"] = np.array([w.encode() for w in vocab], dtype="S12")
        if malformed == "empty_split":
            split[20:] = 1
        if malformed == "split_value":
            split[3] = 3
        if malformed == "split_negative":
            split = split.astype(np.int8)
            split[11] = -1
        if malformed == "split_float":
            split = split.astype(np.float32)
        if variant == "wide_ints":
            split = split.astype(np.int64)
        if malformed != "no_split":
            f["split"] = split
            f["split"].attrs["encoding"] = "0=train,1=val,2=test"
        if malformed == "concepts_rows":
            concepts = np.concatenate([concepts, concepts[:1]])
        if malformed == "concepts_negative":
            concepts[10, 0] = -1
        if malformed == "concepts_float":
            concepts = concepts.astype(np.float32)
        if variant == "wide_ints":
            concepts = concepts.astype(np.int64)
        f["concepts"] = concepts
        names = [b"colour", b"corner"] + ([b"extra"] if malformed == "names_count" else [])
        f["concepts"].attrs["names"] = names


if __name__ == "__main__":
    args = sys.argv[1:]
    malformed = None
    if "--malformed" in args:
        k = args.index("--malformed")
        malformed = args[k + 1]
        assert malformed in MALFORMED, malformed
        del args[k:k + 2]
    variant = None
    if "--variant" in args:
        k = args.index("--variant")
        variant = args[k + 1]
        assert variant in VARIANTS, variant
        del args[k:k + 2]
    features = "--features" in args
    if features:
        args.remove("--features")
    write(args[0], features, malformed, variant)
