"""Slice allocations as meters: pure compiler tests."""

from __future__ import annotations

import pytest

from agent.rules.diff import plan_changes
from agent.rules.intents import METER_BASE, FlowIntent, MeterIntent
from agent.rules.slices import (
    SLICE_PRIORITY,
    SliceClass,
    SliceRuleError,
    compile_slices,
    meter_rate,
)

SLICES = (
    SliceClass("embb", {"ip_dscp": 10}, ((1, 5), (1, 6), (2, 5))),
    SliceClass("urllc", {"ip_dscp": 46}, ((1, 5),)),
)


def test_one_meter_per_slice_and_ingress_switch_and_flows_point_at_them() -> None:
    intents = compile_slices(SLICES, {"embb": 8000.0, "urllc": 2000.0})
    meters = sorted((m.dpid, m.meter_id, m.rate) for m in intents if isinstance(m, MeterIntent))
    assert meters == [
        (1, METER_BASE + 1, 8000),
        (1, METER_BASE + 2, 2000),
        (2, METER_BASE + 1, 8000),
    ]
    flows = [f for f in intents if isinstance(f, FlowIntent)]
    assert len(flows) == 4
    for f in flows:
        match = dict(f.match)
        assert f.priority == SLICE_PRIORITY and f.goto_table == 1 and f.actions == ()
        want = METER_BASE + 1 if match["ip_dscp"] == 10 else METER_BASE + 2
        assert f.meter_id == want
        assert match["eth_type"] == 0x0800


def test_a_changed_allocation_modifies_only_the_meters() -> None:
    before = compile_slices(SLICES, {"embb": 8000.0, "urllc": 2000.0})
    after = compile_slices(SLICES, {"embb": 5000.0, "urllc": 5000.0})
    changes = plan_changes(before, after)
    assert {c.op for c in changes} == {"modify"}
    meters = [c.intent for c in changes if isinstance(c.intent, MeterIntent)]
    assert len(meters) == len(changes)
    assert sorted(m.rate for m in meters) == [5000, 5000, 5000]


def test_burst_is_a_tenth_of_a_second_and_rates_stay_positive() -> None:
    assert meter_rate(8000.0) == (8000, 800)
    assert meter_rate(0.0) == (1, 1)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SliceClass("x", {"ipv4_dst": "10.0.0.1"}, ((1, 1),)), "'ipv4_dst' is not one of"),
        (lambda: SliceClass("x", {"ip_dscp": 1}, ()), "no ingress port"),
        (lambda: compile_slices(SLICES, {"embb": 1.0}), "no allocation for slice 'urllc'"),
    ],
)
def test_bad_slices_are_named(make: object, message: str) -> None:
    with pytest.raises(SliceRuleError, match=message):
        make()  # type: ignore[operator]
