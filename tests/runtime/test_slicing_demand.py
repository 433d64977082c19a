"""Measured slice demand: the slice flows' byte counters (as the controller backend logs
them) -> kbit/s per slice, through counter resets, first samples and missing switches;
the engine allocates it on a backend that reads counters, the scenario's elsewhere."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from agent.model.scenario import load_scenario
from agent.protocol import FlowStats, Monitor, PortStats
from agent.rules.intents import FlowIntent
from agent.rules.slices import SLICE_PRIORITY, SliceClass
from agent.runtime.slicing import (
    HOLD_STEPS,
    STALL_S,
    DemandMeter,
    flow_rate_kbps,
    load_engine,
)
from agent.southbound.controller_backend import (
    ControllerBackend,
    CounterPoint,
    Match,
    SliceFlowLog,
    SwitchCounters,
)
from tests.conftest import TOPOLOGIES
from tests.southbound.test_controller_backend import WIRING

THREE = TOPOLOGIES / "slicing/three-service.yaml"
CLASSES = (
    SliceClass("embb", {"ip_dscp": 10}, ((1, 5),)),
    SliceClass("urllc", {"ip_dscp": 46}, ((1, 5),)),
    SliceClass("mmtc", {"ip_dscp": 8}, ((1, 5), (2, 7))),
)
KBPS_1000 = 62_500  # bytes in 0.5 s at 1,000 kbit/s


def match(port: int, dscp: int) -> Match:
    return (("eth_type", 0x0800), ("in_port", port), ("ip_dscp", dscp))


def steady(kbps: float, start: float, until: float, every: float = 0.5) -> list[CounterPoint]:
    """A counter refreshed every ``every`` s by traffic at ``kbps``, first seen on time."""
    points, t = [], start
    while t <= until + 1e-9:
        points.append(CounterPoint(t, round(kbps * 1000 / 8 * (t - start))))
        t += every
    return points


# ---------------------------------------------------------------- one flow's rate


def test_the_rate_is_taken_between_the_times_values_were_first_seen() -> None:
    points = steady(2000.0, 100.0, 104.0)
    assert flow_rate_kbps(points, 104.1, 2.0) == pytest.approx(2000.0)
    # only about the last window counts: a rise shows at once, not averaged away
    rising = [*steady(1000.0, 100.0, 103.0), CounterPoint(103.5, 3 * 125_000 + 4 * KBPS_1000)]
    rising.append(CounterPoint(104.0, rising[-1].bytes + 4 * KBPS_1000))
    assert flow_rate_kbps(rising, 104.1, 1.0) == pytest.approx(4000.0)
    assert flow_rate_kbps(rising, 104.1, 4.0) == pytest.approx(1750.0)


def test_a_first_sample_has_no_rate_but_an_idle_flow_has_rate_zero() -> None:
    assert flow_rate_kbps([], 100.0, 1.0) is None
    assert flow_rate_kbps([CounterPoint(100.0, 5000)], 100.0, 1.0) is None
    assert flow_rate_kbps([CounterPoint(100.0, 5000)], 100.0 + STALL_S / 2, 1.0) is None
    # unchanged for longer than a counter refresh takes: nothing passed since
    assert flow_rate_kbps([CounterPoint(100.0, 5000)], 100.0 + STALL_S + 0.1, 1.0) == 0.0
    stopped = steady(1000.0, 100.0, 102.0)
    assert flow_rate_kbps(stopped, 106.0, 1.0) == 0.0
    assert flow_rate_kbps(stopped, 102.6, 2.0) == pytest.approx(1000.0)  # not stalled yet
    # stalled at 103.5: of the 2 s window from 101.5 only 0.5 s carried traffic
    assert flow_rate_kbps(stopped, 103.5, 2.0) == pytest.approx(250.0)


def test_a_counter_that_went_down_was_reset_and_counts_anew() -> None:
    before = steady(1000.0, 100.0, 101.0)  # 125,000 bytes at 101.0
    after = [CounterPoint(101.5, 40_000), CounterPoint(102.0, 40_000 + KBPS_1000)]
    rate = flow_rate_kbps(before + after, 102.1, 2.0)
    # 100 -> 101 s: 125,000 bytes; by 101.5 the re-added flow counted 40,000; then 62,500
    assert rate == pytest.approx((125_000 + 40_000 + 62_500) * 8 / 1000 / 2.0)
    assert rate is not None and rate > 0


# ---------------------------------------------------------------- slices over switches


def meter() -> DemandMeter:
    return DemandMeter({(1, match(5, 46)): "urllc", (1, match(5, 8)): "mmtc",
                        (2, match(7, 8)): "mmtc"})  # fmt: skip


def test_a_slice_sums_its_switches_and_a_missing_switch_is_held_a_while() -> None:
    m = meter()
    both = {
        1: SwitchCounters(104.0, {match(5, 46): tuple(steady(3000.0, 100.0, 104.0)),
                                  match(5, 8): tuple(steady(500.0, 100.0, 104.0)),
                                  match(9, 1): tuple(steady(9999.0, 100.0, 104.0))}),
        2: SwitchCounters(104.0, {match(7, 8): tuple(steady(700.0, 100.0, 104.0))}),
    }  # fmt: skip
    rates = m.measure(both, 2.0)
    assert rates == pytest.approx({"urllc": 3000.0, "mmtc": 1200.0})  # not our flow: ignored
    # switch 2 stops reporting: its last rate stands in for HOLD_STEPS intervals
    only_one = {1: both[1]}
    for _ in range(HOLD_STEPS):
        assert m.measure(only_one, 2.0)["mmtc"] == pytest.approx(1200.0)
    assert m.measure(only_one, 2.0)["mmtc"] == pytest.approx(500.0)
    # no switch at all: held, then nothing is known
    for _ in range(HOLD_STEPS):
        assert m.measure({}, 2.0) == pytest.approx({"urllc": 3000.0, "mmtc": 500.0})
    assert m.measure({}, 2.0) == {}


def test_a_switch_seen_once_is_not_measured_yet() -> None:
    first = {1: SwitchCounters(100.0, {match(5, 46): (CounterPoint(100.0, 123_456),)})}
    assert meter().measure(first, 1.0) == {}


# ---------------------------------------------------------------- the backend's log


def flow(dscp: int, byte_count: int, priority: int = SLICE_PRIORITY) -> FlowStats:
    return FlowStats(0, priority, match(5, dscp), 1, byte_count // 1000, byte_count)


def test_the_log_keeps_changes_with_when_they_were_first_seen() -> None:
    log = SliceFlowLog(keep_s=2.0)
    log.add(1, 100.0, [flow(46, 0), flow(10, 7, priority=50)])
    log.add(1, 100.25, [flow(46, 0)])
    log.add(1, 100.5, [flow(46, KBPS_1000)])
    log.add(1, 100.4, [flow(46, 1)])  # older than what was seen: ignored
    log.add(1, 100.75, [flow(46, KBPS_1000)])
    switch = log.counters([1, 2])[1]
    assert switch.ts == 100.75 and list(switch.flows) == [match(5, 46)]
    assert switch.flows[match(5, 46)] == (CounterPoint(100.0, 0), CounterPoint(100.5, KBPS_1000))
    for i in range(2, 12):
        log.add(1, 100.0 + i * 0.5, [flow(46, i * KBPS_1000)])
    points = log.counters([1])[1].flows[match(5, 46)]
    assert points[0].seen <= 105.5 - 2.0 < points[1].seen  # one point before the window
    log.add(1, 106.0, [flow(10, 5, priority=50)])  # the slice flow is gone
    assert log.counters([1])[1].flows == {}
    log.drop(1)
    assert log.counters([1]) == {}


def backend(tmp_path: Path) -> ControllerBackend:
    scenario = load_scenario(TOPOLOGIES / "scenarios/triangle.yaml")
    (tmp_path / "wiring.yaml").write_text(yaml.safe_dump(WIRING))
    return ControllerBackend("unix:/nonexistent", str(tmp_path / "wiring.yaml"), scenario)


def test_port_observations_keep_their_window_when_records_come_faster(tmp_path: Path) -> None:
    b = backend(tmp_path)  # poll_interval 1 s; slice counters make records come every 0.25 s
    for i in range(9):
        ts = 100.0 + i * 0.25
        b._on_monitor(Monitor(1, ts, (PortStats(2, rx_bytes=i),), (flow(46, i * 1000),)))
    assert b.latest[1].ts == 102.0 and b.previous[1].ts == 101.0
    assert b.latest[1].flows is None  # flows live in the slice log only
    b.connected = {1}
    points = b.slice_log.counters([1])[1].flows[match(5, 46)]
    assert len(points) == 9


# ---------------------------------------------------------------- the engine


class CountingSwitches:
    """A backend that reads slice counters (as the controller backend does)."""

    def __init__(self, counters: dict[int, SwitchCounters]) -> None:
        self.counters = counters

    def slice_counters(self) -> dict[int, SwitchCounters]:
        return self.counters


def test_the_engine_allocates_measured_demand_and_reports_it() -> None:
    engine = load_engine(THREE, "admm-opt", CLASSES, kbps_per_unit=10.0)
    embb, urllc = match(5, 10), match(5, 46)
    switches = CountingSwitches({
        1: SwitchCounters(104.0, {embb: tuple(steady(6000.0, 100.0, 104.0)),
                                  urllc: tuple(steady(1000.0, 100.0, 104.0))}),
    })  # fmt: skip
    demand, measured = engine.demand(0, switches, interval_s=2.0)
    assert measured == pytest.approx({"embb": 6000.0, "urllc": 1000.0})
    assert demand[:10] == pytest.approx([60.0] * 10)  # 6,000 kbit/s, 10 users, 10 kbit/s a unit
    result = engine.step(demand, 0, measured)
    body = result.to_json()
    assert body["demand_source"] == "measured"
    by_name = {s["name"]: s for s in body["slices"]}
    assert by_name["embb"]["demand_kbps"] == pytest.approx(6000.0)
    assert by_name["mmtc"]["demand_kbps"] is None  # no counter of it yet
    assert by_name["urllc"]["demand"] == pytest.approx(100.0)
    assert any(isinstance(i, FlowIntent) for i in result.intents)


def test_without_counters_or_classes_the_scenario_demand_plays() -> None:
    metered = load_engine(THREE, "admm-opt", CLASSES, kbps_per_unit=10.0)
    demand, measured = metered.demand(5, object(), interval_s=1.0)  # the simulator backend
    assert measured is None and demand.tolist() == metered.scenario_demand(5).tolist()
    assert metered.step(demand, 5).to_json()["demand_source"] == "scenario"
    unmetered = load_engine(THREE, "admm-opt")
    demand, measured = unmetered.demand(2, CountingSwitches({}), interval_s=1.0)
    assert measured is None and demand.tolist() == unmetered.scenario_demand(2).tolist()


def test_the_first_call_subscribes_the_backend_to_flow_statistics(tmp_path: Path) -> None:
    b = backend(tmp_path)
    sent: list[tuple[float, frozenset[str]]] = []

    class Client:
        async def subscribe(self, interval: float, stats: frozenset[str]) -> float:
            sent.append((interval, frozenset(stats)))
            return interval

    async def first_call() -> None:
        b.client = Client()  # type: ignore[assignment]
        assert b.slice_counters() == {}
        assert b._resubscribing is not None
        await b._resubscribing
        b.slice_counters()  # once only

    asyncio.run(first_call())
    assert sent == [(0.25, frozenset({"ports", "flows"}))]
