"""Service-function instances: placement and scaling become start/stop requests.

An instance manager owns the SF processes (or VMs, containers, pods) on the nodes.
The daemon calls it around every rule change, make-before-break: ``start`` for the
instances the new placement adds, before traffic is steered to them, and ``stop`` for
those it no longer needs, after the rules that sent traffic there are gone. Both take
and return plain data, so an orchestrator adapter (Kubernetes, OpenStack, the Mininet
lab's process manager) is a small class with these three methods:

    async def start(self, wanted: InstanceSet) -> InstanceSet   # returns what now runs
    async def stop(self, unwanted: InstanceSet) -> InstanceSet  # returns what now runs
    def running(self) -> InstanceSet

``InstanceSet`` maps a node to the SF names placed there. A manager that fails to start
an instance raises ``InstanceError``; the decision cycle then keeps the previous rules.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol

import structlog

log = structlog.get_logger("agent.instances")

InstanceSet = dict[str, frozenset[str]]


class InstanceError(RuntimeError):
    """Starting or stopping an instance failed."""


class InstanceManager(Protocol):
    async def start(self, wanted: InstanceSet) -> InstanceSet: ...

    async def stop(self, unwanted: InstanceSet) -> InstanceSet: ...

    def running(self) -> InstanceSet: ...


class LoggingInstanceManager:
    """Keeps the books and logs every request; for the embedded simulator (which runs
    instances itself) and for deployments whose instances are managed elsewhere."""

    def __init__(self) -> None:
        self._running: dict[str, set[str]] = {}
        self.requests: list[tuple[str, str, str]] = []  # (start|stop, node, sf)

    async def start(self, wanted: InstanceSet) -> InstanceSet:
        for node, sfs in sorted(wanted.items()):
            for sf in sorted(sfs - self._running.get(node, set())):
                log.info("start instance", node=node, sf=sf)
                self.requests.append(("start", node, sf))
                self._running.setdefault(node, set()).add(sf)
        return self.running()

    async def stop(self, unwanted: InstanceSet) -> InstanceSet:
        for node, sfs in sorted(unwanted.items()):
            for sf in sorted(sfs & self._running.get(node, set())):
                log.info("stop instance", node=node, sf=sf)
                self.requests.append(("stop", node, sf))
                self._running[node].discard(sf)
        return self.running()

    def running(self) -> InstanceSet:
        return {node: frozenset(sfs) for node, sfs in self._running.items() if sfs}


def added(old: InstanceSet, new: InstanceSet) -> InstanceSet:
    """What ``new`` places that ``old`` does not."""
    out = {node: sfs - old.get(node, frozenset()) for node, sfs in new.items()}
    return {node: sfs for node, sfs in out.items() if sfs}


class JsonLinesInstanceManager:
    """Forwards to an instance manager serving JSON lines on a Unix socket (the Mininet
    lab serves one): one request per connection, ``{"op": "start"|"stop", "placement":
    {node: [sf, ...]}}`` or ``{"op": "running"}``, answered with ``{"ok": true,
    "running": {node: [sf, ...]}}`` or ``{"ok": false, "error": "..."}``."""

    def __init__(self, endpoint: str, timeout: float = 10.0) -> None:
        if not endpoint.startswith("unix:"):
            raise ValueError("the instance manager endpoint must be unix:PATH")
        self.path = endpoint.removeprefix("unix:")
        self.timeout = timeout
        self._running: InstanceSet = {}
        self._lock = asyncio.Lock()

    async def _call(self, request: dict[str, Any]) -> InstanceSet:
        async with self._lock:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_unix_connection(self.path), self.timeout
                )
                try:
                    writer.write((json.dumps(request) + "\n").encode())
                    await writer.drain()
                    line = await asyncio.wait_for(reader.readline(), self.timeout)
                finally:
                    writer.close()
            except (OSError, TimeoutError) as exc:
                raise InstanceError(f"instance manager at {self.path}: {exc}") from exc
            try:
                reply = json.loads(line or b"{}")
            except json.JSONDecodeError as exc:
                raise InstanceError(f"instance manager answered garbage: {exc}") from exc
            if not reply.get("ok"):
                raise InstanceError(str(reply.get("error", "no answer")))
            running = reply.get("running") or {}
            self._running = {str(n): frozenset(map(str, sfs)) for n, sfs in running.items()}
            return dict(self._running)

    async def start(self, wanted: InstanceSet) -> InstanceSet:
        return await self._call({"op": "start", "placement": _wire(wanted)})

    async def stop(self, unwanted: InstanceSet) -> InstanceSet:
        return await self._call({"op": "stop", "placement": _wire(unwanted)})

    def running(self) -> InstanceSet:
        return dict(self._running)


def _wire(placement: InstanceSet) -> dict[str, list[str]]:
    return {node: sorted(sfs) for node, sfs in sorted(placement.items())}
