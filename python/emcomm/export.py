"""Exporting a run's messages for other tools.

    python -m emcomm.export RUN.h5 --format elcc OUT_DIR [--split S] [--step latest|all|N]

writes the Emergent Language Corpus Collection layout (docs/python.md):

* OUT_DIR/corpus.jsonl: one message per line, a JSON array of its integer tokens: the first
  `length` symbols of the run file's row. With agents.eos=true the EOS symbol 0 that ended the
  message is the last token (the run file counts it in `length`); the -1 padding after the end
  is never written. Rows in file order (step, then episode).
* OUT_DIR/metadata.json: {"origin": {...}, "system": {...}, "corpus": {...}}, "system" holding
  the ELCC fields game_type, game_subtype, observation_type, observation_continuous,
  data_source, variants, seeding_available, multi_step, multi_utterance, more_than_2_agents.

Exit code 2 with the reader's message when the file is missing or not a run file.
"""
import argparse
import json
import os
import sys

from . import _emcomm

_PARTICLE_TYPES = {  # scenario -> (game_type, game_subtype)
    "speaker_listener": ("navigation", "cooperative communication"),
    "reference": ("navigation", "cooperative reference"),
    "simple_crypto": ("signalling", "covert communication"),
    "simple_adversary": ("navigation", "physical deception"),
    "simple_spread": ("navigation", "cooperative navigation"),
    "simple_tag": ("navigation", "predator-prey"),
    "simple_push": ("navigation", "keep-away"),
}


def _system(config):
    env = config.get("env.name", "")
    alg = config.get("train.algorithm", "")
    variants = {k: v for k, v in sorted(config.items()) if k.startswith(("env.", "agents."))}
    variants["train.algorithm"] = alg
    s = {"game_type": "signalling", "game_subtype": "", "observation_type": "vector",
         "observation_continuous": False, "data_source": "synthetic", "variants": variants,
         "seeding_available": True, "multi_step": False, "multi_utterance": False,
         "more_than_2_agents": alg == "s2p" and int(config.get("population.size", "1")) > 1,
         "symmetric_agents": False}
    if env == "lewis":
        s["game_subtype"] = config.get("env.mode", "reconstruction")
        s["observation_type"] = "one-hot vector"
    elif env == "referential":
        s["game_subtype"] = "discrimination"
        s["observation_type"] = "image"
        s["observation_continuous"] = True
        s["data_source"] = "synthetic" if not config.get("env.data") else "dataset"
    elif env == "matrix":
        s["game_type"] = "matrix game"
        s["game_subtype"] = f"cheap talk, comm={config.get('env.comm', '')}, payoffs={config.get('env.payoffs', '')}"
        s["multi_step"] = config.get("env.comm") != "none"
        s["multi_utterance"] = config.get("env.comm") in ("turns", "simul", "random", "garble")
        s["symmetric_agents"] = config.get("env.comm") != "oneag"
        s["observation_continuous"] = True
    elif env == "particle":
        scenario = config.get("env.scenario", "")
        s["game_type"], s["game_subtype"] = _PARTICLE_TYPES.get(scenario, ("navigation", scenario))
        s["observation_continuous"] = True
        s["multi_step"] = True
        s["multi_utterance"] = True
        s["more_than_2_agents"] = scenario not in ("speaker_listener", "reference", "simple_push")
        s["symmetric_agents"] = scenario in ("reference", "simple_spread")
    return s


def export_elcc(run, out_dir, split="val", step="latest"):
    """Writes corpus.jsonl and metadata.json of `split` (rows of `step`: "latest", "all" or a
    step number) of `run` (a path or an emcomm.Run) to `out_dir`; returns the number of lines."""
    if not isinstance(run, _emcomm.Run):
        from . import open_run
        run = open_run(run)
    if step == "all":
        rows = run.interactions(split)
    else:
        rows = run.interactions(split, step=step if step == "latest" else int(step))
    config = dict(run.config)
    os.makedirs(out_dir, exist_ok=True)
    msgs, lengths = rows["message"], rows["length"]
    with open(os.path.join(out_dir, "corpus.jsonl"), "w") as f:
        for m, n in zip(msgs, lengths):
            f.write(json.dumps([int(x) for x in m[:n]]) + "\n")
    vocab = int(config.get("agents.vocab_size", "0") or 0)
    eos = config.get("agents.eos", "false") == "true"
    meta = {
        "origin": {"name": "emcomm", "upstream_source": "emcomm run file " + os.path.abspath(run.path),
                   "emcomm_version": run.attribute("emcomm_version"), "created_utc": run.attribute("created_utc"),
                   "split": split, "step": step if step in ("latest", "all") else int(step),
                   "env": config.get("env.name", ""), "algorithm": config.get("train.algorithm", ""),
                   "seed": int(config.get("run.seed", "0"))},
        "system": _system(config),
        "corpus": {"lines": int(rows["rows"]), "vocab_size": vocab,
                   "max_length": int(msgs.shape[1]) if msgs.ndim == 2 else 0,
                   "eos": "token 0 ends each message and is written as its last token" if eos else None,
                   "padding": "none written (the run file's -1 after the end is dropped)"},
    }
    with open(os.path.join(out_dir, "metadata.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return int(rows["rows"])


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m emcomm.export",
                                description="Export a run's messages (docs/python.md).")
    p.add_argument("run", help="RUN.h5 or a run directory")
    p.add_argument("--format", required=True, choices=["elcc"])
    p.add_argument("out_dir")
    p.add_argument("--split", default="val")
    p.add_argument("--step", default="latest", help="latest (default), all, or a step number")
    a = p.parse_args(argv)
    if a.step not in ("latest", "all"):
        try:
            int(a.step)
        except ValueError:
            print(f"emcomm export: error: --step must be latest, all or a step number; got '{a.step}'", file=sys.stderr)
            return 2
    try:
        n = export_elcc(a.run, a.out_dir, split=a.split, step=a.step)
    except ValueError as e:
        print(f"emcomm export: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {n} messages to {os.path.join(a.out_dir, 'corpus.jsonl')} and metadata.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
