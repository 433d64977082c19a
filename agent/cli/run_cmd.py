"""``agent run``: the daemon."""

from __future__ import annotations

import click

from agent.api.server import AiohttpServer
from agent.cli.common import input_errors
from agent.runtime.config import load_config
from agent.runtime.service import run_service


@click.command("run")
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="agent.yaml [bundled example]"
)
@click.option("--api", help="HOST:PORT for the HTTP API (overrides the configuration)")
@click.option("--check", is_flag=True, help="validate the configuration and exit")
def run_command(config_path: str | None, api: str | None, check: bool) -> None:
    """Run the agent: observe, decide, install rules; HTTP API on localhost."""
    with input_errors():
        if check:
            config, source = load_config(config_path)
            click.echo(f"ok: {source}: backend {config.backend.value}, policy {config.policy}")
            return
        run_service(config_path, api, AiohttpServer())
