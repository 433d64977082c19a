"""Substrate networks and domain hierarchies of hierarchical coordination (hvc).

- GML in hvc's dialect: a directed graph, nodes named by ``label`` with ``cpu`` and
  coordinates (``graphics`` x/y, ``Longitude``/``Latitude`` or ``x``/``y``), edges with
  ``id``, ``maxRate`` and ``delay``. A missing or malformed attribute is an InputError
  with the element and its line.
- SNDlib's native XML (nodes with coordinates, links), annotated the way hvc's data
  generator annotates a network (``annotate_like_hvc``).
- ``hierarchy.yaml``: nested coordinators, ``{name: {childCoordinators: {...}}}`` or
  ``{name: {nodes: [...]}}`` at the leaves.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.parsers import expat

import networkx as nx

from agent.model.errors import InputError
from agent.model.geo import PROPAGATION_FACTOR, SPEED_OF_LIGHT_M_S, geodesic_m
from agent.model.hvc import OverlayEdge, Substrate
from agent.model.hvc_yaml import load_hvc_yaml
from agent.model.network_io import MAX_NETWORK_BYTES, MAX_VALUE
from agent.model.network_scan import ElementLines, scan_gml
from agent.model.yamlfile import KeyPath, YamlDocument

MAX_RATE_RANGE = (20, 40)  # hvc's data generator
CPU_RANGE = (8, 64)


# ---------------------------------------------------------------- GML


def read_hvc_gml(path: str | Path) -> Substrate:
    """A substrate network from hvc's GML dialect."""
    file = Path(path)
    text = _read_ascii(file)
    lines = scan_gml(file, text)
    try:
        graph = nx.parse_gml(text.splitlines(), label="id")
    except nx.NetworkXError as exc:
        message = str(exc).splitlines()[0] if str(exc) else "unreadable"
        raise InputError(file, "", f"not a readable GML network: {message[:120]}") from None
    except Exception as exc:  # the parser raises many types; all mean "malformed file"
        raise InputError(file, "", f"not a readable GML network ({type(exc).__name__})") from None
    if graph.number_of_nodes() == 0:
        raise InputError(file, "", "the network has no nodes")
    names = {node: _label(file, lines, graph, node) for node in graph.nodes}
    if len(set(names.values())) != len(names):
        raise InputError(file, "", "two nodes have the same label")
    cpu = {names[n]: _attr(file, lines, graph.nodes[n], f"node {n!r}", n, "cpu") for n in graph}
    coords = {names[n]: c for n in graph if (c := _coordinates(graph.nodes[n])) is not None}
    links = [_edge(file, lines, graph, names, u, v, attrs) for u, v, attrs in _edges(graph)]
    return Substrate(file.stem, cpu, tuple(links), coords)


def _read_ascii(file: Path) -> str:
    try:
        if not file.is_file():
            raise InputError(file, "", "network file not found")
        if file.stat().st_size > MAX_NETWORK_BYTES:
            raise InputError(file, "", f"network file larger than {MAX_NETWORK_BYTES >> 20} MiB")
        raw = file.read_bytes()
    except OSError as exc:
        raise InputError(file, "", f"cannot read network file: {exc.strerror or exc}") from None
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(file, "", "GML files are ASCII text", line) from None


def _edges(graph: nx.Graph) -> list[tuple[Any, Any, dict[str, Any]]]:
    if graph.is_directed():
        return list(graph.edges(data=True))
    both = [(u, v, d) for u, v, d in graph.edges(data=True)]
    return both + [(v, u, d) for u, v, d in both]


def _label(file: Path, lines: ElementLines, graph: nx.Graph, node: Any) -> str:
    label = graph.nodes[node].get("label", node)
    if not isinstance(label, str | int) or isinstance(label, bool):
        raise InputError(file, f"node {node!r}", "label must be a name", lines.node_line(node))
    return str(label)


def _attr(
    file: Path, lines: ElementLines, attrs: dict[str, Any], where: str, node: Any, key: str
) -> float:
    line = lines.node_line(node)
    return _number(file, where, line, key, attrs.get(key))


def _number(file: Path, where: str, line: int | None, key: str, value: Any) -> float:
    if value is None:
        raise InputError(file, where, f"{key} is missing", line)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(file, where, f"{key} must be a number", line)
    number = float(value)
    if not math.isfinite(number) or number < 0 or number > MAX_VALUE:
        raise InputError(file, where, f"{key} must be a non-negative number", line)
    return number


