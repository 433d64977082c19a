"""The decision cycle: observation -> policy -> overrides -> safety -> compile -> diff ->
install -> verify, at a fixed interval, with a fallback heuristic when monitoring is
stale or the policy fails, and the last good rules kept when an install fails.

Every stage has a deadline. Work off the event loop runs in a worker thread whose
result always reaches the loop (even a StopIteration, which asyncio cannot carry); a
stage that raises or misses its deadline fails that cycle visibly (``CycleRecord``
errors, ``cycle_failures``, the log), the installed rules stay, and the next cycle
runs. A worker that hangs is abandoned to a fresh pool. ``stalled()`` says when no
cycle has completed for ``STALL_INTERVALS`` intervals: readiness and the systemd
watchdog follow it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from typing import TypeVar

import structlog

from agent.model.scenario import Scenario
from agent.model.types import Decision, Observation
from agent.policies.base import Policy, PolicyContext
from agent.policies.recovery.base import RatioPolicy, RecoveryPolicy
from agent.policies.recovery.planner import RecoveryReport, recovery_report
from agent.policies.recovery.registry import make_recovery_policy
from agent.policies.registry import make_policy
from agent.rules.compiler import CompileContext, RuleCompiler
from agent.rules.diff import plan_changes
from agent.rules.intents import Intent
from agent.runtime.config import AgentConfig, SlicingSettings
from agent.runtime.overrides import Overrides
from agent.runtime.planner import Compiled, Plan, choose, plan, visible
from agent.runtime.records import Counters, CycleRecord
from agent.runtime.request_desk import NO_BATCH, Deployments, without
from agent.runtime.slicing import SlicingEngine, SlicingStep, engine_from_settings
from agent.southbound.base import Backend, InstallResult, Snapshot
from agent.southbound.instances import InstanceError, InstanceManager, LoggingInstanceManager

log = structlog.get_logger("agent.runtime")
T = TypeVar("T")
STALL_INTERVALS = 3  # no completed cycle for this many intervals: not ready, no watchdog ping
STARTUP_GRACE = 60.0  # seconds the first cycle may take (policies load in a worker)


class StageFailed(Exception):
    """A stage of the cycle raised or missed its deadline: the cycle fails, the rules stay."""

    def __init__(self, stage: str, problem: str) -> None:
        super().__init__(f"{stage}: {problem}")
        self.stage = stage


def _carry(fn: Callable[[], T]) -> Callable[[], T]:
    """``fn`` for a worker thread: a StopIteration cannot be set on an asyncio Future
    (the await would never complete), so it travels as a RuntimeError."""

    def call() -> T:
        try:
            return fn()
        except StopIteration as exc:
            raise RuntimeError(f"StopIteration escaped: {exc!r}") from None

    return call


class DecisionCycle:
    """The decision cycle of one scenario and backend; ``AgentService`` runs it on its
    schedule, handles signals, reloads and the API."""

    def __init__(
        self,
        config: AgentConfig,
        scenario: Scenario,
        backend: Backend,
        instances: InstanceManager | None = None,
        overrides: Overrides | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.instances: InstanceManager = instances or LoggingInstanceManager()
        self.config = config
        self.scenario = scenario
        self.backend = backend
        self.overrides = overrides or Overrides()
        self.counters = Counters()
        self.clock = clock
        self.executor = self._new_executor()
        self.installed: list[Intent] = []
        self.installed_version = 0  # changes whenever ``installed`` does
        self.last_good: Decision | None = None
        self.last_raw: Decision | None = None  # the last decision before overrides
        self.last_decision: Decision | None = None
        self.last_cycle: CycleRecord | None = None
        self.last_error: str | None = None
        self.last_completed: float | None = None  # clock() at the end of a completed cycle
        self.started_at = clock()
        self.ready = False
        self.reconcile_pending = False
        self._policies: dict[str, Policy] = {}
        self._planner_pool: ProcessPoolExecutor | None = None
        self._compilers: dict[object, RuleCompiler] = {}
        self.compiled = Compiled(scenario.network, scenario.services, self.compiler)
        self.recovery: RecoveryReport | None = None  # repair plan while elements are down
        self._recovery_key: object = (frozenset(), frozenset())
        self._recovery_policy: RecoveryPolicy | None = None
        self._context = PolicyContext(scenario.network, scenario.services, scenario.routing, 0)
        self.slicing: SlicingEngine | None = None  # set by load_slicing when configured
        self.last_slicing: SlicingStep | None = None
        self.slicing_steps = 0
        self.requests: Deployments | None = None  # deployment requests, when configured

    # ------------------------------------------------------------------ policies
    def policy(self, name: str) -> Policy:
        if name not in self._policies:
            self._policies[name] = self._make_policy(name)
        return self._policies[name]

    def _make_policy(self, name: str) -> Policy:
        if name != "milp":
            return make_policy(name, self._context)
        # the MILP solves for seconds: in a worker process, never within a prediction
        from agent.runtime.milp_planner import BackgroundMilpPolicy, planner_pool

        if self.scenario.source is None:
            raise ValueError("policy milp needs a scenario read from a file")
        if self._planner_pool is None:
            self._planner_pool = planner_pool()
        return BackgroundMilpPolicy(self._context, self.scenario.source, self._planner_pool)

    def close(self) -> None:
        """Stop the workers: threads are abandoned, a planning process is terminated."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self._planner_pool is not None:
            from agent.runtime.milp_planner import stop_pool

            stop_pool(self._planner_pool)
            self._planner_pool = None

    async def load_policies(self, *names: str) -> None:
        """Build policies (trained ones load weights) in a worker, before they decide."""
        for name in names:
            await self._off_loop(f"load policy {name}", partial(self.policy, name), STARTUP_GRACE)

    @property
    def policy_name(self) -> str:
        return self.overrides.policy or self.config.policy

    def stalled(self) -> str | None:
        """Why the decision cycle counts as stuck, or None while it is alive."""
        now = self.clock()
        if self.last_completed is None:
            waited = now - self.started_at
            return f"no cycle completed in {waited:.1f} s" if waited > STARTUP_GRACE else None
        gap, limit = now - self.last_completed, STALL_INTERVALS * self.config.decision_interval
        return f"no cycle completed for {gap:.1f} s" if gap > limit else None

    # ------------------------------------------------------------------ stages
    @staticmethod
    def _new_executor() -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=2, thread_name_prefix="policy")

    async def _off_loop(self, stage: str, fn: Callable[[], T], deadline: float) -> T:
        """``fn`` in a worker, within ``deadline`` seconds, or StageFailed."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, _carry(fn))
        try:
            return await asyncio.wait_for(future, timeout=deadline)
        except TimeoutError:
            # the worker may never come back: new work gets a fresh pool
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = self._new_executor()
            raise StageFailed(stage, f"missed its {deadline:g} s deadline") from None
        except Exception as exc:
            raise StageFailed(stage, f"{type(exc).__name__}: {exc}") from exc

    async def _on_loop(self, stage: str, call: Awaitable[T]) -> T:
        """An awaitable stage (backend I/O) within the stage deadline, or StageFailed."""
        try:
            return await asyncio.wait_for(call, timeout=self.config.stage_timeout)
        except TimeoutError:
            raise StageFailed(
                stage, f"missed its {self.config.stage_timeout:g} s deadline"
            ) from None

    async def _predict(self, name: str, observation: Observation) -> Decision:
        policy = self._policies.get(name)  # loaded at start: no trip to a worker
        if policy is None:
            policy = await self._off_loop(
                f"load policy {name}", lambda: self.policy(name), STARTUP_GRACE
            )
        return await self._off_loop(
            f"policy {name}", lambda: policy.predict(observation), self.config.policy_timeout
        )

    async def decide(self, snap: Snapshot) -> tuple[Decision, str, str | None]:
        """The decision, who made it, and why the fallback did if it did. A failing
        fallback fails the cycle (StageFailed)."""
        choice = choose(
            snap,
            self.policy_name,
            self.config.stale_after,
            self.overrides.frozen,
            self.last_raw is not None,
        )
        if choice.policy is None and self.last_raw is not None:
            return self.last_raw, "frozen", None
        name, reason = self.policy_name, choice.fallback_reason
        if reason is None:
            try:
                return await self._predict(name, observation(snap, self.scenario)), name, None
            except StageFailed as exc:  # a policy may fail in any way; the fallback takes over
                reason = str(exc)
        self.counters.fallbacks += 1
        fallback = self.config.fallback
        return await self._predict(fallback, observation(snap, self.scenario)), fallback, reason

    # ------------------------------------------------------------------ the cycle
    def compiler(
        self, down_nodes: frozenset[str], down_links: frozenset[frozenset[str]]
    ) -> RuleCompiler:
        key = (down_nodes, down_links)
        if key not in self._compilers and len(self._compilers) >= 16:
            self._compilers.clear()  # failure sets come and go; each compiler caches groups
        if key not in self._compilers:
            topology = CompileContext(
                self.scenario.network,
                self.scenario.services,
                self.backend.wiring,
                self.scenario.routing,
            )
            self._compilers[key] = RuleCompiler(topology, down_nodes, down_links)
        return self._compilers[key]

    async def cycle(self) -> CycleRecord:
        """One decision cycle; never raises: a failed stage fails the cycle visibly."""
        started, t0 = time.time(), time.perf_counter()
        try:
            return await self._cycle(started, t0)
        except Exception as exc:  # StageFailed, or a bug: the next cycle must still run
            stage = exc.stage if isinstance(exc, StageFailed) else "cycle"
            message = str(exc) if isinstance(exc, StageFailed) else f"{type(exc).__name__}: {exc}"
            log.error("decision cycle failed, rules kept", stage=stage, error=message)
            record = CycleRecord(
                started,
                self.policy_name,
                None,
                0,
                False,
                [f"cycle failed: {message}"],
                _latencies(t0, {}),
            )
            self.counters.cycle_failures += 1
            self.last_cycle, self.last_error = record, message
            return record

    async def _cycle(self, started: float, t0: float) -> CycleRecord:
        """Gather, predict (in a worker), plan (pure), execute, verify."""
        marks: dict[str, float] = {}
        if self.backend.events.reconcile_reasons or self.reconcile_pending:
            try:
                await self._on_loop("reconcile", self._reconcile())
            except (ConnectionError, OSError) as exc:
                self.reconcile_pending = True  # try again next cycle
                log.warning("cannot read installed rules", error=str(exc))
        snap = self.backend.snapshot()
        await self._plan_recovery(snap)
        raw, source, fallback = await self.decide(snap)
        marks["decide"] = time.perf_counter()
        safe, intents = await self._off_loop(
            "compile", lambda: self.compiled(raw, self.overrides, snap), self.config.stage_timeout
        )
        batch = self.requests.batch() if self.requests is not None else NO_BATCH
        intents = [*intents, *await self._slice(), *batch.intents]
        marks["compile"] = time.perf_counter()
        if snap.unreachable:  # a disconnected switch's rules are reconciled when it is back
            self._set_installed(visible(self.installed, snap.unreachable))
        running = without(self.instances.running(), self.requests)  # theirs stay theirs
        steps = plan(snap, safe, intents, self.installed, running)
        marks["diff"] = time.perf_counter()
        errors: list[str] = []
        if steps.changes:
            try:
                errors = await self._on_loop("install", self._install(steps))
            except (ConnectionError, OSError) as exc:
                self.counters.install_errors += 1
                self.reconcile_pending = True  # the batch's fate is unknown
                errors = [f"backend unavailable: {exc}"]
        if self.requests is not None:
            await self.requests.settle(batch, errors)
        marks["install"] = time.perf_counter()
        self.last_raw, self.last_decision = raw, safe
        record = CycleRecord(
            started,
            source,
            fallback,
            len(steps.changes),
            not errors,
            errors,
            _latencies(t0, marks),
        )
        self._account(record, marks["diff"] - t0, snap)
        return record

    async def _plan_recovery(self, snap: Snapshot) -> None:
        """When the set of failed switches and links changes, order their repairs with
        the recovery policy (the shipped DeepPR, RATIO if it cannot load)."""
        key = (snap.down_nodes, snap.down_links)
        if key == self._recovery_key:
            return
        self._recovery_key = key
        self.recovery = None
        if not snap.down_nodes and not snap.down_links:
            return
        if self._recovery_policy is None:
            await self.load_recovery()
        policy = self._recovery_policy
        assert policy is not None
        network = self.scenario.network
        links = [tuple(sorted(link)) for link in snap.down_links]
        try:
            self.recovery = await self._off_loop(
                "recovery plan",
                lambda: recovery_report(network, snap.down_nodes, links, policy),
                self.config.stage_timeout,
            )
        except StageFailed as exc:  # e.g. every switch failed: nowhere to plan from
            log.warning("no recovery plan", error=str(exc))
            return
        log.info(
            "recovery plan",
            next_repair=self.recovery.next_repair,
            failed=len(self.recovery.plan.steps),
        )

    async def build_slicing(self, settings: SlicingSettings | None) -> SlicingEngine | None:
        """The slicing engine of ``settings`` (None: no slicing), built in a worker (a
        learned slave's weights are read)."""
        if settings is None:
            return None
        wiring = self.backend.wiring
        return await self._off_loop(
            "load slicing", lambda: engine_from_settings(settings, wiring), STARTUP_GRACE
        )

    def use_slicing(self, engine: SlicingEngine | None) -> None:
        """From the next cycle on, ``engine`` allocates and its meters join the rules."""
        if engine is not self.slicing:
            self.slicing, self.last_slicing, self.slicing_steps = engine, None, 0

    async def _slice(self) -> tuple[Intent, ...]:
        """One slicing step: this step's demand (measured on the switches by a backend
        that reads their counters, else the slicing scenario's demand process) ->
        allocations -> the slices' meters and flows; none without slicing."""
        engine = self.slicing
        if engine is None:
            return ()
        step = self.slicing_steps
        demand, measured = engine.demand(step, self.backend, self.config.decision_interval)
        result = await self._off_loop(
            "slicing",
            lambda: engine.step(demand, step, measured),
            self.config.stage_timeout,
        )
        self.slicing_steps += 1
        self.last_slicing = result
        return result.intents

    async def load_recovery(self, name: str | None = None) -> None:
        """The recovery policy (the configured one, or ``name``), built in a worker; RATIO
        with a warning if it cannot load (recovery planning must not stop)."""
        chosen = name or self.config.recovery_policy
        try:
            self._recovery_policy = await self._off_loop(
                f"load recovery policy {chosen}",
                partial(make_recovery_policy, chosen),
                STARTUP_GRACE,
            )
        except StageFailed as exc:
            log.warning("recovery policy unavailable, using RATIO", error=str(exc))
            self._recovery_policy = RatioPolicy()

    def _set_installed(self, intents: list[Intent]) -> None:
        if intents != self.installed:
            self.installed = intents
            self.installed_version += 1

    async def _install(self, steps: Plan) -> list[str]:
        """Instances first (so traffic finds them), then rules, then stop what is left;
        the rules read back from the switches the batch touched."""
        try:
            await self.instances.start(steps.start)
        except InstanceError as exc:
            self.counters.install_errors += 1
            return [f"instance manager: {exc}"]
        result = await self.backend.apply(list(steps.changes), steps.decision)
        if not result.ok:
            errors = [f"{e.dpid}: {e.message} (batch index {e.index})" for e in result.errors]
            self.counters.install_errors += 1
            self.last_error = "; ".join(errors)  # with the count, before anything else awaits
            await self._restore_last_good()
            return errors
        touched = frozenset(change.intent.dpid for change in steps.changes)
        touched -= self.backend.unreachable()
        current = await self.backend.dump(touched)
        if set(current) != {i for i in steps.intents if i.dpid in touched}:
            self.counters.verify_failures += 1
            self._set_installed([i for i in self.installed if i.dpid not in touched] + current)
            return ["read-back differs from what was installed"]
        self._set_installed(list(steps.intents))
        self.last_good = steps.decision
        try:
            await self.instances.stop(steps.stop)
        except InstanceError as exc:
            return [f"instance manager: {exc}"]
        return []

    async def _restore_last_good(self) -> None:
        """Put back the rules of the last good decision (a failed batch may have been
        partly applied)."""
        current = await self.backend.dump()
        restore = plan_changes(current, self.installed)
        if restore and self.last_good is not None:
            result: InstallResult = await self.backend.apply(restore, self.last_good)
            if not result.ok:
                log.error("restore failed", errors=[e.message for e in result.errors])
        self._set_installed(await self.backend.dump())

    async def _reconcile(self) -> None:
        reasons = list(self.backend.events.reconcile_reasons) or ["requested"]
        self.backend.events.reconcile_reasons.clear()
        self.reconcile_pending = False
        self._set_installed(
            await self.backend.dump()
        )  # what is really there; the diff re-adds the rest
        self.counters.reconciliations += 1
        log.info("reconciling", reasons=reasons, installed=len(self.installed))

    def _account(self, record: CycleRecord, decide_to_batch: float, snap: Snapshot) -> None:
        counters = self.counters
        counters.cycles += 1
        counters.latencies = [*counters.latencies[-999:], decide_to_batch * 1000.0]
        counters.decision_seconds.observe(decide_to_batch)
        if record.changes:
            counters.install_seconds.observe(record.latency_ms.get("install", 0.0) / 1000.0)
        self.last_cycle = record
        self.last_completed = self.clock()
        log.debug(
            "cycle",
            started=record.started,
            decide_to_batch_ms=round(decide_to_batch * 1000.0, 3),
            policy=record.policy,
            changes=record.changes,
        )
        if record.errors:
            self.last_error = "; ".join(record.errors)
            log.warning("install failed, last good rules kept", errors=record.errors)
        if record.fallback:
            log.warning("fallback decided", reason=record.fallback, policy=record.policy)
        if record.install_ok and snap.freshest_age is not None:
            self.ready = True


def _latencies(t0: float, marks: dict[str, float]) -> dict[str, float]:
    out, previous = {}, t0
    for name, mark in marks.items():
        out[name] = round((mark - previous) * 1000.0, 3)
        previous = mark
    out["total"] = round((previous - t0) * 1000.0, 3)
    return out


def observation(snap: Snapshot, scenario: Scenario) -> Observation:
    """The snapshot's observation, or an empty one before any monitoring."""
    return snap.observation or _empty_observation(scenario)


def _empty_observation(scenario: Scenario) -> Observation:
    return Observation(
        time=0.0,
        step=0,
        interval=scenario.run_duration,
        reports={},
        missing=tuple(scenario.network.node_ids),
    )
