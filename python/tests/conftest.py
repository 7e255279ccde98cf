"""Fixtures of the emcomm pytest suite: the CLI binary and one small trained Lewis run, written
by emcomm.train in-process (module scope: trained once for the files that use it)."""
import os
import pathlib
import subprocess

import pytest

emcomm = pytest.importorskip("emcomm", reason="the emcomm module is not on PYTHONPATH (build/python)")

SOURCE = pathlib.Path(os.environ.get("EMCOMM_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BIN = pathlib.Path(os.environ.get("EMCOMM_BIN", SOURCE / "build" / "experiments" / "emcomm"))

# 4 x 3 objects, messages of up to 3 symbols over 6 (EOS = 0), CIC probes at every evaluation.
LEWIS_INI = """[run]
seed = 3
[env]
name = lewis
attributes = 3
values = 4
mode = reconstruction
split = random
[agents]
vocab_size = 6
max_len = 3
eos = true
hidden = 64
relaxation = gumbel
[train]
algorithm = selfplay
steps = 300
batch_size = 32
lr = 0.01
eval_every = 100
[eval]
size = 0
log_rows = 100
[metrics]
cic_every = 1
cic_rows = 8
"""


def cli(*args, check=True):
    """Runs the emcomm binary; returns (exit code, stdout, stderr)."""
    p = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"emcomm {' '.join(map(str, args))} exited {p.returncode}: {p.stderr}")
    return p.returncode, p.stdout, p.stderr


def cli_error(*args):
    """The CLI's message for a bad input: its stderr without 'emcomm: error: ', exit code 2."""
    code, _, err = cli(*args, check=False)
    assert code == 2, f"expected exit code 2, got {code}: {err}"
    assert err.startswith("emcomm: error: "), err
    return err[len("emcomm: error: "):].rstrip("\n")


@pytest.fixture(scope="session")
def lewis_ini(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "lewis_small.ini"
    path.write_text(LEWIS_INI)
    return path


@pytest.fixture(scope="session")
def lewis_run(tmp_path_factory, lewis_ini):
    """(run_dir, summary) of the small Lewis run trained in-process."""
    out = tmp_path_factory.mktemp("runs") / "lewis"
    summary = emcomm.train(lewis_ini, {"run.out": out})
    return out, summary
