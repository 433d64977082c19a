"""Single-source Dijkstra in networkx's order, for the graphs the project keeps without
networkx (the network's all-pairs paths, the MILP's advertised routes and corridors).

networkx (``_dijkstra_multisource``) settles nodes in order of distance, ties in the
order the nodes were pushed, and gives each node the predecessor that first reached its
final distance. ``dijkstra`` does the same, so that the paths built from it are the ones
networkx would give.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

Node = TypeVar("Node", bound=Hashable)


def dijkstra(
    source: Node,
    neighbours: Callable[[Node], Iterable[tuple[Node, float]]],
    target: Node | None = None,
) -> tuple[dict[Node, float], dict[Node, Node]]:
    """Shortest distances from ``source`` (a dict in the order the nodes were settled)
    and each reached node's predecessor on its path, over the weighted arcs
    ``neighbours(node)`` gives. With a ``target``, the search stops once it is settled."""
    settled: dict[Node, float] = {}
    seen: dict[Node, float] = {source: 0.0}
    pred: dict[Node, Node] = {}
    counter = itertools.count()
    fringe: list[tuple[float, int, Node]] = [(0.0, next(counter), source)]
    while fringe:
        dist, _, node = heapq.heappop(fringe)
        if node in settled:
            continue
        settled[node] = dist
        if node == target:
            break
        for nxt, weight in neighbours(node):
            length = dist + weight
            if nxt not in settled and (nxt not in seen or length < seen[nxt]):
                seen[nxt] = length
                pred[nxt] = node
                heapq.heappush(fringe, (length, next(counter), nxt))
    return settled, pred


def route(pred: dict[Node, Node], source: Node, target: Node) -> list[Node]:
    """The path from ``source`` to ``target`` along ``pred`` (``target`` reached)."""
    hops = [target]
    while hops[-1] != source:
        hops.append(pred[hops[-1]])
    return hops[::-1]
