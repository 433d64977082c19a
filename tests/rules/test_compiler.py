"""Decision -> intents: labels, groups, flows, and what a changed decision changes."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from agent.model.scenario import Scenario, load_scenario
from agent.model.types import Decision
from agent.model.wiring import synthetic_wiring
from agent.rules.compiler import (
    ETH_MPLS,
    SELECT_SLOTS,
    CompileContext,
    RuleCompiler,
    bucket_destinations,
    group_id,
    label,
    slot_weights,
)
from agent.rules.diff import plan_changes
from agent.rules.intents import FlowIntent, GroupIntent, Intent, from_json
from tests.conftest import TOPOLOGIES


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario(TOPOLOGIES / "scenarios/abilene-in3.yaml")


def compiler_for(scenario: Scenario, down: frozenset[str] = frozenset()) -> RuleCompiler:
    topo = CompileContext(scenario.network, scenario.services, synthetic_wiring(scenario.network))
    return RuleCompiler(topo, down)


def split_decision(weights: dict[str, float]) -> Decision:
    """pop0 sends SF a to the given nodes; b and c stay where a ran."""
    schedule: dict[str, dict[str, dict[str, dict[str, float]]]] = {
        "pop0": {"sfc_1": {"a": weights}}
    }
    for node in weights:
        schedule[node] = {"sfc_1": {"b": {node: 1.0}, "c": {node: 1.0}}}
    return Decision({node: ("a", "b", "c") for node in weights}, schedule)


def shares(group: GroupIntent) -> dict[object, int]:
    """Buckets per MPLS label pushed (that is, per destination node)."""
    found: dict[object, int] = {}
    for bucket in group.buckets:
        found[bucket.actions[1][2]] = found.get(bucket.actions[1][2], 0) + bucket.weight
    return found


def groups(intents: Sequence[Intent]) -> dict[tuple[int, int], GroupIntent]:
    return {(g.dpid, g.group_id): g for g in intents if isinstance(g, GroupIntent)}


def test_label_layout() -> None:
    assert label(0, 0, 0) == 1 << 16  # never a reserved MPLS label (0..15)
    assert label(2, 3, 10) == (3 << 16) | (3 << 12) | 10
    with pytest.raises(ValueError):
        label(0, 16, 0)


def test_select_group_weights_follow_the_schedule(scenario: Scenario) -> None:
    compiler = compiler_for(scenario)
    intents = compiler.compile(split_decision({"pop3": 0.7, "pop5": 0.3}))
    wiring = compiler.topo.wiring
    group = groups(intents)[(wiring.dpids["pop0"], group_id(0, 0))]
    assert group.type == "select"
    assert {b.weight for b in group.buckets} == {1} and len(group.buckets) == SELECT_SLOTS
    index = compiler.index
    assert shares(group) == {label(0, 0, index["pop3"]): 90, label(0, 0, index["pop5"]): 38}
    # each bucket leaves toward the next hop of the path to its destination
    for bucket in group.buckets:
        assert bucket.actions[0] == ("push_mpls", ETH_MPLS)  # after the choice: see compiler
        dst = compiler.topo.network.node_ids[int(bucket.actions[1][2]) & 0xFFF]
        hop = compiler.paths[("pop0", dst)].nodes[1]
        assert bucket.actions[2] == ("output", wiring.ports[("pop0", hop)])


def test_every_flow_points_at_an_existing_group(scenario: Scenario) -> None:
    intents = compiler_for(scenario).compile(split_decision({"pop3": 1.0}))
    existing = set(groups(intents))
    for intent in intents:
        if isinstance(intent, FlowIntent):
            for action in intent.actions:
                if action[0] == "group":
                    assert (intent.dpid, action[1]) in existing


def test_sf_delivery_only_where_placed_and_chain_end_pops_the_label(scenario: Scenario) -> None:
    compiler = compiler_for(scenario)
    intents = compiler.compile(split_decision({"pop3": 1.0}))
    wiring, index = compiler.topo.wiring, compiler.index
    flows = {(f.dpid, f.priority, f.match): f for f in intents if isinstance(f, FlowIntent)}
    for node in ("pop3", "pop5"):
        match = tuple(
            sorted({"eth_type": ETH_MPLS, "mpls_label": label(0, 0, index[node])}.items())
        )
        deliver = flows.get((wiring.dpids[node], 200, match))
        if node == "pop3":  # placed: to the SF host
            assert deliver is not None and deliver.actions == (("output", wiring.sf_ports[node]),)
        else:  # not placed: no flow, the table miss drops
            assert deliver is None
    last = tuple(
        sorted(
            {
                "in_port": wiring.sf_ports["pop3"],
                "eth_type": ETH_MPLS,
                "mpls_label": label(0, 2, index["pop3"]),
            }.items()
        )
    )
    end = flows[(wiring.dpids["pop3"], 300, last)]
    assert end.actions == (("pop_mpls", 0x0800),) and end.goto_table == 1


def test_new_weights_modify_groups_only(scenario: Scenario) -> None:
    compiler = compiler_for(scenario)
    before = compiler.compile(split_decision({"pop3": 0.5, "pop5": 0.5}))
    after = compiler.compile(split_decision({"pop3": 0.9, "pop5": 0.1}))
    changes = plan_changes(before, after)
    assert changes and {c.op for c in changes} == {"modify"}
    assert all(isinstance(c.intent, GroupIntent) for c in changes)


def test_failed_node_gets_no_traffic(scenario: Scenario) -> None:
    compiler = compiler_for(scenario, down=frozenset({"pop5"}))
    intents = compiler.compile(split_decision({"pop3": 0.5, "pop5": 0.5}))
    dpid5 = compiler.topo.wiring.dpids["pop5"]
    assert all(i.dpid != dpid5 for i in intents)
    group = groups(intents)[(compiler.topo.wiring.dpids["pop0"], group_id(0, 0))]
    assert len(group.buckets) == 1


def test_slot_weights_round_by_largest_remainder() -> None:
    assert slot_weights([0.7, 0.3]) == [90, 38]
    assert slot_weights([1.0] * 7) == [19, 19] + [18] * 5
    assert sum(slot_weights([0.2, 0.5, 0.3, 0.001])) == SELECT_SLOTS
    assert slot_weights([0.999, 0.001]) == [128, 0]  # below 1/256: rounds to none
    assert slot_weights([0.0, 0.0]) == [0, 0]
    assert slot_weights([1e308, 1e308]) == [64, 64]  # no overflow in the sum


def test_bucket_layouts_keep_the_shares_and_differ_per_position() -> None:
    equal = [1.0] * 7
    layouts = [bucket_destinations(equal, k) for k in range(3)]
    for layout in layouts:
        assert [layout.count(i) for i in range(7)] == slot_weights(equal)
    # the same hash slot picks the same node at two positions about 1/7 of the time
    # (as independent choices would), not always (as equal layouts would)
    layouts = [bucket_destinations(equal, k) for k in range(8)]
    for layout in layouts:
        assert [layout.count(i) for i in range(7)] == slot_weights(equal)
    # the same hash slot picks the same node at two positions up to three apart about
    # 1/7 of the time (as independent choices would), not always (as equal layouts would)
    for a in range(8):
        for b in range(a + 1, min(a + 4, 8)):
            same = sum(x == y for x, y in zip(layouts[a], layouts[b], strict=True))
            assert abs(same / SELECT_SLOTS - 1 / 7) < 0.03, (a, b, same)
    assert bucket_destinations([0.5, 0.5, 0.001], 1).count(2) == 0  # tiny share: none
    assert bucket_destinations([0.0, 0.3], 0) == [1]  # one destination: one bucket


def test_intents_survive_the_wire(scenario: Scenario) -> None:
    intents = compiler_for(scenario).compile(split_decision({"pop3": 0.6, "pop8": 0.4}))
    assert [from_json(i.to_json()) for i in intents] == intents


def test_consecutive_sfs_on_one_node_go_back_through_the_sf_port(scenario: Scenario) -> None:
    """After SF a the packet re-enters the group of b from the SF port: when b runs on
    the same node the bucket must output to in_port (plain output to the ingress port
    is dropped by OpenFlow)."""
    compiler = compiler_for(scenario)
    intents = compiler.compile(split_decision({"pop3": 1.0}))  # a, b, c all on pop3
    second = groups(intents)[(compiler.topo.wiring.dpids["pop3"], group_id(0, 1))]
    assert [b.actions[-1] for b in second.buckets] == [("output", "in_port")]
    # the first group is entered from an ingress port: its buckets name real ports
    entry = groups(intents)[(compiler.topo.wiring.dpids["pop0"], group_id(0, 0))]
    assert all(b.actions[-1] != ("output", "in_port") for b in entry.buckets)


def test_unchanged_schedule_entries_reuse_their_group(scenario: Scenario) -> None:
    compiler = compiler_for(scenario)
    key = (compiler.topo.wiring.dpids["pop0"], group_id(0, 0))
    first = groups(compiler.compile(split_decision({"pop3": 0.5, "pop5": 0.5})))
    again = groups(compiler.compile(split_decision({"pop3": 0.5, "pop5": 0.5})))
    other = groups(compiler.compile(split_decision({"pop3": 0.6, "pop5": 0.4})))
    assert again[key] is first[key]  # the diff compares them at once
    assert other[key] is not first[key] and shares(other[key]) != shares(first[key])
