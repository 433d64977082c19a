"""YAML of the hierarchical-coordination inputs: the safe loader plus one tag.

Its ``chains.yaml`` writes each chain arc as ``!!python/tuple [SRC, A]`` (the original
reads it with PyYAML's FullLoader, which also constructs arbitrary Python objects). The
loader here is the project's safe loader (same limits on depth, size, aliases and repeated
keys) with exactly one constructor added: ``!!python/tuple`` on a sequence gives a tuple.
Every other ``python/`` tag (``!!python/object/apply:os.system`` and the like) and every
unknown tag is an error with its line; nothing is constructed from it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from agent.model.errors import InputError
from agent.model.yamlfile import MAX_YAML_BYTES, YamlDocument, read_text_file
from agent.model.yamlsafe import MAX_DEPTH, LimitError, SafeLoader, parse_yaml

TUPLE_TAG = "tag:yaml.org,2002:python/tuple"


class _TupleLoader(SafeLoader):
    """The safe loader with ``!!python/tuple`` and nothing else added."""


def _construct_tuple(loader: _TupleLoader, node: yaml.Node) -> tuple[Any, ...]:
    if not isinstance(node, yaml.SequenceNode):
        raise yaml.constructor.ConstructorError(
            None, None, "!!python/tuple must tag a sequence", node.start_mark
        )
    return tuple(loader.construct_sequence(node, deep=True))


_TupleLoader.add_constructor(TUPLE_TAG, _construct_tuple)


def parse_hvc_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """Node tree and data; raises yaml.YAMLError (LimitError for the limits)."""
    return parse_yaml(text, _TupleLoader)


def load_hvc_yaml(path: str | Path, what: str) -> YamlDocument:
    """Read one hierarchical-coordination YAML file; every failure is an InputError."""
    file = Path(path)
    text = read_text_file(file, what, MAX_YAML_BYTES)
    try:
        root, data = parse_hvc_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise InputError(file, "", _problem(exc), line) from None
    except yaml.YAMLError as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(file, "", f"YAML syntax error: {problem}") from None
    except RecursionError:
        raise InputError(file, "", f"nested deeper than {MAX_DEPTH} levels") from None
    return YamlDocument(file, data, root)


def _problem(exc: yaml.MarkedYAMLError) -> str:
    problem = str(exc.problem or exc.context)
    if isinstance(exc, yaml.constructor.ConstructorError) and "constructor for the tag" in problem:
        match = re.search(r"tag '(.*)'", problem)
        shown = (match.group(1) if match else "?").replace("tag:yaml.org,2002:", "!!")
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return f"tag {shown} is not allowed (the only Python tag read is !!python/tuple)"
    if isinstance(exc, LimitError | yaml.constructor.ConstructorError):
        return problem
    if "maximum nesting depth" in problem:
        return f"nested deeper than {MAX_DEPTH} levels"
    return f"YAML syntax error: {problem}"
