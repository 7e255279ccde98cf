"""A PettingZoo-style Parallel API over emcomm's Markov games (docs/python.md).

    env = emcomm.pettingzoo.parallel_env("particle", scenario="speaker_listener")
    obs, infos = env.reset(seed=1)
    while env.agents:
        actions = {a: env.action_space(a).sample() for a in env.agents}
        obs, rewards, terminations, truncations, infos = env.step(actions)

One C++ env with batch 1 underneath (emcomm.make_env). Actions:

* discrete (default): one integer per agent, the agent's action factors and message symbols in
  mixed radix, action factors first: index = a_0 + K a_1 + ... + K^F (m_0 + V m_1 + ...). For a
  particle agent that moves (K = 5) the movement is index % 5: 0 no-op, 1 pushes +x, 2 -x, 3 +y,
  4 -y; an agent that also speaks sends symbol index // 5 (PettingZoo MPE's encoding, e.g.
  simple_reference's Discrete(50)); a silent speaker (speaker_listener's speaker) has
  Discrete(V) = its symbol. Matrix games: action index % K, message index // K (each part is
  used only at the steps where the game asks for it: infos[agent]["acts"/"speaks"]).
* continuous_actions=True: a float vector in [0, 1] of F*K action values then L*V message
  values, what MADDPG feeds the env (env.step_soft): a particle movement is
  (a1 - a2, a3 - a4) * sensitivity (5 unless the scenario sets the agent's acceleration), the
  message vector is carried as is.

Spaces are gymnasium's when gymnasium is installed, else the small classes below (``shape``,
``n``, ``sample()``, ``contains()``, ``seed()``).
"""
import numpy as np

from . import _emcomm

try:  # pragma: no cover - depends on the machine
    import gymnasium as _gym
except ImportError:  # pragma: no cover
    _gym = None

try:  # pragma: no cover
    from pettingzoo.utils.env import ParallelEnv as _ParallelBase
except ImportError:  # pragma: no cover
    _ParallelBase = object


class Discrete:
    """{0, ..., n-1} (gymnasium.spaces.Discrete's interface)."""

    def __init__(self, n, seed=None):
        self.n = int(n)
        self.shape = ()
        self.dtype = np.dtype(np.int64)
        self._rng = np.random.default_rng(seed)

    def seed(self, seed=None):
        self._rng = np.random.default_rng(seed)
        return [seed]

    def sample(self, mask=None):
        return int(self._rng.integers(self.n))

    def contains(self, x):
        if isinstance(x, np.ndarray):
            if x.shape != () or x.dtype.kind not in "iu":
                return False
            x = int(x)
        return isinstance(x, (int, np.integer)) and not isinstance(x, bool) and 0 <= int(x) < self.n

    __contains__ = contains

    def __eq__(self, other):
        return isinstance(other, Discrete) and other.n == self.n

    def __repr__(self):
        return f"Discrete({self.n})"


class Box:
    """A box of float32 vectors (gymnasium.spaces.Box's interface)."""

    def __init__(self, low, high, shape, dtype=np.float32, seed=None):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.low = np.full(self.shape, low, dtype=self.dtype)
        self.high = np.full(self.shape, high, dtype=self.dtype)
        self._rng = np.random.default_rng(seed)

    def seed(self, seed=None):
        self._rng = np.random.default_rng(seed)
        return [seed]

    def sample(self, mask=None):
        lo = np.where(np.isfinite(self.low), self.low, -1.0)
        hi = np.where(np.isfinite(self.high), self.high, 1.0)
        return self._rng.uniform(lo, hi).astype(self.dtype)

    def contains(self, x):
        x = np.asarray(x)
        return (x.shape == self.shape and x.dtype.kind == "f" and bool(np.all(x >= self.low))
                and bool(np.all(x <= self.high)))

    __contains__ = contains

    def __eq__(self, other):
        return (isinstance(other, Box) and other.shape == self.shape and np.array_equal(other.low, self.low)
                and np.array_equal(other.high, self.high))

    def __repr__(self):
        return f"Box({self.low.min()}, {self.high.max()}, {self.shape}, {self.dtype})"


def _discrete(n):
    return _gym.spaces.Discrete(n) if _gym else Discrete(n)


def _box(low, high, shape):
    return _gym.spaces.Box(low, high, shape, dtype=np.float32) if _gym else Box(low, high, shape)


