"""emcomm.load_agents for the population (s2p) and REINFORCE (reinforce) trainers: each loaded
agent reproduces what its run logged (greedy play) for the same inputs."""
import numpy as np
import pytest

import emcomm

# A population of 2 pairs, S2P's sched schedule, the model selected on seed-validation.
S2P_INI = """[run]
seed = 6
[env]
name = lewis
attributes = 3
values = 4
mode = reconstruction
split = random
[agents]
vocab_size = 12
max_len = 3
eos = false
hidden = 32
[train]
algorithm = s2p
steps = 40
batch_size = 16
lr = 0.01
eval_every = 10
[s2p]
schedule = sched
seed_size = 24
listener_pretrain = 5
speaker_pretrain = 5
sp_steps = 4
sup_steps = 2
select = seed_val
[population]
size = 2
[eval]
size = 0
log_rows = 100
"""

# Cheap talk before a fixed 2 x 2 game, evaluated greedily (eval.sample=false), so every logged
# row follows from the first speaker alone.
MATRIX_INI = """[run]
seed = 5
[env]
name = matrix
payoffs = fixed
payoff0 = 3,0,5,1
payoff1 = 3,5,0,1
n_comm = 4
comm = turns
[agents]
hidden = 16
[train]
algorithm = reinforce
steps = 30
batch_size = 32
lr = 0.01
eval_every = 15
[eval]
size = 64
log_rows = 200
sample = false
"""

# The Lewis game through the Markov adapter (speaker = agent 0, listener = agent 1).
ADAPTER_INI = """[run]
seed = 6
[env]
name = lewis
attributes = 3
values = 4
split = random
[adapter]
vocab_size = 5
max_len = 2
[agents]
hidden = 16
[train]
algorithm = reinforce
steps = 30
batch_size = 32
lr = 0.01
eval_every = 15
[eval]
size = 64
log_rows = 64
"""


def train(tmp_path_factory, name, ini):
    d = tmp_path_factory.mktemp(name)
    (d / "config.ini").write_text(ini)
    emcomm.train(d / "config.ini", {"run.out": d / "run"})
    return d / "run"


@pytest.fixture(scope="module")
def s2p_run(tmp_path_factory):
    return train(tmp_path_factory, "s2p", S2P_INI)


@pytest.fixture(scope="module")
def matrix_run(tmp_path_factory):
    return train(tmp_path_factory, "matrix", MATRIX_INI)


@pytest.fixture(scope="module")
def adapter_run(tmp_path_factory):
    return train(tmp_path_factory, "adapter", ADAPTER_INI)


def objects_by_concept(env, split):
    objs = env.eval_set(split)
    return {tuple(c): x for c, x in zip(objs["concept"], objs["sender_input"])}


def test_s2p_members_reproduce_the_selected_models_logged_rows(s2p_run):
    agents = emcomm.load_agents(s2p_run)
    run = emcomm.open_run(s2p_run)
    assert agents.algorithm == "s2p" and agents.members == 2 and not agents.markov
    assert agents.speaker.member == 0 and [s.member for s in agents.speakers] == [0, 1]
    # the model S2P returned: the one s2p.select chose, logged at its step as selected_*
    selected = run.scalar("selected/sp_acc/val")["step"]
    assert len(selected) == 1 and agents.model_step == selected[0]
    assert agents.step == 40 and agents.model_step == 30  # this seed selects an earlier model than the last
    objects = objects_by_concept(agents.env, "val")
    messages = {}
    for split, step in (("selected_val", agents.model_step), ("selected_test", agents.model_step)):
        rows = run.interactions(split)
        assert set(rows["step"]) == {step}
        objects = objects_by_concept(agents.env, split.split("_")[1])
        for p in range(2):
            mine = rows["sender"] == p
            assert mine.sum() > 0 and (rows["receiver"][mine] == p).all()
            x = np.stack([objects[tuple(c)] for c in rows["concept"][mine]])
            said = agents.speakers[p](x)
            np.testing.assert_array_equal(said, rows["message"][mine])
            np.testing.assert_array_equal(agents.listeners[p].act(rows["message"][mine]), rows["receiver_action"][mine])
            messages[split, p] = said
    # two independently initialised members speak differently: the member index matters
    assert not np.array_equal(messages["selected_val", 0], messages["selected_val", 1])
    # load_agents(member=1) makes member 1 the default speaker/listener
    one = emcomm.load_agents(s2p_run, member=1)
    x = np.stack(list(objects_by_concept(one.env, "val").values()))
    np.testing.assert_array_equal(one.speaker(x), agents.speakers[1](x))
    with pytest.raises(ValueError, match=r"member 2 does not exist: this run's population has members 0..1"):
        emcomm.load_agents(s2p_run, member=2)
    with pytest.raises(ValueError, match="member 5 does not exist"):
        agents._a._speak(x, 5)


def test_s2p_same_run_same_agents(s2p_run):
    a, b = emcomm.load_agents(s2p_run), emcomm.load_agents(s2p_run)
    x = np.stack(list(objects_by_concept(a.env, "test").values()))
    for p in range(2):
        np.testing.assert_array_equal(a.speakers[p](x), b.speakers[p](x))
        np.testing.assert_array_equal(a.listeners[p](a.speakers[p](x)), b.listeners[p](b.speakers[p](x)))


