"""``agent train coordination`` and ``agent eval coordination``.

Train: a DeepCoord-style agent (DDPG, TD3 or SAC) on a scenario; the run directory
``OUT/<scenario>_<time>_seed<S>`` holds copies of every input, the resolved configuration,
checkpoints, the best policy (``best/``: safetensors + card), ``curves.csv`` and
``curves.png`` (and TensorBoard events when tensorboard is installed).

Eval: learned policies (a path or a shipped name) and baselines on the same seeds (episode k
uses seed S + k for every policy); mean and standard deviation over episodes of the success
ratio and end-to-end delay, drops by reason; ``--out`` writes CSV, a markdown table and a PNG
bar chart. ``--generalize TRAFFIC`` evaluates on another traffic configuration.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Any

import click
import torch

from agent.cli.common import fail, input_errors, resolve_scenario, scenario_options
from agent.model.scenario import Scenario
from agent.model.traffic import load_traffic
from agent.policies.base import Policy, PolicyContext
from agent.policies.coordination import (
    PolicyFileError,
    PolicyMismatchError,
    load_named,
    shipped_names,
)
from agent.policies.registry import BASELINES, make_policy
from agent.train import ddpg, sac, td3
from agent.train.coordination_common import TrainSettings, load_agent_config
from agent.train.rollout import policy_context, run_episodes

TRAINERS = {"ddpg": ddpg.train, "td3": td3.train, "sac": sac.train}


@click.command("coordination")
@scenario_options
@click.option("--agent", "agent_yaml", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--algorithm", type=click.Choice(sorted(TRAINERS)), help="[agent_type of the YAML]")
@click.option("--steps", type=click.IntRange(min=1), required=True, help="training steps")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("results"))
@click.option("--resume", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def train_coordination(
    scenario: str | None,
    network: str | None,
    service: str | None,
    traffic: str | None,
    agent_yaml: str,
    algorithm: str | None,
    steps: int,
    seed: int,
    out: Path,
    resume: Path | None,
) -> None:
    """Train a coordination policy on SCENARIO (or coord-sim's three files)."""
    with input_errors():
        loaded = resolve_scenario(scenario, network, service, traffic)
        config = load_agent_config(agent_yaml)
    name = algorithm or config.agent_type.lower()
    inputs = {"agent": Path(agent_yaml), **_scenario_inputs(scenario, network, service, traffic)}
    settings = TrainSettings(loaded, config, steps, seed, out, resume, inputs)
    show = sys.stderr.isatty()
    with click.progressbar(length=steps, label=f"{name} on {loaded.name}", file=sys.stderr) as bar:
        done = 0

        def progress(step: int, reward: float, rate: float) -> None:
            nonlocal done
            if show:
                bar.label = f"{name} on {loaded.name}: reward {reward:.1f}, {rate:.0f} steps/s"
                bar.update(step - done)
            done = step

        settings.progress = progress
        result = TRAINERS[name](settings)
    runs = sorted(out.glob(f"{loaded.name}_*_seed{seed}"))
    summary = {
        "algorithm": name,
        "scenario": loaded.name,
        "run": str(runs[-1]) if runs else None,
        "best_success_ratio": round(result.best_success, 4),
        "steps": result.steps,
        "wall_s": round(result.wall_s, 1),
        "steps_per_s": round(result.steps_per_s, 1),
    }
    click.echo(json.dumps(summary))


def _scenario_inputs(
    scenario: str | None, network: str | None, service: str | None, traffic: str | None
) -> dict[str, Path]:
    if scenario is not None:
        return {"scenario": Path(scenario)}
    named = {"network": network, "service": service, "traffic": traffic}
    return {role: Path(path) for role, path in named.items() if path is not None}


@click.command("coordination")
@scenario_options
@click.option(
    "--policy",
    "policies",
    multiple=True,
    required=True,
    help=f"a policy directory, a shipped name, or a baseline ({', '.join(BASELINES)})",
)
@click.option("--episodes", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--steps", type=click.IntRange(min=1), help="control steps per episode [scenario's]")
@click.option("--seed", type=int, help="seed of the first episode [scenario's]")
@click.option(
    "--generalize",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="evaluate on this traffic configuration instead (DeepCoord's -gs)",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path))
def eval_coordination(
    scenario: str | None,
    network: str | None,
    service: str | None,
    traffic: str | None,
    policies: tuple[str, ...],
    episodes: int,
    steps: int | None,
    seed: int | None,
    generalize: Path | None,
    fmt: str,
    out: Path | None,
) -> None:
    """Evaluate coordination policies and baselines on the same seeds."""
    torch.set_num_threads(1)
    with input_errors():
        loaded = resolve_scenario(scenario, network, service, traffic)
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
    result = run_episodes(scenario, make, episodes, steps, seed, keep_rows=False)
    ratios = [t.success_ratio for t in result.per_episode]
    delays = [sum(t.delays) / len(t.delays) if t.delays else 0.0 for t in result.per_episode]
    totals = result.totals
    return {
        "success_ratio": round(totals.success_ratio, 6),
        "success_mean": round(_mean(ratios), 6),
        "success_std": round(_std(ratios), 6),
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
        f"seeds {summary['seed']}..{summary['seed'] + summary['episodes'] - 1}"
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
    flat = {k: v for k, v in result.items() if k != "drops"}
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
