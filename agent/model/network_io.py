"""Reading networks: coord-sim GraphML, plain Topology Zoo GraphML/GML, and the
hierarchical-coordination GML dialect (node ``cpu``, edge ``maxRate`` and ``delay``).

Nodes are named ``pop<id>`` as coord-sim names them, so schedules and placements
written for coord-sim apply unchanged. One pass over the file (agent.model.network_scan)
finds the line of every element before it is read; error messages give positions, never
the file's content. GraphML is read by agent.model.graphml, which gives what networkx's
reader gives, on the standard library; networkx (imported only then) reads GML and the
GraphML that reader leaves to it.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.model.errors import InputError
from agent.model.geo import DEFAULT_DELAY_MS, propagation_delay_ms
from agent.model.graphml import RawGraph, Unsupported, read_graphml
from agent.model.network import Link, Network, Node, NodeKind
from agent.model.network_checks import structure_warnings
from agent.model.network_scan import ElementLines, scan_gml, scan_graphml

if TYPE_CHECKING:
    import networkx as nx

NODE_CAP_KEYS = ("NodeCap", "cpu")
LINK_CAP_KEYS = ("LinkFwdCap", "maxRate")
LINK_DELAY_KEYS = ("LinkDelay", "delay")
MAX_NETWORK_BYTES = 64 * 2**20
MAX_VALUE = 1e100  # capacities and delays above this are mistakes, and overflow sums


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
    """Load a network file; every problem is an InputError naming file and element,
    and what is odd but usable is in ``Network.warnings``."""
    file = Path(path)
    opts = options or NetworkOptions()
    raw, lines = _read_graph(file)
    if not raw.nodes:
        raise InputError(file, "", "the network has no nodes")
    names = {node: _node_name(node) for node in raw.nodes}
    nodes = [
        _make_node(file, lines, attrs, node, names[node], opts) for node, attrs in raw.nodes.items()
    ]
    nodes = _apply_roles(file, nodes, opts)
    links, warnings = _make_links(file, lines, raw, names, opts)
    network = Network(name=file.stem, nodes=tuple(nodes), links=tuple(links), source=str(file))
    warnings += structure_warnings(network)
    return Network(network.name, network.nodes, network.links, network.source, tuple(warnings))


def _read_graph(file: Path) -> tuple[RawGraph, ElementLines]:
    _check_file(file)
    suffix = file.suffix.lower()
    if suffix == ".graphml":
        lines = scan_graphml(file)
        try:
            graph = read_graphml(file)
        except Unsupported:
            graph = networkx_graphml(file)
        except OSError as exc:
            raise InputError(file, "", f"cannot read network file: {exc.strerror or exc}") from None
        return _as_int_ids(file, graph, lines), lines
    if suffix == ".gml":
        text = _ascii_text(file)
        lines = scan_gml(file, text)
        return _raw(_read_gml(file, text, lines)), lines
    raise InputError(file, "", "network files must end in .graphml or .gml")


def networkx_graphml(file: Path) -> RawGraph:
    """``file`` read by networkx's GraphML reader (what agent.model.graphml follows)."""
    import networkx as nx

    return _raw(_parse(file, "graphml", lambda: nx.read_graphml(file)))


def _raw(graph: nx.Graph) -> RawGraph:
    return RawGraph(
        dict(graph.nodes(data=True)), list(graph.edges(data=True)), graph.is_directed(), graph.graph
    )


def _check_file(file: Path) -> None:
    try:
        if not file.exists():
            raise InputError(file, "", "network file not found")
        if not file.is_file():
            raise InputError(file, "", "network file expected, found something else")
        if file.stat().st_size > MAX_NETWORK_BYTES:
            raise InputError(file, "", f"network file larger than {MAX_NETWORK_BYTES >> 20} MiB")
    except OSError as exc:
        raise InputError(file, "", f"cannot read network file: {exc.strerror or exc}") from None


