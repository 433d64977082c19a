"""``agent sim``: run a policy on the simulator and report totals."""

from __future__ import annotations

import csv
import dataclasses
import json
import sys
import time
from pathlib import Path

import click

from agent.cli.common import fail, input_errors, resolve_scenario, scenario_options
from agent.model.scenario import Scenario, ScheduleMode
from agent.policies.registry import BASELINES, make_policy
from agent.sim.metrics import StepMetrics, Totals
from agent.train.rollout import RolloutResult, policy_context, run_episodes


@click.command("sim")
@scenario_options
@click.option(
    "--policy",
    "policy_name",
    default="shortest-path",
    show_default=True,
    help=f"a baseline ({', '.join(BASELINES)}) or a shipped or trained policy (name or path)",
)
@click.option("--steps", type=click.IntRange(min=1), help="control steps per episode [scenario's]")
@click.option("--seed", type=int, help="seed of the first episode [scenario's]")
@click.option("--episodes", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--schedule",
    "schedule_mode",
    type=click.Choice([m.value for m in ScheduleMode]),
    help="how weights pick each flow's destination: coord-sim's weighted round robin, or "
    "a weighted random choice per flow (what a hashing SELECT group does) [scenario's]",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="write steps.csv and summary.json here",
)
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
    """Run POLICY on SCENARIO (or on coord-sim's three files) and print totals."""
    with input_errors():
        loaded = resolve_scenario(scenario, network, service, traffic)
        if schedule_mode is not None:
            loaded = dataclasses.replace(loaded, schedule_mode=ScheduleMode(schedule_mode))
        try:  # fails early, with one line, for unknown names and mismatched policies
            make_policy(policy_name, policy_context(loaded, loaded.seed))
        except ValueError as exc:
            fail(str(exc))
        n_steps = steps or loaded.steps
        first_seed = loaded.seed if seed is None else seed
        started = time.perf_counter()
        result = _run(loaded, policy_name, episodes, n_steps, first_seed)
        wall = time.perf_counter() - started
    summary = _summary(loaded, policy_name, result.totals, first_seed, wall)
    if out is not None:
        _write(out, result, summary)
    if fmt == "json":
        click.echo(json.dumps(summary))
    else:
        _print_table(summary, result.totals, steps_per_episode=n_steps)


def _run(scenario: Scenario, policy: str, episodes: int, steps: int, seed: int) -> RolloutResult:
    total = episodes * steps
    if not sys.stderr.isatty() or total < 50:
        return run_episodes(scenario, lambda c: make_policy(policy, c), episodes, steps, seed)
    with click.progressbar(
        length=total, label=f"{policy} on {scenario.name}", file=sys.stderr
    ) as bar:

        def tick(_metrics: StepMetrics) -> None:
            bar.update(1)

        return run_episodes(scenario, lambda c: make_policy(policy, c), episodes, steps, seed, tick)


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
