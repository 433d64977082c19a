"""Building schedules: accumulate weights, complete them, normalise, derive placement."""

from __future__ import annotations

from collections import defaultdict

from agent.model.network import Path
from agent.model.types import Decision, Observation, placement_from_schedule
from agent.policies.base import PolicyContext


def usable_nodes(ctx: PolicyContext, observation: Observation) -> list[str]:
    """Working nodes with compute capacity, in network order."""
    down = observation.down_nodes
    return [n.id for n in ctx.network.nodes if n.cap > 0 and n.id not in down]


class ScheduleBuilder:
    def __init__(self, ctx: PolicyContext, observation: Observation) -> None:
        self.ctx = ctx
        self.paths: dict[tuple[str, str], Path] = ctx.paths(
            observation.down_nodes, observation.down_links
        )
        self.nodes = [n.id for n in ctx.network.nodes if n.id not in observation.down_nodes]
        self.order = {node: i for i, node in enumerate(ctx.network.node_ids)}
        self.weights: dict[str, dict[str, dict[str, dict[str, float]]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(float)))
        )

    def add(self, node: str, chain: str, sf: str, target: str, weight: float) -> None:
        self.weights[node][chain][sf][target] += weight

    def has(self, node: str, chain: str, sf: str) -> bool:
        return node in self.weights and sf in self.weights[node].get(chain, {})

    def delay(self, source: str, target: str) -> float:
        path = self.paths.get((source, target))
        return path.delay if path is not None else float("inf")

    def reachable(self, source: str, targets: list[str]) -> list[str]:
        return [t for t in targets if (source, t) in self.paths]

    def by_distance(self, source: str, targets: list[str]) -> list[str]:
        """Reachable targets, nearest first (path delay, then network order)."""
        return sorted(
            self.reachable(source, targets), key=lambda t: (self.delay(source, t), self.order[t])
        )

    def fill_gaps(self, targets: list[str]) -> None:
        """Give every working node a rule for every (chain, SF), so that no flow meets a
        missing rule: send to the nearest node already hosting the SF, else the nearest
        node with capacity."""
        hosts = placement_from_schedule(self.weights)
        for chain, sfs in self.ctx.services.chains.items():
            for sf in sfs:
                with_sf = [n for n in targets if sf in hosts.get(n, ())]
                for node in self.nodes:
                    if self.has(node, chain, sf):
                        continue
                    options = self.by_distance(node, with_sf) or self.by_distance(node, targets)
                    if options:
                        self.add(node, chain, sf, options[0], 1.0)

    def decision(self, policy: str) -> Decision:
        schedule: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
        for node, per_chain in self.weights.items():
            for chain, per_sf in per_chain.items():
                for sf, weights in per_sf.items():
                    total = sum(weights.values())
                    if total <= 0:
                        continue
                    normalised = {t: w / total for t, w in weights.items() if w > 0}
                    schedule.setdefault(node, {}).setdefault(chain, {})[sf] = normalised
        return Decision(placement_from_schedule(schedule), schedule, policy)
