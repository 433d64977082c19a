"""The joint scaling, placement and routing problem of hierarchical coordination (hvc).

A problem is posed on an *overlay*: border nodes grouped into domains, *paths* inside
domains (with CPU, delay and rate: a VNF can be placed on a path, traffic can cross it)
and *edges* between domains (delay and rate). Pools of CPU and of rate shared by several
paths (what a domain advertises upward) and pairs of edges sharing one capacity (a
link's two directions) join them. At the bottom of a hierarchy every substrate node is
a domain of its own with a zero-delay path ``v -> v-temp`` carrying its CPU and the way
back (``lowest_level_overlay``), exactly as the original expands a leaf domain.

Requests enter at an ingress node with an initial rate and traverse a chain of VNFs;
each VNF's CPU demand and outgoing rate are linear in its input rate
(agent.model.hvc_expr). A request without egress ends where its last VNF runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from agent.model.hvc_expr import Linear

SRC = "SRC"
DST = "DST"
TEMP_SUFFIX = "-temp"
UNLIMITED_RATE = 1_000_000.0  # the original's rate of paths that never limit


@dataclass(frozen=True)
class Vnf:
    name: str
    cpu: Linear  # CPU units for a given input rate (rounded up: CPU comes in whole units)
    out: Linear  # outgoing rate for a given input rate


@dataclass(frozen=True)
class Request:
    name: str
    ingress: str
    egress: str | None  # None: the traffic ends where its last VNF runs
    rate: float
    chain: tuple[str, ...]  # the VNFs between SRC and DST, in order (may be empty)
    chain_name: str = ""


@dataclass(frozen=True)
class OverlayPath:
    """A path inside a domain between two of its border nodes."""

    id: str
    src: str
    dst: str
    domain: str
    cpu: float
    delay: float
    max_rate: float


@dataclass(frozen=True)
class OverlayEdge:
    """A link between two domains."""

    id: str
    src: str
    dst: str
    delay: float
    max_rate: float


@dataclass(frozen=True)
class SharedPool:
    """Capacity shared by several paths (CPU or rate) or edges (rate)."""

    id: str
    members: tuple[str, ...]
    amount: float
    domain: str = ""


@dataclass(frozen=True)
class Overlay:
    domains: Mapping[str, tuple[str, ...]]  # domain -> its border nodes
    paths: Mapping[str, OverlayPath]
    edges: Mapping[str, OverlayEdge]
    shared_cpu: tuple[SharedPool, ...] = ()
    shared_path_rate: tuple[SharedPool, ...] = ()
    shared_edge_rate: tuple[SharedPool, ...] = ()

    @property
    def nodes(self) -> list[str]:
        seen: dict[str, None] = {}
        for members in self.domains.values():
            seen.update(dict.fromkeys(members))
        links: list[OverlayPath | OverlayEdge] = [*self.paths.values(), *self.edges.values()]
        for link in links:
            seen.update(dict.fromkeys((link.src, link.dst)))
        return list(seen)

    def domain_of(self, node: str) -> str | None:
        return next((d for d, members in self.domains.items() if node in members), None)


@dataclass(frozen=True)
class Problem:
    overlay: Overlay
    vnfs: Mapping[str, Vnf]
    requests: Mapping[str, Request]
    name: str = ""

    def rates(self, request: Request) -> list[float]:
        """Traffic on each arc of the request's chain: SRC -> first VNF, ..., last -> DST."""
        rates = [request.rate]
        for vnf in request.chain:
            rates.append(self.vnfs[vnf].out(rates[-1]))
        return rates


@dataclass(frozen=True)
class Substrate:
    """A substrate network: directed links with ids, node CPU and coordinates."""

    name: str
    cpu: Mapping[str, float]
    links: tuple[OverlayEdge, ...]
    coordinates: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # (x, y)
    shared_links: tuple[SharedPool, ...] = ()  # links sharing one capacity (two directions)

    @property
    def nodes(self) -> list[str]:
        return list(self.cpu)

    def link_by_id(self) -> dict[str, OverlayEdge]:
        return {link.id: link for link in self.links}


def with_backward(overlay: Overlay) -> Overlay:
    """Every edge and path usable in both directions, as the original's default: an
    edge's two directions share its rate; a path's two directions share its rate and
    its CPU, and the backward path joins the rate pools of the forward one."""
    edges = dict(overlay.edges)
    edge_pools = list(overlay.shared_edge_rate)
    for edge in overlay.edges.values():
        back = f"{edge.id}_backward"
        edges[back] = replace(edge, id=back, src=edge.dst, dst=edge.src)
        edge_pools.append(SharedPool(f"routing_{edge.id}_{back}", (edge.id, back), edge.max_rate))
    paths = dict(overlay.paths)
    rate_pools = [
        replace(pool, members=_with_backward_members(pool.members, overlay.paths))
        for pool in overlay.shared_path_rate
    ]
    cpu_pools = list(overlay.shared_cpu)
    for path in overlay.paths.values():
        back = f"{path.id}_backward"
        paths[back] = replace(path, id=back, src=path.dst, dst=path.src)
        members = (path.id, back)
        rate_pools.append(SharedPool(f"routing_{path.id}_{back}", members, path.max_rate))
        cpu_pools.append(SharedPool(f"cpu_{path.id}_{back}", members, path.cpu, path.domain))
    return Overlay(
        overlay.domains, paths, edges, tuple(cpu_pools), tuple(rate_pools), tuple(edge_pools)
    )


def _with_backward_members(
    members: tuple[str, ...], paths: Mapping[str, object]
) -> tuple[str, ...]:
    return members + tuple(f"{m}_backward" for m in members if m in paths)


def temp_node(node: str) -> str:
    return node + TEMP_SUFFIX


def temp_path(node: str) -> str:
    return "path" + node + TEMP_SUFFIX


def lowest_level_overlay(substrate: Substrate, nodes: Iterable[str] | None = None) -> Overlay:
    """A leaf domain as the original expands it: each node a domain with the path
    ``v -> v-temp`` (its CPU, no delay) and ``v-temp -> v`` (no CPU); the links among
    ``nodes`` (all by default) as edges."""
    keep = set(substrate.cpu if nodes is None else nodes)
    domains: dict[str, tuple[str, ...]] = {}
    paths: dict[str, OverlayPath] = {}
    for node in substrate.cpu:
        if node not in keep:
            continue
        domains[node] = (node, temp_node(node))
        forward, back = temp_path(node), temp_path(node) + "-bw"
        cpu = substrate.cpu[node]
        paths[forward] = OverlayPath(forward, node, temp_node(node), node, cpu, 0.0, UNLIMITED_RATE)
        paths[back] = OverlayPath(back, temp_node(node), node, node, 0.0, 0.0, UNLIMITED_RATE)
    edges = {link.id: link for link in substrate.links if link.src in keep and link.dst in keep}
    pools = tuple(p for p in substrate.shared_links if all(m in edges for m in p.members))
    return Overlay(domains, paths, edges, shared_edge_rate=pools)


def is_temp_path(path_id: str) -> bool:
    return path_id.startswith("path") and path_id.endswith(TEMP_SUFFIX)


def node_of_temp_path(path_id: str) -> str:
    return path_id[len("path") : -len(TEMP_SUFFIX)]


def total_rate(problem: Problem) -> float:
    """The largest amount any link could carry: all traffic of all arcs."""
    total = sum(sum(problem.rates(request)) for request in problem.requests.values())
    return total if math.isfinite(total) else UNLIMITED_RATE
