"""Compiled rules forward as the decision says: properties over generated decisions.

Decisions (schedules with one to three destinations per entry, some weights zero,
random failed nodes and links) go through ``Compiled`` as the daemon's planner does,
into a ``FakeNetwork`` wired like the simulator's topologies; packets walk from every
live ingress.

Sources: 128 * SOURCES_PER_SLOT addresses, SOURCES_PER_SLOT for each value of the
SELECT hash mod 128 (stratified sampling). The compiler's groups have one bucket or
128 unit buckets, so over these sources every group sees every bucket equally often:
the measured shares are the groups' exact shares, with no sampling error. What is
left is the compiler's rounding to 128ths (largest remainder: under 1/128 per share)
and, for joint choices, its slot layouts (module notes of ``agent.rules.compiler``:
joint shares within about 2 % of the product, that is within 3 slots of 128).

Against the simulator (``schedule: random``, no capacity or TTL drops), per ingress:
TV(network, simulator) <= NET_TV_BOUND + sampling. NET_TV_BOUND covers the network's
own distance from independent choices with the exact weights: rounding (under 3/256
per choice with up to three destinations, three choices) and the layouts' dependence
(at most 0.072 in 200 random Abilene schedules with every node scheduling).
Sampling: the simulator's empirical distribution over M flows and K outcomes is
within sqrt((K - 1) / M) / 2 + sqrt(ln(1 / SIM_DELTA) / 2M) of its own, but for a
chance below SIM_DELTA (see ``sampling_bound``).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.model.scenario import Failure, Scenario, ScheduleMode, load_scenario
from agent.model.types import Decision, placement_from_schedule
from agent.model.wiring import Wiring, synthetic_wiring
from agent.rules.compiler import SELECT_SLOTS, CompileContext, RuleCompiler, label
from agent.rules.diff import plan_changes
from agent.rules.intents import FlowIntent, GroupIntent, Intent
from agent.runtime.overrides import Overrides
from agent.runtime.planner import Compiled
from agent.sim.engine import Simulator
from agent.sim.flows import Flow
from agent.southbound.base import Snapshot
from agent.southbound.fake_network import FakeNetwork, Walk, source_hash
from tests.conftest import TOPOLOGIES

SCENARIOS = ("abilene-in3", "triangle", "ibm-zoo")
SOURCES_PER_SLOT = 2
SLOT = 1 / SELECT_SLOTS
PAIR_BOUND = 3 * SLOT  # the compiler's "about 2 %", in whole slots (2 % of 128 is 2.56)
NET_TV_BOUND = 0.10  # network vs independent choices: rounding (3 SFs: <= 3/128) + layouts
SIM_FLOWS = 3000  # per live ingress, at least
SIM_DELTA = 1e-4  # chance that sampling alone breaks the simulator comparison, per ingress
# The same examples on every run (CI must not turn red on a new draw; exploring further
# is a local run with derandomize off). The later-choice bound is known to fail for some
# schedules (the strict xfail below shows one); a random draw may find another.
EXAMPLES = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Schedule = dict[str, dict[str, dict[str, dict[str, float]]]]


@cache
def scenario(name: str) -> Scenario:
    return load_scenario(TOPOLOGIES / f"scenarios/{name}.yaml")


@cache
def wiring(name: str) -> Wiring:
    return synthetic_wiring(scenario(name).network)


@cache
def sources() -> tuple[str, ...]:
    """SOURCES_PER_SLOT addresses for each value of the SELECT hash mod 128."""
    found: list[str] = []
    per_slot: Counter[int] = Counter()
    i = 0
    while len(found) < SELECT_SLOTS * SOURCES_PER_SLOT:
        address = f"10.200.{i >> 8}.{i & 0xFF}"
        i += 1
        slot = source_hash(address) % SELECT_SLOTS
        if per_slot[slot] < SOURCES_PER_SLOT:
            per_slot[slot] += 1
            found.append(address)
    return tuple(found)


@dataclass(frozen=True)
class Case:
    name: str
    decision: Decision  # as generated
    safe: Decision  # after safety checks, as compiled
    intents: tuple[Intent, ...]
    down_nodes: frozenset[str]
    down_links: frozenset[frozenset[str]]

    @property
    def sfs(self) -> tuple[str, ...]:
        return scenario(self.name).services.chains[self.chain]

    @property
    def chain(self) -> str:
        return next(iter(scenario(self.name).services.chains))

    def weights(self, node: str, position: int) -> dict[str, float]:
        per_sf = self.safe.schedule.get(node, {}).get(self.chain, {})
        return dict(per_sf.get(self.sfs[position], {}))

    @property
    def ingress(self) -> list[str]:
        return [n for n in scenario(self.name).network.ingress if n not in self.down_nodes]


def compile_case(
    name: str, decision: Decision, down_nodes: frozenset[str], down_links: frozenset[frozenset[str]]
) -> Case:
    scen = scenario(name)
    topo = CompileContext(scen.network, scen.services, wiring(name), scen.routing)
    compiled = Compiled(scen.network, scen.services, lambda dn, dl: RuleCompiler(topo, dn, dl))
    snap = Snapshot(None, down_nodes, down_links, frozenset(), {})
    safe, intents = compiled(decision, Overrides(), snap)
    return Case(name, decision, safe, tuple(intents), down_nodes, down_links)


@st.composite
def cases(draw: st.DrawFn, name: str) -> Case:
    net, services = scenario(name).network, scenario(name).services
    nodes = net.node_ids
    entry = st.dictionaries(st.sampled_from(nodes), st.integers(0, 9), min_size=1, max_size=3)
    schedule: Schedule = {}
    for node in nodes:
        for chain, sfs in services.chains.items():
            for sf in sfs:
                if draw(st.integers(0, 19)) > 0:  # now and then an entry is missing
                    weights = {d: float(w) for d, w in draw(entry).items()}
                    schedule.setdefault(node, {}).setdefault(chain, {})[sf] = weights
    placement = dict(placement_from_schedule(schedule))
    drop_one = draw(st.booleans())
    if placement and drop_one:  # an SF missing where traffic goes: dropped there
        node, sf = draw(st.sampled_from(missing_candidates(schedule, placement)))
        placement[node] = tuple(s for s in placement[node] if s != sf)
    down_nodes = draw(st.frozensets(st.sampled_from(nodes), max_size=2))
    links = [link.key for link in net.links]
    down_links = draw(st.frozensets(st.sampled_from(links), max_size=2))
    return compile_case(name, Decision(placement, schedule), down_nodes, down_links)


def missing_candidates(
    schedule: Schedule, placement: dict[str, tuple[str, ...]]
) -> list[tuple[str, str]]:
    """(node, SF) pairs to take out of the placement: preferably where the node sends
    the SF to itself (the delivery that skips the flow table's placement check)."""
    pairs = sorted((node, sf) for node, sfs in placement.items() for sf in sfs)
    local = [
        (node, sf)
        for node, sf in pairs
        if any(w.get(sf, {}).get(node, 0) > 0 for w in schedule.get(node, {}).values())
    ]
    return local or pairs


def walks(case: Case) -> dict[str, list[Walk]]:
    """Per live ingress, one walk per source address."""
    net = FakeNetwork(wiring(case.name))
    net.load(case.intents)
    net.down_nodes, net.down_links = case.down_nodes, case.down_links
    found: dict[str, list[Walk]] = {}
    nodes = scenario(case.name).network.node_ids
    for node in case.ingress:
        port = wiring(case.name).ingress_ports[node][0]
        dst = f"10.1.{nodes.index(node)}.1"  # the sink host at the ingress itself
        found[node] = [net.walk(node, port, src, dst) for src in sources()]
    return found


# ---------------------------------------------------------------------- walks


def check_walk(case: Case, ingress: str, walk: Walk) -> None:
    index = {n: i for i, n in enumerate(scenario(case.name).network.node_ids)}
    assert walk.end != "loop", walk
    assert not set(walk.switches) & case.down_nodes, walk
    here = ingress
    for k, visit in enumerate(walk.sf_visits):
        assert visit.label == label(0, k, index[visit.node]), (k, walk)  # in order, for here
        assert case.weights(here, k).get(visit.node, 0.0) > 0, (here, k, walk)
        assert case.decision.schedule[here][case.chain][case.sfs[k]][visit.node] > 0
        assert case.sfs[k] in case.safe.placement.get(visit.node, ()), (k, walk)
        here = visit.node
    done = len(walk.sf_visits)
    if done < len(case.sfs):  # stopped early: only where the decision sends nowhere live
        assert walk.end == "dropped", walk
        weights = case.weights(here, done)
        assert not weights or any(
            case.sfs[done] not in case.safe.placement.get(dst, ()) for dst in weights
        ), (walk, weights)
    elif walk.end != "delivered":  # the chain ran; only a broken way home drops it
        paths = scenario(case.name).network.shortest_paths(
            scenario(case.name).routing, case.down_nodes, case.down_links
        )
        assert here != ingress and (here, ingress) not in paths, walk


@pytest.mark.parametrize("name", SCENARIOS)
@EXAMPLES
@given(data=st.data())
def test_walks_run_the_chain_in_order_on_scheduled_live_nodes(
    name: str, data: st.DataObject
) -> None:
    case = data.draw(cases(name))
    for ingress, found in walks(case).items():
        for walk in found:
            check_walk(case, ingress, walk)


# ---------------------------------------------------------------------- shares


def shares_at(found: list[Walk], position: int) -> Counter[tuple[str, str]]:
    """(node choosing, node chosen) for the SF at ``position``, over the walks."""
    counts: Counter[tuple[str, str]] = Counter()
    for walk in found:
        nodes = walk.sf_nodes
        if len(nodes) > position:
            counts[(nodes[position - 1], nodes[position]) if position else ("", nodes[0])] += 1
    return counts


def pair_deviation(case: Case, found: list[Walk], k: int) -> float:
    """Largest |P(X_k = n, X_k+1 = b) - P(X_k = n) * w_n(b)| over n and b, where X_k is
    the node running SF k and w_n the safe schedule at n for SF k + 1."""
    total = len(found)
    first = Counter(w.sf_nodes[k] for w in found if len(w.sf_nodes) > k)
    joint = Counter((w.sf_nodes[k], w.sf_nodes[k + 1]) for w in found if len(w.sf_nodes) > k + 1)
    worst = 0.0
    for n, count in first.items():
        weights = case.weights(n, k + 1)
        if not weights or any(
            case.sfs[k + 1] not in case.safe.placement.get(d, ()) for d in weights
        ):
            continue  # some of the SF's traffic is dropped at n: no complete joint
        for b in set(weights) | {b for (a, b) in joint if a == n}:
            expected = count / total * weights.get(b, 0.0)
            worst = max(worst, abs(joint[(n, b)] / total - expected))
    return worst


@pytest.mark.parametrize("name", SCENARIOS)
@EXAMPLES
@given(data=st.data())
def test_first_choice_shares_are_the_scheduled_weights(name: str, data: st.DataObject) -> None:
    case = data.draw(cases(name))
    for ingress, found in walks(case).items():
        weights = case.weights(ingress, 0)
        if not weights:
            assert all(not w.sf_visits for w in found)
            continue
        if any(case.sfs[0] not in case.safe.placement.get(d, ()) for d in weights):
            continue  # flows sent where the SF is missing are dropped there, unseen
        chosen = Counter(w.sf_nodes[0] for w in found if w.sf_nodes)
        assert set(chosen) <= set(weights)
        for dst, weight in weights.items():
            assert abs(chosen[dst] / len(found) - weight) <= SLOT, (ingress, dst, chosen)


@pytest.mark.parametrize("name", ["abilene-in3", "ibm-zoo"])
@EXAMPLES
@given(data=st.data())
def test_first_two_choices_are_independent_within_the_documented_bound(
    name: str, data: st.DataObject
) -> None:
    case = data.draw(cases(name))
    for ingress, found in walks(case).items():
        assert pair_deviation(case, found, 0) <= PAIR_BOUND + SLOT, ingress


@pytest.mark.parametrize("name", ["abilene-in3", "ibm-zoo"])
@EXAMPLES
@given(data=st.data())
def test_later_choices_are_independent_within_the_documented_bound(
    name: str, data: st.DataObject
) -> None:
    case = data.draw(cases(name))
    for ingress, found in walks(case).items():
        assert pair_deviation(case, found, 1) <= PAIR_BOUND + SLOT, ingress


@pytest.mark.xfail(
    reason="the choices at SFs 2 and 3 also depend on the choice at SF 1 (the same hash "
    "meets three layouts); the compiler's bound is for pairs of layouts",
    strict=True,
)
def test_later_choices_can_miss_the_documented_bound() -> None:
    """A known counterexample (found with every node scheduling): from pop1, SF b runs
    on pop6 for 1/3 of the flows, and pop6 sends 8/14 of SF c to pop9, but the joint
    share is 4.7 slots of 128 off the product (bound: 3 + 1 for rounding)."""
    schedule: Schedule = {
        "pop1": {"sfc_1": {"a": {"pop6": 5.0, "pop9": 7.0, "pop5": 9.0}}},
        "pop5": {"sfc_1": {"b": {"pop6": 8.0, "pop9": 7.0, "pop1": 3.0}}},
        "pop6": {
            "sfc_1": {
                "b": {"pop6": 3.0, "pop1": 4.0, "pop4": 6.0},
                "c": {"pop9": 8.0, "pop7": 3.0, "pop4": 3.0},
            }
        },
        "pop9": {"sfc_1": {"b": {"pop10": 3.0}}},
    }
    decision = Decision(placement_from_schedule(schedule), schedule)
    case = compile_case("abilene-in3", decision, frozenset(), frozenset())
    found = walks(case)["pop1"]
    assert pair_deviation(case, found, 0) <= PAIR_BOUND + SLOT  # the first pair holds
    assert pair_deviation(case, found, 1) <= PAIR_BOUND + SLOT


# ---------------------------------------------------------------------- changes


def dangling_after(net: FakeNetwork, intent: Intent) -> list[FlowIntent]:
    """Flows left pointing at a missing group, looking where ``intent`` could make some:
    the flow itself, or every flow when a group went away."""
    if isinstance(intent, GroupIntent):
        return net.dangling()
    if isinstance(intent, FlowIntent) and intent.key in net.rules:
        current = net.rules[intent.key]
        assert isinstance(current, FlowIntent)
        return [
            current
            for a in current.actions
            if a[0] == "group" and ("group", current.dpid, a[1]) not in net.rules
        ]
    return []


@pytest.mark.parametrize("name", SCENARIOS)
@EXAMPLES
@given(data=st.data())
def test_changes_turn_a_into_b_make_before_break(name: str, data: st.DataObject) -> None:
    a, b = data.draw(cases(name)), data.draw(cases(name))
    net = FakeNetwork(wiring(name))
    net.load(a.intents)
    assert not net.dangling()
    for change in plan_changes(a.intents, b.intents):
        assert net.apply([change]) == (), change
        assert not dangling_after(net, change.intent), change
    assert not net.dangling()
    assert len({i.key for i in b.intents}) == len(b.intents)  # no two rules in one place
    assert set(net.dump()) == set(b.intents)


# ---------------------------------------------------------------------- simulator


class RecordingSimulator(Simulator):
    """Remembers, per flow, its ingress and the nodes whose SF instance took it."""

    def __init__(self, scen: Scenario) -> None:
        self.visits: dict[int, list[str]] = {}
        self.origin: dict[int, str] = {}
        self.born: Counter[str] = Counter()
        super().__init__(scen)

    def _on_arrival(self, node: int, time: float) -> None:
        super()._on_arrival(node, time)
        self.origin[self.flow_count] = self.node_ids[node]
        self.born[self.node_ids[node]] += 1

    def _process(self, flow: Flow, time: float) -> None:
        if flow.sf in self.nodes[flow.node].placed:
            self.visits.setdefault(flow.id, []).append(self.node_ids[flow.node])
        super()._process(flow, time)


def unbounded(case: Case) -> Scenario:
    """The case's scenario with room for every flow (no capacities; a TTL of 10 s, far
    above any chain's delays), its failures from the start, per-flow random choices."""
    scen = scenario(case.name)
    net = scen.network
    net = replace(
        net,
        nodes=tuple(replace(n, cap=1e9) for n in net.nodes),
        links=tuple(replace(link, cap=None) for link in net.links),
    )
    config = scen.traffic.config.model_copy(update={"ttl_choices": [1e4]})
    failures = [Failure(0.0, None, node=n) for n in sorted(case.down_nodes)]
    failures += [Failure(0.0, None, link=k) for k in sorted(case.down_links, key=sorted)]
    return replace(
        scen,
        network=net,
        traffic=replace(scen.traffic, config=config),
        failures=tuple(failures),
        schedule_mode=ScheduleMode.RANDOM,
        steps=10**6,
    )


def simulated(case: Case) -> dict[str, Counter[tuple[str, ...]]]:
    """Per live ingress, how many flows ran their SFs on each sequence of nodes."""
    sim = RecordingSimulator(unbounded(case))
    live = case.ingress
    while live and min(sim.born[n] for n in live) < SIM_FLOWS:
        sim.step(case.safe)
    counts: dict[str, Counter[tuple[str, ...]]] = {n: Counter() for n in live}
    for flow_id, origin in sim.origin.items():
        if origin in counts:
            counts[origin][tuple(sim.visits.get(flow_id, ()))] += 1
    return counts


def tv(p: Counter[tuple[str, ...]], q: Counter[tuple[str, ...]]) -> float:
    """Total-variation distance between two empirical distributions."""
    np, nq = sum(p.values()), sum(q.values())
    return 0.5 * sum(abs(p[k] / np - q[k] / nq) for k in set(p) | set(q))


def sampling_bound(outcomes: int, flows: int) -> float:
    """TV between M samples and their distribution, exceeded with chance below SIM_DELTA:
    E[TV] <= sqrt((K - 1) / M) / 2 over K outcomes (Cauchy-Schwarz), plus McDiarmid's
    sqrt(ln(1 / delta) / 2M) (one flow moves TV by at most 1/M)."""
    mean = 0.5 * math.sqrt(max(outcomes - 1, 0) / flows)
    return mean + math.sqrt(math.log(1 / SIM_DELTA) / (2 * flows))


@pytest.mark.parametrize("name", SCENARIOS)
@settings(EXAMPLES, max_examples=8)
@given(data=st.data())
def test_sf_sequences_follow_the_simulator(name: str, data: st.DataObject) -> None:
    case = data.draw(cases(name))
    network = walks(case)
    simulator = simulated(case)
    for ingress, found in network.items():
        net = Counter(w.sf_nodes for w in found)
        sim = simulator[ingress]
        outcomes = len(set(net) | set(sim))
        bound = NET_TV_BOUND + sampling_bound(outcomes, sum(sim.values()))
        assert tv(net, sim) <= bound, (ingress, net, sim)
