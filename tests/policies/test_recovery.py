"""Recovery policies: DP-OPT against brute force, RATIO and RANDOM, the shipped DeepPR
policy, and the daemon-facing planner."""

from __future__ import annotations

import itertools
import json
from functools import cache

import pytest

from agent.model.network import Link, Network, Node
from agent.model.recovery import (
    RecoveryInstance,
    gnp_instance,
    minimal_trap,
    total_utility,
    zoo_instance,
)
from agent.policies.recovery import DPOptPolicy, RandomPolicy, RatioPolicy, dp_optimal
from agent.policies.recovery.deeppr import SHIPPED, DeepPRPolicy
from agent.policies.recovery.planner import (
    RecoveryReport,
    plan_recovery,
    recovery_instance,
    recovery_report,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def brute_force_orders(instance: RecoveryInstance) -> float:
    return max(total_utility(instance, p) for p in itertools.permutations(instance.to_repair))


def brute_force_allocations(instance: RecoveryInstance) -> float:
    """The optimum over every allocation of one unit per step (C = 1) to any failed node."""

    @cache
    def best(remaining: tuple[int, ...], steps_left: int) -> float:
        if steps_left == 0:
            return 0.0
        values = []
        for v in instance.to_repair:
            if remaining[v] > 0:
                nxt = list(remaining)
                nxt[v] -= 1
                now = sum(instance.utility[w] for w in instance.functional(nxt))
                values.append(now + best(tuple(nxt), steps_left - 1))
        return max(values, default=0.0)

    start = list(instance.demand)
    start[instance.independent] = 0
    return best(tuple(start), instance.horizon)


@pytest.mark.parametrize("seed", range(8))
def test_dp_matches_brute_force_over_orders(seed: int) -> None:
    instance = gnp_instance(7, seed, "adversarial" if seed % 2 else "compliant")
    value, order = dp_optimal(instance)
    assert value == pytest.approx(brute_force_orders(instance))
    assert total_utility(instance, order) == pytest.approx(value)
    assert sorted(order) == sorted(instance.to_repair)


@pytest.mark.parametrize("seed", range(4))
def test_dp_matches_brute_force_over_all_allocations(seed: int) -> None:
    instance = gnp_instance(5, 100 + seed)
    assert dp_optimal(instance)[0] == pytest.approx(brute_force_allocations(instance))


def test_dp_with_working_islands_and_zero_utility_links() -> None:
    # 0 - L(failed link, u=0) - 2(working, cut off) - 3(failed) ; 0 - 4(failed) - 3
    instance = RecoveryInstance(
        name="island",
        n=5,
        edges=((0, 1), (1, 2), (2, 3), (0, 4), (4, 3)),
        demand=(0, 1, 0, 2, 1),
        utility=(1.0, 0.0, 5.0, 1.0, 1.0),
    )
    value, order = dp_optimal(instance)
    assert value == pytest.approx(brute_force_orders(instance))
    assert value == pytest.approx(brute_force_allocations(instance))
    assert order[0] == 1  # reconnecting the island first pays most


def test_minimal_trap_fools_ratio_but_not_dp() -> None:
    instance = minimal_trap()
    assert total_utility(instance, RatioPolicy().order(instance)) == 20.0
    assert DPOptPolicy().order(instance) == [2, 3, 1]
    assert dp_optimal(instance)[0] == 25.0


def test_ratio_and_random_give_valid_orders() -> None:
    instance = zoo_instance("Ibm", 3, "adversarial")
    for policy in (RatioPolicy(), RandomPolicy(5)):
        order = policy.order(instance)
        assert sorted(order) == sorted(instance.to_repair)
        done = {instance.independent}
        for v in order:  # every repair is adjacent to what already works
            assert instance.neighbours[v] & done
            done.add(v)
    assert RandomPolicy(5).order(instance) == RandomPolicy(5).order(instance)
    ratio = RatioPolicy().order(instance)
    first = max(instance.neighbours[0], key=lambda v: instance.utility[v] / instance.demand[v])
    assert instance.utility[ratio[0]] / instance.demand[ratio[0]] == pytest.approx(
        instance.utility[first] / instance.demand[first]
    )


def test_shipped_deeppr_is_small_loads_and_beats_ratio_on_traps() -> None:
    assert sum(p.stat().st_size for p in SHIPPED.iterdir()) < 1_000_000
    card = json.loads((SHIPPED / "card.json").read_text())
    assert card["architecture"] == "node"
    beam = DeepPRPolicy.load()
    greedy = DeepPRPolicy.load(search="greedy")
    for seed in (1, 2):
        instance = gnp_instance(14, seed, "adversarial")
        opt = dp_optimal(instance)[0]
        ratio = total_utility(instance, RatioPolicy().order(instance))
        ours = total_utility(instance, beam.order(instance))
        assert ours >= ratio and ours >= 0.97 * opt
        assert sorted(greedy.order(instance)) == sorted(instance.to_repair)
    assert total_utility(minimal_trap(), beam.order(minimal_trap())) == 25.0


def triangle_network() -> Network:
    nodes = tuple(Node(f"s{i}", 1.0) for i in range(5))
    pairs = (("s0", "s1"), ("s1", "s2"), ("s2", "s3"), ("s0", "s4"), ("s4", "s3"))
    return Network("net", nodes, tuple(Link(a, b, 10.0, 1.0) for a, b in pairs))


def test_planner_models_failed_links_as_nodes() -> None:
    network = triangle_network()
    instance = recovery_instance(network, {"s3", "s4"}, [("s2", "s1")], independent="s0")
    assert instance.labels[-1] == "s1|s2" and instance.n == 6
    assert instance.demand == (0, 0, 0, 1, 1, 1) and instance.utility[-1] == 0.0
    assert instance.neighbours[5] == {1, 2}  # s1 - link - s2 replaces s1 - s2
    plan = plan_recovery(
        network,
        {"s3", "s4"},
        [("s1", "s2")],
        DPOptPolicy(),
        independent="s0",
        utilities={"s2": 5.0},
    )
    assert {s.label for s in plan.steps} == {"s3", "s4", "s1|s2"}
    assert plan.steps[0].label == "s1|s2"  # reconnects the valuable working switch s2
    assert {s.kind for s in plan.steps} == {"switch", "link"}
    assert plan.total_utility == pytest.approx(sum(plan.curve))


def test_recovery_report_is_json_and_updates_after_repairs() -> None:
    network = triangle_network()
    report = recovery_report(network, ["s3", "s4"], [("s1", "s2")], RatioPolicy())
    again = RecoveryReport.model_validate_json(report.model_dump_json())
    assert again == report and report.independent == "s0"
    assert report.next_repair == report.plan.steps[0].label
    later = recovery_report(network, ["s3"], [], RatioPolicy())
    assert [s.label for s in later.plan.steps] == ["s3"]
    with pytest.raises(ValueError, match="independent"):
        recovery_instance(network, ["s0"], [], independent="s0")


def test_planner_with_the_learned_policy_matches_dp_on_a_small_network() -> None:
    network = triangle_network()
    args = (network, {"s3", "s4"}, [("s1", "s2")])
    best = plan_recovery(*args, DPOptPolicy(), utilities={"s2": 5.0})
    ours = plan_recovery(*args, DeepPRPolicy.load(), utilities={"s2": 5.0})
    assert ours.total_utility == pytest.approx(best.total_utility)
