"""The agent's asyncio client for the controller protocol (docs/controller-protocol.md).

    async with ControllerClient("unix:/run/sdn-agent/controller.sock") as ctl:
        hello = await ctl.hello()
        await ctl.subscribe(1.0)
        result = await ctl.apply([("add", group), ("add", flow)])
        async for note in ctl.notifications():
            ...

Requests are matched to responses by id and time out; notifications arrive through
``notifications()`` (or ``next_notification``). When the controller cannot be
reached, closes the connection or stops answering, every waiting call raises
``ControllerUnavailable``: the daemon then reconnects with a new client.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, TypeVar

from agent.protocol import (
    DEFAULT_SECTIONS,
    GROUP_RANGE,
    METER_RANGE,
    OWN_COOKIE,
    OWN_COOKIE_MASK,
    ApplyResult,
    BatchEntry,
    BatchError,
    BatchOp,
    DumpReply,
    DumpRequest,
    Event,
    Hello,
    Monitor,
    Notification,
    Op,
    Section,
    Subscription,
    Topology,
    WireError,
    decode,
    encode,
    parse_notification,
    request,
)
from agent.rules.intents import Intent

T = TypeVar("T")
LINE_LIMIT = 64 << 20  # one monitor record of a big switch can be a few MB

# the records this client returns, for its callers (defined in agent.protocol)
__all__ = [
    "ApplyResult",
    "BatchError",
    "BatchOp",
    "ControllerClient",
    "ControllerError",
    "ControllerTimeout",
    "ControllerUnavailable",
    "Event",
    "Hello",
    "Monitor",
    "Notification",
    "Topology",
]


class ControllerUnavailable(ConnectionError):
    """The controller cannot be reached, closed the connection, or stopped answering."""


class ControllerTimeout(ControllerUnavailable, TimeoutError):
    """A request got no response in time."""


class ControllerError(RuntimeError):
    """The controller answered a request with ok=false (or with a malformed answer)."""


class ControllerClient:
    """One connection to the controller; not reusable after ``close``."""

    def __init__(
        self,
        address: str,
        agent: str = "sdn-agent",
        timeout: float = 15.0,
        queue_size: int = 10_000,
    ) -> None:
        self.address = address
        self.agent = agent
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._notes: asyncio.Queue[Notification | None] = asyncio.Queue(queue_size)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed_reason: str | None = None
        self.dropped_notifications = 0
        self.malformed_notifications = 0

    # ------------------------------------------------------------ connection

    async def connect(self) -> Hello:
        kind, _, rest = self.address.partition(":")
        try:
            if kind == "unix":
                opened = asyncio.open_unix_connection(rest, limit=LINE_LIMIT)
            elif kind == "tcp":
                host, _, port = rest.rpartition(":")
                opened = asyncio.open_connection(host, int(port), limit=LINE_LIMIT)
            else:
                raise ValueError(f"controller address must be unix:PATH or tcp:HOST:PORT: {kind}")
            self._reader, self._writer = await asyncio.wait_for(opened, self.timeout)
        except (OSError, TimeoutError) as exc:
            raise ControllerUnavailable(f"cannot connect to {self.address}: {exc}") from exc
        self._task = asyncio.create_task(self._read_loop(), name="controller-client-reader")
        return await self.hello()

    async def close(self) -> None:
        self._shutdown("client closed")
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def closed(self) -> bool:
        return self._closed_reason is not None

    async def __aenter__(self) -> ControllerClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------ requests

    async def request(
        self, op: Op, body: dict[str, Any] | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Send one request; its response (ok, or failed with per-entry ``errors``)."""
        if self._writer is None or self.closed:
            raise ControllerUnavailable(f"not connected ({self._closed_reason or 'never opened'})")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._writer.write(encode(request(request_id, op, body or {})))
            await self._writer.drain()
            response = await asyncio.wait_for(future, timeout or self.timeout)
        except TimeoutError:
            raise ControllerTimeout(
                f"no answer to {op} within {timeout or self.timeout} s"
            ) from None
        except OSError as exc:
            self._shutdown(f"write failed: {exc}")
            raise ControllerUnavailable(f"controller connection lost: {exc}") from exc
        finally:
            self._pending.pop(request_id, None)
        if not response.get("ok") and "errors" not in response:
            raise ControllerError(f"{op}: {response.get('error', 'failed')}")
        return response

    async def hello(self) -> Hello:
        r = await self.request(Op.HELLO, {"agent": self.agent})
        return _parsed(Hello.from_wire, r)

    async def topology(self) -> Topology:
        return _parsed(Topology.from_wire, await self.request(Op.TOPOLOGY))

    async def subscribe(
        self, interval: float, stats: Iterable[Section] = DEFAULT_SECTIONS
    ) -> float:
        """Start notifications with the ``stats`` sections (port counters unless asked
        for more); the polling interval the controller will use."""
        wanted = Subscription(interval, frozenset(stats))
        r = await self.request(Op.SUBSCRIBE, wanted.to_wire())
        return _parsed(lambda body: Subscription.from_wire(body, interval), r).interval

    async def unsubscribe(self) -> None:
        await self.request(Op.UNSUBSCRIBE)

    async def apply(
        self, batch: Sequence[tuple[BatchOp, Intent]], timeout: float | None = None
    ) -> ApplyResult:
        wire = [BatchEntry(op, intent).to_wire() for op, intent in batch]
        r = await self.request(Op.APPLY, {"batch": wire}, timeout)
        return _parsed(ApplyResult.from_wire, r)

    async def dump(
        self,
        cookie: int = OWN_COOKIE,
        cookie_mask: int = OWN_COOKIE_MASK,
        group_range: tuple[int, int] = GROUP_RANGE,
        meter_range: tuple[int, int] = METER_RANGE,
        dpids: frozenset[int] | None = None,
    ) -> list[Intent]:
        """What is installed on every connected switch (or on ``dpids``) inside our
        cookie and id ranges."""
        wanted = DumpRequest(cookie, cookie_mask, group_range, meter_range, dpids)
        r = await self.request(Op.DUMP, wanted.to_wire())
        return list(_parsed(DumpReply.from_wire, r).rules)

    # ------------------------------------------------------------ notifications

    async def next_notification(self, timeout: float | None = None) -> Notification:
        """The next notification; ControllerUnavailable once the connection is gone."""
        try:
            note = await asyncio.wait_for(self._notes.get(), timeout)
        except TimeoutError:
            raise TimeoutError(f"no notification within {timeout} s") from None
        if note is None:
            self._notes.put_nowait(None)  # keep telling later callers
            raise ControllerUnavailable(f"controller connection closed ({self._closed_reason})")
        return note

    async def notifications(self) -> AsyncIterator[Notification]:
        """Every notification until the connection closes (which raises)."""
        while True:
            yield await self.next_notification()

    # ------------------------------------------------------------ reading

    async def _read_loop(self) -> None:
        assert self._reader is not None
        reason = "controller closed the connection"
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                self._on_message(decode(line))
        except (OSError, ValueError) as exc:  # WireError is a ValueError
            reason = f"connection failed: {exc}"
        finally:
            self._shutdown(reason)

    def _on_message(self, message: dict[str, Any]) -> None:
        if "id" in message:
            future = self._pending.get(message["id"]) if message["id"] is not None else None
            if future is not None and not future.done():
                future.set_result(message)
            return
        try:
            note = parse_notification(message)
        except WireError:
            self.malformed_notifications += 1
            return
        if note is None:
            return
        if self._notes.full():  # keep the newest: drop the oldest
            self._notes.get_nowait()
            self.dropped_notifications += 1
        self._notes.put_nowait(note)

    def _shutdown(self, reason: str) -> None:
        if self._closed_reason is not None:
            return
        self._closed_reason = reason
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ControllerUnavailable(reason))
        if self._notes.full():
            self._notes.get_nowait()
        self._notes.put_nowait(None)


def _parsed(parse: Callable[[dict[str, Any]], T], response: dict[str, Any]) -> T:
    try:
        return parse(response)
    except WireError as exc:
        raise ControllerError(f"malformed answer: {exc}") from None
