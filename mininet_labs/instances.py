"""The lab's instance manager: placement and scaling start and stop SF instances.

``LabInstanceManager`` implements the daemon's interface
(agent/southbound/instances.py: async ``start``/``stop`` returning what runs, and
``running``) over the lab's per-node SF processes (mininet_labs/sf_instance.py): a
start or stop is one line to the node's process, answered with what runs there now.

Until the daemon can be pointed at an external manager, the lab drives the same
manager from the daemon's published placement (``/decisions/latest``):
``PlacementFollower``. ``InstanceServer`` serves the manager over a Unix socket with a
JSON-lines protocol, one request per line::

    {"op": "start", "placement": {"pop3": ["a", "b"]}}  -> {"ok": true, "running": {...}}
    {"op": "stop", "placement": {"pop3": ["b"]}}         -> {"ok": true, "running": {...}}
    {"op": "running"}                                    -> {"ok": true, "running": {...}}

and the daemon talks to it with ``agent.southbound.instances.JsonLinesInstanceManager``
(its configuration: ``instances: {kind: json-lines, endpoint: unix:PATH}``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from agent.southbound.instances import InstanceSet


class InstanceError(RuntimeError):
    """Starting or stopping an instance failed (mirrors the daemon's InstanceError)."""


class NodeProcessLink:
    """Line protocol to one node's SF process (its stdin and stdout)."""

    def __init__(self, stdin: IO[bytes], stdout: IO[bytes]) -> None:
        self.stdin, self.stdout = stdin, stdout
        self.lock = threading.Lock()

    def ask(self, line: str) -> dict[str, Any]:
        with self.lock:
            self.stdin.write((line + "\n").encode())
            self.stdin.flush()
            answer = self.stdout.readline()
        if not answer:
            raise InstanceError(f"SF process closed its pipe ({line!r})")
        reply: dict[str, Any] = json.loads(answer)
        if not reply.get("ok"):
            raise InstanceError(str(reply.get("error")))
        return reply


class LabInstanceManager:
    """The daemon's InstanceManager for the lab; also usable synchronously."""

    def __init__(self, links: dict[str, NodeProcessLink]) -> None:
        self.links = links
        self._running: dict[str, set[str]] = {}
        self.requests: list[tuple[float, str, str, str]] = []  # (time, start|stop, node, sf)
        self.clock: Callable[[], float] = __import__("time").time

    def _send(self, verb: str, node: str, sf: str) -> None:
        link = self.links.get(node)
        if link is None:
            raise InstanceError(f"node {node!r} has no compute host")
        running = set(link.ask(f"{verb} {sf}")["running"])
        self._running[node] = running
        self.requests.append((self.clock(), verb, node, sf))

    def start_sync(self, wanted: InstanceSet) -> InstanceSet:
        for node, sfs in sorted(wanted.items()):
            for sf in sorted(sfs - self._running.get(node, set())):
                self._send("start", node, sf)
        return self.running()

    def stop_sync(self, unwanted: InstanceSet) -> InstanceSet:
        for node, sfs in sorted(unwanted.items()):
            for sf in sorted(sfs & self._running.get(node, set())):
                self._send("stop", node, sf)
        return self.running()

    async def start(self, wanted: InstanceSet) -> InstanceSet:
        return await asyncio.to_thread(self.start_sync, wanted)

    async def stop(self, unwanted: InstanceSet) -> InstanceSet:
        return await asyncio.to_thread(self.stop_sync, unwanted)

    def running(self) -> InstanceSet:
        return {node: frozenset(sfs) for node, sfs in sorted(self._running.items()) if sfs}

    def follow(self, placement: dict[str, list[str]]) -> None:
        """Make what runs equal ``placement``: start the new, then stop the unused."""
        wanted = {node: frozenset(sfs) for node, sfs in placement.items() if sfs}
        self.start_sync(wanted)
        current = self.running()
        unwanted = {n: sfs - wanted.get(n, frozenset()) for n, sfs in current.items()}
        self.stop_sync({n: sfs for n, sfs in unwanted.items() if sfs})


def placement_json(placement: InstanceSet) -> dict[str, list[str]]:
    return {node: sorted(sfs) for node, sfs in sorted(placement.items())}


def parse_placement(value: object) -> InstanceSet:
    if not isinstance(value, dict):
        raise ValueError("placement must be an object {node: [sf, ...]}")
    out: InstanceSet = {}
    for node, sfs in value.items():
        if not isinstance(node, str) or not isinstance(sfs, list):
            raise ValueError("placement must be an object {node: [sf, ...]}")
        out[node] = frozenset(str(sf) for sf in sfs)
    return out


def handle_request(manager: LabInstanceManager, line: bytes) -> dict[str, Any]:
    try:
        request = json.loads(line)
        if not isinstance(request, dict):
            raise ValueError("a request is a JSON object")
        op = request.get("op")
        if op == "start":
            running = manager.start_sync(parse_placement(request.get("placement")))
        elif op == "stop":
            running = manager.stop_sync(parse_placement(request.get("placement")))
        elif op == "running":
            running = manager.running()
        else:
            raise ValueError(f"unknown op {op!r}")
    except (ValueError, InstanceError) as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "running": placement_json(running)}


class InstanceServer:
    """Serves a LabInstanceManager on a Unix socket (JSON lines), in a thread."""

    def __init__(self, manager: LabInstanceManager, path: Path) -> None:
        self.path = path
        outer = manager

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for line in self.rfile:
                    if line.strip():
                        reply = handle_request(outer, line)
                        self.wfile.write((json.dumps(reply) + "\n").encode())

        self.server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        with contextlib.suppress(OSError):
            self.path.unlink()