def _edge(
    file: Path,
    lines: ElementLines,
    graph: nx.Graph,
    names: dict[Any, str],
    u: Any,
    v: Any,
    attrs: dict[str, Any],
) -> OverlayEdge:
    where, line = f"edge ({u!r}, {v!r})", lines.edges.get((str(u), str(v))) or lines.edge_line(u, v)
    edge_id = attrs.get("id")
    if edge_id is None or isinstance(edge_id, bool) or not isinstance(edge_id, int | str):
        raise InputError(file, where, "id is missing (edges need an id)", line)
    rate = _number(file, where, line, "maxRate", attrs.get("maxRate"))
    delay = _number(file, where, line, "delay", attrs.get("delay"))
    return OverlayEdge(f"edge_{edge_id}", names[u], names[v], delay, rate)


def _coordinates(attrs: dict[str, Any]) -> tuple[float, float] | None:
    """(x, y): longitude and latitude where given, else the drawing's position."""
    graphics = attrs.get("graphics")
    candidates = [
        (attrs.get("Longitude"), attrs.get("Latitude")),
        (graphics.get("x"), graphics.get("y")) if isinstance(graphics, dict) else (None, None),
        (attrs.get("x"), attrs.get("y")),
    ]
    for x, y in candidates:
        if isinstance(x, int | float) and isinstance(y, int | float) and _finite(x) and _finite(y):
            return float(x), float(y)
    return None


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# ---------------------------------------------------------------- SNDlib


@dataclass(frozen=True)
class PlainNetwork:
    """Nodes with (longitude, latitude) and undirected links, in file order."""

    name: str
    coordinates: dict[str, tuple[float, float]]
    links: tuple[tuple[str, str], ...]


def read_sndlib_xml(path: str | Path) -> PlainNetwork:
    """SNDlib's native XML: node coordinates and links (parallel links merged)."""
    file = Path(path)
    reader = _SndlibReader()
    parser = expat.ParserCreate()
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    parser.EntityDeclHandler = _refuse_entities(file)
    try:
        parser.Parse(file.read_bytes(), True)
    except OSError as exc:
        raise InputError(file, "", f"cannot read network file: {exc.strerror or exc}") from None
    except (expat.ExpatError, ValueError) as exc:
        raise InputError(file, "", f"not a readable SNDlib network: {exc}") from None
    links: dict[frozenset[str], tuple[str, str]] = {}
    for u, v in reader.links:
        if u not in reader.coordinates or v not in reader.coordinates:
            raise InputError(file, f"link ({u!r}, {v!r})", "joins an undeclared node")
        if u != v:
            links.setdefault(frozenset((u, v)), (u, v))
    return PlainNetwork(file.stem, reader.coordinates, tuple(links.values()))


def _refuse_entities(file: Path) -> Any:
    def handler(*_args: Any) -> None:
        raise InputError(file, "", "XML entity declarations are not allowed")

    return handler


class _SndlibReader:
    def __init__(self) -> None:
        self.coordinates: dict[str, tuple[float, float]] = {}
        self.links: list[tuple[str, str]] = []
        self.stack: list[str] = []
        self.node: str | None = None
        self.xy: dict[str, float] = {}
        self.ends: dict[str, str] = {}
        self.buffer = ""

    def start(self, name: str, attrs: dict[str, str]) -> None:
        tag = name.rsplit(":", 1)[-1]
        self.stack.append(tag)
        self.buffer = ""
        if tag == "node":
            self.node, self.xy = attrs.get("id"), {}
        elif tag == "link":
            self.ends = {}

    def text(self, data: str) -> None:
        self.buffer += data

    def end(self, name: str) -> None:
        tag = self.stack.pop()
        value = self.buffer.strip()
        if tag in {"x", "y"} and self.node is not None:
            self.xy[tag] = float(value)
        elif tag in {"source", "target"} and self.stack[-1:] == ["link"]:
            self.ends[tag] = value
        elif tag == "node" and self.node is not None:
            self.coordinates[self.node] = (self.xy.get("x", 0.0), self.xy.get("y", 0.0))
            self.node = None
        elif tag == "link" and {"source", "target"} <= set(self.ends):
            self.links.append((self.ends["source"], self.ends["target"]))
        self.buffer = ""


