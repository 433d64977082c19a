from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.model.deployment import check_deployment_file, load_deployment
from agent.model.deployment_state import ChainPlan, Placement, Request, SubstrateState
from agent.model.errors import InputError
from tests.deployment.conftest import LINE_YAML, SMALL


def test_bundled_scenarios_load(bundled: object) -> None:
    small = load_deployment(SMALL)
    assert small.substrate.n == 10 and "pop0" not in small.substrate.nodes
    assert "24 servers" in check_deployment_file(Path(str(bundled.source)))  # type: ignore[attr-defined]


def test_threshold_scales_capacities(write_scenario: Callable[..., Path]) -> None:
    text = LINE_YAML.replace("threshold: 1.0", "threshold: 0.9")
    assert load_deployment(write_scenario(text)).substrate.cpu == (36.0, 36.0, 36.0)


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        (("vnf_types: [fw, nat]", "vnf_types: [fw, nat]\nbogus: 1"), "bogus", "unknown key"),
        (("cpu: 40,", "cpu: -1,"), "servers.cpu", "greater than 0"),
        (("chain_length: [1, 2]", "chain_length: [3, 2]"), "requests", "chain_length"),
        (("network: line.gml", "network: {file: line.gml, exclude: [pop9]}"), "exclude[0]", "pop9"),
        (
            ("network: line.gml", "network: {file: line.gml, exclude: [pop1]}"),
            "network",
            "connected",
        ),
        (("network: line.gml", "network: nothere.gml"), "network", "not found"),
    ],
)
def test_bad_scenarios_name_file_place_and_problem(
    write_scenario: Callable[..., Path], change: tuple[str, str], where: str, problem: str
) -> None:
    path = write_scenario(LINE_YAML.replace(*change))
    with pytest.raises(InputError) as caught:
        load_deployment(path)
    line = caught.value.one_line()
    assert str(path) in line and where in line and problem in line
    assert "\n" not in line


def test_trace_is_validated(write_scenario: Callable[..., Path]) -> None:
    write_scenario(
        "requests:\n  - {arrival: 0, duration: 3, ingress: pop0, egress: pop2, chain: [fw, ids],"
        " cpu: [1, 1], memory: [1, 1], bandwidth: [1, 1, 1], latency_bound_ms: 100}\n",
        "trace.yaml",
    )
    path = write_scenario(LINE_YAML + "  trace: trace.yaml\n")
    with pytest.raises(InputError, match=r"trace.yaml:2: requests\[0\].chain\[1\]: unknown VNF"):
        load_deployment(path)


def _request(cpu: float = 10.0, bound: float = 500.0) -> Request:
    return Request(
        0, 0.0, 5, 0, 2, (0, 1), (cpu, cpu), (cpu, cpu), (10.0, 10.0, 10.0), bound, 100.0
    )


def test_latency_is_processing_plus_propagation_and_transmission(line: object) -> None:
    state = SubstrateState(line.substrate)  # type: ignore[attr-defined]
    request = _request()
    # both VNFs on the middle server: 2 x 100/10 processing, 2 hops x (1 ms + 100/10)
    placement = Placement(0, (1, 1), ((0,), (), (1,)), 0.0)
    assert state.latency(request, placement.servers, placement.paths) == pytest.approx(42.0)
    assert state.check(request, Placement(0, (1, 1), ((0,), (), (1,)), 42.0)) is None
    state.apply(request, placement)
    assert state.cpu[1] == 20.0 and state.bandwidth == [90.0, 90.0]
    state.release(request, placement)
    assert state.cpu[1] == 40.0 and state.bandwidth == [100.0, 100.0]


def test_check_refuses_what_does_not_fit(line: object) -> None:
    state = SubstrateState(line.substrate)  # type: ignore[attr-defined]
    assert "CPU" in str(state.check(_request(cpu=25.0), Placement(0, (1, 1), ((0,), (), (1,)), 0)))
    assert "latency" in str(
        state.check(_request(bound=10.0), Placement(0, (1, 1), ((0,), (), (1,)), 0))
    )
    assert "routed" in str(state.check(_request(), Placement(0, (1, 1), ((1,), (), (1,)), 0)))


def test_plan_looks_ahead_to_the_latency_bound(line: object) -> None:
    state = SubstrateState(line.substrate)  # type: ignore[attr-defined]
    plan = ChainPlan(state, _request(bound=41.0))  # 42 ms is the best possible
    assert plan.options() == []
    plan = ChainPlan(state, _request(bound=43.0))
    assert {o.server for o in plan.options()} == {0, 1, 2}
