"""The lab's pure parts: frames, capacity accounting, flow schedule, metrics, the
instance protocol. No root needed."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from agent.model.scenario import load_scenario
from agent.model.wiring import WiringFile, build_wiring
from agent.southbound.instances import JsonLinesInstanceManager
from mininet_labs.instances import (
    InstanceServer,
    LabInstanceManager,
    NodeProcessLink,
)
from mininet_labs.lab import Fault, LabConfig
from mininet_labs.metrics import LabMetrics, chain_order, classify, summarise
from mininet_labs.packets import FlowPacket, build_frame, parse_mpls, parse_plain
from mininet_labs.report import fault_report
from mininet_labs.sf_instance import NodeInstances
from mininet_labs.topology import LabPlan
from mininet_labs.traffic import flow_schedule

SCENARIOS = Path(__file__).resolve().parents[2] / "topologies" / "scenarios"


def test_frame_round_trip_plain_and_under_a_label() -> None:
    packet = FlowPacket(7, 2, 0, 1, 4, 1.0, 1.0, 123.5)
    frame = build_frame(
        "02:00:00:01:00:00", "02:00:00:02:00:00", "10.0.0.9", "10.128.0.1", packet, 200
    )
    assert len(frame) == 200
    assert parse_plain(frame) == ("10.0.0.9", packet)
    label = (0 + 1) << 16 | 1 << 12 | 5  # chain 0, position 1, node 5
    mpls = frame[:12] + b"\x88\x47" + (label << 12 | 0x1FF).to_bytes(4, "big") + frame[14:]
    parsed = parse_mpls(mpls)
    assert parsed is not None
    assert (parsed.chain, parsed.position, parsed.node) == (0, 1, 5)
    assert parsed.packet == packet


def node(cap: float) -> NodeInstances:
    return NodeInstances(
        "pop1",
        cap,
        [("a", "b")],
        {"a": (5.0, 0.0), "b": (5.0, 0.0)},
        {"a": lambda x: x, "b": lambda x: x},
        time_scale=10.0,
    )


def test_capacity_is_shared_by_the_node_and_released_after_delay_plus_duration() -> None:
    n = node(cap=1.0)
    assert n.admit((1, 0, 0, 0), "a", 1.0, 1.0, now=0.0) is None  # no instance: dropped
    n.running = {"a", "b"}
    assert n.admit((2, 0, 0, 0), "a", 1.0, 1.0, now=0.0) == pytest.approx(0.05)
    assert n.admit((2, 0, 0, 0), "a", 1.0, 1.0, now=0.01) == pytest.approx(0.05)  # same flow
    assert n.admit((3, 0, 0, 1), "b", 1.0, 1.0, now=0.03) is None  # node full (a holds 1)
    assert n.admit((4, 0, 0, 1), "b", 1.0, 1.0, now=0.061) is not None  # released at 0.06
    assert n.counters["b"].flows_rejected == 1
    assert n.counters["a"].flows_rejected == 1 and n.counters["a"].flows_admitted == 1


def test_schedule_follows_the_simulators_arrivals_and_uses_distinct_sources() -> None:
    scenario = load_scenario(SCENARIOS / "abilene-in3.yaml")
    plan = LabPlan(scenario, "mlx00", unit_mbps=0.64)
    flows = flow_schedule(scenario, 5.0, 10.0, 4, plan.sources(), plan.sinks())
    assert 100 < len(flows) < 200  # 3 ingress, 10 ms mean, 500 scenario ms
    assert all(f.packets == 4 for f in flows)
    per_ingress = [f.src_ip for f in flows if f.ingress == 0][:32]
    assert len(set(per_ingress)) == len(per_ingress)  # consecutive flows, own addresses
    assert flows == flow_schedule(scenario, 5.0, 10.0, 4, plan.sources(), plan.sinks())


def test_plan_gives_a_valid_wiring_file() -> None:
    scenario = load_scenario(SCENARIOS / "abilene-in3.yaml")
    plan = LabPlan(scenario, "mlx00", unit_mbps=0.64)
    wiring = build_wiring(None, WiringFile.model_validate(plan.wiring()), scenario.network)
    assert set(wiring.sf_ports) == set(scenario.network.node_ids)
    assert set(wiring.ingress_ports) >= {"pop0", "pop1", "pop2"}
    assert len(plan.role("sink")) == 3  # no egress nodes: sinks at the ingress nodes
    assert all(len(h.iface) <= 15 for h in plan.hosts)


def test_outcomes_and_summary() -> None:
    flows = [{"flow_id": i, "ingress": 0, "arrival_ms": i * 10.0, "packets": 2} for i in range(5)]
    received = {"0/0": [2, 2, 1.0, 1.0015], "0/1": [1, 2, 2.0, 2.001], "0/2": [2, 2, 3.0, 5.0]}
    rows = classify(flows, received, {"0/3": "pop4"}, time_scale=10.0, ttl_ms=100.0)
    assert [r["outcome"] for r in rows] == ["success", "INCOMPLETE", "TTL", "NODE_CAP", "LOST"]
    summary = summarise(rows)
    assert summary["success_ratio"] == 0.2
    assert summary["drops_by_node"] == {"pop4": 1}
    assert summary["delay_ms"] == pytest.approx(0.15)


def test_chain_order() -> None:
    reports = [
        {"firsts": [[1, 0, 0, 0, 1.0], [2, 0, 0, 1, 1.0]]},
        {"firsts": [[1, 0, 0, 1, 2.0], [2, 0, 0, 0, 3.0]]},
    ]
    assert chain_order(reports) == {"flows_checked": 2, "flows_in_order": 1}


def test_fault_parsing_and_units() -> None:
    assert Fault.parse("fail", "pop6@12.5") == Fault("fail", "pop6", None, 12.5)
    assert Fault.parse("restore", "pop1-pop10@3").link == ("pop1", "pop10")
    with pytest.raises(ValueError):
        Fault.parse("fail", "pop6")
    scenario = load_scenario(SCENARIOS / "triangle.yaml")
    # 4 frames of 200 bytes in 10 ms per unit of rate
    assert LabConfig(SCENARIOS / "triangle.yaml").unit_mbps(scenario) == pytest.approx(0.64)


class FakeSf(NodeProcessLink):
    """Answers like an SF process at the other end of its pipes."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), io.BytesIO())
        self.running: set[str] = set()

    def ask(self, line: str) -> dict[str, object]:
        verb, _, sf = line.partition(" ")
        (self.running.add if verb == "start" else self.running.discard)(sf)
        return {"ok": True, "running": sorted(self.running)}


