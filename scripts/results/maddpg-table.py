#!/usr/bin/env python3
"""The MADDPG paper's table from the runs of scripts/results/maddpg-table.sh.

    scripts/results/maddpg-table.py runs/maddpg-table      # prints the Markdown tables
    scripts/results/maddpg-table.py runs/maddpg-table simple_push simple_tag   # those scenarios only

Reads every finished run's summary.json (final/*: the 1000-episode evaluation after training)
and config.ini under OUT_DIR/<scenario>/, groups the runs by matchup (good side's and
adversary's algorithm), and prints mean +- 95 % CI (Student t over the seeds) of each
scenario's own figures. Runs that have not finished are counted and left out.
"""
import configparser
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tables import mean_ci  # noqa: E402

FIGURES = {
    "speaker_listener": ["target_reach", "target_touch", "goal_distance", "reward/sum"],
    "simple_crypto": ["bob_success", "eve_success", "bob_minus_eve", "reward/agent0", "reward/agent1"],
    "simple_adversary": ["good_success", "adversary_success", "good_distance", "adversary_distance"],
    "simple_spread": ["distance", "collisions", "occupied", "reward/sum"],
    "simple_tag": ["collisions", "reward/agent0", "reward/agent3"],
    "simple_push": ["good_distance", "adversary_distance", "reward/agent0", "reward/agent1"],
}


def matchup(run_dir, scenario):
    ini = configparser.ConfigParser()
    ini.read(os.path.join(run_dir, "config.ini"))
    good = ini.get("maddpg", "good", fallback="maddpg")
    if scenario == "speaker_listener":
        return "ddpg" if ini.getboolean("maddpg", "local_critic", fallback=False) else "maddpg", None
    if scenario == "simple_spread":
        return good, None
    return good, ini.get("maddpg", "adversary", fallback="maddpg")


def scenario_table(out, scenario):
    root = os.path.join(out, scenario)
    if not os.path.isdir(root):
        return None
    groups, unfinished = {}, 0
    for name in sorted(os.listdir(root)):
        run = os.path.join(root, name)
        if not os.path.isdir(run):
            continue
        path = os.path.join(run, "summary.json")
        if not os.path.exists(path):
            unfinished += 1
            continue
        with open(path) as f:
            final = json.load(f)["final"]
        fig = {k[len("final/"):]: v for k, v in final.items() if k.startswith("final/")}
        if "bob_success" in fig and "eve_success" in fig:
            fig["bob_minus_eve"] = fig["bob_success"] - fig["eve_success"]
        groups.setdefault(matchup(run, scenario), []).append(fig)
    names = FIGURES[scenario]
    two_sided = scenario not in ("speaker_listener", "simple_spread")
    head = "| good agents | adversaries | seeds | " if two_sided else "| agents | seeds | "
    lines = [head + " | ".join(names) + " |", "|" + "---|" * (len(names) + (3 if two_sided else 2))]
    for (good, adv), runs in sorted(groups.items(), key=lambda kv: (kv[0][0] != "maddpg", kv[0][1] != "maddpg")):
        cells = [mean_ci([r.get(n) for r in runs]) for n in names]
        side = f"| {good.upper()} | {adv.upper()} | " if two_sided else f"| {good.upper()} | "
        lines.append(side + f"{len(runs)} | " + " | ".join(cells) + " |")
    if unfinished:
        lines.append(f"\n({unfinished} run(s) not finished, left out.)")
    return "\n".join(lines)


def main():
    def fail(message):
        print(f"maddpg-table.py: {message}", file=sys.stderr)
        sys.exit(2)

    if len(sys.argv) < 2:
        fail("usage: scripts/results/maddpg-table.py OUT_DIR [SCENARIO ...]")
    out, wanted = sys.argv[1], sys.argv[2:]
    if not os.path.isdir(out):
        fail(f"{out} is not a directory (the OUT_DIR of scripts/results/maddpg-table.sh)")
    unknown = [s for s in wanted if s not in FIGURES]
    if unknown:
        fail(f"unknown scenario {', '.join(unknown)}; allowed: {', '.join(FIGURES)}")
    for scenario in FIGURES:
        if wanted and scenario not in wanted:
            continue
        table = scenario_table(out, scenario)
        if table is None and wanted:
            fail(f"{out} has no {scenario}/ directory: run scripts/results/maddpg-table.sh {out} {scenario}")
        if table is not None:
            print(f"**{scenario}**\n\n{table}\n")


if __name__ == "__main__":
    main()
