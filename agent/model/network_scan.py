"""One pass over a network file before networkx reads it: the line of every node and
edge (for error messages), and the mistakes networkx would accept silently or report
without a position: a node id given twice, an edge to an undeclared node, a GraphML
value that does not match its key's type, GML nested deeper than any network needs.

GraphML is scanned with expat (the parser networkx uses as well), GML with one
regular-expression pass over its tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

from agent.model.errors import InputError

MAX_GML_DEPTH = 100


@dataclass
class ElementLines:
    """1-based lines of the nodes (by id as written) and edges (source, target)."""

    nodes: dict[str, int] = field(default_factory=dict)
    edges: dict[tuple[str, str], int] = field(default_factory=dict)
    edge_order: list[tuple[str, str, int]] = field(default_factory=list)
    repeated: dict[str, int] = field(default_factory=dict)  # id -> line of its 2nd node

    def node_line(self, node: Any) -> int | None:
        return self.nodes.get(str(node))

    def edge_line(self, u: Any, v: Any) -> int | None:
        a, b = str(u), str(v)
        return self.edges.get((a, b)) or self.edges.get((b, a))

    def add_node(self, file: Path, node_id: str, line: int) -> None:
        first = self.nodes.get(node_id)
        if first is not None:
            raise InputError(
                file, f"node {node_id!r}", f"declared twice (first at line {first})", line
            )
        self.nodes[node_id] = line

    def add_edge(self, source: str, target: str, line: int) -> None:
        self.edges.setdefault((source, target), line)
        self.edge_order.append((source, target, line))

    def check_edges(self, file: Path) -> None:
        """Every edge joins declared nodes."""
        for source, target, line in self.edge_order:
            for end in (source, target):
                if end not in self.nodes:
                    raise InputError(
                        file,
                        f"edge ({source!r}, {target!r})",
                        f"node {end!r} is not declared",
                        line,
                    )


# ---------------------------------------------------------------- GraphML

_INT_TYPES = {"int", "integer", "long"}
_FLOAT_TYPES = {"float", "double"}
_BOOL_TEXT = {"true", "false", "0", "1"}
_KNOWN_TYPES = _INT_TYPES | _FLOAT_TYPES | {"boolean", "string", "yfiles"}


class _GraphmlScanner:
    """Element handlers for expat; raise InputError at the first problem."""

    def __init__(self, file: Path, parser: Any) -> None:
        self.file = file
        self.parser = parser
        self.lines = ElementLines()
        self.keys: dict[str, str] = {}  # key id -> attr.type
        self.stack: list[str] = []
        self.graphs = 0  # graphs directly under the root: networkx reads the first
        self.value: list[Any] | None = None  # [key id, line, text parts, has children]
        self._current_key = ""  # the <key> whose <default> may follow

    @property
    def line(self) -> int:
        line: int = self.parser.CurrentLineNumber
        return line

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(" ")[2]
        parent = self.stack[-1] if self.stack else None
        self.stack.append(local)
        if self.value is not None:
            self.value[3] = True  # yEd data with sub-elements: not a plain value
        if local == "graph" and parent == "graphml":
            self.graphs += 1
        if local == "key" and parent == "graphml":
            self._key(attrs)
        elif local == "default" and parent == "key":
            self.value = [self._current_key, self.line, [], False]
        elif self.graphs == 1 and parent == "graph":
            if local == "node":
                self.lines.add_node(self.file, self._required(attrs, "node", "id"), self.line)
            elif local == "edge":
                source = self._required(attrs, "edge", "source")
                target = self._required(attrs, "edge", "target")
                self.lines.add_edge(source, target, self.line)
        elif local == "data" and parent in {"node", "edge", "graph"}:
            key = attrs.get("key")
            if key not in self.keys:
                raise InputError(self.file, "data", f"no <key> declares {key!r}", self.line)
            self.value = [key, self.line, [], False]

    def end(self, name: str) -> None:
        local = self.stack.pop()
        if local in {"data", "default"} and self.value is not None:
            key, line, parts, nested = self.value
            self.value = None
            if not nested:
                self._check_value(key, "".join(parts), line, local == "default")

    def text(self, data: str) -> None:
        if self.value is not None:
            self.value[2].append(data)

    def _key(self, attrs: dict[str, str]) -> None:
        key_id = attrs.get("id", "")
        kind = "yfiles" if "yfiles.type" in attrs else attrs.get("attr.type", "string")
        if kind not in _KNOWN_TYPES:
            raise InputError(self.file, f"key {key_id!r}", f"unknown attr.type {kind!r}", self.line)
        if "attr.name" not in attrs and kind != "yfiles":
            raise InputError(self.file, f"key {key_id!r}", "attr.name is missing", self.line)
        self.keys[key_id] = kind
        self._current_key = key_id

    def _required(self, attrs: dict[str, str], element: str, name: str) -> str:
        value = attrs.get(name)
        if value is None:
            raise InputError(self.file, element, f"the {name} attribute is missing", self.line)
        return value

    def _check_value(self, key: str, text: str, line: int, default: bool) -> None:
        kind = self.keys.get(key, "string")
        if not text and not default:
            return  # networkx reads an empty <data/> as ""
        try:
            if kind in _INT_TYPES:
                int(text)
            elif kind in _FLOAT_TYPES:
                float(text)
            elif kind == "boolean" and text.lower() not in _BOOL_TEXT:
                raise ValueError
        except ValueError:
            where = f"key {key!r}" if default else f"data for key {key!r}"
            raise InputError(self.file, where, f"value is not a valid {kind}", line) from None


def scan_graphml(file: Path) -> ElementLines:
    """Lines of the nodes and edges of the first graph; InputError for malformed XML
    (with line and column), entity declarations, duplicate node ids, edges to
    undeclared nodes and values that do not match their key's type."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    scanner = _GraphmlScanner(file, parser)
    parser.StartElementHandler = scanner.start
    parser.EndElementHandler = scanner.end
    parser.CharacterDataHandler = scanner.text
    parser.EntityDeclHandler = _no_entities(file, parser)
    try:
        with file.open("rb") as handle:
            parser.ParseFile(handle)
    except expat.ExpatError as exc:
        problem = f"not well-formed XML: {expat.ErrorString(exc.code)} (column {exc.offset + 1})"
        raise InputError(file, "", problem, exc.lineno) from None
    except OSError as exc:
        raise InputError(file, "", f"cannot read network file: {exc.strerror or exc}") from None
    scanner.lines.check_edges(file)
    return scanner.lines


