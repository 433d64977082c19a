"""The simulator's semantics on hand-made networks where every outcome is known."""

from __future__ import annotations

import pytest

from agent.model.scenario import Failure, ObservationModel
from agent.model.types import Decision
from agent.sim.engine import Simulator
from agent.sim.metrics import Totals
from agent.sim.schedule import DecisionError
from tests.conftest import line_network, scenario, services, traffic

# a on pop1, b on pop2; flows enter at pop0.
CHAIN_DECISION = Decision(
    placement={"pop1": ("a",), "pop2": ("b",)},
    schedule={
        "pop0": {"sfc_1": {"a": {"pop1": 1.0}}},
        "pop1": {"sfc_1": {"b": {"pop2": 1.0}}},
    },
)


def run(sim: Simulator, decision: Decision, steps: int) -> Totals:
    for _ in range(steps):
        sim.step(decision)
    return sim.finish()


def test_flows_traverse_the_chain_with_path_and_processing_delay() -> None:
    sim = Simulator(scenario(), seed=1)
    totals = run(sim, CHAIN_DECISION, 5)
    # deterministic arrivals every 10 ms from t=0: 50 flows in 500 ms
    assert totals.generated == 50
    assert totals.dropped == 0
    assert totals.successful + totals.in_flight == 50
    # 3 ms to pop1, 5 ms for a, 3 ms to pop2, 5 ms for b
    assert set(totals.delays) == {16.0}


def test_node_capacity_drops_when_loads_overlap() -> None:
    # one flow every 2 ms, each holds its SF for 5 + 1 ms: at most 2 fit on cap 2,
    # so 1 of every 3 arrivals finds the node full; the second SF has room for none extra
    sim = Simulator(scenario(tr=traffic(inter_arrival_mean=2.0)), seed=1)
    totals = run(sim, CHAIN_DECISION, 3)
    assert totals.drops["NODE_CAP"] > 0
    assert totals.drops_by_node.keys() <= {"pop1", "pop2"}
    # accept, accept, full, accept, accept, full, ...: a third is dropped at pop1
    assert totals.drops["NODE_CAP"] / totals.generated == pytest.approx(1 / 3, abs=0.01)
    assert set(totals.drops_by_node) == {"pop1"}


def test_missing_instance_counts_as_node_cap_drop() -> None:
    decision = Decision({"pop1": ("a",)}, CHAIN_DECISION.schedule)
    totals = run(Simulator(scenario(), seed=1), decision, 2)
    assert totals.successful == 0
    assert totals.drops["NODE_CAP"] == totals.dropped > 0
    assert set(totals.drops_by_node) == {"pop2"}


def test_missing_schedule_rule_is_a_decision_drop() -> None:
    decision = Decision(CHAIN_DECISION.placement, {"pop0": {"sfc_1": {"a": {"pop1": 1.0}}}})
    totals = run(Simulator(scenario(), seed=1), decision, 2)
    assert totals.drops["DECISION"] == totals.dropped > 0
    assert set(totals.drops_by_node) == {"pop1"}


def test_ttl_shorter_than_the_path_drops_with_reason_ttl() -> None:
    totals = run(Simulator(scenario(tr=traffic(ttl_choices=[10])), seed=1), CHAIN_DECISION, 2)
    # 3 + 5 + 3 = 11 ms before b can start processing: TTL 10 runs out on the way
    assert totals.successful == 0
    assert totals.drops["TTL"] == totals.dropped > 0


def test_link_capacity_is_held_for_the_flow_duration() -> None:
    net = line_network(link_cap=1.0)
    # rate 1 and size 0.005 Mb: 5 ms duration, arrivals every 2 ms overlap on the link
    tr = traffic(inter_arrival_mean=2.0, flow_size_shape=0.005)
    totals = run(
        Simulator(scenario(network=net, svc=services(delay=0.5), tr=tr), seed=1), CHAIN_DECISION, 2
    )
    assert totals.drops["LINK_CAP"] > 0


def test_resource_function_scales_demand() -> None:
    # 3 * load on a cap-2 node: no single flow fits
    svc = services(resource="3 * load")
    totals = run(Simulator(scenario(svc=svc), seed=1), CHAIN_DECISION, 2)
    assert totals.successful == 0
    assert totals.drops["NODE_CAP"] == totals.dropped


