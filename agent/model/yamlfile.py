"""Safe YAML loading that remembers where every key is, for error messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from agent.model.errors import InputError

KeyPath = Sequence[str | int]
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
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text


def validation_error(doc: YamlDocument, exc: ValidationError) -> InputError:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = [part for part in first["loc"] if not str(part).startswith("function-")]
    problem = _describe(first)
    if len(errors) > 1:
        problem += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return doc.error(loc, problem)


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
        message += f" (got {value!r})"
    return message


def load_yaml(path: str | Path, what: str = "YAML file") -> YamlDocument:
    """Read and parse a YAML file; every failure is an InputError naming the file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(file, "", f"{what} not found") from None
    except IsADirectoryError:
        raise InputError(file, "", f"{what} expected, found a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(file, "", f"cannot read {what}: {exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        problem = f"YAML syntax error: {exc.problem or exc.context}"
        raise InputError(file, "", problem, line) from None
    except yaml.YAMLError as exc:
        raise InputError(file, "", f"YAML syntax error: {exc}") from None
    return YamlDocument(file, data, root)


def require_mapping(doc: YamlDocument, what: str) -> dict[str, Any]:
    if not isinstance(doc.data, dict):
        raise InputError(doc.path, "", f"{what} must be a YAML mapping at the top level", 1)
    return doc.data
