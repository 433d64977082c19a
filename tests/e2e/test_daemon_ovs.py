"""`agent run --backend controller` against real Open vSwitch (userspace datapath) and
the os-ken app: a ring of 4 switches, three sources, one sink, an SF reflector per
switch. Groups carry the decision's weights, traffic crosses the chain, a new decision
modifies groups and leaves flows alone, the daemon reconciles after a controller
restart and after a bridge is re-created, and a batch the switch refuses leaves the
previous rules in place and shows in /status and /metrics.

Every wait polls for its condition with a deadline generous enough for a busy 2-core
machine; reconciliation times are printed (``-s``), not asserted."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from agent.rules.compiler import group_id
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

AGENT = str(Path(sys.executable).with_name("agent"))
TOKEN = "e2e-token-0123456789"
SINK = "10.0.0.100"
T = TypeVar("T")


class Lab:
    """The controller, the test bed (4 switches, 3 sources, a sink) and ``agent run``.
    ``Lab.start`` registers each part's removal on ``stack`` as soon as it exists."""

    def __init__(self, tmp: Path, controller: ControllerProcess) -> None:
        self.tmp = tmp
        self.controller = controller  # replaced when a test restarts it
        self.port = free_tcp_port()
        self.agent: subprocess.Popen[bytes] | None = None
        hosts = (
            HostSpec("src1", 1, ("10.0.0.1",)),
            HostSpec("src2", 1, ("10.0.0.2",)),
            HostSpec("src3", 1, ("10.0.0.3",)),
            HostSpec("snk1", 3, (SINK,), "sink"),
        )
        self.bed = OvsTestbed(TestbedSpec(4, "ring", hosts), controller.of_port)
        self.wiring: Wiring

    @classmethod
    def start(cls, tmp: Path, stack: contextlib.ExitStack) -> Lab:
        (tmp / "ctl").mkdir()
        first = start_controller(tmp / "ctl", poll_interval=0.5)
        stack.callback(first.stop)
        lab = cls(tmp, first)
        stack.callback(lambda: lab.controller.stop())  # the one a test restarted, if any
        stack.callback(lab.bed.teardown)
        lab.wiring = lab.bed.build()
        want = sorted(sw.dpid for sw in lab.wiring.switches)
        lab.wait(lambda: lab.controller.datapaths() == want, "all switches at the controller")
        stack.callback(lab.stop_agent)
        lab.start_agent()
        return lab

    def wait(self, probe: Callable[[], T | None], what: str) -> T:
        """``wait_until``; a timeout says what the agent logged last."""
        try:
            return wait_until(probe, what)
        except TimeoutError as exc:
            tail = log_tail(self.tmp / "agent.log")
            raise TimeoutError(f"{exc}; the agent's log ends:\n{tail}") from None

    def write_config(self) -> Path:
        write_ring_scenario(self.tmp, self.wiring)
        (self.tmp / "token").write_text(TOKEN)
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
        self.agent = spawn([AGENT, "run", "--config", str(self.write_config())],
                           self.tmp / "agent.log")  # fmt: skip
        self.wait(lambda: self.get("/readyz")[0] == 200, "the agent to turn ready")

    def stop_agent(self) -> None:
        if self.agent is not None:
            stop_group(self.agent, timeout=30)

    def get(self, path: str) -> tuple[int, Any]:
        """Status and body (JSON, or text for /metrics); (0, None) if no answer came."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as r:
                body = r.read()
                return r.status, json.loads(body) if path != "/metrics" else body.decode()
        except urllib.error.HTTPError as exc:
            return exc.code, None
        except (OSError, ValueError):  # refused, reset, timed out, cut short
            return 0, None

    def status(self) -> dict[str, Any]:
        """/status, waiting out a moment when the agent is too busy to answer."""
        return self.wait(lambda: self.get("/status")[1], "an answer from /status")

    def counter(self, name: str) -> int:
        return int(self.status()["counters"][name])

    def switches_connected(self) -> int:
        return int(self.status()["backend_stats"]["switches_connected"])

    def request(self, method: str, data: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/overrides",
            data=json.dumps(data).encode() if data is not None else None,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            method=method,
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def post_override(self, override: dict[str, Any]) -> int:
        return int(self.request("POST", {"override": override})["id"])

    def clear_overrides(self) -> None:
        self.request("DELETE")

    def settled_since(self, moment: float) -> bool:
        """A cycle that began after ``moment`` found the rules as wanted: none to change."""
        status = self.get("/status")[1] or {}
        cycle = status.get("last_cycle") or {}
        after = (status.get("last_decision_at") or 0.0) > moment
        return after and cycle.get("changes") == 0 and cycle.get("install_ok") is True

    def split_first_sf(self, weights: dict[str, int], expect: list[int]) -> None:
        """Pin pop0's schedule for SF a (only this override) and wait for the group."""
        self.clear_overrides()
        pin = {"kind": "pin", "node": "pop0", "chain": "sfc_1", "sf": "a", "weights": weights}
        self.post_override(pin)
        self.wait(lambda: self.weights(1, 0) == expect, f"weights {expect} on switch 1")
        # the switch changes while the cycle still verifies; the decision is recorded after
        self.wait(lambda: self.pinned_a() == set(weights), "the pinned decision")

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