def test_manager_over_the_json_lines_socket(tmp_path: Path) -> None:
    sfs = {"pop1": FakeSf(), "pop2": FakeSf()}
    manager = LabInstanceManager(dict(sfs))
    server = InstanceServer(manager, tmp_path / "i.sock")
    server.start()
    try:
        client = JsonLinesInstanceManager(f"unix:{tmp_path / 'i.sock'}")

        async def talk() -> None:
            running = await client.start({"pop1": frozenset({"a", "b"}), "pop2": frozenset("c")})
            assert running == {"pop1": frozenset({"a", "b"}), "pop2": frozenset({"c"})}
            running = await client.stop({"pop1": frozenset({"b"})})
            assert running == {"pop1": frozenset({"a"}), "pop2": frozenset({"c"})}
            assert client.running() == running

        asyncio.run(talk())
        assert sfs["pop1"].running == {"a"}
        manager.follow({"pop2": ["c"], "pop1": []})
        assert manager.running() == {"pop2": frozenset({"c"})}
        assert [r[1:] for r in manager.requests][-1] == ("stop", "pop1", "a")
    finally:
        server.close()


def test_fault_report_states_recovery_from_lost_flows(tmp_path: Path) -> None:
    # time scale 10: arrival 1000 ms -> 10 s of wall time; a failure at 10 s
    flows = [{"arrival_ms": t * 100.0, "outcome": "success"} for t in range(0, 100)]
    flows += [{"arrival_ms": 1005.0, "outcome": "LOST"}, {"arrival_ms": 1120.0, "outcome": "LOST"}]
    flows += [{"arrival_ms": 1200.0 + t * 10.0, "outcome": "NODE_CAP"} for t in range(10)]
    timeline = [
        {"t_s": float(t), "generated": 10, "successful": 10 if t < 10 else 5, "success_ratio": 1.0}
        for t in range(20)
    ]
    info = {"time_scale": 10.0, "scenario": "s", "policy": "p"}
    info["events"] = [{"t": 10.0, "action": "fail", "target": "pop6"}]
    metrics = LabMetrics({"success_ratio": 0.9, "generated": 112, "drops": {}}, flows, timeline, {})
    metrics.info.update(info)
    text = fault_report(tmp_path, metrics, "cmd").read_text()
    assert "arrived from 10.05 s to 11.20 s (2 flows): traffic recovered 1.20 s after" in text
    # arriving after 11.2 s: 88 successful (12.0 .. 99.0 s), 10 rejected (12.0 .. 12.9 s)
    assert "after recovery 0.898 (98 flows" in text
    assert (tmp_path / "faults.png").exists()


def test_fault_report_keeps_each_failures_losses_apart(tmp_path: Path) -> None:
    flows = [{"arrival_ms": t * 100.0, "outcome": "success"} for t in range(0, 300)]
    flows += [{"arrival_ms": 1010.0, "outcome": "LOST"}, {"arrival_ms": 2050.0, "outcome": "LOST"}]
    timeline = [
        {"t_s": float(t), "generated": 10, "successful": 10, "success_ratio": 1.0}
        for t in range(30)
    ]
    info = {"time_scale": 10.0, "scenario": "s", "policy": "p"}
    info["events"] = [
        {"t": 10.0, "action": "fail", "target": "pop6"},
        {"t": 20.0, "action": "fail", "target": "pop7"},
    ]
    metrics = LabMetrics({"success_ratio": 1.0, "generated": 302, "drops": {}}, flows, timeline, {})
    metrics.info.update(info)
    text = fault_report(tmp_path, metrics, "cmd").read_text()
    assert "pop6 failed at 10.00 s: flows lost in the network" in text
    assert "arrived from 10.10 s to 10.10 s (1 flows): traffic recovered 0.10 s" in text
    assert "arrived from 20.50 s to 20.50 s (1 flows): traffic recovered 0.50 s" in text
