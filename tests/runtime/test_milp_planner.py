"""``policy: milp`` in the daemon: the MILP is solved in a worker process; cycles go on
(with the fallback until the first plan arrives) and never wait for a solve."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable

import pytest

from agent.model.scenario import load_scenario
from agent.runtime.config import AgentConfig
from agent.runtime.cycle import DecisionCycle
from agent.runtime.milp_planner import (
    PLANNER_NICE,
    BackgroundMilpPolicy,
    planner_pool,
    stop_pool,
)
from agent.runtime.records import CycleRecord
from agent.southbound.sim_backend import SimBackend
from tests.conftest import TOPOLOGIES

DEADLINE = 180.0  # the worker process starts (imports) and solves on a busy machine


@pytest.fixture
async def daemon() -> AsyncIterator[DecisionCycle]:
    scenario = load_scenario(TOPOLOGIES / "scenarios/abilene-in1.yaml")
    backend = SimBackend(scenario, time_scale=1e-3, seed=2)
    daemon = DecisionCycle(AgentConfig(policy="milp", policy_timeout=5.0), scenario, backend)
    await backend.start()
    try:
        yield daemon
    finally:
        await backend.stop()
        daemon.close()


async def cycles_until(
    daemon: DecisionCycle, done: Callable[[CycleRecord], bool]
) -> list[CycleRecord]:
    """Cycles (as the service runs them, a little apart) until ``done`` holds for one."""
    started, records = time.monotonic(), [await daemon.cycle()]
    while not done(records[-1]):
        assert time.monotonic() - started < DEADLINE, f"not in time: {records[-1]}"
        await asyncio.sleep(0.2)
        records.append(await daemon.cycle())
    return records


async def test_cycles_use_the_fallback_until_the_plan_arrives(daemon: DecisionCycle) -> None:
    records = await cycles_until(daemon, lambda r: r.policy == "milp")
    reasons = [r.fallback or "" for r in records[:-1]]
    assert any("first MILP plan is being solved" in reason for reason in reasons), reasons
    assert all(r.latency_ms["decide"] < 5000 for r in records)  # never waits for a solve
    policy = daemon.policy("milp")
    assert isinstance(policy, BackgroundMilpPolicy) and policy.plans_made >= 1
    assert records[-1].fallback is None and records[-1].install_ok
    assert daemon.last_decision is not None and daemon.last_decision.policy == "milp"


async def test_close_stops_the_planning_process(daemon: DecisionCycle) -> None:
    await cycles_until(daemon, lambda r: "being solved" in (r.fallback or ""))
    pool = daemon._planner_pool
    assert pool is not None
    processes = list(pool._processes.values())
    assert processes
    daemon.close()
    # The pool's own manager thread reaps the process too; whichever thread's waitpid
    # wins, ``is_alive`` turns False once the process has ended, so poll it.
    started = time.monotonic()
    while any(process.is_alive() for process in processes):
        assert time.monotonic() - started < 30, "the planning process outlived close()"
        await asyncio.sleep(0.1)
    assert all(process.exitcode is not None for process in processes)


def test_the_planning_process_runs_nicer_than_the_daemon() -> None:
    pool = planner_pool()
    try:
        theirs = pool.submit(os.nice, 0).result(timeout=DEADLINE)
    finally:
        stop_pool(pool)
    assert theirs == min(os.nice(0) + PLANNER_NICE, 19)
