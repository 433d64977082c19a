"""``policy: milp`` in the daemon: the coordination MILP solved in a worker process.

A solve takes seconds (HiGHS, with its own time limit), far past a cycle's prediction
deadline, and HiGHS' scheduler is global to its process. So the daemon's ``milp``
policy answers every prediction at once with the last plan, and re-plans in one worker
process when the MILP policy's own rule says so (the smoothed ingress demand moved by more
than its threshold from the demand planned for, or nodes or links failed or returned).
Until the first plan arrives, ``PlanPending`` hands the cycle to the fallback, which
reports why. A solve that fails is logged, the last plan stays, and the next solve waits
``RETRY_AFTER`` predictions. The worker runs ``PLANNER_NICE`` steps nicer than the daemon:
on a small machine a solve would otherwise take a core from the decision cycle.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor

import structlog

from agent.model.scenario import Scenario, load_scenario
from agent.model.types import Decision, Observation
from agent.policies.base import PolicyContext
from agent.policies.milp.policy import MilpPlanConfig, MilpPolicy, plan_for_demand, working_network

log = structlog.get_logger("agent.milp")


RETRY_AFTER = 10  # predictions
PLANNER_NICE = 10  # the worker's niceness above the daemon's: the cycle gets the cores first


class PlanPending(RuntimeError):
    """No MILP plan yet: the first is being solved."""


_SCENARIOS: dict[str, Scenario] = {}  # per worker process: read once


def plan_in_worker(
    scenario_path: str,
    failures: tuple[frozenset[str], frozenset[frozenset[str]]],
    demand: dict[str, float],
    config: MilpPlanConfig,
) -> Decision:
    """In the worker process: the scenario (read there, since its resource functions do
    not cross processes), the network without its failed elements, and the plan."""
    if scenario_path not in _SCENARIOS:
        _SCENARIOS[scenario_path] = load_scenario(scenario_path)
    scenario = _SCENARIOS[scenario_path]
    network = working_network(scenario.network, *failures)
    return plan_for_demand(network, scenario.services, demand, config)


def yield_to_daemon() -> None:
    """In the worker process, at its start: run at a lower priority than the daemon, so
    that a solve takes what the decision cycle leaves of the cores."""
    os.nice(PLANNER_NICE)


def planner_pool() -> ProcessPoolExecutor:
    """One worker process, started fresh (not forked from a threaded daemon), at a lower
    priority than the daemon."""
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=yield_to_daemon)


class BackgroundMilpPolicy(MilpPolicy):
    """The MILP policy whose solves run in ``pool``; ``predict`` never waits for one."""

    def __init__(
        self,
        context: PolicyContext,
        scenario_path: str,
        pool: ProcessPoolExecutor,
        config: MilpPlanConfig | None = None,
    ) -> None:
        super().__init__(context, config)
        self.scenario_path = scenario_path
        self.pool = pool
        self.pending: Future[Decision] | None = None
        self.failed_plans = 0
        self.cooldown = 0  # predictions to wait before solving again after a failed solve

    def predict(self, observation: Observation) -> Decision:
        self._observe(observation)
        self._collect()
        failures = (observation.down_nodes, observation.down_links)
        wanted = self.plan is None or failures != self.failures or self._moved()
        if self.cooldown > 0:
            self.cooldown -= 1
        elif wanted and self.pending is None:
            self.planned_for = dict(self.estimate)
            self.failures = failures
            self.pending = self.pool.submit(
                plan_in_worker, self.scenario_path, failures, self.planned_for, self.config
            )
            log.info("milp plan started", demand=self.planned_for)
        if self.plan is None:
            raise PlanPending("the first MILP plan is being solved")
        return self.plan

    def _collect(self) -> None:
        pending = self.pending
        if pending is None or not pending.done():
            return
        self.pending = None
        try:
            self.plan = pending.result()
            self.plans_made += 1
            log.info("milp plan ready", notes=list(self.plan.notes))
        except Exception as exc:  # a failed solve keeps the last plan
            self.failed_plans += 1
            self.cooldown = RETRY_AFTER
            log.error("milp plan failed, last plan kept", error=f"{type(exc).__name__}: {exc}")


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop the worker at once, a solve in progress included."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public handle
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
