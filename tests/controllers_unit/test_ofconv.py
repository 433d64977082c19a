"""Intent -> OpenFlow message -> (switch) -> statistics reply -> intent, and the
monitor and port conversions, against a fake switch."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agent.protocol import (
    BucketStats,
    DumpRequest,
    FlowStats,
    GroupStats,
    MeterStats,
    Port,
    PortStats,
)
from agent.rules.intents import (
    COOKIE,
    COOKIE_MASK,
    GROUP_BASE,
    METER_BASE,
    Bucket,
    FlowIntent,
    GroupIntent,
    Intent,
    MeterIntent,
    flow,
)
from controllers import ofconv
from controllers.compat import OFP, PARSER
from tests.controllers_unit.fake_switch import (
    FakeSwitch,
    flow_stats,
    group_stats,
    meter_stats,
    port,
    port_stats,
)

GROUP = GROUP_BASE + 1
METER = METER_BASE + 1
SELECT = GroupIntent(
    1, GROUP, "select", (Bucket(70, (("output", 2),)), Bucket(30, (("output", 3),)))
)

INTENTS: list[Intent] = [
    MeterIntent(1, METER, 1000),
    MeterIntent(1, METER + 1, 50, burst=10, unit="pktps"),
    SELECT,
    GroupIntent(1, GROUP + 1, "ff", (Bucket(0, (("output", 3),)), Bucket(0, (("output", 2),)))),
    GroupIntent(1, GROUP + 2, "all", (Bucket(0, (("output", 1),)), Bucket(0, (("output", 2),)))),
    flow(1, 0, 100, {"in_port": 1}, (("group", GROUP),)),
    flow(
        1,
        0,
        200,
        {"eth_type": 0x0800, "ipv4_dst": "10.0.0.0/255.255.255.0", "in_port": 2},
        (("output", "in_port"), ("output", "controller")),
        meter_id=METER,
    ),
    flow(
        1,
        0,
        300,
        {"eth_type": 0x8847, "mpls_label": 4097, "in_port": 3},
        (("set_field", "mpls_label", 4098), ("dec_mpls_ttl",), ("output", 2)),
    ),
    flow(1, 0, 400, {"in_port": 3, "eth_type": 0x0800}, (("push_mpls", 0x8847),), goto_table=1),
    flow(1, 1, 10, {"eth_type": 0x8847, "in_port": 2}, (("pop_mpls", 0x0800), ("output", 1))),
    flow(1, 0, 5, {"in_port": 2}),  # no actions: drop
]


def test_every_intent_comes_back_from_the_switch_as_it_went_in(
    connect: Callable[..., FakeSwitch],
) -> None:
    switch = connect(1)
    operations = switch.app.operations

    result = operations.apply([{"op": "add", "intent": i.to_json()} for i in INTENTS])
    back = operations.dump(DumpRequest()).rules

    assert result.ok, result.errors
    assert (len(switch.flows), len(switch.groups), len(switch.meters)) == (6, 3, 2)
    assert all(isinstance(r, FlowIntent | GroupIntent | MeterIntent) for r in back)
    assert sorted(map(repr, back)) == sorted(map(repr, INTENTS))


def test_equal_buckets_read_back_are_one_object() -> None:
    many = GroupIntent(1, GROUP, "select", tuple(SELECT.buckets * 50))
    mod = ofconv.to_message(None, "add", many)
    stat = PARSER.OFPGroupDescStats(mod.type, mod.group_id, mod.buckets)

    back = ofconv.group_from_stats(1, stat)

    assert back == many and len({id(b) for b in back.buckets}) == 2


def test_flow_commands_and_cookies() -> None:
    rule = flow(1, 0, 100, {"in_port": 1}, (("output", 2),), meter_id=METER)

    add, modify, delete = (ofconv.to_message(None, op, rule) for op in ("add", "modify", "delete"))

    assert (add.command, add.cookie, add.cookie_mask) == (OFP.OFPFC_ADD, COOKIE, 0)
    assert (modify.command, modify.cookie_mask) == (OFP.OFPFC_MODIFY_STRICT, COOKIE_MASK)
    assert (delete.command, delete.cookie_mask) == (OFP.OFPFC_DELETE_STRICT, COOKIE_MASK)
    assert [type(i).__name__ for i in add.instructions] == [
        "OFPInstructionMeter",
        "OFPInstructionActions",
    ]
    assert not delete.instructions


def test_group_and_meter_messages() -> None:
    ff = GroupIntent(1, GROUP, "ff", (Bucket(5, (("output", 3),)),))

    modify = ofconv.to_message(None, "modify", SELECT)
    failover = ofconv.to_message(None, "add", ff)
    meter = ofconv.to_message(None, "add", MeterIntent(1, METER, 50, burst=10, unit="pktps"))
    delete = ofconv.to_message(None, "delete", MeterIntent(1, METER, 50))

    assert modify.command == OFP.OFPGC_MODIFY and [b.weight for b in modify.buckets] == [70, 30]
    assert failover.buckets[0].watch_port == 3 and failover.buckets[0].weight == 0
    assert meter.flags == OFP.OFPMF_STATS | OFP.OFPMF_PKTPS | OFP.OFPMF_BURST
    assert (meter.bands[0].rate, meter.bands[0].burst_size) == (50, 10)
    assert delete.command == OFP.OFPMC_DELETE and delete.bands == []


@pytest.mark.parametrize(
    ("op", "intent", "problem"),
    [
        ("replace", SELECT, "unknown batch op"),
        ("add", flow(1, 0, 1, {"in_port": 1}, (("output", "everywhere"),)), "port name"),
        ("add", flow(1, 0, 1, {"no_such_field": 1}), "bad match"),
        ("add", GroupIntent(1, GROUP, "fancy", ()), "group type"),  # type: ignore[arg-type]
        ("add", flow(1, 0, 1, {}, (("set_field", "no_such_field", 1),)), "bad action"),
    ],
)
def test_what_openflow_cannot_say_is_a_conversion_error(
    op: str, intent: Intent, problem: str
) -> None:
    with pytest.raises(ofconv.ConversionError, match=problem):
        ofconv.to_message(None, op, intent)


def test_an_action_intents_cannot_express_still_differs() -> None:
    action = ofconv.action_to_intent(PARSER.OFPActionSetQueue(1))

    assert action == ("output", "unsupported:OFPActionSetQueue")


def test_statistics_become_monitor_records() -> None:
    mod = ofconv.to_message(None, "add", SELECT)
    rule = flow(1, 0, 100, {"in_port": 1, "eth_type": 0x0800}, (("output", 2),))
    meter = ofconv.to_message(None, "add", MeterIntent(1, METER, 1000))

    assert ofconv.monitor_port(port_stats(2)) == PortStats(2, 20, 21, 22, 23, 24, 25)
    assert ofconv.monitor_flow(flow_stats(ofconv.to_message(None, "add", rule))) == FlowStats(
        0, 100, (("eth_type", 0x0800), ("in_port", 1)), COOKIE, 7, 700
    )
    assert ofconv.monitor_group(group_stats(mod)) == GroupStats(
        GROUP, 6, 600, (BucketStats(3, 300), BucketStats(3, 300))
    )
    assert ofconv.monitor_meter(meter_stats(meter)) == MeterStats(METER, 5, 500)


def test_port_descriptions() -> None:
    down = port(4, "s1-eth4", up=False)

    assert ofconv.port_desc(port(3, "s1-eth3")) == Port(3, "s1-eth3", "02:00:00:00:00:03", True)
    assert ofconv.port_desc(down).up is False
    assert ofconv.is_physical(4) and not ofconv.is_physical(OFP.OFPP_LOCAL)
