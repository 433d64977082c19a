"""Deployment requests in the daemon, without a switch: booking in one step (or nothing
changes), rollback when instances or the install fail, expiry, the state file's round
trip, and a corrupt state file named in a one-line error."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest

from agent.model.errors import InputError
from agent.model.scenario import load_scenario
from agent.model.wiring import Wiring, synthetic_wiring
from agent.rules.intents import FlowIntent
from agent.rules.requests import (
    REQUEST_PRIORITY,
    RequestRoute,
    RequestRuleError,
    compile_request,
    request_cookie,
)
from agent.runtime.config import DeploymentSettings
from agent.runtime.request_desk import Deployments, without
from agent.runtime.request_setup import RequestGenerator, build_book, restore_book
from agent.runtime.request_store import RequestRecord
from agent.runtime.requests import Demand, RequestBody, RequestBook, RequestProblem, Usage
from agent.southbound.instances import InstanceError, InstanceSet, LoggingInstanceManager
from tests.conftest import TOPOLOGIES

SCENARIO = TOPOLOGIES / "scenarios/abilene-in3.yaml"
SUBSTRATE = TOPOLOGIES / "deployment/abilene10-small.yaml"
BODY = {
    "ingress": "pop1",
    "egress": "pop5",
    "chain": ["firewall", "nat"],
    "rate": 10.0,
    "latency_bound_ms": 150.0,
    "duration_s": 60.0,
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class FailingInstances(LoggingInstanceManager):
    async def start(self, wanted: InstanceSet) -> InstanceSet:
        raise InstanceError("no room for the VM")


@pytest.fixture(scope="module")
def wiring() -> Wiring:
    return synthetic_wiring(load_scenario(SCENARIO).network)


def make_book(wiring: Wiring, folder: Path | None = None, **settings: object) -> RequestBook:
    config = DeploymentSettings(scenario=str(SUBSTRATE), **settings)  # type: ignore[arg-type]
    return build_book(config, load_scenario(SCENARIO).network, wiring, folder)


def demand(book: RequestBook, **changes: object) -> Demand:
    return book.demand(RequestBody.model_validate({**BODY, **changes}))


def consistent(book: RequestBook) -> None:
    used, booked = book.used(), book.booked()
    for name in Usage.__dataclass_fields__:
        for a, b in zip(getattr(used, name), getattr(booked, name), strict=True):
            assert math.isclose(a, b, abs_tol=1e-6), (name, a, b)


def total(usage: Usage) -> float:
    return sum(usage.cpu) + sum(usage.memory) + sum(usage.bandwidth)


async def install(desk: Deployments, errors: list[str] | None = None) -> None:
    """One decision cycle as the daemon runs it: the batch, then its outcome."""
    await desk.settle(desk.batch(), errors or [])


async def submitted(desk: Deployments, d: Demand) -> asyncio.Task[RequestRecord]:
    task = asyncio.create_task(desk.submit(d))
    for _ in range(100):  # until it waits for a cycle (instances started)
        await asyncio.sleep(0)
        if any(r.state == "pending" for r in desk.book.records.values()) or task.done():
            break
    return task


def test_a_request_is_placed_compiled_and_booked_in_one_step(wiring: Wiring) -> None:
    book = make_book(wiring)
    record = book.admit(demand(book), now=10.0)
    assert record.state == "starting" and record.expires_at == 70.0
    assert (
        len(record.servers) == 2 and record.path[0][0] == "pop1" and record.path[-1][-1] == "pop5"
    )
    flows = book.flows[record.id]
    assert flows and all(f.cookie == request_cookie(record.id) for f in flows)
    assert all(("ipv4_src", "100.64.0.1") in f.match for f in flows)
    assert total(book.used()) > 0
    consistent(book)


def test_a_refused_request_changes_nothing(wiring: Wiring) -> None:
    book = make_book(wiring)
    first = book.admit(demand(book, match={"ipv4_src": "10.0.0.1"}), now=0.0)
    before = (book.used(), dict(book.records), book.next_id)
    with pytest.raises(RequestProblem) as caught:
        book.admit(demand(book, cpu=10_000.0), now=0.0)
    assert caught.value.status == 409 and "no server can take VNF 1" in caught.value.message
    with pytest.raises(RequestProblem) as clash:
        book.admit(demand(book, match={"ipv4_src": "10.0.0.1"}), now=0.0)
    assert clash.value.code == "classifier_in_use" and str(first.id) in clash.value.message
    assert (book.used(), dict(book.records), book.next_id) == before
    assert book.rejected == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"chain": ["firewall", "teleporter"]}, "chain.1: unknown VNF type 'teleporter'"),
        ({"chain": "web"}, "chain: no chain named 'web'"),
        ({"ingress": "mars"}, "ingress: 'mars' is not a node"),
        ({"cpu": [1.0, 2.0, 3.0]}, "cpu: one value per VNF (2), got 3"),
        ({"match": {"ipv4_src": "10.0.0.300"}}, "match.ipv4_src: '10.0.0.300' is not an IPv4"),
        ({"match": {"eth_dst": "x"}}, "match.eth_dst: not a classifier field"),
    ],
)
def test_a_malformed_request_names_its_field(
    wiring: Wiring, change: dict[str, object], message: str
) -> None:
    book = make_book(wiring)
    with pytest.raises(RequestProblem) as caught:
        demand(book, **change)
    assert caught.value.status == 400 and message in caught.value.message


def test_named_chains_come_from_the_configuration(wiring: Wiring) -> None:
    book = make_book(wiring, chains={"web": ["firewall", "proxy"]})
    assert demand(book, chain="web").chain == ("firewall", "proxy")


async def test_an_install_failure_rolls_the_booking_back(wiring: Wiring) -> None:
    book = make_book(wiring)
    manager = LoggingInstanceManager()
    desk = Deployments(book, manager, dict, install_timeout=60.0)
    task = await submitted(desk, demand(book))
    assert manager.running() and total(book.used()) > 0
    await install(desk, ["256: TABLE_FULL (batch index 3)"])
    with pytest.raises(RequestProblem) as caught:
        await task
    assert caught.value.status == 502 and "TABLE_FULL" in caught.value.message
    assert book.records == {} and total(book.used()) == 0.0
    assert manager.running() == {}  # its instances stopped again
    assert book.summary() == {"active": 0, "accepted": 0, "rejected": 0, "failed": 1}


async def test_an_instance_failure_rolls_the_booking_back(wiring: Wiring) -> None:
    book = make_book(wiring)
    desk = Deployments(book, FailingInstances(), dict)
    with pytest.raises(RequestProblem) as caught:
        await desk.submit(demand(book))
    assert caught.value.status == 503 and "no room for the VM" in caught.value.message
    assert book.records == {} and total(book.used()) == 0.0


async def test_instances_another_request_or_the_decision_uses_stay(wiring: Wiring) -> None:
    book = make_book(wiring)
    manager = LoggingInstanceManager()
    desk = Deployments(book, manager, dict)
    first = await submitted(desk, demand(book, match={"ipv4_src": "10.0.0.1"}))
    second = await submitted(desk, demand(book, match={"ipv4_src": "10.0.0.2"}))
    await install(desk)
    one, two = await first, await second
    assert one.servers[0] == two.servers[0]  # shared firewall
    assert without(manager.running(), desk) == {}  # the coordination's plan leaves them alone
    removal = asyncio.create_task(desk.remove(one.id))
    await asyncio.sleep(0)
    await install(desk)
    assert (await removal)[1] is True
    assert manager.running() == book.instances([two])
    assert "firewall" in manager.running()[one.servers[0]]


async def test_an_expired_request_is_released_and_its_flows_leave(wiring: Wiring) -> None:
    book = make_book(wiring)
    clock = Clock()
    manager = LoggingInstanceManager()
    desk = Deployments(book, manager, dict, clock=clock)
    task = await submitted(desk, demand(book, duration_s=5.0))
    await install(desk)
    record = await task
    assert desk.batch().intents  # its flows are in every batch while it lasts
    clock.now += 5.0
    batch = desk.batch()
    assert batch.intents == () and batch.removed == {record.id}
    assert total(book.used()) == 0.0
    await desk.settle(batch, [])
    assert book.records == {} and manager.running() == {}


async def test_saved_requests_come_back_after_a_restart(wiring: Wiring, tmp_path: Path) -> None:
    book = make_book(wiring, tmp_path)
    desk = Deployments(book, LoggingInstanceManager(), dict)
    tasks = [await submitted(desk, demand(book, match={"ipv4_src": f"10.0.0.{i}"})) for i in (1, 2)]
    await install(desk)
    records = [await task for task in tasks]
    saved = json.loads((tmp_path / "requests.json").read_text())
    assert [r["id"] for r in saved["requests"]] == [1, 2] and saved["next_id"] == 3

    again = make_book(wiring, tmp_path)
    assert restore_book(again, now=0.0) == 2
    assert [r.state for r in again.records.values()] == ["pending", "pending"]
    assert again.used() == book.used() and again.flows == book.flows
    consistent(again)
    assert again.admit(demand(again), now=0.0).id == 3  # ids are never reused
    assert {r.id for r in records} == {1, 2}


def test_expired_saved_requests_are_not_restored(wiring: Wiring, tmp_path: Path) -> None:
    book = make_book(wiring, tmp_path)
    record = book.admit(demand(book, duration_s=5.0), now=0.0)
    book.set_state(record.id, "active")
    book.save()
    again = make_book(wiring, tmp_path)
    assert restore_book(again, now=10.0) == 0 and total(again.used()) == 0.0


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("{not json", ":1: not JSON"),
        (
            '{"version": 1, "next_id": 2, "requests": [{"id": 1}]}',
            ": requests.0.ingress: Field required",
        ),
        ('{"version": 7, "next_id": 1, "requests": []}', ": version: Input should be 1"),
    ],
)
def test_a_corrupt_state_file_is_a_located_error(
    wiring: Wiring, tmp_path: Path, text: str, where: str
) -> None:
    path = tmp_path / "requests.json"
    path.write_text(text)
    book = make_book(wiring, tmp_path)
    with pytest.raises(InputError) as caught:
        book.restore(now=0.0)
    line = caught.value.one_line()
    assert line.startswith(str(path)) and where in line and "\n" not in line
    assert restore_book(book, now=0.0) == 0  # the daemon starts without them
    assert not path.exists() and (tmp_path / "requests.json.bad").read_text() == text


def route(servers: tuple[str, ...], segments: tuple[tuple[str, ...], ...]) -> RequestRoute:
    return RequestRoute(7, (("ipv4_src", "10.0.0.1"),), segments[0][0], servers, segments)


def test_consecutive_vnfs_on_one_server_are_one_hand_over(wiring: Wiring) -> None:
    flows = compile_request(
        route(("pop2", "pop2"), (("pop0", "pop2"), ("pop2",), ("pop2", "pop9"))), wiring
    )
    sf = wiring.sf_ports["pop2"]
    at_pop2 = [f for f in flows if f.dpid == wiring.dpids["pop2"]]
    assert [dict(f.match)["in_port"] for f in at_pop2] == [wiring.ports[("pop2", "pop0")], sf]
    assert [f.actions for f in at_pop2] == [
        (("output", sf),),
        (("output", wiring.ports[("pop2", "pop9")]),),
    ]
    last = flows[-1]
    assert isinstance(last, FlowIntent) and last.goto_table == 1 and last.actions == ()
    assert {f.priority for f in flows} == {REQUEST_PRIORITY}


def test_a_walk_a_flow_table_cannot_tell_apart_is_refused(wiring: Wiring) -> None:
    # pop0 -> pop1 (VNF 1) -> pop0 -> pop2 (VNF 2) -> pop0 -> pop1: enters pop1 from pop0
    # twice, toward its SF port first and on to pop10 later
    segments = (("pop0", "pop1"), ("pop1", "pop0", "pop2"), ("pop2", "pop0", "pop1", "pop10"))
    with pytest.raises(RequestRuleError, match="enters 'pop1' twice"):
        compile_request(route(("pop1", "pop2"), segments), wiring)


async def test_the_simulator_backend_generates_requests_from_the_scenario(wiring: Wiring) -> None:
    book = make_book(wiring)
    desk = Deployments(book, LoggingInstanceManager(), dict)
    settings = DeploymentSettings(scenario=str(SUBSTRATE), generate=True, period_s=0.01)
    generator = RequestGenerator(desk, settings)
    generator.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120.0
        while book.accepted < 10 and loop.time() < deadline:
            await install(desk)  # the decision cycle
            await asyncio.sleep(0.01)
    finally:
        await generator.stop()
    assert book.accepted >= 10
    assert {r.source for r in book.records.values()} == {"generated"}
    consistent(book)


def test_generated_arrivals_go_on_past_a_chunk() -> None:
    from agent.model.deployment import load_deployment
    from agent.southbound.sim_backend import DeploymentArrivals

    arrivals = DeploymentArrivals(load_deployment(SUBSTRATE), seed=3, chunk=20)
    first, second = arrivals.next_chunk(), arrivals.next_chunk()
    times = [t for t, _ in first + second]
    assert len(times) == 40 and times == sorted(times) and second[0][0] >= first[-1][0]
