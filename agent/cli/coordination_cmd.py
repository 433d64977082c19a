"""``agent train coordination`` and ``agent eval coordination``.

Train: the whole recipe on a scenario (see ``agent.train.recipe``): the warm start's
schedule search, pruning and imitation, then reinforcement learning (DDPG, TD3 or SAC), with
defaults sized for the network unless an agent YAML is given. The run directory
``OUT/<scenario>_<time>_seed<S>`` is made before anything else and holds a copy of every
input (scenario, network, service, traffic, trace, agent YAML; their SHA-256 in
``config.json`` and in the card), the resolved configuration, checkpoints, the best policy
(``best/``: safetensors + card), ``curves.csv``, ``curves.png`` and TensorBoard events
(``tensorboard/``). Progress goes to stderr phase by phase; a warning comes first when the
steps end before the actor's first update. ``--resume RUN`` continues a stopped run in its
directory, without searching again. ``--seeds 0-9`` trains every seed (as Ray tasks with
``--workers``/``--ray-address``) and keeps the best on validation episodes. Training uses
switch semantics unless told otherwise (``--schedule random``); the card records it.

Eval: learned policies (a path or a shipped name) and baselines on the same seeds (episode k
uses seed S + k for every policy); see ``agent.train.evaluate``. ``--out`` writes CSV, a
markdown table and a PNG bar chart; ``--generalize TRAFFIC`` evaluates on another traffic
configuration; ``--schedule`` picks the semantics (default: the scenario's; coord-sim's three
files mean round robin) and the JSON names it; ``episode_success`` lists each episode's
success ratio, so that two policies can be compared episode by episode.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agent.cli.common import fail, input_errors, resolve_scenario, scenario_options

if TYPE_CHECKING:  # the commands import torch and the trainers only when they run
    from agent.model.scenario import Scenario
    from agent.train.coordination_config import DeepCoordConfig
    from agent.train.recipe import SeedOutcome, TrainJob

ALGORITHMS = ("ddpg", "sac", "td3")  # agent.train.recipe.ALGORITHMS
SCHEDULES = ("random", "round-robin")  # agent.model.scenario.ScheduleMode's values
SCHEDULE_HELP = (
    "how weights pick each flow's destination: random, a weighted random choice per flow "
    "(what a switch's hashing SELECT group does), or round-robin, coord-sim's weighted "
    "round robin"
)


def workers_options(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--workers`` and ``--ray-address``: ``what`` runs as Ray tasks."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option(
            "--ray-address",
            show_default="a local Ray instance when --workers > 1",
            help=f"run the {what} on the Ray cluster at this address (HOST:PORT, or auto); "
            "every node needs the project installed and the files at the same paths",
        )(command)
        return click.option(
            "--workers",
            type=click.IntRange(min=1),
            show_default="1 (here, one after the other); with --ray-address, no cap",
            help=f"{what} run in parallel as Ray tasks (results as with one worker); "
            "without Ray installed they run here with a note",
        )(command)

    return decorate


def _workers(workers: int | None, address: str | None) -> int:
    if workers is not None:
        return workers
    return 1_000_000 if address else 1


@click.command("coordination")
@scenario_options
@click.option(
    "--agent",
    "agent_yaml",
    type=click.Path(exists=True, dir_okay=False),
    show_default="the recipe's, sized for the network (agent.train.recipe)",
    help="agent configuration YAML: DeepCoord's agent keys plus ours "
    "(topologies/policies/coordination/agent-ddpg-switch.yaml is the shipped policies' one)",
)
@click.option(
    "--algorithm",
    type=click.Choice(ALGORITHMS),
    show_default="the YAML's agent_type",
    help="trainer; a YAML key it does not read is an error",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    show_default="4000; resumed: the run's",
    help="reinforcement-learning steps (control steps), after the warm start "
    "(pretrain_* keys), which takes its own time; resumed: the total, counting those done",
)
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the run")
@click.option(
    "--seeds",
    show_default="--seed alone",
    help="train several seeds (0-9, 1,4,7) and keep the best on validation episodes",
)
@click.option(
    "--select-episodes",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="with --seeds: validation episodes that choose the best seed",
)
@click.option(
    "--schedule",
    "schedule_mode",
    type=click.Choice(SCHEDULES),
    default="random",
    show_default=True,
    help=SCHEDULE_HELP + "; the policy is trained for it and its card records it",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results"),
    show_default=True,
    help="where the run directory OUT/<scenario>_<time>_seed<S> is made",
)
@click.option(
    "--resume",
    type=click.Path(exists=True, path_type=Path),
    show_default="start afresh",
    help="continue a stopped run: its directory (continued in place with its own "
    "configuration; no second search) or one of its checkpoints/step<N>.pt (a new run)",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    show_default="1; for one run with a layer of 262,144+ weights, 2 where 2 cores are idle",
    help="torch threads of each run's learner (the card records them; the same seed and "
    "threads give the same run)",
)
@workers_options("seeds")
def train_coordination(
    scenario: str | None,
    network: str | None,
    service: str | None,
    traffic: str | None,
    agent_yaml: str | None,
    algorithm: str | None,
    steps: int | None,
    seed: int,
    seeds: str | None,
    select_episodes: int,
    schedule_mode: str,
    out: Path,
    resume: Path | None,
    threads: int | None,
    workers: int | None,
    ray_address: str | None,
) -> None:
    """Train a coordination policy on SCENARIO (or coord-sim's three files).

    Progress goes to stderr, phase by phase (warm-start search, pruning, imitation,
    training, saving) with the best score so far and an ETA: a redrawn line on a terminal,
    plain lines otherwise. The last line on stdout is a JSON summary; its wall_s is the
    whole command's wall time, phase_s each phase's."""
    began = time.perf_counter()
    from agent.train.evaluate import with_schedule

    with input_errors():
        loaded = with_schedule(resolve_scenario(scenario, network, service, traffic), schedule_mode)
        config, default_steps, record = _configuration(loaded, agent_yaml, resume)
        loaded = with_schedule(loaded, record.get("schedule"))  # a resumed run keeps its own
        name = algorithm or record.get("algorithm") or config.agent_type.lower()
        if agent_yaml is not None or algorithm is not None:
            _check_keys(config, name)
    seed = int(record.get("seed", seed)) if record else seed
    inputs = _scenario_files(loaded) | ({"agent": Path(agent_yaml)} if agent_yaml else {})
    chosen = _seeds(seeds, seed, resume)
    warning = _budget_warning(config, name, steps or default_steps, resume)
    jobs = _jobs(loaded, config, name, steps or default_steps, chosen, inputs, out, resume)
    threads = job_threads(threads, len(jobs))
    jobs = [
        dataclasses.replace(j, select_episodes=select_episodes if seeds else 0, threads=threads)
        for j in jobs
    ]
    if len(jobs) == 1:
        outcome = _train_one(jobs[0])
        summary = _outcome_summary(name, loaded, outcome)
    else:
        summary = _train_many(name, loaded, jobs, out, _workers(workers, ray_address), ray_address)
    summary["wall_s"] = round(time.perf_counter() - began, 1)
    click.echo(json.dumps(summary | ({"warning": warning} if warning else {})))


def job_threads(threads: int | None, jobs: int) -> int | None:
    """Each run's torch threads: ``--threads``; else one for each of several seeds (a core
    each side by side, and the same runs one after the other: the thread count changes a
    run's arithmetic in the last bits); else None, the trainer's choice for one run
    (``agent.train.learner.learner_threads``)."""
    if threads is not None:
        return threads
    return 1 if jobs > 1 else None


def _configuration(
    scenario: Scenario, agent_yaml: str | None, resume: Path | None
) -> tuple[DeepCoordConfig, int, dict[str, Any]]:
    """The agent configuration, the default steps and (resuming a run directory) its
    record: the run's own, the YAML's or the recipe's for the network."""
    from agent.train.coordination_config import config_of_run, load_deepcoord_config
    from agent.train.recipe import DEFAULT_STEPS, default_config

    if resume is not None and resume.is_dir():
        config, record = config_of_run(resume)
        return config, int(record.get("steps", DEFAULT_STEPS)), record
    if agent_yaml is not None:
        return load_deepcoord_config(agent_yaml), DEFAULT_STEPS, {}
    config, steps = default_config(scenario)
    return config, steps, {}


def _check_keys(config: DeepCoordConfig, algorithm: str) -> None:
    from agent.train.coordination_config import check_algorithm_keys

    check_algorithm_keys(config, algorithm)


def _budget_warning(
    config: DeepCoordConfig, algorithm: str, steps: int, resume: Path | None
) -> str | None:
    """Said first (and kept in the summary) when the steps end before the actor learns."""
    from agent.train.coordination_config import budget_warning
    from agent.train.resume import resumed_step

    with input_errors():
        start = 0 if resume is None else resumed_step(resume)
    warning = budget_warning(config, algorithm, steps, start)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    return warning


def _seeds(seeds: str | None, seed: int, resume: Path | None) -> list[int]:
    from agent.train.recipe import parse_seeds

    try:
        chosen = parse_seeds(seeds) if seeds else [seed]
    except ValueError as exc:
        fail(f"--seeds: {exc}")
    if resume is not None and len(chosen) > 1:
        fail("--resume continues one run: give --seed, not --seeds")
    return chosen


def _jobs(
    scenario: Scenario,
    config: DeepCoordConfig,
    algorithm: str,
    steps: int,
    seeds: list[int],
    inputs: dict[str, Path],
    out: Path,
    resume: Path | None,
) -> list[TrainJob]:
    """One job per seed, its run directory made now (the resumed run's, for a directory)."""
    from agent.train.coordination_config import make_run_directory
    from agent.train.coordination_config import resolved_config as resolved
    from agent.train.recipe import TrainJob

    tty = sys.stderr.isatty() and len(seeds) == 1
    jobs = []
    for s in seeds:
        record = resolved(config, steps, s) | {"algorithm": algorithm}
        record["schedule"] = scenario.schedule_mode.value
        if resume is not None and resume.is_dir():
            run = resume
        else:
            run = make_run_directory(out, scenario.name, s, inputs, record)
        mode = scenario.schedule_mode.value
        click.echo(
            f"{algorithm} on {scenario.name} ({mode} schedule): run directory {run}", err=True
        )
        prefix = f"seed {s}: " if len(seeds) > 1 else ""
        job = TrainJob(scenario, config, algorithm, steps, s, run, inputs, resume, tty, prefix)
        jobs.append(job)
    return jobs


def _scenario_files(scenario: Scenario) -> dict[str, Path]:
    from agent.train.coordination_config import scenario_inputs

    return scenario_inputs(scenario)


def _train_one(job: TrainJob) -> SeedOutcome:
    from agent.train.recipe import run_job

    with input_errors():
        return run_job(job)


def _outcome_summary(algorithm: str, scenario: Scenario, outcome: SeedOutcome) -> dict[str, Any]:
    """The closing line of one run: ``phase_s`` each phase's wall time, ``steps_per_s`` the
    reinforcement-learning loop's (``wall_s``, the whole command's, is added last)."""
    return {
        "algorithm": algorithm,
        "scenario": scenario.name,
        "schedule": scenario.schedule_mode.value,
        "run": outcome.run,
        "best_success_ratio": round(outcome.best_success, 4),
        "steps": outcome.steps,
        "phase_s": outcome.phase_s,
        "steps_per_s": outcome.steps_per_s,
    }


def _train_many(
    algorithm: str,
    scenario: Scenario,
    jobs: list[TrainJob],
    out: Path,
    workers: int,
    address: str | None,
) -> dict[str, Any]:
    """Every seed's run, then the best of them (``best-of-seeds/best``)."""
    from agent.train.recipe import keep_best, train_seeds

    with input_errors():
        outcomes = train_seeds(jobs, workers, address, _note)
    directory, winner = keep_best(out, scenario.name, outcomes)
    runs = [
        {
            "seed": o.seed,
            "run": o.run,
            "best_success_ratio": round(o.best_success, 4),
            "select_success_ratio": o.select_success,
            "total_wall_s": o.total_wall_s,
        }
        for o in outcomes
    ]
    summary = _outcome_summary(algorithm, scenario, winner)
    summary |= {"best_seed": winner.seed, "best": str(directory / "best")}
    summary |= {"select_episodes": jobs[0].select_episodes, "seeds": runs}
    (directory / "seeds.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


class _PolicyOption(click.Option):
    """``--policy``: the known names are looked up when the help is shown, not at import."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from agent.policies.registry import known_policies

        self.help = (
            "a policy directory, a shipped policy or a baseline "
            f"({', '.join(known_policies())}), static-search (the scenario's best static "
            "schedule, searched on training seeds and cached) or mask-down:POLICY (POLICY "
            "never sending traffic to a node seen down); repeatable: one row per policy"
        )
        return super().get_help_record(ctx)


@click.command("coordination")
@scenario_options
@click.option(
    "--policy", "policies", cls=_PolicyOption, multiple=True, required=True, show_default=True
)
@click.option(
    "--episodes",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="episodes per policy; episode k uses seed SEED + k for every policy",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    show_default="the scenario's steps",
    help="control steps per episode",
)
@click.option(
    "--seed",
    type=int,
    show_default="the scenario's seed",
    help="seed of the first episode",
)
@click.option(
    "--schedule",
    "schedule_mode",
    type=click.Choice(SCHEDULES),
    show_default="the scenario's: a scenario file's schedule_mode (the bundled ones say "
    "random), round-robin for coord-sim's three files",
    help=SCHEDULE_HELP,
)
@click.option(
    "--generalize",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    show_default="the scenario's traffic",
    help="evaluate on this traffic configuration instead (DeepCoord's -gs)",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="what stdout shows: a markdown table or JSON",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    show_default="no files",
    help="write coordination_eval.{csv,md,json,png} into this directory",
)
@workers_options("episodes")
def eval_coordination(
    scenario: str | None,
    network: str | None,
    service: str | None,
    traffic: str | None,
    policies: tuple[str, ...],
    episodes: int,
    steps: int | None,
    seed: int | None,
    schedule_mode: str | None,
    generalize: Path | None,
    fmt: str,
    out: Path | None,
    workers: int | None,
    ray_address: str | None,
) -> None:
    """Evaluate coordination policies and baselines on the same seeds.

    Progress goes to stderr (episodes done, ETA); with --workers the episodes run as Ray
    tasks, with the same results as one worker."""
    from agent.model.traffic import load_traffic
    from agent.train.evaluate import (
        EvalPlan,
        evaluate,
        markdown_table,
        with_schedule,
        write_outputs,
    )
    from agent.train.progress import ProgressPrinter

    with input_errors():
        loaded = with_schedule(resolve_scenario(scenario, network, service, traffic), schedule_mode)
        if generalize is not None:
            loaded = dataclasses.replace(loaded, traffic=load_traffic(generalize))
        first = loaded.seed if seed is None else seed
        plan = EvalPlan(loaded, policies, episodes, steps or loaded.steps, first)
        plan = dataclasses.replace(plan, generalize=str(generalize) if generalize else None)
        printer = ProgressPrinter(sys.stderr, sys.stderr.isatty())
        summary = evaluate(plan, _workers(workers, ray_address), printer, ray_address, _note)
    if out is not None:
        write_outputs(out, summary)
    click.echo(json.dumps(summary) if fmt == "json" else markdown_table(summary))


def _note(line: str) -> None:
    click.echo(line, err=True)
