"""The protocol's edges and the process: errors are answers, never silence; the
client says clearly when the controller is gone; SIGTERM ends the process cleanly."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.model.wiring import WiringFile
from agent.protocol import Op
from agent.southbound.controller_client import (
    ControllerClient,
    ControllerError,
    ControllerUnavailable,
    Hello,
    Topology,
)
from tests.support.ovs_testbed import Wiring
from tests.support.processes import ControllerProcess, run_async


def exchange(controller: ControllerProcess, lines: list[bytes]) -> list[dict[str, object]]:
    path = controller.address.removeprefix("unix:")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        sock.sendall(b"".join(lines))
        stream = sock.makefile("rb")
        return [json.loads(stream.readline()) for _ in lines]


def test_every_request_gets_exactly_one_answer(controller: ControllerProcess) -> None:
    answers = exchange(controller, [
        b"not json\n",
        b'{"v": 1, "op": "hello"}\n',
        b'{"v": 2, "id": 7, "op": "hello"}\n',
        b'{"v": 1, "id": 8, "op": "teleport"}\n',
        b'{"v": 1, "id": 9, "op": "apply", "batch": [{"op": "add", "intent": {"kind": "x"}}]}\n',
    ])  # fmt: skip

    assert [a["id"] for a in answers[:2]] == [None, None]
    assert all(a["ok"] is False and a["v"] == 1 for a in answers)
    assert "version" in str(answers[2]["error"]) and "teleport" in str(answers[3]["error"])
    errors = answers[4]["errors"]
    assert isinstance(errors, list) and errors[0]["index"] == 0 and errors[0]["type"] == -1


def test_hello_and_topology_list_the_switches(
    controller: ControllerProcess, wiring: Wiring
) -> None:
    async def scenario() -> tuple[Hello, Topology]:
        async with controller.client() as ctl:
            return await ctl.hello(), await ctl.topology()

    hello, topology = run_async(scenario)

    dpids = sorted(sw.dpid for sw in wiring.switches)
    assert hello.protocol == 1 and "os-ken" in hello.controller
    assert list(hello.datapaths) == dpids
    s1 = topology.datapaths[wiring.switch(1).dpid]
    ports = {p.port_no: p for p in s1.ports}
    assert s1.connected and set(ports) == {1, 10, 11, 22, 24}
    assert ports[1].name == f"{wiring.prefix}sf1" and all(p.up for p in ports.values())


def test_testbed_wiring_is_a_valid_agent_wiring_file(wiring: Wiring) -> None:
    spec = WiringFile.model_validate(wiring.as_wiring_file())

    assert spec.switches["s1"].dpid == wiring.switch(1).dpid
    assert spec.switches["s1"].ingress_ports == [10, 11] and spec.switches["s3"].sf_port == 1
    assert {(ln.a, ln.b) for ln in spec.links} == {("s1", "s2"), ("s1", "s4"), ("s2", "s3"),
                                                   ("s3", "s4")}  # fmt: skip


def test_client_reports_an_unreachable_or_vanished_controller(
    tmp_path: Path, spawn_controller: Callable[[], ControllerProcess]
) -> None:
    async def unreachable() -> None:
        await ControllerClient(f"unix:{tmp_path / 'nobody.sock'}").connect()

    with pytest.raises(ControllerUnavailable):
        run_async(unreachable)

    ctl = spawn_controller()

    async def vanished() -> None:
        async with ctl.client() as client:
            await client.subscribe(1.0)
            ctl.stop()
            with pytest.raises(ControllerUnavailable):
                while True:
                    await client.next_notification(5)
            with pytest.raises(ControllerUnavailable):
                await client.hello()

    run_async(vanished)


def test_sigterm_ends_the_controller_cleanly(
    spawn_controller: Callable[[], ControllerProcess],
) -> None:
    ctl = spawn_controller()

    code = ctl.stop()  # SIGTERM, and SIGKILL (exit status -9) after 10 s

    assert code == 0
    assert not Path(ctl.address.removeprefix("unix:")).exists()


def test_a_failed_request_raises_controller_error(controller: ControllerProcess) -> None:
    async def scenario() -> None:
        async with controller.client() as ctl:
            await ctl.request(Op.SUBSCRIBE, {"interval": -1})

    with pytest.raises(ControllerError, match="interval"):
        run_async(scenario)
