"""Service-function instances: placement and scaling become start/stop requests.

An instance manager owns the SF processes (or VMs, containers, pods) on the nodes.
The daemon calls it around every rule change, make-before-break: ``start`` for the
instances the new placement adds, before traffic is steered to them, and ``stop`` for
those it no longer needs, after the rules that sent traffic there are gone. Both take
and return plain data, so an orchestrator adapter (Kubernetes, OpenStack, the Mininet
lab's process manager) is a small class with these three methods:

    async def start(self, wanted: Placement) -> Placement   # returns what now runs
    async def stop(self, unwanted: Placement) -> Placement  # returns what now runs
    def running(self) -> Placement

``Placement`` maps a node to the SF names placed there. A manager that fails to start
an instance raises ``InstanceError``; the daemon then keeps the previous rules.
"""

from __future__ import annotations

from typing import Protocol

import structlog

log = structlog.get_logger("agent.instances")

Placement = dict[str, frozenset[str]]


class InstanceError(RuntimeError):
    """Starting or stopping an instance failed."""


class InstanceManager(Protocol):
    async def start(self, wanted: Placement) -> Placement: ...

    async def stop(self, unwanted: Placement) -> Placement: ...

    def running(self) -> Placement: ...


class LoggingInstanceManager:
    """Keeps the books and logs every request; for the embedded simulator (which runs
    instances itself) and for deployments whose instances are managed elsewhere."""

    def __init__(self) -> None:
        self._running: dict[str, set[str]] = {}
        self.requests: list[tuple[str, str, str]] = []  # (start|stop, node, sf)

    async def start(self, wanted: Placement) -> Placement:
        for node, sfs in sorted(wanted.items()):
            for sf in sorted(sfs - self._running.get(node, set())):
                log.info("start instance", node=node, sf=sf)
                self.requests.append(("start", node, sf))
                self._running.setdefault(node, set()).add(sf)
        return self.running()

    async def stop(self, unwanted: Placement) -> Placement:
        for node, sfs in sorted(unwanted.items()):
            for sf in sorted(sfs & self._running.get(node, set())):
                log.info("stop instance", node=node, sf=sf)
                self.requests.append(("stop", node, sf))
                self._running[node].discard(sf)
        return self.running()

    def running(self) -> Placement:
        return {node: frozenset(sfs) for node, sfs in self._running.items() if sfs}


def added(old: Placement, new: Placement) -> Placement:
    """What ``new`` places that ``old`` does not."""
    out = {node: sfs - old.get(node, frozenset()) for node, sfs in new.items()}
    return {node: sfs for node, sfs in out.items() if sfs}