class ParallelEnv(_ParallelBase):
    """PettingZoo's Parallel API on one emcomm Markov game (batch 1)."""

    def __init__(self, name, continuous_actions=False, render_mode=None, seed=0, **options):
        self.game = _emcomm.make_env(name, seed, **options)
        if not isinstance(self.game, _emcomm.MarkovEnv):
            raise ValueError(f"env '{name}' is a signaling game; the PettingZoo API needs a Markov game "
                             f"({', '.join(e['name'] for e in _emcomm.envs() if e['kind'] == 'markov') or 'none'})")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self.continuous_actions = bool(continuous_actions)
        scenario = self.game.options.get("scenario")
        self.metadata = {"render_modes": ["rgb_array"], "is_parallelizable": True,
                         "name": f"emcomm_{name}" + (f"_{scenario}" if scenario else "")}
        self._specs = [self.game.agent_spec(i) for i in range(self.game.num_agents)]
        names, counts = [], {}
        for s in self._specs:
            base = "adversary" if s["adversary"] else "agent"
            names.append(f"{base}_{counts.get(base, 0)}")
            counts[base] = counts.get(base, 0) + 1
        self.possible_agents = names
        self.agents = []
        self._index = {a: i for i, a in enumerate(names)}
        self._obs_spaces = {a: _box(-np.inf, np.inf, (s["obs_dim"],)) for a, s in zip(names, self._specs)}
        self._act_spaces = {}
        for a, s in zip(names, self._specs):
            F = s["action_factors"]
            L = s["msg_len"] if s["vocab_size"] > 0 else 0
            if self.continuous_actions:
                self._act_spaces[a] = _box(0.0, 1.0, (F * s["action_values"] + L * s["vocab_size"],))
            else:
                self._act_spaces[a] = _discrete(s["action_values"] ** F * s["vocab_size"] ** L)
        self._state = None
        self._seed_rng = np.random.default_rng(seed)

    # -- PettingZoo API ---------------------------------------------------------------------
    def observation_space(self, agent):
        return self._obs_spaces[self._check_agent(agent)]

    def action_space(self, agent):
        return self._act_spaces[self._check_agent(agent)]

    @property
    def num_agents(self):
        return len(self.agents)

    @property
    def max_num_agents(self):
        return len(self.possible_agents)

    def reset(self, seed=None, options=None):
        if seed is None:
            seed = int(self._seed_rng.integers(2**63))
        else:
            for i, a in enumerate(self.possible_agents):
                self._act_spaces[a].seed(int(seed) + i)
        self._state = self.game.reset(1, seed=int(seed))
        self.agents = list(self.possible_agents)
        return self._observations(), self._infos()

    def step(self, actions):
        if not self.agents:
            raise ValueError("step(): the episode is over; call reset()")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"step(): no action for {', '.join(missing)} (one per agent of env.agents)")
        N = len(self.possible_agents)
        if self.continuous_actions:
            FK = max(1, max(s["action_factors"] * s["action_values"] for s in self._specs))
            LV = max(1, max(s["msg_len"] * s["vocab_size"] for s in self._specs))
            act = np.zeros((1, N, FK), np.float32)
            msg = np.zeros((1, N, LV), np.float32)
            for a, v in actions.items():
                i = self._index[self._check_agent(a)]
                s = self._specs[i]
                v = np.asarray(v, dtype=np.float32).reshape(-1)
                fk = s["action_factors"] * s["action_values"]
                lv = (s["msg_len"] if s["vocab_size"] else 0) * s["vocab_size"]
                if v.shape != (fk + lv,):
                    raise ValueError(f"step(): the action of {a} must be {fk + lv} floats, got {v.size}")
                act[0, i, :fk] = v[:fk]
                msg[0, i, :lv] = v[fk:]
            self._state = self.game.step_soft(act, msg)
        else:
            F = max(1, max(s["action_factors"] for s in self._specs))
            L = max(1, max(s["msg_len"] for s in self._specs))
            act = np.zeros((1, N, F), np.int64)
            msg = np.zeros((1, N, L), np.int64)
            for a, v in actions.items():
                i = self._index[self._check_agent(a)]
                space = self._act_spaces[a]
                if not space.contains(v if not isinstance(v, np.ndarray) else v.astype(np.int64)):
                    raise ValueError(f"step(): the action of {a} must be an integer in 0..{space.n - 1}, got {v!r}")
                act[0, i], msg[0, i] = self._decode(i, int(v), F, L)
            self._state = self.game.step(act, msg)
        done = bool(self._state["done"][0])
        obs, infos = self._observations(), self._infos()
        rewards = {a: float(self._state["reward"][0, i]) for i, a in enumerate(self.possible_agents)}
        limit = self.game.time_limit_only
        terminations = {a: done and not limit for a in self.agents}
        truncations = {a: done and limit for a in self.agents}
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def render(self):
        if self._state is None:
            raise ValueError("render(): call reset() first")
        from .render import render_state
        return render_state(self.game, index=0)

    def close(self):
        pass

    # -- helpers ------------------------------------------------------------------------------
    def _check_agent(self, agent):
        if agent not in self._index:
            raise ValueError(f"unknown agent {agent!r}; the agents are {', '.join(self.possible_agents)}")
        return agent

    def _decode(self, i, index, F, L):
        s = self._specs[i]
        a = np.zeros(F, np.int64)
        m = np.zeros(L, np.int64)
        for f in range(s["action_factors"]):
            a[f] = index % s["action_values"]
            index //= s["action_values"]
        if s["vocab_size"] > 0:
            for k in range(s["msg_len"]):
                m[k] = index % s["vocab_size"]
                index //= s["vocab_size"]
        return a, m

    def _observations(self):
        return {a: self._state["obs"][i][0].copy() for i, a in enumerate(self.possible_agents) if a in self.agents}

    def _infos(self):
        return {a: {"speaks": bool(self._state["speaks"][0, i]), "acts": bool(self._state["acts"][0, i])}
                for i, a in enumerate(self.possible_agents) if a in self.agents}

    def __repr__(self):
        return f"emcomm.pettingzoo.ParallelEnv({self.metadata['name']})"


def parallel_env(name, **options):
    """``parallel_env("particle", scenario="speaker_listener", continuous_actions=False,
    render_mode=None, seed=0, **env_options)``: a PettingZoo Parallel env over emcomm env `name`."""
    return ParallelEnv(name, **options)


__all__ = ["parallel_env", "ParallelEnv", "Discrete", "Box"]
