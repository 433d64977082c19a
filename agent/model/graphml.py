"""A GraphML reader on the standard library (expat) that gives what networkx's
``read_graphml`` gives for the files networks come in: one graph, directed or not,
without parallel edges, with plain ``<data>`` values.

``read_graphml`` returns the nodes and edges in the order networkx's graph lists them
(``G.nodes(data=True)``, ``G.edges(data=True)``, edges oriented as networkx orients
them), the same attribute values of the same types, the edge ``id`` attribute and the
graph attributes (``node_default``, ``edge_default``, graph data). Anything else
networkx reads its own way (several graphs, parallel edges, yFiles data with
sub-elements, ports, hyperedges, nested graphs, files without the GraphML namespace,
values it cannot convert) raises ``Unsupported``: the caller reads that file with
networkx instead. The file is expected to have passed ``network_scan.scan_graphml``
(well-formed, no entities), which reports located errors first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

NS = "http://graphml.graphdrawing.org/xmlns"
_GRAPHML, _KEY, _DEFAULT = f"{NS} graphml", f"{NS} key", f"{NS} default"
_GRAPH, _NODE, _EDGE, _DATA = f"{NS} graph", f"{NS} node", f"{NS} edge", f"{NS} data"
_REFUSED = {f"{NS} hyperedge", f"{NS} port", _GRAPH}  # inside a graph, node or edge
_BOOL = {"true": True, "false": False, "0": False, "1": True}
_TYPES: dict[str, Callable[[str], Any]] = {
    "integer": int,
    "int": int,
    "long": int,
    "float": float,
    "double": float,
    "string": str,
    "yfiles": str,
    "boolean": lambda text: _BOOL[text.lower()],
}


class Unsupported(Exception):
    """The file uses GraphML that this reader leaves to networkx."""


@dataclass
class RawGraph:
    """A network file as read: node id -> attributes, and (u, v, attributes) edges, in
    the order networkx lists them."""

    nodes: dict[Any, dict[str, Any]]
    edges: list[tuple[Any, Any, dict[str, Any]]]
    directed: bool = False
    graph: dict[str, Any] = field(default_factory=dict)

    def relabelled(self, mapping: dict[Any, Any]) -> RawGraph:
        """The graph with its nodes renamed (as ``networkx.relabel_nodes`` with a copy:
        the same order, copied attributes)."""
        return RawGraph(
            {mapping.get(n, n): dict(attrs) for n, attrs in self.nodes.items()},
            [(mapping.get(u, u), mapping.get(v, v), dict(d)) for u, v, d in self.edges],
            self.directed,
            dict(self.graph),
        )


@dataclass
class _Element:
    """A ``<node>``, ``<edge>`` or the ``<graph>``: its XML attributes and the
    (key id, text) of its ``<data>`` children; text None where a ``<data>`` is empty."""

    attrs: dict[str, str]
    data: list[tuple[str | None, str | None]] = field(default_factory=list)


class _Reader:
    """expat handlers collecting keys, the first graph, its nodes and edges."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.keys: list[tuple[dict[str, str], str | None, bool]] = []  # attrs, default, has one
        self.graph: _Element | None = None
        self.nodes: list[_Element] = []
        self.edges: list[_Element] = []
        self.owner: _Element | None = None  # the node or edge being read
        self.text: list[str] | None = None  # of the <data>/<default> being read

    def start(self, name: str, attrs: dict[str, str]) -> None:
        depth, self.stack = len(self.stack), [*self.stack, name]
        if self.text is not None:
            raise Unsupported("a value with sub-elements")
        if depth == 0:
            if name != _GRAPHML:
                raise Unsupported("the root is not a namespaced <graphml>")
        elif depth == 1:
            self._top(name, attrs)
        elif depth == 2 and self.stack[1] == _KEY and name == _DEFAULT:
            if not self.keys[-1][2]:  # networkx reads the first <default>
                self.text = []
        elif depth >= 2 and self.stack[1] == _GRAPH:
            self._in_graph(depth, name, attrs)

    def _top(self, name: str, attrs: dict[str, str]) -> None:
        if name == _KEY:
            self.keys.append((attrs, None, False))
        elif name == _GRAPH:
            if self.graph is not None:
                raise Unsupported("several graphs")
            self.graph = _Element(attrs)

    def _in_graph(self, depth: int, name: str, attrs: dict[str, str]) -> None:
        if name in _REFUSED and depth <= 3:
            raise Unsupported(f"<{name.rpartition(' ')[2]}>")
        if depth == 2 and name in (_NODE, _EDGE):
            self.owner = _Element(attrs)
            (self.nodes if name == _NODE else self.edges).append(self.owner)
        elif name == _DATA and (depth == 2 or (depth == 3 and self.stack[2] in (_NODE, _EDGE))):
            owner = self.graph if depth == 2 else self.owner
            assert owner is not None
            owner.data.append((attrs.get("key"), None))
            self.text = []

    def end(self, name: str) -> None:
        self.stack.pop()
        if self.text is None or name not in (_DATA, _DEFAULT):
            return
        text = "".join(self.text) if self.text else None
        self.text = None
        if name == _DEFAULT:
            attrs, _, _ = self.keys[-1]
            self.keys[-1] = (attrs, text, True)
            return
        owner = self.graph if len(self.stack) == 2 else self.owner
        assert owner is not None
        owner.data[-1] = (owner.data[-1][0], text)

    def characters(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)


