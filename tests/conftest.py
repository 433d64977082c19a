"""Shared fixtures: small hand-made scenarios and the bundled files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.model.expr import parse_resource_function
from agent.model.network import Link, Network, Node, NodeKind
from agent.model.scenario import Failure, ObservationModel, Scenario
from agent.model.services import ServiceFunction, Services
from agent.model.traffic import Traffic, TrafficConfig

ROOT = Path(__file__).resolve().parents[1]
TOPOLOGIES = ROOT / "topologies"
DEEPCOORD = TOPOLOGIES / "deepcoord" / "res"


def line_network(
    caps: tuple[float, ...] = (0, 2, 2), delay: float = 3.0, link_cap: float | None = 100.0
) -> Network:
    """pop0 (ingress) - pop1 - pop2 - ..., equal link delays."""
    nodes = tuple(
        Node(f"pop{i}", float(cap), NodeKind.INGRESS if i == 0 else NodeKind.NORMAL)
        for i, cap in enumerate(caps)
    )
    links = tuple(Link(f"pop{i}", f"pop{i + 1}", link_cap, delay) for i in range(len(caps) - 1))
    return Network("line", nodes, links)


def services(
    chain: tuple[str, ...] = ("a", "b"), delay: float = 5.0, resource: str = "load"
) -> Services:
    functions = {
        sf: ServiceFunction(sf, delay, 0.0, 0.0, parse_resource_function(resource)) for sf in chain
    }
    return Services({"sfc_1": chain}, functions)


def traffic(**overrides: object) -> Traffic:
    values: dict[str, object] = {
        "inter_arrival_mean": 10.0,
        "deterministic_arrival": True,
        "deterministic_size": True,
        "flow_dr_mean": 1.0,
        "flow_dr_stdev": 0.0,
        "flow_size_shape": 0.001,
        "run_duration": 100,
        "ttl_choices": [100],
    }
    values.update(overrides)
    return Traffic(TrafficConfig.model_validate(values))


def scenario(
    network: Network | None = None,
    svc: Services | None = None,
    tr: Traffic | None = None,
    observation: ObservationModel | None = None,
    failures: tuple[Failure, ...] = (),
    steps: int = 10,
) -> Scenario:
    return Scenario(
        name="test",
        network=network or line_network(),
        services=svc or services(),
        traffic=tr or traffic(),
        steps=steps,
        observation=observation or ObservationModel(),
        failures=failures,
    )


@pytest.fixture
def deepcoord() -> Path:
    return DEEPCOORD


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Tiny networks run fastest on one thread (and the machine is shared)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
