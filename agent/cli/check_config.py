"""``agent check-config PATH``: validate any input file without running anything.

Problems are errors (``error: ...``, exit status 2); what loads but cannot work as
meant (a self-loop, an ingress node that reaches no compute) is printed as
``warning: ...`` lines and the check still succeeds."""

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

KINDS = (
    "a scenario, network, service, simulator config, trace, agent configuration, "
    "DeepCoord agent YAML, slicing or deployment scenario, or policy (card.json or its "
    "directory)"
)
DEEPCOORD_AGENT_KEYS = {"agent_type", "actor_hidden_layer_nodes", "observation_space"}


def describe(path: Path) -> str:
    """Validate ``path`` by its kind and say what it holds; InputError if it is bad.
    Warnings go to stderr as they are found."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise InputError(path, "", "file not found")
    if path.is_dir() or suffix in {".json", ".safetensors"}:
        from agent.policies.cards import check_card_file  # a trained policy

        return check_card_file(path)
    if suffix in {".graphml", ".gml"}:
        net = load_network(path)
        _warn(net.warnings)
        size = f"{len(net.nodes)} nodes, {len(net.links)} links"
        return f"network {net.name}: {size}, ingress {_short(net.ingress)}"
    if suffix == ".csv":
        return f"trace: {len(load_trace(path))} rows"
    doc = load_yaml(path)
    data = doc.data if isinstance(doc.data, dict) else {}
    if {"backend", "api", "controller", "decision_interval"} & set(data):
        from agent.runtime.service import prepare  # what `agent run --check` checks

        ready = prepare(str(path), None)
        _warn(ready.scenario.warnings)
        config = ready.config
        if config.controller.wiring and config.backend.value == "controller":
            load_wiring(config.controller.wiring, ready.scenario.network)
        return f"agent configuration: backend {config.backend.value}, policy {config.policy}"
    if DEEPCOORD_AGENT_KEYS & set(data):
        from agent.train.coordination_config import load_deepcoord_config

        agent = load_deepcoord_config(path)
        return f"DeepCoord agent configuration: {agent.agent_type}"
    if {"servers", "vnf_types"} <= set(data):
        from agent.model.deployment import check_deployment_file

        return check_deployment_file(path)
    if {"capacity", "admm"} <= set(data):
        from agent.model.slicing import load_slicing_scenario

        sliced = load_slicing_scenario(path)
        spec = sliced.spec
        return f"slicing scenario {sliced.name}: capacity {spec.capacity:g}, {spec.steps} steps"
    if "switches" in data:
        return "wiring file (checked against a network when the agent loads it)"
    if "network" in data:
        scenario = load_scenario(path)
        _warn(scenario.warnings)
        return (
            f"scenario {scenario.name}: network {scenario.network.name} "
            f"({len(scenario.network.nodes)} nodes), chains {_chains(scenario.services.chains)}, "
            f"{scenario.steps} steps of {scenario.run_duration:g} ms"
        )
    if "sfc_list" in data or "sf_list" in data:
        services = parse_services(doc, {})
        _warn(services.warnings)
        return f"services: chains {_chains(services.chains)}"
    if {"inter_arrival_mean", "run_duration", "ttl_choices"} & set(data):
        traffic = load_traffic(path)
        _warn(traffic.warnings)
        return f"simulator config: run_duration {traffic.config.run_duration:g} ms"
    raise InputError(path, "", f"not {KINDS}", 1)


def _warn(warnings: tuple[str, ...]) -> None:
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


def _chains(chains: dict[str, tuple[str, ...]], shown: int = 10) -> str:
    """``sfc_1 (a -> b -> c)``, long chains and many chains shortened."""
    parts = []
    for name, sfs in list(chains.items())[:shown]:
        steps = " -> ".join(sfs[:shown]) + (f" -> ... ({len(sfs)} SFs)" if len(sfs) > shown else "")
        parts.append(f"{name} ({steps})")
    more = f" and {len(chains) - shown} more" if len(chains) > shown else ""
    return ", ".join(parts) + more


def _short(names: list[str], shown: int = 10) -> str:
    if len(names) <= shown:
        return str(names)
    return f"{names[:shown]} and {len(names) - shown} more"


@click.command("check-config")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def check_config_command(paths: tuple[Path, ...]) -> None:
    """Validate input files without running anything.

    Scenarios, networks, services, simulator configs, traces, agent configurations (the
    checks of `agent run --check`), DeepCoord agent YAMLs and trained policies (card.json
    or the policy's directory)."""
    with input_errors():
        for path in paths:
            click.echo(f"ok: {path}: {describe(path)}")
    if not paths:
        fail("no file given")
