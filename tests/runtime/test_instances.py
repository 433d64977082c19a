"""The JSON-lines instance manager client against a real Unix socket server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agent.southbound.instances import InstanceError, JsonLinesInstanceManager


async def serve(path: Path, answer: dict[str, object] | bytes) -> asyncio.AbstractServer:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = json.loads(await reader.readline())
        body = (
            answer
            if isinstance(answer, bytes)
            else json.dumps({**answer, "echo": request}).encode()
        )
        writer.write(body + b"\n")
        await writer.drain()
        writer.close()

    return await asyncio.start_unix_server(handle, path=str(path))


async def test_start_returns_what_runs(tmp_path: Path) -> None:
    server = await serve(tmp_path / "s", {"ok": True, "running": {"pop1": ["a", "b"]}})
    async with server:
        manager = JsonLinesInstanceManager(f"unix:{tmp_path / 's'}")
        running = await manager.start({"pop1": frozenset({"a", "b"})})
        assert running == {"pop1": frozenset({"a", "b"})} == manager.running()


@pytest.mark.parametrize(
    ("answer", "message"),
    [({"ok": False, "error": "host full"}, "host full"), (b"not json", "garbage")],
)
async def test_refusals_and_garbage_raise(
    tmp_path: Path, answer: dict[str, object] | bytes, message: str
) -> None:
    server = await serve(tmp_path / "s", answer)
    async with server:
        manager = JsonLinesInstanceManager(f"unix:{tmp_path / 's'}")
        with pytest.raises(InstanceError, match=message):
            await manager.stop({"pop1": frozenset({"a"})})


async def test_unreachable_manager_raises(tmp_path: Path) -> None:
    manager = JsonLinesInstanceManager(f"unix:{tmp_path / 'nobody'}", timeout=1)
    with pytest.raises(InstanceError, match="instance manager at"):
        await manager.start({})
    with pytest.raises(ValueError, match="unix:PATH"):
        JsonLinesInstanceManager("tcp:127.0.0.1:1")
