"""The house plan's import rules: arrows only point down the layer table."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "agent"

# layer -> the project layers it may import (besides itself)
ALLOWED = {
    "model": set(),
    "sim": {"model"},
    "envs": {"model", "sim"},
    "policies": {"model"},
    "train": {"model", "sim", "envs", "policies"},
    "rules": {"model"},
    # southbound also needs the intent and change types it transports (a deliberate
    # extension of the plan: they are plain data)
    "southbound": {"model", "sim", "rules"},
    "runtime": {"model", "policies", "rules", "southbound"},
    "api": {"runtime"},
}
# model, rules and policies never do I/O or read the clock (model reads input files)
NO_CLOCK = {"sim", "policies", "rules"}


def imports(file: Path) -> set[str]:
    tree = ast.parse(file.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    folder = PACKAGE / layer
    files = sorted(folder.glob("**/*.py")) if folder.exists() else []
    for file in files:
        for name in imports(file):
            parts = name.split(".")
            if parts[0] != "agent" or len(parts) < 2 or parts[1] == layer:
                continue
            assert parts[1] in ALLOWED[layer], f"{file.relative_to(PACKAGE)} imports {name}"
        if layer in NO_CLOCK:
            assert not {"time", "datetime"} & imports(file), f"{file} reads the clock"


def test_every_layer_folder_is_known() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert folders - {"cli"} <= set(ALLOWED)
