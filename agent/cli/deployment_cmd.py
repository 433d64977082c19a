"""``agent train deployment`` and ``agent eval deployment``: SFC deployment (MADDPG-SD).

``eval deployment`` runs every policy on the same request sequences: episode k of each
load uses seed S + k. With several ``--requests`` it sweeps the load and, with ``--out``,
draws the paper's three figures. ``--offline`` adds the ratio to the MILP optimum.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from agent.cli.common import fail, input_errors
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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    help="what stdout shows",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    show_default="no files",
    help="write summary.json and acceptance/latency_ms/cost.png here",
)
def eval_deployment(
    scenario: str,
    policies: tuple[str, ...],
    loads: tuple[int, ...],
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
    with input_errors():
        chosen = {p: make_deployment_policy(p, loaded.substrate.n) for p in policies}
    sizes = sorted(set(loads)) or [loaded.requests.count]
    sweep = {n: evaluate(loaded, chosen, n, episodes, seed) for n in sizes}
    summary: dict[str, Any] = {"scenario": loaded.name, "episodes": episodes, "seed": seed}
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
        ratios = summary["offline"]["mean_ratio"]
        solved = summary["offline"]["solved_optimally"]
        shares = ", ".join(f"{k} {v * 100:.1f} %" for k, v in ratios.items())
        lines.append(f"\nshare of the offline optimum ({solved} solved optimally): {shares}")
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
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="policy directory to write (card.json and model.safetensors)",
)
def train_deployment(
    scenario: str, algorithm: str, requests: int, seed: int, threads: int, out: Path
) -> None:
    """Train a deployment policy (MADDPG-SD, DQN, DDPG or PG) on SCENARIO and save it."""
    import torch

    from agent.policies.deployment.learned import save_policy

    torch.set_num_threads(threads)
    loaded = _scenario(scenario)
    if algorithm == "maddpg":
        from agent.train.deployment_maddpg import MaddpgArgs, train

        result = train(MaddpgArgs(loaded, requests=requests, seed=seed))
        net, curve, seconds = result.net, result.acceptance, result.seconds
    else:
        from agent.train.deployment_baselines import BaselineArgs
        from agent.train.deployment_baselines import train as train_baseline

        args = BaselineArgs(loaded, algorithm=algorithm, requests=requests, seed=seed)  # type: ignore[arg-type]
        base = train_baseline(args)
        net, curve, seconds = base.net, base.acceptance, base.seconds
    if not curve:
        fail("no training episode finished")
    tail = curve[-min(50, len(curve)) :]
    card = {
        "name": algorithm,
        "scenario": loaded.name,
        "trained_with": f"agent train deployment {scenario} --algorithm {algorithm} "
        f"--requests {requests} --seed {seed}",
        "training_seconds": round(seconds, 1),
        "mean_training_acceptance_last_50": round(sum(tail) / len(tail), 4),
    }
    save_policy(net, out, card)
    click.echo(json.dumps({**card, "out": str(out)}))
