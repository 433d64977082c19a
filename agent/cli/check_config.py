"""``agent check-config PATH``: validate any input file without running anything."""

from __future__ import annotations

from pathlib import Path

import click

from agent.cli.common import fail, input_errors
from agent.model.errors import InputError
from agent.model.network_io import load_network
from agent.model.scenario import load_scenario
from agent.model.services import parse_services
from agent.model.traffic import load_trace, load_traffic
from agent.model.wiring import load_wiring
from agent.model.yamlfile import load_yaml
from agent.runtime.config import load_config


def describe(path: Path) -> str:
    """Validate ``path`` by its kind and say what it holds; InputError if it is bad."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise InputError(path, "", "file not found")
    if suffix in {".graphml", ".gml"}:
        net = load_network(path)
        size = f"{len(net.nodes)} nodes, {len(net.links)} links"
        return f"network {net.name}: {size}, ingress {net.ingress}"
    if suffix == ".csv":
        return f"trace: {len(load_trace(path))} rows"
    doc = load_yaml(path)
    data = doc.data if isinstance(doc.data, dict) else {}
    if {"backend", "api", "controller", "decision_interval"} & set(data):
        config, _ = load_config(path)
        load_scenario(config.scenario)
        if config.controller.wiring and config.backend.value == "controller":
            load_wiring(config.controller.wiring, load_scenario(config.scenario).network)
        return f"agent configuration: backend {config.backend.value}, policy {config.policy}"
    if "switches" in data:
        return "wiring file (checked against a network when the agent loads it)"
    if "network" in data:
        scenario = load_scenario(path)
        return (
            f"scenario {scenario.name}: network {scenario.network.name} "
            f"({len(scenario.network.nodes)} nodes), chains {list(scenario.services.chains)}, "
            f"{scenario.steps} steps of {scenario.run_duration:g} ms"
        )
    if "sfc_list" in data or "sf_list" in data:
        services = parse_services(doc, {})
        for warning in services.warnings:
            click.echo(f"warning: {warning}", err=True)
        return f"services: chains {dict(services.chains)}"
    if {"inter_arrival_mean", "run_duration", "ttl_choices"} & set(data):
        traffic = load_traffic(path)
        return f"simulator config: run_duration {traffic.config.run_duration:g} ms"
    raise InputError(
        path, "", "not a scenario, network, service, simulator config or trace file", 1
    )


@click.command("check-config")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def check_config_command(paths: tuple[Path, ...]) -> None:
    """Validate scenario, network, service, simulator-config or trace files."""
    with input_errors():
        for path in paths:
            click.echo(f"ok: {path}: {describe(path)}")
    if not paths:
        fail("no file given")
