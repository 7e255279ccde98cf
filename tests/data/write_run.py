#!/usr/bin/env python3
"""Writes a small emcomm run file (schema_version 2, docs/hdf5-format.md) with h5py alone, the
way a user's own tool would: plain numpy arrays, contiguous datasets, default dtypes where the
schema allows them. tests/e2e/analyze_test.cc runs `emcomm analyze` on it and checks the values
it prints against values computed by hand (see the comments below) and by the C++ metrics.

Usage: write_run.py OUT.h5 [--schema-version N] [--no-format]"""
import sys

import h5py
import numpy as np

NAN = float("nan")


def write(path, schema_version=2, with_format=True):
    with h5py.File(path, "w") as f:
        if with_format:
            f.attrs["format"] = "emcomm.run"
        f.attrs["schema_version"] = schema_version
        f.attrs["emcomm_version"] = "h5py-test"
        f.attrs["created_utc"] = "2025-01-01T00:00:00Z"
        f.create_group("config").attrs["env.name"] = "handmade"
        f["config/ini"] = "[env]\nname = handmade\n"

        # Split "val": 2 rows at step 10 (no probe), then 4 rows at step 20.
        # Step 20 by hand: messages (0), (1), (1,0), (1,0) -> entropy 1.5 bits; the sender's
        # actions and the concepts are one-to-one with them -> sc = mi_concept = 1.5 and
        # ci_action = ci_concept = 1; receiver actions 0,1,2,0 -> ic = 1.5 + 1.5 - 2 = 1;
        # receiver actions 0,1,2,0 against targets 0,1,2,2 -> accuracy 3/4 (exact matches; the
        # rewards 1, 0, 0.5, -1 would give 0.5 by the reward rule); mean_length 1.5; symbols_used 2;
        # topsim = 5 / sqrt(187.5); posdis = 0.6525 and bosdis = 0.4245 (derived in
        # tests/e2e/analyze_test.cc). CIC per row: uniform sender, one-to-one listener -> 1 bit;
        # a sender that only ever says message 0 -> 0; no probe (NaN) -> skipped; a listener
        # that ignores the message -> 0; so cic = 1/3.
        v = f.create_group("interactions/val")
        v["step"] = np.array([10, 10, 20, 20, 20, 20], dtype=np.int64)
        v["episode"] = np.array([0, 1, 0, 1, 2, 3], dtype=np.int64)
        v["t"] = np.zeros(6, dtype=np.int32)
        v["sender"] = np.zeros(6, dtype=np.int32)
        v["receiver"] = np.ones(6, dtype=np.int32)
        v["message"] = np.array([[1, 1], [0, -1], [0, -1], [1, -1], [1, 0], [1, 0]], dtype=np.int32)
        v["length"] = np.array([2, 1, 1, 1, 2, 2], dtype=np.int32)
        v["concept"] = np.array([[0, 1], [1, 0], [0, 0], [1, 0], [1, 1], [1, 1]], dtype=np.int32)
        v["sender_action"] = np.array([1, 0, 0, 1, 2, 2], dtype=np.int32)
        v["receiver_action"] = np.array([1, 0, 0, 1, 2, 0], dtype=np.int32)
        v["target"] = np.array([1, 0, 0, 1, 2, 2], dtype=np.int32)
        v["reward"] = np.array([1, 1, 1, 0, 0.5, -1], dtype=np.float32)
        pm = np.full((6, 2), NAN, dtype=np.float32)
        pa = np.full((6, 2, 2), NAN, dtype=np.float32)
        pm[2], pa[2] = [0.5, 0.5], [[1, 0], [0, 1]]
        pm[3], pa[3] = [1, 0], [[1, 0], [0, 1]]
        pm[5], pa[5] = [0.5, 0.5], [[0.5, 0.5], [0.5, 0.5]]
        v["cic/p_message"] = pm
        v["cic/p_action"] = pa
        v["cic/messages"] = np.array([[0, -1], [1, -1]], dtype=np.int32)

        # Split "train": 3 rows at step 20, no sender_action, [N, 2] actions, a factorised probe
        # [N, M=2, A=2, V=2]: attribute 0 copies the message, attribute 1 ignores it, uniform
        # sender -> per-factor CIC 1 and 0 -> cic = 0.5. Messages (2,2), (2,2), (3) ->
        # entropy = ic = H(2/3, 1/3).
        t = f.create_group("interactions/train")
        t["step"] = np.full(3, 20, dtype=np.int64)
        t["episode"] = np.arange(3, dtype=np.int64)
        t["t"] = np.zeros(3, dtype=np.int32)
        t["sender"] = np.zeros(3, dtype=np.int32)
        t["receiver"] = np.ones(3, dtype=np.int32)
        t["message"] = np.array([[2, 2], [2, 2], [3, -1]], dtype=np.int32)
        t["length"] = np.array([2, 2, 1], dtype=np.int32)
        t["concept"] = np.array([[0, 0], [0, 0], [1, 1]], dtype=np.int32)
        t["receiver_action"] = np.array([[0, 0], [0, 0], [1, 1]], dtype=np.int32)
        t["target"] = np.array([[0, 0], [0, 1], [1, 1]], dtype=np.int32)
        t["reward"] = np.array([1, 0, 1], dtype=np.float32)
        t["cic/p_message"] = np.full((3, 2), 0.5, dtype=np.float32)
        factor_pa = np.zeros((3, 2, 2, 2), dtype=np.float32)
        factor_pa[:, 0, 0] = [1, 0]
        factor_pa[:, 1, 0] = [0, 1]
        factor_pa[:, :, 1] = [0.5, 0.5]
        t["cic/p_action"] = factor_pa

        # A population's cross-play matrices (/matrices, schema 2): [N=2, 2, 2] float32, NaN = not
        # evaluated; analyze prints the last one (step 20) with its diagonal and off-diagonal means.
        x = f.create_group("matrices/crossplay:val")
        x["step"] = np.array([10, 20], dtype=np.int64)
        x["value"] = np.array([[[0.5, 0.25], [NAN, 0.75]], [[1.0, 0.5], [0.25, 0.875]]], dtype=np.float32)

        # A metric series written by another tool: contiguous (not extendable), int32 steps.
        m = f.create_group("metrics/val/entropy")
        m["step"] = np.array([5], dtype=np.int32)
        m["value"] = np.array([9.0], dtype=np.float32)


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    version, with_format = 2, True
    args = argv[1:]
    while args:
        a = args.pop(0)
        if a == "--schema-version":
            version = int(args.pop(0))
        elif a == "--no-format":
            with_format = False
        else:
            print(f"unknown argument {a}")
            return 2
    write(argv[0], version, with_format)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
