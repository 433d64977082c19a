"""The decision cycle: observation -> policy -> overrides -> safety -> compile -> diff ->
install -> verify, at a fixed interval, with a fallback heuristic when monitoring is
stale or the policy fails, and the last good rules kept when an install fails."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import structlog

from agent.model.scenario import Scenario
from agent.model.types import Decision, Observation
from agent.policies.base import Policy, PolicyContext
from agent.policies.recovery.base import RatioPolicy, RecoveryPolicy
from agent.policies.recovery.deeppr import DeepPRPolicy
from agent.policies.recovery.planner import RecoveryReport, recovery_report
from agent.policies.registry import make_policy
from agent.rules.compiler import RuleCompiler, Topology
from agent.rules.diff import Change, plan_changes
from agent.rules.intents import Intent
from agent.runtime.config import AgentConfig
from agent.runtime.overrides import Overrides
from agent.runtime.safety import make_safe
from agent.southbound.base import Backend, InstallResult
from agent.southbound.instances import (
    InstanceError,
    InstanceManager,
    LoggingInstanceManager,
    Placement,
    added,
)

log = structlog.get_logger("agent.runtime")


@dataclass
class CycleRecord:
    started: float  # unix time
    policy: str
    fallback: str | None  # why the fallback decided, if it did
    changes: int
    install_ok: bool
    errors: list[str]
    latency_ms: dict[str, float]


@dataclass
class Counters:
    cycles: int = 0
    fallbacks: int = 0
    install_errors: int = 0
    verify_failures: int = 0
    reconciliations: int = 0
    config_errors: int = 0
    latencies: list[float] = field(default_factory=list)  # decide-to-batch, ms, recent


class Daemon:
    def __init__(
        self,
        config: AgentConfig,
        scenario: Scenario,
        backend: Backend,
        instances: InstanceManager | None = None,
    ) -> None:
        self.instances: InstanceManager = instances or LoggingInstanceManager()
        self.config = config
        self.scenario = scenario
        self.backend = backend
        self.overrides = Overrides()
        self.counters = Counters()
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="policy")
        self.installed: list[Intent] = []
        self.last_good: Decision | None = None
        self.last_decision: Decision | None = None
        self.last_cycle: CycleRecord | None = None
        self.last_error: str | None = None
        self.ready = False
        self.reconcile_pending = False
        self._policies: dict[str, Policy] = {}
        self._compilers: dict[object, RuleCompiler] = {}
        self._compiled: tuple[object, Decision, Decision, list[Intent]] | None = None
        self.recovery: RecoveryReport | None = None  # repair plan while elements are down
        self._recovery_key: object = (frozenset(), frozenset())
        self._recovery_policy: RecoveryPolicy | None = None
        self._context = PolicyContext(scenario.network, scenario.services, scenario.routing, 0)

    # ------------------------------------------------------------------ policies
    def policy(self, name: str) -> Policy:
        if name not in self._policies:
            self._policies[name] = make_policy(name, self._context)
        return self._policies[name]

    @property
    def policy_name(self) -> str:
        return self.overrides.policy or self.config.policy

    def freshest_age(self) -> float | None:
        ages = [a for a in self.backend.report_ages().values() if a is not None]
        return min(ages) if ages else None

    async def _predict(self, name: str, observation: Observation) -> Decision:
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(self.executor, self.policy(name).predict, observation)
        return await asyncio.wait_for(call, timeout=self.config.policy_timeout)

    async def decide(self, observation: Observation) -> tuple[Decision, str, str | None]:
        """The decision, who made it, and why the fallback did if it did."""
        if self.overrides.frozen and self.last_decision is not None:
            return self.last_decision, "frozen", None
        name = self.policy_name
        age = self.freshest_age()
        reason = None
        if age is None or age > self.config.stale_after:
            reason = "no monitoring yet" if age is None else f"monitoring {age:.1f} s old"
        else:
            try:
                return await self._predict(name, observation), name, None
            except Exception as exc:  # a policy may fail in any way; the fallback takes over
                reason = f"policy {name} failed: {type(exc).__name__}: {exc}"
        self.counters.fallbacks += 1
        return await self._predict(self.config.fallback, observation), self.config.fallback, reason

    # ------------------------------------------------------------------ the cycle
    def compiler(
        self, down_nodes: frozenset[str], down_links: frozenset[frozenset[str]]
    ) -> RuleCompiler:
        key = (down_nodes, down_links)
        if key not in self._compilers and len(self._compilers) >= 16:
            self._compilers.clear()  # failure sets come and go; each compiler caches groups
        if key not in self._compilers:
            topology = Topology(
                self.scenario.network,
                self.scenario.services,
                self.backend.wiring,
                self.scenario.routing,
            )
            self._compilers[key] = RuleCompiler(topology, down_nodes, down_links)
        return self._compilers[key]

    async def cycle(self) -> CycleRecord:
        started, t0 = time.time(), time.perf_counter()
        marks: dict[str, float] = {}
        if self.backend.events.reconcile_reasons or self.reconcile_pending:
            try:
                await self._reconcile()
            except (ConnectionError, OSError, TimeoutError) as exc:
                self.reconcile_pending = True  # try again next cycle
                log.warning("cannot read installed rules", error=str(exc))
        observation = self.backend.observation() or _empty_observation(self.scenario)
        await self._plan_recovery()
        decision, source, fallback = await self.decide(observation)
        marks["decide"] = time.perf_counter()
        decision, intents = self._compile(decision)
        marks["compile"] = time.perf_counter()
        unreachable = self.backend.unreachable()
        if unreachable:  # a disconnected switch's rules are reconciled when it is back
            self.installed = [i for i in self.installed if i.dpid not in unreachable]
        changes = plan_changes(self.installed, intents)
        marks["diff"] = time.perf_counter()
        errors: list[str] = []
        if changes:
            try:
                errors = await self._install(changes, decision, intents)
            except (ConnectionError, OSError, TimeoutError) as exc:
                self.counters.install_errors += 1
                self.reconcile_pending = True  # the batch's fate is unknown
                errors = [f"backend unavailable: {exc}"]
        marks["install"] = time.perf_counter()
        self.last_decision = decision
        record = CycleRecord(
            started, source, fallback, len(changes), not errors, errors, _latencies(t0, marks)
        )
        self._account(record, marks["diff"] - t0)
        return record

    async def _plan_recovery(self) -> None:
        """When the set of failed switches and links changes, order their repairs with
        the recovery policy (the shipped DeepPR, RATIO if it cannot load)."""
        down_nodes, down_links = self.backend.down()
        key = (down_nodes, down_links)
        if key == self._recovery_key:
            return
        self._recovery_key = key
        if not down_nodes and not down_links:
            self.recovery = None
            return
        if self._recovery_policy is None:
            try:
                self._recovery_policy = DeepPRPolicy.load()
            except Exception as exc:  # a broken policy file must not stop recovery planning
                log.warning("recovery policy unavailable, using RATIO", error=str(exc))
                self._recovery_policy = RatioPolicy()
        policy = self._recovery_policy
        network = self.scenario.network
        links = [tuple(sorted(link)) for link in down_links]
        loop = asyncio.get_running_loop()
        try:
            self.recovery = await loop.run_in_executor(
                self.executor, lambda: recovery_report(network, down_nodes, links, policy)
            )
        except ValueError as exc:  # e.g. every switch failed: nowhere to plan from
            log.warning("no recovery plan", error=str(exc))
            self.recovery = None
        if self.recovery is not None:
            log.info(
                "recovery plan",
                next_repair=self.recovery.next_repair,
                failed=len(self.recovery.plan.steps),
            )

    def _compile(self, decision: Decision) -> tuple[Decision, list[Intent]]:
        """Overrides, safety checks, rules; reused while nothing they depend on changed
        (a policy that repeats itself returns the very same Decision object)."""
        down_nodes, down_links = self.backend.down()
        key = (id(decision), self.overrides.version, down_nodes, down_links)
        cached = self._compiled
        if cached is not None and cached[0] == key and cached[1] is decision:
            return cached[2], cached[3]
        compiler = self.compiler(down_nodes, down_links)
        safe = make_safe(
            self.overrides.apply(decision),
            self.scenario.network,
            self.scenario.services,
            down_nodes,
            set(compiler.paths),
        )
        intents = compiler.compile(safe)
        self._compiled = (key, decision, safe, intents)
        return safe, intents

    async def _install(
        self, changes: list[Change], decision: Decision, intents: list[Intent]
    ) -> list[str]:
        """Instances first (so traffic finds them), then rules, then stop what is left."""
        wanted: Placement = {n: frozenset(sfs) for n, sfs in decision.placement.items() if sfs}
        try:
            await self.instances.start(added(self.instances.running(), wanted))
        except InstanceError as exc:
            self.counters.install_errors += 1
            return [f"instance manager: {exc}"]
        result = await self.backend.apply(changes, decision)
        if not result.ok:
            self.counters.install_errors += 1
            await self._restore_last_good()
            return [f"{e.dpid}: {e.message} (batch index {e.index})" for e in result.errors]
        unreachable = self.backend.unreachable()
        current = [i for i in await self.backend.dump() if i.dpid not in unreachable]
        if set(current) != set(intents):
            self.counters.verify_failures += 1
            self.installed = current
            return ["read-back differs from what was installed"]
        self.installed, self.last_good = intents, decision
        try:
            await self.instances.stop(added(wanted, self.instances.running()))
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
        self.installed = await self.backend.dump()

    async def _reconcile(self) -> None:
        reasons = list(self.backend.events.reconcile_reasons) or ["requested"]
        self.backend.events.reconcile_reasons.clear()
        self.reconcile_pending = False
        self.installed = (
            await self.backend.dump()
        )  # what is really there; the diff re-adds the rest
        self.counters.reconciliations += 1
        log.info("reconciling", reasons=reasons, installed=len(self.installed))

    def _account(self, record: CycleRecord, decide_to_batch: float) -> None:
        counters = self.counters
        counters.cycles += 1
        counters.latencies = [*counters.latencies[-999:], decide_to_batch * 1000.0]
        self.last_cycle = record
        if record.errors:
            self.last_error = "; ".join(record.errors)
            log.warning("install failed, last good rules kept", errors=record.errors)
        if record.fallback:
            log.warning("fallback decided", reason=record.fallback, policy=record.policy)
        if record.install_ok and self.backend.observation() is not None:
            self.ready = True


def _latencies(t0: float, marks: dict[str, float]) -> dict[str, float]:
    out, previous = {}, t0
    for name, mark in marks.items():
        out[name] = round((mark - previous) * 1000.0, 3)
        previous = mark
    out["total"] = round((previous - t0) * 1000.0, 3)
    return out


def _empty_observation(scenario: Scenario) -> Observation:
    return Observation(
        time=0.0,
        step=0,
        interval=scenario.run_duration,
        reports={},
        missing=tuple(scenario.network.node_ids),
    )
