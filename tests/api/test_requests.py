"""``/requests`` over the embedded simulator backend, through the real aiohttp test client,
with the decision cycle running: 201 once the flows are installed, 409 and nothing changed,
400 naming the field, 401 without the token, 404, DELETE, expiry, 1,000 concurrent POSTs
that leave the books consistent, and the counters in /status and /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from agent.api.app import make_app
from agent.model.scenario import load_scenario
from agent.rules.intents import FlowIntent
from agent.rules.requests import request_cookie
from agent.runtime.config import AgentConfig, DeploymentSettings
from agent.runtime.cycle import DecisionCycle
from agent.runtime.request_desk import Deployments
from agent.runtime.request_setup import build_book, make_deployments
from agent.runtime.requests import Usage
from agent.runtime.view import RunningDaemon
from tests.api.conftest import AUTH, TOKEN, Client
from tests.conftest import TOPOLOGIES

SUBSTRATE = TOPOLOGIES / "deployment/abilene10-small.yaml"
BODY = {
    "ingress": "pop1",
    "egress": "pop5",
    "chain": ["firewall", "nat"],
    "rate": 10.0,
    "latency_bound_ms": 150.0,
    "duration_s": 600.0,
}
DEADLINE = 120.0


@pytest.fixture
async def daemon() -> AsyncIterator[DecisionCycle]:
    """A daemon on the simulator backend in real time (the simulator's thread would
    otherwise take the interpreter from the many requests these tests make)."""
    from agent.southbound.sim_backend import SimBackend

    scenario = load_scenario(TOPOLOGIES / "scenarios/abilene-in3.yaml")
    backend = SimBackend(scenario, time_scale=1.0, seed=2)
    daemon = DecisionCycle(AgentConfig(), scenario, backend)
    await backend.start()
    yield daemon
    await backend.stop()
    daemon.executor.shutdown(wait=False)


@pytest.fixture
async def desk(daemon: DecisionCycle) -> AsyncIterator[Deployments]:
    """Deployments on the daemon, and its decision cycle running every 20 ms."""
    settings = DeploymentSettings(scenario=str(SUBSTRATE), chains={"web": ["firewall", "proxy"]})
    book = await asyncio.to_thread(
        build_book, settings, daemon.scenario.network, daemon.backend.wiring, None
    )
    daemon.requests = make_deployments(book, daemon.instances, dict, settings)

    running = [True]

    async def cycles() -> None:
        while running[0]:
            await daemon.cycle()
            await asyncio.sleep(0.02)

    task = asyncio.create_task(cycles())
    yield daemon.requests
    running[0] = False  # Python 3.11's wait_for may swallow a cancellation: the flag ends it
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@pytest.fixture
async def api(aiohttp_client: Any, daemon: DecisionCycle, desk: Deployments) -> Client:
    made: Client = await aiohttp_client(make_app(RunningDaemon(daemon, "test"), TOKEN))
    return made


async def post(api: Client, body: object) -> tuple[int, dict[str, Any]]:
    response = await api.post("/requests", json=body, headers=AUTH)
    return response.status, await response.json()


async def post_all(api: Client, bodies: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Every body posted concurrently, the tasks made 50 per step of the loop: in the
    guard's debug mode making a task records where it was made, and 1,000 in one step of
    the test's own coroutine would be a long step on a busy machine."""
    tasks: list[asyncio.Task[tuple[int, dict[str, Any]]]] = []
    for start in range(0, len(bodies), 50):
        tasks += [asyncio.create_task(post(api, body)) for body in bodies[start : start + 50]]
        await asyncio.sleep(0)
    return list(await asyncio.gather(*tasks))


