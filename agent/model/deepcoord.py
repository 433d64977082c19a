"""DeepCoord's encoding of observations and actions, in one place for the training
environment (agent/envs/coordination.py) and the shipped policy
(agent/policies/coordination/policy.py): a policy must read at run time exactly what it
read in training.

- observation: the ingress rate per node, scaled so that one flow of rate 1 per
  ``rate_unit_ms`` reads 1 (a missing report reads 0), then, if observed, load /
  capacity per node;
- action: (N, R, N) weights per node, (chain, SF) row and destination, post-processed
  (normalised, weights under a threshold zeroed, renormalised) and read as a schedule;
  an SF runs wherever positive weight sends traffic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from agent.model.types import Decision, NodeReport, Observation, placement_from_schedule

RATE_UNIT_MS = 10.0  # one flow of rate 1 per 10 ms reads 1.0


def observation_vector(
    nodes: Sequence[str],
    observe_load: bool,
    rate_unit_ms: float,
    observation: Observation,
    out: npt.NDArray[np.float32] | None = None,
) -> npt.NDArray[np.float32]:
    """Ingress rate per node, then (if ``observe_load``) load / capacity per node; written
    into ``out`` (float32, of the right size) when given, a new array otherwise."""
    n = len(nodes)
    size = 2 * n if observe_load else n
    if out is None:
        out = np.zeros(size, dtype=np.float32)
    elif out.shape != (size,) or out.dtype != np.float32:
        raise ValueError(f"observation buffer: shape {out.shape} {out.dtype}, need ({size},)")
    values = [0.0] * size  # one conversion into the array, not one per element
    scale = rate_unit_ms / max(observation.interval, 1e-9)
    for i, node in enumerate(nodes):
        cells = _report_cells(observation.reports, node)
        if cells is None:
            continue
        ingress, load, cap = cells
        values[i] = ingress * scale
        if observe_load and cap > 0:
            values[n + i] = load / cap
    out[:] = values
    return out


def _report_cells(
    reports: Mapping[str, NodeReport], node: str
) -> tuple[float, float, float] | None:
    """(ingress traffic, load, capacity) of ``node``'s report, None if it has none. Reports
    that can give these without building a NodeReport (the simulator's) are asked so."""
    fast = getattr(reports, "ingress_and_load", None)
    if fast is not None:
        cells: tuple[float, float, float] | None = fast(node)
        return cells
    report = reports.get(node)
    return None if report is None else (report.ingress_traffic, report.load, report.cap)


def postprocess(weights: npt.NDArray[Any], threshold: float) -> npt.NDArray[np.float64]:
    """Normalise each (node, row) over destinations, zero weights under ``threshold``,
    renormalise; an empty row goes wholly to its largest entry. Shape (N, R, N)."""
    w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    total = w.sum(axis=-1, keepdims=True)
    w = np.where(total > 0, w / np.where(total > 0, total, 1.0), 1.0 / w.shape[-1])
    kept = np.where(w >= threshold, w, 0.0)
    empty = kept.sum(axis=-1) <= 0
    if empty.any():
        kept = np.where(empty[..., None], np.eye(w.shape[-1])[np.argmax(w, axis=-1)], kept)
    normalised: npt.NDArray[np.float64] = kept / kept.sum(axis=-1, keepdims=True)
    return normalised


def weights_to_decision(
    nodes: Sequence[str],
    rows: Sequence[tuple[str, str]],
    weights: npt.NDArray[np.float64],
    policy: str,
) -> Decision:
    """Post-processed (N, R, N) weights as a Decision; placement from the schedule."""
    schedule: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for i, node in enumerate(nodes):
        per_chain: dict[str, dict[str, dict[str, float]]] = {}
        for r, (chain, sf) in enumerate(rows):
            row = weights[i, r]
            per_chain.setdefault(chain, {})[sf] = {
                nodes[int(j)]: float(row[j]) for j in np.flatnonzero(row > 0)
            }
        schedule[node] = per_chain
    return Decision(placement_from_schedule(schedule), schedule, policy)


@dataclass(frozen=True)
class CoordinationLayout:
    """Observation and action layout of one network and service, shared by the training
    environment and the trained policy: nodes in network order; *rows* are the (chain, SF)
    pairs; an action is N x R x N weights (node, row, destination)."""

    nodes: tuple[str, ...]
    rows: tuple[tuple[str, str], ...]  # (chain, sf)
    caps: tuple[float, ...] = ()
    ingress: tuple[str, ...] = ()
    observe_load: bool = False
    rate_unit_ms: float = RATE_UNIT_MS

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def obs_size(self) -> int:
        return self.n_nodes * (2 if self.observe_load else 1)

    @property
    def action_shape(self) -> tuple[int, int, int]:
        return (self.n_nodes, len(self.rows), self.n_nodes)

    @property
    def action_size(self) -> int:
        n, r, d = self.action_shape
        return n * r * d

    def observe(
        self, observation: Observation, out: npt.NDArray[np.float32] | None = None
    ) -> npt.NDArray[np.float32]:
        """DeepCoord's observation: ingress rate per node (and load / capacity), into
        ``out`` when given."""
        return observation_vector(
            self.nodes, self.observe_load, self.rate_unit_ms, observation, out
        )

    def decision(self, weights: npt.NDArray[np.float64], policy: str) -> Decision:
        """Post-processed (N, R, N) weights as a Decision."""
        return weights_to_decision(self.nodes, self.rows, weights, policy)