def test_weighted_round_robin_follows_weights_exactly_within_a_step() -> None:
    net = line_network(caps=(0, 10, 10))
    decision = Decision(
        {"pop1": ("a", "b"), "pop2": ("a", "b")},
        {
            "pop0": {"sfc_1": {"a": {"pop1": 0.7, "pop2": 0.3}}},
            "pop1": {"sfc_1": {"b": {"pop1": 1.0}}},
            "pop2": {"sfc_1": {"b": {"pop2": 1.0}}},
        },
    )
    sim = Simulator(scenario(network=net), seed=1)
    sim.step(decision)
    reports = sim.observation.reports
    requested_b = {
        n: r.traffic["sfc_1"]["b"] for n, r in reports.items() if "b" in r.traffic.get("sfc_1", {})
    }
    assert requested_b == {"pop1": 7.0, "pop2": 3.0}


def test_same_seed_same_result_and_other_seed_differs() -> None:
    sc = scenario(tr=traffic(deterministic_arrival=False, inter_arrival_mean=3.0))
    first = run(Simulator(sc, seed=5), CHAIN_DECISION, 5)
    again = run(Simulator(sc, seed=5), CHAIN_DECISION, 5)
    other = run(Simulator(sc, seed=6), CHAIN_DECISION, 5)
    assert (first.generated, first.successful, first.drops) == (
        again.generated,
        again.successful,
        again.drops,
    )
    assert (first.generated, first.successful) != (other.generated, other.successful)


def test_failed_node_drops_flows_and_recovers_after_repair() -> None:
    failure = Failure(down_at=200.0, up_at=400.0, node="pop2")
    sim = Simulator(scenario(failures=(failure,)), seed=1)
    per_step = []
    for _ in range(6):
        result = sim.step(CHAIN_DECISION)
        per_step.append((result.metrics.drops["FAILURE"], result.metrics.successful))
        if result.metrics.step == 2:
            assert result.observation.down_nodes == {"pop2"}
    # a flow takes 16 ms, so the flow born at 90 ms completes in step 1
    assert per_step[:2] == [(0, 9), (0, 10)]
    # from 200 ms every flow leaving pop1 for the failed pop2 is dropped at once
    # (born 190..290 ms in step 2, 300..390 ms in step 3)
    assert per_step[2:4] == [(11, 0), (10, 0)]
    assert per_step[4:] == [(0, 9), (0, 10)]  # the instance restarted on repair at 400 ms


def test_failed_link_reroutes_or_drops_when_no_path() -> None:
    failure = Failure(down_at=0.0, up_at=None, link=frozenset({"pop1", "pop2"}))
    totals = run(Simulator(scenario(failures=(failure,)), seed=1), CHAIN_DECISION, 2)
    assert totals.drops["FAILURE"] == totals.dropped == totals.generated


def test_observation_is_delayed_and_partial() -> None:
    model = ObservationModel(delay_steps=2, reporting_nodes=["pop0", "pop1"])
    sim = Simulator(scenario(observation=model), seed=1)
    assert sim.observation.reports == {}
    for step in range(4):
        observation = sim.step(CHAIN_DECISION).observation
        if step < 2:
            assert observation.reports == {}
    assert set(observation.reports) == {"pop0", "pop1"}
    assert observation.missing == ("pop2",)
    report = observation.reports["pop0"]
    assert report.measured_at == 200.0 and report.age == 200.0
    assert report.arrivals == 10 and report.ingress_traffic == 10.0


def test_lost_reports_keep_the_previous_one_with_its_true_age() -> None:
    model = ObservationModel(report_probability=0.5)
    sim = Simulator(scenario(observation=model), seed=3)
    ages: set[float] = set()
    for _ in range(30):
        observation = sim.step(CHAIN_DECISION).observation
        ages.update(r.age for r in observation.reports.values())
    assert 0.0 in ages and max(ages) >= 200.0


def test_unknown_names_in_a_decision_are_rejected() -> None:
    sim = Simulator(scenario(), seed=1)
    with pytest.raises(DecisionError, match="unknown node 'pop9'"):
        sim.step(Decision({}, {"pop9": {"sfc_1": {"a": {"pop1": 1.0}}}}))
    with pytest.raises(DecisionError, match="unknown service function 'zz'"):
        sim.step(Decision({}, {"pop0": {"sfc_1": {"zz": {"pop1": 1.0}}}}))
    with pytest.raises(DecisionError, match="weight -1"):
        sim.step(Decision({}, {"pop0": {"sfc_1": {"a": {"pop1": -1}}}}))
