"""Mutations of network files (see tests/fuzz/mutations.py for the scheme).

GraphML: a <data> value replaced (0, negative, NaN, infinite, huge, text, a role),
a node repeated (same id) or deleted, an edge repeated or deleted, every edge deleted,
a self-loop, an edge to an undeclared node, an edge's end moved, a <key> deleted,
elements nested deep, an entity declaration. GML: the same on its text.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

NS = "http://graphml.graphdrawing.org/xmlns"
ET.register_namespace("", NS)

XML_VALUES = ["0", "-1", "nan", "inf", "-inf", "1e308", "1e-300", "abc", "", "9" * 30]
XML_VALUES += ["Ingress", "Egress", "Core", "1.5", " 2 ", "1e101"]
GML_VALUES = ["0", "-1", "nan", "inf", "1e308", "1e-300", '"abc"', "9" * 30, "1.5", "-0.0"]
GRAPHML_OPS = ["data", "data", "data", "dup_node", "del_node", "dup_edge", "del_edge"]
GRAPHML_OPS += ["no_edges", "self_loop", "ghost_edge", "retarget", "del_key", "nest", "entities"]
GML_OPS = ["number", "number", "number", "dup_block", "del_block", "self_loop", "ghost_edge"]
GML_OPS += ["nest", "no_edges"]
DEPTHS = [20, 150, 10_000]
ENTITIES = (
    '<!DOCTYPE graphml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>\n'
)


def _pick(values: list[Any], choice: int) -> Any:
    return values[choice % len(values)]


# ---------------------------------------------------------------- GraphML


def apply_graphml(op: str, index: int, value: int, data: bytes) -> bytes:
    if op == "nest":
        depth = _pick(DEPTHS, value)
        nested = rb"\1" + b"<x>" * depth + b"</x>" * depth
        return re.sub(rb"(<node [^>]*>)", nested, data, count=1)
    if op == "entities":
        text = re.sub(rb"^<\?xml[^>]*\?>", b"", data.lstrip())
        return b'<?xml version="1.0"?>\n' + ENTITIES.encode() + text
    root = ET.fromstring(data)
    graph = root.find(f"{{{NS}}}graph")
    if graph is None:
        return data
    _GRAPHML_HANDLERS[op](root, graph, index, value)
    result: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return result


def _elements(graph: ET.Element, tag: str) -> list[ET.Element]:
    return graph.findall(f"{{{NS}}}{tag}")


def _set_data(root: ET.Element, graph: ET.Element, index: int, value: int) -> None:
    values = [data for element in graph for data in element.findall(f"{{{NS}}}data")]
    if values:
        _pick(values, index).text = _pick(XML_VALUES, value)


def _dup(tag: str) -> Any:
    def handler(root: ET.Element, graph: ET.Element, index: int, value: int) -> None:
        elements = _elements(graph, tag)
        if elements:
            original = _pick(elements, index)
            graph.insert(list(graph).index(original) + 1, _copy(original))

    return handler


def _delete(tag: str) -> Any:
    def handler(root: ET.Element, graph: ET.Element, index: int, value: int) -> None:
        elements = _elements(graph, tag)
        if elements:
            graph.remove(_pick(elements, index))

    return handler


def _no_edges(root: ET.Element, graph: ET.Element, index: int, value: int) -> None:
    for edge in _elements(graph, "edge"):
        graph.remove(edge)


def _self_loop(root: ET.Element, graph: ET.Element, index: int, value: int) -> None:
    nodes = _elements(graph, "node")
    if nodes:
        node_id = _pick(nodes, index).get("id", "0")
        ET.SubElement(graph, f"{{{NS}}}edge", {"source": node_id, "target": node_id})


def _ghost_edge(root: ET.Element, graph: ET.Element, index: int, value: int) -> None:
    nodes = _elements(graph, "node")
    source = _pick(nodes, index).get("id", "0") if nodes else "0"
    ET.SubElement(graph, f"{{{NS}}}edge", {"source": source, "target": f"99{value}"})


def _retarget(root: ET.Element, graph: ET.Element, index: int, value: int) -> None:
    nodes, edges = _elements(graph, "node"), _elements(graph, "edge")
    if nodes and edges:
        _pick(edges, index).set("target", _pick(nodes, value).get("id", "0"))


def _del_key(root: ET.Element, graph: ET.Element, index: int, value: int) -> None:
    keys = root.findall(f"{{{NS}}}key")
    if keys:
        root.remove(_pick(keys, index))


def _copy(element: ET.Element) -> ET.Element:
    copy = ET.Element(element.tag, dict(element.attrib))
    copy.text, copy.tail = element.text, element.tail
    copy.extend(_copy(child) for child in element)
    return copy


_GRAPHML_HANDLERS = {
    "data": _set_data,
    "dup_node": _dup("node"),
    "dup_edge": _dup("edge"),
    "del_node": _delete("node"),
    "del_edge": _delete("edge"),
    "no_edges": _no_edges,
    "self_loop": _self_loop,
    "ghost_edge": _ghost_edge,
    "retarget": _retarget,
    "del_key": _del_key,
}


# ---------------------------------------------------------------- GML

_NUMBER = re.compile(rb"(?<=\s)-?\d+(?:\.\d+)?(?=\s)")
_BLOCK = re.compile(rb"^\s*(node|edge) \[.*?^\s*\]\n", re.M | re.S)
_NODE_ID = re.compile(rb"node \[\s*id (\d+)")


def apply_gml(op: str, index: int, value: int, data: bytes) -> bytes:
    if op == "number":
        numbers = list(_NUMBER.finditer(data))
        if not numbers:
            return data
        match: re.Match[bytes] = _pick(numbers, index)
        replacement: str = _pick(GML_VALUES, value)
        return data[: match.start()] + replacement.encode() + data[match.end() :]
    if op == "nest":
        depth = _pick(DEPTHS, value)
        return data.replace(b"graph [", b"graph [\n" + b"x [ " * depth + b"] " * depth, 1)
    blocks = list(_BLOCK.finditer(data))
    ids = _NODE_ID.findall(data) or [b"0"]
    if op in {"dup_block", "del_block"} and blocks:
        block = _pick(blocks, index)
        middle = block.group() * 2 if op == "dup_block" else b""
        return data[: block.start()] + middle + data[block.end() :]
    if op == "no_edges":
        return b"".join(
            b"" if part.startswith(b"edge") else part for part in _split_blocks(data, blocks)
        )
    end = data.rstrip().rfind(b"]")
    node: bytes = _pick(ids, index)
    target = node if op == "self_loop" else f"99{value}".encode()
    edge = b"  edge [\n    source " + node + b"\n    target " + target + b"\n  ]\n"
    return data[:end] + edge + data[end:]


def _split_blocks(data: bytes, blocks: list[re.Match[bytes]]) -> list[bytes]:
    parts, last = [], 0
    for block in blocks:
        parts.append(data[last : block.start()])
        parts.append(block.group().lstrip())
        last = block.end()
    parts.append(data[last:])
    return parts
