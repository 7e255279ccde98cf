"""Stepping a Markov env through the bindings vs the same C++ loop (docs/python.md).

    PYTHONPATH=build/python /usr/bin/python3 -m emcomm.bench [--env particle] [--batch 1024] [--seconds 3]

Both loops call MarkovGame::step() on the same env with the same pool of 64 batches of uniformly
random integer actions and messages (drawn once), resetting after each episode's last step:
"python" calls env.step() (argument checks, numpy -> tensor, the state back as numpy arrays);
"c++" runs the same loop inside the extension (env._bench_cpp). Reported: env steps per second,
each world counting (batch x loop iterations / wall seconds), and per CPU second of the process
(the steadier figure on a busy machine)."""
import argparse
import json
import sys
import time

import numpy as np

from . import make_env


def action_pool(env, batch, size, rng):
    """`size` batches of uniformly random integer actions / messages, drawn once."""
    n = env.num_agents
    specs = [env.agent_spec(i) for i in range(n)]
    F = max(1, max(s["action_factors"] for s in specs))
    L = max(1, max(s["msg_len"] for s in specs))
    a = np.zeros((size, batch, n, F), np.int64)
    m = np.zeros((size, batch, n, L), np.int64)
    for i, s in enumerate(specs):
        if s["action_factors"]:
            a[:, :, i, :s["action_factors"]] = rng.integers(0, s["action_values"], (size, batch, s["action_factors"]))
        if s["vocab_size"]:
            m[:, :, i, :s["msg_len"]] = rng.integers(0, s["vocab_size"], (size, batch, s["msg_len"]))
    return a, m


def python_loop(env, pool, seconds):
    a, m = pool
    P, batch = a.shape[0], a.shape[1]
    st = env.reset(batch, seed=1)
    iters, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        if st["done"].all():
            st = env.reset(batch)
        st = env.step(a[iters % P], m[iters % P])
        iters += 1
        if iters % 16 == 0 and time.perf_counter() - t0 >= seconds:
            break
    return batch * iters / (time.perf_counter() - t0), batch * iters / (time.process_time() - c0)


def cpp_loop(env, pool, seconds):
    a, m = pool
    batch = a.shape[1]
    env.reset(batch, seed=1)
    chunk, iters, t0, c0 = 16, 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        env._bench_cpp(a, m, chunk)
        iters += chunk
    return batch * iters / (time.perf_counter() - t0), batch * iters / (time.process_time() - c0)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m emcomm.bench", description=__doc__.split("\n")[0])
    p.add_argument("--env", default="particle")
    p.add_argument("--scenario", default="speaker_listener", help="particle scenario")
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    env = make_env(a.env, **({"scenario": a.scenario} if a.env == "particle" else {}))
    pool = action_pool(env, a.batch, 64, np.random.default_rng(1))
    python_loop(env, pool, a.seconds / 5)  # warm-up
    cpp_loop(env, pool, a.seconds / 5)
    py = python_loop(env, pool, a.seconds)
    cc = cpp_loop(env, pool, a.seconds)
    res = {"env": a.env, "batch": a.batch, "python_steps_per_s": py[0], "cpp_steps_per_s": cc[0],
           "ratio": py[0] / cc[0], "python_steps_per_cpu_s": py[1], "cpp_steps_per_cpu_s": cc[1],
           "cpu_ratio": py[1] / cc[1]}
    if a.json:
        print(json.dumps(res))
    else:
        print(f"{a.env} batch {a.batch}: bindings {py[0]:,.0f} env steps/s ({py[1]:,.0f} per CPU s), "
              f"C++ loop {cc[0]:,.0f} ({cc[1]:,.0f} per CPU s): bindings at {100 * py[0] / cc[0]:.1f} % "
              f"of C++ by wall time, {100 * py[1] / cc[1]:.1f} % by CPU time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
