"""Reading networks: coord-sim GraphML, plain Topology Zoo GraphML/GML, and the
hierarchical-coordination GML dialect (node ``cpu``, edge ``maxRate`` and ``delay``).

Nodes are named ``pop<id>`` as coord-sim names them, so schedules and placements
written for coord-sim apply unchanged.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from agent.model.errors import InputError
from agent.model.geo import DEFAULT_DELAY_MS, propagation_delay_ms
from agent.model.network import Link, Network, Node, NodeKind

NODE_CAP_KEYS = ("NodeCap", "cpu")
LINK_CAP_KEYS = ("LinkFwdCap", "maxRate")
LINK_DELAY_KEYS = ("LinkDelay", "delay")


@dataclass(frozen=True)
class NetworkOptions:
    """What a scenario adds to a network file that lacks it."""

    node_cap: float | None = None
    link_cap: float | None = None
    node_caps: dict[str, float] = field(default_factory=dict)
    ingress: tuple[str, ...] | None = None
    egress: tuple[str, ...] | None = None
    require_node_cap: bool = True


def load_network(path: str | Path, options: NetworkOptions | None = None) -> Network:
    """Load a network file; every problem is an InputError naming file and element."""
    file = Path(path)
    opts = options or NetworkOptions()
    raw = _read_graph(file)
    text = file.read_text(encoding="utf-8", errors="replace")
    names = {node: _node_name(node) for node in raw.nodes}
    nodes = [_make_node(file, text, raw, node, names[node], opts) for node in raw.nodes]
    nodes = _apply_roles(file, nodes, opts)
    links = _make_links(file, text, raw, names, opts)
    return Network(name=file.stem, nodes=tuple(nodes), links=tuple(links), source=str(file))


def _read_graph(file: Path) -> nx.Graph:
    if not file.exists():
        raise InputError(file, "", "network file not found")
    suffix = file.suffix.lower()
    try:
        if suffix == ".graphml":
            return _as_int_ids(nx.read_graphml(file))
        if suffix == ".gml":
            return _read_gml(file)
    except InputError:
        raise
    except Exception as exc:  # parsers raise many types; all mean "malformed file"
        raise InputError(file, "", f"not a readable {suffix[1:]} network: {exc}") from None
    raise InputError(file, "", "network files must end in .graphml or .gml")


def _read_gml(file: Path) -> nx.Graph:
    try:
        return nx.read_gml(file, label="id")
    except nx.NetworkXError as exc:
        if "duplicate" not in str(exc).lower():
            raise
    # Some Topology Zoo GML files repeat edges; read them as a multigraph and merge.
    text = re.sub(r"graph\s*\[", "graph [\n  multigraph 1", file.read_text(), count=1)
    return nx.Graph(nx.parse_gml(text, label="id"))


def _as_int_ids(graph: nx.Graph) -> nx.Graph:
    try:
        mapping = {node: int(node) for node in graph.nodes}
    except (TypeError, ValueError):
        return graph
    return nx.relabel_nodes(graph, mapping)


def _node_name(node: Any) -> str:
    return f"pop{node}"


def _first(attrs: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((attrs[key] for key in keys if attrs.get(key) is not None), None)


def _number(file: Path, where: str, line: int | None, key: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(file, where, f"{key} must be a number, got {value!r}", line) from None
    if math.isnan(number) or number < 0:
        raise InputError(file, where, f"{key} must be a non-negative number, got {value!r}", line)
    return number


def _make_node(
    file: Path, text: str, raw: nx.Graph, node: Any, name: str, opts: NetworkOptions
) -> Node:
    attrs = raw.nodes[node]
    where, line = f"node {node!r}", _node_line(text, node)
    cap_value = opts.node_caps.get(name, _first(attrs, NODE_CAP_KEYS))
    if cap_value is None:
        cap_value = opts.node_cap
    if cap_value is None:
        if opts.require_node_cap:
            raise InputError(
                file, where, "NodeCap missing and the scenario gives no node_cap default", line
            )
        cap_value = 0.0
    cap = _number(file, where, line, "NodeCap", cap_value)
    kind_text = str(attrs.get("NodeType", "Normal"))
    try:
        kind = NodeKind(kind_text)
    except ValueError:
        raise InputError(
            file, where, f"NodeType must be Ingress, Egress or Normal, got {kind_text!r}", line
        ) from None
    label = attrs.get("label")
    return Node(
        id=name,
        cap=cap,
        kind=kind,
        label=str(label) if label is not None else None,
        latitude=_optional_float(attrs.get("Latitude")),
        longitude=_optional_float(attrs.get("Longitude")),
    )


def _optional_float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _apply_roles(file: Path, nodes: list[Node], opts: NetworkOptions) -> list[Node]:
    if opts.ingress is None and opts.egress is None:
        return nodes
    known = {node.id for node in nodes}
    for role, ids in (("ingress", opts.ingress), ("egress", opts.egress)):
        for node_id in ids or ():
            if node_id not in known:
                raise InputError(file, role, f"unknown node {node_id!r} (nodes are named pop<id>)")
    result = []
    for node in nodes:
        kind = node.kind
        if opts.ingress is not None:
            kind = NodeKind.INGRESS if node.id in opts.ingress else NodeKind.NORMAL
        if opts.egress is not None and node.id in opts.egress:
            kind = NodeKind.EGRESS
        result.append(Node(node.id, node.cap, kind, node.label, node.latitude, node.longitude))
    return result


def _make_links(
    file: Path, text: str, raw: nx.Graph, names: dict[Any, str], opts: NetworkOptions
) -> list[Link]:
    links: dict[frozenset[str], Link] = {}
    for u, v, attrs in raw.edges(data=True):
        where, line = f"edge ({u!r}, {v!r})", _edge_line(text, u, v)
        cap_value = _first(attrs, LINK_CAP_KEYS)
        cap = None if cap_value is None else _number(file, where, line, "LinkFwdCap", cap_value)
        if cap is None and opts.link_cap is not None:
            cap = opts.link_cap
        delay_value = _first(attrs, LINK_DELAY_KEYS)
        if delay_value is None:
            delay = _geo_delay(raw.nodes[u], raw.nodes[v])
        else:
            delay = _number(file, where, line, "LinkDelay", delay_value)
        link = Link(names[u], names[v], cap, delay)
        links.setdefault(link.key, link)  # directed inputs list each link twice
    return list(links.values())


def _geo_delay(a: dict[str, Any], b: dict[str, Any]) -> float:
    coords = [_optional_float(n.get(k)) for n in (a, b) for k in ("Latitude", "Longitude")]
    lat1, lon1, lat2, lon2 = coords
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        return DEFAULT_DELAY_MS
    return propagation_delay_ms(lat1, lon1, lat2, lon2)


def _node_line(text: str, node: Any) -> int | None:
    for pattern in (rf'<node id="{re.escape(str(node))}"', rf"node\s*\[\s*id\s+{node}\b"):
        match = re.search(pattern, text)
        if match:
            return text.count("\n", 0, match.start()) + 1
    return None


def _edge_line(text: str, u: Any, v: Any) -> int | None:
    for a, b in ((u, v), (v, u)):
        for pattern in (
            rf'<edge source="{a}" target="{b}"',
            rf"edge\s*\[\s*source\s+{a}\s+target\s+{b}\b",
        ):
            match = re.search(pattern, text)
            if match:
                return text.count("\n", 0, match.start()) + 1
    return None
