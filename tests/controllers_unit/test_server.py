"""The agent's client against the controller's protocol server, in one process: the
records travel the real socket; fake switches stand behind the app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent.protocol import (
    CODE_DISCONNECTED,
    SECTIONS,
    Event,
    Monitor,
    Notification,
    Op,
    Port,
)
from agent.rules.intents import GROUP_BASE, Bucket, GroupIntent, flow
from agent.southbound.controller_client import ControllerClient, ControllerError
from controllers.app import CoordinationShell
from controllers.compat import OFP
from controllers.server import ProtocolServer
from tests.controllers_unit.fake_switch import FakeSwitch, port

Connect = Callable[..., FakeSwitch]
GROUP = GROUP_BASE + 1


@pytest.fixture
async def client(app: CoordinationShell, tmp_path: Path) -> AsyncIterator[ControllerClient]:
    app.server = ProtocolServer(f"unix:{tmp_path / 'c.sock'}", app.operations, 0.1)
    app.server.start()
    ctl = ControllerClient(f"unix:{tmp_path / 'c.sock'}", agent="unit", timeout=10)
    await ctl.connect()
    try:
        yield ctl
    finally:
        await ctl.close()
        app.server.stop()


def publish_poll(app: CoordinationShell) -> None:
    """One round of the app's poll loop."""
    for record in app.operations.poll(1.0, app.server.wanted_sections()):
        app.server.publish_monitor(record)


async def next_monitor(ctl: ControllerClient) -> Monitor:
    while True:
        note: Notification = await ctl.next_notification(10)
        if isinstance(note, Monitor):
            return note


async def test_hello_and_topology(connect: Connect, client: ControllerClient) -> None:
    connect(2, port_numbers=(1, 5))
    connect(1)

    hello = await client.hello()
    topology = await client.topology()

    assert hello.protocol == 1 and hello.datapaths == (1, 2) and "controllers" in hello.controller
    assert topology.datapaths[2].ports == (
        Port(1, "s2-eth1", "02:00:00:00:00:01", True),
        Port(5, "s2-eth5", "02:00:00:00:00:05", True),
    )  # LOCAL left out
    assert topology.links == ()


async def test_apply_and_dump_through_the_socket(
    connect: Connect, client: ControllerClient
) -> None:
    connect(1)
    connect(2)
    groups = [GroupIntent(d, GROUP, "select", (Bucket(1, (("output", 2),)),)) for d in (1, 2)]
    rule = flow(9, 0, 1, {"in_port": 1})

    result = await client.apply([("add", groups[0]), ("add", rule), ("add", groups[1])])
    only_two = await client.dump(dpids=frozenset({2}))

    assert [(e.index, e.dpid, e.code) for e in result.errors] == [(1, 9, CODE_DISCONNECTED)]
    assert only_two == [groups[1]]
    assert sorted(map(repr, await client.dump())) == sorted(map(repr, groups))


async def test_a_subscriber_gets_port_counters_unless_it_asks_for_more(
    app: CoordinationShell, connect: Connect, client: ControllerClient
) -> None:
    connect(1)
    await client.subscribe(0.1)
    assert app.server.wanted_sections() == {"ports"}
    publish_poll(app)
    ports_only = await next_monitor(client)

    await client.subscribe(0.1, SECTIONS)
    publish_poll(app)
    everything = await next_monitor(client)

    assert ports_only.ports and ports_only.flows is None and ports_only.groups is None
    assert everything.ports and everything.flows == () and everything.meters == ()


async def test_events_reach_subscribers(
    app: CoordinationShell, connect: Connect, client: ControllerClient
) -> None:
    await client.subscribe(60.0)
    switch = connect(3)
    desc = port(2, "s3-eth2", up=False)
    msg = SimpleNamespace(datapath=switch, reason=OFP.OFPPR_MODIFY, desc=desc)

    app._port_status(SimpleNamespace(msg=msg))
    switch.disconnect()

    notes = [await client.next_notification(10) for _ in range(3)]
    events = [n for n in notes if isinstance(n, Event)]
    assert [(e.event, e.dpid) for e in events] == [
        ("switch_up", 3),
        ("port_status", 3),
        ("switch_down", 3),
    ]
    assert dict(events[1].data) == {"port_no": 2, "up": False, "reason": "modify"}


@pytest.mark.parametrize(
    "body", [{"interval": 0}, {"interval": 1, "stats": ["ports", "cpu"]}, {"interval": "1"}]
)
async def test_a_bad_subscription_is_refused(
    client: ControllerClient, body: dict[str, object]
) -> None:
    with pytest.raises(ControllerError, match="subscribe"):
        await client.request(Op.SUBSCRIBE, body)
