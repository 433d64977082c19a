"""Simple baselines: load balance (everything everywhere, uniform), random schedule,
and a greedy capacity-aware placement driven by the observed ingress traffic."""

from __future__ import annotations

import random
from collections import defaultdict

from agent.model.types import Decision, Observation
from agent.policies.base import PolicyContext
from agent.policies.schedule_builder import ScheduleBuilder, usable_nodes


class LoadBalancePolicy:
    """Every SF on every working node with capacity; uniform weights to all of them."""

    name = "load-balance"

    def __init__(self, context: PolicyContext) -> None:
        self.context = context
        # the plan depends on nothing but the failed elements: one per failure set
        self._cache: dict[tuple[frozenset[str], frozenset[frozenset[str]]], Decision] = {}

    def predict(self, observation: Observation) -> Decision:
        key = (observation.down_nodes, observation.down_links)
        if key not in self._cache:
            if len(self._cache) >= 64:
                self._cache.clear()  # failure sets come and go
            self._cache[key] = self._plan(observation)
        return self._cache[key]

    def _plan(self, observation: Observation) -> Decision:
        builder = ScheduleBuilder(self.context, observation)
        targets = usable_nodes(self.context, observation)
        for node in builder.nodes:
            for chain, sfs in self.context.services.chains.items():
                for sf in sfs:
                    for target in builder.reachable(node, targets):
                        builder.add(node, chain, sf, target, 1.0)
        return builder.decision(self.name)


class RandomSchedulePolicy:
    """Every SF on every working node with capacity; random weights, redrawn each step."""

    name = "random"

    def __init__(self, context: PolicyContext) -> None:
        self.context = context
        self.rng = random.Random(context.seed)

    def predict(self, observation: Observation) -> Decision:
        builder = ScheduleBuilder(self.context, observation)
        targets = usable_nodes(self.context, observation)
        for node in builder.nodes:
            for chain, sfs in self.context.services.chains.items():
                for sf in sfs:
                    for target in builder.reachable(node, targets):
                        builder.add(node, chain, sf, target, self.rng.random() + 1e-9)
        return builder.decision(self.name)


class GreedyPolicy:
    """Place each ingress's chain SF by SF on the nearest nodes that still have room for
    the expected load (observed arrival rate x holding time) plus one flow's rate of
    headroom per instance, splitting the traffic when one node is not enough. Busiest
    ingress first."""

    name = "greedy"

    def __init__(self, context: PolicyContext) -> None:
        self.context = context

    def predict(self, observation: Observation) -> Decision:
        ctx = self.context
        builder = ScheduleBuilder(ctx, observation)
        targets = usable_nodes(ctx, observation)
        plan = _Plan(builder, {n: ctx.network.node(n).cap for n in targets}, targets)
        demand, rate = _ingress_demand(ctx, observation)
        for ingress in sorted(demand, key=lambda n: -demand[n]):
            for chain, sfs in ctx.services.chains.items():
                sources = {ingress: 1.0}
                for sf in sfs:
                    hold = ctx.services.functions[sf].processing_delay_mean + 1.0
                    load = demand[ingress] / max(observation.interval, 1e-9) * hold
                    sources = plan.place(chain, sf, sources, load, rate)
        builder.fill_gaps(targets)
        return builder.decision(self.name)


class _Plan:
    def __init__(self, builder: ScheduleBuilder, room: dict[str, float], targets: list[str]):
        self.builder = builder
        self.room = room
        self.targets = targets
        self.hosted: set[tuple[str, str]] = set()

    def place(
        self, chain: str, sf: str, sources: dict[str, float], load: float, reserve: float
    ) -> dict[str, float]:
        """Split ``load`` (arriving from ``sources`` by share) over the nearest nodes."""
        builder, room = self.builder, self.room
        next_sources: dict[str, float] = defaultdict(float)
        for source, share in sources.items():
            need = load * share
            for target in builder.by_distance(source, self.targets):
                if need <= 1e-12:
                    break
                extra = 0.0 if (target, sf) in self.hosted else reserve
                take = min(need, room[target] - extra)
                if take <= 1e-12:
                    continue
                room[target] -= take + extra
                self.hosted.add((target, sf))
                need -= take
                builder.add(source, chain, sf, target, take)
                next_sources[target] += take / max(load, 1e-12)
            if need > 1e-12:  # nowhere has room: the rest goes to the roomiest node
                target = max(self.targets, key=lambda t: room[t], default=source)
                builder.add(source, chain, sf, target, need)
                next_sources[target] += need / max(load, 1e-12)
        return dict(next_sources)


def _ingress_demand(ctx: PolicyContext, observation: Observation) -> tuple[dict[str, float], float]:
    """Observed requested rate per ingress and the mean rate of one flow; before any
    report, a nominal demand of one flow per 10 ms of rate 1."""
    demand, flows, traffic = {}, 0, 0.0
    for node in ctx.network.ingress:
        report = observation.report(node)
        if report is None:
            demand[node] = observation.interval / 10.0
            continue
        demand[node] = report.ingress_traffic
        flows += report.arrivals
        traffic += report.ingress_traffic
    return demand, traffic / flows if flows else 1.0
