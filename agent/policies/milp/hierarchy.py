"""Domain hierarchies by k-means on node coordinates, as hvc's data generator builds them.

``kmeans_hierarchy(substrate, (6, 2))`` clusters the nodes into 6 leaf domains, then the
6 cluster centres into 2 parent domains under one root (3 levels); ``(4,)`` gives a root
over 4 leaf domains (2 levels); ``()`` the flat, centralised problem. As in hvc, a parent
with a single child is replaced by that child. k-means is Lloyd's algorithm with
k-means++ starts, the best of ``restarts`` runs (numpy, seeded).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from agent.model.errors import InputError
from agent.model.hvc import Substrate
from agent.model.hvc_topology import DomainSpec

Points = npt.NDArray[np.float64]


def flat_hierarchy(substrate: Substrate) -> DomainSpec:
    return DomainSpec("root", tuple(substrate.nodes))


def kmeans_hierarchy(
    substrate: Substrate, domains: Sequence[int], seed: int = 0, restarts: int = 10
) -> DomainSpec:
    """Leaf domains first: ``domains[0]`` clusters of nodes, ``domains[1]`` clusters of
    those, and so on; one root above all."""
    if not domains:
        return flat_hierarchy(substrate)
    missing = [node for node in substrate.nodes if node not in substrate.coordinates]
    if missing:
        raise InputError(substrate.name, f"node {missing[0]!r}", "has no coordinates for k-means")
    places = tuple((n, tuple(substrate.coordinates[n])) for n in substrate.nodes)
    return _clustered(places, tuple(domains), seed, restarts)


@functools.lru_cache(maxsize=64)
def _clustered(
    places: tuple[tuple[str, tuple[float, ...]], ...],
    domains: tuple[int, ...],
    seed: int,
    restarts: int,
) -> DomainSpec:
    """The hierarchy of these nodes at these coordinates: the same inputs give the same
    (immutable) tree, so re-planning on one network clusters it once."""
    nodes = [name for name, _ in places]
    points = np.array([xy for _, xy in places], dtype=np.float64)
    level: list[DomainSpec] = []
    counter = 0
    for depth, k in enumerate(domains):
        if not 1 <= k <= len(points):
            raise InputError(None, "domains", f"cannot make {k} clusters of {len(points)} items")
        centres, labels = kmeans(points, k, seed, restarts)
        groups: list[DomainSpec] = []
        for cluster in range(k):
            members = [i for i, label in enumerate(labels) if label == cluster]
            if depth == 0:
                groups.append(DomainSpec(f"domain{counter}", tuple(nodes[i] for i in members)))
            elif len(members) == 1:
                groups.append(level[members[0]])
            else:
                groups.append(DomainSpec(f"domain{counter}", (), tuple(level[i] for i in members)))
            counter += 1
        level, points = groups, centres
    if len(level) == 1:
        return DomainSpec("root", level[0].nodes, level[0].children)
    return DomainSpec("root", (), tuple(level))


def kmeans(points: Points, k: int, seed: int, restarts: int = 10) -> tuple[Points, list[int]]:
    """Cluster centres and each point's cluster (no cluster left empty)."""
    rng = np.random.default_rng(seed)
    best: tuple[float, Points, npt.NDArray[np.int64]] | None = None
    for _ in range(max(1, restarts)):
        centres, labels = _lloyd(points, _plus_plus(points, k, rng))
        inertia = float(((points - centres[labels]) ** 2).sum())
        if best is None or inertia < best[0] - 1e-12:
            best = (inertia, centres, labels)
    assert best is not None
    return best[1], [int(label) for label in best[2]]


def _plus_plus(points: Points, k: int, rng: np.random.Generator) -> Points:
    centres = [points[rng.integers(len(points))]]
    for _ in range(1, k):
        dist = np.min([((points - c) ** 2).sum(axis=1) for c in centres], axis=0)
        total = float(dist.sum())
        index = rng.choice(len(points), p=dist / total) if total > 0 else rng.integers(len(points))
        centres.append(points[index])
    return np.array(centres)


def _lloyd(points: Points, centres: Points) -> tuple[Points, npt.NDArray[np.int64]]:
    labels = np.zeros(len(points), dtype=np.int64)
    for _ in range(300):
        dist = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        labels = np.argmin(dist, axis=1)
        for cluster in range(len(centres)):
            if not np.any(labels == cluster):  # refill an empty cluster with the farthest point
                far = int(np.argmax(dist[np.arange(len(points)), labels]))
                labels[far] = cluster
        new = np.array([points[labels == c].mean(axis=0) for c in range(len(centres))])
        if np.allclose(new, centres):
            break
        centres = new
    return centres, labels
