"""`agent run --backend controller` against real Open vSwitch (userspace datapath) and
the os-ken app: a ring of 4 switches, three sources, one sink, an SF reflector per
switch. Groups carry the decision's weights, traffic crosses the chain, a new decision
modifies groups and leaves flows alone, the daemon reconciles after a controller
restart and after a bridge is re-created, and a batch the switch refuses leaves the
previous rules in place and shows in /status and /metrics."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.rules.compiler import group_id
from tests.conftest import DEEPCOORD
from tests.controllers.conftest import ControllerProcess, start_controller
from tests.support.ovs_testbed import HostSpec, OvsTestbed, TestbedSpec, ensure_ovs, run, wait_for

if os.geteuid() != 0:
    pytest.skip("OVS test beds need root (network namespaces, ovs-vsctl)", allow_module_level=True)

AGENT = str(Path(sys.executable).with_name("agent"))
TOKEN = "e2e-token-0123456789"
NAMES = {1: "pop0", 2: "pop1", 3: "pop2", 4: "pop3"}
SINK = "10.0.0.100"
RING = """<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key attr.name="NodeCap" attr.type="long" for="node" id="c"/>
  <key attr.name="NodeType" attr.type="string" for="node" id="t"/>
  <key attr.name="LinkFwdCap" attr.type="long" for="edge" id="l"/>
  <key attr.name="LinkDelay" attr.type="long" for="edge" id="d"/>
  <graph edgedefault="undirected">
    <node id="0"><data key="c">0</data><data key="t">Ingress</data></node>
    <node id="1"><data key="c">2</data><data key="t">Normal</data></node>
    <node id="2"><data key="c">2</data><data key="t">Normal</data></node>
    <node id="3"><data key="c">2</data><data key="t">Normal</data></node>
    <edge source="0" target="1"><data key="l">1000</data><data key="d">1</data></edge>
    <edge source="1" target="2"><data key="l">1000</data><data key="d">1</data></edge>
    <edge source="2" target="3"><data key="l">1000</data><data key="d">1</data></edge>
    <edge source="3" target="0"><data key="l">1000</data><data key="d">1</data></edge>
  </graph>
</graphml>
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Lab:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        (tmp / "ctl").mkdir(exist_ok=True)
        self.controller: ControllerProcess = start_controller(tmp / "ctl", poll_interval=0.5)
        hosts = (
            HostSpec("src1", 1, ("10.0.0.1",)),
            HostSpec("src2", 1, ("10.0.0.2",)),
            HostSpec("src3", 1, ("10.0.0.3",)),
            HostSpec("snk1", 3, (SINK,), "sink"),
        )
        self.bed = OvsTestbed(
            TestbedSpec(switches=4, topology="ring", hosts=hosts), self.controller.of_port
        )
        self.wiring = self.bed.build()
        self.port = free_port()
        self.agent: subprocess.Popen[bytes] | None = None

    def write_config(self) -> Path:
        (self.tmp / "ring4.graphml").write_text(RING)
        (self.tmp / "wiring.yaml").write_text(yaml.safe_dump(self.wiring.as_wiring_file(NAMES)))
        (self.tmp / "token").write_text(TOKEN)
        scenario = {
            "network": "ring4.graphml",
            "service": str(DEEPCOORD / "service_functions/ab.yaml"),
            "traffic": str(
                DEEPCOORD / "config/simulator/rand-arrival10_det-size001_duration100.yaml"
            ),
        }
        (self.tmp / "scenario.yaml").write_text(yaml.safe_dump(scenario))
        config = {
            "backend": "controller",
            "scenario": "scenario.yaml",
            "decision_interval": 0.3,
            "controller": {"connect": self.controller.address, "wiring": "wiring.yaml"},
            "api": {"listen": f"127.0.0.1:{self.port}", "token_file": "token"},
            "log": {"format": "json"},
        }
        path = self.tmp / "agent.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    def start_agent(self) -> None:
        log = (self.tmp / "agent.log").open("ab")
        self.agent = subprocess.Popen(
            [AGENT, "run", "--config", str(self.write_config())], stdout=log, stderr=log
        )
        wait_for(lambda: self.get("/readyz")[0] == 200, 30, "the agent to turn ready")

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                body = r.read()
                return r.status, json.loads(body) if path != "/metrics" else body.decode()
        except (urllib.error.URLError, ConnectionError) as exc:
            if isinstance(exc, urllib.error.HTTPError):
                return exc.code, json.loads(exc.read())
            return 0, None

    def post_override(self, override: dict[str, Any]) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/overrides",
            data=json.dumps({"override": override}).encode(),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(json.loads(response.read())["id"])

    def clear_overrides(self) -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/overrides",
            headers={"Authorization": f"Bearer {TOKEN}"},
            method="DELETE",
        )
        urllib.request.urlopen(request, timeout=5).close()

    def split_first_sf(self, weights: dict[str, int], expect: list[int]) -> None:
        """Pin pop0's schedule for SF a (only this override) and wait for the group."""
        self.clear_overrides()
        pin = {"kind": "pin", "node": "pop0", "chain": "sfc_1", "sf": "a", "weights": weights}
        self.post_override(pin)
        wait_for(lambda: self.weights(1, 0) == expect, 10, f"weights {expect} on switch 1")
        # the switch changes while the cycle still verifies; the decision is recorded after
        wait_for(lambda: self.pinned_a() == set(weights), 5, "the pinned decision")

    def pinned_a(self) -> set[str] | None:
        decision = self.get("/decisions/latest")[1]
        return set(decision["schedule"]["pop0"]["sfc_1"]["a"]) if decision else None

    def weights(self, switch: int, position: int) -> list[int]:
        """Sorted bucket weight per destination (the MPLS label pushed) of our group
        (chain 0, SF position) on a switch."""
        text = self.bed.ofctl(switch, "dump-groups")
        for line in text.splitlines():
            if f"group_id={group_id(0, position)}," in line:
                per: dict[str, int] = {}
                for bucket in line.split("bucket=")[1:]:
                    weight = re.search(r"weight:(\d+)", bucket)
                    dst = re.search(r"set_field:(\w+)->mpls_label", bucket)
                    key = dst.group(1) if dst else bucket
                    per[key] = per.get(key, 0) + (int(weight.group(1)) if weight else 1)
                return sorted(per.values())
        return []

    def our_flows(self, switch: int) -> list[str]:
        text = self.bed.ofctl(switch, "dump-flows", "cookie=0x5dc0000000000000/0xffff000000000000")
        return [line for line in text.splitlines() if "cookie=" in line]

    def stop(self) -> None:
        if self.agent is not None and self.agent.poll() is None:
            self.agent.send_signal(signal.SIGTERM)
            self.agent.wait(timeout=15)
        self.bed.teardown()
        self.controller.stop()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    ensure_ovs()
    lab = Lab(tmp_path_factory.mktemp("e2e"))
    try:
        lab.start_agent()
        yield lab
    finally:
        lab.stop()


