"""``agent train recovery`` / ``agent eval recovery`` through the agent command."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.cli.main import cli

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_eval_json_csv_markdown_and_plot(tmp_path: Path) -> None:
    args = ["eval", "recovery", "--graphs", "gnp:9-10", "--instances", "2", "--seed", "5"]
    result = CliRunner().invoke(
        cli, [*args, "--mode", "adversarial", "--format", "json", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert set(summary["methods"]) == {"deeppr", "deeppr-greedy", "ratio", "random"}
    for stats in summary["methods"].values():
        assert 0 < stats["min_ratio"] <= stats["mean_ratio"] <= 1.0 + 1e-9
    assert summary["reference"] == "dp-opt" and summary["instances"] == 4
    rows = list(csv.DictReader((tmp_path / "instances.csv").read_text().splitlines()))
    assert [r["seed"] for r in rows] == ["5", "6", "5", "6"]
    assert "| deeppr |" in (tmp_path / "recovery.md").read_text()
    assert (tmp_path / "ratios.png").stat().st_size > 1000


def test_eval_without_dp_uses_the_best_method_as_reference() -> None:
    args = [
        "eval",
        "recovery",
        "--graphs",
        "zoo:BtNorthAmerica",
        "--instances",
        "1",
        "--methods",
        "ratio,random",
        "--format",
        "json",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["reference"] == "best"
    assert max(s["min_ratio"] for s in summary["methods"].values()) == 1.0


def test_input_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    for extra in (
        ["--graphs", "gnp:x"],
        ["--graphs", "zoo:Nowhere"],
        ["--methods", "magic"],
        ["--policy", str(tmp_path)],
    ):
        result = runner.invoke(cli, ["eval", "recovery", "--instances", "1", *extra])
        assert result.exit_code == 2, (extra, result.output)
        assert result.output.startswith("error: ") and result.output.count("\n") == 1


def test_train_then_evaluate_the_trained_policy(tmp_path: Path) -> None:
    out = tmp_path / "policy"
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "recovery",
            "--graphs",
            "gnp:8",
            "--episodes",
            "5",
            "--out",
            str(out),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["episodes"] == 5
    assert {p.name for p in out.iterdir()} == {"card.json", "model.safetensors"}
    result = CliRunner().invoke(
        cli,
        [
            "eval",
            "recovery",
            "--graphs",
            "gnp:8",
            "--instances",
            "1",
            "--policy",
            str(out),
            "--methods",
            "deeppr,ratio",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "| deeppr |" in result.output


def test_broken_deeppr_policies_are_one_line(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[2] / "topologies/policies/deeppr"
    broken = tmp_path / "deeppr"
    shutil.copytree(shipped, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8])
    card = json.loads((shipped / "card.json").read_text())
    card["hidden"] = "64"
    typo = tmp_path / "typo"
    shutil.copytree(shipped, typo)
    (typo / "card.json").write_text(json.dumps(card))
    cases = {
        str(tmp_path / "nowhere"): "DeepPR policy directory not found",
        str(broken): "model.safetensors: file holds",
        str(typo): "card.json:1: hidden: Input should be a valid integer",
    }
    for policy, fragment in cases.items():
        result = CliRunner().invoke(
            cli, ["eval", "recovery", "--instances", "1", "--graphs", "gnp:6", "--policy", policy]
        )
        assert result.exit_code == 2, (policy, result.output)
        assert result.output.count("\n") == 1 and result.output.startswith("error: ")
        assert fragment in result.output, result.output


def test_trained_weights_are_readable_like_the_card(tmp_path: Path) -> None:
    before = os.umask(0o022)
    try:
        result = CliRunner().invoke(
            cli,
            ["train", "recovery", "--graphs", "gnp:6", "--episodes", "2", "--out", str(tmp_path)],
        )
    finally:
        os.umask(before)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "model.safetensors").stat().st_mode & 0o777 == 0o644
