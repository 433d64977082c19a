"""apply and dump against real switches: groups, flows, meters, errors, ownership."""

from __future__ import annotations

import re

from agent.rules.intents import (
    COOKIE,
    GROUP_BASE,
    METER_BASE,
    Bucket,
    GroupIntent,
    Intent,
    MeterIntent,
    flow,
)
from agent.southbound.controller_client import ApplyResult, BatchOp
from tests.support.ovs_testbed import OvsTestbed, Wiring
from tests.support.processes import ControllerProcess, run_async, wait_until

GROUP = GROUP_BASE + 1
METER = METER_BASE + 1


def apply(controller: ControllerProcess, batch: list[tuple[BatchOp, Intent]]) -> ApplyResult:
    async def go() -> ApplyResult:
        async with controller.client() as ctl:
            return await ctl.apply(batch)

    return run_async(go)


def dump(controller: ControllerProcess) -> list[Intent]:
    async def go() -> list[Intent]:
        async with controller.client() as ctl:
            return await ctl.dump()

    return run_async(go)


def select_group(w: Wiring, weights: tuple[int, int]) -> GroupIntent:
    s1 = w.switch(1)
    buckets = (
        Bucket(weights[0], (("output", w.port_towards(1, 2)),)),
        Bucket(weights[1], (("output", w.port_towards(1, 4)),)),
    )
    return GroupIntent(s1.dpid, GROUP, "select", buckets)


def flow_to_group(w: Wiring) -> Intent:
    src = w.host("src1")
    return flow(src.dpid, 0, 100, {"in_port": src.port_no}, (("group", GROUP),))


def test_select_group_with_weights_and_flow_pointing_at_it(
    controller: ControllerProcess, bed: OvsTestbed, wiring: Wiring
) -> None:
    result = apply(
        controller, [("add", select_group(wiring, (70, 30))), ("add", flow_to_group(wiring))]
    )

    assert result.ok, result.errors
    groups = bed.ofctl(1, "dump-groups")
    assert f"group_id={GROUP},type=select" in groups
    assert "weight:70,actions=output:22" in groups and "weight:30,actions=output:24" in groups
    flows = bed.ofctl(1, "dump-flows")
    assert f"cookie={COOKIE:#x}" in flows and f"in_port=10 actions=group:{GROUP}" in flows


def test_modifying_group_weights_keeps_the_flow_and_its_counters(
    controller: ControllerProcess, bed: OvsTestbed, wiring: Wiring
) -> None:
    assert apply(
        controller, [("add", select_group(wiring, (70, 30))), ("add", flow_to_group(wiring))]
    ).ok
    # traffic into the flow, then read its counter (OVS counters lag about 1 s)
    bed.in_host("src1", "ping", "-c", "3", "-i", "0.1", "-W", "0.2", "10.0.0.100", check=False)
    before = wait_until(
        lambda: _packets(bed.ofctl(1, "dump-flows")) >= 3 and _packets(bed.ofctl(1, "dump-flows")),
        "the flow's packet counter",
    )

    result = apply(controller, [("modify", select_group(wiring, (20, 80)))])

    assert result.ok, result.errors
    groups = bed.ofctl(1, "dump-groups")
    assert "weight:20,actions=output:22" in groups and "weight:80,actions=output:24" in groups
    assert _packets(bed.ofctl(1, "dump-flows")) >= before  # same flow entry, not re-created


def test_batch_errors_name_the_failing_message(
    controller: ControllerProcess, bed: OvsTestbed, wiring: Wiring
) -> None:
    s1 = wiring.switch(1)
    batch: list[tuple[BatchOp, Intent]] = [
        ("add", MeterIntent(s1.dpid, METER, 1000)),
        ("add", flow(s1.dpid, 0, 10, {"in_port": 10}, (("group", GROUP + 99),))),  # no such group
        ("add", flow(s1.dpid, 0, 20, {"in_port": 11}, (("output", 22),))),
        ("add", MeterIntent(s1.dpid, 0, 1000)),  # meter id 0 is invalid
        ("add", flow(999, 0, 20, {"in_port": 11}, (("output", 22),))),  # unknown switch
    ]

    result = apply(controller, batch)

    assert not result.ok
    by_index = {e.index: e for e in result.errors}
    assert list(by_index) == [1, 3, 4]
    # OFPET_BAD_ACTION / OFPBAC_BAD_OUT_GROUP, from the switch, matched by xid
    assert (by_index[1].type, by_index[1].code, by_index[1].dpid) == (2, 9, s1.dpid)
    assert "BAD_OUT_GROUP" in by_index[1].message
    assert by_index[3].type == 12  # OFPET_METER_MOD_FAILED
    assert (by_index[4].type, by_index[4].code) == (-1, 1)  # controller side: not connected
    # no rollback: the good messages are installed
    assert "priority=20,in_port=11 actions=output:22" in bed.ofctl(1, "dump-flows")
    assert f"meter={METER}" in bed.ofctl(1, "dump-meters")


def test_dump_returns_exactly_our_rules(
    controller: ControllerProcess, bed: OvsTestbed, wiring: Wiring
) -> None:
    s2 = wiring.switch(2)
    ours: list[Intent] = [
        MeterIntent(s2.dpid, METER, 2000, 0, "kbps"),
        select_group(wiring, (70, 30)),
        flow_to_group(wiring),
        flow(
            s2.dpid,
            0,
            200,
            {"eth_type": 0x0800, "ipv4_dst": "10.0.0.100", "in_port": 21},
            (("output", 23),),
            meter_id=METER,
        ),
        flow(
            s2.dpid,
            0,
            300,
            {"eth_type": 0x8847, "mpls_label": 4097, "in_port": 21},
            (("set_field", "mpls_label", 4098), ("output", 23)),
        ),
    ]
    assert apply(controller, [("add", r) for r in ours]).ok
    # foreign rules: another cookie, a group and a meter outside our ranges
    bed.ofctl(1, "add-flow", "cookie=0x1234,priority=5,in_port=11,actions=output:22")
    bed.ofctl(1, "add-group", "group_id=5,type=select,bucket=weight:1,output:22")
    bed.ofctl(2, "add-meter", "meter=7,kbps,band=type=drop,rate=500")

    rules = dump(controller)

    assert sorted(map(repr, rules)) == sorted(map(repr, ours))
    assert re.search(r"cookie=0x1234", bed.ofctl(1, "dump-flows"))  # untouched


def _packets(dump_flows: str) -> int:
    found = re.search(r"n_packets=(\d+)", dump_flows)
    assert found, dump_flows
    return int(found.group(1))
