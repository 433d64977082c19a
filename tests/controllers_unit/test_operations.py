"""apply, dump and poll of the controller (controllers/operations.py) against fake
switches: errors by batch index, the dpids filter of dump, sections of a poll."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from agent.protocol import (
    CODE_DISCONNECTED,
    CODE_INVALID,
    CODE_TIMEOUT,
    LOCAL_ERROR_TYPE,
    ApplyResult,
    BatchError,
    DumpRequest,
    PortStats,
)
from agent.rules.intents import (
    GROUP_BASE,
    METER_BASE,
    Bucket,
    GroupIntent,
    Intent,
    MeterIntent,
    flow,
)
from controllers.app import CoordinationShell
from controllers.compat import OFP, PARSER
from tests.controllers_unit.fake_switch import FakeSwitch

GROUP = GROUP_BASE + 1
METER = METER_BASE + 1
Connect = Callable[..., FakeSwitch]


def wire(*batch: tuple[str, Intent]) -> list[dict[str, Any]]:
    return [{"op": op, "intent": intent.to_json()} for op, intent in batch]


def group(dpid: int, group_id: int = GROUP) -> GroupIntent:
    return GroupIntent(dpid, group_id, "select", (Bucket(1, (("output", 2),)),))


def install(app: CoordinationShell, *intents: Intent) -> None:
    result = app.operations.apply(wire(*(("add", i) for i in intents)))
    assert result.ok, result.errors


def test_errors_name_their_batch_index_and_the_rest_is_installed(connect: Connect) -> None:
    switch = connect(1)
    batch = wire(
        ("add", MeterIntent(1, METER, 1000)),
        ("add", flow(1, 0, 10, {"in_port": 1}, (("group", GROUP + 99),))),  # no such group
        ("add", flow(1, 0, 20, {"in_port": 2}, (("output", 3),))),
        ("add", MeterIntent(1, 0, 1000)),  # meter id 0 is invalid
        ("add", flow(999, 0, 20, {"in_port": 2}, (("output", 3),))),  # unknown switch
        ("modify", group(1)),  # modify of a group that does not exist
    )

    result = switch.app.operations.apply(batch)

    assert not result.ok
    by_index = {e.index: e for e in result.errors}
    assert list(by_index) == [1, 3, 4, 5]
    assert (by_index[1].type, by_index[1].code, by_index[1].dpid) == (
        OFP.OFPET_BAD_ACTION,
        OFP.OFPBAC_BAD_OUT_GROUP,
        1,
    )
    assert "BAD_OUT_GROUP" in by_index[1].message
    assert (by_index[3].type, by_index[3].code) == (
        OFP.OFPET_METER_MOD_FAILED,
        OFP.OFPMMFC_INVALID_METER,
    )
    assert by_index[4] == BatchError(
        4, 999, LOCAL_ERROR_TYPE, CODE_DISCONNECTED, "switch not connected"
    )
    assert by_index[5].type == OFP.OFPET_GROUP_MOD_FAILED
    assert METER in switch.meters and len(switch.flows) == 1  # no rollback


@pytest.mark.parametrize(
    "entry",
    [
        "not an object",
        {"op": "add"},
        {"op": "teleport", "intent": flow(1, 0, 1, {}).to_json()},
        {"op": "add", "intent": {"kind": "flow", "dpid": 1}},
        {"op": "add", "intent": {**flow(1, 0, 1, {}).to_json(), "match": [1, 2]}},
        {"op": "add", "intent": flow(1, 0, 1, {}, (("set_field", "mpls_label", "x"),)).to_json()},
    ],
)
def test_a_malformed_entry_is_an_error_at_its_index_only(connect: Connect, entry: Any) -> None:
    switch = connect(1)
    good = wire(("add", flow(1, 0, 5, {"in_port": 1})))

    result = switch.app.operations.apply([*good, entry, *good])

    assert [(e.index, e.type, e.code) for e in result.errors] == [
        (1, LOCAL_ERROR_TYPE, CODE_INVALID)
    ]
    assert len(switch.flows) == 1


def test_a_switch_that_never_confirms_times_out_every_entry_sent_to_it(
    connect: Connect,
) -> None:
    silent = connect(1, silent=True)
    connect(2)
    batch = wire(("add", group(1)), ("add", group(2)), ("add", group(1, GROUP + 1)))

    result = silent.app.operations.apply(batch)

    assert [(e.index, e.dpid, e.code) for e in result.errors] == [
        (0, 1, CODE_TIMEOUT),
        (2, 1, CODE_TIMEOUT),
    ]


def test_a_switch_lost_during_the_batch_fails_its_entries(
    app: CoordinationShell, connect: Connect
) -> None:
    switch = connect(1)
    switch.connected = False  # os-ken's send_msg returns False once the socket is gone

    result = app.operations.apply(wire(("add", group(1)), ("add", group(1, GROUP + 1))))

    assert [(e.index, e.code) for e in result.errors] == [
        (0, CODE_DISCONNECTED),
        (1, CODE_DISCONNECTED),
    ]


def test_a_switch_that_goes_down_before_confirming_fails_its_entries_at_once(
    app: CoordinationShell, connect: Connect
) -> None:
    app.operations.apply_timeout = 60.0  # the answer must come from the disconnect
    switch = connect(1, silent=True)
    results: list[ApplyResult] = []
    worker = threading.Thread(
        target=lambda: results.append(app.operations.apply(wire(("add", group(1)))))
    )
    worker.start()
    deadline = time.monotonic() + 30
    while not any(isinstance(m, PARSER.OFPBarrierRequest) for m in switch.received):
        assert time.monotonic() < deadline, "the barrier was never sent"
        time.sleep(0.01)

    switch.disconnect()  # os-ken's DEAD state change: the router ends the wait
    worker.join(30)

    assert [(e.index, e.code) for e in results[0].errors] == [(0, CODE_DISCONNECTED)]
    assert "before the barrier reply" in results[0].errors[0].message


def test_dump_reads_only_the_switches_asked_for(app: CoordinationShell, connect: Connect) -> None:
    switches = [connect(dpid) for dpid in (1, 2, 3)]
    install(app, *(group(s.id) for s in switches))
    before = [len(s.received) for s in switches]

    only = app.operations.dump(DumpRequest(dpids=frozenset({1, 3, 99})))
    asked = [len(s.received) - n for s, n in zip(switches, before, strict=True)]
    every = app.operations.dump(DumpRequest())

    assert sorted(r.dpid for r in only.rules) == [1, 3]
    assert asked == [3, 0, 3]  # flows, groups, meters of 1 and 3; nothing to 2
    assert sorted(r.dpid for r in every.rules) == [1, 2, 3]
    assert app.operations.dump(DumpRequest(dpids=frozenset())).rules == ()


def test_dump_keeps_to_our_cookie_and_id_ranges(app: CoordinationShell, connect: Connect) -> None:
    switch = connect(1, split_replies=True)  # multipart replies, joined
    ours: list[Intent] = [
        group(1),
        MeterIntent(1, METER, 1000),
        flow(1, 0, 1, {"in_port": 1}),
        flow(1, 0, 2, {"in_port": 2}),
    ]
    foreign = replace(flow(1, 0, 3, {"in_port": 3}), cookie=0x1234)
    install(app, *ours, group(1, 5), MeterIntent(1, 7, 500), foreign)

    rules = app.operations.dump(DumpRequest()).rules

    assert (len(switch.flows), len(switch.groups), len(switch.meters)) == (3, 2, 2)
    assert sorted(map(repr, rules)) == sorted(map(repr, ours))


@pytest.mark.parametrize("how", ["silent", "gone"])
def test_dump_fails_whole_when_a_switch_does_not_answer(
    app: CoordinationShell, connect: Connect, how: str
) -> None:
    connect(1)
    install(app, group(1))
    other = connect(2, silent=how == "silent")
    other.connected = how != "gone"  # gone: send_msg fails, the table not yet told

    with pytest.raises(TimeoutError, match=r"switches \[2\]"):
        app.operations.dump(DumpRequest())
    assert len(app.operations.dump(DumpRequest(dpids=frozenset({1}))).rules) == 1


def test_poll_asks_only_for_the_sections_wanted(app: CoordinationShell, connect: Connect) -> None:
    switch = connect(1, port_numbers=(1, 2))
    install(app, group(1))
    before = len(switch.received)

    ports_only = app.operations.poll(1.0, {"ports"})
    asked = [type(m).__name__ for m in switch.received[before:]]
    everything = app.operations.poll(1.0, {"ports", "flows", "groups", "meters"})

    assert asked == ["OFPPortStatsRequest"]
    record = ports_only[0]
    assert (record.dpid, record.flows, record.groups, record.meters) == (1, None, None, None)
    assert record.ports == (
        PortStats(1, 10, 11, 12, 13, 14, 15),
        PortStats(2, 20, 21, 22, 23, 24, 25),
    )  # LOCAL left out
    full = everything[0]
    assert full.flows == () and full.meters == () and full.groups is not None
    assert [g.group_id for g in full.groups] == [GROUP]


def test_a_switch_that_went_away_gives_no_monitor_record(
    app: CoordinationShell, connect: Connect
) -> None:
    connect(1)
    gone = connect(2)
    gone.connected = False

    records = app.operations.poll(1.0, {"ports"})

    assert [r.dpid for r in records] == [1]
