"""The embedded backend: the simulator plays the network in real time.

One control step of the scenario (``run_duration`` ms) takes ``run_duration`` ms of
wall time times ``time_scale``. The simulator runs in its own worker thread; the event
loop only schedules it. Rules compiled by the daemon go into a fake switch table
(validated as a switch would), and the decision they come from drives the simulator.
Monitoring is the simulator's observation: partial and delayed as the scenario says.

The daemon plays the scenario as one unbounded episode: traffic goes on past the
scenario's ``steps`` (arrivals keep their process; a trace's last row holds; failures
happen once, at their times), so monitoring, instances and the simulated clock run on
without a seam. Counters are kept as sums; per-flow delays are not kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from agent.model.deployment import DeploymentScenario
from agent.model.deployment_state import Request
from agent.model.scenario import Scenario
from agent.model.types import Decision, Observation
from agent.model.wiring import Wiring, synthetic_wiring
from agent.rules.diff import Change
from agent.rules.intents import Intent
from agent.sim.engine import Simulator
from agent.sim.metrics import Totals
from agent.southbound.base import BackendEvents, InstallResult, Snapshot
from agent.southbound.fake_table import FakeSwitchTable


class SimBackend:
    name = "sim"

    def __init__(
        self,
        scenario: Scenario,
        time_scale: float = 1.0,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.scenario = scenario
        self.network = scenario.network
        self.wiring: Wiring = synthetic_wiring(scenario.network)
        self.events = BackendEvents()
        self.table = FakeSwitchTable(set(self.wiring.dpids.values()))
        self.step_seconds = scenario.run_duration / 1000.0 * time_scale
        self.seed = seed
        self.clock = clock
        self.sim: Simulator | None = None
        self.decision: Decision | None = None
        self.totals = Totals()
        # the latest observation and when it came, replaced together by the sim thread
        self._observed: tuple[Observation, float] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sim")
        self._task: asyncio.Task[None] | None = None
        self._decision_ready = asyncio.Event()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.sim = await loop.run_in_executor(self._executor, self._new_simulator)
        self._task = asyncio.create_task(self._play(), name="sim-backend")

    def _new_simulator(self) -> Simulator:
        return Simulator(self.scenario, seed=self.seed)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=False, cancel_futures=True)  # a step ends on its own

    async def _play(self) -> None:
        """Step the simulator with the installed decision, one step per tick."""
        await self._decision_ready.wait()
        loop = asyncio.get_running_loop()
        next_tick = self.clock()
        while True:
            await loop.run_in_executor(self._executor, self._step)
            next_tick += self.step_seconds
            await asyncio.sleep(max(0.0, next_tick - self.clock()))

    def _step(self) -> None:
        sim, decision = self.sim, self.decision
        assert sim is not None and decision is not None
        result = sim.step(decision)  # past ``steps`` too: one unbounded episode
        sim.totals = Totals()  # the episode's own books would grow without bound
        metrics = result.metrics
        metrics.delays = []
        self.totals.add_step(metrics)
        self._observed = (sim.observation, self.clock())

    def observation(self) -> Observation | None:
        observed = self._observed
        return observed[0] if observed else None

    def snapshot(self) -> Snapshot:
        observed = self._observed  # one reading: the sim thread may replace it meanwhile
        if observed is None:
            return Snapshot(None, frozenset(), frozenset(), frozenset(), self._ages(None))
        observation = observed[0]
        return Snapshot(
            observation,
            observation.down_nodes,
            observation.down_links,
            frozenset(),
            self._ages(observed),
        )

    def report_ages(self) -> dict[str, float | None]:
        return self._ages(self._observed)

    def _ages(self, observed: tuple[Observation, float] | None) -> dict[str, float | None]:
        if observed is None:
            return dict.fromkeys(self.network.node_ids)
        observation, observed_at = observed
        wall = self.clock() - observed_at
        scale = self.step_seconds / (self.scenario.run_duration / 1000.0)
        ages: dict[str, float | None] = dict.fromkeys(self.network.node_ids)
        for node, report in observation.reports.items():
            ages[node] = report.age / 1000.0 * scale + wall
        return ages

    def down(self) -> tuple[frozenset[str], frozenset[frozenset[str]]]:
        observation = self.observation()
        if observation is None:
            return frozenset(), frozenset()
        return observation.down_nodes, observation.down_links

    def unreachable(self) -> frozenset[int]:
        return frozenset()  # the in-memory table is always there

    async def apply(self, changes: list[Change], decision: Decision) -> InstallResult:
        errors = self.table.apply(changes)
        if not errors:
            self.decision = decision
            self._decision_ready.set()
        return InstallResult(errors)

    async def dump(self, dpids: frozenset[int] | None = None) -> list[Intent]:
        return self.table.dump(dpids)

    def stats(self) -> dict[str, float]:
        totals = self.totals
        return {
            "sim_time_s": (self._observed[0].time / 1000.0) if self._observed else 0.0,
            "sim_flows_generated": float(totals.generated),
            "sim_flows_successful": float(totals.successful),
            "sim_flows_dropped": float(totals.dropped),
            "sim_success_ratio": totals.success_ratio,
        }


class DeploymentArrivals:
    """A deployment scenario's request arrivals without end, for the daemon's request
    generator on this backend: ``(period, request)`` in order of arrival, drawn ``chunk``
    at a time by the deployment simulator's generator (seeds ``seed``, ``seed + 1`` ...),
    each chunk after the last period of the one before."""

    def __init__(self, scenario: DeploymentScenario, seed: int, chunk: int = 1_000) -> None:
        self.scenario = scenario.with_count(chunk)
        self.seed = seed
        self.offset = 0.0

    def next_chunk(self) -> list[tuple[float, Request]]:
        from agent.sim.deployment import generate_requests

        requests = generate_requests(self.scenario, self.seed)
        self.seed += 1
        out = [(self.offset + request.arrival, request) for request in requests]
        self.offset += math.ceil(requests[-1].arrival) if requests else 1.0
        return out