def replay_matrix(agents, batch=8, seed=3):
    """Plays `batch` episodes of the run's game greedily with the loaded agents; returns the rows
    (sender, receiver, message, sender_action, receiver_action) the run's evaluation logs."""
    game = agents.game
    st = game.reset(batch, seed=seed, eval=True)
    said = {}  # (episode, agent) -> symbol
    acted = {}
    while not st["done"].all():
        speaks, acts = st["speaks"].copy(), st["acts"].copy()
        actions, messages = agents.policy(st["obs"])
        for b in range(batch):
            for i in range(2):
                if speaks[b, i]:
                    said[b, i] = int(messages[b, i, 0])
                if acts[b, i]:
                    acted[b, i] = int(actions[b, i, 0])
        st = game.step(actions, messages)
    return {(i, 1 - i, said[b, i], acted[b, i], acted[b, 1 - i]) for b in range(batch) for i in range(2)}


def test_reinforce_matrix_agents_reproduce_the_logged_greedy_rows(matrix_run):
    agents = emcomm.load_agents(matrix_run)
    assert agents.algorithm == "reinforce" and agents.markov and agents.speaker is None
    assert agents.step == agents.model_step == 30
    run = emcomm.open_run(matrix_run)
    rows = run.interactions("eval", step="latest")
    logged = {(int(s), int(r), int(m[0]), int(a), int(ra)) for s, r, m, a, ra in
              zip(rows["sender"], rows["receiver"], rows["message"], rows["sender_action"], rows["receiver_action"])}
    assert {row[0] for row in logged} == {0, 1}  # both agents spoke first in some episode
    assert replay_matrix(agents) == logged
    # one agent's move: integer action / message and the heads behind them
    st = agents.game.reset(4, seed=1)
    r = agents.act(0, st["obs"][0])
    assert r["action"].shape == (4, 1) and r["message"].shape == (4, 1) and r["value"].shape == (4,)
    np.testing.assert_array_equal(r["message"][:, 0], r["message_logits"][:, 0].argmax(-1))
    np.testing.assert_array_equal(r["action"][:, 0], r["action_logits"][:, 0].argmax(-1))
    with pytest.raises(ValueError, match=r"obs of agent 1 must be \[B, 16\]"):
        agents.act(1, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="agent 2 does not exist"):
        agents.act(2, st["obs"][0])


def test_reinforce_sampling_is_seeded_by_the_loaded_object(matrix_run):
    a, b = emcomm.load_agents(matrix_run), emcomm.load_agents(matrix_run)
    obs = a.game.reset(64, seed=2)["obs"][0]
    np.testing.assert_array_equal(a.act(0, obs, sample=True)["message"], b.act(0, obs, sample=True)["message"])


def test_reinforce_through_the_adapter_reproduces_the_logged_rows(adapter_run):
    agents = emcomm.load_agents(adapter_run)
    assert agents.markov and agents.env.kind == "signaling" and agents.game.kind == "markov"
    run = emcomm.open_run(adapter_run)
    rows = run.interactions("eval", step="latest")
    objects = objects_by_concept(agents.env, "val")
    # the speaker (agent 0) on the logged objects says the logged messages
    x = np.stack([objects[tuple(c)] for c in rows["concept"]])
    r = agents.act(0, x.reshape(len(x), -1))
    assert r["action"] is None
    np.testing.assert_array_equal(r["message"], rows["message"])
    # the listener (agent 1) hears them through the adapter and takes the logged actions
    game = agents.game
    st = game.reset(512, seed=1, eval=True)
    actions, messages = agents.policy(st["obs"])
    heard = game.step(actions, messages)
    concept = st["obs"][0].reshape(512, 3, 4).argmax(-1)
    acts = agents.act(1, heard["obs"][1])["action"]
    replay = {(tuple(c), tuple(m)): tuple(a) for c, m, a in zip(concept, messages[:, 0], acts)}
    for c, m, a in zip(rows["concept"], rows["message"], rows["receiver_action"]):
        assert replay[tuple(c), tuple(m)] == tuple(a)


def test_load_agents_of_an_unfinished_run(tmp_path):
    ini = tmp_path / "m.ini"
    ini.write_text(MATRIX_INI)
    emcomm.train(ini, {"run.out": tmp_path / "run", "run.stop_after": 10})
    with pytest.raises(ValueError, match="has not finished"):
        emcomm.load_agents(tmp_path / "run")


def test_load_agents_of_a_run_with_empty_options(tmp_path):
    # a random matrix game leaves env.payoff0/payoff1 empty: the env is rebuilt from config.ini as
    # the run resolved it (an empty value is no command-line override)
    ini = tmp_path / "r.ini"
    ini.write_text(MATRIX_INI.replace("payoffs = fixed\npayoff0 = 3,0,5,1\npayoff1 = 3,5,0,1\n", ""))
    emcomm.train(ini, {"run.out": tmp_path / "run", "train.steps": 4})
    agents = emcomm.load_agents(tmp_path / "run")
    assert agents.env.options["payoffs"] == "random" and agents.env.options["payoff0"] == ""
    st = agents.game.reset(3, seed=0)
    actions, messages = agents.policy(st["obs"])
    assert actions.shape == (3, 2, 1) and messages.shape == (3, 2, 1)
