"""The decision cycle on the embedded simulator backend (real simulator, fake switch
table): install, readiness, fallback, overrides, failed installs, reconciliation."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest

from agent.model.scenario import Failure, Scenario, load_scenario
from agent.model.types import Decision, Observation
from agent.rules.compiler import group_id
from agent.rules.diff import Change
from agent.rules.intents import GroupIntent
from agent.runtime.config import AgentConfig
from agent.runtime.cycle import DecisionCycle
from agent.runtime.overrides import FreezeOverride, PinOverride
from agent.southbound.base import InstallError, InstallResult, Snapshot
from agent.southbound.instances import InstanceError, InstanceSet, LoggingInstanceManager
from agent.southbound.sim_backend import SimBackend
from tests.conftest import TOPOLOGIES


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class BrokenPolicy:
    name = "broken"

    def predict(self, observation: Observation) -> Decision:
        raise RuntimeError("weights file corrupted")


@pytest.fixture
def scenario() -> Scenario:
    return load_scenario(TOPOLOGIES / "scenarios/abilene-in3.yaml")


@pytest.fixture
async def setup(scenario: Scenario) -> AsyncIterator[tuple[DecisionCycle, SimBackend, Clock]]:
    clock = Clock()
    backend = SimBackend(scenario, time_scale=1e-4, seed=1, clock=clock)
    daemon = DecisionCycle(AgentConfig(stale_after=5.0), scenario, backend)
    await backend.start()
    yield daemon, backend, clock
    await backend.stop()
    daemon.executor.shutdown(wait=False)


async def step_once(backend: SimBackend) -> None:
    """Let the simulator play at least one step."""
    before = backend.totals.steps
    while backend.totals.steps == before:
        await asyncio.sleep(0.005)


def group_weights(daemon: DecisionCycle, node: str, position: int) -> list[int]:
    """Sorted bucket weight per destination (the MPLS label a bucket pushes)."""
    dpid = daemon.backend.wiring.dpids[node]
    for intent in daemon.installed:
        if isinstance(intent, GroupIntent) and intent.key == ("group", dpid, group_id(0, position)):
            per: dict[object, int] = {}
            for b in intent.buckets:
                per[b.actions[1][2]] = per.get(b.actions[1][2], 0) + b.weight
            return sorted(per.values())
    raise AssertionError("no such group")


async def test_first_cycle_installs_then_ready_after_first_observation(setup) -> None:
    daemon, backend, _ = setup
    record = await daemon.cycle()
    assert record.install_ok and record.changes > 0
    assert record.fallback == "no monitoring yet" and not daemon.ready
    assert sorted(map(repr, await backend.dump())) == sorted(map(repr, daemon.installed))
    await step_once(backend)
    record = await daemon.cycle()
    assert daemon.ready and record.fallback is None and record.changes == 0


async def test_stale_monitoring_hands_over_to_the_fallback(setup) -> None:
    daemon, backend, clock = setup
    await daemon.cycle()
    await step_once(backend)
    assert (await daemon.cycle()).fallback is None
    clock.now += 30.0
    record = await daemon.cycle()
    assert record.fallback is not None and "s old" in record.fallback
    assert daemon.counters.fallbacks == 2


async def test_failing_policy_hands_over_to_the_fallback(setup) -> None:
    daemon, backend, _ = setup
    daemon._policies["broken"] = BrokenPolicy()
    daemon.config = daemon.config.model_copy(update={"policy": "broken"})
    await daemon.cycle()
    await step_once(backend)
    record = await daemon.cycle()
    assert record.policy == "shortest-path" and "weights file corrupted" in (record.fallback or "")
    assert record.install_ok


async def test_pin_override_changes_the_group(setup) -> None:
    daemon, backend, _ = setup
    await daemon.cycle()
    daemon.overrides.add(
        PinOverride(kind="pin", node="pop0", chain="sfc_1", sf="a", weights={"pop3": 3, "pop5": 1})
    )
    record = await daemon.cycle()
    assert record.install_ok and record.changes > 0
    assert sorted(group_weights(daemon, "pop0", 0)) == [32, 96]  # of 128 slots
    assert backend.decision is not None and backend.decision.schedule["pop0"]["sfc_1"]["a"] == {
        "pop3": 0.75,
        "pop5": 0.25,
    }


async def test_rejected_batch_keeps_the_last_good_rules(setup) -> None:
    daemon, backend, _ = setup
    await daemon.cycle()
    good = sorted(map(repr, await backend.dump()))
    good_decision = backend.decision
    backend.table.reject_dpids = {backend.wiring.dpids["pop0"]}
    daemon.overrides.add(
        PinOverride(kind="pin", node="pop0", chain="sfc_1", sf="a", weights={"pop3": 1, "pop5": 1})
    )
    record = await daemon.cycle()
    assert not record.install_ok and "refused" in record.errors[0]
    assert sorted(map(repr, await backend.dump())) == good
    assert backend.decision is good_decision
    assert daemon.counters.install_errors == 1 and daemon.last_error


async def test_partly_applied_batch_is_rolled_back(setup) -> None:
    daemon, backend, _ = setup
    await daemon.cycle()
    good = sorted(map(repr, await backend.dump()))
    # pop3's switch accepts, pop0's refuses: the pop3 part must be undone
    backend.table.reject_dpids = {backend.wiring.dpids["pop0"]}
    daemon.overrides.add(
        PinOverride(kind="pin", node="pop3", chain="sfc_1", sf="b", weights={"pop5": 1})
    )
    daemon.overrides.add(
        PinOverride(kind="pin", node="pop0", chain="sfc_1", sf="a", weights={"pop5": 1})
    )
    record = await daemon.cycle()
    assert not record.install_ok
    assert sorted(map(repr, await backend.dump())) == good


async def test_reconcile_reinstalls_what_a_restarted_switch_lost(setup) -> None:
    daemon, backend, _ = setup
    await daemon.cycle()
    wanted = sorted(map(repr, daemon.installed))
    lost = backend.wiring.dpids["pop3"]
    backend.table.rules = {k: v for k, v in backend.table.rules.items() if v.dpid != lost}
    backend.events.reconcile_reasons.append("switch 4 reconnected")
    record = await daemon.cycle()
    assert record.install_ok and record.changes > 0
    assert sorted(map(repr, await backend.dump())) == wanted
    assert daemon.counters.reconciliations == 1


async def test_freeze_keeps_the_last_decision(setup) -> None:
    daemon, _, _ = setup
    await daemon.cycle()
    first = daemon.last_decision
    daemon.overrides.add(FreezeOverride(kind="freeze"))
    record = await daemon.cycle()
    assert record.policy == "frozen" and daemon.last_decision == first


async def test_backend_outage_is_survived_and_reconciled(
    setup: tuple[DecisionCycle, SimBackend, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon, backend, _ = setup
    await daemon.cycle()

    async def unavailable(dpids: object = None) -> list[object]:
        raise ConnectionError("controller went away")

    real_dump = backend.dump
    monkeypatch.setattr(backend, "dump", unavailable)
    daemon.overrides.add(
        PinOverride(kind="pin", node="pop0", chain="sfc_1", sf="a", weights={"pop8": 1})
    )
    record = await daemon.cycle()  # the batch goes out, its read-back fails
    assert not record.install_ok and "unavailable" in record.errors[0]
    assert daemon.reconcile_pending
    monkeypatch.setattr(backend, "dump", real_dump)
    record = await daemon.cycle()
    assert record.install_ok and daemon.counters.reconciliations == 1
    assert sorted(map(repr, await backend.dump())) == sorted(map(repr, daemon.installed))


async def test_instances_start_before_and_stop_after_the_rules(
    setup: tuple[DecisionCycle, SimBackend, Clock],
) -> None:
    daemon, _, _ = setup
    manager = daemon.instances
    assert isinstance(manager, LoggingInstanceManager)
    await daemon.cycle()
    first = manager.running()
    assert daemon.last_decision is not None
    assert first == {n: frozenset(s) for n, s in daemon.last_decision.placement.items()}
    started = len(manager.requests)
    daemon.overrides.add(
        PinOverride(kind="pin", node="pop0", chain="sfc_1", sf="a", weights={"pop8": 1})
    )
    await daemon.cycle()
    new = [r for r in manager.requests[started:] if r[0] == "start"]
    assert ("start", "pop8", "a") in new
    assert manager.running()["pop8"] >= {"a"}


async def test_a_failing_instance_manager_keeps_the_rules(
    setup: tuple[DecisionCycle, SimBackend, Clock],
) -> None:
    daemon, backend, _ = setup
    await daemon.cycle()
    good = sorted(map(repr, await backend.dump()))

    class Refusing(LoggingInstanceManager):
        async def start(self, wanted: InstanceSet) -> InstanceSet:
            if wanted:
                raise InstanceError("no capacity on the compute host")
            return self.running()

    refusing = Refusing()
    refusing._running = {n: set(s) for n, s in daemon.instances.running().items()}
    daemon.instances = refusing
    daemon.overrides.add(
        PinOverride(kind="pin", node="pop0", chain="sfc_1", sf="a", weights={"pop8": 1})
    )
    record = await daemon.cycle()
    assert not record.install_ok and "no capacity" in record.errors[0]
    assert sorted(map(repr, await backend.dump())) == good


async def test_three_failed_nodes_get_a_repair_plan_within_one_cycle(scenario: Scenario) -> None:
    failed = ("pop4", "pop6", "pop9")
    failures = tuple(Failure(down_at=0.0, up_at=None, node=n) for n in failed)
    broken = dataclasses.replace(scenario, failures=failures)
    backend = SimBackend(broken, time_scale=1e-4, seed=1)
    daemon = DecisionCycle(AgentConfig(), broken, backend)
    await backend.start()
    try:
        await daemon.cycle()
        await step_once(backend)
        assert backend.down()[0] == frozenset(failed)
        record = await daemon.cycle()  # the cycle that sees the failures plans their repair
        assert record.install_ok
        report = daemon.recovery
        assert report is not None and sorted(report.down_nodes) == sorted(failed)
        repaired = [step.label for step in report.plan.steps]
        assert sorted(repaired) == sorted(failed) and report.next_repair == repaired[0]
        # forwarding avoids the failed nodes at once: no weight toward them, no rules on them
        decision = daemon.last_decision
        assert decision is not None
        targets = {d for c in decision.schedule.values() for w in c["sfc_1"].values() for d in w}
        assert not targets & set(failed)
        dead = {backend.wiring.dpids[n] for n in failed}
        assert not [i for i in daemon.installed if i.dpid in dead]
    finally:
        await backend.stop()
        daemon.executor.shutdown(wait=False)


class DisconnectingBackend(SimBackend):
    """The simulator, plus one switch that drops off: changes for it are refused as a
    controller refuses them for a disconnected switch, and it reads as down."""

    dead: frozenset[int] = frozenset()

    def unreachable(self) -> frozenset[int]:
        return self.dead

    def down(self) -> tuple[frozenset[str], frozenset[frozenset[str]]]:
        nodes = frozenset(n for n, d in self.wiring.dpids.items() if d in self.dead)
        return nodes, frozenset()

    def snapshot(self) -> Snapshot:
        down_nodes, down_links = self.down()
        return dataclasses.replace(
            super().snapshot(),
            down_nodes=down_nodes,
            down_links=down_links,
            unreachable=self.unreachable(),
        )

    async def apply(self, changes: list[Change], decision: Decision) -> InstallResult:
        refused = [
            InstallError(i, c.intent.dpid, "switch not connected")
            for i, c in enumerate(changes)
            if c.intent.dpid in self.dead
        ]
        if refused:
            return InstallResult(tuple(refused))
        return await super().apply(changes, decision)


async def test_a_disconnected_switchs_rules_stay_out_of_the_batch(scenario: Scenario) -> None:
    backend = DisconnectingBackend(scenario, time_scale=1e-4, seed=1)
    daemon = DecisionCycle(AgentConfig(), scenario, backend)
    await backend.start()
    try:
        assert (await daemon.cycle()).install_ok
        dead = backend.wiring.dpids["pop9"]
        assert [i for i in daemon.installed if i.dpid == dead]  # it had rules
        backend.dead = frozenset({dead})
        record = await daemon.cycle()
        # the batch reroutes around pop9 and does not try to delete its rules there
        assert record.install_ok, record.errors
        assert not [i for i in daemon.installed if i.dpid == dead]
        assert daemon.counters.install_errors == 0
    finally:
        await backend.stop()
        daemon.executor.shutdown(wait=False)
