"""The pure half of the decision cycle: a snapshot of the network, a decision, the
overrides and what is installed in; who decides and the plan to execute out.

Nothing here does I/O, reads a clock or runs a thread: the daemon shell gathers the
snapshot, predicts in a worker, calls these functions and executes the plan. Tests
drive them with plain values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent.model.network import Network
from agent.model.services import Services
from agent.model.types import Decision
from agent.rules.compiler import RuleCompiler
from agent.rules.diff import Change, plan_changes
from agent.rules.intents import Intent
from agent.runtime.overrides import Overrides
from agent.runtime.safety import make_safe
from agent.southbound.base import Snapshot
from agent.southbound.instances import InstanceSet, added


@dataclass(frozen=True)
class Choice:
    """Who decides this cycle: ``policy`` (a name; None: keep the frozen decision) and,
    when it is the fallback, why."""

    policy: str | None
    fallback_reason: str | None = None


def choose(
    snap: Snapshot, policy: str, stale_after: float, frozen: bool, have_decision: bool
) -> Choice:
    """Frozen keeps the last decision; stale or missing monitoring hands over to the
    fallback (the daemon also falls back when the policy itself fails)."""
    if frozen and have_decision:
        return Choice(None)
    age = snap.freshest_age
    if age is None:
        return Choice(policy, "no monitoring yet")
    if age > stale_after:
        return Choice(policy, f"monitoring {age:.1f} s old")
    return Choice(policy)


@dataclass(frozen=True)
class Plan:
    """What to execute: instances to start, the batch, instances to stop after it."""

    decision: Decision  # after overrides and safety checks
    intents: tuple[Intent, ...]
    changes: tuple[Change, ...]
    start: InstanceSet
    stop: InstanceSet


def visible(installed: Sequence[Intent], unreachable: frozenset[int]) -> list[Intent]:
    """Installed rules the batch may touch: a disconnected switch's stay out until it is
    back and reconciled."""
    if not unreachable:
        return list(installed)
    return [intent for intent in installed if intent.dpid not in unreachable]


def plan(
    snap: Snapshot,
    safe: Decision,
    intents: Sequence[Intent],
    installed: Sequence[Intent],
    running: InstanceSet,
) -> Plan:
    """The batch and the instance changes that take the network from ``installed`` and
    ``running`` to ``intents`` and the decision's placement."""
    wanted: InstanceSet = {n: frozenset(sfs) for n, sfs in safe.placement.items() if sfs}
    changes = plan_changes(visible(installed, snap.unreachable), intents)
    return Plan(
        safe, tuple(intents), tuple(changes), added(running, wanted), added(wanted, running)
    )


def freeze(decision: Decision) -> tuple[object, ...]:
    """A value key for a decision (its dicts made hashable)."""
    schedule = tuple(
        (node, chain, sf, tuple(sorted(weights.items())))
        for node, per_chain in sorted(decision.schedule.items())
        for chain, per_sf in sorted(per_chain.items())
        for sf, weights in sorted(per_sf.items())
    )
    placement = tuple(sorted((n, tuple(sfs)) for n, sfs in decision.placement.items()))
    return (decision.policy, decision.notes, placement, schedule)


class Compiled:
    """Overrides, safety checks and rules for a decision, memoised by value: the same
    decision, overrides and failure set give the same rules without compiling again."""

    def __init__(
        self,
        network: Network,
        services: Services,
        compiler: Callable[[frozenset[str], frozenset[frozenset[str]]], RuleCompiler],
    ) -> None:
        self.network, self.services, self.compiler = network, services, compiler
        self._last: tuple[object, Decision, list[Intent]] | None = None
        self._seen: tuple[Decision, object, object] | None = None  # object, then its key

    def key(self, decision: Decision, overrides: Overrides, snap: Snapshot) -> object:
        """The value key; the same Decision object (a policy repeating itself) is not
        frozen again."""
        context = (overrides.version, snap.down_nodes, snap.down_links)
        seen = self._seen
        if seen is not None and seen[0] is decision and seen[1] == context:
            return seen[2]
        key = (freeze(decision), *context)
        self._seen = (decision, context, key)
        return key

    def __call__(
        self, decision: Decision, overrides: Overrides, snap: Snapshot
    ) -> tuple[Decision, list[Intent]]:
        key = self.key(decision, overrides, snap)
        if self._last is not None and self._last[0] == key:
            return self._last[1], self._last[2]
        compiler = self.compiler(snap.down_nodes, snap.down_links)
        safe = make_safe(
            overrides.apply(decision),
            self.network,
            self.services,
            snap.down_nodes,
            set(compiler.paths),
        )
        intents = compiler.compile(safe)
        self._last = (key, safe, intents)
        return safe, intents
