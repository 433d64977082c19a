"""Seeds and evaluation episodes as Ray tasks give what the serial runs give. One local Ray
instance (2 CPUs) serves the whole module: Ray starts slowly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.cli.main import cli
from agent.train.coordination_config import (
    DeepCoordConfig,
    make_run_directory,
    resolved_config,
    scenario_inputs,
)
from agent.train.evaluate import EvalPlan, evaluate
from agent.train.recipe import TrainJob, best_of, train_seeds
from tests.conftest import TOPOLOGIES
from tests.envs.test_coordination import abilene

ray = pytest.importorskip("ray")
TRIANGLE = TOPOLOGIES / "scenarios" / "triangle.yaml"


@pytest.fixture(scope="module", autouse=True)
def ray_session() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def tiny_config() -> DeepCoordConfig:
    return DeepCoordConfig.model_validate(
        {
            "episode_steps": 20,
            "eval_every": 30,
            "eval_episodes": 1,
            "nb_steps_warmup_critic": 10,
            "nb_steps_warmup_actor": 10,
            "batch_size": 8,
            "pretrain_search_iterations": 2,
            "pretrain_search_population": 4,
            "pretrain_search_steps": 10,
            "pretrain_bc_steps": 20,
        }
    )


def jobs(out: Path) -> list[TrainJob]:
    scenario, config = abilene(1), tiny_config()
    made = []
    for seed in (0, 1):
        record = resolved_config(config, 30, seed)
        run = make_run_directory(out / f"s{seed}", scenario.name, seed, {}, record)
        made.append(TrainJob(scenario, config, "ddpg", 30, seed, run, select_episodes=2))
    return made


def test_seeds_on_ray_equal_the_serial_run(tmp_path: Path) -> None:
    serial = train_seeds(jobs(tmp_path / "serial"), 1, None)
    parallel = train_seeds(jobs(tmp_path / "ray"), 2, None)
    assert [o.seed for o in parallel] == [0, 1]
    for a, b in zip(serial, parallel, strict=True):
        assert (a.best_success, a.select_success) == (b.best_success, b.select_success)
        weights = [Path(o.run) / "best" / "actor.safetensors" for o in (a, b)]
        assert weights[0].read_bytes() == weights[1].read_bytes()
    assert best_of(serial).seed == best_of(parallel).seed
    assert ray.is_initialized()  # the module's session was reused, not shut down


def test_evaluation_episodes_on_ray_equal_the_serial_run() -> None:
    plan = EvalPlan(abilene(2), ("random", "greedy"), 5, 20, 40)
    assert evaluate(plan, workers=2) == evaluate(plan)


def test_the_command_trains_seeds_and_keeps_the_best(tmp_path: Path) -> None:
    agent = tmp_path / "agent.yaml"
    agent.write_text(json.dumps(tiny_config().model_dump(exclude_unset=True)))
    args = ["train", "coordination", str(TRIANGLE), "--agent", str(agent), "--steps", "30"]
    args += ["--seeds", "0-1", "--workers", "2", "--select-episodes", "2", "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert [s["seed"] for s in summary["seeds"]] == [0, 1]
    scores = {s["seed"]: s["select_success_ratio"] for s in summary["seeds"]}
    assert scores[summary["best_seed"]] == max(scores.values())
    best = Path(summary["best"])
    assert (best / "card.json").is_file() and (best.parent / "seeds.json").is_file()
    made = [line for line in result.stderr.splitlines() if "run directory" in line]
    assert len(made) == 2 and all(Path(line.split()[-1]).is_dir() for line in made)
    copied = {p.name.split("-")[0] for p in (Path(made[1].split()[-1]) / "inputs").iterdir()}
    assert copied == {*scenario_inputs(abilene(1)), "scenario", "agent"}
