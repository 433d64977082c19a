"""The simulator's compiled core (``flows`` and ``fastpath`` through Cython, see
``setup.py``) gives what its source gives, is what an install runs, and is never used
once its source has changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import agent.sim
from tests.conftest import TOPOLOGIES

SIM = [
    sys.executable,
    "-c",
    "from agent.cli.main import main; main()",
    "sim",
    str(TOPOLOGIES / "scenarios" / "abilene-in3.yaml"),
    "--episodes",
    "2",
    "--steps",
    "60",
    "--seed",
    "7",
    "--format",
    "json",
]
TIMINGS = {"wall_s", "flows_per_s"}


def run_sim(policy: list[str], pure: bool) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "AGENT_SIM_PURE"}
    if pure:
        env["AGENT_SIM_PURE"] = "1"
    code = "import agent.sim as s; print(s.compiled())"
    probe = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert probe.stdout.strip() == str(not pure), probe.stderr
    out = subprocess.run([*SIM, *policy], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    summary: dict[str, object] = json.loads(out.stdout)
    return {k: v for k, v in summary.items() if k not in TIMINGS}


def test_the_install_compiled_the_core() -> None:
    assert agent.sim.compiled(), (
        "agent/sim/flows.py and fastpath.py were not compiled: `pip install -e .` needs "
        "Cython (a build requirement) and a C compiler; see its warnings"
    )


@pytest.mark.parametrize(
    "policy",
    [["--policy", "load-balance"], ["--policy", "abilene-in3-rand-cap0-2", "--schedule", "random"]],
)
def test_compiled_and_source_give_the_same_run(policy: list[str]) -> None:
    compiled, source = run_sim(policy, pure=False), run_sim(policy, pure=True)
    assert compiled == source
    assert compiled["generated"] and compiled["successful"]  # a run that did something


def test_a_compiled_file_older_than_its_source_is_stale(tmp_path: Path) -> None:
    for name in ("flows", "fastpath"):
        (tmp_path / f"{name}.py").write_text("")
        (tmp_path / f"{name}.cpython-311-x86_64-linux-gnu.so").write_text("")
    assert agent.sim._stale(tmp_path) == []
    later = time.time() + 60
    os.utime(tmp_path / "fastpath.py", (later, later))
    assert agent.sim._stale(tmp_path) == ["fastpath"]
    (tmp_path / "flows.cpython-311-x86_64-linux-gnu.so").unlink()  # none built: not stale
    os.utime(tmp_path / "flows.py", (later, later))
    assert agent.sim._stale(tmp_path) == ["fastpath"]