def _parse(file: Path, kind: str, read: Callable[[], nx.Graph]) -> nx.Graph:
    """networkx's reader; its messages name structure (hyperedges, mixed directions),
    other exceptions only say what kind of problem it was."""
    import networkx as nx

    try:
        with warnings.catch_warnings():  # yEd extras it skips: nothing the network needs
            warnings.simplefilter("ignore")
            return read()
    except nx.NetworkXError as exc:
        message = str(exc).splitlines()[0] if str(exc) else "unreadable"
        raise InputError(file, "", f"not a readable {kind} network: {message}") from None
    except RecursionError:
        raise InputError(file, "", f"not a readable {kind} network: nested too deeply") from None
    except Exception as exc:  # parsers raise many types; all mean "malformed file"
        problem = f"not a readable {kind} network ({type(exc).__name__})"
        raise InputError(file, "", problem) from None


def _ascii_text(file: Path) -> str:
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise InputError(file, "", f"cannot read network file: {exc.strerror or exc}") from None
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        problem = f"GML files are ASCII text, found byte 0x{raw[exc.start]:02x}"
        raise InputError(file, "", problem, line) from None


_GML_POSITION = re.compile(
    r"^(?:expected (?P<expected>.+), found .*|cannot tokenize .*)"
    r" at \((?P<line>\d+), (?P<col>\d+)\)$",
    re.S,
)
_GML_DUPLICATE_NODE = re.compile(r"^node id (?P<id>.+) is duplicated$")
_GML_UNDEFINED = re.compile(r"^edge #(?P<i>\d+) has undefined (?:source|target) (?P<id>.+)$")


def _read_gml(file: Path, text: str, lines: ElementLines) -> nx.Graph:
    import networkx as nx

    try:
        return _parse_gml(file, text, lines)
    except nx.NetworkXError as exc:
        if "duplicated" not in str(exc) or not str(exc).startswith("edge"):
            raise _gml_error(file, str(exc), lines) from None
    # Some Topology Zoo GML files repeat edges; read them as a multigraph and merge.
    multi = re.sub(r"graph\s*\[", "graph [\n  multigraph 1", text, count=1)
    try:
        return nx.Graph(_parse_gml(file, multi, lines))
    except nx.NetworkXError as exc:
        raise _gml_error(file, str(exc), lines) from None


def _parse_gml(file: Path, text: str, lines: ElementLines) -> nx.Graph:
    import networkx as nx

    try:
        graph: nx.Graph = nx.parse_gml(text.splitlines(), label="id")
    except nx.NetworkXError:
        raise
    except RecursionError:
        raise InputError(file, "", "not a readable gml network: nested too deeply") from None
    except Exception as exc:  # a repeated id key makes a list, and so on
        problem = f"not a readable gml network ({type(exc).__name__})"
        raise InputError(file, "", problem) from None
    return graph


def _gml_error(file: Path, message: str, lines: ElementLines) -> InputError:
    """networkx's GML messages quote the text they stopped at: keep only the position."""
    match = _GML_POSITION.match(message)
    if match:
        expected = match.group("expected")
        problem = "GML syntax error" + (f": expected {expected}" if expected else "")
        return InputError(
            file, "", f"{problem} (column {match.group('col')})", int(match.group("line"))
        )
    match = _GML_DUPLICATE_NODE.match(message)
    if match:
        node = match.group("id").strip("'\"")
        first = lines.node_line(node)
        problem = "declared twice" + (f" (first at line {first})" if first else "")
        return InputError(file, f"node {node!r}", problem, lines.repeated.get(node))
    match = _GML_UNDEFINED.match(message)
    if match and int(match.group("i")) < len(lines.edge_order):
        source, target, line = lines.edge_order[int(match.group("i"))]
        node = match.group("id").strip("'\"")
        return InputError(
            file, f"edge ({source!r}, {target!r})", f"node {node!r} is not declared", line
        )
    return InputError(file, "", f"not a readable gml network: {message.splitlines()[0]}")


def _as_int_ids(file: Path, graph: RawGraph, lines: ElementLines) -> RawGraph:
    try:
        mapping = {node: int(node) for node in graph.nodes}
    except (TypeError, ValueError):
        return graph
    seen: dict[int, Any] = {}
    for node, number in mapping.items():
        other = seen.setdefault(number, node)
        if other != node:
            problem = f"ids {other!r} and {node!r} both name node {number}"
            raise InputError(file, f"node {node!r}", problem, lines.node_line(node))
    return graph.relabelled(mapping)


def _node_name(node: Any) -> str:
    return f"pop{node}"


