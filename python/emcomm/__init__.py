"""emcomm from Python: the C++ envs, run files, metrics, training and trained agents.

Everything here calls the same C++ code as the `emcomm` command line (docs/python.md); nothing
is reimplemented in Python. Bad input (an unknown option, a value out of range, a missing or
corrupt file) raises ValueError with the CLI's message.
"""
import json as _json
import os as _os

from . import _emcomm
from ._emcomm import (Agents as _Agents, Env, MarkovEnv, Run, SignalingEnv, algorithms, common_options,  # noqa: F401
                      envs)
from . import metrics  # noqa: F401
from . import pettingzoo  # noqa: F401
from . import render  # noqa: F401

__all__ = ["make_env", "envs", "algorithms", "common_options", "open_run", "train", "load_agents",
           "export_elcc", "metrics", "pettingzoo", "render", "Env", "SignalingEnv", "MarkovEnv", "Run"]


def make_env(name, seed=0, **options):
    """Builds env `name` with its env.* options as keywords, e.g.
    ``make_env("lewis", attributes=2, values=5)`` or
    ``make_env("particle", scenario="simple_spread")``; options are validated by the CLI's
    config code (ValueError with its message). `seed` is run.seed: the env is the one
    ``emcomm train --run.seed=SEED`` builds."""
    return _emcomm.make_env(name, seed, **options)


def open_run(path):
    """Opens a run file (RUN_DIR/run.h5, or a run directory) through the C++ RunReader, which
    checks it; returns a Run (config, scalars, interactions, CIC tables, metrics, matrices)."""
    path = _os.fspath(path)
    if _os.path.isdir(path):
        path = _os.path.join(path, "run.h5")
    return _emcomm._open_run(path)


def _override(key, value):
    if "." not in key:
        key = key.replace("__", ".", 1)
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (list, tuple)):
        text = ",".join(str(v) for v in value)
    else:
        text = str(_os.fspath(value)) if hasattr(value, "__fspath__") else str(value)
    return f"--{key}={text}"


def train(config, overrides=None, *, overwrite=False, resume=None, **options):
    """Runs ``emcomm train CONFIG`` in this process and returns its summary.json as a dict.

    Options are ``{"train.steps": 100}`` in `overrides` or keywords with a double underscore
    for the dot (``train__steps=100``). `overwrite` / `resume` are the CLI's --overwrite /
    --resume RUN_DIR. Ctrl-C (SIGINT) stops the run as it stops the CLI (checkpoint, flushed
    run file) and then raises KeyboardInterrupt. Bad options raise ValueError with the CLI's
    message before anything is written."""
    args = []
    items = dict(overrides or {})
    items.update(options)
    flags = [_override(k, v) for k, v in items.items()]
    if resume is not None:
        args += ["--resume", _os.fspath(resume)]
        run_dir = _os.fspath(resume)
    else:
        config = _os.fspath(config)
        args.append(config)
        run_dir = _emcomm._run_dir(config, flags)
    args += flags
    if overwrite:
        args.append("--overwrite")
    code = _emcomm._train(args)
    if code == 130:
        raise KeyboardInterrupt(f"emcomm train stopped by SIGINT; the run in {run_dir} can be resumed")
    if code != 0:
        raise RuntimeError(f"emcomm train stopped with exit code {code}")
    summary = _os.path.join(run_dir, "summary.json")
    if not _os.path.exists(summary):  # run.stop_after: stopped early on purpose
        return {"run_dir": run_dir, "stopped": True}
    with open(summary) as f:
        return _json.load(f)


class Speaker:
    """A trained speaker: objects [B, shape...] (float) -> greedy messages [B, L] in the run
    file's form (int32, -1 after the end). ``speak()`` also gives the raw symbols and lengths.
    In an S2P population it is one member's speaker (``member``)."""

    def __init__(self, agents, member=0):
        self._a = agents
        self.member = member

    def speak(self, objects):
        return self._a._speak(objects, self.member)

    def __call__(self, objects):
        return self._a._speak(objects, self.member)["message"]


class Listener:
    """A trained listener: messages [B, L] (symbols; the logged form with -1 padding is
    accepted) and, for discrimination games, candidates [B, C, shape...] -> the listener's
    output (logits [B, A, V] or scores [B, C]). ``act()`` gives the greedy action. In an S2P
    population it is one member's listener (``member``)."""

    def __init__(self, agents, member=0):
        self._a = agents
        self.member = member

    def __call__(self, messages, candidates=None):
        return self._a._listen(messages, candidates, self.member)["output"]

    def act(self, messages, candidates=None):
        return self._a._listen(messages, candidates, self.member)["action"]


