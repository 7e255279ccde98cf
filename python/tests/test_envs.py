"""emcomm.make_env: option validation (the CLI's messages), signaling sample(), Markov
reset()/step() against the games' rules, state()/set_state()/render()."""
import numpy as np
import pytest

from conftest import cli_error

import emcomm


def test_registry_lists_the_envs_and_their_options():
    names = {e["name"]: e for e in emcomm.envs()}
    assert {"lewis", "matrix", "particle"} <= set(names)
    assert names["particle"]["kind"] == "markov" and names["lewis"]["kind"] == "signaling"
    opts = {o["name"]: o for o in names["particle"]["options"]}
    assert "simple_spread" in opts["env.scenario"]["choices"]
    assert opts["env.episode_length"]["default"] == "25"


@pytest.mark.parametrize("option,value", [("attributes", 0), ("mode", "telepathy"), ("attributs", 3),
                                          ("attributes", "many")])
def test_bad_option_raises_the_cli_message(tmp_path, option, value):
    ini = tmp_path / "empty.ini"
    ini.write_text("")
    expected = cli_error("train", ini, "--env.name=lewis", f"--env.{option}={value}")
    with pytest.raises(ValueError) as e:
        emcomm.make_env("lewis", **{option: value})
    assert str(e.value) == expected


def test_unknown_env_and_wrong_python_type():
    with pytest.raises(ValueError, match="env.name"):
        emcomm.make_env("lewiss")
    with pytest.raises(TypeError, match="env.attributes"):
        emcomm.make_env("lewis", attributes={"a": 1})


def test_lewis_sample_is_the_one_hot_of_the_concept():
    env = emcomm.make_env("lewis", attributes=3, values=4)
    assert isinstance(env, emcomm.SignalingEnv)
    assert env.options["attributes"] == 3 and env.sender_input_dim == 12
    b = env.sample("train", 50, seed=7)
    x, c = b["sender_input"], b["concept"]
    assert x.shape == (50, 12) and x.dtype == np.float32 and c.shape == (50, 3)
    onehot = np.zeros((50, 3, 4), np.float32)
    onehot[np.arange(50)[:, None], np.arange(3)[None, :], c] = 1
    np.testing.assert_array_equal(x, onehot.reshape(50, 12))
    np.testing.assert_array_equal(b["target"], c)  # reconstruction: the target is the concept
    # the same seed, the same batch; the splits are disjoint
    np.testing.assert_array_equal(env.sample("train", 50, seed=7)["concept"], c)
    val = {tuple(r) for r in env.eval_set("val")["concept"]}
    assert len(val) == env.split_size("val") and not val & {tuple(r) for r in c}
    with pytest.raises(ValueError, match="split 'dev'"):
        env.sample("dev", 4)


def test_matrix_fixed_payoffs_reward_the_joint_action():
    env = emcomm.make_env("matrix", payoffs="fixed", payoff0="1,2,3,4", payoff1="5,6,7,8", comm="none")
    st = env.reset(batch=4, seed=1)
    assert st["acts"].all() and not st["speaks"].any() and not st["done"].any()
    a = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])[:, :, None]
    st = env.step(a, np.zeros((4, 2, 1), np.int64))
    np.testing.assert_array_equal(st["reward"], [[1, 5], [2, 6], [3, 7], [4, 8]])
    assert st["done"].all()
    with pytest.raises(ValueError, match="every episode of the batch is over"):
        env.step(a, np.zeros((4, 2, 1), np.int64))
    np.testing.assert_array_equal(env.state()["payoffs"][0, 0], [[1, 2], [3, 4]])


def test_matrix_turns_only_the_speaker_speaks_and_out_of_range_is_refused():
    env = emcomm.make_env("matrix", n_acts=2, n_comm=3, comm="turns")
    st = env.reset(batch=8, seed=2)
    first = env.state()["first_speaker"]
    np.testing.assert_array_equal(st["speaks"][np.arange(8), first], True)
    np.testing.assert_array_equal(st["speaks"][np.arange(8), 1 - first], False)
    with pytest.raises(ValueError, match="speaks symbols 0..2"):
        env.step(np.zeros((8, 2, 1), np.int64), np.full((8, 2, 1), 3))
    with pytest.raises(ValueError, match=r"must be an integer array \[8, 2, 1\]"):
        env.step(np.zeros((8, 3), np.int64), np.zeros((8, 2), np.int64))
    with pytest.raises(ValueError, match="must hold integers"):
        env.step(np.zeros((8, 2, 1)) + 0.5, np.zeros((8, 2, 1), np.int64))


def test_matrix_set_state_payoffs_give_the_rewards_they_imply():
    env = emcomm.make_env("matrix", payoffs="random", n_acts=3, comm="simul", n_comm=2, adversarial=0.5)
    env.reset(batch=4, seed=7)
    rng = np.random.default_rng(0)
    pay = rng.normal(size=(4, 2, 3, 3))
    obs = env.set_state({"payoffs": pay})
    np.testing.assert_array_equal(env.state()["payoffs"], pay)  # as set: the coefficient is not applied again
    # agent i sees its own matrix (row = its action) then the other's, as the game documents
    np.testing.assert_allclose(obs[0][:, :9], pay[:, 0].reshape(4, 9), rtol=1e-6)
    np.testing.assert_allclose(obs[1][:, :9], pay[:, 1].transpose(0, 2, 1).reshape(4, 9), rtol=1e-6)
    np.testing.assert_allclose(obs[1][:, 9:18], pay[:, 0].transpose(0, 2, 1).reshape(4, 9), rtol=1e-6)
    env.step(np.zeros((4, 2, 1), np.int64), np.zeros((4, 2, 1), np.int64))  # both speak
    a0, a1 = np.array([0, 1, 2, 2]), np.array([2, 0, 1, 2])
    st = env.step(np.stack([a0, a1], 1)[:, :, None], np.zeros((4, 2, 1), np.int64))
    want = np.stack([pay[np.arange(4), 0, a0, a1], pay[np.arange(4), 1, a0, a1]], 1)
    np.testing.assert_allclose(st["reward"], want, rtol=1e-6)


