"""Shared fixtures: small hand-made scenarios, the bundled files, Open vSwitch for the
switch tests; a teardown that pytest-timeout does not cut short; and a guard that fails an
async test that blocks its event loop (``tests/support/blocking_guard.py``)."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest

from agent.model.expr import parse_resource_function
from agent.model.network import Link, Network, Node, NodeKind
from agent.model.scenario import Failure, ObservationModel, Scenario
from agent.model.services import ServiceFunction, Services
from agent.model.traffic import Traffic, TrafficConfig

pytest_plugins = ["tests.support.blocking_guard"]

ROOT = Path(__file__).resolve().parents[1]
TOPOLOGIES = ROOT / "topologies"
DEEPCOORD = TOPOLOGIES / "deepcoord" / "res"
TEARDOWN_TIMEOUT_S = 120.0


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


@pytest.fixture(scope="session")
def ovs() -> Iterator[Callable[[], None]]:
    """Call it before building a test bed: starts Open vSwitch (root only) if it is not
    running (another run on the machine may have stopped it meanwhile). At the end of
    the session it is stopped if this session started it and no bridge is left on it."""
    from tests.support.ovs_testbed import ensure_ovs, stop_ovs_if_unused

    started: list[bool] = []

    def ensure() -> None:
        started.append(ensure_ovs())

    try:
        yield ensure
    finally:
        if any(started):
            stop_ovs_if_unused()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    _own_timeout_for_teardown(item)
    return (yield)


def _own_timeout_for_teardown(item: pytest.Item) -> None:
    """pytest-timeout times a test's setup, call and teardown together. A test that used
    most of that time would have its teardown interrupted half-way, leaving processes,
    bridges and namespaces behind; its teardown gets a deadline of its own instead.
    (With the signal method a timeout fails the test and teardown runs; the thread
    method ends the whole process, and nothing is cleaned up.)"""
    cancel = getattr(item, "cancel_timeout", None)  # set by pytest-timeout's timer
    if cancel is None or item.config.getini("timeout_func_only"):
        return
    import pytest_timeout  # type: ignore[import-untyped]

    cancel()
    method = item.config.getvalue("timeout_method") or item.config.getini("timeout_method")
    settings = pytest_timeout.Settings(TEARDOWN_TIMEOUT_S, method or "signal", False, False)
    item.config.pluginmanager.hook.pytest_timeout_set_timer(item=item, settings=settings)
