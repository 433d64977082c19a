"""``agent train coordination`` and ``agent eval coordination``.

Train: a DeepCoord-style agent (DDPG, TD3 or SAC) on a scenario; the run directory
``OUT/<scenario>_<time>_seed<S>`` holds copies of every input, the resolved configuration,
checkpoints, the best policy (``best/``: safetensors + card), ``curves.csv`` and
``curves.png`` (and TensorBoard events when tensorboard is installed). The directory is made
before anything else; progress goes to stderr phase by phase, and a warning comes first when
``--steps`` ends before the actor's first update (the saved policy would be the warm start).
Training uses switch semantics unless told otherwise (``--schedule random``: each flow picks
its destination by weighted random choice, as a hashing SELECT group does); the card records
the semantics.

Eval: learned policies (a path or a shipped name) and baselines on the same seeds (episode k
uses seed S + k for every policy); mean and standard deviation over episodes of the success
ratio and end-to-end delay, drops by reason; ``--out`` writes CSV, a markdown table and a PNG
bar chart. ``--generalize TRAFFIC`` evaluates on another traffic configuration.
``--schedule`` picks the semantics (default: the scenario's; coord-sim's three files mean
round robin) and the JSON names it; ``episode_success`` lists each episode's success ratio,
so that two policies can be compared episode by episode.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agent.cli.common import fail, input_errors, resolve_scenario, scenario_options

if TYPE_CHECKING:  # the commands import torch and the trainers only when they run
    from agent.model.scenario import Scenario
    from agent.policies.base import Policy, PolicyContext
    from agent.train.coordination_common import TrainResult, TrainSettings

ALGORITHMS = ("ddpg", "sac", "td3")
SCHEDULES = ("random", "round-robin")  # agent.model.scenario.ScheduleMode's values
SCHEDULE_HELP = (
    "how weights pick each flow's destination: random, a weighted random choice per flow "
    "(what a switch's hashing SELECT group does), or round-robin, coord-sim's weighted "
    "round robin"
)


def _trainer(name: str) -> Callable[[TrainSettings], TrainResult]:
    from agent.train import ddpg, sac, td3

    trainers = {"ddpg": ddpg.train, "sac": sac.train, "td3": td3.train}
    return trainers[name]


@click.command("coordination")
@scenario_options
@click.option(
    "--agent",
    "agent_yaml",
    required=True,
    show_default=True,
    type=click.Path(exists=True, dir_okay=False),
    help="agent configuration YAML: DeepCoord's agent keys plus ours "
    "(topologies/policies/coordination/agent-ddpg-switch.yaml is the shipped policies' one)",
)
@click.option(
    "--algorithm",
    type=click.Choice(ALGORITHMS),
    show_default="the YAML's agent_type",
    help="trainer",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    required=True,
    show_default=True,
    help="reinforcement-learning steps (control steps), after the warm start "
    "(pretrain_* keys of the YAML), which takes its own time",
)
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the run")
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
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    show_default="start afresh",
    help="continue from this checkpoint (a run's checkpoints/step<N>.pt); "
    "--steps is then the total, counting the checkpoint's steps",
)
def train_coordination(
    scenario: str | None,
    network: str | None,
    service: str | None,
    traffic: str | None,
    agent_yaml: str,
    algorithm: str | None,
    steps: int,
    seed: int,
    schedule_mode: str,
    out: Path,
    resume: Path | None,
) -> None:
    """Train a coordination policy on SCENARIO (or coord-sim's three files).

    Progress goes to stderr, phase by phase (warm-start search, warm-start imitation,
    training, saving): a redrawn line on a terminal, plain lines otherwise. The last line on
    stdout is a JSON summary; its wall_s is the whole command's wall time, phase_s each
    phase's."""
    began = time.perf_counter()
    from agent.train.coordination_config import (
        budget_warning,
        load_deepcoord_config,
        make_run_directory,
        resolved_config,
    )

    with input_errors():
        loaded = with_schedule(resolve_scenario(scenario, network, service, traffic), schedule_mode)
        config = load_deepcoord_config(agent_yaml)
    name = algorithm or config.agent_type.lower()
    warning = None if resume else budget_warning(config, name, steps)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    inputs = {"agent": Path(agent_yaml), **_scenario_inputs(scenario, network, service, traffic)}
    # the run directory first, before torch loads: it is there while the run prepares
    resolved = resolved_config(config, steps, seed) | {"schedule": loaded.schedule_mode.value}
    run = make_run_directory(out, loaded.name, seed, inputs, resolved)
    click.echo(
        f"{name} on {loaded.name} ({loaded.schedule_mode.value} schedule): run directory {run}",
        err=True,
    )
    from agent.train.coordination_common import TrainSettings
    from agent.train.progress import ProgressPrinter

    settings = TrainSettings(loaded, config, steps, seed, out, resume, inputs, run_dir=run)
    settings.progress = ProgressPrinter(sys.stderr, sys.stderr.isatty())
    result = _trainer(name)(settings)
    summary = _train_summary(name, loaded, run, result, time.perf_counter() - began)
    click.echo(json.dumps(summary | ({"warning": warning} if warning else {})))


def _train_summary(
    algorithm: str, scenario: Scenario, run: Path, result: TrainResult, wall: float
) -> dict[str, Any]:
    """The closing line: ``wall_s`` is the whole command's, ``phase_s`` each phase's,
    ``steps_per_s`` the reinforcement-learning loop's."""
    return {
        "algorithm": algorithm,
        "scenario": scenario.name,
        "schedule": scenario.schedule_mode.value,
        "run": str(run),
        "best_success_ratio": round(result.best_success, 4),
        "steps": result.steps,
        "wall_s": round(wall, 1),
        "phase_s": {phase: round(t, 1) for phase, t in result.phase_s.items()},
        "steps_per_s": round(result.steps_per_s, 1),
    }


def with_schedule(scenario: Scenario, mode: str | None) -> Scenario:
    """``scenario`` with its schedule semantics set to ``mode`` (None: as it is)."""
    from agent.model.scenario import ScheduleMode

    if mode is None:
        return scenario
    return dataclasses.replace(scenario, schedule_mode=ScheduleMode(mode))


def _scenario_inputs(
    scenario: str | None, network: str | None, service: str | None, traffic: str | None
) -> dict[str, Path]:
    if scenario is not None:
        return {"scenario": Path(scenario)}
    named = {"network": network, "service": service, "traffic": traffic}
    return {role: Path(path) for role, path in named.items() if path is not None}


class _PolicyOption(click.Option):
    """``--policy``: the known names are looked up when the help is shown, not at import."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from agent.policies.registry import known_policies

        self.help = (
            "a policy directory, a shipped policy or a baseline "
            f"({', '.join(known_policies())}); repeatable: one row per policy"
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
) -> None:
    """Evaluate coordination policies and baselines on the same seeds."""
    import torch

    from agent.model.traffic import load_traffic

    torch.set_num_threads(1)
    with input_errors():
        loaded = with_schedule(resolve_scenario(scenario, network, service, traffic), schedule_mode)
        if generalize is not None:
            loaded = dataclasses.replace(loaded, traffic=load_traffic(generalize))
        first = loaded.seed if seed is None else seed
        n_steps = steps or loaded.steps
        factories = {name: _factory(name, loaded, first) for name in dict.fromkeys(policies)}
        results = {
            name: _evaluate(loaded, make, episodes, n_steps, first)
            for name, make in factories.items()
        }
    summary: dict[str, Any] = {
        "scenario": loaded.name,
        "episodes": episodes,
        "steps": n_steps,
        "seed": first,
        "schedule": loaded.schedule_mode.value,
        "generalize": str(generalize) if generalize else None,
        "policies": results,
    }
    if out is not None:
        _write(out, summary)
    if fmt == "json":
        click.echo(json.dumps(summary))
    else:
        click.echo(markdown_table(summary))


def _factory(name: str, scenario: Scenario, seed: int) -> Any:
    from agent.policies.coordination import (
        PolicyFileError,
        PolicyMismatchError,
        load_named,
        shipped_names,
    )
    from agent.policies.registry import BASELINES, make_policy
    from agent.train.rollout import policy_context

    if name in BASELINES:
        return lambda c: make_policy(name, c)
    context = policy_context(scenario, seed)
    try:
        policy = load_named(name, context)
    except (PolicyFileError, PolicyMismatchError) as exc:
        known = ", ".join([*BASELINES, *shipped_names()])
        fail(f"policy {name!r}: {exc}" + ("" if Path(name).exists() else f" (known: {known})"))

    def make(_context: PolicyContext) -> Policy:
        return policy

    return make


def _evaluate(
    scenario: Scenario, make: Any, episodes: int, steps: int, seed: int
) -> dict[str, Any]:
    from agent.train.rollout import run_episodes

    result = run_episodes(scenario, make, episodes, steps, seed, keep_rows=False)
    ratios = [t.success_ratio for t in result.per_episode]
    delays = [sum(t.delays) / len(t.delays) if t.delays else 0.0 for t in result.per_episode]
    totals = result.totals
    return {
        "success_ratio": round(totals.success_ratio, 6),
        "success_mean": round(_mean(ratios), 6),
        "success_std": round(_std(ratios), 6),
        "episode_success": [round(r, 6) for r in ratios],  # episode k: seed SEED + k
        "delay_ms": round(sum(totals.delays) / len(totals.delays), 4) if totals.delays else 0.0,
        "delay_std_ms": round(_std(delays), 4),
        "generated": totals.generated,
        "successful": totals.successful,
        "dropped": totals.dropped,
        "drops": dict(totals.drops),
    }


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0


def _std(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = _mean(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def markdown_table(summary: dict[str, Any]) -> str:
    lines = [
        f"{summary['scenario']}: {summary['episodes']} episodes x {summary['steps']} steps, "
        f"seeds {summary['seed']}..{summary['seed'] + summary['episodes'] - 1}, "
        f"{summary['schedule']} schedule"
        + (f", traffic {summary['generalize']}" if summary["generalize"] else ""),
        "",
        "| policy | success ratio | std | delay (ms) | std | drops by reason |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in summary["policies"].items():
        drops = ", ".join(f"{k} {v}" for k, v in r["drops"].items() if v) or "none"
        lines.append(
            f"| {name} | {r['success_ratio'] * 100:.2f} % | {r['success_std'] * 100:.2f} | "
            f"{r['delay_ms']:.2f} | {r['delay_std_ms']:.2f} | {drops} |"
        )
    return "\n".join(lines)


def _write(out: Path, summary: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = [{"policy": name, **_flat(r)} for name, r in summary["policies"].items()]
    with (out / "coordination_eval.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "coordination_eval.md").write_text(markdown_table(summary) + "\n")
    (out / "coordination_eval.json").write_text(json.dumps(summary, indent=2) + "\n")
    _plot(out / "coordination_eval.png", summary)


def _flat(result: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in result.items() if k not in ("drops", "episode_success")}
    flat.update({f"drop_{k.lower()}": v for k, v in result["drops"].items()})
    return flat


def _plot(path: Path, summary: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary["policies"])
    means = [summary["policies"][n]["success_mean"] * 100 for n in names]
    stds = [summary["policies"][n]["success_std"] * 100 for n in names]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.4 * len(names)), 3.5))
    labels = [n if len(n) <= 24 else "..." + n[-21:] for n in names]
    ax.bar(labels, means, yerr=stds, capsize=4)
    ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    ax.set_ylabel("success ratio (%)")
    ax.set_ylim(0, 100)
    ax.set_title(summary["scenario"])
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
