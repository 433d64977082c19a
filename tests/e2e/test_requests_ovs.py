"""Deployment requests against real Open vSwitch (userspace datapath) and the os-ken app:
a ring of 4 switches, a source on switch 1, a sink on switch 3, an SF host per switch.
An accepted request's flows appear in ``ovs-ofctl dump-flows`` under its cookie; a
request that cannot fit gets 409 and the flows stay as they were; DELETE removes exactly
its flows; after a daemon restart the request is still there and its flows are back
(here deleted from the switch while the daemon was down, so they must be re-installed).

The daemon runs in a process of its own (``serve``): the daemon's service with the API
app served in its own process over ``RunningDaemon``. Every wait polls for its condition
with a generous deadline; everything started is stopped, and the bridges removed, also
when a test fails."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.rules.requests import request_cookie
from tests.support.ovs_testbed import HostSpec, OvsTestbed, TestbedSpec, Wiring, run
from tests.support.processes import (
    ControllerProcess,
    free_tcp_port,
    log_tail,
    spawn,
    start_controller,
    stop_group,
    wait_until,
)
from tests.support.ring_bed import NAMES, write_ring_scenario

if os.geteuid() != 0:
    pytest.skip("OVS test beds need root (network namespaces, ovs-vsctl)", allow_module_level=True)

TOKEN = "e2e-requests-token-0123"
SUBSTRATE = {
    "name": "ring4-sfc",
    "network": "ring4.graphml",
    "servers": {"cpu": 40, "memory": 40, "threshold": 1.0},
    "links": {"bandwidth": 100, "delay_ms": 1},
    "paths": 2,
    "vnf_types": ["firewall", "nat"],
}
BODY = {
    "ingress": "pop0",
    "egress": "pop2",
    "chain": ["firewall", "nat"],
    "rate": 10.0,
    "latency_bound_ms": 200.0,
    "duration_s": 3600.0,
}


class LocalApi:
    """The API app served from the daemon's own process (``ApiServer``)."""

    def __init__(self) -> None:
        self.address: tuple[str, int] | None = None
        self._runner: Any = None
        self._token: Any = None

    async def start(self, view: Any, token: str | None, listen: str) -> None:
        from aiohttp import web

        from agent.api.app import Token, make_app
        from agent.api.envelope import EnvelopeRunner

        self._token = Token(token)
        self._runner = EnvelopeRunner(make_app(view, self._token), access_log=None)
        await self._runner.setup()
        host, _, port = listen.rpartition(":")
        await web.TCPSite(self._runner, host, int(port)).start()
        self.address = (host, int(port))

    def set_token(self, token: str | None) -> None:
        self._token.value = token

    def changed(self) -> None:
        pass

    async def stop(self) -> None:
        await self._runner.cleanup()


def serve(config: str) -> None:
    """``agent run`` with the API in-process (run by the tests as a process of its own)."""
    from agent.runtime.service import run_service

    run_service(config, None, LocalApi())


class Lab:
    def __init__(self, tmp: Path, controller: ControllerProcess) -> None:
        self.tmp, self.controller = tmp, controller
        self.port = free_tcp_port()
        self.agent: subprocess.Popen[bytes] | None = None
        hosts = (HostSpec("src1", 1, ("10.0.0.1",)), HostSpec("snk1", 3, ("10.0.0.100",), "sink"))
        self.bed = OvsTestbed(TestbedSpec(4, "ring", hosts), controller.of_port)
        self.wiring: Wiring
        self.starts = 0

    def write_config(self) -> Path:
        write_ring_scenario(self.tmp, self.wiring)
        (self.tmp / "substrate.yaml").write_text(yaml.safe_dump(SUBSTRATE))
        (self.tmp / "token").write_text(TOKEN)
        (self.tmp / "state").mkdir(exist_ok=True)
        config = {
            "backend": "controller",
            "scenario": "scenario.yaml",
            "decision_interval": 0.3,
            "state_dir": "state",
            "controller": {"connect": self.controller.address, "wiring": "wiring.yaml"},
            "api": {"listen": f"127.0.0.1:{self.port}", "token_file": "token"},
            "log": {"format": "json"},
            "deployment": {"scenario": "substrate.yaml", "install_timeout_s": 60.0},
        }
        path = self.tmp / "agent.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    def start_agent(self) -> None:
        self.starts += 1
        code = f"from tests.e2e.test_requests_ovs import serve; serve({str(self.write_config())!r})"
        self.agent = spawn([sys.executable, "-c", code], self.tmp / f"agent-{self.starts}.log")
        self.wait(lambda: self.call("GET", "/readyz")[0] == 200, "the agent to turn ready")

    def stop_agent(self) -> None:
        if self.agent is not None:
            stop_group(self.agent, timeout=30)
            self.agent = None

    def wait(self, probe: Callable[[], Any], what: str) -> Any:
        try:
            return wait_until(probe, what)
        except TimeoutError as exc:
            tail = log_tail(self.tmp / f"agent-{self.starts}.log")
            raise TimeoutError(f"{exc}; the agent's log ends:\n{tail}") from None

    def call(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=90) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")
        except (OSError, ValueError):
            return 0, None

    def flows(self, cookie: int | None = None) -> dict[int, set[str]]:
        """Per switch, the flows of one request (``cookie``) or all of ours, without
        their counters and ages."""
        wanted = (
            f"cookie={cookie:#x}/-1"
            if cookie is not None
            else "cookie=0x5dc0000000000000/0xffff000000000000"
        )
        out = {}
        for switch in NAMES:
            text = self.bed.ofctl(switch, "dump-flows", wanted)
            lines = [line for line in text.splitlines() if "cookie=" in line]
            out[switch] = {
                re.sub(
                    r"duration=[^,]*, |n_packets=\d+, n_bytes=\d+, |idle_age=\d+, ", "", line
                ).strip()
                for line in lines
            }
        return out


