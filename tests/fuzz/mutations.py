"""Mutations of input files, as data: which file (by role), which operation, which
element (an index taken modulo the number of candidates) and what value. Hypothesis
draws and shrinks them; ``apply`` performs one on a file.

Operations per format:
- any file: bad bytes inserted, truncated, a line repeated or deleted, re-encoded as
  UTF-16, emptied, removed;
- YAML (scenario, service, traffic): a value replaced (0, negative, NaN, infinite,
  tiny, huge, wrong type), a key or item deleted, an item duplicated, a value nested
  deep, an unknown key added;
- trace CSV: a cell replaced, a row repeated, the header lost, an extra column;
- GraphML and GML: see ``tests/fuzz/graph_mutations.py``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from tests.fuzz.graph_mutations import GML_OPS, GRAPHML_OPS, apply_gml, apply_graphml

NUMBERS: list[Any] = [0, -1, -0.5, 1e-9, 1e-300, 1e300, 10**30, math.nan, math.inf, -math.inf]
NUMBERS += [2**63, 0.5, 3, 1e12]
OTHER_VALUES: list[Any] = [
    True,
    "",
    "abc",
    None,
    [],
    {},
    "pop99",
    "1e-9",
    "-load",
    "(-load) ** 0.5",
]
YAML_VALUES = NUMBERS + OTHER_VALUES
CSV_VALUES = ["0", "-1", "nan", "inf", "-inf", "1e-9", "1e300", "", "x", "pop999", "None", "1e12"]
BAD_BYTES = [b"\xff\xfe", b"\x00", b"\xc3\x28", b"\xed\xa0\x80", b"\x1b[31m", b"\r", b"\x85"]
DEPTHS = [20, 150, 10_000]
COUNTS = [1, 50, 5_000]

BYTE_OPS = ["bytes", "truncate", "dup_line", "del_line", "utf16", "empty", "remove"]
YAML_OPS = ["set", "set", "set", "delete", "dup_item", "nest", "add_key"]
CSV_OPS = ["cell", "cell", "cell", "dup_row", "del_header", "extra_column"]
NEST_MARK = "__nested_value__"


@dataclass(frozen=True)
class Mutation:
    role: str
    op: str
    index: int
    value: Any

    def __str__(self) -> str:
        return f"{self.role}: {self.op}[{self.index}] = {self.value!r}"[:200]


def ops_for(path: Path) -> list[str]:
    suffix = path.suffix.lower()
    structured = {".yaml": YAML_OPS, ".csv": CSV_OPS, ".graphml": GRAPHML_OPS, ".gml": GML_OPS}
    return structured.get(suffix, []) + BYTE_OPS


def mutation_strategy(role: str, path: Path) -> st.SearchStrategy[Mutation]:
    """A mutation of the file ``path`` playing ``role``; structured operations are
    drawn three times as often as byte-level ones."""
    ops = ops_for(path)
    weighted = [op for op in ops if op not in BYTE_OPS] * 3 + BYTE_OPS
    return st.builds(
        Mutation,
        role=st.just(role),
        op=st.sampled_from(weighted),
        index=st.integers(min_value=0, max_value=10_000),
        value=st.sampled_from(range(64)),  # picks from the op's own list of values
    )


def apply(mutation: Mutation, path: Path) -> None:
    """Change the file at ``path`` as ``mutation`` says (a missing file stays missing)."""
    if not path.exists():
        return
    if mutation.op == "remove":
        path.unlink()
        return
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if mutation.op in BYTE_OPS:
        path.write_bytes(_apply_bytes(mutation, data))
        return
    try:
        if suffix == ".yaml":
            result = _apply_yaml(mutation, data)
        elif suffix == ".csv":
            result = _apply_csv(mutation, data)
        elif suffix == ".graphml":
            result = apply_graphml(mutation.op, mutation.index, mutation.value, data)
        else:
            result = apply_gml(mutation.op, mutation.index, mutation.value, data)
    except (ValueError, yaml.YAMLError, csv.Error, SyntaxError, RecursionError):
        return  # an earlier mutation left a file this one cannot parse: keep it
    path.write_bytes(result)


def pick(values: list[Any], choice: int) -> Any:
    return values[choice % len(values)]


# ---------------------------------------------------------------- bytes


def _apply_bytes(mutation: Mutation, data: bytes) -> bytes:
    at = mutation.index % (len(data) + 1)
    lines = data.split(b"\n")
    line = mutation.index % len(lines)
    if mutation.op == "bytes":
        bad: bytes = pick(BAD_BYTES, mutation.value)
        return data[:at] + bad + data[at:]
    if mutation.op == "truncate":
        return data[:at]
    if mutation.op == "dup_line":
        lines[line:line] = [lines[line]] * pick(COUNTS, mutation.value)
        return b"\n".join(lines)
    if mutation.op == "del_line":
        del lines[line]
        return b"\n".join(lines)
    if mutation.op == "utf16":
        return data.decode("utf-8", errors="replace").encode("utf-16")
    return b""  # "empty"


# ---------------------------------------------------------------- YAML


def _apply_yaml(mutation: Mutation, data: bytes) -> bytes:
    document = yaml.safe_load(data.decode("utf-8")) or {}
    paths = _yaml_paths(document)
    if not paths:
        return data
    path = pick(paths, mutation.index)
    parent, key = _locate(document, path)
    handlers: dict[str, Callable[[Any, Any, Any], None]] = {
        "set": lambda p, k, v: p.__setitem__(k, pick(YAML_VALUES, v)),
        "delete": lambda p, k, v: p.__delitem__(k),
        "dup_item": _duplicate_item,
        "nest": lambda p, k, v: p.__setitem__(k, NEST_MARK),
        "add_key": lambda p, k, v: (
            p.__setitem__(f"unknown_{v}", 1) if isinstance(p, dict) else None
        ),
    }
    handlers[mutation.op](parent, key, mutation.value)
    text = yaml.safe_dump(document, default_flow_style=None, sort_keys=False)
    if mutation.op == "nest":
        depth = pick(DEPTHS, mutation.value)
        text = text.replace(NEST_MARK, "[" * depth + "1" + "]" * depth, 1)
    return text.encode("utf-8")


def _yaml_paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every value below the top level, depth first."""
    children: list[tuple[Any, Any]] = []
    if isinstance(document, dict):
        children = list(document.items())
    elif isinstance(document, list):
        children = list(enumerate(document))
    paths = []
    for key, value in children:
        paths.append((*prefix, key))
        paths.extend(_yaml_paths(value, (*prefix, key)))
    return paths


def _locate(document: Any, path: tuple[Any, ...]) -> tuple[Any, Any]:
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    return parent, path[-1]


def _duplicate_item(parent: Any, key: Any, value: int) -> None:
    count = pick(COUNTS, value)
    if isinstance(parent, list):
        parent[key:key] = [parent[key]] * count
    else:
        parent[f"{key}_copy"] = parent[key]


# ---------------------------------------------------------------- trace CSV


def _apply_csv(mutation: Mutation, data: bytes) -> bytes:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    if len(rows) < 2:
        return data
    row = 1 + mutation.index % (len(rows) - 1)
    if mutation.op == "cell":
        column = (mutation.index // len(rows)) % len(rows[row])
        rows[row][column] = pick(CSV_VALUES, mutation.value)
    elif mutation.op == "dup_row":
        rows[row:row] = [rows[row]] * pick([*COUNTS, 200_000], mutation.value)
    elif mutation.op == "del_header":
        del rows[0]
    else:  # extra_column
        rows = [[*cells, pick(CSV_VALUES, mutation.value)] for cells in rows]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")
