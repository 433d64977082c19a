"""The live page's stream (``/events``) through the real aiohttp test client, over
publications of a running daemon on the embedded simulator backend; the hub's bounds;
the worker feeding it."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from typing import Any

from aiohttp import ClientResponse

from agent.api.app import Token, make_app
from agent.api.channel import json_frame
from agent.api.events import EventHub, encode, layout, make_sample
from agent.api.worker import PublishedView, feed
from agent.runtime.cycle import DecisionCycle
from agent.runtime.view import RunningDaemon
from tests.api.conftest import TOKEN, Client

STREAM = {"Accept": "text/event-stream"}
DEADLINE = 30.0


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for ``condition``, failing after a generous deadline."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def next_event(response: ClientResponse) -> tuple[str, Any]:
    """The next named event of a stream (heartbeats and retry lines skipped)."""
    while True:
        block = await asyncio.wait_for(response.content.readuntil(b"\n\n"), DEADLINE)
        fields = dict(line.split(": ", 1) for line in block.decode().splitlines() if ": " in line)
        if "event" in fields:
            return fields["event"], json.loads(fields["data"])


async def streaming_client(aiohttp_client: Any, daemon: DecisionCycle, hub: EventHub) -> Client:
    made: Client = await aiohttp_client(make_app(RunningDaemon(daemon, "test"), TOKEN, hub))
    return made


async def test_hello_then_one_state_per_publication(
    aiohttp_client: Any, daemon: DecisionCycle
) -> None:
    hub, view = EventHub(), RunningDaemon(daemon, "test")
    client = await streaming_client(aiohttp_client, daemon, hub)
    await daemon.cycle()
    hub.publish(view.publication())
    response = await client.get("/events", headers=STREAM)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    kind, hello = await next_event(response)
    assert kind == "hello" and len(hello["history"]) == 1
    nodes = hello["frame"]["topology"]["nodes"]
    assert len(nodes) == 11
    assert all(0.0 <= n["x"] <= 1.0 and 0.0 <= n["y"] <= 1.0 for n in nodes)
    assert hello["frame"]["decision"]["schedule"]["pop0"]["sfc_1"]["a"]
    await daemon.cycle()
    hub.publish(view.publication())
    kind, state = await next_event(response)
    assert kind == "state" and state["sample"]["cycle"] == 2
    assert state["status"]["counters"]["cycles"] == 2
    response.close()


async def test_the_stream_is_only_for_event_stream_readers(client: Client) -> None:
    response = await client.get("/events")
    assert response.status == 406
    body = await response.json()
    assert body["error"]["code"] == "not_acceptable"


async def test_a_client_that_goes_away_is_dropped(
    aiohttp_client: Any, daemon: DecisionCycle
) -> None:
    hub = EventHub(heartbeat_s=0.05)
    client = await streaming_client(aiohttp_client, daemon, hub)
    response = await client.get("/events", headers=STREAM)
    assert (await next_event(response))[0] == "hello"
    assert len(hub.clients) == 1
    response.close()
    await until(lambda: not hub.clients, "the hub to drop the closed stream")


async def test_streams_end_when_the_hub_closes(aiohttp_client: Any, daemon: DecisionCycle) -> None:
    hub = EventHub()
    client = await streaming_client(aiohttp_client, daemon, hub)
    response = await client.get("/events", headers=STREAM)
    assert (await next_event(response))[0] == "hello"
    hub.close()
    rest = await asyncio.wait_for(response.content.read(), DEADLINE)
    assert b"event:" not in rest and not hub.clients
    late = await client.get("/events", headers=STREAM)
    assert await asyncio.wait_for(late.content.read(), DEADLINE) == b""


async def test_too_many_streams_are_refused(aiohttp_client: Any, daemon: DecisionCycle) -> None:
    hub = EventHub(max_clients=1)
    client = await streaming_client(aiohttp_client, daemon, hub)
    first = await client.get("/events", headers=STREAM)
    assert (await next_event(first))[0] == "hello"
    second = await client.get("/events", headers=STREAM)
    assert second.status == 503
    assert (await second.json())["error"]["code"] == "too_many_streams"
    first.close()


async def test_a_slow_client_keeps_only_the_newest_events(daemon: DecisionCycle) -> None:
    hub, view = EventHub(queue_size=4), RunningDaemon(daemon, "test")
    await daemon.cycle()
    reader = hub.subscribe()  # never reads
    for _ in range(50):
        hub.publish(view.publication())
    assert reader.queue.qsize() == 4 and reader.dropped == 47
    last = hub.latest
    assert last is not None
    queued = [reader.queue.get_nowait() or b"" for _ in range(4)]
    assert all(queued)
    newest = json.loads(queued[-1].decode().split("data: ", 1)[1].split("\n", 1)[0])
    assert newest["published_at"] == last["published_at"]


def status(cycles: int, ok: float, dropped: float, at: float = 1.0) -> dict[str, Any]:
    return {
        "status": {
            "last_decision_at": at,
            "counters": {"cycles": cycles},
            "backend_stats": {"sim_flows_successful": ok, "sim_flows_dropped": dropped},
            "last_cycle": {"latency_ms": {"total": 12.5, "install": 2.5}},
            "installed_rules": {"flows": 7, "groups": 3, "meters": 0},
            "fallback": {"active": True, "reason": "stale"},
        },
        "topology": {
            "nodes": [
                {"id": "a", "cap": 2.0, "load": 1.0, "ingress_traffic": 3.0},
                {"id": "b", "cap": 2.0, "load": None, "ingress_traffic": None},
            ],
            "links": [],
        },
    }


def test_one_sample_per_decision_with_the_interval_success_ratio() -> None:
    hub = EventHub(window_s=1e9)
    hub.publish(status(1, ok=90, dropped=10))
    hub.publish(status(1, ok=90, dropped=10))  # an override's publication: no new decision
    hub.publish(status(2, ok=120, dropped=40))
    assert [s["cycle"] for s in hub.history] == [1, 2]
    first, second = hub.history
    assert first["success_ratio"] == 0.9
    assert second["success_ratio"] == 0.5  # 30 of the last 60 finished flows
    assert second["decision_ms"] == 10.0 and second["install_ms"] == 2.5
    assert second["load"] == 0.5 and second["ingress"] == 3.0
    assert second["flows"] == 7 and second["fallback"] is True


def test_the_history_keeps_only_the_window() -> None:
    hub = EventHub(window_s=60)
    hub.publish(status(1, 1, 0, at=1000.0))
    hub.publish(status(2, 2, 0, at=1090.0))
    hub.publish(status(3, 3, 0, at=1120.0))
    assert [s["cycle"] for s in hub.history] == [2, 3]


def test_no_success_ratio_off_the_simulator() -> None:
    state = status(1, 0, 0)
    state["status"]["backend_stats"] = {"switches_connected": 3.0}
    assert make_sample(state, {})["success_ratio"] is None


def test_non_finite_numbers_travel_as_null() -> None:
    event = encode("state", {"ratio": math.nan, "list": [math.inf, 1.5]})
    assert event == b'event: state\ndata: {"ratio":null,"list":[null,1.5]}\n\n'


def test_layout_is_geographic_when_nodes_have_coordinates() -> None:
    nodes: list[dict[str, Any]] = [
        {"id": "west", "latitude": 40.0, "longitude": -120.0},
        {"id": "east", "latitude": 40.0, "longitude": -75.0},
        {"id": "south", "latitude": 30.0, "longitude": -95.0},
        {"id": "bare"},
    ]
    links = [{"a": "west", "b": "east"}, {"a": "bare", "b": "south"}]
    where = layout(nodes, links)
    assert where["west"][0] < where["south"][0] < where["east"][0]
    assert where["south"][1] > where["west"][1] == where["east"][1]  # north is up
    assert all(0.0 <= v <= 1.0 for xy in where.values() for v in xy)
    near = math.dist(where["bare"], where["south"])
    assert 0 < near < 0.2  # beside its only neighbour


def test_layout_without_coordinates_is_a_stable_spring_layout() -> None:
    nodes = [{"id": f"n{i}"} for i in range(6)]
    links = [{"a": f"n{i}", "b": f"n{(i + 1) % 6}"} for i in range(6)]
    where = layout(nodes, links)
    assert where == layout(nodes, links)
    assert len({xy for xy in where.values()}) == 6
    assert all(0.0 <= v <= 1.0 for xy in where.values() for v in xy)


async def test_the_worker_feeds_every_state_to_the_hub(daemon: DecisionCycle) -> None:
    """A state the page cannot draw is logged; the feed and the API's reads go on."""
    await daemon.cycle()
    good = RunningDaemon(daemon, "test").publication()
    broken = {
        **good,
        "published_at": 1.0,
        "topology": {"nodes": [{"no": "id"}], "links": [], "chains": {}},
    }
    reader = asyncio.StreamReader()
    for state in (broken, good):
        reader.feed_data(json_frame({"op": "state", "state": state}))
    reader.feed_eof()
    hub, view = EventHub(), PublishedView(writer=None)  # type: ignore[arg-type]
    await feed(reader, view, Token(), hub)
    assert hub.latest is not None and hub.latest["published_at"] == good["published_at"]
    assert view.state["published_at"] == good["published_at"]
    assert hub.last_problem is None  # the good state cleared the broken one's