def _no_entities(file: Path, parser: Any) -> Any:
    def handler(*_args: Any) -> None:
        line = parser.CurrentLineNumber
        raise InputError(file, "", "entity declarations are not allowed in a network file", line)

    return handler


# ---------------------------------------------------------------- GML

_GML_TOKEN = re.compile(r'"[^"]*"|#[^\n]*|\[|\]|[^\s\[\]"#]+')
_GML_KEYS = {"id", "source", "target"}


def scan_gml(file: Path, text: str) -> ElementLines:
    """Lines of the top-level node and edge blocks; InputError for nesting deeper than
    MAX_GML_DEPTH. Duplicates and undeclared nodes are left to networkx, whose
    messages name them; the lines found here locate them."""
    lines = ElementLines()
    depth, line, last = 0, 1, 0
    pending: str | None = None  # "node"/"edge" seen at depth 1, before its "["
    block: dict[str, Any] | None = None
    key: str | None = None
    for match in _GML_TOKEN.finditer(text):
        token, start = match.group(), match.start()
        if token == "[":
            depth += 1
            if depth > MAX_GML_DEPTH:
                line += text.count("\n", last, start)
                raise InputError(file, "", f"nested deeper than {MAX_GML_DEPTH} levels", line)
            if pending is not None and depth == 2:
                line += text.count("\n", last, start)
                last = start
                block = {"kind": pending, "line": line}
            pending, key = None, None
        elif token == "]":
            depth -= 1
            if depth == 1 and block is not None:
                _record(lines, block)
                block = None
            key = None
        elif token.startswith("#"):
            continue
        elif depth == 1:
            pending = token if token in {"node", "edge"} else None
        elif depth == 2 and block is not None:
            if key is not None:
                block.setdefault(key, token.strip('"'))
                key = None
            elif token in _GML_KEYS:
                key = token
    return lines


def _record(lines: ElementLines, block: dict[str, Any]) -> None:
    if block["kind"] == "node" and "id" in block:
        if block["id"] in lines.nodes:
            lines.repeated.setdefault(block["id"], block["line"])
        lines.nodes.setdefault(block["id"], block["line"])
    elif block["kind"] == "edge" and "source" in block and "target" in block:
        lines.add_edge(block["source"], block["target"], block["line"])
