#!/usr/bin/env python3
"""Python baseline of `emcomm bench`: the reference S2P Lewis self-play step written the way a
PyTorch user would (nn.Linear modules, F.gumbel_softmax, cross-entropy, two Adam optimisers),
and a population of P = 8 such pairs trained by a Python loop over the members.

Same setting as the C++ workloads (bench/workloads.cc): 6 attributes x 10 values, 6 symbols over
60 words, linear speaker 60 -> 500 -> 360 and listener 360 -> 500 -> 60, batch 100, Adam 3e-3,
soft Gumbel-softmax tau = 1, reconstruction loss summed over attributes, one thread.

Prints one line per workload: NAME RATE CPU_SHARE (episodes/s; CPU seconds per wall second). `--check` instead prints the loss of one
noise-free forward pass from fixed weights (see weights_for_check), which the C++ test
compares with its own.

One thread means one thread everywhere: torch.set_num_threads(1) sets LibTorch's OpenMP pool
only, so OpenBLAS's own pool is pinned through the environment before torch is imported.
"""
import argparse
import math
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch
import torch.nn as nn
import torch.nn.functional as F

A, V, L, W, H, BATCH, LR = 6, 10, 6, 60, 500, 100, 3e-3


class Pair:
    def __init__(self):
        self.speaker = nn.Sequential(nn.Linear(A * V, H), nn.Linear(H, L * W))
        self.listener = nn.Sequential(nn.Linear(L * W, H), nn.Linear(H, A * V))
        self.speaker_opt = torch.optim.Adam(self.speaker.parameters(), lr=LR)
        self.listener_opt = torch.optim.Adam(self.listener.parameters(), lr=LR)

    def loss(self, objects, noise=True):
        x = F.one_hot(objects, V).float().view(-1, A * V)
        logits = self.speaker(x).view(-1, L, W)
        message = F.gumbel_softmax(logits, tau=1.0) if noise else F.softmax(logits, -1)
        out = self.listener(message.view(-1, L * W)).view(-1, A, V)
        return F.cross_entropy(out.reshape(-1, V), objects.reshape(-1), reduction="none").view(-1, A).sum(1).mean()

    def step(self, objects):
        loss = self.loss(objects)
        self.speaker_opt.zero_grad()
        self.listener_opt.zero_grad()
        loss.backward()
        self.speaker_opt.step()
        self.listener_opt.step()
        return loss.item()


def train_objects():
    # A random 80 % of the V^A objects, as attribute values [N, A].
    ids = torch.randperm(V ** A)[: V ** A * 8 // 10]
    digits = [(ids // V ** (A - 1 - a)) % V for a in range(A)]
    return torch.stack(digits, 1)


def rate(step, episodes_per_step, seconds):
    """Episodes per second, and the process's CPU seconds per wall second meanwhile."""
    start = time.perf_counter()
    while time.perf_counter() - start < 0.2 * seconds:  # warm-up, as the C++ bench
        step()
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    while True:
        step()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return "%.6g %.3f" % (n * episodes_per_step / elapsed, (time.process_time() - cpu) / elapsed)


def weights_for_check(pair):
    # Every weight and bias w[k] (k its flat index) = 0.05 * sin(0.37 k + 0.11 * layer).
    with torch.no_grad():
        layers = [m for m in list(pair.speaker) + list(pair.listener)]
        for i, lin in enumerate(layers):
            for t in (lin.weight, lin.bias):
                k = torch.arange(t.numel(), dtype=torch.float64)
                t.copy_((0.05 * torch.sin(0.37 * k + 0.11 * i)).view_as(t).float())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(1)
    if args.check:
        pair = Pair()
        weights_for_check(pair)
        objects = torch.tensor([[(3 * r + 7 * a) % V for a in range(A)] for r in range(8)])
        print("loss %.9g" % pair.loss(objects, noise=False).item())
        return
    objects = train_objects()

    pair = Pair()
    print("lewis_selfplay_step", rate(lambda: pair.step(objects[torch.randint(len(objects), (BATCH,))]), BATCH, args.seconds), flush=True)

    population = [Pair() for _ in range(8)]

    def population_step():
        batch = objects[torch.randint(len(objects), (BATCH,))]
        for member in population:
            member.step(batch)

    print("lewis_population_step", rate(population_step, 8 * BATCH, args.seconds), flush=True)


if __name__ == "__main__":
    main()
