"""The one-command recipe of ``agent train coordination``: defaults for the network's size,
one run per seed (serially or as Ray tasks, see ``parallel``), the best of the seeds.

Without an agent YAML the recipe is the shipped policies' one (cross-entropy schedule
search scored under the scenario's semantics, pruning, imitation, DDPG fine-tuning with
TD3+BC; ``topologies/policies/coordination/agent-ddpg-switch.yaml``), sized for the network
by ``default_config``: larger networks get a wider actor and critic, a larger search
population, fewer search iterations and episodes per candidate (each one costs more), and
more imitation steps.

With several seeds every run trains on its own and its best policy is then scored on the
same ``select_episodes`` validation episodes (seeds ``SELECT_SEED`` on, used by no search,
training evaluation or test); the best score wins (the lower seed on a tie), as DeepCoord
keeps the best of its seeds. A run is a function of its job alone, so the runs, their
scores and the choice are the same whether they ran one after the other or in parallel.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.model.scenario import Scenario
from agent.train.coordination_config import DeepCoordConfig

SELECT_SEED = 2_000_000  # validation episodes of the best-of-seeds choice
ALGORITHMS = ("ddpg", "sac", "td3")


@dataclass(frozen=True)
class Size:
    """The recipe's size-dependent settings."""

    max_nodes: int
    hidden: int
    iterations: int
    population: int
    search_episodes: int
    prune_rounds: int
    bc_steps: int


SIZES = (
    Size(15, 64, 50, 24, 3, 3, 1_000),  # Abilene (11 nodes): the shipped policies' recipe
    Size(45, 128, 30, 32, 2, 2, 1_500),  # BT Europe (24), China Telecom (42)
    Size(10**9, 256, 20, 32, 1, 1, 2_000),  # TiNet (53), Interroute (110)
)
DEFAULT_STEPS = 4_000


def default_config(scenario: Scenario) -> tuple[DeepCoordConfig, int]:
    """The recipe's agent configuration for ``scenario``'s network, and its steps."""
    nodes = len(scenario.network.nodes)
    size = next(s for s in SIZES if nodes <= s.max_nodes)
    config = DeepCoordConfig.model_validate(
        {
            "episode_steps": 200,
            "actor_hidden_layer_nodes": [size.hidden],
            "critic_hidden_layer_nodes": [size.hidden],
            "rand_sigma": 0.05,
            "nb_steps_warmup_critic": 200,
            "nb_steps_warmup_actor": DEFAULT_STEPS // 2,
            "target_model_update": 0.001,
            "learning_rate": 0.0001,
            "learning_rate_decay": 0.0,
            "eval_every": 1_000,
            "eval_episodes": 5,
            "pretrain_search_iterations": size.iterations,
            "pretrain_search_population": size.population,
            "pretrain_search_steps": 100,
            "pretrain_search_episodes": size.search_episodes,
            "pretrain_prune_rounds": size.prune_rounds,
            "pretrain_prune_episodes": 8,
            "pretrain_bc_steps": size.bc_steps,
            "actor_learning_rate": 0.0003,
            "bc_weight": 0.5,
        }
    )
    return config.located(f"the recipe's defaults for {nodes} nodes", {}), DEFAULT_STEPS


def parse_seeds(text: str) -> list[int]:
    """``0-9``, ``1,4,7`` or ``3`` (and mixes: ``0-2,8``); ValueError saying what is
    wrong."""
    seeds: list[int] = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            first, last = int(low), int(high) if dash else int(low)
        except ValueError:
            raise ValueError(f"{part.strip()!r} is not a seed or a range like 0-9") from None
        if last < first:
            raise ValueError(f"range {part.strip()!r} ends before it starts")
        seeds.extend(range(first, last + 1))
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"{text!r} names a seed twice")
    return seeds


@dataclass(frozen=True)
class TrainJob:
    """One training run, complete: what a Ray task gets."""

    scenario: Scenario
    config: DeepCoordConfig
    algorithm: str
    steps: int
    seed: int
    run_dir: Path | None
    inputs: dict[str, Path] = field(default_factory=dict)
    resume: Path | None = None
    tty: bool = False  # progress redrawn on one line (a terminal) or plain lines
    prefix: str = ""  # before each progress line (``seed 3: `` with several seeds)
    select_episodes: int = 0  # 0: no selection score
    threads: int | None = None  # torch threads; None: the trainer's choice (learner_threads)


@dataclass(frozen=True)
class SeedOutcome:
    seed: int
    run: str
    best_success: float  # the training's own evaluation
    select_success: float | None  # on the selection episodes
    steps: int
    total_wall_s: float
    phase_s: dict[str, float]
    steps_per_s: float


def run_job(job: TrainJob) -> SeedOutcome:
    """Train ``job`` (a Ray task, or called here) and score its policy for selection."""
    from agent.train import ddpg, sac, td3
    from agent.train.coordination_common import TrainSettings
    from agent.train.progress import ProgressPrinter

    trainers = {"ddpg": ddpg.train, "sac": sac.train, "td3": td3.train}
    settings = TrainSettings(job.scenario, job.config, job.steps, job.seed, run_dir=job.run_dir)
    settings.out, settings.resume, settings.inputs = job.run_dir, job.resume, dict(job.inputs)
    settings.threads = job.threads
    settings.progress = ProgressPrinter(sys.stderr, job.tty, prefix=job.prefix)
    result = trainers[job.algorithm](settings)
    chosen = None
    if job.select_episodes and job.run_dir is not None:
        chosen = select_score(job.scenario, job.run_dir / "best", job.select_episodes)
    return SeedOutcome(
        job.seed,
        str(job.run_dir),
        result.best_success,
        chosen,
        result.steps,
        round(result.total_wall_s, 1),
        {k: round(v, 1) for k, v in result.phase_s.items()},
        round(result.steps_per_s, 1),
    )


def select_score(scenario: Scenario, policy: Path, episodes: int) -> float:
    """Success ratio of ``policy`` over the selection episodes."""
    from agent.train.evaluate import EvalPlan, run_chunk, summarise

    plan = EvalPlan(scenario, (str(policy),), episodes, scenario.steps, SELECT_SEED)
    ratio: float = summarise(run_chunk(plan, str(policy), 0, episodes))["success_ratio"]
    return ratio


def best_of(outcomes: list[SeedOutcome]) -> SeedOutcome:
    """The outcome with the best selection score (else training score); lower seed on a
    tie."""

    def key(o: SeedOutcome) -> tuple[float, int]:
        value = o.select_success if o.select_success is not None else o.best_success
        return (-value, o.seed)

    return min(outcomes, key=key)


def train_seeds(
    jobs: list[TrainJob], workers: int, address: str | None, note: Any = None
) -> list[SeedOutcome]:
    """Every job, serially or as Ray tasks; outcomes in the jobs' order."""
    from agent.train.parallel import run_tasks

    return run_tasks(run_job, [(job,) for job in jobs], workers, address, None, note)


def keep_best(out: Path, name: str, outcomes: list[SeedOutcome]) -> tuple[Path, SeedOutcome]:
    """``OUT/<scenario>_<time>_best-of-seeds/best``: a copy of the winner's policy."""
    winner = best_of(outcomes)
    target = out / f"{name}_{time.strftime('%Y%m%d-%H%M%S')}_best-of-seeds"
    shutil.copytree(Path(winner.run) / "best", target / "best", dirs_exist_ok=True)
    return target, winner
