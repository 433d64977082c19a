"""Slicing scenario files: the bundled settings, the published instance, located errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.model.errors import InputError
from agent.model.slicing import load_slicing_scenario

BUNDLED = Path(__file__).resolve().parents[2] / "topologies" / "slicing"


def test_paper_setting_draws_the_published_instance() -> None:
    scenario = load_slicing_scenario(BUNDLED / "paper.yaml")
    problem = scenario.problem(12345678)
    assert [s.users for s in problem.slices] == [5, 5, 5]
    assert problem.capacity == 100 and problem.rho == 10 and problem.iterations == 10
    # the first draws of numpy.random.seed(12345679) / (12345680) / (12345681)
    assert problem.slices[0].alpha[0] == pytest.approx(0.53686317, abs=1e-8)
    assert problem.slices[2].weight[4] == pytest.approx(0.03449286, abs=1e-8)
    assert scenario.demand(problem, 0).shape == (20, 15)
    other = scenario.problem(12345679)
    assert not np.allclose(other.slices[0].alpha, problem.slices[0].alpha)


def test_three_service_demand_is_seeded_and_varies() -> None:
    scenario = load_slicing_scenario(BUNDLED / "three-service.yaml")
    problem = scenario.problem(0)
    assert [s.users for s in problem.slices] == [10, 5, 50]
    first, again = scenario.demand(problem, 3), scenario.demand(problem, 3)
    assert first.shape == (24, 65) and np.array_equal(first, again)
    assert not np.array_equal(first, scenario.demand(problem, 4))
    assert first.min() >= 0 and first.sum(1).std() > 0


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


BASE = "capacity: 100\nutility: log-demand\nslices:\n  - name: a\n    users: 2\n"


def test_unknown_key_is_located(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE + "    colour: red\n")
    with pytest.raises(InputError) as info:
        load_slicing_scenario(path)
    assert str(info.value) == f"{path}:6: slices[0].colour: unknown key"


def test_alpha_list_must_match_users(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE + "    alpha: [0.5]\n")
    with pytest.raises(InputError, match=r"slices\[0\]: alpha lists 1 values for 2 users"):
        load_slicing_scenario(path)


def test_slices_or_generate(tmp_path: Path) -> None:
    path = _write(tmp_path, "capacity: 100\n")
    with pytest.raises(InputError, match="exactly one of slices or generate"):
        load_slicing_scenario(path)


def test_floor_above_capacity_is_refused(tmp_path: Path) -> None:
    text = (
        "capacity: 10\nutility: log-demand\nslices:\n  - name: a\n    users: 2\n    qos_floor: 3\n"
    )
    with pytest.raises(InputError, match=r":6: slices\[0\].qos_floor: the floor needs"):
        load_slicing_scenario(_write(tmp_path, text))


def _trace_scenario(tmp_path: Path, rows: str) -> Path:
    (tmp_path / "d.csv").write_text("step,slice,user,demand\n" + rows)
    text = BASE + "steps: 2\ndemand:\n  kind: trace\n  trace: d.csv\n"
    return _write(tmp_path, text)


def test_demand_trace(tmp_path: Path) -> None:
    rows = "0,a,0,1\n0,a,1,2\n1,a,0,3\n1,a,1,4\n2,a,0,5\n2,a,1,6\n"
    scenario = load_slicing_scenario(_trace_scenario(tmp_path, rows))
    problem = scenario.problem(0)
    assert scenario.demand(problem, 0).tolist() == [[1, 2], [3, 4]]
    assert scenario.demand(problem, 1).tolist() == [[3, 4], [5, 6]]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("0,a,0,1\n0,b,1,2\n", r"d.csv:3: slice: unknown slice 'b'"),
        ("0,a,0,1\n0,a,5,2\n", r"d.csv:3: user: slice 'a' has users 0 to 1"),
        ("0,a,0,x\n", r"d.csv:2: step and user must be integers"),
        ("0,a,0,-1\n", r"d.csv:2: demand: must be a finite number"),
        ("0,a,0,1\n0,a,1,1\n1,a,0,1\n", r"d.csv: step 1: no demand for user column 1"),
    ],
)
def test_bad_trace_rows(tmp_path: Path, rows: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_slicing_scenario(_trace_scenario(tmp_path, rows))
