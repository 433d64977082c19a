"""The daemon's slicing engine: the scenario's demand or measured rates -> allocations
within the capacity -> meters for the slices' traffic classes."""

from __future__ import annotations

import numpy as np
import pytest

from agent.rules.intents import FlowIntent, MeterIntent
from agent.rules.slices import SliceClass
from agent.runtime.slicing import load_engine
from tests.conftest import TOPOLOGIES

THREE = TOPOLOGIES / "slicing/three-service.yaml"
CLASSES = (
    SliceClass("embb", {"ip_dscp": 10}, ((1, 5),)),
    SliceClass("urllc", {"ip_dscp": 46}, ((1, 5),)),
    SliceClass("mmtc", {"ip_dscp": 8}, ((1, 5), (2, 7))),
)


def test_allocations_follow_the_scenario_demand_within_the_capacity() -> None:
    engine = load_engine(THREE, "dynamic", seed=3)
    steps = [engine.step(engine.scenario_demand(t), t) for t in range(8)]
    for result in steps:
        assert [s.name for s in result.slices] == ["embb", "urllc", "mmtc"]
        assert sum(s.allocation for s in result.slices) <= result.capacity * (1 + 1e-9)
        assert all(0.0 <= s.qos <= 1.0 for s in result.slices)
    embb = [r.slices[0].allocation for r in steps]
    assert max(embb) - min(embb) > 1.0  # the demand moves and the allocation with it
    assert engine.scenario_demand(3).tolist() == engine.scenario_demand(3 + 24).tolist()


def test_measured_rates_are_spread_over_users_and_become_meter_rates() -> None:
    engine = load_engine(THREE, "proportional", CLASSES, kbps_per_unit=10.0)
    demand = engine.measured_demand({"embb": 6000.0, "urllc": 1000.0})
    assert demand[:10].tolist() == [60.0] * 10  # 6,000 kbit/s over 10 users, 10 kbit/s a unit
    assert demand[10:15].tolist() == [20.0] * 5 and not demand[15:].any()
    result = engine.step(demand, 0)
    meters = [i for i in result.intents if isinstance(i, MeterIntent)]
    flows = [i for i in result.intents if isinstance(i, FlowIntent)]
    assert len(meters) == 4 and len(flows) == 4  # mmtc enters at two switches
    rates = {s.name: s.rate_kbps for s in result.slices}
    embb_meter = next(m for m in meters if m.meter_id == min(x.meter_id for x in meters))
    assert embb_meter.rate == round(rates["embb"])
    assert np.isclose(rates["embb"], result.slices[0].allocation * 10.0)


def test_a_class_for_an_unknown_slice_is_refused() -> None:
    bad = (SliceClass("video", {"ip_dscp": 34}, ((1, 5),)),)
    with pytest.raises(ValueError, match="'video' is not a slice of three-service"):
        load_engine(THREE, "static", bad)
