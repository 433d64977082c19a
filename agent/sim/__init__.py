"""The flow-level simulator.

Two of its modules, ``flows`` and ``fastpath`` (the hot loop), are compiled by Cython when
the package is installed (``setup.py``; C types from their ``.pxd`` files). The ``.py``
files are the source and the fallback: the same code runs as pure Python where nothing
was compiled. Both modules are loaded from source instead of the compiled files when
``AGENT_SIM_PURE`` is set (to compare the two), or when a compiled file is older than
its source (edited since the last install; ``make setup`` or ``pip install -e .``
compiles it again), with a warning, so that an edit is never silently ignored.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from pathlib import Path

COMPILED = ("flows", "fastpath")  # fastpath imports flows: load in this order


def _stale(here: Path) -> list[str]:
    """The compiled modules older than their source."""
    old = []
    for name in COMPILED:
        built = [*here.glob(f"{name}.*.so"), *here.glob(f"{name}.*.pyd")]
        source = here / f"{name}.py"
        if built and max(b.stat().st_mtime for b in built) < source.stat().st_mtime:
            old.append(name)
    return old


def _load_sources(here: Path) -> None:
    for name in COMPILED:
        full = f"{__name__}.{name}"
        spec = importlib.util.spec_from_file_location(full, here / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[full] = module
        spec.loader.exec_module(module)


def _choose() -> None:
    here = Path(__file__).resolve().parent
    if os.environ.get("AGENT_SIM_PURE"):
        _load_sources(here)
        return
    stale = _stale(here)
    if stale:
        warnings.warn(
            f"the simulator's compiled {', '.join(stale)} is older than its source; running "
            "the source (slower) until `make setup` or `pip install -e .` compiles it again",
            RuntimeWarning,
            stacklevel=2,
        )
        _load_sources(here)


def compiled() -> bool:
    """Whether the simulator's hot loop runs compiled in this process."""
    module = sys.modules.get(f"{__name__}.fastpath") or importlib.import_module(
        f"{__name__}.fastpath"
    )
    return not str(getattr(module, "__file__", "")).endswith(".py")


_choose()
