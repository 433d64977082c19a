"""The controller backend's observations are in the simulator's units."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.model.scenario import load_scenario
from agent.model.types import Decision
from agent.protocol import CODE_INVALID, ApplyResult, BatchError, Monitor, PortStats
from agent.southbound.base import InstallError
from agent.southbound.controller_backend import ControllerBackend
from tests.conftest import TOPOLOGIES

WIRING = {
    "switches": {
        "pop0": {"dpid": 1, "sf_port": 1, "ingress_ports": [2]},
        "pop1": {"dpid": 2, "sf_port": 1},
        "pop2": {"dpid": 3, "sf_port": 1},
    },
    "links": [
        {"a": "pop0", "b": "pop1", "a_port": 10, "b_port": 10},
        {"a": "pop0", "b": "pop2", "a_port": 11, "b_port": 10},
        {"a": "pop1", "b": "pop2", "a_port": 11, "b_port": 11},
    ],
}


def monitor(dpid: int, ts: float, rx_ingress: int, tx_sf: int) -> Monitor:
    ports = (PortStats(2, rx_bytes=rx_ingress), PortStats(1, tx_bytes=tx_sf))
    return Monitor(dpid, ts, ports)


def test_port_counters_become_the_simulators_units(tmp_path: Path) -> None:
    # triangle: flows of rate 1 lasting 1 ms, one per 10 ms on average, at pop0
    scenario = load_scenario(TOPOLOGIES / "scenarios/triangle.yaml")
    (tmp_path / "wiring.yaml").write_text(yaml.safe_dump(WIRING))
    backend = ControllerBackend(
        "unix:/nonexistent",
        str(tmp_path / "wiring.yaml"),
        scenario,
        clock=lambda: 100.6,
        rate_mbps=0.64,  # 0.64 Mbit/s is one unit of data rate
        time_scale=10.0,  # 10 wall ms per scenario ms
    )
    backend.connected = {1, 2, 3}
    # 0.5 wall s = 50 scenario ms; 4,000 bytes entered: 0.064 Mbit/s = 0.1 units,
    # which flows of 1 ms keep up only if 5 of rate 1 arrived in the 50 ms
    backend.previous = {1: monitor(1, 100.0, 10_000, 0)}
    backend.latest = {1: monitor(1, 100.5, 14_000, 8_000)}
    observation = backend.observation()
    assert observation is not None
    assert observation.interval == pytest.approx(50.0)
    report = observation.report("pop0")
    assert report is not None
    assert report.ingress_traffic == pytest.approx(5.0)
    assert report.arrivals == 5
    assert report.load == pytest.approx(0.2)  # 0.128 Mbit/s to the SF host
    assert report.age == pytest.approx(10.0)  # 0.1 wall s
    assert observation.missing == ("pop1", "pop2")


def test_default_units_read_one_mbit_per_second_as_one_unit_in_real_time(tmp_path: Path) -> None:
    scenario = load_scenario(TOPOLOGIES / "scenarios/triangle.yaml")
    (tmp_path / "wiring.yaml").write_text(yaml.safe_dump(WIRING))
    backend = ControllerBackend(
        "unix:/x", str(tmp_path / "wiring.yaml"), scenario, clock=lambda: 2.0
    )
    backend.connected = {1}
    backend.previous = {1: monitor(1, 0.0, 0, 0)}
    backend.latest = {1: monitor(1, 1.0, 125_000, 250_000)}  # 1 and 2 Mbit/s over 1 s
    observation = backend.observation()
    assert observation is not None and observation.interval == pytest.approx(1000.0)
    report = observation.report("pop0")
    assert report is not None and report.load == pytest.approx(2.0)
    assert report.ingress_traffic == pytest.approx(1000.0)  # 1 unit, 1 ms flows, 1000 ms


def test_typical_flow_duration_of_fixed_and_pareto_sizes() -> None:
    from agent.model.traffic import TrafficConfig

    def config(fixed: bool, shape: float) -> TrafficConfig:
        return TrafficConfig.model_validate(
            {
                "ttl_choices": [100],
                "deterministic_arrival": False,
                "deterministic_size": fixed,
                "flow_dr_mean": 2.0,
                "flow_size_shape": shape,
            }
        )

    assert config(True, 0.01).typical_flow_duration_ms == pytest.approx(5.0)
    # Pareto(3): mean size 1.5, at rate 2: 750 ms
    assert config(False, 3.0).typical_flow_duration_ms == pytest.approx(750.0)
    tiny = config(False, 0.0001)
    assert tiny.typical_flow_duration_ms == float("inf")  # no overflow error


async def test_batch_errors_become_install_errors_by_index(tmp_path: Path) -> None:
    scenario = load_scenario(TOPOLOGIES / "scenarios/triangle.yaml")
    (tmp_path / "wiring.yaml").write_text(yaml.safe_dump(WIRING))
    backend = ControllerBackend("unix:/x", str(tmp_path / "wiring.yaml"), scenario)
    errors = (
        BatchError(0, None, -1, CODE_INVALID, "batch[0].intent: malformed"),
        BatchError(2, 3, 2, 9, "OFPET_BAD_ACTION: OFPBAC_BAD_OUT_GROUP"),
    )

    class Client:
        async def apply(self, batch: object) -> ApplyResult:
            return ApplyResult(errors)

    backend.client = Client()  # type: ignore[assignment]
    result = await backend.apply([], Decision({}, {}))

    assert result.errors == (
        InstallError(0, 0, "batch[0].intent: malformed", -1, CODE_INVALID),
        InstallError(2, 3, "OFPET_BAD_ACTION: OFPBAC_BAD_OUT_GROUP", 2, 9),
    )
