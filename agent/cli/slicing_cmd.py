"""``agent train slicing``, ``agent eval slicing`` and ``agent tune slicing``: DeepSlicing's
ADMM with learned and exact slaves against the static, proportional and dynamic baselines.

SCENARIO is a slicing scenario file or the name of a bundled one (``paper``,
``three-service``, ``paper-20x50``: ``topologies/slicing/NAME.yaml``). ``admm-drl`` uses
``--policy``, or the policy shipped for the scenario's name
(``topologies/policies/slicing/NAME``); ``maddpg-admm`` uses ``--maddpg-policy`` or
``topologies/policies/slicing/NAME-maddpg``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from agent.cli.common import fail, format_option, input_errors, out_option
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
    "--maddpg-policy", type=click.Path(path_type=Path), help="slave policy for maddpg-admm"
)
@format_option("a markdown table or one JSON object")
@out_option("write summary.json, episodes.csv, summary.md and utility.png here")
def eval_slicing(
    scenario: str,
    methods: tuple[str, ...],
    episodes: int,
    seed: int,
    policy: Path | None,
    maddpg_policy: Path | None,
    fmt: str,
    out: Path | None,
) -> None:
    """Compare slicing methods on the same episodes of SCENARIO."""
    from agent.train.slicing_eval import as_json, evaluate, markdown_table, write_report

    loaded = _scenario(scenario)
    with input_errors():
        chosen = {
            name: make_method(name, maddpg_policy if name == "maddpg-admm" else policy, loaded.name)
            for name in dict.fromkeys(methods)
        }
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


def _progress(total: int) -> Callable[[int, float, float], None]:
    started = time.perf_counter()

    def report(step: int, regret: float, ratio: float) -> None:
        elapsed = time.perf_counter() - started
        click.echo(
            f"step {step}/{total}: regret {regret:.4f}, ratio to ADMM-OPT {ratio:.4f}"
            f" ({elapsed:.0f} s)",
            err=True,
        )

    return report


@click.command("slicing")
@click.argument("scenario")
@click.option(
    "--algorithm",
    type=click.Choice(["ddpg", "maddpg"]),
    default="ddpg",
    help="ddpg: the paper's slave; maddpg: MADDPG-ADMM (centralised critic)",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="training YAML (ddpg; as agent tune slicing writes); options given override it",
)
@click.option(
    "--steps", type=click.IntRange(min=1), help="training steps [default: 6000; maddpg 4000]"
)
@click.option(
    "--envs", type=click.IntRange(min=1), help="environments per step [default: 16; maddpg 8]"
)
@click.option("--eval-every", type=click.IntRange(min=1), help="steps between evaluations")
@click.option("--seed", type=int, help="training seed [default: 0]")
@click.option(
    "--guess-steps",
    type=click.IntRange(min=0, max=10),
    help="Newton steps of the closed-form price the actor corrects [default: 2]",
)
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
    config: Path | None,
    steps: int | None,
    envs: int | None,
    eval_every: int | None,
    seed: int | None,
    guess_steps: int | None,
    threads: int,
    out: Path,
) -> None:
    """Train a slicing slave policy (DDPG or MADDPG under ADMM) on SCENARIO and save it."""
    loaded = _scenario(scenario)
    given = {"steps": steps, "envs": envs, "eval_every": eval_every, "seed": seed}
    given["guess_steps"] = guess_steps
    overrides: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    overrides["threads"] = threads
    if algorithm == "maddpg":
        if config is not None:
            fail("--config sets DDPG's arguments; MADDPG takes the options only")
        _train_maddpg(loaded, overrides, out)
        return
    from agent.train.slicing_ddpg import (
        SlicingDDPGArgs,
        save_policy,
        train_slicing_ddpg,
        write_run_config,
    )
    from agent.train.slicing_tune import load_training_yaml

    base = SlicingDDPGArgs()
    if config is not None:
        with input_errors():
            base = load_training_yaml(config)
    args = replace(base, **overrides)
    write_run_config(out, loaded, args)
    actor, selected = train_slicing_ddpg(loaded, args, out, _progress(args.steps))
    save_policy(out / "policy", actor, loaded, args, selected)
    click.echo(json.dumps(_result(out, selected.regret, selected.ratio)))


def _train_maddpg(loaded: SlicingScenario, overrides: dict[str, Any], out: Path) -> None:
    from agent.train.slicing_maddpg import (
        SlicingMADDPGArgs,
        save_maddpg_policy,
        train_slicing_maddpg,
        write_maddpg_config,
    )

    args = replace(SlicingMADDPGArgs(), **overrides)
    write_maddpg_config(out, loaded, args)
    actor, selected = train_slicing_maddpg(loaded, args, out, _progress(args.steps))
    save_maddpg_policy(out / "policy", actor, loaded, args, selected)
    click.echo(json.dumps(_result(out, selected.regret, selected.ratio)))


def _result(out: Path, regret: float, ratio: float) -> dict[str, object]:
    return {
        "policy": str(out / "policy"),
        "regret": round(regret, 6),
        "ratio_to_opt": round(ratio, 6),
    }


@click.command("slicing")
@click.argument("scenario")
@click.option("--trials", type=click.IntRange(min=1), default=20, help="finished trials wanted")
@click.option("--steps", type=click.IntRange(min=1), default=2000, help="training steps per trial")
@click.option("--envs", type=click.IntRange(min=1), default=16, help="environments per step")
@click.option(
    "--eval-episodes", type=click.IntRange(min=1), default=4, help="episodes scoring a trial"
)
@click.option("--seed", type=int, default=0, help="seed of the sampler and of every trial")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="run directory: study.db (resumable) and best.yaml",
)
def tune_slicing_command(
    scenario: str, trials: int, steps: int, envs: int, eval_episodes: int, seed: int, out: Path
) -> None:
    """Search DDPG hyperparameters for SCENARIO's slicing slave with Optuna (resumable)."""
    from agent.train.slicing_ddpg import SlicingDDPGArgs
    from agent.train.slicing_tune import tune_slicing

    loaded = _scenario(scenario)
    base = SlicingDDPGArgs(
        steps=steps, envs=envs, eval_every=steps, eval_episodes=eval_episodes, seed=seed
    )

    def report(trial: int, regret: float) -> None:
        click.echo(f"trial {trial}: regret {regret:.4f}", err=True)

    result = tune_slicing(loaded, out, trials, base, report)
    summary = {"best": str(result.path), "regret": round(result.best_regret, 6)}
    click.echo(json.dumps(summary | {"trials": result.finished}))
