"""Faults inside the decision cycle: a stage that raises, hangs or throws StopIteration
fails that cycle visibly and the next one runs; readiness follows completed cycles."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from agent.model.scenario import Scenario, load_scenario
from agent.model.types import Decision, Observation
from agent.policies.base import Policy
from agent.policies.recovery.planner import recovery_report
from agent.runtime.config import AgentConfig
from agent.runtime.cycle import STALL_INTERVALS, DecisionCycle
from agent.runtime.view import RunningDaemon
from agent.southbound.sim_backend import SimBackend
from tests.conftest import TOPOLOGIES
from tests.runtime.test_cycle import Clock


class Hanging:
    """A policy whose predict blocks until released (a stuck native call, say)."""

    name = "hanging"

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def predict(self, observation: Observation) -> Decision:
        self.release.wait(60)
        raise RuntimeError("released")


class Raising:
    name = "raising"

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def predict(self, observation: Observation) -> Decision:
        raise self.exc


@pytest.fixture
def scenario() -> Scenario:
    return load_scenario(TOPOLOGIES / "scenarios/abilene-in3.yaml")


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # no worker outlives the test


@pytest.fixture
async def daemon(scenario: Scenario) -> AsyncIterator[tuple[DecisionCycle, Clock]]:
    clock = Clock()
    backend = SimBackend(scenario, time_scale=1e-4, seed=1, clock=clock)
    config = AgentConfig(decision_interval=1.0, policy_timeout=0.2, stale_after=5.0)
    daemon = DecisionCycle(config, scenario, backend, clock=clock)
    await backend.start()
    yield daemon, clock
    await backend.stop()
    daemon.executor.shutdown(wait=False)


async def ready(daemon: DecisionCycle) -> None:
    """Cycles until the daemon is ready (the simulator has produced an observation)."""
    for _ in range(2000):
        await daemon.cycle()
        if daemon.ready:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("never ready")


def use(daemon: DecisionCycle, name: str, policy: Policy) -> None:
    daemon._policies[name] = policy


def test_a_recovery_report_with_every_switch_down_is_an_error_not_stop_iteration(
    scenario: Scenario,
) -> None:
    with pytest.raises(ValueError, match="every switch has failed"):
        recovery_report(scenario.network, scenario.network.node_ids, [])


async def test_every_switch_down_leaves_the_cycle_running(
    daemon: tuple[DecisionCycle, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    d, _ = daemon
    await ready(d)
    everything = frozenset(d.scenario.network.node_ids)
    real = d.backend.snapshot
    monkeypatch.setattr(
        d.backend, "snapshot", lambda: dataclasses.replace(real(), down_nodes=everything)
    )
    record = await asyncio.wait_for(d.cycle(), 30)
    assert d.recovery is None  # nothing to plan from, said in the log
    assert d.counters.cycle_failures == 0 and record.policy
    await asyncio.wait_for(d.cycle(), 30)  # and the next cycle runs
    assert d.counters.cycles >= 2


async def test_stop_iteration_in_a_policy_reaches_the_fallback(
    daemon: tuple[DecisionCycle, Clock],
) -> None:
    d, _ = daemon
    await ready(d)
    use(d, "shortest-path-broken", Raising(StopIteration()))
    d.config = d.config.model_copy(update={"policy": "shortest-path-broken"})
    record = await asyncio.wait_for(d.cycle(), 30)
    assert record.policy == "shortest-path" and record.install_ok
    assert record.fallback is not None and "StopIteration" in record.fallback


async def test_a_hanging_policy_hands_over_to_the_fallback_within_its_deadline(
    daemon: tuple[DecisionCycle, Clock], release: threading.Event
) -> None:
    d, _ = daemon
    await ready(d)
    use(d, "stuck", Hanging(release))
    d.config = d.config.model_copy(update={"policy": "stuck"})
    record = await asyncio.wait_for(d.cycle(), 30)
    assert record.policy == "shortest-path" and record.install_ok
    assert record.fallback is not None and "missed its 0.2 s deadline" in record.fallback
    assert d.stalled() is None


async def test_a_failing_fallback_fails_the_cycle_and_the_next_one_runs(
    daemon: tuple[DecisionCycle, Clock],
) -> None:
    d, _ = daemon
    await ready(d)
    installed = list(d.installed)
    use(d, "bad", Raising(KeyError("no such table")))
    d.config = d.config.model_copy(update={"policy": "bad", "fallback": "bad"})
    record = await asyncio.wait_for(d.cycle(), 30)
    assert not record.install_ok and record.errors[0].startswith("cycle failed: policy bad")
    assert d.counters.cycle_failures == 1 and d.installed == installed  # rules kept
    assert "KeyError" in (d.last_error or "")
    d.config = d.config.model_copy(update={"policy": "shortest-path", "fallback": "greedy"})
    record = await asyncio.wait_for(d.cycle(), 30)
    assert record.install_ok and d.counters.cycle_failures == 1


async def test_a_hung_stage_fails_cycles_and_readiness_turns_503_within_three_intervals(
    daemon: tuple[DecisionCycle, Clock], release: threading.Event
) -> None:
    d, clock = daemon
    await ready(d)
    view = RunningDaemon(d, "test")
    assert await view.ready_checks() == []
    use(d, "stuck", Hanging(release))
    d.config = d.config.model_copy(update={"policy": "stuck", "fallback": "stuck"})
    for _ in range(3):  # more hung workers than the pool has threads: still bounded
        record = await asyncio.wait_for(d.cycle(), 30)
        assert not record.install_ok and "missed its 0.2 s deadline" in record.errors[0]
    assert d.counters.cycle_failures == 3
    clock.now += (STALL_INTERVALS - 0.5) * d.config.decision_interval
    assert await view.ready_checks() == []
    clock.now += 1.0 * d.config.decision_interval
    failing = await view.ready_checks()
    assert len(failing) == 1 and failing[0].startswith("decision cycle stuck")
    assert d.stalled() is not None
    d.config = d.config.model_copy(update={"policy": "shortest-path", "fallback": "shortest-path"})
    record = await asyncio.wait_for(d.cycle(), 30)
    assert record.install_ok and await view.ready_checks() == [] and d.stalled() is None


async def test_freezing_keeps_the_decision_without_piling_up_notes(
    daemon: tuple[DecisionCycle, Clock],
) -> None:
    from agent.runtime.overrides import FreezeOverride, PinOverride

    d, _ = daemon
    await ready(d)
    node = next(iter(d.last_decision.schedule)) if d.last_decision else ""
    chain = next(iter(d.scenario.services.chains))
    sf = d.scenario.services.chains[chain][0]
    d.overrides.add(PinOverride(kind="pin", node=node, chain=chain, sf=sf, weights={node: 1}))
    d.overrides.add(FreezeOverride(kind="freeze"))
    for _ in range(5):
        record = await d.cycle()
        assert record.policy == "frozen"
    assert d.last_decision is not None
    assert d.last_decision.notes.count("overridden") == 1


async def test_the_embedded_simulator_plays_on_past_the_scenarios_steps(
    scenario: Scenario,
) -> None:
    """No seam where an episode would end: monitoring, instances and time run on."""
    short = dataclasses.replace(scenario, steps=3)
    backend = SimBackend(short, time_scale=1e-4, seed=1)
    daemon = DecisionCycle(AgentConfig(), short, backend)
    await backend.start()
    try:
        await daemon.cycle()
        times: list[float] = []
        while len(times) < 12:
            record = await daemon.cycle()
            observation = backend.observation()
            if observation is not None and (not times or observation.time > times[-1]):
                times.append(observation.time)
            if len(times) > 3:  # monitored since; past steps=3 it stays so (no episode reset)
                assert record.fallback is None, (len(times), record.fallback)
            await asyncio.sleep(0.002)
        assert times == sorted(times) and backend.totals.steps >= 12 > short.steps
        assert backend.stats()["sim_time_s"] >= times[-1] / 1000.0  # not reset to 0
    finally:
        await backend.stop()
        daemon.executor.shutdown(wait=False)
