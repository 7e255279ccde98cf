"""emcomm export --format elcc and emcomm.export_elcc: one C++ implementation, the same bytes from
both, ELCC's corpus and metadata fields, and bad input refused with one message (exit code 2)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import cli, cli_error

import emcomm


def read(d):
    return (d / "corpus.jsonl").read_bytes(), (d / "metadata.json").read_bytes()


def test_cli_and_python_write_the_same_bytes(tmp_path, lewis_run):
    run_dir, _ = lewis_run
    code, out, _ = cli("export", run_dir / "run.h5", "--format", "elcc", tmp_path / "cli")
    n = emcomm.export_elcc(run_dir / "run.h5", tmp_path / "py")
    assert f"wrote {n} messages" in out
    assert read(tmp_path / "cli") == read(tmp_path / "py")
    # a run directory, an emcomm.Run and python -m emcomm.export name the same file
    emcomm.export_elcc(emcomm.open_run(run_dir), tmp_path / "run_obj")
    p = subprocess.run([sys.executable, "-m", "emcomm.export", str(run_dir), "--format", "elcc", str(tmp_path / "mod")],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert read(tmp_path / "run_obj") == read(tmp_path / "py") == read(tmp_path / "mod")


def test_corpus_lines_are_the_messages_with_their_eos_and_no_padding(tmp_path, lewis_run):
    run_dir, _ = lewis_run
    rows = emcomm.open_run(run_dir).interactions("val", step="latest")
    assert emcomm.export_elcc(run_dir, tmp_path / "e") == rows["rows"]
    lines = [json.loads(x) for x in (tmp_path / "e" / "corpus.jsonl").read_text().splitlines()]
    assert len(lines) == rows["rows"]
    for line, m, L in zip(lines, rows["message"], rows["length"]):
        assert line == [int(s) for s in m[:L]]
        assert -1 not in line
        if L < 3:  # agents.eos=true: the EOS 0 that ended the message is its last token
            assert line[-1] == 0 and 0 not in line[:-1]
    # step=all: every evaluation's rows (steps 100, 200, 300), in file order
    n_all = emcomm.export_elcc(run_dir, tmp_path / "all", step="all")
    assert n_all == emcomm.open_run(run_dir).interaction_rows("val")
    meta = json.loads((tmp_path / "all" / "metadata.json").read_text())
    assert meta["origin"]["step"] == "all" and meta["origin"]["steps"] == [100, 200, 300]
    emcomm.export_elcc(run_dir, tmp_path / "s200", step=200)
    assert json.loads((tmp_path / "s200" / "metadata.json").read_text())["origin"]["steps"] == [200]


def test_metadata_fields_of_a_signaling_run(tmp_path, lewis_run):
    run_dir, _ = lewis_run
    emcomm.export_elcc(run_dir, tmp_path / "e", split="test")
    meta = json.loads((tmp_path / "e" / "metadata.json").read_text())
    assert list(meta) == ["origin", "system", "corpus"]
    o, s, c = meta["origin"], meta["system"], meta["corpus"]
    assert o["name"] == "emcomm" and str((run_dir / "run.h5").resolve()) in o["upstream_source"]
    assert (o["split"], o["step"], o["env"], o["algorithm"], o["seed"]) == ("test", "latest", "lewis", "selfplay", 3)
    assert o["emcomm_version"] == emcomm.open_run(run_dir).attribute("emcomm_version")
    assert s["game_type"] == "signalling" and s["game_subtype"] == "reconstruction"
    assert s["observation_type"] == "vector" and s["observation_continuous"] is False
    assert s["data_source"] == "synthetic" and s["seeding_available"] is True
    assert s["multi_step"] is False and s["multi_utterance"] is False
    assert s["more_than_2_agents"] is False and s["symmetric_agents"] is False
    assert s["variants"]["env.attributes"] == "3" and s["variants"]["agents.vocab_size"] == "6"
    assert s["variants"]["train.algorithm"] == "selfplay"
    assert not any(k.startswith(("train.", "run.")) and k != "train.algorithm" for k in s["variants"])
    assert c["vocab_size"] == 6 and c["max_length"] <= 3 and "last token" in c["eos"] and "none" in c["padding"]


MATRIX_INI = """[env]
name = matrix
comm = {comm}
[train]
algorithm = reinforce
steps = 4
eval_every = 2
batch_size = 8
[eval]
size = 16
log_rows = 32
"""

CRYPTO_INI = """[env]
name = particle
scenario = simple_crypto
episode_length = 3
[maddpg]
envs = 2
hidden = 8
batch = 8
replay = 100
learning_starts = 1000
[train]
algorithm = maddpg
steps = 6
eval_every = 3
[eval]
size = 4
log_rows = 32
final_episodes = 0
"""


def train(tmp_path, name, ini):
    (tmp_path / f"{name}.ini").write_text(ini)
    emcomm.train(tmp_path / f"{name}.ini", {"run.out": tmp_path / name})
    return tmp_path / name


@pytest.mark.parametrize("comm,steps,utterances,symmetric", [("turns", True, True, True), ("oneag", True, False, False)])
def test_metadata_fields_of_a_matrix_game(tmp_path, comm, steps, utterances, symmetric):
    run = train(tmp_path, "m", MATRIX_INI.format(comm=comm))
    emcomm.export_elcc(run, tmp_path / "e")
    meta = json.loads((tmp_path / "e" / "metadata.json").read_text())
    s = meta["system"]
    assert s["game_type"] == "matrix game" and f"comm={comm}" in s["game_subtype"]
    assert s["multi_step"] is steps and s["multi_utterance"] is utterances and s["symmetric_agents"] is symmetric
    assert s["more_than_2_agents"] is False and s["observation_continuous"] is True
    assert meta["corpus"]["vocab_size"] == 4 and meta["corpus"]["eos"] is None  # env.n_comm, one symbol
    lines = (tmp_path / "e" / "corpus.jsonl").read_text().splitlines()
    assert lines and all(len(json.loads(x)) == 1 for x in lines)


def test_a_message_heard_by_several_agents_is_one_line(tmp_path):
    run = train(tmp_path, "crypto", CRYPTO_INI)
    rows = emcomm.open_run(run).interactions("eval", step="latest")
    utterances = {(s, e, t, snd) for s, e, t, snd in zip(rows["step"], rows["episode"], rows["t"], rows["sender"])}
    assert len(utterances) < rows["rows"]  # Alice's message is a row for Bob and one for Eve
    assert emcomm.export_elcc(run, tmp_path / "e") == len(utterances)
    meta = json.loads((tmp_path / "e" / "metadata.json").read_text())
    s = meta["system"]
    assert s["more_than_2_agents"] is True and s["multi_step"] is True and s["multi_utterance"] is True
    assert (s["game_type"], s["game_subtype"]) == ("signalling", "covert communication")
    assert meta["corpus"]["rows"] == rows["rows"] and meta["corpus"]["lines"] == len(utterances)


def test_bad_input_is_one_message_exit_2_and_the_same_exception(tmp_path, lewis_run):
    run_dir, _ = lewis_run
    h5 = run_dir / "run.h5"
    cases = [
        ((tmp_path / "missing.h5", tmp_path / "o1"), {}, "does not exist"),
        ((h5, tmp_path / "o2"), {"split": "nope"}, "--split 'nope': run file .* has splits "),
        ((h5, tmp_path / "o3"), {"step": 7}, "has no rows at step 7 in split 'val'; its steps there are: 100, 200, 300"),
        ((h5, tmp_path / "o4"), {"step": "soon"}, "--step must be latest, all or a step number; got 'soon'"),
    ]
    for (run, out), kw, pattern in cases:
        flags = [f"--{k}={v}" for k, v in kw.items()]
        msg = cli_error("export", run, "--format", "elcc", out, *flags)
        assert "\n" not in msg
        with pytest.raises(ValueError) as e:
            emcomm.export_elcc(run, out, **kw)
        assert str(e.value) == msg
        import re
        assert re.search(pattern, msg), msg
        assert not out.exists()
    # an existing OUT_DIR: refused without --overwrite, replaced with it
    out = tmp_path / "exists"
    out.mkdir()
    (out / "corpus.jsonl").write_text("old\n")
    msg = cli_error("export", h5, "--format", "elcc", out)
    assert "exists; pass --overwrite" in msg
    with pytest.raises(ValueError) as e:
        emcomm.export_elcc(h5, out)
    assert str(e.value) == msg and (out / "corpus.jsonl").read_text() == "old\n"
    cli("export", h5, "--format", "elcc", out, "--overwrite")
    emcomm.export_elcc(h5, tmp_path / "fresh")
    assert read(out) == read(tmp_path / "fresh")
    # the format and the arguments are the CLI's own checks
    assert "writes elcc only" in cli_error("export", h5, "--format", "csv", tmp_path / "o5")
    assert "needs --format elcc" in cli_error("export", h5, tmp_path / "o5")
    assert "takes a run file and an output directory" in cli_error("export", h5, "--format", "elcc")
    p = subprocess.run([sys.executable, "-m", "emcomm.export", str(h5), "--format", "csv", str(tmp_path / "o5")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.strip() == "emcomm: error: --format 'csv': emcomm export writes elcc only"
    # a corrupt file: the reader's message
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5 at all")
    msg = cli_error("export", bad, "--format", "elcc", tmp_path / "o6")
    with pytest.raises(ValueError) as e:
        emcomm.export_elcc(bad, tmp_path / "o6")
    assert str(e.value) == msg and "bad.h5" in msg


def test_export_is_listed_in_the_cli_help():
    _, out, _ = cli("--help")
    assert "export RUN.h5 --format elcc OUT_DIR" in out
    _, out, _ = cli("export", "--help")
    assert "corpus.jsonl" in out and "metadata.json" in out
