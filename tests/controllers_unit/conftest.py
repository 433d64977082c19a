"""An app with fake switches: the real handlers, router and operations, no OVS."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from controllers.app import CoordinationShell
from tests.controllers_unit.fake_switch import FakeSwitch


@pytest.fixture
def app() -> Iterator[CoordinationShell]:
    shell = CoordinationShell()
    shell.operations.apply_timeout = 0.5  # only a switch that never answers waits this long
    try:
        yield shell
    finally:
        shell.close()


@pytest.fixture
def connect(app: CoordinationShell) -> Callable[..., FakeSwitch]:
    """Connect a fake switch with the given dpid (and FakeSwitch options) to ``app``."""

    def make(dpid: int, **options: object) -> FakeSwitch:
        switch = FakeSwitch(dpid, app, **options)  # type: ignore[arg-type]
        switch.connect()
        return switch

    return make
