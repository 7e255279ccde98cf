"""The checks of a PettingZoo Parallel API conformance test, written here (pettingzoo is not
installed): for every Markov env, with discrete and continuous actions, over whole episodes:
agents are possible agents, every returned dict is keyed by the live agents, spaces hold the
observations and the sampled actions, terminations/truncations are bools for every live agent,
agents that are done leave env.agents, and reset(seed) replays the same episode."""
import numpy as np
import pytest

from emcomm import pettingzoo
from test_pettingzoo import CASES

IDS = [f"{n}-{o.get('scenario', '')}" for n, o in CASES]


def check_space_memoized(env):
    for a in env.possible_agents:
        assert env.observation_space(a) is env.observation_space(a), f"observation_space({a}) is rebuilt per call"
        assert env.action_space(a) is env.action_space(a), f"action_space({a}) is rebuilt per call"


def check_dict_keys(what, d, live):
    assert isinstance(d, dict), f"{what} must be a dict, got {type(d).__name__}"
    extra = set(d) - set(live)
    assert not extra, f"{what} holds agents that are not live: {sorted(extra)}"


def check_obs(env, obs):
    for a, o in obs.items():
        space = env.observation_space(a)
        assert isinstance(o, np.ndarray) and o.dtype == space.dtype, (a, type(o), getattr(o, "dtype", None))
        assert space.contains(o), f"observation of {a} is outside its space"


def play(env, seed, max_steps=1000):
    """One episode from reset(seed) with actions sampled from the (seeded) action spaces; checks
    every step; returns the trajectory as a list of (obs, rewards, terminations, truncations)."""
    obs, infos = env.reset(seed=seed)
    assert isinstance(obs, dict) and isinstance(infos, dict)
    assert len(set(env.agents)) == len(env.agents), "duplicate agents"
    assert set(env.agents) <= set(env.possible_agents)
    assert env.num_agents == len(env.agents) and env.max_num_agents == len(env.possible_agents)
    assert set(obs) == set(env.agents) == set(infos), "reset() must observe every live agent"
    check_obs(env, obs)
    traj = [({a: o.copy() for a, o in obs.items()}, None, None, None)]
    for _ in range(max_steps):
        if not env.agents:
            break
        live = list(env.agents)
        actions = {a: env.action_space(a).sample() for a in live}
        for a, v in actions.items():
            assert env.action_space(a).contains(v), f"sampled action of {a} outside its space"
        out = env.step(actions)
        assert isinstance(out, tuple) and len(out) == 5
        obs, rewards, terms, truncs, infos = out
        for what, d in zip(("observations", "rewards", "terminations", "truncations", "infos"), out):
            check_dict_keys(what, d, live)
        assert set(terms) == set(truncs) == set(rewards) == set(live), "every live agent gets a reward and done flags"
        for a in live:
            assert isinstance(terms[a], bool) and isinstance(truncs[a], bool)
            assert isinstance(rewards[a], (int, float)) and np.isfinite(rewards[a])
            assert isinstance(infos.get(a, {}), dict)
        check_obs(env, obs)
        done = {a for a in live if terms[a] or truncs[a]}
        # agents that are done leave; the others stay and are observed
        assert set(env.agents) == set(live) - done
        assert set(env.agents) <= set(obs)
        assert env.num_agents == len(env.agents)
        traj.append(({a: o.copy() for a, o in obs.items()}, dict(rewards), dict(terms), dict(truncs)))
    else:
        pytest.fail(f"the episode did not end in {max_steps} steps")
    return traj


def same(t1, t2):
    if len(t1) != len(t2):
        return False
    for (o1, r1, te1, tr1), (o2, r2, te2, tr2) in zip(t1, t2):
        if set(o1) != set(o2) or any(not np.array_equal(o1[a], o2[a]) for a in o1):
            return False
        if (r1, te1, tr1) != (r2, te2, tr2):
            return False
    return True


@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
@pytest.mark.parametrize("name,options", CASES, ids=IDS)
def test_parallel_api(name, options, continuous):
    env = pettingzoo.parallel_env(name, continuous_actions=continuous, render_mode="rgb_array", **options)
    possible = list(env.possible_agents)
    assert possible and len(set(possible)) == len(possible)
    assert env.agents == [] and "rgb_array" in env.metadata["render_modes"] and env.render_mode == "rgb_array"
    check_space_memoized(env)
    first = play(env, seed=3)
    assert env.possible_agents == possible, "possible_agents changed"
    with pytest.raises(ValueError, match="episode is over"):
        env.step({})
    # reset(seed) replays the episode: the same observations, rewards and flags
    again = play(env, seed=3)
    assert same(first, again), "reset(seed=3) twice gave different episodes"
    # and a fresh env with the same seed too
    other = pettingzoo.parallel_env(name, continuous_actions=continuous, **options)
    assert same(first, play(other, seed=3))
    # another seed starts elsewhere (every env draws its start or its payoffs from the seed)
    different = [not same(first, play(env, seed=s)) for s in (4, 5, 6)]
    assert any(different), "reset(seed) ignores the seed"
    env.close()
