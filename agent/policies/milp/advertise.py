"""Bottom-up advertisement: what each domain tells its parent about itself.

A domain's *border nodes* are its nodes with a link leaving it and the ingress and egress
nodes of requests. They fall into groups: one per neighbouring domain (at the level
where the link leaves the common ancestor) plus ``ingress`` and ``egress``. For every
ordered pair of groups the domain advertises paths through itself (as hvc computes paths
between groups with a super source and sink), found as successive link-disjoint
shortest paths by delay:

- ``full``: all of them, until the groups are disconnected;
- ``2``: the best two; ``1``: the shortest.

Each border node also gets a zero-delay *local* path ``u -> u~`` carrying the CPU of
node u (and the way back), so that a parent can place a VNF at a border node without
crossing the domain, like hvc's ``v -> v-temp`` paths at the bottom. A path's CPU is the
CPU of the substrate nodes it touches; nodes shared by several paths become shared CPU
pools, links shared by several paths shared rate pools (hvc's advertised restrictions).
A parent's view is its children's paths and pools plus the links between children.
The route search is Dijkstra on plain adjacency dicts (one copy per border node, links
removed as routes take them), choosing between equally short routes as networkx does.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from agent.model.hvc import (
    UNLIMITED_RATE,
    Overlay,
    OverlayPath,
    Request,
    SharedPool,
    Substrate,
    lowest_level_overlay,
)
from agent.model.hvc_topology import DomainSpec
from agent.model.shortest import dijkstra
from agent.model.shortest import route as route_of

Adjacency = dict[str, dict[str, dict[str, float]]]  # u -> v -> link id -> delay
SINK = "<t>"  # joins a group's nodes for the search
INGRESS_GROUP = "ingress"
EGRESS_GROUP = "egress"


class Placement(StrEnum):
    BORDER = "border"  # the domain's CPU at each border node; paths for transit
    PATHS = "paths"  # hvc's: VNFs on advertised paths, their nodes' CPU pooled


class Advertise(StrEnum):
    FULL = "full"
    TWO = "2"
    ONE = "1"

    @property
    def limit(self) -> int | None:
        return {Advertise.FULL: None, Advertise.TWO: 2, Advertise.ONE: 1}[self]


@dataclass(frozen=True)
class AdvertiseOptions:
    mode: Advertise = Advertise.FULL
    placement: Placement = Placement.BORDER
    endpoints: frozenset[str] = frozenset()  # ingress and egress nodes of the requests


@dataclass(frozen=True)
class AdvertisedPath:
    path: OverlayPath
    route: tuple[str, ...]  # links of the advertising domain's view
    nodes: tuple[str, ...]  # substrate nodes whose CPU it offers
    links: tuple[str, ...]  # substrate links it crosses
    local: bool = False


@dataclass(frozen=True)
class Abstraction:
    domain: str
    border: tuple[str, ...]
    paths: Mapping[str, AdvertisedPath]
    shared_cpu: tuple[SharedPool, ...] = ()
    shared_rate: tuple[SharedPool, ...] = ()

    def nodes(self) -> tuple[str, ...]:
        """Border nodes and the local nodes behind them."""
        local = tuple(p.path.dst for p in self.paths.values() if p.local and p.path.cpu > 0)
        return self.border + local


@dataclass(frozen=True)
class DomainView:
    """What a domain's coordinator solves on."""

    spec: DomainSpec
    overlay: Overlay
    children: Mapping[str, Abstraction] = field(default_factory=dict)

    @property
    def is_leaf(self) -> bool:
        return self.spec.is_leaf


@dataclass(frozen=True)
class HierarchyPlan:
    root: DomainSpec
    substrate: Substrate
    options: AdvertiseOptions
    views: Mapping[str, DomainView]
    abstractions: Mapping[str, Abstraction]

    def levels(self) -> list[list[DomainSpec]]:
        """Domains by depth, the root first."""
        levels: list[list[DomainSpec]] = [[self.root]]
        while True:
            below = [child for domain in levels[-1] for child in domain.children]
            if not below:
                return levels
            levels.append(below)


