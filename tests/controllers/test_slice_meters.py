"""Slices on real switches: the compiled meters carry the allocations, a slice's traffic
above its allocation is cut to it, and a new allocation modifies the meter in place."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from agent.rules.diff import plan_changes
from agent.rules.intents import METER_BASE, Intent, MatchValue, flow
from agent.rules.slices import ROUTING_TABLE, SliceClass, compile_slices
from tests.controllers.test_rules import apply
from tests.controllers.test_traffic import IPV4, SINK_IP, ping, return_path
from tests.support.ovs_testbed import OvsTestbed, Wiring
from tests.support.processes import ControllerProcess
from tests.support.ring_bed import iperf_server

DSCP_EF = 46
IPERF_PORT = 5299
TOLERANCE = 0.15
URLLC = METER_BASE + 1  # the first slice's meter


def to_sink(w: Wiring) -> list[Intent]:
    """Table 0 hands unsliced IPv4 to table 1; table 1 routes to the sink s1 -> s2 -> s3."""
    src = w.host("src1")
    by_dst: dict[str, MatchValue] = {"eth_type": IPV4, "ipv4_dst": SINK_IP}
    return [
        flow(src.dpid, 0, 10, {"eth_type": IPV4}, (), goto_table=ROUTING_TABLE),
        flow(src.dpid, ROUTING_TABLE, 100, by_dst, (("output", w.port_towards(1, 2)),)),
        flow(w.switch(2).dpid, 0, 100, {"in_port": w.port_towards(2, 1)},
             (("output", w.port_towards(2, 3)),)),
        flow(w.switch(3).dpid, 0, 100, {"in_port": w.port_towards(3, 2)},
             (("output", w.host("snk1").port_no),)),
    ]  # fmt: skip


def slices(w: Wiring) -> list[SliceClass]:
    src = w.host("src1")
    return [
        SliceClass("urllc", {"ip_dscp": DSCP_EF}, ((src.dpid, src.port_no),)),
        SliceClass("mmtc", {"ip_dscp": 10}, ((src.dpid, src.port_no),)),
    ]


@pytest.fixture
def iperf(bed: OvsTestbed) -> Iterator[None]:
    with iperf_server(bed, "snk1", IPERF_PORT):
        yield


def received_kbps(bed: OvsTestbed, offered_kbps: int, seconds: int = 4) -> float:
    """UDP marked EF from src1 at ``offered_kbps``; what the sink received, in kbit/s."""
    out = bed.in_host("src1", "iperf3", "-c", SINK_IP, "-p", str(IPERF_PORT), "-u",
                      "-b", f"{offered_kbps}k", "-t", str(seconds), "--tos", str(DSCP_EF << 2),
                      "-J", timeout=60 + seconds)  # fmt: skip
    total = json.loads(out)["end"]["sum"]
    return float(total["bits_per_second"]) * (1 - float(total["lost_percent"]) / 100) / 1000


def meter_rates(bed: OvsTestbed) -> dict[int, int]:
    text = bed.ofctl(1, "dump-meters")
    return {int(m): int(r) for m, r in re.findall(r"meter=(\d+).*?rate=(\d+)", text, re.S)}


def slice_flow_line(bed: OvsTestbed) -> str:
    lines = [ln for ln in bed.ofctl(1, "dump-flows").splitlines() if f"meter:{URLLC}" in ln]
    assert len(lines) == 1, lines
    return lines[0]


def test_meters_carry_allocations_and_cut_traffic_to_them(
    controller: ControllerProcess, bed: OvsTestbed, wiring: Wiring, iperf: None
) -> None:
    w = wiring
    first = compile_slices(slices(w), {"urllc": 4000.0, "mmtc": 1000.0})
    base = to_sink(w) + return_path(w)
    result = apply(controller, [("add", r) for r in base + first])
    assert result.ok, result.errors
    assert meter_rates(bed) == {METER_BASE + 1: 4000, METER_BASE + 2: 1000}
    assert ping(bed, "src1") == 3

    got = received_kbps(bed, 8000)
    print(f"received {got:.0f} kbit/s")
    assert abs(got / 4000 - 1) <= TOLERANCE, f"{got:.0f} kbit/s through a 4,000 kbit/s meter"

    # a new allocation: the meters change in place, the slice's flow stays installed
    installed_flow = slice_flow_line(bed)
    second = compile_slices(slices(w), {"urllc": 2000.0, "mmtc": 3000.0})
    changes = plan_changes(first, second)
    assert {c.op for c in changes} == {"modify"}
    result = apply(controller, [(c.op, c.intent) for c in changes])
    assert result.ok, result.errors
    assert meter_rates(bed) == {METER_BASE + 1: 2000, METER_BASE + 2: 3000}
    packets_before = int(re.findall(r"n_packets=(\d+)", installed_flow)[0])
    packets_after = int(re.findall(r"n_packets=(\d+)", slice_flow_line(bed))[0])
    assert packets_after >= packets_before > 0  # the same flow: its counters kept

    got = received_kbps(bed, 8000)
    print(f"received {got:.0f} kbit/s")
    assert abs(got / 2000 - 1) <= TOLERANCE, f"{got:.0f} kbit/s through a 2,000 kbit/s meter"
