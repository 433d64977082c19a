"""``agent train recovery`` and ``agent eval recovery``: progressive recovery (DeepPR).

``eval recovery`` runs every method on the same instances and reports, per method, the mean
and minimum ratio of its total utility to DP-OPT's (or, where DP-OPT is out of reach, to the
best method's on that instance). Instance k of a GNP size n uses seed S + k; Zoo graphs draw
their utilities and demands from seed S + k too.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import click

from agent.cli.common import fail, format_option, input_errors, out_option
from agent.model.recovery import GraphFamily, Mode, parse_graphs
from agent.policies.recovery.base import RecoveryPolicy
from agent.policies.recovery.card import SHIPPED
from agent.policies.recovery.registry import RECOVERY_POLICIES, make_recovery_policy
from agent.train.recovery_eval import (
    Row,
    evaluate_rows,
    make_instances,
    markdown_table,
    summary_of,
)

METHODS = RECOVERY_POLICIES
MODES = click.Choice(["compliant", "adversarial"])


def _families(spec: str) -> list[GraphFamily]:
    try:
        return parse_graphs(spec)
    except ValueError as exc:
        fail(f"--graphs: {exc}")


def _methods(spec: str, policy_dir: Path | None, beam: int, seed: int) -> dict[str, RecoveryPolicy]:
    names = [m.strip() for m in spec.split(",") if m.strip()]
    unknown = [m for m in names if m not in METHODS]
    if unknown or not names:
        fail(f"--methods: unknown {', '.join(unknown) or '(none)'} (known: {', '.join(METHODS)})")
    directory = (
        _policy_directory(policy_dir) if any(m.startswith("deeppr") for m in names) else None
    )
    with input_errors():  # one line for a broken card or weights file
        return {name: make_recovery_policy(name, directory, beam, seed) for name in names}


def _policy_directory(policy_dir: Path | None) -> Path:
    directory = policy_dir or SHIPPED
    if not directory.exists():
        fail(f"{directory}: DeepPR policy directory not found")
    if directory.is_file():
        directory = directory.parent
    if not (directory / "card.json").is_file():
        fail(f"{directory}: no DeepPR policy here (expected card.json and model.safetensors)")
    return directory


def _write(out: Path, rows: list[Row], summary: dict[str, Any], methods: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "instances.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["graph", "instance", "nodes", "seed", "reference", "reference_total"]
            + [f"{m}_total" for m in methods]
            + [f"{m}_ratio" for m in methods]
        )
        for row in rows:
            writer.writerow(
                [row.graph, row.instance.name, row.instance.n, row.seed, row.reference, row.best]
                + [row.totals[m] for m in methods]
                + [round(row.ratio(m), 6) for m in methods]
            )
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "recovery.md").write_text(markdown_table(summary) + "\n")
    title = f"{summary['graphs']}, {summary['mode']}, {summary['instances']} instances"
    _plot(out / "ratios.png", rows, methods, str(summary["reference"]), title)


def _plot(path: Path, rows: list[Row], methods: list[str], reference: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.boxplot([[row.ratio(m) * 100 for row in rows] for m in methods])
    ax.set_xticks(range(1, len(methods) + 1), methods)
    ax.set_ylabel(f"% of {reference}")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@click.command("recovery")
@click.option(
    "--graphs",
    default="gnp:15-20",
    help="instance graphs: gnp:N, gnp:A-B (sizes A to B), zoo:NAME; comma-separated",
)
@click.option(
    "--instances",
    type=click.IntRange(min=1),
    default=20,
    help="instances per GNP size and per Zoo graph",
)
@click.option("--seed", type=int, default=1, help="seed of the first instance; instance k: S + k")
@click.option(
    "--mode",
    type=MODES,
    default="compliant",
    help="compliant: random utilities and demands; adversarial: with the paper's trap node",
)
@click.option("--methods", default=",".join(METHODS), help="methods to compare, comma-separated")
@click.option(
    "--policy",
    "policy_dir",
    type=click.Path(path_type=Path),
    show_default="the shipped DeepPR policy",
    help="DeepPR policy directory (card.json and model.safetensors)",
)
@click.option(
    "--beam-width",
    type=click.IntRange(min=1),
    default=64,
    help="orders kept at each depth of deeppr's beam search",
)
@click.option(
    "--dp-max-nodes",
    type=click.IntRange(min=1, max=24),
    default=22,
    help="largest number of nodes to repair solved by DP-OPT (else: ratio to the best method)",
)
@click.option(
    "--threads", type=click.IntRange(min=1), default=1, help="torch threads for the Q-network"
)
@format_option("a markdown table or one JSON object")
@out_option("write instances.csv, summary.json, recovery.md and ratios.png into this directory")
def eval_recovery(
    graphs: str,
    instances: int,
    seed: int,
    mode: Mode,
    methods: str,
    policy_dir: Path | None,
    beam_width: int,
    dp_max_nodes: int,
    threads: int,
    fmt: str,
    out: Path | None,
) -> None:
    """Compare DeepPR, RATIO and RANDOM with DP-OPT on progressive-recovery instances."""
    import torch

    torch.set_num_threads(threads)
    families = _families(graphs)
    policies = _methods(methods, policy_dir, beam_width, seed)
    try:
        items = make_instances(families, instances, seed, mode)
    except ValueError as exc:
        fail(str(exc))
    started = time.perf_counter()
    rows = evaluate_rows(items, policies, dp_max_nodes)
    summary: dict[str, Any] = {
        **summary_of(rows, list(policies), graphs, mode, seed, instances),
        "policy": str(policy_dir or SHIPPED),
        "wall_s": round(time.perf_counter() - started, 2),
    }
    if out is not None:
        _write(out, rows, summary, list(policies))
    click.echo(json.dumps(summary) if fmt == "json" else markdown_table(summary))


@click.command("recovery")
@click.option(
    "--variant",
    type=click.Choice(["node", "paper"]),
    default="node",
    help="node: one network for any graph size; paper: the paper's network for one graph",
)
@click.option(
    "--graphs",
    default="gnp:10-24",
    help="training graphs, as for eval (paper variant: the first one, its smallest size)",
)
@click.option("--episodes", type=click.IntRange(min=1), default=3000, help="training episodes")
@click.option("--seed", type=int, default=0, help="seed of the training run")
@click.option(
    "--mode",
    type=MODES,
    default="compliant",
    help="paper variant: its instance's mode",
)
@click.option(
    "--instance-seed",
    type=int,
    default=1,
    help="paper variant: its instance's seed",
)
@click.option(
    "--adversarial-share",
    type=click.FloatRange(0, 1),
    default=0.5,
    help="node variant: share of training instances in adversarial mode",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="policy directory to write (card.json and model.safetensors)",
)
@format_option()
def train_recovery(
    variant: str,
    graphs: str,
    episodes: int,
    seed: int,
    mode: Mode,
    instance_seed: int,
    adversarial_share: float,
    out: Path,
    fmt: str,
) -> None:
    """Train a DeepPR policy (DQN with RATIO-guided exploration) and save it to --out."""
    from agent.policies.recovery.networks import save_network
    from agent.train.deeppr import TrainArgs, train

    families = _families(graphs)
    args = TrainArgs(
        variant="paper" if variant == "paper" else "node",
        episodes=episodes,
        seed=seed,
        families=families,
        adversarial_share=adversarial_share,
    )
    instance = None
    if variant == "paper":
        instance = families[0].instance(instance_seed, mode, (families[0].sizes or (None,))[0])
    result = train(args, instance)
    card = {
        **result.card,
        "trained_with": (
            f"agent train recovery --variant {variant} --graphs {graphs} "
            f"--episodes {episodes} --seed {seed}"
        ),
    }
    save_network(result.net, out, card)
    tail = result.returns[-min(100, len(result.returns)) :]
    summary = {
        "variant": variant,
        "episodes": episodes,
        "seconds_per_episode": round(result.seconds_per_episode, 4),
        "mean_return_last_100": round(sum(tail) / len(tail), 2),
        "out": str(out),
    }
    if fmt == "json":
        click.echo(json.dumps(summary))
    else:
        for key, value in summary.items():
            click.echo(f"{key:<22} {value}")
