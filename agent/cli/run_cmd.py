"""``agent run``: the daemon."""

from __future__ import annotations

import click

from agent.cli.common import input_errors


@click.command("run")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    show_default="the bundled systemd/agent.yaml: simulator backend, Abilene, shortest-path",
    help="the agent configuration (agent.yaml)",
)
@click.option(
    "--api",
    show_default="the configuration's api.listen, else 127.0.0.1:8780",
    help="HOST:PORT for the HTTP API (overrides the configuration)",
)
@click.option(
    "--check",
    is_flag=True,
    help="run every check `agent run` makes before starting (configuration, scenario, "
    "policies, token, API address) and exit",
)
def run_command(config_path: str | None, api: str | None, check: bool) -> None:
    """Run the agent: observe, decide, install rules; HTTP API on localhost."""
    from agent.runtime.service import prepare, run_service

    with input_errors():
        if check:
            ready = prepare(config_path, api)
            config = ready.config
            click.echo(
                f"ok: {ready.source}: backend {config.backend.value}, policy {config.policy}, "
                f"fallback {config.fallback}, api {config.api.listen}"
            )
            return
        from agent.api.server import ApiProcess

        run_service(config_path, api, ApiProcess())
