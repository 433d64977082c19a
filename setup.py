"""Build hook: compiles the simulator's hot loop (``agent/sim/flows.py`` and
``agent/sim/fastpath.py``, typed by their ``.pxd`` files) with Cython when it and a C
compiler are available. Without them, or if compiling fails, the package installs as pure
Python and runs the same code, slower. All metadata is in pyproject.toml."""

from __future__ import annotations

import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

COMPILED = ["agent/sim/flows.py", "agent/sim/fastpath.py"]


class OptionalBuildExt(build_ext):
    """``build_ext`` that falls back to pure Python instead of failing the install."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler, headers missing...
            self._skipped(exc)

    def build_extension(self, ext) -> None:  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._skipped(exc)

    @staticmethod
    def _skipped(exc: Exception) -> None:
        print(f"warning: the simulator's compiled core was not built ({exc}); "
              "pure Python is used", file=sys.stderr)  # fmt: skip


def extensions() -> list[object]:
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("warning: Cython missing; the simulator runs as pure Python", file=sys.stderr)
        return []
    return list(cythonize(COMPILED, language_level=3, quiet=True))


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
