"""The ``agent`` command.

Subcommands are imported when they run (or when their own help is asked for), so that
``agent --version``, ``agent --help`` and the light commands start without torch, aiohttp or
the trainers. Each subcommand's one-line description lives here, next to its import path.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import click

from agent import __version__

CONTEXT: dict[str, Any] = {
    "help_option_names": ["-h", "--help"],
    "max_content_width": 100,
    "show_default": True,
}


@dataclass(frozen=True)
class LazyCommand:
    target: str  # "module:attribute"
    summary: str  # the line ``--help`` of the parent shows

    def load(self) -> click.Command:
        module, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, LazyCommand] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(self.lazy[cmd_name].load(), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list with whole descriptions, without importing the commands."""
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy and name not in self.commands:
                rows.append((name, self.lazy[name].summary))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _lazy(target: str, summary: str) -> LazyCommand:
    return LazyCommand(f"agent.cli.{target}", summary)


@click.group(
    cls=LazyGroup,
    context_settings=CONTEXT,
    lazy={
        "sim": _lazy(
            "sim_cmd:sim_command",
            "Run a policy on SCENARIO (or on coord-sim's three files) and print totals.",
        ),
        "check-config": _lazy(
            "check_config:check_config_command",
            "Validate input files without running anything.",
        ),
        "run": _lazy(
            "run_cmd:run_command",
            "Run the agent: observe, decide, install rules; HTTP API on localhost.",
        ),
        "solve": _lazy(
            "solve_cmd:solve_command",
            "Solve the coordination MILP of SCENARIO, centralised or over a domain hierarchy.",
        ),
        "export": _lazy(
            "export_cmd:export_command",
            "Export a trained actor (coordination policy or slicing slave) to ONNX or TorchScript.",
        ),
    },
)
@click.version_option(__version__, prog_name="agent")
def cli() -> None:
    """SDN coordination agent: simulate, train, evaluate and run coordination policies."""


@cli.group(
    "train",
    cls=LazyGroup,
    lazy={
        "coordination": _lazy(
            "coordination_cmd:train_coordination",
            "Train a coordination policy on SCENARIO (or coord-sim's three files).",
        ),
        "recovery": _lazy(
            "recovery_cmd:train_recovery",
            "Train a DeepPR policy (DQN with RATIO-guided exploration) and save it to --out.",
        ),
        "deployment": _lazy(
            "deployment_cmd:train_deployment",
            "Train a deployment policy (MADDPG-SD, DQN, DDPG or PG) on SCENARIO and save it.",
        ),
        "slicing": _lazy(
            "slicing_cmd:train_slicing",
            "Train a slicing slave policy (DDPG or MADDPG under ADMM) on SCENARIO and save it.",
        ),
    },
)
def train_group() -> None:
    """Train a policy (one subcommand per problem)."""


@cli.group(
    "eval",
    cls=LazyGroup,
    lazy={
        "coordination": _lazy(
            "coordination_cmd:eval_coordination",
            "Evaluate coordination policies and baselines on the same seeds.",
        ),
        "recovery": _lazy(
            "recovery_cmd:eval_recovery",
            "Compare DeepPR, RATIO and RANDOM with DP-OPT on progressive-recovery instances.",
        ),
        "deployment": _lazy(
            "deployment_cmd:eval_deployment",
            "Evaluate deployment policies and baselines on the same request sequences.",
        ),
        "slicing": _lazy(
            "slicing_cmd:eval_slicing",
            "Compare slicing methods on the same episodes of SCENARIO.",
        ),
    },
)
def eval_group() -> None:
    """Evaluate policies against baselines (one subcommand per problem)."""


@cli.group(
    "tune",
    cls=LazyGroup,
    lazy={
        "slicing": _lazy(
            "slicing_cmd:tune_slicing_command",
            "Search DDPG hyperparameters for SCENARIO's slicing slave with Optuna (resumable).",
        ),
    },
)
def tune_group() -> None:
    """Search hyperparameters (one subcommand per problem)."""


def main() -> None:
    cli()
