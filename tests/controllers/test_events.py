"""Notifications: switch and port events within 2 s, monitor records at the interval;
several agents at once; one leaving changes nothing."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import time

from agent.protocol import SECTIONS, Event, Monitor, Notification
from agent.rules.intents import COOKIE, flow
from agent.southbound.controller_client import ControllerClient
from tests.controllers.conftest import POLL_INTERVAL
from tests.support.ovs_testbed import OvsTestbed, Wiring
from tests.support.processes import DEADLINE, ControllerProcess, run_async

EVENT_DEADLINE = 2.0


async def next_event(
    ctl: ControllerClient, event: str, dpid: int, timeout: float, **data: object
) -> Event:
    """The next ``event`` of switch ``dpid`` whose data include ``data``."""
    deadline = time.monotonic() + timeout
    while True:
        note = await ctl.next_notification(max(0.01, deadline - time.monotonic()))
        if (
            isinstance(note, Event)
            and (note.event, note.dpid) == (event, dpid)
            and all(note.data.get(k) == v for k, v in data.items())
        ):
            return note


def test_switch_down_and_up_reach_a_subscriber_within_2s(
    controller: ControllerProcess, bed: OvsTestbed, wiring: Wiring
) -> None:
    s4 = wiring.switch(4)

    async def scenario() -> list[float]:
        delays = []
        async with controller.client() as ctl:
            await ctl.subscribe(10.0)
            for take_away, bring_back in (
                (bed.delete_bridge, bed.add_bridge),  # the switch disappears
                (bed.disconnect_controller, bed.connect_controller),  # it loses us
            ):
                start = time.monotonic()
                take_away(s4.number)
                await next_event(ctl, "switch_down", s4.dpid, EVENT_DEADLINE)
                delays.append(time.monotonic() - start)
                start = time.monotonic()
                bring_back(s4.number)
                await next_event(ctl, "switch_up", s4.dpid, EVENT_DEADLINE)
                delays.append(time.monotonic() - start)
        return delays

    delays = run_async(scenario)

    assert len(delays) == 4 and max(delays) < EVENT_DEADLINE
    assert s4.dpid in controller.datapaths()


def test_port_down_and_up_are_reported(
    controller: ControllerProcess, bed: OvsTestbed, wiring: Wiring
) -> None:
    s2 = wiring.switch(2)
    veth = f"{wiring.prefix}2-3"  # switch 2's end of the 2-3 link

    async def scenario() -> tuple[Event, Event]:
        async with controller.client() as ctl:
            await ctl.subscribe(10.0)
            subprocess.run(["ip", "link", "set", veth, "down"], check=True)
            try:
                down = await next_event(ctl, "port_status", s2.dpid, EVENT_DEADLINE, up=False)
            finally:
                subprocess.run(["ip", "link", "set", veth, "up"], check=True)
            up = await next_event(ctl, "port_status", s2.dpid, EVENT_DEADLINE, up=True)
            topology = await ctl.topology()
            assert {p.port_no: p.up for p in topology.datapaths[s2.dpid].ports}[23]
            return down, up

    down, up = run_async(scenario)

    assert down.data == {"port_no": wiring.port_towards(2, 3), "up": False, "reason": "modify"}
    assert up.data["up"] is True


def test_monitor_records_arrive_at_the_poll_interval(
    controller: ControllerProcess, bed: OvsTestbed, wiring: Wiring
) -> None:
    s1 = wiring.switch(1)

    async def scenario() -> list[Monitor]:
        async with controller.client() as ctl:
            assert await ctl.subscribe(POLL_INTERVAL) == POLL_INTERVAL
            seen: list[Monitor] = []
            deadline = time.monotonic() + 4 * POLL_INTERVAL + 0.4
            while time.monotonic() < deadline:
                note = await ctl.next_notification(1.0)
                if isinstance(note, Monitor) and note.dpid == s1.dpid:
                    seen.append(note)
            return seen

    records = run_async(scenario)

    assert len(records) >= 3
    gaps = [b.ts - a.ts for a, b in itertools.pairwise(records)]
    assert all(0.5 * POLL_INTERVAL < g < 2 * POLL_INTERVAL for g in gaps), gaps
    assert records[-1].ports is not None and records[-1].flows is None  # ports only: asked
    ports = {p.port_no: p for p in records[-1].ports}
    assert set(ports) == {1, 10, 11, 22, 24}
    assert time.time() - records[-1].ts < 2


def test_several_agents_and_one_leaving_changes_nothing(
    controller: ControllerProcess, bed: OvsTestbed, wiring: Wiring
) -> None:
    s1 = wiring.switch(1)
    rule = flow(s1.dpid, 0, 100, {"in_port": 10}, (("output", 22),))

    async def scenario() -> list[Notification]:
        stay, leave = controller.client("stay"), controller.client("leave")
        await stay.connect()
        await leave.connect()
        try:
            await stay.subscribe(POLL_INTERVAL)
            await leave.subscribe(POLL_INTERVAL)
            assert (await leave.apply([("add", rule)])).ok
            writer = leave._writer  # the agent vanishes without unsubscribing
            assert writer is not None
            writer.transport.abort()
            await asyncio.sleep(0.1)
            got = [await stay.next_notification(DEADLINE) for _ in range(5)]
            assert await stay.dump() == [rule]
            return got
        finally:
            await stay.close()
            await leave.close()

    notes = run_async(scenario)

    assert any(isinstance(n, Monitor) for n in notes)
    assert "in_port=10 actions=output:22" in bed.ofctl(1, "dump-flows")


def test_flow_group_and_meter_statistics_come_only_when_asked(
    controller: ControllerProcess, bed: OvsTestbed, wiring: Wiring
) -> None:
    s1 = wiring.switch(1)
    rule = flow(s1.dpid, 0, 100, {"in_port": 10}, (("output", 22),))

    async def scenario() -> Monitor:
        async with controller.client() as ctl:
            assert (await ctl.apply([("add", rule)])).ok
            await ctl.subscribe(POLL_INTERVAL, SECTIONS)
            deadline = time.monotonic() + DEADLINE
            while True:
                note = await ctl.next_notification(max(0.01, deadline - time.monotonic()))
                if isinstance(note, Monitor) and note.dpid == s1.dpid:
                    return note

    record = run_async(scenario)

    assert record.ports and record.groups == () and record.meters == ()
    assert record.flows is not None
    ours = [f for f in record.flows if f.cookie == COOKIE]
    assert [(f.priority, f.match) for f in ours] == [(100, (("in_port", 10),))]
