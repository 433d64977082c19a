"""Shortest path (SP), the baseline of the DeepCoord paper, as in the authors' code.

For each ingress (in network order): the chain's first SF goes to the ingress if it has
capacity, else to the nearest candidate; every next SF goes to the nearest candidate
from the previous SF's node. "Nearest" is by path delay (ties keep network order) and
never the node itself. A candidate has capacity and, at fill level L, holds at most L
SFs; while L is 0, ingress nodes are passed over too. Running off the end of the list
raises L; past the chain length the nearest node is taken. L restarts at 0 for every
ingress while the placement is shared. The schedule sends weight 1 from each node to
its chosen next node, normalised where several ingresses meet; every other
(node, chain, SF) row is uniform over all nodes, as the original's normalisation does.

Like the original, the plan uses only the static topology, so it is computed once
(and again only when the set of failed elements changes).
"""

from __future__ import annotations

from collections import defaultdict

from agent.model.types import Decision, Observation
from agent.policies.base import PolicyContext

Counts = dict[str, dict[str, dict[str, dict[str, int]]]]


class ShortestPathPolicy:
    name = "shortest-path"

    def __init__(self, context: PolicyContext) -> None:
        self.context = context
        self._cache: dict[tuple[frozenset[str], frozenset[frozenset[str]]], Decision] = {}

    def predict(self, observation: Observation) -> Decision:
        key = (observation.down_nodes, observation.down_links)
        if key not in self._cache:
            self._cache[key] = self._plan(*key)
        return self._cache[key]

    def _plan(self, down_nodes: frozenset[str], down_links: frozenset[frozenset[str]]) -> Decision:
        ctx = self.context
        paths = ctx.paths(down_nodes, down_links)
        nodes = [n.id for n in ctx.network.nodes if n.id not in down_nodes]
        cap = {n: ctx.network.node(n).cap for n in nodes}
        ingress = [n for n in ctx.network.ingress if n in cap]
        neighbours = {
            u: sorted(
                (v for v in nodes if v != u and (u, v) in paths), key=lambda v: paths[(u, v)].delay
            )
            for u in nodes
        }
        search = _Search(neighbours, cap, set(ingress))
        counts: Counts = {}
        for chain, sfs in ctx.services.chains.items():
            search.reset_chain(len(sfs))
            for ing in ingress:
                search.level = 0
                node = ing if cap[ing] > 0 else search.pick(ing)
                search.place(node, sfs[0])
                _count(counts, ing, chain, sfs[0], node)
                for sf in sfs[1:]:
                    target = search.pick(node)
                    search.place(target, sf)
                    _count(counts, node, chain, sf, target)
                    node = target
        return Decision(
            {n: tuple(sfs) for n, sfs in search.placement.items() if sfs},
            _normalise(counts, nodes, ctx.services.chains),
            self.name,
        )


class _Search:
    """The original's candidate search (``next_neighbour`` with its fill level)."""

    def __init__(
        self, neighbours: dict[str, list[str]], cap: dict[str, float], ingress: set[str]
    ) -> None:
        self.neighbours = neighbours
        self.cap = cap
        self.ingress = ingress
        self.placement: dict[str, list[str]] = defaultdict(list)
        self.level = 0
        self.n_sfs = 0

    def reset_chain(self, n_sfs: int) -> None:
        self.n_sfs = n_sfs

    def place(self, node: str, sf: str) -> None:
        if sf not in self.placement[node]:
            self.placement[node].append(sf)

    def pick(self, source: str) -> str:
        candidates = self.neighbours[source]
        if not candidates:
            return source
        idx = self._advance(0, candidates)
        while self.level == 0 and candidates[idx] in self.ingress:
            if idx + 1 >= len(candidates):
                break
            idx = self._advance(idx + 1, candidates)
        return candidates[idx]

    def _advance(self, idx: int, candidates: list[str]) -> int:
        while len(self.placement[candidates[idx]]) > self.level or self.cap[candidates[idx]] == 0:
            idx += 1
            if idx == len(candidates):
                self.level += 1
                idx = 0
            if self.level > self.n_sfs:
                return 0
        return idx


def _count(counts: Counts, node: str, chain: str, sf: str, target: str) -> None:
    per_sf = counts.setdefault(node, {}).setdefault(chain, {}).setdefault(sf, {})
    per_sf[target] = per_sf.get(target, 0) + 1


def _normalise(
    counts: Counts, nodes: list[str], chains: dict[str, tuple[str, ...]]
) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    uniform = {v: 1.0 / len(nodes) for v in nodes}
    schedule: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for u in nodes:
        for chain, sfs in chains.items():
            for sf in dict.fromkeys(sfs):
                row = counts.get(u, {}).get(chain, {}).get(sf)
                if row:
                    total = sum(row.values())
                    weights = {v: row.get(v, 0) / total for v in nodes}
                else:
                    weights = dict(uniform)
                schedule.setdefault(u, {}).setdefault(chain, {})[sf] = weights
    return schedule