@pytest.fixture(scope="module")
def lab(ovs: Callable[[], None], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Everything the module's tests share; stopped and removed after the last one,
    whatever happened in them (agent, test bed, controller: in that order)."""
    ovs()
    with contextlib.ExitStack() as stack:
        yield Lab.start(tmp_path_factory.mktemp("e2e"), stack)


def test_groups_carry_the_decision_weights(lab: Lab) -> None:
    lab.split_first_sf({"pop1": 7, "pop3": 3}, expect=[38, 90])
    decision = lab.get("/decisions/latest")[1]
    assert decision["schedule"]["pop0"]["sfc_1"]["a"] == {"pop1": 0.7, "pop3": 0.3}


def test_traffic_from_several_sources_crosses_the_chain(lab: Lab) -> None:
    lab.split_first_sf({"pop1": 1, "pop3": 1}, expect=[64, 64])
    for host in ("src1", "src2", "src3"):
        out = lab.bed.in_host(host, "ping", "-c", "5", "-i", "0.05", "-W", "5", SINK, check=False)
        assert re.search(r" ([1-5]) received", out), f"{host}: {out}"
    seen: list[object] = []

    def handed_to_sfs() -> bool:
        """Packets were handed to SF instances for a (pop1 and pop3 share it) and for b
        (OVS counters lag about a second)."""
        decision = lab.get("/decisions/latest")[1] or {"placement": {}}
        placed_b = [node for node, sfs in decision["placement"].items() if "b" in sfs]
        counted: dict[str, int] = {}
        for number, node in NAMES.items():
            flows = [f for f in lab.our_flows(number) if "priority=200" in f]
            counted[node] = sum(int(n) for f in flows for n in re.findall(r"n_packets=(\d+)", f))
        seen[:] = [counted, placed_b]
        return counted["pop1"] + counted["pop3"] > 0 and sum(counted[n] for n in placed_b) > 0

    lab.wait(handed_to_sfs, f"SF delivery counters (seen: packets per node, b at: {seen})")


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
    reconciled = lab.counter("reconciliations")
    address, of_port = lab.controller.address, lab.controller.of_port
    lab.controller.stop()
    try:
        run("ovs-ofctl", "-O", "OpenFlow13", "del-flows", lab.wiring.switch(2).bridge)  # lost
        assert lab.our_flows(2) == []
    finally:  # the next tests need a controller, whatever happened here
        started = time.monotonic()
        lab.controller = start_controller(lab.tmp / "ctl", 0.5, address, of_port, "ctl-2.log")
    lab.wait(lambda: len(lab.our_flows(2)) == wanted, "switch 2's rules back")
    print(f"reconciled after controller restart in {time.monotonic() - started:.2f} s")
    # the switch's reconnection triggers a reconciliation, counted when its cycle ends
    lab.wait(lambda: lab.counter("reconciliations") > reconciled, "the reconciliation counted")


def test_recreated_bridge_is_reconciled(lab: Lab) -> None:
    wanted = len(lab.our_flows(3))
    groups = lab.weights(3, 1)
    reconciled = lab.counter("reconciliations")
    lab.bed.delete_bridge(3)
    try:
        lab.wait(lambda: lab.switches_connected() < 4, "switch 3 down at the agent")
    finally:
        started = time.monotonic()
        lab.bed.add_bridge(3)
    lab.wait(
        lambda: len(lab.our_flows(3)) == wanted and lab.weights(3, 1) == groups,
        "switch 3's rules back",
    )
    print(f"reconciled after bridge re-creation in {time.monotonic() - started:.2f} s")
    # the switch's reconnection triggers a reconciliation, counted when its cycle ends
    lab.wait(lambda: lab.counter("reconciliations") > reconciled, "the reconciliation counted")


def test_rejected_batch_keeps_the_previous_rules(lab: Lab) -> None:
    cleared = time.time()
    lab.clear_overrides()
    lab.wait(lambda: lab.settled_since(cleared), "the rules without overrides installed")
    switch = lab.wiring.switch(4)  # pop3
    flows = lab.bed.ofctl(4, "dump-flows", "table=0").splitlines()
    count = len([line for line in flows if "cookie=" in line])
    before = {n: lab.weights(n, 1) for n in NAMES}
    errors_before = lab.counter("install_errors")
    limit = ["create", "Flow_Table", f"flow_limit={count}", "overflow_policy=refuse"]
    run("ovs-vsctl", "--", "--id=@ft", *limit, "--", "set", "Bridge", switch.bridge,
        "flow_tables:0=@ft")  # fmt: skip
    try:
        # b at pop3 needs a new delivery flow there, which the full table refuses
        lab.post_override(
            {"kind": "pin", "node": "pop1", "chain": "sfc_1", "sf": "b", "weights": {"pop3": 1}}
        )

        def refused() -> dict[str, Any] | None:
            """Counted, and (at the end of that cycle) named in /status."""
            status = lab.status()
            error = status["last_install_error"] or ""
            named = f"{switch.dpid}: " in error and "TABLE_FULL" in error
            counted = status["counters"]["install_errors"] > errors_before
            return status if counted and named else None

        status = lab.wait(refused, "the refused batch in /status")
        assert status["installed_rules"]["flows"] > 0
        metrics = lab.get("/metrics")[1]
        assert re.search(r"^agent_install_errors_total [1-9]", metrics, re.M), metrics
        # the daemon puts the previous groups back after each refused batch
        lab.wait(lambda: {n: lab.weights(n, 1) for n in NAMES} == before, "the groups restored")
    finally:
        run("ovs-vsctl", "clear", "Bridge", switch.bridge, "flow_tables")
        lab.clear_overrides()
