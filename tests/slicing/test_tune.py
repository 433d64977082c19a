"""``agent tune slicing``: an Optuna study in the run directory, resumed, its best
parameters written as a training YAML that ``agent train slicing --config`` reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from agent.cli.main import cli
from agent.model.errors import InputError
from agent.train.slicing_tune import load_training_yaml


def test_tune_resumes_and_writes_the_best_parameters(tmp_path: Path) -> None:
    run = tmp_path / "tune"
    base = ["tune", "slicing", "paper", "--steps", "4", "--envs", "2", "--eval-episodes", "1"]
    base += ["--out", str(run)]
    first = CliRunner().invoke(cli, [*base, "--trials", "2"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output.splitlines()[-1])["trials"] == 2
    again = CliRunner().invoke(cli, [*base, "--trials", "3"])
    assert again.exit_code == 0, again.output
    assert again.output.count("trial ") == 1  # only the missing one ran
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert best["trials"] == 3 and (run / "study.db").is_file()
    args = load_training_yaml(run / "best.yaml")
    assert args.actor_lr == best["args"]["actor_lr"] and args.steps == 4
    out = tmp_path / "train"
    train = ["train", "slicing", "paper", "--config", str(run / "best.yaml"), "--steps", "3"]
    result = CliRunner().invoke(cli, [*train, "--envs", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    used = json.loads((out / "config.json").read_text())["args"]
    assert used["steps"] == 3 and used["sigma"] == best["args"]["sigma"]


def test_unknown_training_key_is_located(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("algorithm: ddpg\nargs:\n  steps: 10\n  learning_rate: 1\n")
    with pytest.raises(InputError) as info:
        load_training_yaml(path)
    assert str(info.value) == f"{path}:4: args.learning_rate: unknown key"
