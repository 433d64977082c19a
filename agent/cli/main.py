"""The ``agent`` command."""

from __future__ import annotations

import click

from agent import __version__
from agent.cli.check_config import check_config_command
from agent.cli.coordination_cmd import eval_coordination, train_coordination
from agent.cli.recovery_cmd import eval_recovery, train_recovery
from agent.cli.run_cmd import run_command
from agent.cli.sim_cmd import sim_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="agent")
def cli() -> None:
    """SDN coordination agent: simulate, train, evaluate and run coordination policies."""


@cli.group("train")
def train_group() -> None:
    """Train a policy (one subcommand per problem)."""


@cli.group("eval")
def eval_group() -> None:
    """Evaluate policies against baselines (one subcommand per problem)."""


train_group.add_command(train_coordination)
train_group.add_command(train_recovery)
eval_group.add_command(eval_coordination)
eval_group.add_command(eval_recovery)
cli.add_command(sim_command)
cli.add_command(check_config_command)
cli.add_command(run_command)


def main() -> None:
    cli()
