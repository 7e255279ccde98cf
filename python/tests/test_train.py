"""emcomm.train in-process, emcomm.load_agents reproducing the run's logged greedy messages, and
the ELCC export round trip."""
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import cli_error

import emcomm


def test_train_returns_the_summary(lewis_run):
    run_dir, summary = lewis_run
    assert summary["steps"] == 300 and summary["env"] == "lewis" and summary["algorithm"] == "selfplay"
    assert summary["run_dir"] == str(run_dir)
    assert json.loads((run_dir / "summary.json").read_text()) == summary
    # 12 objects, 3 attributes x 4 values: self-play learns the training split in 300 steps
    assert summary["final"]["sp_acc/train"] >= 0.9


def test_in_process_run_is_the_cli_run(tmp_path, lewis_run, lewis_ini):
    from conftest import cli
    cli("train", lewis_ini, f"--run.out={tmp_path / 'cli'}")
    assert (tmp_path / "cli/checkpoints/final.pt").read_bytes() == (lewis_run[0] / "checkpoints/final.pt").read_bytes()
    cli_final = json.loads((tmp_path / "cli/summary.json").read_text())["final"]
    py_final = dict(lewis_run[1]["final"])
    assert cli_final.pop("time/wall_seconds") > 0 and py_final.pop("time/wall_seconds") > 0
    assert cli_final == py_final


def test_train_bad_option_is_the_cli_message_and_writes_nothing(tmp_path, lewis_ini):
    out = tmp_path / "never"
    expected = cli_error("train", lewis_ini, "--train.lr=-1", f"--run.out={out}")
    with pytest.raises(ValueError) as e:
        emcomm.train(lewis_ini, train__lr=-1, run__out=out)
    assert str(e.value) == expected
    assert not out.exists()
    with pytest.raises(ValueError, match="does not exist"):
        emcomm.train(tmp_path / "missing.ini")


def test_train_refuses_to_overwrite_a_run(lewis_run, lewis_ini):
    with pytest.raises(ValueError, match="already holds a run"):
        emcomm.train(lewis_ini, {"run.out": lewis_run[0]})


def test_load_agents_reproduces_the_logged_greedy_messages(lewis_run):
    run_dir, _ = lewis_run
    agents = emcomm.load_agents(run_dir)
    assert agents.algorithm == "selfplay" and agents.channel == {"vocab_size": 6, "max_len": 3, "eos": True}
    run = emcomm.open_run(run_dir)
    for split in ("train", "val", "test"):
        rows = run.interactions(split, step="latest")
        n = rows["rows"]
        objects = agents.env.eval_set(split)  # eval.size = 0: the whole split, as the run evaluated it
        np.testing.assert_array_equal(objects["concept"][:n], rows["concept"])
        spoken = agents.speaker.speak(objects["sender_input"][:n])
        np.testing.assert_array_equal(agents.speaker(objects["sender_input"][:n]), rows["message"])
        np.testing.assert_array_equal(spoken["length"], rows["length"])
        # the listener, given the logged messages, takes the logged actions
        np.testing.assert_array_equal(agents.listener.act(rows["message"]), rows["receiver_action"])
        assert agents.listener(rows["message"]).shape == (n, 3, 4)
    with pytest.raises(ValueError, match=r"shape \[B, 12\]"):
        agents.speaker(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="symbols must be in 0..5"):
        agents.listener(np.full((1, 3), 9))


def test_load_agents_of_a_directory_without_a_run(tmp_path):
    with pytest.raises(ValueError, match="no config.ini"):
        emcomm.load_agents(tmp_path)


