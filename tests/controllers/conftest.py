"""One controller process and one 4-switch ring for the whole package (stopped and
removed when its last test is done, so they do not load the machine during others).

Every test leaves the switches as it found them: ``bed`` brings back a switch or a
controller connection a test took away (also when the test failed half-way), and
deletes all flows, groups and meters after each test.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.ovs_testbed import OvsTestbed, TestbedSpec, Wiring
from tests.support.processes import ControllerProcess, start_controller, wait_until

POLL_INTERVAL = 0.5

if os.geteuid() != 0:
    pytest.skip("OVS test beds need root (network namespaces, ovs-vsctl)", allow_module_level=True)


@pytest.fixture(scope="package")
def controller(
    ovs: Callable[[], None], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControllerProcess]:
    ovs()
    ctl = start_controller(tmp_path_factory.mktemp("controller"), POLL_INTERVAL)
    try:
        yield ctl
    finally:
        ctl.stop()


@pytest.fixture
def spawn_controller(tmp_path: Path) -> Iterator[Callable[[], ControllerProcess]]:
    """Start extra controllers (each in its own folder); all stopped after the test."""
    started: list[ControllerProcess] = []

    def spawn() -> ControllerProcess:
        folder = tmp_path / f"controller-{len(started)}"
        folder.mkdir()
        started.append(start_controller(folder, POLL_INTERVAL))
        return started[-1]

    try:
        yield spawn
    finally:
        for ctl in started:
            ctl.stop()


def all_connected(controller: ControllerProcess, bed: OvsTestbed) -> None:
    assert bed.wiring is not None
    want = sorted(sw.dpid for sw in bed.wiring.switches)
    wait_until(lambda: controller.datapaths() == want, "all switches at the controller")


@pytest.fixture(scope="package")
def testbed(controller: ControllerProcess) -> Iterator[OvsTestbed]:
    bed = OvsTestbed(TestbedSpec(), controller.of_port)
    try:
        bed.build()
        all_connected(controller, bed)
        yield bed
    finally:
        bed.teardown()


def clear_switches(bed: OvsTestbed) -> None:
    assert bed.wiring is not None
    for sw in bed.wiring.switches:
        for command in ("del-flows", "del-groups", "del-meters"):
            subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", command, sw.bridge],
                           capture_output=True, check=False, timeout=30)  # fmt: skip


@pytest.fixture
def bed(testbed: OvsTestbed, controller: ControllerProcess) -> Iterator[OvsTestbed]:
    """The shared test bed, all switches connected, restored and emptied after the test."""
    all_connected(controller, testbed)
    try:
        yield testbed
    finally:
        assert testbed.wiring is not None
        try:
            for sw in testbed.wiring.switches:
                testbed.restore_switch(sw.number)
        finally:
            clear_switches(testbed)


@pytest.fixture
def wiring(bed: OvsTestbed) -> Wiring:
    assert bed.wiring is not None
    return bed.wiring