def read_graphml(file: Path) -> RawGraph:
    """The first graph of ``file`` as networkx reads it; Unsupported where this reader
    does not follow networkx."""
    reader = _Reader()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.characters
    parser.StartCdataSectionHandler = _refuse_cdata
    with file.open("rb") as handle:
        parser.ParseFile(handle)
    if reader.graph is None:
        raise Unsupported("no graph")
    return _build(reader, reader.graph)


def _refuse_cdata() -> None:
    raise Unsupported("a CDATA section")


Key = tuple[str, Callable[[str], Any], str | None]  # attribute name, type, for


def _keys(reader: _Reader) -> tuple[dict[str, Key], dict[str, Any]]:
    """networkx's ``find_graphml_keys``: key id -> (name, type, for), and the defaults."""
    keys: dict[str, Key] = {}
    defaults: dict[str, Any] = {}
    for attrs, default, has_default in reader.keys:
        key_id = attrs.get("id")
        if key_id is None or key_id in keys:
            raise Unsupported("a key without an id, or declared twice")
        kind, name = attrs.get("attr.type", "string"), attrs.get("attr.name")
        if "yfiles.type" in attrs:
            kind, name = "yfiles", attrs["yfiles.type"]
        if name is None or kind not in _TYPES:
            raise Unsupported("a key networkx refuses")
        keys[key_id] = (name, _TYPES[kind], attrs.get("for"))
        if has_default:
            defaults[key_id] = _convert(keys[key_id][1], default)
    return keys, defaults


def _convert(kind: Callable[[str], Any], text: str | None) -> Any:
    if text is None:
        raise Unsupported("an empty default")
    try:
        return kind(text)
    except (ValueError, KeyError, OverflowError):
        raise Unsupported("a value networkx cannot convert") from None


def _decode(keys: dict[str, Key], element: _Element) -> dict[str, Any]:
    """networkx's ``decode_data_elements`` for plain values: an empty ``<data>`` is ""."""
    data: dict[str, Any] = {}
    for key, text in element.data:
        if key not in keys:
            raise Unsupported("data for an undeclared key")
        name, kind, _ = keys[key]
        data[name] = "" if text is None else _convert(kind, text)
    return data


def _build(reader: _Reader, graph: _Element) -> RawGraph:
    keys, defaults = _keys(reader)
    directed = graph.attrs.get("edgedefault") == "directed"
    attrs: dict[str, Any] = {"node_default": {}, "edge_default": {}}
    for key_id, value in defaults.items():
        name, _, key_for = keys[key_id]
        if key_for in ("node", "edge"):  # networkx converts the converted value again: the same
            attrs[f"{key_for}_default"][name] = value
    nodes: dict[Any, dict[str, Any]] = {}
    for node in reader.nodes:
        node_id = node.attrs.get("id")
        if node_id is None or node.attrs.get("yfiles.foldertype") == "group":
            raise Unsupported("a node without an id, or a group")
        data = _decode(keys, node)
        if "node_for_adding" in data:
            raise Unsupported("an attribute networkx cannot pass on")
        nodes.setdefault(node_id, {}).update(data)
    edges = [_edge(keys, edge, directed, nodes) for edge in reader.edges]
    attrs.update(_decode(keys, graph))
    adjacency, multigraph = _multigraph(list(nodes), edges, directed)
    if multigraph:
        listed = _multi_edges(adjacency, directed)
    else:
        _add_ids(adjacency, edges)
        listed = _directed_edges(adjacency) if directed else _undirected_edges(adjacency)
    return RawGraph(nodes, listed, directed, attrs)


