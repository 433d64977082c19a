"""``agent train deployment`` and ``agent eval deployment``: SFC deployment (MADDPG-SD).

``eval deployment`` runs every policy on the same request sequences: episode k of each
load uses seed S + k. With several ``--requests`` it sweeps the load and, with ``--out``,
draws the paper's three figures. ``--offline`` adds the ratio to the MILP optimum.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from agent.cli.common import fail, format_option, input_errors, out_option
from agent.model.deployment import DeploymentScenario, load_deployment

ALGORITHMS = click.Choice(["maddpg", "dqn", "ddpg", "pg"])


def _scenario(path: str) -> DeploymentScenario:
    with input_errors():
        return load_deployment(path)


@contextmanager
def _quiet_stdout() -> Iterator[None]:
    """HiGHS prints a banner on stdout from C++: keep it out of the JSON."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


@click.command("deployment")
@click.argument("scenario")
@click.option(
    "--policy",
    "policies",
    multiple=True,
    required=True,
    help="first-fit, least-loaded, latency-greedy, maddpg, dqn, ddpg, pg "
    "(shipped) or a policy directory; repeat to compare",
)
@click.option(
    "--requests",
    "loads",
    multiple=True,
    type=click.IntRange(1, 100_000),
    help="requests per episode; repeat to sweep",
    show_default="the scenario's",
)
@click.option(
    "--arrivals-per-period",
    "arrivals",
    type=click.FloatRange(min=0.0, min_open=True, max=1e6),
    default=None,
    help="Poisson arrival rate of the generated requests",
    show_default="the scenario's",
)
@click.option("--episodes", type=click.IntRange(min=1), default=100, help="episodes per load")
@click.option("--seed", type=int, default=1, help="episode k uses requests drawn with seed S + k")
@click.option(
    "--offline",
    type=click.IntRange(min=0),
    default=0,
    help="also compare with the MILP optimum on this many instances (small ones)",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0.1),
    default=60.0,
    help="seconds HiGHS may spend on one offline instance",
)
@format_option()
@out_option("write summary.json and acceptance/latency_ms/cost.png here")
def eval_deployment(
    scenario: str,
    policies: tuple[str, ...],
    loads: tuple[int, ...],
    arrivals: float | None,
    episodes: int,
    seed: int,
    offline: int,
    time_limit: float,
    fmt: str,
    out: Path | None,
) -> None:
    """Evaluate deployment policies and baselines on the same request sequences."""
    import torch

    from agent.policies.deployment.registry import make_deployment_policy
    from agent.train.deployment_eval import evaluate, offline_ratios, plot_sweep

    torch.set_num_threads(1)
    loaded = _scenario(scenario)
    if arrivals is not None:
        loaded = loaded.with_arrivals(arrivals)
    with input_errors():
        chosen = {p: make_deployment_policy(p, loaded.substrate.n) for p in policies}
    sizes = sorted(set(loads)) or [loaded.requests.count]
    sweep = {n: evaluate(loaded, chosen, n, episodes, seed) for n in sizes}
    summary: dict[str, Any] = {"scenario": loaded.name, "episodes": episodes, "seed": seed}
    summary["arrivals_per_period"] = loaded.requests.arrivals_per_period
    summary["policies"] = sweep[sizes[-1]]
    summary["requests"] = sizes[-1]
    if len(sizes) > 1:
        summary["sweep"] = {str(n): {"policies": sweep[n]} for n in sizes}
    if offline:
        with _quiet_stdout():
            summary["offline"] = offline_ratios(
                loaded, chosen, sizes[-1], offline, seed, time_limit
            )
    if out is not None:
        plot_sweep(out, sweep, f"{loaded.name}, {episodes} episodes per load")
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    click.echo(json.dumps(summary) if fmt == "json" else _table(summary, sweep))


