"""A pytest plugin that fails any async test whose event loop ran one callback (a step of a
coroutine, a handler) for longer than ``SLOW_CALLBACK_S``: something blocked the loop.

It uses the event loop's own slow-callback detection: the loop of every async test runs in
debug mode, and the ``asyncio`` logger's "Executing ... took N seconds" warnings are
collected and fail the test after its call. The loop measures wall time, which a busy
machine stretches (a step of 60 ms of work took 0.8 s with a load average of 10 on 2 cores,
the simulator's thread holding the GIL meanwhile), so the limit is ``SLOW_CALLBACK_S`` on an
idle machine and grows with the load per core (``slow_callback_limit``). The load average
lags behind a sudden rush of other work, so a callback caught is judged again after the
test against the load then (up to twice the limit it started with). The objects alive
when the test starts (the whole suite's imports: torch, numpy, ...) are frozen out of the
garbage collector for the test (``gc.freeze``): a full collection walks them all, which
takes 0.2 s here and about 1 s on a busy machine, and that pause is the test process's
heap, not a blocking call of the code under test. An ordinary
blocking call (a sleep, a subprocess, a synchronous request, reading a big file on the loop)
still trips it. A test that blocks on purpose says so with ``@pytest.mark.allow_blocking``.

Loaded by ``tests/conftest.py`` (``pytest_plugins``).
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import os
import re
from collections.abc import AsyncIterator, Generator

import pytest

SLOW_CALLBACK_S = 0.5  # on an idle machine
GUARD = pytest.StashKey["SlowCallbacks"]()
TOOK = re.compile(r" took ([0-9.]+) seconds")


class SlowCallbacks(logging.Handler):
    """Collects the loop's slow-callback warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.found: list[str] = []
        self.limit = SLOW_CALLBACK_S  # the loop's limit when the test started

    def blocked(self) -> list[str]:
        """What was caught and still took too long for the load now (the limit at the
        start, raised by today's load to at most twice that)."""
        limit = max(self.limit, min(slow_callback_limit(), 2 * self.limit))
        return [m for m in self.found if (t := TOOK.search(m)) is None or float(t[1]) > limit]

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing ") and " took " in message:
            self.found.append(message)


def slow_callback_limit() -> float:
    """``SLOW_CALLBACK_S``, times the load average per core when that is over 1."""
    per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    return SLOW_CALLBACK_S * max(1.0, per_core)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_blocking: the test may block its event loop (no slow-callback guard)"
    )


@pytest.fixture
async def blocking_guard() -> AsyncIterator[SlowCallbacks]:
    """The running loop in debug mode with a slow-callback limit of
    ``slow_callback_limit()``; yields what it has caught."""
    loop = asyncio.get_running_loop()
    logger = logging.getLogger("asyncio")
    handler = SlowCallbacks()
    before = loop.get_debug(), loop.slow_callback_duration, logger.disabled
    loop.set_debug(True)
    loop.slow_callback_duration = handler.limit = slow_callback_limit()
    logger.disabled = False
    logger.addHandler(handler)
    gc.freeze()  # what is alive now is not the test's to collect
    try:
        yield handler
    finally:
        gc.unfreeze()
        logger.removeHandler(handler)
        loop.set_debug(before[0])
        loop.slow_callback_duration, logger.disabled = before[1], before[2]


@pytest.fixture(autouse=True)
def _guard_async_tests(request: pytest.FixtureRequest) -> None:
    """Puts ``blocking_guard`` under every async test (first, so that it also watches the
    test's async fixtures)."""
    node = request.node
    if not isinstance(node, pytest.Function) or not inspect.iscoroutinefunction(node.obj):
        return
    if node.get_closest_marker("allow_blocking") is not None:
        return
    node.stash[GUARD] = request.getfixturevalue("blocking_guard")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    result = yield
    guard = item.stash.get(GUARD, None)
    blocked = guard.blocked() if guard is not None else []
    if blocked:
        shown = "; ".join(blocked[:3])
        pytest.fail(f"the event loop was blocked (a callback took too long): {shown}", False)
    return result
