"""``agent train slicing`` and ``agent eval slicing``: DeepSlicing's ADMM with learned and
exact slaves against the static, proportional and dynamic baselines.

SCENARIO is a slicing scenario file or the name of a bundled one (``paper``,
``three-service``: ``topologies/slicing/NAME.yaml``). ``admm-drl`` uses ``--policy``, or the
policy shipped for the scenario's name (``topologies/policies/slicing/NAME``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from agent.cli.common import fail, input_errors
from agent.model.slicing import SlicingScenario, load_slicing_scenario
from agent.policies.slicing.methods import METHODS, make_method

BUNDLED = Path(__file__).resolve().parents[2] / "topologies" / "slicing"


def _scenario(name: str) -> SlicingScenario:
    path = Path(name)
    if not path.exists() and (BUNDLED / f"{name}.yaml").is_file():
        path = BUNDLED / f"{name}.yaml"
    with input_errors():
        return load_slicing_scenario(path)


@click.command("slicing")
@click.argument("scenario")
@click.option(
    "--method",
    "methods",
    multiple=True,
    type=click.Choice(METHODS),
    default=("static", "proportional", "dynamic", "admm-opt", "admm-drl"),
    help="methods to compare (repeat the option)",
)
@click.option("--episodes", type=click.IntRange(min=1), default=100, help="episodes per method")
@click.option("--seed", type=int, default=12345678, help="episode k plays seed S + k")
@click.option("--policy", type=click.Path(path_type=Path), help="slave policy for admm-drl")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    help="what stdout shows: a markdown table or one JSON object",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="write summary.json, episodes.csv, summary.md and utility.png here",
)
def eval_slicing(
    scenario: str,
    methods: tuple[str, ...],
    episodes: int,
    seed: int,
    policy: Path | None,
    fmt: str,
    out: Path | None,
) -> None:
    """Compare slicing methods on the same episodes of SCENARIO."""
    from agent.train.slicing_eval import as_json, evaluate, markdown_table, write_report

    loaded = _scenario(scenario)
    with input_errors():
        chosen = {name: make_method(name, policy, loaded.name) for name in dict.fromkeys(methods)}
    started = time.perf_counter()
    summaries = evaluate(loaded, chosen, episodes, seed)
    meta: dict[str, object] = {"scenario": loaded.name, "episodes": episodes, "seed": seed}
    meta["wall_s"] = round(time.perf_counter() - started, 2)
    if out is not None:
        write_report(out, summaries, meta)
    if fmt == "json":
        click.echo(json.dumps(as_json(summaries)))
    else:
        click.echo(markdown_table(summaries), nl=False)


@click.command("slicing")
@click.argument("scenario")
@click.option(
    "--algorithm",
    type=click.Choice(["ddpg", "maddpg"]),
    default="ddpg",
    help="ddpg: the paper's slave; maddpg: not available yet",
)
@click.option("--steps", type=click.IntRange(min=1), default=6000, help="training steps")
@click.option("--envs", type=click.IntRange(min=1), default=16, help="environments per step")
@click.option(
    "--eval-every", type=click.IntRange(min=1), default=500, help="steps between evaluations"
)
@click.option("--seed", type=int, default=0, help="training seed")
@click.option("--threads", type=click.IntRange(min=1), default=1, help="torch threads")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="run directory: config.json, curves.csv/png, checkpoints/, policy/",
)
def train_slicing(
    scenario: str,
    algorithm: str,
    steps: int,
    envs: int,
    eval_every: int,
    seed: int,
    threads: int,
    out: Path,
) -> None:
    """Train a slicing slave policy (DDPG under ADMM) on SCENARIO and save it to --out."""
    from agent.train.slicing_ddpg import (
        SlicingDDPGArgs,
        save_policy,
        train_slicing_ddpg,
        write_run_config,
    )

    if algorithm != "ddpg":
        fail("--algorithm maddpg is not available yet; use ddpg")
    loaded = _scenario(scenario)
    args = SlicingDDPGArgs(
        steps=steps, envs=envs, eval_every=eval_every, seed=seed, threads=threads
    )
    write_run_config(out, loaded, args)
    started = time.perf_counter()

    def report(step: int, ratio: float) -> None:
        elapsed = time.perf_counter() - started
        click.echo(
            f"step {step}/{steps}: ratio to ADMM-OPT {ratio:.4f} ({elapsed:.0f} s)", err=True
        )

    actor, best = train_slicing_ddpg(loaded, args, out, report)
    save_policy(out / "policy", actor, loaded, args, best)
    click.echo(json.dumps({"policy": str(out / "policy"), "ratio_to_opt": round(best, 6)}))
