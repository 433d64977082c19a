"""CI smoke test: the triangle scenario (3 nodes, one chain a->b) in the Mininet lab
with the shortest-path policy for 8 s of traffic (about 25 s in all): traffic crosses
the SF instances in chain order, the lab reports its success ratio, and everything the
lab made is gone afterwards."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from mininet_labs.lab import LabConfig, LabRun, LabUnavailable, require_lab

TRIANGLE = Path(__file__).resolve().parents[2] / "topologies" / "scenarios" / "triangle.yaml"

if os.geteuid() != 0:
    pytest.skip(
        "the Mininet lab needs root (network namespaces, Open vSwitch bridges)",
        allow_module_level=True,
    )
try:
    require_lab()
except LabUnavailable as exc:
    pytest.skip(f"the Mininet lab cannot run here: {exc}", allow_module_level=True)


def names_with(prefix: str) -> set[str]:
    """Bridges and links whose name starts with ``prefix`` (one lab run's own)."""
    bridges = subprocess.run(["ovs-vsctl", "list-br"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    names = set(bridges.split())
    names |= {line.split(":")[1].strip().split("@")[0] for line in links.splitlines()}
    return {n for n in names if n.startswith(prefix)}


def test_triangle_shortest_path_in_the_lab(tmp_path: Path) -> None:
    config = LabConfig(TRIANGLE, "shortest-path", duration=8.0, time_scale=10.0, out=tmp_path)
    run = LabRun(config)
    metrics = run.run()
    metrics.write(tmp_path)
    summary = json.loads((tmp_path / "metrics.json").read_text())
    print(
        "lab success ratio",
        summary["success_ratio"],
        "of",
        summary["generated"],
        "flows;",
        "chain order",
        summary["chain_order"],
        "; delay",
        summary["delay_ms"],
        "ms",
    )
    assert summary["generated"] > 50
    assert 0.5 <= summary["success_ratio"] <= 1.0
    # the instances' counters: a's admitted flows, then b's, in chain order
    counters = {n: i["counters"] for n, i in summary["instances"].items()}
    admitted = {sf: sum(c[sf]["flows_admitted"] for c in counters.values()) for sf in "ab"}
    assert admitted["a"] >= admitted["b"] >= summary["successful"] > 0
    order = summary["chain_order"]
    assert order["flows_checked"] >= summary["successful"]
    assert order["flows_in_order"] == order["flows_checked"]
    assert summary["link_delay"].startswith(("emulated", "not emulated"))
    for name in ("metrics.csv", "flows.csv", "timeline.csv"):
        assert (tmp_path / name).stat().st_size > 0
    assert run.prefix is not None and run.prefix.startswith("ml")
    assert names_with(run.prefix) == set()  # this run's bridges and veths removed