Edge = tuple[str, str, str | None, dict[str, Any]]  # source, target, id, data
Adjacency = dict[Any, dict[Any, dict[Any, dict[str, Any]]]]  # u -> v -> key -> data
EdgeList = list[tuple[Any, Any, dict[str, Any]]]


def _edge(
    keys: dict[str, Key], edge: _Element, directed: bool, nodes: dict[Any, dict[str, Any]]
) -> Edge:
    source, target = edge.attrs.get("source"), edge.attrs.get("target")
    if source not in nodes or target not in nodes or source is None or target is None:
        raise Unsupported("an edge to an undeclared node")
    if edge.attrs.get("directed") == ("false" if directed else "true"):
        raise Unsupported("an edge against the graph's direction")
    return source, target, edge.attrs.get("id") or None, _decode(keys, edge)


def _multigraph(nodes: list[Any], edges: list[Edge], directed: bool) -> tuple[Adjacency, bool]:
    """The MultiGraph (MultiDiGraph) networkx builds in file order, its edge keys as
    networkx makes them, and whether an edge repeated a pair of nodes."""
    adjacency: Adjacency = {node: {} for node in nodes}
    multigraph = False
    for u, v, edge_id, data in edges:
        keyed = adjacency[u].get(v)
        if keyed is None:
            keyed = adjacency[u][v] = {}
            if not directed:
                adjacency[v][u] = keyed
        else:
            multigraph = True
        key: Any = data.get("key") if edge_id is None else _edge_key(edge_id)
        if key is None:
            key = len(keyed)
            while key in keyed:
                key += 1
        keyed.setdefault(key, {}).update(data)
    return adjacency, multigraph


def _edge_key(edge_id: str) -> int | str:
    try:
        return int(edge_id)
    except ValueError:
        return edge_id


def _add_ids(adjacency: Adjacency, edges: list[Edge]) -> None:
    """A simple graph's edges get the file's edge id as attribute ``id``."""
    for u, v, edge_id, _ in edges:
        if edge_id is not None:
            for data in adjacency[u][v].values():
                data["id"] = edge_id


def _undirected_edges(adjacency: Adjacency) -> EdgeList:
    """networkx's order for a Graph made of the MultiGraph: its adjacency walked node by
    node, then the Graph's edges listed node by node."""
    simple: dict[Any, dict[Any, dict[str, Any]]] = {node: {} for node in adjacency}
    added: set[tuple[Any, Any]] = set()
    for u, neighbours in adjacency.items():
        for v, keyed in neighbours.items():
            if (u, v) not in added:
                for data in keyed.values():
                    simple[u][v] = simple[v][u] = dict(data)
                added.add((v, u))
    listed: set[Any] = set()
    result: EdgeList = []
    for u, targets in simple.items():
        result.extend((u, v, data) for v, data in targets.items() if v not in listed)
        listed.add(u)
    return result


def _directed_edges(adjacency: Adjacency) -> EdgeList:
    """networkx's order for a DiGraph: edges grouped by source, in node order."""
    return [
        (u, v, dict(data))
        for u, targets in adjacency.items()
        for v, keyed in targets.items()
        for data in keyed.values()
    ]


def _multi_edges(adjacency: Adjacency, directed: bool) -> EdgeList:
    """networkx's order for the MultiGraph itself: every key of a pair, in key order."""
    if directed:
        return _directed_edges(adjacency)
    listed: set[Any] = set()
    result: EdgeList = []
    for u, targets in adjacency.items():
        for v, keyed in targets.items():
            if v not in listed:
                result.extend((u, v, dict(data)) for data in keyed.values())
        listed.add(u)
    return result