async def wait_for(probe: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if value := probe():
            return value
        await asyncio.sleep(0.02)
    raise TimeoutError(f"no {what} within {DEADLINE:g} s")


def flows_of(daemon: DecisionCycle, rid: int) -> list[FlowIntent]:
    cookie = request_cookie(rid)
    table = daemon.backend.table.dump()  # type: ignore[attr-defined]  # the switch itself
    return [i for i in table if isinstance(i, FlowIntent) and i.cookie == cookie]


def ours(daemon: DecisionCycle) -> set[FlowIntent]:
    table = daemon.backend.table.dump()  # type: ignore[attr-defined]
    return {i for i in table if isinstance(i, FlowIntent)}


def assert_consistent(desk: Deployments) -> None:
    used, booked = desk.book.used(), desk.book.booked()
    for name in Usage.__dataclass_fields__:
        for a, b in zip(getattr(used, name), getattr(booked, name), strict=True):
            assert math.isclose(a, b, abs_tol=1e-6), (name, a, b)


async def test_an_accepted_request_is_installed_and_listed(
    api: Client, daemon: DecisionCycle
) -> None:
    status, record = await post(api, BODY)
    assert status == 201, record
    assert record["state"] == "active" and record["id"] == 1
    assert [p["vnf"] for p in record["placement"]] == ["firewall", "nat"]
    assert record["path"][0][0] == "pop1" and record["path"][-1][-1] == "pop5"
    assert record["expires_at"] == pytest.approx(record["created_at"] + 600.0)
    assert len(flows_of(daemon, 1)) >= 3  # along its path, before the answer
    running = daemon.instances.running()
    for step in record["placement"]:
        assert step["vnf"] in running[step["node"]]

    listed = await (await api.get("/requests")).json()
    assert listed["total"] == 1 and listed["requests"][0]["id"] == 1
    one = await api.get("/requests/1")
    assert one.status == 200 and (await one.json())["servers"] == record["servers"]
    named = {**BODY, "chain": "web", "match": {"ipv4_src": "10.0.0.9"}}
    status, second = await post(api, named)
    assert status == 201 and [p["vnf"] for p in second["placement"]] == ["firewall", "proxy"]


async def test_an_infeasible_request_is_409_and_changes_nothing(
    api: Client, daemon: DecisionCycle, desk: Deployments
) -> None:
    assert (await post(api, BODY))[0] == 201
    before = (ours(daemon), desk.book.used(), daemon.instances.running())
    status, body = await post(api, {**BODY, "cpu": 5000.0})
    assert status == 409 and body["error"]["code"] == "infeasible"
    assert "no server can take VNF 1" in body["error"]["message"]
    await daemon.cycle()  # a cycle after it: still nothing of it
    assert (ours(daemon), desk.book.used(), daemon.instances.running()) == before
    assert (await (await api.get("/requests")).json())["total"] == 1


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"rate": -1}, "rate: Input should be greater than 0"),
        ({"rate": "10"}, "rate: Input should be a valid number"),
        ({"chain": ["firewall", "warp"]}, "chain.1: unknown VNF type 'warp'"),
        ({"egress": None}, "egress: Input should be a valid string"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
async def test_a_malformed_body_is_400_naming_the_field(
    api: Client, change: dict[str, Any], where: str
) -> None:
    status, body = await post(api, {**BODY, **change})
    assert status == 400 and body["error"]["code"] == "invalid_body"
    assert body["error"]["message"].startswith(where), body
    response = await api.post("/requests", data="{oops", headers=AUTH)
    assert response.status == 400


async def test_writes_need_the_token_and_unknown_ids_are_404(api: Client) -> None:
    response = await api.post("/requests", json=BODY)
    assert response.status == 401
    response = await api.delete("/requests/1", headers={"Authorization": "Bearer wrong"})
    assert response.status == 401
    assert (await api.get("/requests/42")).status == 404
    assert (await api.delete("/requests/42", headers=AUTH)).status == 404
    assert (await api.get("/requests/abc")).status == 400
    assert (await (await api.get("/requests")).json())["total"] == 0


async def test_delete_releases_and_removes_exactly_its_flows(
    api: Client, daemon: DecisionCycle, desk: Deployments
) -> None:
    _, first = await post(api, {**BODY, "match": {"ipv4_src": "10.0.0.1"}})
    _, second = await post(api, {**BODY, "match": {"ipv4_src": "10.0.0.2"}})
    kept = set(flows_of(daemon, second["id"]))
    assert flows_of(daemon, first["id"]) and kept
    response = await api.delete(f"/requests/{first['id']}", headers=AUTH)
    assert response.status == 200 and (await response.json())["state"] == "removed"
    assert flows_of(daemon, first["id"]) == []
    assert set(flows_of(daemon, second["id"])) == kept
    assert_consistent(desk)
    assert (await api.get(f"/requests/{first['id']}")).status == 404
    await api.delete(f"/requests/{second['id']}", headers=AUTH)
    assert sum(desk.book.used().cpu) == 0.0 and desk.book.records == {}


async def test_a_request_expires_after_its_duration(
    api: Client, daemon: DecisionCycle, desk: Deployments
) -> None:
    status, record = await post(api, {**BODY, "duration_s": 0.5})
    assert status == 201 and flows_of(daemon, record["id"])
    await wait_for(lambda: not desk.book.records, "expiry")
    assert flows_of(daemon, record["id"]) == [] and sum(desk.book.used().cpu) == 0.0
    assert (await api.get(f"/requests/{record['id']}")).status == 404


async def test_a_thousand_concurrent_requests_leave_the_books_consistent(
    api: Client, daemon: DecisionCycle, desk: Deployments
) -> None:
    bodies = [{**BODY, "duration_s": 3.0 if i % 2 else 600.0} for i in range(1000)]
    answers = await post_all(api, bodies)
    statuses = [status for status, _ in answers]
    accepted = [body for status, body in answers if status == 201]
    assert set(statuses) <= {201, 409} and accepted and 409 in statuses
    assert len({r["id"] for r in accepted}) == len(accepted)
    assert_consistent(desk)
    holding = desk.book.holding()
    assert {r.id for r in holding} <= {r["id"] for r in accepted}
    sub = desk.book.scenario.substrate
    booked_cpu = sum(c for r in accepted for c in r["cpu"])
    expired = {r["id"] for r in accepted} - {r.id for r in holding}
    still = sum(c for r in accepted if r["id"] not in expired for c in r["cpu"])
    assert math.isclose(sum(desk.book.used().cpu), still, abs_tol=1e-6)
    assert booked_cpu >= still and all(left >= -1e-6 for left in desk.book.state.cpu)
    assert sum(desk.book.used().cpu) <= sum(sub.cpu) + 1e-6
    summary = desk.book.summary()
    assert summary["accepted"] == len(accepted)
    assert summary["rejected"] == statuses.count(409)

    await wait_for(lambda: all(r.duration_s > 3.0 for r in desk.book.records.values()), "expiry")
    for rid in list(desk.book.records):
        response = await api.delete(f"/requests/{rid}", headers=AUTH)
        assert response.status in (200, 202)
    await wait_for(lambda: not desk.book.records, "every request gone")
    assert all(u == 0.0 for u in desk.book.used().cpu + desk.book.used().bandwidth)
    await wait_for(lambda: not [f for f in ours(daemon) if f.cookie >> 32 == 0x5DC00001], "flows")


async def test_status_and_metrics_count_requests(api: Client) -> None:
    await post(api, BODY)
    await post(api, {**BODY, "cpu": 5000.0})
    status = await (await api.get("/status")).json()
    assert status["deployments"] == {
        "configured": True,
        "active": 1,
        "accepted": 1,
        "rejected": 1,
        "failed": 0,
    }
    metrics = await (await api.get("/metrics")).text()
    assert "agent_requests_accepted_total 1.0" in metrics
    assert "agent_requests_rejected_total 1.0" in metrics
    assert "agent_requests_active 1.0" in metrics


async def test_without_deployment_requests_are_404(
    aiohttp_client: Any, daemon: DecisionCycle
) -> None:
    client: Client = await aiohttp_client(make_app(RunningDaemon(daemon, "test"), TOKEN))
    response = await client.post("/requests", json=BODY, headers=AUTH)
    assert response.status == 404 and (await response.json())["error"]["code"] == "no_deployment"
    assert "deployments" not in await (await client.get("/status")).json()
    assert "agent_requests" not in await (await client.get("/metrics")).text()


async def test_the_api_process_reaches_requests_over_its_call_channel(
    aiohttp_client: Any, daemon: DecisionCycle, desk: Deployments
) -> None:
    """From the API's own process, operations travel as a ``requests`` call that
    ``daemon_call`` answers on the daemon's loop; the counts come from the publication."""
    from agent.api.requests import daemon_call, summary
    from agent.api.worker import PublishedView

    running = RunningDaemon(daemon, "test")

    class Channel(PublishedView):
        async def _call(self, method: str, **args: Any) -> Any:
            if method != "requests":
                raise ValueError(f"unknown call {method!r}")
            return json.loads(json.dumps(await daemon_call(running, args)))  # as on the wire

    view = Channel(writer=None)  # type: ignore[arg-type]
    client: Client = await aiohttp_client(make_app(view, TOKEN))
    status, record = await post(client, BODY)
    assert status == 201 and record["state"] == "active"
    status, body = await post(client, {**BODY, "cpu": 5000.0})
    assert status == 409 and body["error"]["code"] == "infeasible"
    listed = await (await client.get("/requests?state=active")).json()
    assert [r["id"] for r in listed["requests"]] == [record["id"]]
    view.state = running.publication()  # what the daemon publishes, with the counts
    view.state["status"]["deployments"] = summary(desk)
    assert (await (await client.get("/status")).json())["deployments"]["active"] == 1
    assert "agent_requests_active 1.0" in await (await client.get("/metrics")).text()
    response = await client.delete(f"/requests/{record['id']}", headers=AUTH)
    assert response.status == 200 and desk.book.records == {}