def geographic_delay_ms(a: tuple[float, float], b: tuple[float, float]) -> float:
    """hvc's link delay: geodesic distance at 0.77 c in ms, not rounded."""
    distance = geodesic_m(a[1], a[0], b[1], b[0])
    return distance / SPEED_OF_LIGHT_M_S * 1000.0 * PROPAGATION_FACTOR


def annotate_like_hvc(network: PlainNetwork, seed: int = 0) -> Substrate:
    """Directed links and node CPU as hvc's data generator draws them: each link's two
    directions get consecutive ids, the geographic delay and one max rate in 20-40
    (seeded by the link's index plus ``seed``); then every node a CPU in 8-64."""
    rng = random.Random()
    links: list[OverlayEdge] = []
    for index, (u, v) in enumerate(network.links):
        rng.seed(seed + 2 * index)
        rate = float(rng.randint(*MAX_RATE_RANGE))
        delay = geographic_delay_ms(network.coordinates[u], network.coordinates[v])
        links.append(OverlayEdge(f"edge_{2 * index}", u, v, delay, rate))
        links.append(OverlayEdge(f"edge_{2 * index + 1}", v, u, delay, rate))
    cpu = {node: float(rng.randint(*CPU_RANGE)) for node in network.coordinates}
    return Substrate(network.name, cpu, tuple(links), dict(network.coordinates))


# ---------------------------------------------------------------- hierarchy


@dataclass(frozen=True)
class DomainSpec:
    """A coordinator: a leaf with substrate nodes, or the parent of child domains."""

    name: str
    nodes: tuple[str, ...] = ()
    children: tuple[DomainSpec, ...] = ()

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def substrate_nodes(self) -> list[str]:
        if self.is_leaf:
            return list(self.nodes)
        return [node for child in self.children for node in child.substrate_nodes()]

    def depth(self) -> int:
        return 1 if self.is_leaf else 1 + max(child.depth() for child in self.children)

    def walk(self) -> list[DomainSpec]:
        return [self, *(d for child in self.children for d in child.walk())]


def read_hierarchy(path: str | Path, nodes: Sequence[str] | None = None) -> DomainSpec:
    """The root coordinator; given ``nodes``, every node must be in exactly one leaf."""
    doc = load_hvc_yaml(path, "hierarchy file")
    if not isinstance(doc.data, dict) or len(doc.data) != 1:
        raise InputError(doc.path, "", "a hierarchy file has exactly one root coordinator", 1)
    ((name, block),) = doc.data.items()
    root = _domain(doc, str(name), block, [str(name)])
    if nodes is not None:
        check_hierarchy(doc, root, nodes)
    return root


def _domain(doc: YamlDocument, name: str, block: Any, key: KeyPath) -> DomainSpec:
    if not isinstance(block, dict) or len(key) > 20:
        raise doc.error(key, "a coordinator is a mapping with nodes or childCoordinators")
    has_nodes, has_children = "nodes" in block, "childCoordinators" in block
    if has_nodes == has_children or len(block) != 1:
        raise doc.error(key, "give exactly one of nodes or childCoordinators")
    if has_nodes:
        members = block["nodes"]
        if not isinstance(members, list) or not members:
            raise doc.error([*key, "nodes"], "expected a non-empty list of nodes")
        return DomainSpec(name, tuple(dict.fromkeys(str(m) for m in members)))
    children = block["childCoordinators"]
    if not isinstance(children, dict) or not children:
        raise doc.error([*key, "childCoordinators"], "expected a mapping of coordinators")
    where = [*key, "childCoordinators"]
    return DomainSpec(
        name, (), tuple(_domain(doc, str(c), b, [*where, str(c)]) for c, b in children.items())
    )


def check_hierarchy(doc: YamlDocument | None, root: DomainSpec, nodes: Sequence[str]) -> None:
    source = doc.path if doc is not None else None
    seen: dict[str, str] = {}
    for domain in root.walk():
        for node in domain.nodes:
            if node not in nodes:
                raise InputError(source, domain.name, f"unknown node {node!r}")
            if node in seen:
                raise InputError(source, domain.name, f"node {node!r} is also in {seen[node]}")
            seen[node] = domain.name
    missing = [node for node in nodes if node not in seen]
    if missing:
        raise InputError(source, root.name, f"node {missing[0]!r} is in no domain")
