"""Measured slice demand on real switches: UDP of a known rate in one slice's class, its
meter set far below that rate, and the controller backend's flow statistics give the
slice's OFFERED rate (what entered the meter, not what passed it) within 15 %."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.model.scenario import load_scenario
from agent.rules.slices import compile_slices
from agent.runtime.slicing import SlicingEngine, load_engine
from agent.southbound.controller_backend import ControllerBackend
from tests.conftest import TOPOLOGIES
from tests.controllers.test_rules import apply
from tests.controllers.test_slice_meters import DSCP_EF, slices, to_sink
from tests.controllers.test_traffic import SINK_IP, ping, return_path
from tests.support.ovs_testbed import OvsTestbed, Wiring
from tests.support.processes import DEADLINE, ControllerProcess
from tests.support.ring_bed import iperf_server, write_ring_scenario

IPERF_PORT = 5298
OFFERED_KBPS = 4000  # UDP payload; frames are 1,042 bytes for 1,000 of payload
METER_KBPS = 1000.0
SECONDS = 12
WINDOW_S = 6.0
TOLERANCE = 0.15


@pytest.fixture
def iperf(bed: OvsTestbed) -> Iterator[None]:
    with iperf_server(bed, "snk1", IPERF_PORT):
        yield


def backend_for(w: Wiring, controller: ControllerProcess, tmp: Path) -> ControllerBackend:
    scenario = write_ring_scenario(tmp, w)
    return ControllerBackend(controller.address, str(tmp / "wiring.yaml"), load_scenario(scenario))


async def measure_while_sending(
    bed: OvsTestbed, backend: ControllerBackend, engine: SlicingEngine
) -> tuple[dict[str, float], float]:
    """Measured kbit/s per slice near the end of a UDP run in urllc's class, and the
    run's offered rate in kbit/s of frames (from iperf3's count of datagrams)."""
    await backend.start()
    try:
        deadline = time.monotonic() + DEADLINE
        while not backend.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        engine.demand(0, backend, 2 * WINDOW_S)  # subscribes to flow statistics
        client = bed.popen_in_host("src1", "iperf3", "-c", SINK_IP, "-p", str(IPERF_PORT),
                                   "-u", "-b", f"{OFFERED_KBPS}k", "-l", "1000", "-t",
                                   str(SECONDS), "--tos", str(DSCP_EF << 2), "-J")  # fmt: skip
        started = time.monotonic()
        measured: dict[str, float] = {}
        while time.monotonic() - started < SECONDS - 2 and client.poll() is None:
            await asyncio.sleep(0.25)  # polls the measurement; ends when the window is full
            if time.monotonic() - started >= WINDOW_S + 2.5:
                measured = dict(engine.demand(1, backend, 2 * WINDOW_S)[1] or {})
        out, _ = await asyncio.to_thread(client.communicate, timeout=60 + SECONDS)
    finally:
        await backend.stop()
    total = json.loads(out)["end"]["sum"]
    frames_kbps = float(total["packets"]) * 1042 * 8 / float(total["seconds"]) / 1000
    return measured, frames_kbps


def test_measured_demand_is_the_offered_rate_before_the_meter(
    controller: ControllerProcess,
    bed: OvsTestbed,
    wiring: Wiring,
    iperf: None,
    tmp_path: Path,
) -> None:
    w = wiring
    classes = slices(w)  # urllc: DSCP EF, mmtc: DSCP 10, both entering at src1's port
    rules = compile_slices(classes, {"urllc": METER_KBPS, "mmtc": METER_KBPS})
    result = apply(controller, [("add", r) for r in to_sink(w) + return_path(w) + rules])
    assert result.ok, result.errors
    assert ping(bed, "src1") == 3
    backend = backend_for(w, controller, tmp_path)
    scenario = TOPOLOGIES / "slicing/three-service.yaml"
    engine = load_engine(scenario, "static", classes)
    measured, offered = asyncio.run(measure_while_sending(bed, backend, engine))
    print(f"offered {offered:.0f} kbit/s of frames; measured {measured}")
    assert offered > 3 * METER_KBPS  # the meter drops most of it
    assert abs(measured["urllc"] / offered - 1) <= TOLERANCE
    assert measured.get("mmtc", 0.0) < 20.0  # its flow is there, nothing in its class
