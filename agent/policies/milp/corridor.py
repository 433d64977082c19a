"""Corridors: the links a request may use when its detour is bounded (a heuristic).

A request's *base* delay is that of its shortest route from the ingress through one path
that can host its chain to the egress. With a corridor of slack ``s``, its flows may use
a link (u, v) only if some route ingress -> u -> v -> egress is at most ``(1 + s)`` times
the base: the links of an ellipse around the shortest route, and its VNFs only on paths
among them. Each domain of a hierarchy is a heuristic step anyway; the corridor leaves
the MILP far fewer columns (the flows are most of a domain's model) at the risk of a
longer route or of no solution, when the solver tries the next, wider corridor and at
last all links. A request without an egress keeps every link.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Protocol

from agent.model.hvc import Problem, Request
from agent.model.shortest import dijkstra

ABS_TOL = 1e-9


class Arc(Protocol):
    """A directed link with a delay (the model's links, edges and paths alike)."""

    @property
    def id(self) -> str: ...

    @property
    def src(self) -> str: ...

    @property
    def dst(self) -> str: ...

    @property
    def delay(self) -> float: ...


Adjacency = dict[str, list[tuple[str, float]]]


def adjacency(arcs: Iterable[Arc], reverse: bool = False) -> Adjacency:
    """Each node's neighbours with the delay to them (from them, with ``reverse``)."""
    out: Adjacency = defaultdict(list)
    for arc in arcs:
        if reverse:
            out[arc.dst].append((arc.src, arc.delay))
        else:
            out[arc.src].append((arc.dst, arc.delay))
    return out


def distances(graph: Adjacency, source: str) -> dict[str, float]:
    """Shortest delays from ``source`` over ``graph`` (Dijkstra)."""
    return dijkstra(source, lambda node: graph.get(node, ()))[0]


def hosts(problem: Problem, request: Request) -> list[tuple[str, str, float]]:
    """(src, dst, delay) of the paths that can run the request's VNFs (any CPU, or none
    needed); the ingress itself for an empty chain."""
    if not request.chain:
        return [(request.ingress, request.ingress, 0.0)]
    needs_cpu = any(
        problem.vnfs[v].cpu.slope or problem.vnfs[v].cpu.intercept for v in request.chain
    )
    paths = problem.overlay.paths.values()
    return [(p.src, p.dst, p.delay) for p in paths if p.cpu > 0 or not needs_cpu]


def corridors(problem: Problem, arcs: Mapping[str, Arc], slack: float) -> dict[str, list[str]]:
    """Per request the ids of the links (in ``arcs``' order) it may use with this slack."""
    forward, backward = adjacency(arcs.values()), adjacency(arcs.values(), reverse=True)
    return {
        name: corridor(problem, request, arcs, slack, (forward, backward))
        for name, request in problem.requests.items()
    }


def corridor(
    problem: Problem,
    request: Request,
    arcs: Mapping[str, Arc],
    slack: float,
    graphs: tuple[Adjacency, Adjacency] | None = None,
) -> list[str]:
    """The ids of the links (in ``arcs``' order) the request may use with this slack;
    ``graphs``: ``arcs`` forward and reversed, where already at hand."""
    if request.egress is None:
        return list(arcs)
    forward, backward = graphs or (adjacency(arcs.values()), adjacency(arcs.values(), True))
    ahead = distances(forward, request.ingress)
    behind = distances(backward, request.egress)
    base = min(
        (
            ahead.get(src, math.inf) + delay + behind.get(dst, math.inf)
            for src, dst, delay in hosts(problem, request)
        ),
        default=math.inf,
    )
    if not math.isfinite(base):
        return list(arcs)  # nothing to bound by: the MILP finds out
    limit = (1.0 + slack) * base + ABS_TOL
    return [
        arc.id
        for arc in arcs.values()
        if ahead.get(arc.src, math.inf) + arc.delay + behind.get(arc.dst, math.inf) <= limit
    ]
