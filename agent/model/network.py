"""The substrate network: nodes with compute capacity, links with capacity and delay.

Routing follows coord-sim: all-pairs shortest paths (networkx's Johnson) with edge
weight ``1 / (cap + 1 / delay)``, path delay the sum of link delays. Other routing modes
(pure delay, hop count) are available for non-coord-sim scenarios. The paths are
computed here as networkx's ``johnson`` computes them (the same Dijkstra, the same
order of ties, the same results), without importing networkx.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from agent.model.shortest import dijkstra

if TYPE_CHECKING:
    import networkx as nx

Adjacency = dict[str, dict[str, tuple[float, float]]]  # node -> neighbour -> (weight, delay)


class NodeKind(StrEnum):
    INGRESS = "Ingress"
    EGRESS = "Egress"
    NORMAL = "Normal"


class Routing(StrEnum):
    COORD_SIM = "coord-sim"
    DELAY = "delay"
    HOPS = "hops"


@dataclass(frozen=True)
class Node:
    id: str
    cap: float
    kind: NodeKind = NodeKind.NORMAL
    label: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Link:
    a: str
    b: str
    cap: float | None
    delay: float

    @property
    def key(self) -> frozenset[str]:
        return frozenset((self.a, self.b))


@dataclass(frozen=True)
class Path:
    nodes: tuple[str, ...]
    delay: float


@dataclass(frozen=True)
class Network:
    """An undirected substrate network. Immutable; failures are applied by the simulator."""

    name: str
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]
    source: str | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)
    _paths: dict[object, dict[tuple[str, str], Path]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._index.update({node.id: i for i, node in enumerate(self.nodes)})

    @property
    def node_ids(self) -> list[str]:
        return [node.id for node in self.nodes]

    @property
    def ingress(self) -> list[str]:
        return [node.id for node in self.nodes if node.kind is NodeKind.INGRESS]

    @property
    def egress(self) -> list[str]:
        return [node.id for node in self.nodes if node.kind is NodeKind.EGRESS]

    def index(self, node_id: str) -> int:
        return self._index[node_id]

    def node(self, node_id: str) -> Node:
        return self.nodes[self._index[node_id]]

    def has_node(self, node_id: str) -> bool:
        return node_id in self._index

    def link(self, a: str, b: str) -> Link | None:
        key = frozenset((a, b))
        return next((link for link in self.links if link.key == key), None)

    def graph(
        self,
        routing: Routing = Routing.COORD_SIM,
        down_nodes: Iterable[str] = (),
        down_links: Iterable[frozenset[str]] = (),
    ) -> nx.Graph:
        """A networkx graph of the working part of the network with routing weights."""
        import networkx as nx

        dead_nodes, dead_links = set(down_nodes), set(down_links)
        graph = nx.Graph()
        graph.add_nodes_from(node.id for node in self.nodes if node.id not in dead_nodes)
        for link in self.links:
            if link.key in dead_links or link.a in dead_nodes or link.b in dead_nodes:
                continue
            graph.add_edge(link.a, link.b, delay=link.delay, weight=_weight(link, routing))
        return graph

    def shortest_paths(
        self,
        routing: Routing = Routing.COORD_SIM,
        down_nodes: Iterable[str] = (),
        down_links: Iterable[frozenset[str]] = (),
    ) -> dict[tuple[str, str], Path]:
        """All-pairs shortest paths among working nodes; unreachable pairs are absent.
        Computed once per routing mode and set of failed elements."""
        key = (routing, frozenset(down_nodes), frozenset(down_links))
        cached = self._paths.get(key)
        if cached is None:
            cached = self._paths[key] = self._shortest_paths(*key)
        return cached

    def _shortest_paths(
        self, routing: Routing, down_nodes: frozenset[str], down_links: frozenset[frozenset[str]]
    ) -> dict[tuple[str, str], Path]:
        adjacency = self._adjacency(routing, down_nodes, down_links)
        if any(
            w < 0 or math.isnan(w) for targets in adjacency.values() for w, _ in targets.values()
        ):
            return _networkx_paths(self.graph(routing, down_nodes, down_links))
        paths: dict[tuple[str, str], Path] = {}
        for src in adjacency:
            for dst, hops in _dijkstra_paths(adjacency, src).items():
                delay = sum(adjacency[u][v][1] for u, v in itertools.pairwise(hops))
                paths[(src, dst)] = Path(tuple(hops), float(delay))
        return paths

    def _adjacency(
        self, routing: Routing, dead_nodes: frozenset[str], dead_links: frozenset[frozenset[str]]
    ) -> Adjacency:
        """``graph()``'s adjacency without networkx: nodes in order, then each link's
        ends in link order (a repeated link keeps its place and takes the last values)."""
        adjacency: Adjacency = {node.id: {} for node in self.nodes if node.id not in dead_nodes}
        for link in self.links:
            if link.key in dead_links or link.a in dead_nodes or link.b in dead_nodes:
                continue
            edge = (_weight(link, routing), link.delay)
            adjacency.setdefault(link.a, {})[link.b] = edge
            adjacency.setdefault(link.b, {})[link.a] = edge
        return adjacency


def _dijkstra_paths(adjacency: Adjacency, source: str) -> dict[str, list[str]]:
    """networkx's ``_dijkstra_multisource`` from one source with ``paths``: the nodes in
    the order they are settled, each path through the first predecessor that gave the
    node its final distance (ties broken by the order nodes were pushed)."""
    settled, pred = dijkstra(source, lambda v: ((u, cost) for u, (cost, _) in adjacency[v].items()))
    paths = {source: [source]}
    for v in itertools.islice(settled, 1, None):
        paths[v] = [*paths[pred[v]], v]
    return paths


def _networkx_paths(graph: nx.Graph) -> dict[tuple[str, str], Path]:
    """networkx's Johnson (negative weights: only links built by hand have them)."""
    import networkx as nx

    paths: dict[tuple[str, str], Path] = {}
    for src, targets in nx.johnson(graph, weight="weight").items():
        for dst, hops in targets.items():
            delay = sum(graph[u][v]["delay"] for u, v in itertools.pairwise(hops))
            paths[(src, dst)] = Path(tuple(hops), float(delay))
    for node in graph.nodes:  # johnson omits isolated nodes
        paths.setdefault((node, node), Path((node,), 0.0))
    return paths


def _weight(link: Link, routing: Routing) -> float:
    if routing is Routing.HOPS:
        return 1.0
    if routing is Routing.DELAY or link.cap is None:
        return link.delay
    # coord-sim's edge weight: prefer high capacity, small delay as tie breaker.
    if link.cap == 0:
        return math.inf
    if link.delay == 0:
        return 0.0
    return 1.0 / (link.cap + 1.0 / link.delay)
