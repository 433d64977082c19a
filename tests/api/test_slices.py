"""Slicing in the daemon: each cycle allocates the slicing scenario's demand, publishes it
at /slices and in /metrics, and installs one meter per slice and ingress switch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.api.app import make_app
from agent.model.errors import InputError
from agent.rules.intents import FlowIntent, MeterIntent
from agent.rules.slices import SLICE_PRIORITY
from agent.runtime.config import load_config
from agent.runtime.cycle import DecisionCycle
from agent.runtime.service import prepare
from agent.runtime.view import RunningDaemon
from tests.api.conftest import TOKEN, Client
from tests.conftest import ROOT

CONFIG = ROOT / "systemd/agent-slicing.yaml"


async def test_slices_change_with_demand_and_become_meters(
    aiohttp_client: Any, daemon: DecisionCycle
) -> None:
    client: Client = await aiohttp_client(make_app(RunningDaemon(daemon, "test"), TOKEN))
    assert (await (await client.get("/slices")).json())["configured"] is False
    config = load_config(CONFIG)[0]
    assert config.slicing is not None
    daemon.use_slicing(await daemon.build_slicing(config.slicing))

    seen = []
    for _ in range(4):
        await daemon.cycle()
        body = await (await client.get("/slices")).json()
        assert body["configured"] and body["method"] == "admm-opt"
        assert [s["name"] for s in body["slices"]] == ["embb", "urllc", "mmtc"]
        assert sum(s["allocation"] for s in body["slices"]) <= body["capacity"] + 1e-6
        seen.append(tuple(s["allocation"] for s in body["slices"]))
    assert body["step"] == 3 and len(set(seen)) > 1  # the demand moves, the allocation too

    ingress = len(daemon.backend.wiring.ingress_ports)
    meters = [i for i in daemon.installed if isinstance(i, MeterIntent)]
    assert len(meters) == 3 * ingress
    rates = {s["name"]: s["rate_kbps"] for s in body["slices"]}
    assert sorted({m.rate for m in meters}) == sorted({round(r) for r in rates.values()})
    slice_flows = [
        i for i in daemon.installed if isinstance(i, FlowIntent) and i.priority == SLICE_PRIORITY
    ]
    assert len(slice_flows) == 3 * ingress and all(f.meter_id for f in slice_flows)
    metrics = await (await client.get("/metrics")).text()
    assert 'agent_slice_allocation{slice="urllc"}' in metrics
    assert "agent_slice_meter_rate_bits_per_second" in metrics


async def test_without_slicing_nothing_is_metered(daemon: DecisionCycle) -> None:
    await daemon.cycle()
    assert daemon.last_slicing is None
    assert not [i for i in daemon.installed if isinstance(i, MeterIntent)]


def test_a_bad_slicing_section_is_a_located_error(tmp_path: Path) -> None:
    good = CONFIG.read_text().replace("../topologies", str(ROOT / "topologies"))
    cases = {
        "ip_dscp: 46": ("ipv4_dst: 1", ":19: slicing.classes.urllc.match: 'ipv4_dst' is not"),
        "embb: {match": ("video: {match", "slicing: slice class 'video' is not a slice of"),
        "method: admm-opt": ("method: magic", "slicing: unknown slicing method 'magic'"),
    }
    for old, (new, message) in cases.items():
        path = tmp_path / "agent.yaml"
        path.write_text(good.replace(old, new))
        with pytest.raises(InputError) as caught:
            prepare(str(path), None)
        assert message in caught.value.one_line()