def test_elcc_export_round_trip(tmp_path, lewis_run):
    run_dir, _ = lewis_run
    out = tmp_path / "elcc"
    emcomm.export_elcc(run_dir / "run.h5", out, split="val")
    rows = emcomm.open_run(run_dir).interactions("val", step="latest")
    lines = (out / "corpus.jsonl").read_text().splitlines()
    assert len(lines) == rows["rows"]
    for line, m, L in zip(lines, rows["message"], rows["length"]):
        assert json.loads(line) == [int(s) for s in m[:L]]
    meta = json.loads((out / "metadata.json").read_text())
    system = meta["system"]
    assert system["game_type"] == "signalling" and system["game_subtype"] == "reconstruction"
    assert system["multi_step"] is False and system["more_than_2_agents"] is False
    assert meta["origin"]["name"] == "emcomm"
    # the command-line form writes the same files
    out2 = tmp_path / "elcc2"
    p = subprocess.run([sys.executable, "-m", "emcomm.export", str(run_dir / "run.h5"), "--format", "elcc",
                        str(out2), "--split", "val"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert (out2 / "corpus.jsonl").read_text() == (out / "corpus.jsonl").read_text()
    p = subprocess.run([sys.executable, "-m", "emcomm.export", str(tmp_path / "none.h5"), "--format", "elcc",
                        str(out2)], capture_output=True, text=True)
    assert p.returncode == 2 and "none.h5" in p.stderr


MADDPG_INI = """[run]
seed = 2
[env]
name = particle
scenario = speaker_listener
episode_length = 4
[maddpg]
envs = 4
hidden = 16
batch = 16
replay = 1000
learning_starts = {starts}
update_every = 4
[train]
algorithm = maddpg
steps = 40
eval_every = 20
[eval]
size = 8
log_rows = 8
"""


def test_load_agents_of_a_maddpg_run_gives_its_trained_actors(tmp_path):
    obs = None
    out = {}
    for name, starts in (("trained", 16), ("untrained", 1000)):  # 40 steps x 4 worlds < 1000: never updates
        ini = tmp_path / f"{name}.ini"
        ini.write_text(MADDPG_INI.format(starts=starts))
        emcomm.train(ini, {"run.out": tmp_path / name})
        agents = emcomm.load_agents(tmp_path / name)
        assert agents.markov and agents.speaker is None
        st = agents.env.reset(5, seed=9)
        if obs is not None:  # the same env and seed: the same start
            for a, b in zip(obs, st["obs"]):
                np.testing.assert_array_equal(a, b)
        obs = st["obs"]
        out[name] = [agents.act(i, obs[i]) for i in range(2)]
        actions, messages = agents.policy(obs)
        assert actions.shape == (5, 2, 5) and messages.shape == (5, 2, 3)
        np.testing.assert_array_equal(messages[:, 0], out[name][0][:, :3])  # the speaker's message part
        np.testing.assert_array_equal(actions[:, 1], out[name][1][:, :5])   # the listener's movement
        st = agents.env.step_soft(actions, messages)
        assert st["reward"].shape == (5, 2)
        with pytest.raises(ValueError, match=r"obs of agent 1 must be \[B, 11\]"):
            agents.act(1, obs[0])
    # the same seed builds the same initial actors: only loading the checkpoint tells them apart
    assert not np.allclose(out["trained"][1], out["untrained"][1])
    again = emcomm.load_agents(tmp_path / "trained")
    np.testing.assert_array_equal(again.act(1, obs[1]), out["trained"][1])


def test_sigint_stops_an_in_process_run_like_the_cli(tmp_path, lewis_ini):
    import glob
    import os
    import signal
    import threading
    import time
    out = tmp_path / "stopped"

    def interrupt():  # once the first checkpoint is written, emcomm's own handler is installed
        while not glob.glob(str(out / "checkpoints" / "step-*.pt")):
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    t = threading.Thread(target=interrupt, daemon=True)
    t.start()
    with pytest.raises(KeyboardInterrupt, match="can be resumed"):
        emcomm.train(lewis_ini, {"run.out": out, "train.steps": 10**7, "run.checkpoint_every": 20})
    t.join()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Python's handler is back
    assert not (out / "summary.json").exists()
    assert emcomm.open_run(out).validate() == []  # flushed and conforming
    # the stop checkpoint: at or after the one that triggered the signal (step 20; the signal may
    # arrive before the trainer polls its flag after step 20), far before the end
    steps = sorted(int(p.rsplit("-", 1)[1][:-3]) for p in glob.glob(str(out / "checkpoints" / "step-*.pt")))
    assert 20 <= steps[-1] < 10**7
