"""Inputs of the MILP tests: hvc's test scenarios (data/) and the bundled Janos-US."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
TOPOLOGIES_MILP = ROOT / "topologies" / "milp"
