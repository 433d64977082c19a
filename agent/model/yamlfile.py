"""Safe YAML loading that remembers where every key is, for error messages."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from agent.model.errors import InputError
from agent.model.yamlsafe import MAX_DEPTH, LimitError, parse_yaml

KeyPath = Sequence[str | int]

MAX_YAML_BYTES = 16 * 2**20
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class YamlDocument:
    """Parsed YAML data plus the node tree that knows line numbers."""

    path: Path
    data: Any
    root: yaml.Node | None

    def line_of(self, key_path: KeyPath) -> int | None:
        """1-based line of the deepest node on ``key_path`` that exists."""
        node = self.root
        line = node.start_mark.line + 1 if node is not None else None
        for key in key_path:
            child = _child(node, key)
            if child is None:
                break
            node = child
            line = node.start_mark.line + 1
        return line

    def error(self, key_path: KeyPath, problem: str) -> InputError:
        where = format_key_path(key_path)
        return InputError(self.path, where, problem, self.line_of(key_path))

    def validate(self, model: type[M], data: Any = None) -> M:
        """Validate with a pydantic model; the first error becomes an InputError."""
        try:
            return model.model_validate(self.data if data is None else data)
        except ValidationError as exc:
            raise validation_error(self, exc) from None


def _child(node: yaml.Node | None, key: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if str(key_node.value) == str(key):
                found: yaml.Node = value_node
                return found
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
        child: yaml.Node = node.value[key]
        return child
    return None


def format_key_path(key_path: KeyPath) -> str:
    text = ""
    for key in key_path:
        if isinstance(key, str) and not key.isprintable():
            key = _short_repr(key)
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text


def validation_error(doc: YamlDocument, exc: ValidationError) -> InputError:
    errors = exc.errors(include_url=False)
    # where a value may be of several types, the branches it was not meant for
    # (``network`` given as a mapping, checked as a string) come last
    first = min(errors, key=lambda error: bool(error["loc"]) and _is_tag(error["loc"][-1]))
    loc = [part for part in first["loc"] if not _is_tag(part)]
    problem = _describe(first)
    if len(errors) > 1:
        problem += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return doc.error(loc, problem)


# how pydantic names the members of a union and its validators in a location
_TYPE_TAG = re.compile(r"^(str|int|float|bool|none|[a-z]+\[.*\]|function-.*|[A-Z]\w*)$")


def _is_tag(part: str | int) -> bool:
    return isinstance(part, str) and _TYPE_TAG.match(part) is not None


def _describe(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    value = error.get("input")
    if kind not in {"model_type", "dict_type"} and isinstance(value, str | int | float | bool):
        message += f" (got {_short_repr(value)})"
    return message


def _short_repr(value: object, limit: int = 60) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        return "a very long number"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_yaml(path: str | Path, what: str = "YAML file") -> YamlDocument:
    """Read and parse a YAML file; every failure is an InputError naming the file."""
    file = Path(path)
    text = read_text_file(file, what, MAX_YAML_BYTES)
    try:
        root, data = parse_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = str(exc.problem or exc.context)
        if "maximum nesting depth" in problem:  # libyaml's own limit, met first in [[[[...
            problem = f"nested deeper than {MAX_DEPTH} levels"
        elif not isinstance(exc, LimitError):
            problem = f"YAML syntax error: {problem}"
        raise InputError(file, "", problem, line) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise InputError(file, "", f"YAML syntax error: {exc.reason}", line) from None
    except yaml.YAMLError as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(file, "", f"YAML syntax error: {problem}") from None
    except RecursionError:  # not reached with MAX_DEPTH, kept as a guard
        raise InputError(file, "", f"nested deeper than {MAX_DEPTH} levels") from None
    return YamlDocument(file, data, root)


def read_text_file(file: Path, what: str, max_bytes: int) -> str:
    """The file's text as UTF-8; missing files, non-files, oversized files and bytes
    that are not UTF-8 are InputErrors (the last with the line of the first bad byte)."""
    try:
        if not file.is_file():
            problem = "expected, found a directory" if file.is_dir() else "not found"
            if file.exists() and not file.is_dir():
                problem = "expected, found something that is not a regular file"
            raise InputError(file, "", f"{what} {problem}")
        with file.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(file, "", f"cannot read {what}: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise InputError(file, "", f"{what} is larger than {max_bytes // 2**20} MiB")
    return decode_utf8(file, raw)


def decode_utf8(file: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        byte = raw[exc.start]
        raise InputError(file, "", f"not UTF-8 text (byte 0x{byte:02x})", line) from None


def require_mapping(doc: YamlDocument, what: str) -> dict[str, Any]:
    if not isinstance(doc.data, dict):
        raise InputError(doc.path, "", f"{what} must be a YAML mapping at the top level", 1)
    return doc.data
