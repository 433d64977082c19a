"""A training run's directory: every input copied and hashed, TensorBoard events beside the
curves, and ``--resume`` continuing where the run stopped without searching again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.cli.main import cli
from agent.policies.coordination.card import load_card
from agent.train import recipe
from agent.train.recipe import default_config, parse_seeds
from agent.train.resume import latest_checkpoint
from tests.conftest import DEEPCOORD, TOPOLOGIES
from tests.envs.test_coordination import abilene

TRIANGLE = TOPOLOGIES / "scenarios" / "triangle.yaml"
TRACE_TRAFFIC = (
    DEEPCOORD
    / "config"
    / "simulator"
    / "rand-arrival10_det-size001_duration100_trace_0_100_inall_chrate2_scale00005.yaml"
)


def warm_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "warm.yaml"
    path.write_text(
        "episode_steps: 20\neval_every: 20\neval_episodes: 1\nnb_steps_warmup_critic: 10\n"
        "nb_steps_warmup_actor: 10\nbatch_size: 8\npretrain_search_iterations: 2\n"
        "pretrain_search_population: 4\npretrain_search_steps: 10\npretrain_bc_steps: 20\n"
    )
    return path


def train(*args: str, out: Path | None = None) -> tuple[dict[str, object], list[str]]:
    where = ["--out", str(out)] if out is not None else []
    result = CliRunner().invoke(cli, ["train", "coordination", *args, *where])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr.splitlines()


def phases(err: list[str]) -> set[str]:
    return {line.split(":")[0] for line in err if "done in" in line}


def test_every_input_is_copied_and_its_sha256_is_in_config_and_card(tmp_path: Path) -> None:
    scenario = tmp_path / "trace.yaml"
    net = DEEPCOORD / "networks" / "abilene" / "abilene-in1-rand-cap0-2.graphml"
    scenario.write_text(
        f"network: {net}\nservice: {DEEPCOORD / 'service_functions' / 'abc.yaml'}\n"
        f"traffic: {TRACE_TRAFFIC}\nsteps: 20\n"
    )
    agent = warm_yaml(tmp_path)
    summary, _ = train(
        str(scenario), "--agent", str(agent), "--steps", "20", "--out", str(tmp_path)
    )
    run = Path(str(summary["run"]))
    copies = {p.name.split("-")[0]: p for p in (run / "inputs").iterdir()}
    assert set(copies) == {"scenario", "network", "service", "traffic", "trace", "agent"}
    config = json.loads((run / "config.json").read_text())
    card = load_card(run / "best" / "card.json")
    assert card.scenario is not None
    for role, copy in copies.items():
        digest = hashlib.sha256(copy.read_bytes()).hexdigest()
        assert config["inputs"][role]["sha256"] == digest
        assert card.scenario.inputs[role] == digest
    assert copies["trace"].read_bytes().startswith(b"time,node,inter_arrival_mean")


def test_resume_continues_in_the_run_without_searching_again(tmp_path: Path) -> None:
    agent = warm_yaml(tmp_path)
    first, err = train(
        str(TRIANGLE), "--agent", str(agent), "--steps", "40", "--out", str(tmp_path)
    )
    assert {"warm-start search", "warm-start imitation", "training"} <= phases(err)
    run = Path(str(first["run"]))
    assert latest_checkpoint(run) == run / "checkpoints" / "step40.pt"
    second, err = train(str(TRIANGLE), "--resume", str(run), "--steps", "80")
    assert second["run"] == str(run) and second["steps"] == 80
    assert phases(err) == {"training", "saving"}  # no search, no imitation
    training = [line for line in err if line.startswith("training:")]
    assert training[0].startswith("training: 0/40")
    steps = [int(float(row.split(",")[0])) for row in (run / "curves.csv").read_text().split()[1:]]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == 80
    assert latest_checkpoint(run) == run / "checkpoints" / "step80.pt"
    card = load_card(run / "best" / "card.json")
    assert card.training.steps == 80
    assert card.training.warm_start_teacher_success == pytest.approx(first_teacher(run), abs=1e-9)


def first_teacher(run: Path) -> float:
    import torch

    return float(torch.load(run / "checkpoints" / "teacher.pt", weights_only=True)["score"])


def test_a_run_stopped_after_its_search_imitates_without_searching(tmp_path: Path) -> None:
    agent = warm_yaml(tmp_path)
    first, _ = train(str(TRIANGLE), "--agent", str(agent), "--steps", "20", out=tmp_path)
    run = Path(str(first["run"]))
    for checkpoint in (run / "checkpoints").glob("step*.pt"):
        checkpoint.unlink()  # as if stopped during the imitation
    _, err = train(str(TRIANGLE), "--resume", str(run))
    assert phases(err) == {"warm-start imitation", "training", "saving"}


def test_tensorboard_events_are_written_and_readable(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    agent = warm_yaml(tmp_path)
    summary, _ = train(
        str(TRIANGLE), "--agent", str(agent), "--steps", "60", "--out", str(tmp_path)
    )
    run = Path(str(summary["run"]))
    assert (run / "curves.csv").is_file() and (run / "curves.png").is_file()
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    assert {"success_ratio", "episode_reward"} <= set(events.Tags()["scalars"])
    ratio = events.Scalars("success_ratio")
    assert [e.step for e in ratio] == [0, 20, 40, 60]
    assert all(0.0 <= e.value <= 1.0 for e in ratio)


def test_the_run_directory_exists_before_training_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    real = recipe.run_job

    def spy(job: recipe.TrainJob) -> recipe.SeedOutcome:
        assert job.run_dir is not None
        seen.append((job.run_dir / "config.json").is_file() and (job.run_dir / "inputs").is_dir())
        return real(job)

    monkeypatch.setattr(recipe, "run_job", spy)
    train(
        str(TRIANGLE), "--agent", str(warm_yaml(tmp_path)), "--steps", "5", "--out", str(tmp_path)
    )
    assert seen == [True]


def test_defaults_grow_with_the_network() -> None:
    small, steps = default_config(abilene(1))
    assert steps == 4000 and small.actor_hidden_layer_nodes == [64]
    assert small.pretrain_search_iterations == 50 and small.bc_weight == 0.5
    assert small.nb_steps_warmup_actor < steps  # the fine-tuning does update the actor


def test_seed_ranges() -> None:
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("1,4,7") == [1, 4, 7]
    assert parse_seeds("0-1,5") == [0, 1, 5]
    for bad, problem in (("a", "not a seed"), ("5-2", "ends before"), ("1,1", "twice")):
        with pytest.raises(ValueError, match=problem):
            parse_seeds(bad)
