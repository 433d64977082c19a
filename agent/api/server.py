"""Serving the API from a process of its own (``worker.py``), behind the daemon's
ApiServer interface.

The daemon publishes what the API serves after every cycle and every change (one JSON
frame; the ``/rules`` body only when the rules changed, encoded once) and answers the
API's write calls on its own event loop. However many readers arrive, they cost the
daemon one publication per cycle: the decision cycle keeps its interval by design. A
listen address that cannot be bound is a ``BindError`` naming it, and the daemon stops
before starting anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from typing import Any

import structlog
from pydantic import TypeAdapter, ValidationError

from agent.api.channel import frame, json_frame, read_message
from agent.runtime.overrides import OverrideSpec
from agent.runtime.view import RunningDaemon

log = structlog.get_logger("agent.api")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 3.0
SPEC: TypeAdapter[Any] = TypeAdapter(OverrideSpec)


class BindError(OSError):
    """The API's listen address cannot be bound (in use, not on this host)."""


class ApiProcess:
    def __init__(self) -> None:
        self.address: tuple[str, int] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._view: RunningDaemon | None = None
        self._rules_version = -1
        self._tasks: list[asyncio.Task[None]] = []
        self._publishing = False

    async def start(self, view: RunningDaemon, token: str | None, listen: str) -> None:
        self._view = view
        logs = view.daemon.config.log
        parent, child = socket.socketpair()
        with child, contextlib.ExitStack() as undo:
            undo.callback(parent.close)
            self._proc = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "agent.api.worker", "--fd", str(child.fileno())),
                *("--listen", listen, "--log-format", logs.format, "--log-level", logs.level),
                pass_fds=[child.fileno()],
            )
            undo.callback(self._kill)
            reader, self._writer = await asyncio.open_unix_connection(sock=parent)
            first = await asyncio.wait_for(read_message(reader), START_TIMEOUT)
            if first is None or first["op"] != "listening":
                await self._proc.wait()
                raise BindError(first["message"] if first else "the API process ended")
            undo.pop_all()
        host, port = first["address"]
        self.address = (host, port)
        self.set_token(token)
        self.changed()
        self._tasks.append(asyncio.create_task(self._answer(reader), name="api-calls"))
        log.info("api listening", address=f"{host}:{port}", pid=self._proc.pid)

    def _kill(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()

    def set_token(self, token: str | None) -> None:
        if self._writer is not None:
            self._writer.write(json_frame({"op": "token", "value": token}))

    def changed(self) -> None:
        """Publish the daemon's state now (after a cycle or a change)."""
        view, writer = self._view, self._writer
        if view is None or writer is None or writer.is_closing():
            return
        state = view.publication()
        writer.write(json_frame({"op": "state", "state": state}))
        if state["rules_version"] != self._rules_version:
            self._rules_version = state["rules_version"]
            writer.write(json_frame({"op": "rules"}) + frame(view.rules_body()))

    async def _answer(self, reader: asyncio.StreamReader) -> None:
        """The API's write calls, run on the daemon's loop; state is published before
        the reply so that the API's next read sees the change."""
        while (message := await read_message(reader)) is not None:
            if message.get("op") != "call":
                continue
            try:
                reply: dict[str, Any] = {"value": await self._call(message)}
            except ValueError as exc:
                reply = {"error": str(exc)}
            self.changed()
            if self._writer is not None:
                self._writer.write(json_frame({"op": "reply", "id": message["id"], **reply}))
        log.error("the API process went away; the daemon runs on without its API")

    async def _call(self, message: dict[str, Any]) -> Any:
        view, args = self._view, message.get("args", {})
        assert view is not None
        method = message.get("method")
        if method == "add_override":
            try:
                spec = SPEC.validate_python(args["spec"])
            except ValidationError as exc:
                raise ValueError(str(exc).splitlines()[0]) from None
            return await view.add_override(spec)
        if method == "remove_override":
            return await view.remove_override(args.get("key"))
        if method == "check_policy":
            return await view.check_policy(str(args["name"]))
        if method == "requests":
            from agent.api.requests import daemon_call

            return await daemon_call(view, args)
        raise ValueError(f"unknown call {method!r}")

    async def stop(self) -> None:
        proc, writer = self._proc, self._writer
        if writer is not None and not writer.is_closing():
            writer.write(json_frame({"op": "stop"}))
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            writer.close()
        for task in self._tasks:
            task.cancel()
        if proc is not None and proc.returncode is None:
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()
