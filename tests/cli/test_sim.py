"""``agent sim``: totals, JSON keys, per-step CSV, the coord-sim file triple."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agent.cli.main import cli
from agent.train.rollout import RolloutResult
from tests.conftest import DEEPCOORD, TOPOLOGIES

TRIPLE = [
    "--network",
    str(DEEPCOORD / "networks/abilene/abilene-in3-rand-cap0-2.graphml"),
    "--service",
    str(DEEPCOORD / "service_functions/abc.yaml"),
    "--traffic",
    str(DEEPCOORD / "config/simulator/det-arrival10_det-size001_duration100.yaml"),
]


def test_json_output_has_the_documented_keys_and_matches_coord_sim(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["sim", *TRIPLE, "--steps", "100", "--format", "json", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert {"success_ratio", "generated", "successful", "dropped", "drops", "delay_ms"} <= set(
        summary
    )
    # deterministic arrivals: coord-sim's shortest path serves 2 of 3 ingress nodes
    assert abs(summary["success_ratio"] - 2 / 3) < 0.005
    assert summary["generated"] == 3000
    assert set(k for k, v in summary["drops"].items() if v) == {"NODE_CAP"}
    rows = list(csv.DictReader((tmp_path / "steps.csv").read_text().splitlines()))
    assert len(rows) == 100
    assert sum(int(r["generated"]) for r in rows) == summary["generated"]
    assert (
        json.loads((tmp_path / "summary.json").read_text())["successful"] == summary["successful"]
    )


def test_episodes_use_consecutive_seeds_and_add_up() -> None:
    args = ["sim", str(TOPOLOGIES / "scenarios/triangle.yaml"), "--format", "json", "--seed", "3"]
    one = json.loads(CliRunner().invoke(cli, [*args, "--episodes", "1"]).output)
    two = json.loads(CliRunner().invoke(cli, [*args, "--episodes", "2"]).output)
    other = json.loads(CliRunner().invoke(cli, [*args[:-1], "4", "--episodes", "1"]).output)
    assert two["episodes"] == 2
    assert two["generated"] == one["generated"] + other["generated"]


def test_table_output_and_unknown_policy() -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli, ["sim", str(TOPOLOGIES / "scenarios/triangle.yaml"), "--policy", "greedy"]
    )
    assert result.exit_code == 0
    assert "success ratio" in result.output and "greedy" in result.output
    bad = runner.invoke(
        cli, ["sim", str(TOPOLOGIES / "scenarios/triangle.yaml"), "--policy", "oracle"]
    )
    assert bad.exit_code == 2
    assert "unknown policy 'oracle'" in bad.output


def test_scenario_and_triple_are_exclusive() -> None:
    result = CliRunner().invoke(cli, ["sim", str(TOPOLOGIES / "scenarios/triangle.yaml"), *TRIPLE])
    assert result.exit_code == 2
    assert "not both" in result.output


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("agent, version ")


def test_schedule_option_switches_round_robin_to_a_random_choice_per_flow() -> None:
    args = ["sim", str(TOPOLOGIES / "scenarios/abilene-in1.yaml"), "--policy", "load-balance"]
    args += ["--steps", "30", "--format", "json"]
    runs = {
        mode: json.loads(CliRunner().invoke(cli, [*args, "--schedule", mode]).output)
        for mode in ("round-robin", "random")
    }
    assert [runs[m]["schedule"] for m in runs] == ["round-robin", "random"]
    # same arrivals, different destinations: the outcome differs
    assert runs["round-robin"]["generated"] == runs["random"]["generated"]
    assert runs["round-robin"]["successful"] != runs["random"]["successful"]
    bad = CliRunner().invoke(cli, [*args, "--schedule", "hash"])
    assert bad.exit_code == 2 and "'hash' is not one of" in bad.output


def test_the_bundled_failure_scenario_shows_failure_drops() -> None:
    """Its failed node and link carry traffic under the bundled policies."""
    scenario = str(TOPOLOGIES / "scenarios/abilene-in3-degraded.yaml")
    for policy in ("shortest-path", "abilene-in3-rand-cap0-2"):
        result = CliRunner().invoke(cli, ["sim", scenario, "--policy", policy, "--format", "json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["drops"]["FAILURE"] > 0, policy


def test_a_trained_policy_is_built_once_and_rows_are_kept_only_for_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.cli import sim_cmd
    from agent.policies.coordination import policy as coordination_policy
    from agent.train import rollout

    builds: list[object] = []
    results: list[RolloutResult] = []
    load, run = coordination_policy.load_policy, rollout.run_episodes

    def counted(*args: Any, **kwargs: Any) -> Any:
        builds.append(args[0])
        return load(*args, **kwargs)

    def recorded(*args: Any, **kwargs: Any) -> RolloutResult:
        results.append(run(*args, **kwargs))
        return results[-1]

    monkeypatch.setattr(coordination_policy, "load_policy", counted)
    monkeypatch.setattr(sim_cmd, "run_episodes", recorded)
    args = ["sim", str(TOPOLOGIES / "scenarios/abilene-in1.yaml")]
    args += ["--policy", "abilene-in1-rand-cap0-2", "--episodes", "3", "--steps", "20"]
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["episodes"] == 3
    assert len(builds) == 1  # not once per episode
    assert len(results[-1].per_episode) == 3 and results[-1].rows == []  # no --out: no rows
    written = CliRunner().invoke(cli, [*args, "--format", "json", "--out", str(tmp_path)])
    assert written.exit_code == 0, written.output
    assert len(builds) == 2 and len(results[-1].rows) == 60
    assert len(list(csv.DictReader((tmp_path / "steps.csv").read_text().splitlines()))) == 60
