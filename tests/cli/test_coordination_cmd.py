"""``agent train coordination`` / ``agent eval coordination`` through the agent command."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from agent.cli.main import cli
from tests.conftest import DEEPCOORD

SIM = DEEPCOORD / "config" / "simulator"


def files(ingress: int) -> list[str]:
    net = DEEPCOORD / "networks" / "abilene" / f"abilene-in{ingress}-rand-cap0-2.graphml"
    return [
        "--network",
        str(net),
        "--service",
        str(DEEPCOORD / "service_functions" / "abc.yaml"),
        "--traffic",
        str(SIM / "rand-arrival10_det-size001_duration100.yaml"),
    ]


def agent_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(
        "agent_type: TD3\nepisode_steps: 40\neval_every: 80\neval_episodes: 1\n"
        "nb_steps_warmup_critic: 20\nnb_steps_warmup_actor: 20\nbatch_size: 16\n"
    )
    return path


def test_train_then_eval_against_baselines(tmp_path: Path) -> None:
    out = tmp_path / "results"
    args = ["train", "coordination", *files(1), "--agent", str(agent_yaml(tmp_path))]
    result = CliRunner().invoke(cli, [*args, "--steps", "80", "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["algorithm"] == "td3"
    run = Path(summary["run"])
    assert run.name.startswith("abilene-in1-rand-cap0-2_") and run.name.endswith("_seed3")
    assert len(list((run / "inputs").iterdir())) == 4
    policy = str(run / "best")
    args = ["eval", "coordination", *files(1), "--policy", policy, "--policy", "shortest-path"]
    opts = ["--episodes", "2", "--steps", "20", "--format", "json", "--out", str(tmp_path / "ev")]
    result = CliRunner().invoke(cli, [*args, *opts])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report["policies"]) == {policy, "shortest-path"}
    for entry in report["policies"].values():
        assert 0 <= entry["success_ratio"] <= 1 and entry["delay_ms"] >= 0
        assert "NODE_CAP" in entry["drops"]
    written = {p.name for p in (tmp_path / "ev").iterdir()}
    assert {"coordination_eval.csv", "coordination_eval.md", "coordination_eval.png"} <= written
    # --generalize: another traffic file, same network
    gen = ["--generalize", str(SIM / "rand-mmp-arrival12-8_det-size001_dur100.yaml")]
    result = CliRunner().invoke(cli, [*args, "--episodes", "1", "--steps", "10", *gen])
    assert result.exit_code == 0, result.output
    assert "| shortest-path |" in result.output and "rand-mmp" in result.output
    # resume from the last checkpoint
    checkpoint = sorted((run / "checkpoints").iterdir())[-1]
    args = ["train", "coordination", *files(1), "--agent", str(agent_yaml(tmp_path))]
    more = ["--steps", "120", "--out", str(out), "--resume", str(checkpoint)]
    result = CliRunner().invoke(cli, [*args, *more])
    assert result.exit_code == 0, result.output


def test_eval_refuses_a_policy_for_another_topology(tmp_path: Path) -> None:
    out = tmp_path / "results"
    args = ["train", "coordination", *files(2), "--agent", str(agent_yaml(tmp_path))]
    result = CliRunner().invoke(cli, [*args, "--steps", "40", "--out", str(out)])
    assert result.exit_code == 0, result.output
    policy = str(Path(json.loads(result.output.strip().splitlines()[-1])["run"]) / "best")
    args = ["eval", "coordination", *files(3), "--policy", policy, "--episodes", "1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "trained for network 'abilene-in2-rand-cap0-2'" in result.output
    assert "ingress" in result.output


def test_unknown_policy_and_bad_agent_yaml(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["eval", "coordination", *files(1), "--policy", "nope"])
    assert result.exit_code == 2 and "no coordination policy named 'nope'" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("objective: 'only-flow'\nlearning_rat: 0.1\n")
    args = ["train", "coordination", *files(1), "--agent", str(bad), "--steps", "5"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "learning_rat" in result.output
