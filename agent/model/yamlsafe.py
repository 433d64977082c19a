"""YAML parsing with limits: what no input file needs and what could exhaust the
process is refused with the position where it starts.

- collections nested deeper than ``MAX_DEPTH``;
- more than ``MAX_VALUES`` values, counted as written and again with aliases expanded
  (a few aliases can stand for billions of values), and aliases to themselves;
- a key given twice in one mapping (plain YAML keeps the last one silently);
- values their tag cannot hold (``!!int abc``, a 13th month).

libyaml does the parsing where PyYAML was built with it (ten times faster than the
pure-Python parser); its recursion is safe once the event pass has bounded the depth.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_DEPTH = 100  # nesting of YAML collections
MAX_VALUES = 200_000  # values in a document, also with aliases expanded

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
_MERGE = "tag:yaml.org,2002:merge"


class LimitError(yaml.MarkedYAMLError):
    """Well-formed YAML that breaks one of the limits."""


class _Loader(_Base):  # type: ignore[misc]
    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:  # !!int abc, 2001-13-45
            problem = f"invalid {node.tag.rsplit(':', 1)[-1]} value: {exc}"
            raise _error(problem, node.start_mark) from None


def parse_yaml(
    text: str, loader_class: type[_Loader] | None = None
) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the data of a one-document YAML text;
    raises yaml.YAMLError (LimitError for the limits above). ``loader_class`` is this
    safe loader or a subclass with a constructor added (see ``SafeLoader``)."""
    _check_events(text)
    loader = (loader_class or _Loader)(text)
    try:
        root: yaml.Node | None = loader.get_single_node()
        if root is None:
            return None, None
        _check_tree(root)
        return root, loader.construct_document(root)
    finally:
        loader.dispose()


SafeLoader = _Loader  # the base for an input format that needs one more constructor


def _check_events(text: str) -> None:
    """Depth, size and self-referring aliases, from the event stream (no recursion)."""
    loader = _Loader(text)
    depth, count, anchors = 0, 0, []
    try:
        while loader.check_event():
            event = loader.get_event()
            count += 1
            if count > MAX_VALUES:
                raise _error(f"holds more than {MAX_VALUES:,} values", event.start_mark)
            if isinstance(event, _OPEN):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _error(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
                anchors.append(event.anchor)
            elif isinstance(event, _CLOSE):
                depth -= 1
                anchors.pop()
            elif isinstance(event, yaml.AliasEvent) and event.anchor in anchors:
                raise _error(f"alias *{event.anchor} refers to itself", event.start_mark)
    finally:
        loader.dispose()


def _check_tree(root: yaml.Node) -> None:
    """Keys given twice, and the size with aliases expanded (aliases share nodes)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes or not isinstance(node, yaml.CollectionNode):
            continue
        children = _collections(node)
        if not children_done:
            if isinstance(node, yaml.MappingNode):
                _check_keys(node)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        size = 1 + _width(node) + sum(sizes[id(child)] - 1 for child in children)
        if size > MAX_VALUES:
            problem = f"holds more than {MAX_VALUES:,} values (aliases expanded)"
            raise _error(problem, node.start_mark)
        sizes[id(node)] = size


def _width(node: yaml.CollectionNode) -> int:
    return 2 * len(node.value) if isinstance(node, yaml.MappingNode) else len(node.value)


def _collections(node: yaml.CollectionNode) -> list[yaml.Node]:
    """The collections among the node's children (keys and values of a mapping)."""
    if isinstance(node, yaml.MappingNode):
        parts = [part for pair in node.value for part in pair]
    else:
        parts = node.value
    return [part for part in parts if not isinstance(part, yaml.ScalarNode)]


def _check_keys(node: yaml.MappingNode) -> None:
    seen: dict[tuple[str, Any], yaml.Node] = {}
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE:
            first = seen.setdefault((key.tag, key.value), key)
            if first is not key:
                line = first.start_mark.line + 1
                problem = f"key {repr(key.value)[:60]} appears twice (first at line {line})"
                raise _error(problem, key.start_mark)


def _error(problem: str, mark: Any) -> yaml.MarkedYAMLError:
    return LimitError(None, None, problem, mark)
