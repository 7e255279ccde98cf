"""The PettingZoo-style Parallel API: a random-policy rollout of every Markov env (matrix, every
particle scenario), discrete and continuous actions."""
import numpy as np
import pytest

import emcomm
from emcomm import pettingzoo


def markov_envs():
    out = []
    for e in emcomm.envs():
        if e["kind"] != "markov":
            continue
        opts = {o["name"]: o for o in e["options"]}
        if "env.scenario" in opts:
            out += [(e["name"], {"scenario": s}) for s in opts["env.scenario"]["choices"]]
        else:
            out.append((e["name"], {}))
    return out


CASES = markov_envs()


def test_every_particle_scenario_is_covered():
    scenarios = {o.get("scenario") for n, o in CASES if n == "particle"}
    assert {"speaker_listener", "reference", "simple_crypto", "simple_adversary", "simple_spread",
            "simple_tag", "simple_push"} <= scenarios
    assert ("matrix", {}) in CASES


@pytest.mark.parametrize("continuous", [False, True])
@pytest.mark.parametrize("name,options", CASES, ids=[f"{n}-{o.get('scenario', '')}" for n, o in CASES])
def test_random_rollout(name, options, continuous):
    env = pettingzoo.parallel_env(name, continuous_actions=continuous, **options)
    game = emcomm.make_env(name, **options)
    game.reset(1, seed=0)
    obs, infos = env.reset(seed=11)
    assert env.agents == env.possible_agents and set(obs) == set(env.agents) == set(infos)
    for a in env.agents:
        assert env.observation_space(a).contains(obs[a]), a
        assert obs[a].shape == env.observation_space(a).shape
    steps, total = 0, {a: 0.0 for a in env.possible_agents}
    while env.agents:
        actions = {a: env.action_space(a).sample() for a in env.agents}
        assert all(env.action_space(a).contains(v) for a, v in actions.items())
        obs, rewards, terms, truncs, infos = env.step(actions)
        steps += 1
        assert set(rewards) == set(env.possible_agents)
        for a, r in rewards.items():
            assert np.isfinite(r)
            total[a] += r
        for a in obs:
            assert env.observation_space(a).contains(obs[a])
        ended = {a for a in terms if terms[a] or truncs[a]}
        assert ended in (set(), set(terms))  # all agents end together
    expected = options and game.options.get("episode_length")
    if name == "particle":
        assert steps == expected and all(truncs.values()) and not any(terms.values())
    if name == "matrix":
        assert steps == 3 and all(terms.values())  # comm=turns: speak, speak, act
    with pytest.raises(ValueError, match="episode is over"):
        env.step({})
    img = env.render()
    assert img.ndim == 3 and img.dtype == np.uint8


def test_discrete_index_encodes_movement_then_message():
    env = pettingzoo.parallel_env("particle", scenario="reference")
    assert env.action_space("agent_0").n == 50  # 5 movements x 10 symbols, PettingZoo MPE's Discrete(50)
    env.reset(seed=1)
    before = env.game.state()["positions"][0, 0].copy()
    env.step({"agent_0": 1 + 5 * 7, "agent_1": 0})  # agent 0: +x, says 7
    st = env.game.state()
    assert st["positions"][0, 0, 0] > before[0] and st["positions"][0, 0, 1] == pytest.approx(before[1])
    np.testing.assert_array_equal(np.nonzero(st["messages"][0, 0])[0], [7])


def test_speaker_listener_spaces_and_bad_actions():
    env = pettingzoo.parallel_env("particle", scenario="speaker_listener")
    assert env.possible_agents == ["agent_0", "agent_1"]
    assert env.action_space("agent_0").n == 3 and env.action_space("agent_1").n == 5
    assert env.observation_space("agent_0").shape == (3,) and env.observation_space("agent_1").shape == (11,)
    env.reset(seed=2)
    with pytest.raises(ValueError, match="no action for agent_1"):
        env.step({"agent_0": 0})
    with pytest.raises(ValueError, match="integer in 0..4"):
        env.step({"agent_0": 0, "agent_1": 5})
    with pytest.raises(ValueError, match="unknown agent"):
        env.observation_space("bob")
    with pytest.raises(ValueError, match="signaling game"):
        pettingzoo.parallel_env("lewis")


def test_same_seed_same_episode():
    def run():
        env = pettingzoo.parallel_env("particle", scenario="simple_spread")
        obs, _ = env.reset(seed=5)
        traj = [obs["agent_0"]]
        while env.agents:
            obs, *_ = env.step({a: env.action_space(a).sample() for a in env.agents})
            traj.append(obs.get("agent_0"))
        return np.concatenate(traj)
    np.testing.assert_array_equal(run(), run())
