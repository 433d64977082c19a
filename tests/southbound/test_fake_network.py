"""The fake network: walks through tables, MPLS, SELECT groups, wiring and failures."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from agent.model.types import Decision
from agent.model.wiring import Wiring, synthetic_wiring
from agent.rules.compiler import CompileContext, RuleCompiler, label
from agent.rules.diff import Change
from agent.rules.intents import Bucket, FlowIntent, GroupIntent, Intent, flow
from agent.southbound.fake_network import FakeNetwork, ForwardingError, source_hash
from agent.southbound.fake_table import BAD_ACTION, BAD_OUT_GROUP
from tests.conftest import line_network, services

MPLS, IPV4 = 0x8847, 0x0800
# line pop0 - pop1 - pop2, synthetic ports: pop0 1->pop1, 2 SF, 3 sink, 4 source;
# pop1 1->pop0, 2->pop2, 3 SF, 4 sink; pop2 1->pop1, 2 SF, 3 sink
SRC, SINK0, SINK2 = "10.0.0.1", "10.1.0.1", "10.1.2.1"


@pytest.fixture
def wiring() -> Wiring:
    return synthetic_wiring(line_network())


def routes(w: Wiring, address: str) -> list[Intent]:
    """IPv4 toward ``address`` along the line."""
    node, port = w.hosts[address]
    target = int(node[3:])
    intents: list[Intent] = []
    for i in range(3):
        here = f"pop{i}"
        out = port if i == target else w.ports[(here, f"pop{i + (1 if target > i else -1)}")]
        intents.append(
            flow(w.dpids[here], 0, 10, {"eth_type": IPV4, "ipv4_dst": address}, (("output", out),))
        )
    return intents


def loaded(w: Wiring, intents: list[Intent]) -> FakeNetwork:
    net = FakeNetwork(w)
    net.load(intents)
    return net


def test_ipv4_walks_hop_by_hop_to_the_host(wiring: Wiring) -> None:
    net = loaded(wiring, routes(wiring, SINK2))
    walk = net.walk("pop0", 4, SRC, SINK2)
    assert (walk.end, walk.host, walk.switches) == ("delivered", SINK2, ["pop0", "pop1", "pop2"])
    missed = net.walk("pop0", 4, SRC, "10.9.9.9")
    assert (missed.end, missed.reason) == ("dropped", "nothing sent on at pop0")


def test_failed_nodes_and_links_drop(wiring: Wiring) -> None:
    net = loaded(wiring, routes(wiring, SINK2))
    net.down_links = frozenset({frozenset({"pop1", "pop2"})})
    assert net.walk("pop0", 4, SRC, SINK2).reason == "link pop1-pop2 is down"
    net.down_links, net.down_nodes = frozenset(), frozenset({"pop1"})
    walk = net.walk("pop0", 4, SRC, SINK2)
    assert (walk.end, walk.switches) == ("dropped", ["pop0", "pop1"])


def test_output_to_the_in_port_needs_the_in_port_action(wiring: Wiring) -> None:
    back = flow(wiring.dpids["pop0"], 0, 10, {"eth_type": IPV4}, (("output", 4),))
    assert loaded(wiring, [back]).walk("pop0", 4, SRC, SINK0).end == "dropped"
    back = flow(wiring.dpids["pop0"], 0, 10, {"eth_type": IPV4}, (("output", "in_port"),))
    walk = loaded(wiring, [back]).walk("pop0", 4, SRC, SINK0)
    assert (walk.end, walk.host) == ("delivered", SRC)


def test_mpls_label_pushed_matched_and_popped(wiring: Wiring) -> None:
    d0, d1, d2 = (wiring.dpids[f"pop{i}"] for i in range(3))
    push = (("push_mpls", MPLS), ("set_field", "mpls_label", 70000), ("output", 1))
    intents: list[Intent] = [
        flow(d0, 0, 50, {"in_port": 4, "eth_type": IPV4}, push),
        flow(d1, 0, 100, {"eth_type": MPLS, "mpls_label": 70000}, (("output", 2),)),
        flow(d2, 0, 100, {"eth_type": MPLS, "mpls_label": 70000}, (("pop_mpls", IPV4),), 1),
        flow(d2, 1, 10, {"eth_type": IPV4, "ipv4_dst": SINK2}, (("output", 3),)),
    ]
    walk = loaded(wiring, intents).walk("pop0", 4, SRC, SINK2)
    assert (walk.end, walk.host) == ("delivered", SINK2)
    other = flow(d1, 0, 100, {"eth_type": MPLS, "mpls_label": 70001}, (("output", 2),))
    intents[1] = other  # a label no flow matches: the table miss drops
    assert loaded(wiring, intents).walk("pop0", 4, SRC, SINK2).reason == "nothing sent on at pop1"


def select(dpid: int, weights: dict[int, int]) -> GroupIntent:
    """A SELECT group: weight per output port."""
    buckets = tuple(Bucket(w, (("output", port),)) for port, w in weights.items())
    return GroupIntent(dpid, 0x5D000001, "select", buckets)


def test_select_shares_follow_bucket_weights(wiring: Wiring) -> None:
    d0 = wiring.dpids["pop0"]
    group = select(d0, {1: 3, 3: 1})  # 3/4 toward pop1, 1/4 to the local sink
    intents: list[Intent] = [
        group,
        flow(d0, 0, 50, {"eth_type": IPV4}, (("group", group.group_id),)),
    ]
    net = loaded(wiring, intents)
    n = 4096
    ends = Counter(net.walk("pop0", 4, f"10.3.{i >> 8}.{i & 255}", SINK2).end for i in range(n))
    # Hoeffding: a share off by more than t has chance 2 exp(-2 n t^2) < 1e-6
    tolerance = math.sqrt(math.log(2e6) / (2 * n))
    assert abs(ends["dropped"] / n - 0.75) <= tolerance  # pop1 has no rules
    assert abs(ends["delivered"] / n - 0.25) <= tolerance


def test_every_switch_sees_the_same_hash(wiring: Wiring) -> None:
    d0, d1 = wiring.dpids["pop0"], wiring.dpids["pop1"]
    intents: list[Intent] = [
        select(d0, {1: 1, 3: 1}),
        flow(d0, 0, 50, {"eth_type": IPV4}, (("group", 0x5D000001),)),
        select(d1, {2: 1, 4: 1}),
        flow(d1, 0, 50, {"eth_type": IPV4}, (("group", 0x5D000001),)),
        *[i for i in routes(wiring, SINK2) if i.dpid == wiring.dpids["pop2"]],
    ]
    net = loaded(wiring, intents)
    for i in range(200):
        src = f"10.3.0.{i}"
        walk = net.walk("pop0", 4, src, SINK2)
        # bucket 0 at pop0 (to pop1) means bucket 0 at pop1 (to pop2) too
        assert walk.host == (SINK2 if source_hash(src) % 2 == 0 else SINK0)


def test_missing_group_and_copies_are_refused(wiring: Wiring) -> None:
    d0 = wiring.dpids["pop0"]
    group = select(d0, {1: 1})
    pointing = flow(d0, 0, 50, {"eth_type": IPV4}, (("group", group.group_id),))
    net = FakeNetwork(wiring)
    errors = net.apply([Change("add", pointing)])  # the fake table's own check
    assert [(e.type, e.code) for e in errors] == [(BAD_ACTION, BAD_OUT_GROUP)]
    net.load([group, pointing])
    assert net.dangling() == []
    net.apply([Change("delete", group)])
    assert net.dangling() == [pointing]
    with pytest.raises(ForwardingError, match="no group"):
        net.walk("pop0", 4, SRC, SINK0)
    twice = flow(d0, 0, 50, {"eth_type": IPV4}, (("output", 1), ("output", 3)))
    with pytest.raises(ForwardingError, match="copies"):
        loaded(wiring, [twice]).walk("pop0", 4, SRC, SINK0)


def test_loops_end_the_walk(wiring: Wiring) -> None:
    d0, d1 = wiring.dpids["pop0"], wiring.dpids["pop1"]
    intents: list[Intent] = [
        flow(d0, 0, 10, {"in_port": 4, "eth_type": IPV4}, (("output", 1),)),
        flow(d0, 0, 10, {"in_port": 1, "eth_type": IPV4}, (("output", "in_port"),)),
        flow(d1, 0, 10, {"eth_type": IPV4}, (("output", "in_port"),)),
    ]
    assert loaded(wiring, intents).walk("pop0", 4, SRC, SINK0).end == "loop"


def test_compiled_chain_runs_its_sfs_and_reaches_the_sink(wiring: Wiring) -> None:
    network = line_network()
    topo = CompileContext(network, services(chain=("a", "b", "c")), wiring)
    schedule = {
        "pop0": {"sfc_1": {"a": {"pop1": 1.0}}},
        "pop1": {"sfc_1": {"b": {"pop2": 1.0}}},
        "pop2": {"sfc_1": {"c": {"pop2": 1.0}}},
    }
    decision = Decision({"pop1": ("a",), "pop2": ("b", "c")}, schedule)
    net = loaded(wiring, RuleCompiler(topo).compile(decision))
    walk = net.walk("pop0", 4, SRC, SINK0)
    assert (walk.end, walk.host) == ("delivered", SINK0)
    assert walk.sf_nodes == ("pop1", "pop2", "pop2")
    assert [v.label for v in walk.sf_visits] == [label(0, 0, 1), label(0, 1, 2), label(0, 2, 2)]
    assert all(isinstance(i, FlowIntent | GroupIntent) for i in net.dump())
