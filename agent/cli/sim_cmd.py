"""``agent sim``: run a policy on the simulator and report totals.

The policy is built once per run (a trained policy's weights are read once, however many
episodes); per-step rows are kept only when ``--out`` asks for ``steps.csv``."""

from __future__ import annotations

import csv
import dataclasses
import json
import sys
import time
from pathlib import Path

import click

from agent.cli.common import (
    format_option,
    input_errors,
    out_option,
    resolve_scenario,
    scenario_options,
)
from agent.model.scenario import Scenario, ScheduleMode
from agent.policies.base import Policy, PolicyContext
from agent.policies.registry import check_policy, known_policies, policy_factory
from agent.sim.metrics import StepMetrics, Totals
from agent.train.rollout import RolloutResult, policy_context, run_episodes


class _PolicyOption(click.Option):
    """``--policy``: the shipped names are listed when the help is shown."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = (
            f"a baseline or shipped policy ({', '.join(known_policies())}), or the path of a "
            "policy directory (a training run directory: its best/)"
        )
        return super().get_help_record(ctx)


@click.command("sim")
@scenario_options
@click.option(
    "--policy", "policy_name", cls=_PolicyOption, default="shortest-path", metavar="NAME|PATH"
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    show_default="the scenario's",
    help="control steps per episode",
)
@click.option("--seed", type=int, show_default="the scenario's", help="seed of the first episode")
@click.option(
    "--episodes",
    type=click.IntRange(min=1),
    default=1,
    help="episodes to run; episode k uses seed SEED + k (the policy is built once, with seed SEED)",
)
@click.option(
    "--schedule",
    "schedule_mode",
    type=click.Choice([m.value for m in ScheduleMode]),
    show_default="the scenario's",
    help="how weights pick each flow's destination: coord-sim's weighted round robin, or "
    "a weighted random choice per flow (what a hashing SELECT group does)",
)
@format_option()
@out_option("write steps.csv and summary.json into this directory")
def sim_command(
    scenario: str | None,
    network: str | None,
    service: str | None,
    traffic: str | None,
    policy_name: str,
    steps: int | None,
    seed: int | None,
    episodes: int,
    schedule_mode: str | None,
    fmt: str,
    out: Path | None,
) -> None:
    """Run a policy on SCENARIO (or on coord-sim's three files) and print totals.

    SCENARIO is a scenario YAML; without it, give --network, --service and --traffic."""
    with input_errors():
        loaded = resolve_scenario(scenario, network, service, traffic)
        if schedule_mode is not None:
            loaded = dataclasses.replace(loaded, schedule_mode=ScheduleMode(schedule_mode))
        # one line, before anything runs, for unknown names, broken policy files and
        # policies trained for another network; builds nothing
        check_policy(policy_name, policy_context(loaded, loaded.seed))
        n_steps = steps or loaded.steps
        first_seed = loaded.seed if seed is None else seed
        policy = policy_factory(policy_name)(policy_context(loaded, first_seed))  # once
        started = time.perf_counter()
        result = _run(loaded, policy, episodes, n_steps, first_seed, keep_rows=out is not None)
        wall = time.perf_counter() - started
    summary = _summary(loaded, policy_name, result.totals, first_seed, wall)
    if out is not None:
        _write(out, result, summary)
    if fmt == "json":
        click.echo(json.dumps(summary))
    else:
        _print_table(summary, result.totals, steps_per_episode=n_steps)


def _run(
    scenario: Scenario, policy: Policy, episodes: int, steps: int, seed: int, keep_rows: bool
) -> RolloutResult:
    """``episodes`` episodes of the one ``policy``; per-step rows only if ``keep_rows``."""

    def same(_context: PolicyContext) -> Policy:
        return policy

    total = episodes * steps
    if not sys.stderr.isatty() or total < 50:
        return run_episodes(scenario, same, episodes, steps, seed, keep_rows=keep_rows)
    label = f"{policy.name} on {scenario.name}"
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:

        def tick(_metrics: StepMetrics) -> None:
            bar.update(1)

        return run_episodes(scenario, same, episodes, steps, seed, tick, keep_rows)


def _summary(
    scenario: Scenario, policy: str, totals: Totals, seed: int, wall: float
) -> dict[str, object]:
    return {
        "scenario": scenario.name,
        "policy": policy,
        "seed": seed,
        "schedule": scenario.schedule_mode.value,
        **totals.summary(),
        "wall_s": round(wall, 3),
        "flows_per_s": round(totals.generated / wall, 1) if wall > 0 else None,
    }


def _write(out: Path, result: RolloutResult, summary: dict[str, object]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if result.rows:
        with (out / "steps.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(result.rows[0]))
            writer.writeheader()
            writer.writerows(result.rows)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


def _print_table(summary: dict[str, object], totals: Totals, steps_per_episode: int) -> None:
    lines: list[tuple[str, object]] = [
        ("scenario", summary["scenario"]),
        ("policy", summary["policy"]),
        ("episodes x steps", f"{totals.episodes} x {steps_per_episode}"),
        ("success ratio", f"{totals.success_ratio * 100:.2f} %"),
        ("flows generated", totals.generated),
        ("successful", totals.successful),
        ("dropped", totals.dropped),
        ("in flight at end", totals.in_flight),
        *((f"  drops {reason}", count) for reason, count in totals.drops.items() if count),
        (
            "delay mean / p95 / max",
            f"{summary['delay_ms']} / {summary['delay_p95_ms']} / {summary['delay_max_ms']} ms",
        ),
        ("wall time", f"{summary['wall_s']} s ({summary['flows_per_s']} flows/s)"),
    ]
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        click.echo(f"{label:<{width}}  {value}")
