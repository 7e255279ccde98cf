#!/usr/bin/env python3
"""The MADDPG time-per-episode table of docs/PERFORMANCE.md, measured on this machine.

    scripts/results/maddpg-timing.py                       # prints the Markdown table
    scripts/results/maddpg-timing.py --update docs/PERFORMANCE.md
        # replaces the text between <!-- maddpg-timing --> and <!-- /maddpg-timing -->

For each config it trains two runs that differ only in train.steps (16 and 24 steps: the
learning phase, updates included, since learning starts within the first 16 steps) and takes
the difference of their summary.json wall_seconds over the episodes in between. The full-run
projection uses the config's own train.steps x maddpg.envs. Runs go to a temporary directory.
"""
import argparse
import configparser
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tables import replace_between  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMCOMM = os.environ.get("EMCOMM", os.path.join(ROOT, "build", "experiments", "emcomm"))
BEGIN, END = "<!-- maddpg-timing -->", "<!-- /maddpg-timing -->"
CONFIGS = [
    ("speaker_listener", "particle_speaker_listener_maddpg"),
    ("speaker_listener", "particle_speaker_listener_ddpg"),
    ("simple_crypto", "particle_simple_crypto_maddpg_vs_maddpg"),
    ("simple_adversary", "particle_simple_adversary_maddpg_vs_maddpg"),
    ("simple_spread", "particle_simple_spread_maddpg"),
    ("simple_tag", "particle_simple_tag_maddpg_vs_maddpg"),
    ("simple_tag", "particle_simple_tag_ddpg_vs_ddpg"),
    ("simple_push", "particle_simple_push_maddpg_vs_maddpg"),
]
SHORT, LONG = 16, 24


def wall(config, steps, out):
    cmd = [EMCOMM, "train", config, f"--train.steps={steps}", f"--train.eval_every={steps}", "--eval.size=100",
           "--eval.final_episodes=0", "--run.threads=1", f"--run.out={out}", "--overwrite"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"maddpg-timing: {' '.join(cmd)} failed:\n{done.stderr}")
    with open(os.path.join(out, "summary.json")) as f:
        return json.load(f)["wall_seconds"]


def row(scenario, name, tmp):
    config = os.path.join(ROOT, "experiments", "configs", name + ".ini")
    ini = configparser.ConfigParser()
    ini.read(config)
    envs = int(ini.get("maddpg", "envs", fallback="64"))
    full = int(ini.get("train", "steps")) * envs
    dt = wall(config, LONG, os.path.join(tmp, "long")) - wall(config, SHORT, os.path.join(tmp, "short"))
    ms = 1000.0 * dt / ((LONG - SHORT) * envs)
    return ms, f"| {scenario} (`{name}`) | {ms:.1f} | {full:,} | {ms * full / 60000:.0f} min |".replace(",", " ")


def table():
    lines = ["| scenario (config) | ms / episode | full run (episodes) | projected full run |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for scenario, name in CONFIGS:
            ms, line = row(scenario, name, tmp)
            lines.append(line)
    cpus = os.cpu_count()
    lines.append("")
    lines.append(f"Machine: {cpus} cores, run.threads=1, emcomm at {git_head()}; command: `scripts/results/maddpg-timing.py`.")
    return "\n".join(lines)


def git_head():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "(unknown commit)"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--update", metavar="DOC", help="replace the table between the markers in DOC")
    a = p.parse_args()
    text = table()
    if not a.update:
        print(text)
        return
    replace_between(a.update, BEGIN, END, text, "maddpg-timing")


if __name__ == "__main__":
    main()
