"""Input the API must refuse or survive: weights that are not numbers, deep JSON, bodies
in pieces, too many overrides, a policy for another network, requests aiohttp refuses
before any handler runs (served by the real threaded server)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agent.api.server import ApiProcess
from agent.runtime.cycle import DecisionCycle
from agent.runtime.overrides import MAX_OVERRIDES
from agent.runtime.view import RunningDaemon
from tests.api.conftest import AUTH, TOKEN, Client

PIN = {"kind": "pin", "node": "pop0", "chain": "sfc_1", "sf": "a", "weights": {"pop3": 1}}


async def post(client: Client, body: object) -> tuple[int, Any]:
    response = await client.post("/overrides", json=body, headers=AUTH)
    return response.status, await response.json()


@pytest.mark.parametrize("weight", ["1.0", True, None, [1]])
async def test_weights_must_be_numbers(client: Client, weight: object) -> None:
    status, body = await post(client, {"override": {**PIN, "weights": {"pop3": weight}}})
    assert status == 400 and "weights" in body["error"]["message"]


async def test_json_nested_deeply_is_400(client: Client) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    response = await client.post("/overrides", data=deep, headers=AUTH)
    assert response.status == 400
    assert "nested too deeply" in (await response.json())["error"]["message"]


async def test_a_body_arriving_in_pieces_is_read_whole(client: Client) -> None:
    text = '{"override": {"kind": "freeze"}}'

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(text), 5):
            yield text[i : i + 5].encode()
            await asyncio.sleep(0.01)

    response = await client.post("/overrides", data=pieces(), headers=AUTH)
    assert response.status == 201, await response.text()


async def test_overrides_are_bounded(client: Client) -> None:
    for _ in range(MAX_OVERRIDES):
        assert (await post(client, {"override": PIN}))[0] == 201
    status, body = await post(client, {"override": PIN})
    assert status == 409 and body["error"]["code"] == "too_many_overrides"


async def test_a_policy_for_another_network_is_refused_at_once(client: Client) -> None:
    status, body = await post(
        client, {"override": {"kind": "policy", "name": "abilene-in1-rand-cap0-2"}}
    )
    assert status == 400, body
    listing = (await (await client.get("/overrides")).json())["overrides"]
    assert listing == []


async def test_the_api_process_answers_protocol_errors_in_the_error_shape(
    daemon: DecisionCycle,
) -> None:
    server = ApiProcess()
    await server.start(RunningDaemon(daemon, "test"), TOKEN, "127.0.0.1:0")
    try:
        assert server.address is not None
        host, port = server.address
        for raw in (b"NOT A REQUEST LINE\r\n\r\n", b"GET / HTTP/1.1\r\nX: " + b"a" * 20000):
            reply = await asyncio.to_thread(exchange, host, port, raw)
            head, _, body = reply.partition(b"\r\n\r\n")
            assert head.split(b" ")[1].startswith(b"4"), reply[:200]
            assert b"application/json" in head and body.startswith(b'{"error": {"status": 4')
        # and an ordinary request, answered by the API's own process
        reply = await asyncio.to_thread(
            exchange, host, port, b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert reply.startswith(b"HTTP/1.1 200") and b'"ok"' in reply
    finally:
        await server.stop()


def exchange(host: str, port: int, raw: bytes) -> bytes:
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


async def test_rules_and_decisions_filter(client: Client, daemon: DecisionCycle) -> None:
    await daemon.cycle()
    everything = (await (await client.get("/rules")).json())["rules"]
    dpid = everything[0]["dpid"]
    response = await client.get(f"/rules?switch={dpid}&kind=group")
    body = await response.json()
    assert response.status == 200 and body["total"] == len(body["rules"]) > 0
    assert {(r["dpid"], r["kind"]) for r in body["rules"]} == {(dpid, "group")}
    expected = [r for r in everything if r["dpid"] == dpid and r["kind"] == "group"]
    assert body["rules"] == expected
    page = await (await client.get(f"/rules?switch={dpid}&offset=1&limit=2")).json()
    on_switch = [r for r in everything if r["dpid"] == dpid]
    assert page["rules"] == on_switch[1:3] and page["total"] == len(on_switch)
    cookie = everything[-1].get("cookie") or next(r["cookie"] for r in everything if "cookie" in r)
    by_cookie = await (await client.get(f"/rules?cookie={hex(cookie)}")).json()
    assert by_cookie["total"] >= 1 and all(r["cookie"] == cookie for r in by_cookie["rules"])
    for bad in ("switch=x", "limit=0", "kind=bucket", "colour=red", "table=-1"):
        response = await client.get(f"/rules?{bad}")
        assert response.status == 400, bad
        assert (await response.json())["error"]["code"] == "invalid_query"
    narrowed = await (await client.get("/decisions/latest?node=pop0&chain=sfc_1&sf=a")).json()
    assert list(narrowed["schedule"]) == ["pop0"]
    assert list(narrowed["schedule"]["pop0"]["sfc_1"]) == ["a"]
    assert (await client.get("/decisions/latest?nod=pop0")).status == 400