@pytest.fixture(scope="module")
def lab(ovs: Callable[[], None], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    ovs()
    tmp = tmp_path_factory.mktemp("e2e-requests")
    with contextlib.ExitStack() as stack:
        (tmp / "ctl").mkdir()
        controller = start_controller(tmp / "ctl", poll_interval=0.5)
        stack.callback(controller.stop)
        lab = Lab(tmp, controller)
        stack.callback(lab.bed.teardown)
        lab.wiring = lab.bed.build()
        want = sorted(sw.dpid for sw in lab.wiring.switches)
        lab.wait(lambda: controller.datapaths() == want, "all switches at the controller")
        stack.callback(lab.stop_agent)
        lab.start_agent()
        yield lab


def count(flows: dict[int, set[str]]) -> int:
    return sum(len(lines) for lines in flows.values())


def test_an_accepted_request_has_its_flows_on_the_switches(lab: Lab) -> None:
    status, record = lab.call("POST", "/requests", BODY)
    assert status == 201, record
    mine = lab.flows(request_cookie(record["id"]))
    assert count(mine) >= 3, mine  # entry, SF hand-overs, on to the egress
    assert all("nw_src=100.64.0.1" in line for lines in mine.values() for line in lines)
    assert any("goto_table:1" in line for line in mine[3])  # pop2 is the egress
    servers = {NAMES_BY_NODE[node] for node in record["servers"]}
    sf = {switch: lab.wiring.switch(switch).sf_port for switch in servers}
    for switch, port in sf.items():
        assert any(f"actions=output:{port}" in line for line in mine[switch]), mine[switch]


def test_a_request_that_cannot_fit_is_409_and_flows_stay(lab: Lab) -> None:
    before = lab.flows()
    status, body = lab.call(
        "POST", "/requests", {**BODY, "cpu": 500.0, "match": {"ipv4_src": "10.0.0.1"}}
    )
    assert status == 409 and body["error"]["code"] == "infeasible", body
    status, listing = lab.call("GET", "/requests")
    assert status == 200 and listing["total"] == 1
    lab.wait(lambda: settled(lab), "a cycle after the refusal")
    assert lab.flows() == before


def test_delete_removes_exactly_its_flows(lab: Lab) -> None:
    status, second = lab.call(
        "POST", "/requests", {**BODY, "match": {"ipv4_src": "10.0.0.1", "ipv4_dst": "10.0.0.100"}}
    )
    assert status == 201, second
    before = lab.flows()
    gone = lab.flows(request_cookie(second["id"]))
    assert count(gone) > 0
    status, body = lab.call("DELETE", f"/requests/{second['id']}")
    assert status == 200 and body["state"] == "removed", body
    after = lab.flows()
    assert count(lab.flows(request_cookie(second["id"]))) == 0
    assert after == {s: before[s] - gone[s] for s in before}  # nothing else changed


def test_expiry_removes_exactly_its_flows(lab: Lab) -> None:
    before = lab.flows()
    match = {"ipv4_src": "10.0.0.2", "ipv4_dst": "10.0.0.100"}
    status, brief = lab.call("POST", "/requests", {**BODY, "duration_s": 15.0, "match": match})
    assert status == 201, brief
    cookie = request_cookie(brief["id"])
    lab.wait(lambda: count(lab.flows(cookie)) > 0, "its flows installed before it expires")
    lab.wait(lambda: lab.call("GET", f"/requests/{brief['id']}")[0] == 404, "its expiry")
    lab.wait(lambda: lab.flows() == before, "its flows gone, the others as they were")
    assert count(lab.flows(cookie)) == 0


def test_a_restart_keeps_the_request_and_its_flows(lab: Lab) -> None:
    status, listing = lab.call("GET", "/requests")
    (record,) = listing["requests"]
    cookie = request_cookie(record["id"])
    wanted = lab.flows(cookie)
    lab.stop_agent()
    for switch in NAMES:  # lost while the daemon was down
        run(
            "ovs-ofctl",
            "-O",
            "OpenFlow13",
            "del-flows",
            lab.wiring.switch(switch).bridge,
            f"cookie={cookie:#x}/-1",
        )
    assert count(lab.flows(cookie)) == 0
    lab.start_agent()
    status, again = lab.call("GET", f"/requests/{record['id']}")
    assert status == 200 and again["servers"] == record["servers"] and again["state"] == "active"
    lab.wait(lambda: lab.flows(cookie) == wanted, "the request's flows back")


def settled(lab: Lab) -> bool:
    status = lab.call("GET", "/status")[1] or {}
    cycle = status.get("last_cycle") or {}
    return cycle.get("changes") == 0 and cycle.get("install_ok") is True


NAMES_BY_NODE = {node: switch for switch, node in NAMES.items()}
