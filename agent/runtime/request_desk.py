"""Deployment requests on the daemon's loop: booking, instances, install, removal, expiry.

``Deployments.submit`` books a request (``RequestBook.admit``: placed and booked in one
step, or refused with nothing changed), starts its SF instances through the instance
manager, and waits until a decision cycle has installed its flows. Each cycle takes a
``RequestBatch`` (the flows of the requests that hold resources; expired requests are
released first) into its rule set and reports the outcome with ``settle``: the requests
whose flows went in become ``active`` and are saved; when the batch failed, every
request waiting in it is rolled back (its resources released, its instances stopped
unless another request or the coordination decision uses them) and its client gets the
error. ``remove`` releases a request at once and waits for the cycle that takes its
flows away; its instances are stopped after that (make-before-break). Restored requests
have no client waiting: a failed batch leaves them for the next cycle.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from agent.rules.intents import Intent
from agent.runtime.request_store import RequestRecord
from agent.runtime.requests import HOLDING, Demand, RequestBook, RequestProblem
from agent.southbound.instances import InstanceError, InstanceManager, InstanceSet

log = structlog.get_logger("agent.requests")
STOP_TIMEOUT = 10.0  # seconds an instance stop may take before it is left to the manager


@dataclass(frozen=True)
class RequestBatch:
    """What one decision cycle installs for the requests."""

    included: frozenset[int]  # pending requests whose flows are in the batch
    removed: frozenset[int]  # released requests whose flows are not
    intents: tuple[Intent, ...]


NO_BATCH = RequestBatch(frozenset(), frozenset(), ())


class Deployments:
    def __init__(
        self,
        book: RequestBook,
        instances: InstanceManager,
        wanted: Callable[[], InstanceSet],
        install_timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.book = book
        self.instances = instances
        self.wanted = wanted  # the instances the coordination decision places
        self.install_timeout = install_timeout
        self.clock = clock
        self._installs: dict[int, asyncio.Future[RequestProblem | None]] = {}
        self._removals: dict[int, asyncio.Future[None]] = {}

    # ------------------------------------------------------------------ the API's calls
    async def submit(self, demand: Demand) -> RequestRecord:
        """The request installed, or RequestProblem (409: refused, nothing changed; 5xx:
        it failed after booking and was rolled back)."""
        record = self.book.admit(demand, self.clock())
        rid = record.id
        try:
            await self.instances.start(self.book.instances([record]))
        except InstanceError as exc:
            await self._roll_back(rid)
            raise RequestProblem(503, "instances_failed", f"instance manager: {exc}") from None
        except BaseException:  # cancelled while starting: nothing may stay half-booked
            await asyncio.shield(self._roll_back(rid))
            raise
        if self.book.records.get(rid, record).state != "starting":
            raise RequestProblem(409, "deleted", f"request {rid} was deleted while starting")
        future: asyncio.Future[RequestProblem | None] = asyncio.get_running_loop().create_future()
        self._installs[rid] = future
        self.book.set_state(rid, "pending")
        try:
            problem = await asyncio.wait_for(asyncio.shield(future), self.install_timeout)
        except TimeoutError:
            self._installs.pop(rid, None)
            await self._roll_back(rid)
            raise RequestProblem(
                503,
                "not_installed",
                f"its flows were not installed within {self.install_timeout:g} s "
                "(no decision cycle completed); rolled back",
            ) from None
        if problem is not None:
            raise problem
        return self.book.records[rid]

    async def remove(self, rid: int) -> tuple[RequestRecord, bool]:
        """Release the request now; wait for the cycle that removes its flows. The record
        and whether its flows are gone (False: still going when the wait ended)."""
        record = self.book.records.get(rid)
        if record is None:
            raise RequestProblem(404, "no_such_request", f"no request {rid}")
        if record.state in HOLDING:
            record = self._release(rid, "deleted")
            self.book.save()
        removal = self._removals.get(rid)
        if removal is None:
            removal = self._removals[rid] = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(removal), self.install_timeout)
        except TimeoutError:
            return record, False
        return record, True

    def _release(self, rid: int, why: str) -> RequestRecord:
        record = self.book.release(rid)
        waiting = self._installs.pop(rid, None)
        if waiting is not None and not waiting.done():
            problem = RequestProblem(409, why, f"request {rid} was {why} before it was installed")
            waiting.set_result(problem)
        log.info("request released", request=rid, reason=why)
        return record

    # ------------------------------------------------------------------ the cycle's calls
    def batch(self) -> RequestBatch:
        """Release the expired requests, then the flows of every request holding
        resources (those still starting their instances excepted)."""
        expired = self.book.expired(self.clock())
        for rid in expired:
            self._release(rid, "expired")
        if expired:
            self.book.save()
        records = self.book.records.values()
        intents: list[Intent] = []
        for record in records:
            if record.state in ("pending", "active"):
                intents.extend(self.book.flows[record.id])
        return RequestBatch(
            frozenset(r.id for r in records if r.state == "pending"),
            frozenset(r.id for r in records if r.state == "removing"),
            tuple(intents),
        )

    async def settle(self, batch: RequestBatch, errors: list[str]) -> None:
        """The batch's outcome: installed requests become active, removed ones go;
        after a failure the waiting requests of the batch are rolled back."""
        if errors:
            await self._failed(batch, "; ".join(errors))
            return
        for rid in sorted(batch.included):
            if self.book.records.get(rid) is not None and self.book.records[rid].state == "pending":
                self.book.set_state(rid, "active")
                self.book.accepted += 1
                self._resolve_install(rid, None)
        gone = [self.book.records[rid] for rid in sorted(batch.removed) if self._removing(rid)]
        for record in gone:
            self.book.drop(record.id)
            removal = self._removals.pop(record.id, None)
            if removal is not None and not removal.done():
                removal.set_result(None)
        if batch.included or gone:
            self.book.save()
        if gone:
            await self._stop_unused(gone)

    def _removing(self, rid: int) -> bool:
        record = self.book.records.get(rid)
        return record is not None and record.state == "removing"

    async def _failed(self, batch: RequestBatch, message: str) -> None:
        problem = RequestProblem(502, "install_failed", f"the switches refused: {message}")
        for rid in sorted(batch.included):
            if rid in self._installs:  # a client waits: roll back; restored ones retry
                self._resolve_install(rid, problem)
                await self._roll_back(rid)

    def _resolve_install(self, rid: int, problem: RequestProblem | None) -> None:
        future = self._installs.pop(rid, None)
        if future is not None and not future.done():
            future.set_result(problem)

    async def _roll_back(self, rid: int) -> None:
        record = self.book.records.get(rid)
        if record is None:
            return
        if record.state in HOLDING:
            self.book.release(rid)
        self.book.drop(rid)
        self.book.failed += 1
        log.warning("request rolled back", request=rid)
        await self._stop_unused([record])

    async def _stop_unused(self, records: list[RequestRecord]) -> None:
        """Stop the records' instances that no other request and not the coordination
        decision uses."""
        kept = self.book.instances()
        wanted = self.wanted()
        unused: InstanceSet = {}
        for node, vnfs in self.book.instances(records).items():
            left = vnfs - kept.get(node, frozenset()) - wanted.get(node, frozenset())
            if left:
                unused[node] = left
        if not unused:
            return
        try:
            await asyncio.wait_for(self.instances.stop(unused), STOP_TIMEOUT)
        except (InstanceError, TimeoutError) as exc:
            log.warning("stopping request instances failed", error=str(exc))

    async def start_restored(self) -> None:
        """Start the instances of the requests restored at start (before their flows)."""
        owned = self.book.instances()
        if owned:
            try:
                await self.instances.start(owned)
            except InstanceError as exc:
                log.error("instances of restored requests failed to start", error=str(exc))

    def owned(self) -> InstanceSet:
        """The instances the requests use (the coordination's plan leaves them alone)."""
        return self.book.instances()


def without(running: InstanceSet, deployments: Deployments | None) -> InstanceSet:
    """``running`` less the requests' instances: what the coordination decision manages."""
    if deployments is None:
        return running
    owned = deployments.owned()
    out = {node: sfs - owned.get(node, frozenset()) for node, sfs in running.items()}
    return {node: sfs for node, sfs in out.items() if sfs}
