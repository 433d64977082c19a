"""The blocking-call guard: an async test that blocks its event loop fails, one that
awaits does not, and a test can opt out."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support import blocking_guard
from tests.support.blocking_guard import SLOW_CALLBACK_S, SlowCallbacks, slow_callback_limit

INNER = """
import asyncio
import time

import pytest

from tests.support.blocking_guard import slow_callback_limit


def over() -> float:
    return slow_callback_limit() + 0.3


async def test_blocks():
    time.sleep(2 * asyncio.get_running_loop().slow_callback_duration + 0.3)  # blocks the loop
    await asyncio.sleep(0)


async def test_awaits():
    await asyncio.sleep(over())
    await asyncio.to_thread(time.sleep, over())


@pytest.mark.allow_blocking
async def test_blocks_on_purpose():
    time.sleep(over())
    await asyncio.sleep(0)


def test_sync_tests_are_not_watched():
    time.sleep(over())
"""


def test_a_blocking_coroutine_fails_its_test(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(INNER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "pytest", "-p", "tests.support.blocking_guard"]
    command += ["-o", "asyncio_mode=auto", "-p", "no:cacheprovider", "-p", "no:randomly"]
    command += ["-q", "-rf", "test_inner.py"]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "1 failed, 3 passed" in out, out
    assert "FAILED test_inner.py::test_blocks - Failed: the event loop" in out, out
    assert "the event loop was blocked (a callback took too long): Executing <Task" in out


async def test_the_guard_watches_this_loop(blocking_guard: SlowCallbacks) -> None:
    loop = asyncio.get_running_loop()
    assert loop.get_debug() and loop.slow_callback_duration >= SLOW_CALLBACK_S
    assert slow_callback_limit() >= SLOW_CALLBACK_S
    time.sleep(loop.slow_callback_duration + 0.2)  # caught once this step of the test ends
    await asyncio.sleep(0)
    assert len(blocking_guard.found) == 1 and " took " in blocking_guard.found[0]
    blocking_guard.found.clear()  # seen: this test does not fail


def test_a_callback_caught_is_judged_again_against_the_load_after_the_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guard = SlowCallbacks()
    guard.limit = 0.5
    guard.found = [
        "Executing <Task a> took 0.600 seconds",
        "Executing <Task b> took 5.000 seconds",
    ]
    monkeypatch.setattr(blocking_guard, "slow_callback_limit", lambda: 0.3)  # quieter now
    assert len(guard.blocked()) == 2
    monkeypatch.setattr(blocking_guard, "slow_callback_limit", lambda: 0.7)  # busier now
    assert guard.blocked() == ["Executing <Task b> took 5.000 seconds"]
    monkeypatch.setattr(blocking_guard, "slow_callback_limit", lambda: 100.0)  # at most 2x
    assert guard.blocked() == ["Executing <Task b> took 5.000 seconds"]


async def test_the_objects_alive_before_the_test_are_left_out_of_collections(
    blocking_guard: SlowCallbacks,
) -> None:
    assert gc.get_freeze_count() > 0  # the suite's imports, frozen for this test