class TrainedAgents:
    """What ``load_agents(run_dir)`` returns: ``env`` (the run's env, built from its config.ini as
    emcomm train built it), ``config``, ``algorithm``, ``step`` (the checkpoint's step),
    ``model_step`` (the step whose parameters the agents hold: S2P's selected model) and the agents:
    ``speaker`` / ``listener`` (selfplay; s2p: member ``member`` of the population, every member in
    ``speakers`` / ``listeners``), ``act(i, obs)`` / ``policy(obs)`` (maddpg and reinforce: one policy
    per agent of ``game``, the Markov game they play)."""

    def __init__(self, run_dir, member=0):
        self._a = _emcomm.load_agents(run_dir)
        self.run_dir = self._a.run_dir
        self.algorithm = self._a.algorithm
        self.config = dict(self._a.config)
        self.step = self._a.step
        self.model_step = self._a.model_step
        self.members = self._a.members
        self.env = _emcomm._env_from_ini(_os.path.join(self.run_dir, "config.ini"))
        self.markov = not self._a.signaling
        self.game = self._a._game() if self.markov else None
        self.speaker = self.listener = self.channel = None
        self.speakers = self.listeners = []
        if not self.markov:
            if not isinstance(member, int) or not 0 <= member < self.members:
                raise ValueError(f"member {member} does not exist: this run's population has members "
                                 f"0..{self.members - 1}")
            self.member = member
            self.speakers = [Speaker(self._a, p) for p in range(self.members)]
            self.listeners = [Listener(self._a, p) for p in range(self.members)]
            self.speaker, self.listener = self.speakers[member], self.listeners[member]
            self.channel = dict(self._a.channel)

    def act(self, agent, obs, sample=False):
        """Agent `agent`'s move at its observations [B, D] (greedy, or sampled when `sample`).
        MADDPG: its soft action [B, F*K + L*V] (action values, then message values; `sample` adds
        the actor's Gumbel noise). Reinforce: a dict of integer ``action`` [B, F] and ``message``
        [B, L] (None for an agent that never acts / speaks), their logits and the ``value``."""
        if self.algorithm == "reinforce":
            return _emcomm._reinforce_act(self._a, agent, obs, sample)
        return _emcomm._agents_act(self._a, agent, obs, sample)

    def policy(self, obs, sample=False):
        """Every agent's move at a state's observations (game.reset()/step()["obs"]): MADDPG the
        (actions [B, N, FK], messages [B, N, LV]) float arrays game.step_soft() takes; reinforce the
        (actions [B, N, F], messages [B, N, L]) integer arrays game.step() takes."""
        import numpy as np
        game = self.game
        n = game.num_agents
        specs = [game.agent_spec(i) for i in range(n)]
        B = obs[0].shape[0]
        if self.algorithm == "reinforce":
            F = max(1, max(s["action_factors"] for s in specs))
            L = max(1, max(s["msg_len"] for s in specs))
            actions = np.zeros((B, n, F), np.int64)
            messages = np.zeros((B, n, L), np.int64)
            for i in range(n):
                r = self.act(i, obs[i], sample)
                if r["action"] is not None:
                    actions[:, i, :r["action"].shape[1]] = r["action"]
                if r["message"] is not None:
                    messages[:, i, :r["message"].shape[1]] = r["message"]
            return actions, messages
        da = [s["action_factors"] * s["action_values"] for s in specs]
        dm = [s["msg_len"] * s["vocab_size"] for s in specs]
        actions = np.zeros((B, n, max(1, max(da))), np.float32)
        messages = np.zeros((B, n, max(1, max(dm))), np.float32)
        for i in range(n):
            a = self.act(i, obs[i], sample)
            actions[:, i, :da[i]] = a[:, :da[i]]
            messages[:, i, :dm[i]] = a[:, da[i]:da[i] + dm[i]]
        return actions, messages

    def __repr__(self):
        return f"TrainedAgents({self.run_dir!r}, algorithm={self.algorithm!r})"


def load_agents(run_dir, member=0):
    """The trained agents of a finished run as callables on numpy arrays, rebuilt from
    RUN_DIR/config.ini: selfplay with the parameters of checkpoints/final.pt; maddpg, s2p and
    reinforce restored from the newest checkpoint as ``emcomm eval --step final`` restores them
    (S2P: the model s2p.select chose; ``member`` picks the population member that ``speaker`` and
    ``listener`` are, every member is in ``speakers`` / ``listeners``)."""
    return TrainedAgents(run_dir, member)


def export_elcc(run, out_dir, split=None, step="latest", overwrite=False):
    """Writes the messages of one split (and step) of a run in the Emergent Language Corpus
    Collection layout: OUT_DIR/corpus.jsonl and OUT_DIR/metadata.json, the files
    ``emcomm export RUN.h5 --format elcc OUT_DIR`` writes (the same C++ code; docs/python.md)."""
    from .export import export_elcc as _export
    return _export(run, out_dir, split=split, step=step, overwrite=overwrite)
