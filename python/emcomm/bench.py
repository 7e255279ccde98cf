"""Stepping a Markov env through the bindings vs the same C++ loop (docs/python.md).

    PYTHONPATH=build/python /usr/bin/python3 -m emcomm.bench [--env particle] [--batch 1024] [--seconds 3] [--rounds 3]

Both loops call MarkovGame::step() on the same env with the same pool of 64 batches of uniformly
random integer actions and messages (drawn once), resetting after each episode's last step:
"python" calls env.step() (argument checks, numpy -> tensor, the state back as numpy arrays);
"c++" runs the same loop inside the extension (env._bench_cpp). Reported: env steps per second,
each world counting (batch x loop iterations / wall seconds), and per CPU second of the process
(the steadier figure on a busy machine). The two loops alternate for --rounds rounds of --seconds
each, so a concurrent load that comes and goes weighs on both alike; the rates are the totals over
the rounds. `emcomm bench --vs-bindings` runs this for particle and matrix and prints both."""
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
    """(env steps, wall seconds, CPU seconds) of env.step() from Python for about `seconds`."""
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
    return batch * iters, time.perf_counter() - t0, time.process_time() - c0


def cpp_loop(env, pool, seconds):
    """The same for the C++ loop inside the extension."""
    a, m = pool
    batch = a.shape[1]
    env.reset(batch, seed=1)
    t0, c0 = time.perf_counter(), time.process_time()
    iters = env._bench_cpp(a, m, 0, seconds)  # the pool is converted once, then a C++ loop for `seconds`
    return batch * iters, time.perf_counter() - t0, time.process_time() - c0


def measure(env, pool, seconds, rounds):
    """Alternates the two loops `rounds` times; returns the rates over all rounds."""
    python_loop(env, pool, min(0.5, seconds / 5))  # warm-up
    cpp_loop(env, pool, min(0.5, seconds / 5))
    tot = {"py": [0, 0.0, 0.0], "cc": [0, 0.0, 0.0]}
    for _ in range(rounds):
        for key, loop in (("py", python_loop), ("cc", cpp_loop)):
            r = loop(env, pool, seconds)
            for k in range(3):
                tot[key][k] += r[k]
    py, cc = tot["py"], tot["cc"]
    return {"python_steps_per_s": py[0] / py[1], "cpp_steps_per_s": cc[0] / cc[1],
            "python_steps_per_cpu_s": py[0] / py[2], "cpp_steps_per_cpu_s": cc[0] / cc[2]}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m emcomm.bench", description=__doc__.split("\n")[0])
    p.add_argument("--env", default="particle")
    p.add_argument("--scenario", default="speaker_listener", help="particle scenario")
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--seconds", type=float, default=3.0, help="per loop and round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    if a.batch < 1 or a.seconds <= 0 or a.rounds < 1:
        p.error("--batch, --seconds and --rounds must be positive")
    env = make_env(a.env, **({"scenario": a.scenario} if a.env == "particle" else {}))
    pool = action_pool(env, a.batch, 64, np.random.default_rng(1))
    m = measure(env, pool, a.seconds, a.rounds)
    res = {"env": a.env, "batch": a.batch, "rounds": a.rounds, "seconds": a.seconds, **m,
           "ratio": m["python_steps_per_s"] / m["cpp_steps_per_s"],
           "cpu_ratio": m["python_steps_per_cpu_s"] / m["cpp_steps_per_cpu_s"]}
    if a.env == "particle":
        res["scenario"] = a.scenario
    if a.json:
        print(json.dumps(res))
    else:
        print(f"{a.env} batch {a.batch}: bindings {res['python_steps_per_s']:,.0f} env steps/s "
              f"({res['python_steps_per_cpu_s']:,.0f} per CPU s), C++ loop {res['cpp_steps_per_s']:,.0f} "
              f"({res['cpp_steps_per_cpu_s']:,.0f} per CPU s): bindings at {100 * res['ratio']:.1f} % "
              f"of C++ by wall time, {100 * res['cpu_ratio']:.1f} % by CPU time ({a.rounds} rounds of {a.seconds} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