def _first(attrs: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((attrs[key] for key in keys if attrs.get(key) is not None), None)


def _number(file: Path, where: str, line: int | None, key: str, value: Any) -> float:
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(file, where, f"{key} must be a number, got {shown}", line) from None
    if math.isnan(number) or number < 0 or number > MAX_VALUE:
        problem = f"{key} must be a non-negative number of at most {MAX_VALUE:g}, got {shown}"
        raise InputError(file, where, problem, line)
    return number


def _make_node(
    file: Path,
    lines: ElementLines,
    attrs: dict[str, Any],
    node: Any,
    name: str,
    opts: NetworkOptions,
) -> Node:
    where, line = f"node {node!r}", lines.node_line(node)
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
        shown = kind_text if len(kind_text) <= 20 else kind_text[:17] + "..."
        raise InputError(
            file, where, f"NodeType must be Ingress, Egress or Normal, got {shown!r}", line
        ) from None
    label = attrs.get("label")
    return Node(
        id=name,
        cap=cap,
        kind=kind,
        label=str(label) if label is not None else None,
        latitude=_coordinate(file, where, line, "Latitude", attrs.get("Latitude"), 90.0),
        longitude=_coordinate(file, where, line, "Longitude", attrs.get("Longitude"), 180.0),
    )


def _coordinate(
    file: Path, where: str, line: int | None, key: str, value: Any, limit: float
) -> float | None:
    """A coordinate, or None where the file gives none (or text that is no number,
    as some Topology Zoo files do); a number out of range is an error."""
    try:
        number = float(value) if value is not None else None
    except (TypeError, ValueError, OverflowError):
        return None
    if number is not None and not -limit <= number <= limit:
        raise InputError(file, where, f"{key} must be between {-limit:g} and {limit:g}", line)
    return number


def _apply_roles(file: Path, nodes: list[Node], opts: NetworkOptions) -> list[Node]:
    if opts.ingress is None and opts.egress is None:
        return nodes
    known = {node.id for node in nodes}
    for role, ids in (("ingress", opts.ingress), ("egress", opts.egress)):
        for node_id in ids or ():
            if node_id not in known:
                raise InputError(file, role, f"unknown node {node_id!r} (nodes are named pop<id>)")
    ingress, egress = set(opts.ingress or ()), set(opts.egress or ())
    result = []
    for node in nodes:
        kind = node.kind
        if opts.ingress is not None:
            kind = NodeKind.INGRESS if node.id in ingress else NodeKind.NORMAL
        if opts.egress is not None and node.id in egress:
            kind = NodeKind.EGRESS
        result.append(Node(node.id, node.cap, kind, node.label, node.latitude, node.longitude))
    return result


def _make_links(
    file: Path, lines: ElementLines, raw: RawGraph, names: dict[Any, str], opts: NetworkOptions
) -> tuple[list[Link], list[str]]:
    links: dict[frozenset[str], Link] = {}
    warnings: list[str] = []
    for u, v, attrs in raw.edges:
        where, line = f"edge ({u!r}, {v!r})", lines.edge_line(u, v)
        cap_value = _first(attrs, LINK_CAP_KEYS)
        cap = None if cap_value is None else _number(file, where, line, "LinkFwdCap", cap_value)
        if cap is None and opts.link_cap is not None:
            cap = opts.link_cap
        delay_value = _first(attrs, LINK_DELAY_KEYS)
        if delay_value is None:
            delay = _geo_delay(raw.nodes[u], raw.nodes[v])
        else:
            delay = _number(file, where, line, "LinkDelay", delay_value)
        if u == v and frozenset((names[u],)) not in links:
            warnings.append(
                InputError(file, where, "a self-loop: it carries no traffic", line).one_line()
            )
        link = Link(names[u], names[v], cap, delay)
        links.setdefault(link.key, link)  # directed inputs list each link twice
    return list(links.values()), warnings


def _geo_delay(a: dict[str, Any], b: dict[str, Any]) -> float:
    coords = [_plain_float(n.get(k)) for n in (a, b) for k in ("Latitude", "Longitude")]
    lat1, lon1, lat2, lon2 = coords
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        return DEFAULT_DELAY_MS
    delay = propagation_delay_ms(lat1, lon1, lat2, lon2)
    return delay if math.isfinite(delay) else DEFAULT_DELAY_MS


def _plain_float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError, OverflowError):
        return None