def _table(summary: dict[str, Any], sweep: dict[int, dict[str, dict[str, float]]]) -> str:
    lines = ["| requests | policy | acceptance | latency (ms) | cost |", "|---|---|---|---|---|"]
    for n, results in sweep.items():
        for name, r in results.items():
            share = f"{r['acceptance'] * 100:.2f} %"
            lines.append(f"| {n} | {name} | {share} | {r['latency_ms']} | {r['cost']} |")
    if "offline" in summary:
        off = summary["offline"]
        solved, total = off["solved_optimally"], len(off["instances"])
        lines.append(
            f"\noffline optimum: {solved} of {total} instances proven optimal, mean gap "
            f"{off['mean_gap_requests']} requests, {off['mean_seconds']} s per instance"
        )
        for name, low in off["mean_ratio"].items():
            high = off["mean_ratio_to_best_found"][name]
            lines.append(
                f"share of the offline optimum: {name} {low * 100:.1f} % to {high * 100:.1f} %"
            )
    return "\n".join(lines)


@click.command("deployment")
@click.argument("scenario")
@click.option("--algorithm", type=ALGORITHMS, default="maddpg", help="what to train")
@click.option(
    "--requests", type=click.IntRange(min=1), default=20_000, help="training requests in total"
)
@click.option("--seed", type=int, default=0, help="seed of the training run")
@click.option("--threads", type=click.IntRange(min=1), default=1, help="torch threads")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="a training setting (gamma=0.9, actor_lr=1e-4, batch=128, ...); repeat",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="policy directory to write (card.json and model.safetensors)",
)
def train_deployment(
    scenario: str,
    algorithm: str,
    requests: int,
    seed: int,
    threads: int,
    settings: tuple[str, ...],
    out: Path,
) -> None:
    """Train a deployment policy (MADDPG-SD, DQN, DDPG or PG) on SCENARIO and save it."""
    import torch

    from agent.policies.deployment.learned import save_policy
    from agent.train.deployment_baselines import BaselineArgs
    from agent.train.deployment_baselines import train as train_baseline
    from agent.train.deployment_maddpg import MaddpgArgs, train

    torch.set_num_threads(threads)
    loaded = _scenario(scenario)
    kind: type[Any] = MaddpgArgs if algorithm == "maddpg" else BaselineArgs
    chosen = _settings(kind, settings)
    if algorithm == "maddpg":
        args: Any = MaddpgArgs(loaded, requests=requests, seed=seed, **chosen)
        result: Any = train(args)
    else:
        args = BaselineArgs(loaded, algorithm=algorithm, requests=requests, seed=seed, **chosen)  # type: ignore[arg-type]
        result = train_baseline(args)
    if not result.acceptance:
        fail("no training episode finished")
    extra = " ".join(f"--set {item}" for item in settings)
    card = {
        "name": algorithm,
        "scenario": loaded.name,
        "trained_with": f"agent train deployment {scenario} --algorithm {algorithm} "
        f"--requests {requests} --seed {seed}" + (f" {extra}" if extra else ""),
        "settings": _public(args),
        "training_seconds": round(result.seconds, 1),
        "kept_checkpoint_at_requests": result.best_at,
        "validation": [list(item) for item in result.validation],
    }
    save_policy(result.net, out, card)
    click.echo(json.dumps({k: v for k, v in card.items() if k != "validation"} | {"out": str(out)}))


FIXED = {"scenario", "algorithm", "requests", "seed"}


def _settings(kind: type[Any], items: tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as the trainer's settings, typed like their defaults."""
    fields = {f.name: f.default for f in dataclasses.fields(kind) if f.name not in FIXED}
    chosen: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or key not in fields:
            fail(f"--set {item}: expected KEY=VALUE, KEY one of {', '.join(fields)}")
        try:
            chosen[key] = _typed(fields[key], text)
        except ValueError:
            fail(f"--set {item}: {text!r} is not a {type(fields[key]).__name__}")
    return chosen


def _typed(default: Any, text: str) -> Any:
    if isinstance(default, bool):
        if text.lower() not in {"true", "false"}:
            raise ValueError(text)
        return text.lower() == "true"
    if isinstance(default, tuple):
        return tuple(int(part) for part in text.split(","))
    value = type(default)(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(text)
    return value


def _public(args: Any) -> dict[str, Any]:
    return {
        f.name: list(v) if isinstance(v := getattr(args, f.name), tuple) else v
        for f in dataclasses.fields(args)
        if f.name != "scenario"
    }
