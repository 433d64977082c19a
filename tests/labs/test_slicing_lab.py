"""The slicing lab, short (24 s of traffic, about 40 s in all): the daemon allocates per
slice from the demand it measures on the switch; in steady state each slice's received
throughput is its allocation where it asks for more and its demand where it asks for
less, and after the mid-run spike the new allocation is on the switch within two
decision intervals. Everything the run made is gone afterwards."""

from __future__ import annotations

import json
import os
from itertools import pairwise
from pathlib import Path

import pytest

from mininet_labs.lab import LabUnavailable, require_lab
from mininet_labs.slicing import CLASSES, SlicingLab, SlicingLabConfig, demand_segments
from mininet_labs.slicing_report import write_files
from tests.labs.test_smoke import names_with

STEADY_TOLERANCE = 0.15  # of the expected throughput, over a slice's steady bins

if os.geteuid() != 0:
    pytest.skip(
        "the Mininet lab needs root (network namespaces, Open vSwitch bridges)",
        allow_module_level=True,
    )
try:
    require_lab()
except LabUnavailable as exc:
    pytest.skip(f"the Mininet lab cannot run here: {exc}", allow_module_level=True)


def test_the_demand_schedule_plays_the_scenario_and_the_spike() -> None:
    config = SlicingLabConfig(duration=24.0)
    assert config.spike_window() == (15.0, 24.0)  # mid-run, mid-step, to the end
    segments = demand_segments(config)
    assert list(segments) == list(CLASSES)
    for pieces in segments.values():
        assert pieces[0][0] == 0.0 and pieces[-1][1] == 24.0
        assert all(a[1] == b[0] for a, b in pairwise(pieces))
    urllc = {a: kbps for a, _, kbps in segments["urllc"]}
    assert urllc[15.0] == pytest.approx(3 * urllc[12.0], rel=1e-3)  # the spike, same step


def test_short_slicing_lab(tmp_path: Path) -> None:
    # the first steps' demand fits the capacity: a spike of x4 takes it above, so that
    # every slice meets both regimes (demand above its allocation, and below)
    config = SlicingLabConfig(out=tmp_path, duration=24.0, spike_factor=4.0)
    lab = SlicingLab(config)
    try:
        result = lab.run_lab()
    finally:
        lab.teardown()  # run_lab tears down too (also when it fails); twice is harmless
    write_files(result, tmp_path, "test")
    summary = json.loads((tmp_path / "slicing.json").read_text())
    print(json.dumps({k: summary[k] for k in ("slices", "reaction", "decisions")}, indent=1))
    assert lab.prefix is not None and names_with(lab.prefix) == set()
    assert (tmp_path / "slicing.png").stat().st_size > 0
    assert summary["decisions"] >= 10  # every 2 s, through 24 s of traffic
    for piece in result.slices:
        assert piece.steady_bins >= 8, piece
        assert piece.error is not None and piece.error <= STEADY_TOLERANCE, piece
        assert piece.mean_received_kbps > 500, piece  # the class got through at all
    capped = [p for p in result.slices if p.capped_error is not None]
    uncapped = [p for p in result.slices if p.uncapped_error is not None]
    assert capped and uncapped  # both regimes were seen and checked
    assert all(abs(p.capped_error or 0.0) <= STEADY_TOLERANCE for p in capped)
    assert all(abs(p.uncapped_error or 0.0) <= STEADY_TOLERANCE for p in uncapped)
    reaction = result.reaction
    assert reaction.new_rate_kbps is not None and reaction.rate_before_kbps is not None
    assert reaction.new_rate_kbps > 1.3 * reaction.rate_before_kbps  # the spike got more
    assert reaction.intervals is not None and reaction.intervals <= 2.0, reaction
