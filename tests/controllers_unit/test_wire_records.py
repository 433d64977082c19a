"""The shared wire records (agent/protocol): what one process writes, the other
reads back equal; malformed input is a WireError that names the field."""

from __future__ import annotations

from typing import Any

import pytest

from agent.protocol import (
    DEFAULT_SECTIONS,
    GROUP_RANGE,
    PROTOCOL_VERSION,
    ApplyResult,
    BatchEntry,
    BatchError,
    BucketStats,
    Datapath,
    DumpReply,
    DumpRequest,
    Event,
    FlowStats,
    GroupStats,
    Hello,
    Link,
    MeterStats,
    Monitor,
    Op,
    Port,
    PortStats,
    Subscription,
    Topology,
    WireError,
    decode,
    encode,
    parse_notification,
    request,
    response,
)
from agent.rules.intents import GROUP_BASE, Bucket, GroupIntent, MeterIntent, flow

RULES = (
    flow(1, 0, 100, {"in_port": 1, "ipv4_dst": "10.0.0.0/255.0.0.0"}, (("output", 2),)),
    GroupIntent(1, GROUP_BASE, "select", (Bucket(3, (("output", 1),)),)),
    MeterIntent(2, 0x5D01, 100, 5, "pktps"),
)
MONITOR = Monitor(
    7,
    12.5,
    (PortStats(1, 1, 2, 3, 4, 5, 6),),
    (FlowStats(0, 10, (("in_port", 1),), 99, 4, 400),),
    (GroupStats(GROUP_BASE, 2, 200, (BucketStats(1, 100), BucketStats(1, 100))),),
    (MeterStats(0x5D01, 3, 300),),
)
A_PORT = Port(1, "a", "02:00:00:00:00:01", False)


def through_json(message: dict[str, Any]) -> dict[str, Any]:
    return decode(encode(message))


@pytest.mark.parametrize(
    "record",
    [
        Hello("ctl", (1, 2)),
        Topology({1: Datapath(1, True, (A_PORT,))}, (Link(1, 2, 3, 4),)),
        DumpRequest(),
        DumpRequest(1, 2, (3, 4), (5, 6), frozenset({9, 8})),
        DumpReply(RULES),
        ApplyResult((BatchError(0, None, -1, 2, "bad"), BatchError(3, 1, 2, 9, "BAD_OUT_GROUP"))),
    ],
)
def test_responses_read_back_equal(record: Any) -> None:
    assert type(record).from_wire(through_json(record.to_wire())) == record


def test_batch_entries_and_subscriptions_read_back_equal() -> None:
    entry = BatchEntry("modify", RULES[1])
    wanted = Subscription(2.0, frozenset({"flows", "ports"}))

    assert BatchEntry.from_wire(through_json(entry.to_wire())) == entry
    assert Subscription.from_wire(through_json(wanted.to_wire()), 1.0) == wanted
    assert Subscription.from_wire({}, 1.5) == Subscription(1.5, DEFAULT_SECTIONS)


def test_notifications_read_back_equal() -> None:
    event = Event.port_status(3, 2, False, "delete", 5.0)
    switch = Event.switch(True, 4, 6.0)

    assert parse_notification(through_json(MONITOR.to_wire())) == MONITOR
    assert parse_notification(through_json(event.to_wire())) == event
    assert parse_notification(through_json(switch.to_wire())) == switch
    assert parse_notification({"type": "gossip"}) is None


def test_a_monitor_record_carries_only_the_sections_asked_for() -> None:
    wire = MONITOR.only(frozenset({"ports"})).to_wire()

    assert set(wire) == {"v", "type", "ts", "dpid", "ports"}
    assert Monitor.from_wire(wire) == Monitor(7, 12.5, MONITOR.ports)


def test_envelopes() -> None:
    assert request(4, Op.DUMP, {"cookie": 1}) == {
        "v": PROTOCOL_VERSION,
        "id": 4,
        "op": "dump",
        "cookie": 1,
    }
    assert response(4, {"errors": [1]})["ok"] is False
    assert response(4, {"rules": []})["ok"] is True
    assert response(None, error="bad") == {"v": 1, "id": None, "ok": False, "error": "bad"}
    assert GROUP_RANGE == (GROUP_BASE, GROUP_BASE + 0xFFFFFF)


BAD_PORT = {"datapaths": {"1": {"connected": True, "ports": [{"port_no": 1}]}}}


@pytest.mark.parametrize(
    ("parse", "data", "where"),
    [
        (
            Hello.from_wire,
            {"controller": "c", "datapaths": ["1"], "protocol": 1},
            "hello.datapaths",
        ),
        (Topology.from_wire, {"datapaths": {"x": {}}}, "topology.datapaths.x"),
        (Topology.from_wire, BAD_PORT, "topology.datapaths.1.ports.name"),
        (DumpRequest.from_wire, {"group_min": "low"}, "dump.group_min"),
        (DumpReply.from_wire, {"rules": [{"kind": "flow"}]}, "dump.rules"),
        (BatchEntry.from_wire, {"op": "add", "intent": {"kind": "rocket"}}, "batch entry.intent"),
        (BatchEntry.from_wire, {"op": "zap", "intent": {}}, "batch entry.op"),
        (ApplyResult.from_wire, {"errors": [{"index": 0, "type": -1}]}, "apply.errors.code"),
        (Monitor.from_wire, {"dpid": 1, "ts": 1.0, "ports": [{"port_no": 1}]}, "monitor.ports.rx"),
        (Monitor.from_wire, {"dpid": 1, "ts": "now"}, "monitor.ts"),
        (Event.from_wire, {"event": "meteor", "ts": 1.0}, "event.event"),
        (decode, b"[1, 2]", "JSON object"),
        (decode, b"{", "bad JSON"),
    ],
)
def test_malformed_records_name_the_field(parse: Any, data: Any, where: str) -> None:
    with pytest.raises(WireError, match=where.replace(".", r"\.")):
        parse(data)
