#!/usr/bin/python3
"""Converts the COCO feature folder of the S2P paper's image game (the layout its released
ibr_game/train.py reads) into an emcomm dataset file (docs/dataset-format.md), preparing the
captions the way that script does, so `emcomm train experiments/configs/referential_s2p_reference.ini
--env.dataset=OUT.h5` plays the reference data.

    /usr/bin/python3 scripts/s2p-coco-to-h5.py COCO_DIR OUT.h5 [--num-words 100] [--seq-len 15]
                                               [--unk-perc 0.3] [--overwrite]

COCO_DIR holds torch.save files:
    feats/{train,valid,test}_feats   float tensors [N, 2048] (ResNet features, one row per image)
    dics/{w2i,i2w}                   word -> id and id -> word (ordered by frequency; the four
                                     specials <PAD>, <UNK>, <BOS>, <EOS> among them)
    labs/{train,valid,test}_org      per image, a list of captions, each a list of word ids
                                     (<BOS> first, <EOS> last)

Preparation, per split, as the released script does:
  1. keep the captions of 4 to --seq-len tokens (framing tokens included);
  2. the vocabulary is the first --num-words entries of w2i plus the four specials; every other
     id becomes <UNK>;
  3. an image is kept when it still has a caption and its first one is less than --unk-perc
     <UNK> (share of its tokens); that first caption is its caption.
The output keeps the images in file order (train, then val, then test), so the S2P seed set
(the first s2p.seed_size train objects) is the released script's. Caption rows hold the words
only: the <BOS>/<EOS> framing and any <PAD> are dropped (emcomm adds the framing its agents
need), <UNK> is id 1 and the kept words are ids 4.. in w2i order, -1 after the last word.
Requires python3-torch, python3-h5py and python3-numpy (Debian packages).
"""
import argparse
import os
import sys

SPECIALS = ["<PAD>", "<UNK>", "<BOS>", "<EOS>"]
SPLITS = [("train", 0), ("valid", 1), ("test", 2)]


def fail(msg):
    print(f"s2p-coco-to-h5: {msg}", file=sys.stderr)
    sys.exit(2)


def load(torch, path):
    if not os.path.isfile(path):
        fail(f"missing file '{path}' (expected the released COCO feature folder layout: see --help)")
    try:
        return torch.load(path)
    except Exception as e:  # a corrupt or foreign file
        fail(f"cannot read '{path}' with torch.load: {e}")


def vocabulary(w2i, i2w, num_words):
    """The kept ids (the first num_words of w2i, plus the specials) and the new id of each."""
    for s in SPECIALS:
        if s not in w2i:
            fail(f"dics/w2i has no '{s}' entry (it must hold {', '.join(SPECIALS)})")
    kept = [w2i[w] for w in list(w2i.keys())[:num_words]]
    for s in SPECIALS:
        if w2i[s] not in kept:
            kept.append(w2i[s])
    words = [i for i in kept if i not in {w2i[s] for s in SPECIALS}]
    new_id = {w2i["<UNK>"]: 1}
    for k, i in enumerate(words):
        new_id[i] = 4 + k
    names = []
    for i in words:
        if i not in i2w:
            fail(f"dics/i2w has no word for id {i} (w2i and i2w disagree)")
        names.append(str(i2w[i]))
    return set(kept), new_id, names


def prepare(caps, kept, w2i, seq_len, unk_perc):
    """Per image: its caption as old ids (framing included), or None when the image is dropped."""
    unk = w2i["<UNK>"]
    out = []
    for per_image in caps:
        trimmed = [list(c) for c in per_image if 4 <= len(c) <= seq_len]
        if not trimmed:
            out.append(None)
            continue
        first = [t if t in kept else unk for t in trimmed[0]]
        out.append(first if first.count(unk) / len(first) < unk_perc else None)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("coco_dir")
    ap.add_argument("out")
    ap.add_argument("--num-words", type=int, default=100, help="vocabulary: the most frequent words of w2i [100]")
    ap.add_argument("--seq-len", type=int, default=15, help="longest caption kept, framing tokens included [15]")
    ap.add_argument("--unk-perc", type=float, default=0.3, help="drop an image whose caption is this share <UNK> [0.3]")
    ap.add_argument("--overwrite", action="store_true")
    a = ap.parse_args()
    if a.num_words < 1:
        fail(f"--num-words={a.num_words}: expected at least 1")
    if a.seq_len < 4:
        fail(f"--seq-len={a.seq_len}: expected at least 4 (captions shorter than 4 tokens are dropped)")
    if not 0 < a.unk_perc <= 1:
        fail(f"--unk-perc={a.unk_perc}: expected a share in (0, 1]")
    if os.path.exists(a.out) and not a.overwrite:
        fail(f"'{a.out}' already exists; pass --overwrite to replace it")
    try:
        import h5py
        import numpy as np
        import torch
    except ImportError as e:
        fail(f"{e}: install the Debian packages python3-torch, python3-h5py and python3-numpy")

    w2i = load(torch, os.path.join(a.coco_dir, "dics", "w2i"))
    i2w = load(torch, os.path.join(a.coco_dir, "dics", "i2w"))
    kept, new_id, names = vocabulary(w2i, i2w, a.num_words)
    framing = {w2i["<PAD>"], w2i["<BOS>"], w2i["<EOS>"]}

    feats, captions, split = [], [], []
    for name, code in SPLITS:
        f = load(torch, os.path.join(a.coco_dir, "feats", f"{name}_feats"))
        caps = load(torch, os.path.join(a.coco_dir, "labs", f"{name}_org"))
        f = torch.as_tensor(f)
        if f.dim() != 2 or len(caps) != f.shape[0]:
            fail(f"feats/{name}_feats is {tuple(f.shape)} and labs/{name}_org has {len(caps)} images: "
                 "expected [N, D] features and N caption lists")
        for row, cap in enumerate(prepare(caps, kept, w2i, a.seq_len, a.unk_perc)):
            if cap is None:
                continue
            ids = [new_id[t] for t in cap if t not in framing]
            if not ids:
                continue  # nothing but framing tokens: no caption to learn from
            feats.append(f[row].float().numpy())
            captions.append(ids)
            split.append(code)
        if code not in split:
            fail(f"no {name} image is left after the caption filters (--seq-len, --unk-perc)")

    L = max(len(c) for c in captions)
    cap = np.full((len(captions), L), -1, dtype=np.int32)
    for i, c in enumerate(captions):
        cap[i, : len(c)] = c
    vocab = ["<pad>", "<unk>", "<bos>", "<eos>"] + names
    tmp = a.out + ".part"
    with h5py.File(tmp, "w") as h:
        h.attrs["format"] = "emcomm.dataset"
        h.attrs["format_version"] = 1
        h.create_dataset("features", data=np.stack(feats).astype(np.float32), chunks=True, compression="gzip")
        sp = h.create_dataset("split", data=np.array(split, dtype=np.uint8))
        sp.attrs["encoding"] = "0=train,1=val,2=test"
        h.create_dataset("captions", data=cap)
        h.create_dataset("vocab", data=np.array(vocab, dtype=object), dtype=h5py.string_dtype())
    os.replace(tmp, a.out)
    counts = [split.count(c) for _, c in SPLITS]
    print(f"wrote {len(split)} images ({counts[0]} train, {counts[1]} val, {counts[2]} test) of "
          f"{feats[0].shape[0]}-d features, captions of up to {L} words over {len(vocab)} entries, to {a.out}")


if __name__ == "__main__":
    main()
