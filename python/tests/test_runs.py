"""emcomm.open_run on a file written by emcomm train and on corrupt ones; emcomm.metrics equal
to `emcomm analyze --json` on the same file."""
import json
import math
import shutil

import numpy as np
import pytest

from conftest import cli, cli_error

import emcomm
from emcomm import metrics


def test_open_run_reads_the_documented_layout(lewis_run):
    run_dir, summary = lewis_run
    run = emcomm.open_run(run_dir / "run.h5")
    assert run.validate() == []
    assert run.schema_version == 2 and run.attribute("format") == "emcomm.run"
    assert run.config["env.name"] == "lewis" and run.config["agents.max_len"] == "3"
    assert "[env]" in run.config_ini
    acc = run.scalar("sp_acc/val")
    np.testing.assert_array_equal(acc["step"], [100, 200, 300])
    assert acc["value"][-1] == pytest.approx(summary["final"]["sp_acc/val"])
    assert set(run.splits()) == {"train", "val", "test"}
    blocks = run.step_rows("val")
    assert [b[0] for b in blocks] == [100, 200, 300]
    rows = run.interactions("val", step="latest")
    n = blocks[-1][2]
    assert rows["rows"] == n and rows["message"].shape == (n, 3) and rows["concept"].shape == (n, 3)
    assert (rows["step"] == 300).all()
    # -1 only after the end of each message
    for m, L in zip(rows["message"], rows["length"]):
        assert (m[:L] >= 0).all() and (m[L:] == -1).all()
    every = run.interactions("val")
    assert every["rows"] == run.interaction_rows("val") == sum(b[2] for b in blocks)
    cic = run.cic("val", step=300)
    assert cic["p_action"].shape[:2] == cic["p_message"].shape and cic["action_shape"] == [3, 4]
    with pytest.raises(ValueError, match="no rows at step 7"):
        run.interactions("val", step=7)


def test_open_run_of_a_directory_and_a_missing_split(lewis_run):
    run = emcomm.open_run(lewis_run[0])
    with pytest.raises(ValueError, match="dev"):
        run.interactions("dev")


def test_corrupt_files_raise_the_readers_message(tmp_path, lewis_run):
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"this is not an HDF5 file" * 10)
    expected = cli_error("analyze", garbage, "--no-write")
    with pytest.raises(ValueError) as e:
        emcomm.open_run(garbage)
    assert str(e.value) == expected
    missing = tmp_path / "nothing.h5"
    expected = cli_error("analyze", missing, "--no-write")
    with pytest.raises(ValueError) as e:
        emcomm.open_run(missing)
    assert str(e.value) == expected and "nothing.h5" in str(e.value)
    cut = tmp_path / "cut.h5"
    data = (lewis_run[0] / "run.h5").read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match="cut.h5"):
        emcomm.open_run(cut).interactions("val")


def analyze_rows(rows, cic):
    """The figures of `emcomm analyze` from emcomm.metrics calls on open_run's rows."""
    m, L = rows["message"], rows["length"]
    out = {"entropy": metrics.entropy(m, L), "mean_length": metrics.mean_length(L),
           "symbols_used": metrics.symbols_used(m), "accuracy": metrics.accuracy(rows["reward"])}
    c = rows["concept"]
    ids = metrics.messages_as_symbols(m, L)
    out["mi_concept"] = metrics.mutual_information(ids, c)
    out["ci_concept"] = metrics.context_independence(c, m, L)
    out["topsim"] = metrics.topsim(c, m, L, max_rows=1000, seed=1)
    out["posdis"] = metrics.posdis(m, c)
    out["bosdis"] = metrics.bosdis(m, c)
    out["ic"] = metrics.instantaneous_coordination(m, L, rows["receiver_action"])
    out["cic"] = metrics.cic(cic["p_message"], cic["p_action"])
    return out


def test_metrics_equal_emcomm_analyze(tmp_path, lewis_run):
    path = tmp_path / "run.h5"
    shutil.copy(lewis_run[0] / "run.h5", path)
    _, out, _ = cli("analyze", path, "--json", "--no-write")
    expected = json.loads(out)
    run = emcomm.open_run(path)
    for split in ("train", "val", "test"):
        got = analyze_rows(run.interactions(split, step="latest"), run.cic(split, step="latest"))
        want = expected[split]
        assert want["rows"] == run.step_rows(split)[-1][2]
        for name, v in got.items():
            w = want[name]
            if w is None or (isinstance(w, float) and math.isnan(w)):
                assert v is None or math.isnan(v), (split, name)
            else:
                assert v == pytest.approx(w, rel=1e-9, abs=1e-12), (split, name, v, w)
        assert want["sc"] is None  # the Lewis speaker takes no action: analyze leaves SC out


def test_metrics_on_hand_computed_arrays():
    # two equiprobable messages: 1 bit; a one-to-one code of a 2-valued attribute: I = 1 bit, CI = 1
    m = np.array([[1, -1], [2, -1], [1, -1], [2, -1]])
    assert metrics.entropy(m) == pytest.approx(1.0)
    a = np.array([0, 1, 0, 1])
    assert metrics.mutual_information(metrics.messages_as_symbols(m), a) == pytest.approx(1.0)
    assert metrics.context_independence(a, m) == pytest.approx(1.0)
    assert metrics.mutual_information(metrics.messages_as_symbols(m), np.array([0, 0, 1, 1])) == pytest.approx(0.0)
    # CIC: a listener that ignores the message has none; one that copies it has H(c) = 1 bit
    pm = np.full((3, 2), 0.5, np.float32)
    same = np.full((3, 2, 2), 0.5, np.float32)
    copy = np.tile(np.eye(2, dtype=np.float32), (3, 1, 1))
    assert metrics.cic(pm, same) == pytest.approx(0.0)
    assert metrics.cic(pm, copy) == pytest.approx(1.0)
    pm_nan = pm.copy()
    pm_nan[1] = np.nan
    assert metrics.cic(pm_nan, copy) == pytest.approx(1.0)
    # perfectly compositional two-attribute code: topsim 1, posdis 1
    concept = np.array([[x, y] for x in range(3) for y in range(3)])
    msg = concept + 1
    assert metrics.topsim(concept, msg) == pytest.approx(1.0)
    assert metrics.posdis(msg, concept) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="length has 2 entries for 9 messages"):
        metrics.entropy(msg, [1, 2])
    with pytest.raises(ValueError, match="variables have 3 and 2 rows"):
        metrics.mutual_information([0, 1, 2], [0, 1])
