"""A Decision's schedule compiled for the simulator's hot loop, and the two ways of
choosing a destination: coord-sim's weighted round robin, or sampling by weight."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from agent.model.types import Schedule


class DecisionError(ValueError):
    """A decision names nodes, chains or SFs the scenario does not have."""


class ScheduleEntry:
    """Destinations for one (node, chain, SF) with their weights and per-step counters."""

    __slots__ = ("counts", "dests", "single", "total", "weights")

    def __init__(self, dests: list[int], weights: list[float]) -> None:
        self.dests = dests
        self.weights = weights
        self.counts = [0] * len(dests)
        self.total = 0
        positive = [d for d, w in zip(dests, weights, strict=True) if w > 0]
        self.single = positive[0] if len(positive) == 1 else -1

    def reset(self) -> None:
        self.counts = [0] * len(self.dests)
        self.total = 0

    def round_robin(self) -> int:
        """coord-sim: send to the destination furthest below its weight; a destination
        with weight 0 is never preferred, and if all weights are 0 the first one wins."""
        if self.single >= 0:
            return self.single
        total, counts, weights = self.total, self.counts, self.weights
        best, best_diff = 0, -2.0
        for i, weight in enumerate(weights):
            diff = weight - (counts[i] / total if total else 0.0) if weight > 0 else -1.0
            if diff > best_diff:
                best, best_diff = i, diff
        counts[best] += 1
        self.total = total + 1
        return self.dests[best]

    def sample(self, rng: random.Random) -> int:
        if self.single >= 0:
            return self.single
        if not any(w > 0 for w in self.weights):
            return -1
        return rng.choices(self.dests, weights=self.weights)[0]


def compile_schedule(
    schedule: Schedule,
    node_index: Mapping[str, int],
    chain_index: Mapping[str, int],
    sf_index: Mapping[str, int],
    chain_sfs: Sequence[Sequence[int]],
) -> dict[int, ScheduleEntry]:
    """Flatten to ``{key(node, chain, sf): entry}``; unknown names raise DecisionError."""
    n_chains, n_sfs = len(chain_index), len(sf_index)
    table: dict[int, ScheduleEntry] = {}
    for node, per_chain in schedule.items():
        node_i = lookup(node_index, node, "node")
        for chain, per_sf in per_chain.items():
            chain_i = lookup(chain_index, chain, "chain")
            for sf, weights in per_sf.items():
                sf_i = lookup(sf_index, sf, "service function")
                if sf_i not in chain_sfs[chain_i]:
                    raise DecisionError(f"schedule: {sf!r} is not part of chain {chain!r}")
                dests, values = [], []
                for dst, weight in weights.items():
                    if weight < 0 or weight != weight:
                        raise DecisionError(f"schedule: weight {weight!r} for {node}/{chain}/{sf}")
                    dests.append(lookup(node_index, dst, "node"))
                    values.append(float(weight))
                key = (node_i * n_chains + chain_i) * n_sfs + sf_i
                table[key] = ScheduleEntry(dests, values)
    return table


def lookup(index: Mapping[str, int], name: str, what: str) -> int:
    try:
        return index[name]
    except KeyError:
        raise DecisionError(f"decision names unknown {what} {name!r}") from None
