"""The bindings-vs-C++ stepping comparison: python -m emcomm.bench and emcomm bench --vs-bindings
report both rates (the figure itself is measured and recorded in docs/PERFORMANCE.md)."""
import json
import subprocess
import sys

import pytest

from conftest import cli, cli_error


@pytest.mark.parametrize("env", ["particle", "matrix"])
def test_python_bench_reports_both_loops(env):
    p = subprocess.run([sys.executable, "-m", "emcomm.bench", "--json", "--env", env, "--batch", "64",
                        "--seconds", "0.05", "--rounds", "2"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["env"] == env and r["batch"] == 64 and r["rounds"] == 2
    for k in ("python_steps_per_s", "cpp_steps_per_s", "python_steps_per_cpu_s", "cpp_steps_per_cpu_s"):
        assert r[k] > 0, k
    assert r["ratio"] == pytest.approx(r["python_steps_per_s"] / r["cpp_steps_per_s"])
    assert r["cpu_ratio"] == pytest.approx(r["python_steps_per_cpu_s"] / r["cpp_steps_per_cpu_s"])


def test_emcomm_bench_vs_bindings_reports_both():
    _, out, _ = cli("bench", "--json", "--only", "particle_env_step", "--seconds", "0.05", "--vs-bindings")
    b = json.loads(out)["bindings"]
    assert set(b) == {"particle", "matrix"}
    for r in b.values():
        assert r["batch"] == 1024 and r["python_steps_per_s"] > 0 and r["cpp_steps_per_s"] > 0
        assert r["ratio"] == pytest.approx(r["python_steps_per_s"] / r["cpp_steps_per_s"], rel=1e-6)
    _, text, _ = cli("bench", "--only", "particle_env_step", "--seconds", "0.05", "--vs-bindings")
    assert "through the Python bindings vs the same C++ loop" in text and "matrix" in text
    assert "--vs-bindings" in cli_error("bench", "--vs-binding")