def local_node(node: str, domain: str) -> str:
    return f"{node}~{domain}"


def plan_hierarchy(
    root: DomainSpec,
    substrate: Substrate,
    requests: Iterable[Request],
    mode: Advertise = Advertise.FULL,
    placement: Placement = Placement.BORDER,
) -> HierarchyPlan:
    """Views and abstractions of every domain, bottom-up, for these requests' ends."""
    requests = list(requests)
    ingress = {r.ingress for r in requests}
    egress = {r.egress for r in requests if r.egress is not None}
    options = AdvertiseOptions(mode, placement, frozenset(ingress | egress))
    ancestry = _ancestry(root)
    abstractions: dict[str, Abstraction] = {}
    views: dict[str, DomainView] = {}
    for domain in reversed(root.walk()):  # children before parents
        view = _view(domain, substrate, abstractions)
        views[domain.name] = view
        if domain is not root:
            groups = _groups(domain, substrate, ancestry, (ingress, egress))
            abstractions[domain.name] = _abstract(domain, view, substrate, groups, options)
    return HierarchyPlan(root, substrate, options, views, abstractions)


def _ancestry(root: DomainSpec) -> dict[str, list[str]]:
    """Substrate node -> names of the domains containing it, root first."""
    chains: dict[str, list[str]] = {}

    def visit(domain: DomainSpec, above: list[str]) -> None:
        here = [*above, domain.name]
        for node in domain.nodes:
            chains[node] = here
        for child in domain.children:
            visit(child, here)

    visit(root, [])
    return chains


def _groups(
    domain: DomainSpec,
    substrate: Substrate,
    ancestry: dict[str, list[str]],
    endpoints: tuple[set[str], set[str]],
) -> dict[str, list[str]]:
    inside = set(domain.substrate_nodes())
    groups: dict[str, dict[str, None]] = defaultdict(dict)
    for link in substrate.links:
        for here, there in ((link.src, link.dst), (link.dst, link.src)):
            if here in inside and there not in inside:
                mine, theirs = ancestry[here], ancestry[there]
                split = next(
                    i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b
                )
                groups[theirs[split]][here] = None
    order = domain.substrate_nodes()
    for name, nodes in ((INGRESS_GROUP, endpoints[0]), (EGRESS_GROUP, endpoints[1])):
        for node in sorted(nodes & inside, key=order.index):
            groups[f"{name}:{node}"][node] = None
    return {name: list(members) for name, members in groups.items()}


def _view(
    domain: DomainSpec, substrate: Substrate, abstractions: Mapping[str, Abstraction]
) -> DomainView:
    if domain.is_leaf:
        return DomainView(domain, lowest_level_overlay(substrate, domain.nodes))
    children = {child.name: abstractions[child.name] for child in domain.children}
    owner = {n: child.name for child in domain.children for n in child.substrate_nodes()}
    edges = {
        link.id: link
        for link in substrate.links
        if link.src in owner and link.dst in owner and owner[link.src] != owner[link.dst]
    }
    paths = {pid: ap.path for a in children.values() for pid, ap in a.paths.items()}
    shared = tuple(p for p in substrate.shared_links if all(m in edges for m in p.members))
    overlay = Overlay(
        {name: a.nodes() for name, a in children.items()},
        paths,
        edges,
        tuple(pool for a in children.values() for pool in a.shared_cpu),
        tuple(pool for a in children.values() for pool in a.shared_rate),
        shared,
    )
    return DomainView(domain, overlay, children)


def _search_graph(view: DomainView) -> Adjacency:
    """Links between children and the children's transit paths: u -> v -> link -> delay,
    in the order they are listed (which decides between equally short routes)."""
    graph: Adjacency = {}
    for edge in view.overlay.edges.values():
        graph.setdefault(edge.src, {}).setdefault(edge.dst, {})[edge.id] = edge.delay
    for child in view.children.values():
        for pid, ap in child.paths.items():
            if not ap.local:
                graph.setdefault(ap.path.src, {}).setdefault(ap.path.dst, {})[pid] = ap.path.delay
    return graph