def test_groups_carry_the_decision_weights(lab: Lab) -> None:
    lab.split_first_sf({"pop1": 7, "pop3": 3}, expect=[38, 90])
    decision = lab.get("/decisions/latest")[1]
    assert decision["schedule"]["pop0"]["sfc_1"]["a"] == {"pop1": 0.7, "pop3": 0.3}


def test_traffic_from_several_sources_crosses_the_chain(lab: Lab) -> None:
    lab.split_first_sf({"pop1": 1, "pop3": 1}, expect=[64, 64])
    for host in ("src1", "src2", "src3"):
        out = lab.bed.in_host(host, "ping", "-c", "5", "-i", "0.05", "-W", "1", SINK, check=False)
        assert re.search(r" ([1-5]) received", out), f"{host}: {out}"
    time.sleep(1.5)  # OVS counters lag
    decision = lab.get("/decisions/latest")[1]
    placed_b = [node for node, sfs in decision["placement"].items() if "b" in sfs]
    counted: dict[str, int] = {}
    for number, node in NAMES.items():
        flows = [f for f in lab.our_flows(number) if "priority=200" in f]
        counted[node] = sum(int(n) for f in flows for n in re.findall(r"n_packets=(\d+)", f))
    # packets were handed to SF instances for a (pop1 and pop3 share it) and for b
    assert counted["pop1"] + counted["pop3"] > 0, counted
    assert sum(counted[node] for node in placed_b) > 0, (counted, placed_b)


def test_new_weights_modify_groups_and_keep_flows(lab: Lab) -> None:
    lab.split_first_sf({"pop1": 1, "pop3": 1}, expect=[64, 64])
    before = {
        re.sub(r"duration=[^,]*, |n_packets=\d+, n_bytes=\d+, ", "", f) for f in lab.our_flows(1)
    }
    durations = [float(m) for m in re.findall(r"duration=([\d.]+)s", "\n".join(lab.our_flows(1)))]
    lab.split_first_sf({"pop1": 9, "pop3": 1}, expect=[13, 115])
    after_flows = lab.our_flows(1)
    after = {re.sub(r"duration=[^,]*, |n_packets=\d+, n_bytes=\d+, ", "", f) for f in after_flows}
    assert after == before  # same flows, same actions
    later = [float(m) for m in re.findall(r"duration=([\d.]+)s", "\n".join(after_flows))]
    assert min(later) >= min(durations)  # not deleted and re-added


