"""Deployment requests through `agent run` as a process: the API runs in its own process
and reaches the daemon's requests over the call channel; an accepted request survives a
restart (the state directory), and DELETE releases it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.cli.test_run import Agent, get
from tests.conftest import ROOT

TOKEN = "requests-token-0123456789"
BODY = {
    "ingress": "pop1",
    "egress": "pop5",
    "chain": ["firewall", "nat"],
    "rate": 10,
    "latency_bound_ms": 150,
    "duration_s": 600,
}


def send(port: int, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def configuration(tmp: Path) -> Path:
    token = tmp / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    config = yaml.safe_load((ROOT / "systemd/agent-deployment.yaml").read_text())
    config["scenario"] = str(ROOT / "topologies/scenarios/abilene-in3.yaml")
    config["deployment"]["scenario"] = str(ROOT / "topologies/deployment/abilene10-small.yaml")
    config["deployment"]["generate"] = False
    config["api"]["token_file"] = str(token)
    config["state_dir"] = str(tmp / "state")
    config["decision_interval"] = 0.3
    path = tmp / "agent.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_request_is_accepted_kept_across_a_restart_and_deleted(tmp_path: Path) -> None:
    path = configuration(tmp_path)
    agent = Agent(tmp_path, path)
    try:
        agent.wait_for("READY=1")
        status, accepted = send(agent.port, "POST", "/requests", BODY)
        assert status == 201 and accepted["state"] == "active", accepted
        assert [p["vnf"] for p in accepted["placement"]] == ["firewall", "nat"]
        status, refused = send(agent.port, "POST", "/requests", {**BODY, "cpu": 5000})
        assert status == 409 and refused["error"]["code"] == "infeasible", refused
        assert get(agent.port, "/status")[1]["deployments"]["active"] == 1
    finally:
        assert agent.stop() == 0
    agent = Agent(tmp_path, path)
    try:
        agent.wait_for("READY=1")
        status, kept = get(agent.port, f"/requests/{accepted['id']}")
        assert status == 200 and kept["state"] == "active" and kept["path"] == accepted["path"]
        status, removed = send(agent.port, "DELETE", f"/requests/{accepted['id']}")
        assert status in (200, 202), removed
        listing = get(agent.port, "/requests?state=active")[1]
        assert listing["requests"] == []
    finally:
        assert agent.stop() == 0