def test_matrix_set_state_first_speaker_and_heard_symbols():
    env = emcomm.make_env("matrix", payoffs="fixed", payoff0="1,2,3,4", payoff1="5,6,7,8", comm="turns", n_comm=3)
    env.reset(batch=2, seed=1)
    env.set_state({"first_speaker": [1, 0]})
    st = env.state()
    np.testing.assert_array_equal(st["first_speaker"], [1, 0])
    assert st["t"] == 0 and (st["heard"] == -1).all() and (st["said"] == -1).all()
    # agent 1 speaks first in episode 0, agent 0 in episode 1: the other's entry is ignored
    after = env.step(np.zeros((2, 2, 1), np.int64), np.array([[9, 2], [1, 9]])[:, :, None])
    np.testing.assert_array_equal(env.state()["heard"], [[2, -1], [-1, 1]])
    np.testing.assert_array_equal(after["speaks"], [[True, False], [False, True]])
    # a heard symbol set by hand reaches the hearer's observation (one-hot after the payoffs)
    obs = env.set_state({"heard": [[0, 2], [1, 1]]})
    np.testing.assert_array_equal(obs[1][:, 8:11], [[0, 0, 1], [0, 1, 0]])
    with pytest.raises(ValueError, match="before anyone has spoken"):
        env.set_state({"first_speaker": [0, 0]})
    with pytest.raises(ValueError, match=r"heard symbols must be -1 \(none\) or 0..2, got 3"):
        env.set_state({"heard": [[3, 0], [0, 0]]})
    with pytest.raises(ValueError, match=r"'payoffs' must have shape \[2, 2, 2, 2\]"):
        env.set_state({"payoffs": np.zeros((2, 2, 3, 3))})
    with pytest.raises(ValueError, match="unknown key 'positions'"):
        env.set_state({"positions": np.zeros((2, 2, 2))})
    simul = emcomm.make_env("matrix", comm="simul")
    simul.reset(batch=1, seed=0)
    with pytest.raises(ValueError, match="env.comm=turns only"):
        simul.set_state({"first_speaker": [1]})


def test_particle_action_one_pushes_plus_x():
    env = emcomm.make_env("particle", scenario="speaker_listener")
    env.reset(batch=2, seed=3)
    s = env.state()
    pos = s["positions"].copy()
    pos[:, 1] = [0.2, -0.3]  # the listener (agent 1)
    env.set_state({"positions": pos, "velocities": np.zeros_like(pos)})
    actions = np.array([[0, 1], [0, 4]])[:, :, None]  # world 0: +x, world 1: -y
    env.step(actions, np.zeros((2, 2, 1), np.int64))
    after = env.state()["positions"][:, 1]
    # v = 5 * 0.1 = 0.5 after one step from rest, p += v * 0.1
    np.testing.assert_allclose(after[0], [0.25, -0.3], atol=1e-6)
    np.testing.assert_allclose(after[1], [0.2, -0.35], atol=1e-6)


def test_particle_set_state_messages_reach_the_listener_observation():
    env = emcomm.make_env("particle", scenario="speaker_listener")
    env.reset(batch=1, seed=4)
    msg = np.zeros((1, 2, 3), np.float32)
    msg[0, 0] = [0, 0, 1]
    obs = env.set_state({"messages": msg})
    np.testing.assert_array_equal(obs[1][0, -3:], [0, 0, 1])  # the listener's obs ends with what it heard
    np.testing.assert_array_equal(env.state()["messages"], msg)
    with pytest.raises(ValueError, match="unknown key 'speed'"):
        env.set_state({"speed": 1})
    with pytest.raises(ValueError, match=r"shape \[1, 5, 2\]"):
        env.set_state({"positions": np.zeros((2, 2))})


def test_soft_step_movement_is_the_difference_of_the_action_values():
    env = emcomm.make_env("particle", scenario="speaker_listener")
    env.reset(batch=1, seed=5)
    pos = env.state()["positions"].copy()
    env.set_state({"velocities": np.zeros_like(pos)})
    act = np.zeros((1, 2, 5), np.float32)
    act[0, 1] = [0, 0.75, 0.25, 0.1, 0.3]  # (0.5, -0.2) * 5 accel
    env.step_soft(act, np.zeros((1, 2, 3), np.float32))
    np.testing.assert_allclose(env.state()["positions"][0, 1] - pos[0, 1], [0.025, -0.01], atol=1e-6)


def test_render_draws_the_world():
    env = emcomm.make_env("particle", scenario="simple_spread")
    env.reset(batch=1, seed=6)
    from emcomm.render import render_state
    img = render_state(env)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    pos = env.state()["positions"].copy()
    pos[0, :3] = [[-1.2, -1.2], [-1.2, 1.2], [1.2, -1.2]]
    env.set_state({"positions": pos})
    assert not np.array_equal(render_state(env), img)
