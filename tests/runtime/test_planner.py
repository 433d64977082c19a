"""The pure cycle planner with plain values (no thread, no backend): who decides, and
the plan through failure, fallback, override and recovery; and one snapshot per cycle
while the simulator moves on (the policy and the compiler see the same failure set)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from agent.model.scenario import Failure, Scenario, load_scenario
from agent.model.types import Decision, Observation
from agent.model.wiring import synthetic_wiring
from agent.policies.base import PolicyContext
from agent.policies.heuristics import LoadBalancePolicy
from agent.policies.shortest_path import ShortestPathPolicy
from agent.rules.compiler import CompileContext, RuleCompiler
from agent.rules.diff import Change
from agent.rules.intents import Intent
from agent.runtime.config import AgentConfig
from agent.runtime.cycle import DecisionCycle
from agent.runtime.overrides import Overrides, PinOverride
from agent.runtime.planner import Choice, Compiled, choose, plan
from agent.sim.engine import Simulator
from agent.southbound.base import Snapshot
from agent.southbound.sim_backend import SimBackend
from tests.conftest import TOPOLOGIES


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario(TOPOLOGIES / "scenarios/abilene-in3.yaml")


@pytest.fixture(scope="module")
def observation(scenario: Scenario) -> Observation:
    return Simulator(scenario, seed=3).observation


def snapshot(observation: Observation, age: float | None = 0.5, **changes: object) -> Snapshot:
    ages: dict[str, float | None] = dict.fromkeys(("pop0", "pop1"), age)
    snap = Snapshot(observation, frozenset(), frozenset(), frozenset(), ages)
    return dataclasses.replace(snap, **changes)  # type: ignore[arg-type]


def compiled_for(scenario: Scenario) -> tuple[Compiled, dict[str, int]]:
    wiring = synthetic_wiring(scenario.network)
    topology = CompileContext(scenario.network, scenario.services, wiring, scenario.routing)

    def compiler(nodes: frozenset[str], links: frozenset[frozenset[str]]) -> RuleCompiler:
        return RuleCompiler(topology, nodes, links)

    return Compiled(scenario.network, scenario.services, compiler), wiring.dpids


def shortest_path(scenario: Scenario, observation: Observation) -> Decision:
    context = PolicyContext(scenario.network, scenario.services, scenario.routing)
    return ShortestPathPolicy(context).predict(observation)


def test_who_decides(observation: Observation) -> None:
    fresh, stale, none = (snapshot(observation, age) for age in (0.5, 9.0, None))
    assert choose(fresh, "greedy", 5.0, False, False) == Choice("greedy")
    assert choose(stale, "greedy", 5.0, False, True) == Choice("greedy", "monitoring 9.0 s old")
    assert choose(none, "greedy", 5.0, False, True) == Choice("greedy", "no monitoring yet")
    assert choose(stale, "greedy", 5.0, True, True) == Choice(None)  # frozen
    assert choose(fresh, "greedy", 5.0, True, False).policy == "greedy"  # nothing to keep yet


def test_a_failure_a_pin_and_the_repair(scenario: Scenario, observation: Observation) -> None:
    compiled, dpids = compiled_for(scenario)
    overrides = Overrides()
    decision = shortest_path(scenario, observation)
    healthy = snapshot(observation)
    safe, intents = compiled(decision, overrides, healthy)
    first = plan(healthy, safe, intents, [], {})
    assert first.changes and all(c.op == "add" for c in first.changes)
    assert first.start and not first.stop  # instances before rules, none to stop
    # pop9 fails: no weight and no rule toward it; what it had is deleted elsewhere
    broken = snapshot(observation, down_nodes=frozenset({"pop9"}))
    safe, degraded = compiled(decision, overrides, broken)
    targets = {d for c in safe.schedule.values() for w in c["sfc_1"].values() for d in w}
    assert "pop9" not in targets and not [i for i in degraded if i.dpid == dpids["pop9"]]
    running = {n: frozenset(s) for n, s in first.start.items()}
    failed = plan(broken, safe, degraded, intents, running)
    assert {c.intent.dpid for c in failed.changes if c.op == "delete"} >= {dpids["pop9"]}
    # an operator pins pop0's first SF to pop3: pop0's group changes (and the path there)
    overrides.add(PinOverride(kind="pin", node="pop0", chain="sfc_1", sf="a", weights={"pop3": 1}))
    pinned, pinned_intents = compiled(decision, overrides, broken)
    assert pinned.schedule["pop0"]["sfc_1"]["a"] == {"pop3": 1.0}
    pin = plan(broken, pinned, pinned_intents, degraded, {})
    assert any(c.op == "modify" and c.intent.dpid == dpids["pop0"] for c in pin.changes)
    assert pinned.schedule["pop1"] == safe.schedule["pop1"]  # nothing else decided anew
    # pop9 is repaired: its rules come back
    repaired = plan(healthy, *compiled(decision, overrides, healthy), pinned_intents, {})
    assert any(c.op == "add" and c.intent.dpid == dpids["pop9"] for c in repaired.changes)


def installed_after(installed: list[Intent], changes: tuple[Change, ...]) -> dict[object, Intent]:
    """What a switch holds once ``changes`` are applied to ``installed``, by rule key."""
    held: dict[object, Intent] = {intent.key: intent for intent in installed}
    for change in changes:
        if change.op == "delete":
            del held[change.intent.key]
        else:
            held[change.intent.key] = change.intent
    return held


def test_the_fallback_takes_over_from_stale_monitoring_and_hands_back(
    scenario: Scenario, observation: Observation
) -> None:
    compiled, _ = compiled_for(scenario)
    overrides = Overrides()
    context = PolicyContext(scenario.network, scenario.services, scenario.routing)
    fresh, stale = snapshot(observation), snapshot(observation, 9.0)
    assert choose(fresh, "load-balance", 5.0, False, True) == Choice("load-balance")
    ours, ours_intents = compiled(LoadBalancePolicy(context).predict(observation), overrides, fresh)
    first = plan(fresh, ours, ours_intents, [], {})
    running = {n: frozenset(s) for n, s in first.start.items()}
    # monitoring goes stale: the fallback decides, planned against what the policy installed
    choice = choose(stale, "load-balance", 5.0, False, True)
    assert choice == Choice("load-balance", "monitoring 9.0 s old")
    theirs, their_intents = compiled(shortest_path(scenario, observation), overrides, stale)
    over = plan(stale, theirs, their_intents, ours_intents, running)
    assert installed_after(ours_intents, over.changes) == {i.key: i for i in their_intents}
    unchanged = set(ours_intents) & set(their_intents)
    assert over.changes and unchanged  # rules that stay are not sent again: a diff, no wipe
    assert not {c.intent for c in over.changes} & unchanged
    assert over.stop and all(over.stop[n] <= running[n] for n in over.stop)
    # monitoring is fresh again: the policy's rules come back, the same diff reversed
    nodes = set(running) | set(over.start)
    fallback_running = {
        n: (running.get(n, frozenset()) - over.stop.get(n, frozenset()))
        | over.start.get(n, frozenset())
        for n in nodes
    }
    back = plan(fresh, ours, ours_intents, their_intents, fallback_running)
    assert (back.start, back.stop) == (over.stop, over.start)
    assert installed_after(their_intents, back.changes) == {i.key: i for i in ours_intents}
    assert sorted(c.op for c in back.changes) == sorted(
        {"add": "delete", "delete": "add", "modify": "modify"}[c.op] for c in over.changes
    )


def test_an_unreachable_switchs_rules_stay_out_and_compiling_is_memoised(
    scenario: Scenario, observation: Observation
) -> None:
    compiled, dpids = compiled_for(scenario)
    decision = shortest_path(scenario, observation)
    snap = snapshot(observation)
    safe, intents = compiled(decision, Overrides(), snap)
    again = compiled(dataclasses.replace(decision), Overrides(), snap)  # equal, not the same
    assert again[1] is intents  # value-keyed: no second compilation
    gone = snapshot(observation, unreachable=frozenset({dpids["pop9"]}))
    wiped = plan(gone, safe, [], intents, {})  # everything is to go, but not from pop9
    assert wiped.changes and all(c.intent.dpid != dpids["pop9"] for c in wiped.changes)


async def test_one_snapshot_per_cycle_while_the_simulator_moves_on(scenario: Scenario) -> None:
    """The policy steps the simulator past a failure while it decides (as the simulator
    thread does in the daemon): the compiler still uses the failure set the policy saw."""
    failing = dataclasses.replace(
        scenario, failures=(Failure(down_at=150.0, up_at=None, node="pop9"),)
    )
    backend = SimBackend(failing, time_scale=1.0, seed=1)
    backend.sim = backend._new_simulator()  # stepped by hand, no thread
    daemon = DecisionCycle(AgentConfig(), failing, backend)
    seen: list[frozenset[str]] = []
    inner = ShortestPathPolicy(PolicyContext(failing.network, failing.services, failing.routing))

    class MovingOn:
        name = "moving-on"

        def predict(self, observation: Observation) -> Decision:
            seen.append(observation.down_nodes)
            backend._step()
            backend._step()  # the simulator is now past pop9's failure
            return inner.predict(observation)

    try:
        assert (await daemon.cycle()).install_ok  # no monitoring yet: the fallback
        backend._step()
        daemon._policies["moving-on"] = MovingOn()
        daemon.config = daemon.config.model_copy(update={"policy": "moving-on"})
        record = await asyncio.wait_for(daemon.cycle(), 30)
        assert record.install_ok and record.policy == "moving-on"
        assert seen == [frozenset()] and backend.snapshot().down_nodes == {"pop9"}
        pop9 = backend.wiring.dpids["pop9"]
        assert [i for i in daemon.installed if i.dpid == pop9]  # compiled with what it saw
    finally:
        daemon.executor.shutdown(wait=False)
