"""``agent eval slicing`` and ``agent train slicing`` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from agent.cli.main import cli


def test_eval_prints_the_methods_as_json(tmp_path: Path) -> None:
    args = ["eval", "slicing", "paper", "--method", "static", "--method", "admm-opt"]
    args += ["--episodes", "2", "--seed", "12345678", "--format", "json", "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    methods = json.loads(result.output)["methods"]
    assert set(methods) == {"static", "admm-opt"}
    keys = {"utility", "ratio_to_opt", "qos_satisfaction", "raw_violation", "decision_ms"}
    assert keys <= set(methods["static"])
    assert methods["admm-opt"]["ratio_to_opt"] == 1.0
    assert methods["static"]["utility"] < methods["admm-opt"]["utility"]
    for name in ("summary.json", "episodes.csv", "summary.md", "utility.png"):
        assert (tmp_path / name).is_file()


def test_bad_scenario_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("capacity: -1\nslices: []\n")
    result = CliRunner().invoke(cli, ["eval", "slicing", str(bad)])
    assert result.exit_code == 2
    assert result.output.strip().startswith(f"error: {bad}:1: capacity:")


def test_missing_policy_is_one_line(tmp_path: Path) -> None:
    args = ["eval", "slicing", "paper", "--method", "admm-drl", "--policy", str(tmp_path / "none")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "no slicing slave policy" in result.output


def test_train_writes_a_run_directory(tmp_path: Path) -> None:
    args = ["train", "slicing", "paper", "--steps", "20", "--envs", "2", "--eval-every", "20"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "policy" / "card.json").is_file()
    assert (tmp_path / "run" / "config.json").is_file()


def test_train_maddpg_and_compare_it(tmp_path: Path) -> None:
    args = ["train", "slicing", "paper", "--algorithm", "maddpg", "--steps", "12", "--envs", "1"]
    result = CliRunner().invoke(cli, [*args, "--eval-every", "12", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    policy = json.loads(result.output.splitlines()[-1])["policy"]
    args = ["eval", "slicing", "paper", "--method", "admm-opt", "--method", "maddpg-admm"]
    args += ["--maddpg-policy", policy, "--episodes", "1", "--format", "json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["methods"]["maddpg-admm"]["ratio_to_opt"] > 0
