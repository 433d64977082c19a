"""One controller process and one 4-switch ring for the whole package.

Every test leaves the switches as it found them: ``bed`` deletes all flows, groups
and meters after each test, and tests that take a switch away bring it back.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from agent.southbound.controller_client import ControllerClient
from tests.support.ovs_testbed import (
    OvsTestbed,
    TestbedSpec,
    Wiring,
    ensure_ovs,
    stop_ovs_if_unused,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
POLL_INTERVAL = 0.5
T = TypeVar("T")

if os.geteuid() != 0:
    pytest.skip("OVS test beds need root (network namespaces, ovs-vsctl)", allow_module_level=True)


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(make())


@dataclass
class ControllerProcess:
    proc: subprocess.Popen[bytes]
    address: str
    of_port: int
    log: Path

    def client(self, name: str = "test") -> ControllerClient:
        return ControllerClient(self.address, agent=name, timeout=10)

    def datapaths(self) -> list[int]:
        async def hello() -> list[int]:
            async with self.client() as ctl:
                return list((await ctl.hello()).datapaths)

        return run_async(hello)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_controller(tmp: Path, poll_interval: float = POLL_INTERVAL) -> ControllerProcess:
    address = f"unix:{tmp / 'controller.sock'}"
    of_port = free_tcp_port()
    log = tmp / "controller.log"
    cmd = [sys.executable, "-m", "controllers", "--listen", address, "--of-port", str(of_port),
           "--of-host", "127.0.0.1", "--poll-interval", str(poll_interval)]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    ctl = ControllerProcess(proc, address, of_port, log)
    try:
        wait_for(lambda: (tmp / "controller.sock").exists() or proc.poll() is not None, 20,
                 "the controller socket")  # fmt: skip
        if proc.poll() is not None:
            raise RuntimeError(f"controller exited: {log.read_text()}")
    except BaseException:
        ctl.stop()
        raise
    return ctl


@pytest.fixture(scope="session")
def ovs() -> Iterator[None]:
    started = ensure_ovs()
    yield
    if started:
        stop_ovs_if_unused()


@pytest.fixture(scope="session")
def controller(ovs: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControllerProcess]:
    ctl = start_controller(tmp_path_factory.mktemp("controller"))
    yield ctl
    ctl.stop()


@pytest.fixture(scope="session")
def testbed(controller: ControllerProcess) -> Iterator[OvsTestbed]:
    bed = OvsTestbed(TestbedSpec(), controller.of_port)
    bed.build()
    try:
        wiring = bed.wiring
        assert wiring is not None
        want = sorted(sw.dpid for sw in wiring.switches)
        wait_for(lambda: controller.datapaths() == want, 15, "all switches at the controller")
        yield bed
    finally:
        bed.teardown()


def clear_switches(bed: OvsTestbed) -> None:
    assert bed.wiring is not None
    for sw in bed.wiring.switches:
        for command in ("del-flows", "del-groups", "del-meters"):
            subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", command, sw.bridge],
                           capture_output=True, check=False)  # fmt: skip


@pytest.fixture
def bed(testbed: OvsTestbed, controller: ControllerProcess) -> Iterator[OvsTestbed]:
    """The shared test bed, all switches connected, emptied after the test."""
    wiring = testbed.wiring
    assert wiring is not None
    want = sorted(sw.dpid for sw in wiring.switches)
    wait_for(lambda: controller.datapaths() == want, 15, "all switches at the controller")
    yield testbed
    clear_switches(testbed)


@pytest.fixture
def wiring(bed: OvsTestbed) -> Wiring:
    assert bed.wiring is not None
    return bed.wiring
