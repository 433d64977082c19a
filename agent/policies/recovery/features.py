"""Graph-aware node features of a recovery state, batched with numpy.

A state is the vector of remaining demands (and the step); the functional set and the
frontier follow from it. Every node gets the same features whatever the graph's size, so one
network scores the nodes of graphs of any size. Besides the node's own utility, remaining
demand and RATIO's ratio, the features look one hop past the frontier: the utility that
repairing a node would unlock (neighbours not yet adjacent to the functional set) and the best
two-node ratio (u_v + u_w) / (d_v + d_w) through such a neighbour, which exposes the traps
where a costly, low-utility node guards a valuable one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agent.model.recovery import RecoveryInstance

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
NODE_FEATURES = 16
EPS = 1e-6


@dataclass(frozen=True)
class GraphArrays:
    """The static part of an instance as arrays."""

    adjacency: FloatArray  # (n, n) 0/1
    utility: FloatArray  # (n,)
    demand: IntArray  # (n,), the independent node's set to 0
    independent: int
    horizon: int
    capacity: int

    @staticmethod
    def of(instance: RecoveryInstance) -> GraphArrays:
        adjacency = np.zeros((instance.n, instance.n), dtype=np.float32)
        for a, b in instance.edges:
            if a != b:
                adjacency[a, b] = adjacency[b, a] = 1.0
        demand = np.array(instance.demand, dtype=np.int64)
        demand[instance.independent] = 0
        return GraphArrays(
            adjacency=adjacency,
            utility=np.array(instance.utility, dtype=np.float32),
            demand=demand,
            independent=instance.independent,
            horizon=max(instance.horizon, 1),
            capacity=instance.capacity,
        )

    @property
    def n(self) -> int:
        return int(self.utility.shape[0])


def functional_sets(graph: GraphArrays, remaining: IntArray) -> BoolArray:
    """(B, n): the component of the independent node among nodes with no remaining demand."""
    repaired = remaining <= 0
    functional = np.zeros(remaining.shape, dtype=bool)
    functional[:, graph.independent] = True
    while True:
        grown = functional | (((functional.astype(np.float32) @ graph.adjacency) > 0) & repaired)
        if np.array_equal(grown, functional):
            return functional
        functional = grown


def frontier_mask(graph: GraphArrays, functional: BoolArray) -> BoolArray:
    """(B, n): non-functional nodes adjacent to the functional set (the valid first nodes)."""
    return ~functional & ((functional.astype(np.float32) @ graph.adjacency) > 0)


def node_features(
    graph: GraphArrays, remaining: IntArray, step: IntArray
) -> tuple[FloatArray, BoolArray]:
    """Features (B, n, NODE_FEATURES) and the frontier mask (B, n) of B states."""
    functional = functional_sets(graph, remaining)
    front = frontier_mask(graph, functional)
    locked = ~functional & ~front
    u, adj = graph.utility, graph.adjacency
    rem = remaining.astype(np.float32)
    left = np.maximum(rem, 1.0)
    ratio = u / left
    best = np.maximum(np.where(front, ratio, 0.0).max(axis=1, keepdims=True), EPS)
    locked_f = locked.astype(np.float32)
    unlock_u = (locked_f * u) @ adj
    unlock_n = locked_f @ adj
    pair = (u[None, :, None] + u[None, None, :]) / (left[:, :, None] + left[:, None, :])
    pair = np.where((adj[None] > 0) & locked[:, None, :], pair, 0.0).max(axis=2)
    pair = np.maximum(pair, ratio)
    total_u = max(float(u.sum()), EPS)
    total_d = max(float(graph.demand.sum()), 1.0)
    degree = adj.sum(axis=1)
    batch, n = remaining.shape
    out = np.empty((batch, n, NODE_FEATURES), dtype=np.float32)
    out[..., 0] = functional
    out[..., 1] = front
    out[..., 2] = u / max(float(u.max()), EPS)
    out[..., 3] = rem / max(float(graph.demand.max()), 1.0)
    out[..., 4] = np.where(graph.demand > 0, 1.0 - rem / np.maximum(graph.demand, 1), 0.0)
    out[..., 5] = np.where(front, ratio / best, 0.0)
    out[..., 6] = front & (ratio >= best - EPS)
    out[..., 7] = unlock_u / total_u * 4.0
    out[..., 8] = np.where(front, pair / best, 0.0)
    out[..., 9] = degree / max(float(degree.max()), 1.0)
    out[..., 10] = unlock_n / max(float(degree.max()), 1.0)
    out[..., 11] = ((graph.horizon - step) / graph.horizon)[:, None]
    out[..., 12] = ((functional * u).sum(axis=1) / total_u)[:, None]
    out[..., 13] = (np.maximum(rem, 0).sum(axis=1) / total_d)[:, None]
    out[..., 14] = (front.sum(axis=1) / n)[:, None]
    out[..., 15] = n / 40.0
    return out, front
