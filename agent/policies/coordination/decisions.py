"""Trained actors' weights into Decisions, step after step, at little cost.

A trained actor moves a few (node, row) schedule entries per step (one of 33 for the
shipped Abilene policies) and its placement hardly ever. ``RowDecisions`` rebuilds only
what changed: the entries whose weights moved, the schedules of their nodes, and the
placement only when the pattern of positive weights changed. ``postprocess_rows`` is
DeepCoord's post-processing for an actor's softmax output, without its generality.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agent.model.deepcoord import CoordinationLayout, postprocess
from agent.model.types import Decision, placement_from_schedule

Weights = npt.NDArray[np.float64]


def postprocess_rows(weights: Weights, threshold: float) -> Weights:
    """``postprocess(weights, threshold)`` (agent.model.deepcoord), the same values, for
    weights that are already non-negative (an actor's softmax): each row normalised,
    entries under the threshold zeroed, renormalised. Rows that sum to zero before or
    after the threshold take ``postprocess``'s own path."""
    total = weights.sum(axis=-1, keepdims=True)
    if not (total > 0).all():
        return postprocess(weights, threshold)
    normal = weights / total
    kept = np.where(normal >= threshold, normal, 0.0)
    sums = kept.sum(axis=-1, keepdims=True)
    if not (sums > 0).all():
        return postprocess(weights, threshold)
    kept /= sums
    return kept


@dataclass
class _Last:
    weights: Weights
    decision: Decision
    cells: list[Mapping[str, float]]  # schedule entries, node-major, rows within
    positive: npt.NDArray[np.bool_]  # weights > 0: decides the placement and its order


class RowDecisions:
    """``layout.decision(weights, name)`` for successive weights, rebuilding only the
    (node, row) schedule entries whose weights changed since the last call, the
    schedules of their nodes, and the placement only if the pattern of positive weights
    changed. The same weights give the same Decision object back. Equal to
    ``layout.decision``, placement order included (a test holds them so); the entries
    and node schedules it shares between decisions are never changed."""

    def __init__(self, layout: CoordinationLayout, name: str) -> None:
        self.layout = layout
        self.name = name
        self.last: _Last | None = None

    def decision(self, weights: Weights) -> Decision:
        last = self.last
        if last is None or last.weights.shape != weights.shape:
            return self._first(weights)
        changed = np.flatnonzero(np.any(weights != last.weights, axis=-1))
        if not changed.size:
            return last.decision
        nodes, rows = self.layout.nodes, self.layout.rows
        cells, flat = list(last.cells), weights.reshape(-1, len(nodes))
        for cell in changed.tolist():
            row = flat[cell]
            cells[cell] = {nodes[j]: float(row[j]) for j in np.flatnonzero(row > 0).tolist()}
        schedule = dict(last.decision.schedule)  # node order kept, unchanged nodes shared
        for i in sorted({cell // len(rows) for cell in changed.tolist()}):
            per_chain: dict[str, dict[str, Mapping[str, float]]] = {}
            for r, (chain, sf) in enumerate(rows):
                per_chain.setdefault(chain, {})[sf] = cells[i * len(rows) + r]
            schedule[nodes[i]] = per_chain
        positive = weights > 0
        placement = last.decision.placement
        if not np.array_equal(positive, last.positive):
            placement = placement_from_schedule(schedule)
        decision = Decision(placement, schedule, self.name)
        self.last = _Last(weights.copy(), decision, cells, positive)
        return decision

    def _first(self, weights: Weights) -> Decision:
        nodes, rows = self.layout.nodes, self.layout.rows
        decision = self.layout.decision(weights, self.name)
        cells = [decision.schedule[node][chain][sf] for node in nodes for chain, sf in rows]
        self.last = _Last(weights.copy(), decision, cells, weights > 0)
        return decision
