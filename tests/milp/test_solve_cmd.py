"""``agent solve``: the summary it prints, the Decision it writes, bad input as one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from agent.cli.main import cli
from agent.model.types import placement_from_schedule
from tests.conftest import TOPOLOGIES
from tests.milp.conftest import DATA, TOPOLOGIES_MILP

KEYS = {"status", "objective", "instances", "total_delay_ms", "runtime_s", "domains"}


def solve(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["solve", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_summary_of_a_centralised_solve() -> None:
    code, out, _ = solve(str(DATA / "scenario_1"), "--format", "json")
    assert code == 0
    summary = json.loads(out)
    assert set(summary) >= KEYS
    assert (summary["status"], summary["objective"], summary["instances"]) == ("optimal", 7.0, 2)
    assert summary["total_delay_ms"] == 3.0
    assert [d["name"] for d in summary["domains"]] == ["root"]


def test_hierarchy_from_a_file_and_the_decision_written(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    code, out, _ = solve(
        str(DATA / "graph_ml_scenario_2"), "--format", "json", "--out", str(out_dir)
    )
    assert code == 0
    summary = json.loads(out)
    names = [d["name"] for d in summary["domains"]]
    assert names[0] == "rootCoordinator" and "childCoordinator1" in names
    assert summary["objective"] == 26.0  # what hvc's solution of this scenario scores
    decision = json.loads((out_dir / "decision.json").read_text())
    assert decision["placement"] == {"N11": ["A", "B"]} or len(decision["placement"]) == 2
    # the schedule sends N5's traffic (the ingress) to where A runs, every row sums to 1
    row = decision["schedule"]["N5"]["chain1"]["A"]
    assert abs(sum(row.values()) - 1.0) < 1e-9
    placed = placement_from_schedule(decision["schedule"])
    assert {n: set(v) for n, v in placed.items()} == {
        n: set(v) for n, v in decision["placement"].items()
    }
    assert json.loads((out_dir / "summary.json").read_text())["status"] == "optimal"


def test_levels_build_a_kmeans_hierarchy() -> None:
    scenario = TOPOLOGIES_MILP / "janos-us-5.yaml"
    code, out, _ = solve(str(scenario), "--levels", "3", "--domains", "10,3", "--format", "json")
    assert code == 0
    summary = json.loads(out)
    assert summary["status"] == "optimal"
    assert {d["level"] for d in summary["domains"]} == {0, 1, 2}
    assert summary["runtime_s"] <= sum(d["runtime_s"] for d in summary["domains"]) + 1e-3


def test_corridor_and_first_objective_on_a_kmeans_hierarchy() -> None:
    scenario = str(TOPOLOGIES_MILP / "janos-us-5.yaml")
    args = ("--levels", "3", "--domains", "8,2", "--format", "json")
    code, out, _ = solve(scenario, *args)
    assert code == 0
    exact = json.loads(out)
    code, out, _ = solve(
        scenario, *args, "--corridor", "0,0.5", "--first-objective", "--mip-gap", "0.05"
    )
    assert code == 0
    cheap = json.loads(out)
    assert cheap["status"] in {"optimal", "time_limit"}
    assert cheap["total_delay_ms"] <= 1.1 * exact["total_delay_ms"]
    assert all(d["gap"] <= 0.05 + 1e-9 for d in cheap["domains"])
    for bad in ("-1", "0,x", "nan"):
        code, _, err = solve(scenario, "--corridor", bad)
        assert code == 2 and "--corridor" in err


def test_table_output_names_every_domain() -> None:
    code, out, _ = solve(str(DATA / "graph_ml_scenario_1"), "--advertise", "1")
    assert code == 0
    assert out.splitlines()[0].split() == ["status", "optimal"]
    assert "coordinator4 (level 1): optimal" in out


def test_the_projects_own_scenario_is_posed_as_a_milp() -> None:
    scenario = TOPOLOGIES / "scenarios" / "triangle.yaml"
    code, out, _ = solve(str(scenario), "--format", "json")
    assert code == 0
    summary = json.loads(out)
    assert summary["status"] == "optimal" and summary["instances"] >= 2


def test_bad_chain_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    folder = tmp_path / "scenario"
    shutil.copytree(DATA / "scenario_1", folder)
    (folder / "chains.yaml").write_text("chain1:\n  - !!python/object/new:os.system [id]\n")
    code, out, err = solve(str(folder))
    assert code == 2 and out == ""
    assert err.strip() == (
        f"error: {folder / 'chains.yaml'}:2: tag !!python/object/new:os.system is not allowed "
        "(the only Python tag read is !!python/tuple)"
    )


def test_hierarchy_and_levels_together_are_refused() -> None:
    code, _, err = solve(str(DATA / "scenario_1"), "--levels", "2", "--hierarchy", "h.yaml")
    assert code == 2 and err.startswith("error: give either --hierarchy or --levels")


def test_levels_on_an_overlay_problem_is_an_input_error() -> None:
    code, _, err = solve(str(DATA / "scenario_1"), "--levels", "2")
    assert code == 2
    assert "a hierarchy needs a substrate network" in err and len(err.strip().splitlines()) == 1