def test_controller_restart_is_followed_by_reconciliation(lab: Lab) -> None:
    wanted = len(lab.our_flows(2))
    assert wanted > 0
    reconciled = lab.get("/status")[1]["counters"]["reconciliations"]
    address, of_port = lab.controller.address, lab.controller.of_port
    lab.controller.stop()
    run("ovs-ofctl", "-O", "OpenFlow13", "del-flows", lab.wiring.switch(2).bridge)  # lost meanwhile
    assert lab.our_flows(2) == []
    started = time.monotonic()
    lab.controller = restart_controller(lab, address, of_port)
    wait_for(lambda: len(lab.our_flows(2)) == wanted, 10, "switch 2's rules back")
    elapsed = time.monotonic() - started
    print(f"reconciled after controller restart in {elapsed:.2f} s")
    assert elapsed < 5.0
    # the switch's reconnection triggers a reconciliation, counted when its cycle ends
    wait_for(
        lambda: lab.get("/status")[1]["counters"]["reconciliations"] > reconciled,
        3,
        "the reconciliation counted",
    )


def test_recreated_bridge_is_reconciled(lab: Lab) -> None:
    wanted = len(lab.our_flows(3))
    groups = lab.weights(3, 1)
    reconciled = lab.get("/status")[1]["counters"]["reconciliations"]
    lab.bed.delete_bridge(3)
    wait_for(
        lambda: lab.get("/status")[1]["backend_stats"]["switches_connected"] != 4,
        5,
        "switch 3 down",
    )
    started = time.monotonic()
    lab.bed.add_bridge(3)
    wait_for(
        lambda: len(lab.our_flows(3)) == wanted and lab.weights(3, 1) == groups,
        10,
        "switch 3's rules back",
    )
    elapsed = time.monotonic() - started
    print(f"reconciled after bridge re-creation in {elapsed:.2f} s")
    assert elapsed < 5.0
    # the switch's reconnection triggers a reconciliation, counted when its cycle ends
    wait_for(
        lambda: lab.get("/status")[1]["counters"]["reconciliations"] > reconciled,
        3,
        "the reconciliation counted",
    )


def test_rejected_batch_keeps_the_previous_rules(lab: Lab) -> None:
    lab.clear_overrides()
    time.sleep(1.0)
    bridge = lab.wiring.switch(4).bridge  # pop3
    count = len(
        [
            line
            for line in lab.bed.ofctl(4, "dump-flows", "table=0").splitlines()
            if "cookie=" in line
        ]
    )
    before = {n: lab.weights(n, 1) for n in NAMES}
    errors_before = lab.get("/status")[1]["counters"]["install_errors"]
    limit = ["create", "Flow_Table", f"flow_limit={count}", "overflow_policy=refuse"]
    run("ovs-vsctl", "--", "--id=@ft", *limit, "--", "set", "Bridge", bridge, "flow_tables:0=@ft")
    try:
        # b at pop3 needs a new delivery flow there, which the full table refuses
        lab.post_override(
            {"kind": "pin", "node": "pop1", "chain": "sfc_1", "sf": "b", "weights": {"pop3": 1}}
        )
        wait_for(
            lambda: lab.get("/status")[1]["counters"]["install_errors"] > errors_before,
            10,
            "the install error",
        )
        status = lab.get("/status")[1]
        assert status["last_install_error"]
        assert status["installed_rules"]["flows"] > 0
        metrics = lab.get("/metrics")[1]
        assert re.search(r"^agent_install_errors_total [1-9]", metrics, re.M), metrics
        time.sleep(1.0)
        assert {n: lab.weights(n, 1) for n in NAMES} == before  # groups restored
    finally:
        run("ovs-vsctl", "clear", "Bridge", bridge, "flow_tables")
        lab.clear_overrides()


def restart_controller(lab: Lab, address: str, of_port: int) -> ControllerProcess:
    sock = Path(address.removeprefix("unix:"))
    log = lab.tmp / "ctl" / "controller-2.log"
    cmd = [sys.executable, "-m", "controllers", "--listen", address, "--of-port", str(of_port),
           "--of-host", "127.0.0.1", "--poll-interval", "0.5"]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=Path(__file__).resolve().parents[2], stdout=out, stderr=subprocess.STDOUT
        )
    wait_for(lambda: sock.exists(), 15, "the controller socket")
    return ControllerProcess(proc, address, of_port, log)