def _abstract(
    domain: DomainSpec,
    view: DomainView,
    substrate: Substrate,
    groups: dict[str, list[str]],
    options: AdvertiseOptions,
) -> Abstraction:
    graph = _search_graph(view)
    border = list(dict.fromkeys(n for members in groups.values() for n in members))
    paths: dict[str, AdvertisedPath] = {}
    routes: set[tuple[str, ...]] = set()
    for first, second in itertools.permutations(groups, 2):
        if first.startswith(EGRESS_GROUP + ":") or second.startswith(INGRESS_GROUP + ":"):
            continue
        for route in _disjoint_paths(graph, groups[first], groups[second], options.mode.limit):
            if route not in routes:
                routes.add(route)
                pid = f"{domain.name}:p{len(paths)}"
                paths[pid] = _advertised(pid, domain.name, route, view, substrate)
    if options.placement is Placement.BORDER:
        return _border_abstraction(domain, border, paths, substrate)
    for node in border:
        if substrate.cpu[node] > 0 and node in options.endpoints:
            cpu = substrate.cpu[node]
            for ap in _local_paths(domain.name, node, cpu, (node,)):
                paths[ap.path.id] = ap
    cpu_pools, rate_pools = _pools(domain.name, paths, substrate)
    return Abstraction(domain.name, tuple(border), paths, cpu_pools, rate_pools)


def _border_abstraction(
    domain: DomainSpec, border: list[str], paths: dict[str, AdvertisedPath], substrate: Substrate
) -> Abstraction:
    """Paths for transit only; the domain's CPU offered at every border node (one pool)."""
    inside = tuple(domain.substrate_nodes())
    total = sum(substrate.cpu[n] for n in inside)
    result = {
        pid: AdvertisedPath(replace(ap.path, cpu=0.0), ap.route, (), ap.links)
        for pid, ap in paths.items()
    }
    hosts = []
    for node in border if total > 0 else []:
        for ap in _local_paths(domain.name, node, total, inside):
            result[ap.path.id] = ap
        hosts.append(f"{domain.name}:local:{node}")
    _, rate_pools = _pools(domain.name, result, substrate)
    cpu_pools = (SharedPool(f"{domain.name}:cpu", tuple(hosts), total, domain.name),)
    return Abstraction(
        domain.name, tuple(border), result, cpu_pools if len(hosts) > 1 else (), rate_pools
    )


def _disjoint_paths(
    graph: Adjacency, sources: list[str], targets: list[str], limit: int | None
) -> list[tuple[str, ...]]:
    """From every source, link-disjoint shortest routes (link ids) to the nearest target:
    each source keeps a way out, whichever border node the parent routes to."""
    targets = [t for t in targets if t not in sources]
    routes: list[tuple[str, ...]] = []
    for source in sources if targets else []:
        work = {u: {v: dict(links) for v, links in out.items()} for u, out in graph.items()}
        for target in targets:
            work.setdefault(target, {})[SINK] = {SINK: 0.0}
        found = 0
        while limit is None or found < limit:
            found += 1
            hops = _shortest_route(work, source, SINK)
            if hops is None:
                break
            routes.append(tuple(_take_link(work, u, v) for u, v in itertools.pairwise(hops[:-1])))
    return routes


def _take_link(graph: Adjacency, u: str, v: str) -> str:
    """Remove and return the parallel link from u to v with the least delay."""
    parallel = graph[u][v]
    key = min(parallel, key=parallel.__getitem__)
    del parallel[key]
    if not parallel:
        del graph[u][v]
    return key


