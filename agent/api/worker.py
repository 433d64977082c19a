"""The API's own process: the aiohttp app over what the daemon publishes.

Started by the daemon (``server.ApiProcess``) with one end of a socket pair and run at
a lower CPU priority (nice 10): readers can take this process's time, never the
decision cycle's. It reports its bound address (or why it could not bind), then
serves: reads come from the daemon's last publication (sent after every cycle and
every change), writes travel to the daemon and back; every publication also goes to
the live page's streams (``events.EventHub``). It exits when the daemon says stop or
goes away, ending the streams first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import time
from typing import Any

import structlog
from aiohttp import web

from agent.api.app import Token, make_app
from agent.api.channel import json_frame, read_message, read_raw
from agent.api.envelope import EnvelopeRunner
from agent.api.events import EventHub
from agent.runtime.logs import configure
from agent.runtime.overrides import OverrideSpec

log = structlog.get_logger("agent.api")
NICE = 10
CALL_TIMEOUT = 120.0  # a policy check loads weights in the daemon


class PublishedView:
    """DaemonView over the daemon's publications."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.state: dict[str, Any] = {}
        self.rules = b'{"rules": []}'
        self._parsed: tuple[bytes, list[dict[str, Any]]] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}

    def received(self, message: dict[str, Any]) -> None:
        if message["op"] == "state":
            self.state = message["state"]
        elif message["op"] == "reply":
            future = self._pending.pop(message["id"], None)
            if future is not None and not future.done():
                future.set_result(message)

    async def _call(self, method: str, **args: Any) -> Any:
        key = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        self.writer.write(json_frame({"op": "call", "id": key, "method": method, "args": args}))
        try:
            reply = await asyncio.wait_for(future, CALL_TIMEOUT)
        finally:
            self._pending.pop(key, None)
        if reply.get("error"):
            raise ValueError(reply["error"])
        return reply["value"]

    def _get(self, key: str, default: Any = None) -> Any:
        return self.state.get(key, default)

    async def status(self) -> dict[str, Any]:
        status = dict(self._get("status") or {"ready": False})
        if "started_at" in status:
            status["uptime_s"] = round(time.time() - status["started_at"], 3)
        return status

    async def ready_checks(self) -> list[str]:
        if not self.state:
            return ["the daemon has published nothing yet"]
        checks = list(self.state["ready_checks"])
        last = self.state["last_completed_wall"]
        if last is not None and time.time() - last > self.state["stall_limit_s"]:
            checks.append(
                f"decision cycle stuck: no cycle completed for {time.time() - last:.1f} s"
            )
        return checks

    async def topology(self) -> dict[str, Any]:
        topology: dict[str, Any] = self._get("topology") or {"nodes": [], "links": [], "chains": {}}
        return topology

    async def latest_decision(self) -> dict[str, Any] | None:
        decision: dict[str, Any] | None = self._get("decision")
        return decision

    async def rules_json(self) -> bytes:
        return self.rules

    async def rules_list(self) -> list[dict[str, Any]]:
        """The rules parsed, once per publication of them (for filtered answers)."""
        body = self.rules
        if self._parsed is None or self._parsed[0] is not body:
            rules: list[dict[str, Any]] = json.loads(body)["rules"]
            self._parsed = (body, rules)
        return self._parsed[1]

    async def overrides(self) -> list[dict[str, Any]]:
        return list(self._get("overrides", []))

    async def add_override(self, spec: OverrideSpec) -> int:
        key: int = await self._call("add_override", spec=spec.model_dump(mode="json"))
        return key

    async def remove_override(self, key: int | None) -> bool:
        removed: bool = await self._call("remove_override", key=key)
        return removed

    async def check_policy(self, name: str) -> str | None:
        problem: str | None = await self._call("check_policy", name=name)
        return problem

    async def metrics_snapshot(self) -> dict[str, Any]:
        metrics: dict[str, Any] = self._get("metrics") or {}
        return metrics

    async def recovery(self) -> dict[str, Any]:
        recovery: dict[str, Any] = self._get("recovery") or {"failed": False, "plan": None}
        return recovery

    async def slices(self) -> dict[str, Any]:
        slices: dict[str, Any] = self._get("slices") or {"configured": False, "slices": []}
        return slices


async def serve(fd: int, listen: str) -> None:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    view, token, hub = PublishedView(writer), Token(), EventHub()
    runner = EnvelopeRunner(make_app(view, token, hub), access_log=None)
    await runner.setup()
    host, _, port = listen.rpartition(":")
    site = web.TCPSite(runner, host.strip("[]"), int(port))
    try:
        await site.start()
    except OSError as exc:
        problem = os.strerror(exc.errno) if exc.errno else str(exc)
        writer.write(json_frame({"op": "bind_error", "message": f"{listen}: {problem.lower()}"}))
        await writer.drain()
        return
    sockets = getattr(site._server, "sockets", None) or []
    bound = sockets[0].getsockname()[:2] if sockets else (host, int(port))
    writer.write(json_frame({"op": "listening", "address": [str(bound[0]), int(bound[1])]}))
    try:
        await feed(reader, view, token, hub)
    finally:
        hub.close()
        await runner.cleanup()


async def feed(
    reader: asyncio.StreamReader, view: PublishedView, token: Token, hub: EventHub
) -> None:
    """Take the daemon's messages until it says stop or goes away."""
    while (message := await read_message(reader)) is not None:
        op = message["op"]
        if op == "stop":
            return
        if op == "token":
            token.value = message["value"]
        elif op == "rules":
            body = await read_raw(reader)
            if body is None:
                return
            view.rules = body
        else:
            view.received(message)
            if op == "state":
                publish(hub, message["state"])


def publish(hub: EventHub, state: dict[str, Any]) -> None:
    """To the live page; a state it cannot draw is logged (once while the same problem
    lasts, without the state itself), never the API's end."""
    try:
        hub.publish(state)
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
        if problem != hub.last_problem:
            log.error("live page update failed", error=problem)
        hub.last_problem = problem
    else:
        hub.last_problem = None


def main() -> None:
    parser = argparse.ArgumentParser(description="The agent's API process (started by it).")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--log-format", default="auto")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the daemon decides when this ends
    with contextlib.suppress(OSError):
        os.nice(NICE)
    configure(args.log_format, args.log_level)
    asyncio.run(serve(args.fd, args.listen))


if __name__ == "__main__":
    main()
