"""The house plan's import rules: arrows only point down the layer table."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "agent"

# layer -> the project layers it may import (besides itself)
ALLOWED = {
    "model": set(),
    "sim": {"model"},
    "envs": {"model", "sim"},
    "policies": {"model"},
    "train": {"model", "sim", "envs", "policies"},
    "rules": {"model"},
    "protocol": {"rules"},  # the intents only: see test_protocol_is_stdlib_and_intents
    # southbound also needs the intent and change types it transports (a deliberate
    # extension of the plan: they are plain data)
    "southbound": {"model", "sim", "rules", "protocol"},
    "runtime": {"model", "policies", "rules", "southbound"},
    "api": {"runtime"},
}
# model, rules and policies never do I/O or read the clock (model reads input files)
NO_CLOCK = {"sim", "policies", "rules", "protocol"}
INTENTS = "agent.rules.intents"
# what the os-ken app may import besides the standard library and itself (``agent``
# alone is the package's version string)
CONTROLLER_MAY_IMPORT = ("os_ken", "ryu", "agent.protocol", INTENTS)


def imports(file: Path) -> set[str]:
    tree = ast.parse(file.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def python_files(folder: Path) -> list[Path]:
    """The project's Python files under ``folder``; virtual environments and generated
    output (a benchmark's reference installation, for one) are not the project's."""
    if not folder.exists():
        return []
    skipped = {"out", "__pycache__"}
    return sorted(
        path
        for path in folder.glob("**/*.py")
        if not any(
            part.startswith(".") or part in skipped for part in path.relative_to(folder).parts[:-1]
        )
    )


def is_stdlib(name: str) -> bool:
    return name.split(".")[0] in sys.stdlib_module_names


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    for file in python_files(PACKAGE / layer):
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


def test_protocol_is_stdlib_and_intents() -> None:
    """Both processes import it: nothing heavier than the intents it transports."""
    files = python_files(PACKAGE / "protocol")
    assert files
    for file in files:
        for name in imports(file):
            ok = is_stdlib(name) or within(name, ("agent.protocol", INTENTS))
            assert ok, f"agent/protocol/{file.name} imports {name}"


def test_intents_are_stdlib_only() -> None:
    for name in imports(PACKAGE / "rules" / "intents.py"):
        assert is_stdlib(name), f"agent/rules/intents.py imports {name}"


def test_controllers_import_only_os_ken_protocol_and_intents() -> None:
    files = python_files(ROOT / "controllers")
    assert files
    for file in files:
        for name in imports(file):
            ok = (
                is_stdlib(name)
                or name == "agent"
                or within(name, ("controllers", *CONTROLLER_MAY_IMPORT))
            )
            assert ok, f"controllers/{file.name} imports {name}"


def test_bench_never_imports_the_cli() -> None:
    files = python_files(ROOT / "bench")
    assert files
    offenders = {
        file.name for file in files if any(within(name, ("agent.cli",)) for name in imports(file))
    }
    assert offenders == set(), "bench/ imports agent.cli"