def _shortest_route(graph: Adjacency, source: str, target: str) -> list[str] | None:
    """Dijkstra by the least delay between two nodes; ties go to the node reached first
    (as networkx's ``dijkstra_path``). None when ``target`` is out of reach."""
    if source not in graph:
        return None

    def arcs(node: str) -> Iterable[tuple[str, float]]:
        return ((nxt, min(parallel.values())) for nxt, parallel in graph.get(node, {}).items())

    settled, pred = dijkstra(source, arcs, target)
    return route_of(pred, source, target) if target in settled else None


def _advertised(
    pid: str, domain: str, route: tuple[str, ...], view: DomainView, substrate: Substrate
) -> AdvertisedPath:
    nodes: dict[str, None] = {}
    links: dict[str, None] = {}
    rate, delay = float("inf"), 0.0
    for link_id in route:
        if link_id in view.overlay.edges:
            edge = view.overlay.edges[link_id]
            links[link_id] = None
            nodes.update(dict.fromkeys((edge.src, edge.dst)))
            rate, delay = min(rate, edge.max_rate), delay + edge.delay
        else:
            child = view.overlay.paths[link_id].domain
            ap = view.children[child].paths[link_id]
            nodes.update(dict.fromkeys(ap.nodes))
            links.update(dict.fromkeys(ap.links))
            rate, delay = min(rate, ap.path.max_rate), delay + ap.path.delay
    src = _link_src(view, route[0])
    dst = _link_dst(view, route[-1])
    cpu = sum(substrate.cpu[n] for n in nodes)
    path = OverlayPath(pid, src, dst, domain, cpu, delay, rate)
    return AdvertisedPath(path, route, tuple(nodes), tuple(links))


def _link_src(view: DomainView, link: str) -> str:
    source = view.overlay.edges.get(link) or view.overlay.paths[link]
    return source.src


def _link_dst(view: DomainView, link: str) -> str:
    source = view.overlay.edges.get(link) or view.overlay.paths[link]
    return source.dst


def _local_paths(
    domain: str, node: str, cpu: float, nodes: tuple[str, ...]
) -> list[AdvertisedPath]:
    """``u -> u~`` offering ``cpu`` (of ``nodes``) without delay, and the way back."""
    there = local_node(node, domain)
    out = OverlayPath(f"{domain}:local:{node}", node, there, domain, cpu, 0.0, UNLIMITED_RATE)
    back = OverlayPath(f"{domain}:local:{node}:bw", there, node, domain, 0.0, 0.0, UNLIMITED_RATE)
    return [
        AdvertisedPath(out, (), nodes, (), local=True),
        AdvertisedPath(back, (), (), (), local=True),
    ]


def _pools(
    domain: str, paths: Mapping[str, AdvertisedPath], substrate: Substrate
) -> tuple[tuple[SharedPool, ...], tuple[SharedPool, ...]]:
    by_node: dict[str, set[str]] = defaultdict(set)
    by_link: dict[str, set[str]] = defaultdict(set)
    for pid, ap in paths.items():
        for node in ap.nodes:
            by_node[node].add(pid)
        for link in ap.links:
            by_link[link].add(pid)
    cpu: dict[frozenset[str], float] = defaultdict(float)
    for node, members in by_node.items():
        if len(members) > 1:
            cpu[frozenset(members)] += substrate.cpu[node]
    rates = substrate.link_by_id()
    rate: dict[frozenset[str], float] = {}
    for link, members in by_link.items():
        if len(members) > 1:
            key = frozenset(members)
            rate[key] = min(rate.get(key, float("inf")), rates[link].max_rate)
    cpu_pools = tuple(
        SharedPool(f"{domain}:cpu{i}", tuple(sorted(m)), amount, domain)
        for i, (m, amount) in enumerate(cpu.items())
    )
    rate_pools = tuple(
        SharedPool(f"{domain}:rate{i}", tuple(sorted(m)), amount, domain)
        for i, (m, amount) in enumerate(rate.items())
    )
    return cpu_pools, rate_pools
