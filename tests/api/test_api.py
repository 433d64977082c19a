"""Every endpoint through the real aiohttp test client, over a running daemon on the
embedded simulator backend."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent.runtime.cycle import DecisionCycle
from tests.api.conftest import AUTH, TOKEN, Client


def assert_error(body: dict[str, Any], status: int) -> None:
    assert set(body) == {"error"}
    assert body["error"]["status"] == status
    assert body["error"]["code"] and body["error"]["message"]


async def test_live_and_ready(client: Client, daemon: DecisionCycle) -> None:
    assert (await client.get("/livez")).status == 200
    response = await client.get("/readyz")
    assert response.status == 503
    assert "no decision made yet" in (await response.json())["failing"]
    await daemon.cycle()
    while daemon.backend.observation() is None:
        import asyncio

        await asyncio.sleep(0.01)
    await daemon.cycle()
    response = await client.get("/readyz")
    assert response.status == 200 and (await response.json())["ready"] is True


async def test_status_topology_decision_rules(client: Client, daemon: DecisionCycle) -> None:
    assert (await client.get("/decisions/latest")).status == 404
    await daemon.cycle()
    status = await (await client.get("/status")).json()
    assert status["backend"] == "sim" and status["policy"] == "shortest-path"
    assert status["last_decision_at"] is not None
    assert status["installed_rules"]["groups"] == 33
    assert set(status["monitoring_age_s"]) == set(daemon.scenario.network.node_ids)
    topology = await (await client.get("/topology")).json()
    assert len(topology["nodes"]) == 11 and topology["chains"] == {"sfc_1": ["a", "b", "c"]}
    decision = await (await client.get("/decisions/latest")).json()
    assert decision["policy"] == "shortest-path" and decision["schedule"]["pop0"]["sfc_1"]["a"]
    rules = (await (await client.get("/rules")).json())["rules"]
    assert len(rules) == len(daemon.installed) and {r["kind"] for r in rules} == {"flow", "group"}


async def test_recovery_is_empty_while_nothing_failed(
    client: Client, daemon: DecisionCycle
) -> None:
    await daemon.cycle()
    body = await (await client.get("/recovery")).json()
    assert body == {"failed": False, "down_nodes": [], "down_links": [], "plan": None}


async def test_metrics(client: Client, daemon: DecisionCycle) -> None:
    for _ in range(3):
        await daemon.cycle()
    text = await (await client.get("/metrics")).text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    latency = families["agent_decision_latency_seconds"]
    assert latency.type == "histogram"
    samples = {(s.name, s.labels.get("le")): s.value for s in latency.samples}
    assert samples[("agent_decision_latency_seconds_count", None)] == 3
    assert samples[("agent_decision_latency_seconds_bucket", "+Inf")] == 3
    assert families["agent_install_latency_seconds"].type == "histogram"
    assert families["agent_cycles"].type == "counter"
    assert families["agent_cycles"].samples[0].name == "agent_cycles_total"
    assert families["agent_cycles"].samples[0].value == 3
    for name in (
        "agent_install_errors",
        "agent_monitoring_age_seconds",
        "agent_config_errors",
        "agent_config_info",
        "agent_backend_sim_success_ratio",
        "agent_backend_sim_time_seconds",
        "agent_recovery_pending_repairs",
    ):
        assert name in families, name
    assert not [n for n in families if n.endswith("_ms") or n.endswith("_s")]


async def test_writes_need_the_token(client: Client) -> None:
    body = {"override": {"kind": "freeze"}}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = await client.post("/overrides", json=body, headers=headers)
        assert response.status == 401
        assert_error(await response.json(), 401)
    assert (await client.delete("/overrides")).status == 401
    assert (await client.delete("/overrides/1")).status == 401


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("not json", "not JSON"),
        ({"override": {"kind": "teleport"}}, "override"),
        (
            {
                "override": {
                    "kind": "pin",
                    "node": "pop0",
                    "chain": "sfc_1",
                    "sf": "a",
                    "weights": {},
                }
            },
            "weights",
        ),
        (
            {
                "override": {
                    "kind": "pin",
                    "node": "pop99",
                    "chain": "sfc_1",
                    "sf": "a",
                    "weights": {"pop1": 1},
                }
            },
            "unknown node",
        ),
        (
            {
                "override": {
                    "kind": "pin",
                    "node": "pop0",
                    "chain": "sfc_1",
                    "sf": "z",
                    "weights": {"pop1": 1},
                }
            },
            "not in chain",
        ),
        ({"override": {"kind": "policy", "name": "oracle"}}, "unknown policy"),
        ({"override": {"kind": "freeze"}, "extra": 1}, "extra"),
    ],
)
async def test_malformed_bodies_get_400(client: Client, body: object, fragment: str) -> None:
    if isinstance(body, str):
        response = await client.post("/overrides", data=body, headers=AUTH)
    else:
        response = await client.post("/overrides", json=body, headers=AUTH)
    assert response.status == 400
    payload = await response.json()
    assert_error(payload, 400)
    assert fragment.lower() in payload["error"]["message"].lower()


async def test_override_lifecycle(client: Client, daemon: DecisionCycle) -> None:
    pin = {
        "kind": "pin",
        "node": "pop0",
        "chain": "sfc_1",
        "sf": "a",
        "weights": {"pop3": 1, "pop8": 1},
    }
    response = await client.post("/overrides", json={"override": pin}, headers=AUTH)
    assert response.status == 201
    key = (await response.json())["id"]
    await client.post(
        "/overrides", json={"override": {"kind": "policy", "name": "greedy"}}, headers=AUTH
    )
    listing = (await (await client.get("/overrides")).json())["overrides"]
    assert [o["kind"] for o in listing] == ["pin", "policy"]
    record = await daemon.cycle()
    assert record.policy in {"greedy", "shortest-path"}  # greedy unless monitoring is missing
    assert daemon.last_decision is not None
    assert daemon.last_decision.schedule["pop0"]["sfc_1"]["a"] == {"pop3": 0.5, "pop8": 0.5}
    assert (await client.delete(f"/overrides/{key}", headers=AUTH)).status == 200
    assert (await client.delete(f"/overrides/{key}", headers=AUTH)).status == 404
    assert (await client.delete("/overrides/abc", headers=AUTH)).status == 400
    assert (await client.delete("/overrides", headers=AUTH)).status == 200
    assert (await (await client.get("/overrides")).json())["overrides"] == []


async def test_unknown_route_and_method_use_the_error_shape(client: Client) -> None:
    response = await client.get("/nope")
    assert response.status == 404
    assert_error(await response.json(), 404)
    response = await client.put("/status")
    assert response.status == 405
    assert_error(await response.json(), 405)


async def test_openapi_lists_every_route(client: Client) -> None:
    """The document describes exactly the routes the app serves, method by method."""
    spec = await (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    served = {
        (route.resource.canonical, route.method.lower())
        for route in client.app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert documented == served
