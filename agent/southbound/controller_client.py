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
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from agent.rules.intents import (
    COOKIE,
    COOKIE_MASK,
    GROUP_BASE,
    METER_BASE,
    Intent,
    from_json,
)

PROTOCOL_VERSION = 1
LINE_LIMIT = 64 << 20  # one monitor record of a big switch can be a few MB
BatchOp = Literal["add", "modify", "delete"]


class ControllerUnavailable(ConnectionError):
    """The controller cannot be reached, closed the connection, or stopped answering."""


class ControllerTimeout(ControllerUnavailable, TimeoutError):
    """A request got no response in time."""


class ControllerError(RuntimeError):
    """The controller answered a request with ok=false."""


@dataclass(frozen=True)
class Hello:
    protocol: int
    controller: str
    datapaths: tuple[int, ...]


@dataclass(frozen=True)
class Port:
    port_no: int
    name: str
    hw_addr: str
    up: bool


@dataclass(frozen=True)
class Datapath:
    dpid: int
    connected: bool
    ports: tuple[Port, ...]


@dataclass(frozen=True)
class Topology:
    datapaths: dict[int, Datapath]
    links: tuple[dict[str, int], ...]


@dataclass(frozen=True)
class MessageError:
    """One batch entry the controller or a switch rejected (type -1: controller side)."""

    index: int | None
    dpid: int | None
    type: int
    code: int
    message: str


@dataclass(frozen=True)
class ApplyResult:
    errors: tuple[MessageError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class Monitor:
    """One statistics record of one switch; ``ts`` is when the controller got it."""

    dpid: int
    ts: float
    ports: tuple[dict[str, int], ...]
    flows: tuple[dict[str, Any], ...]
    groups: tuple[dict[str, Any], ...]
    meters: tuple[dict[str, int], ...]


@dataclass(frozen=True)
class Event:
    """switch_up/down, port_status, link_up/down; ``data`` holds the other fields."""

    event: str
    ts: float
    dpid: int | None
    data: dict[str, Any] = field(default_factory=dict)


Notification = Monitor | Event


def parse_notification(message: dict[str, Any]) -> Notification | None:
    if message.get("type") == "monitor":
        return Monitor(
            int(message["dpid"]),
            float(message["ts"]),
            tuple(message.get("ports", ())),
            tuple(message.get("flows", ())),
            tuple(message.get("groups", ())),
            tuple(message.get("meters", ())),
        )
    if message.get("type") == "event":
        data = {k: v for k, v in message.items() if k not in ("v", "type", "event", "ts", "dpid")}
        dpid = message.get("dpid")
        return Event(str(message["event"]), float(message["ts"]), dpid, data)
    return None


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

    async def request(self, op: str, timeout: float | None = None, **fields: Any) -> dict[str, Any]:
        """Send one request; its response (ok or with per-message errors)."""
        if self._writer is None or self.closed:
            raise ControllerUnavailable(f"not connected ({self._closed_reason or 'never opened'})")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        line = json.dumps({"v": PROTOCOL_VERSION, "id": request_id, "op": op, **fields})
        try:
            self._writer.write(line.encode() + b"\n")
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
        r = await self.request("hello", agent=self.agent)
        return Hello(int(r["protocol"]), str(r["controller"]), tuple(r["datapaths"]))

    async def topology(self) -> Topology:
        r = await self.request("topology")
        datapaths = {
            int(dpid): Datapath(
                int(dpid), bool(d["connected"]), tuple(Port(**p) for p in d.get("ports", ()))
            )
            for dpid, d in r["datapaths"].items()
        }
        return Topology(datapaths, tuple(r.get("links", ())))

    async def subscribe(self, interval: float) -> float:
        """Start notifications; the polling interval the controller will use."""
        r = await self.request("subscribe", interval=interval)
        return float(r.get("interval", interval))

    async def unsubscribe(self) -> None:
        await self.request("unsubscribe")

    async def apply(
        self, batch: Sequence[tuple[BatchOp, Intent]], timeout: float | None = None
    ) -> ApplyResult:
        wire = [{"op": op, "intent": intent.to_json()} for op, intent in batch]
        r = await self.request("apply", timeout=timeout, batch=wire)
        errors = tuple(
            MessageError(e.get("index"), e.get("dpid"), int(e["type"]), int(e["code"]),
                         str(e.get("message", "")))
            for e in r.get("errors", ())
        )  # fmt: skip
        return ApplyResult(errors)

    async def dump(
        self,
        cookie: int = COOKIE,
        cookie_mask: int = COOKIE_MASK,
        group_range: tuple[int, int] = (GROUP_BASE, GROUP_BASE + 0xFFFFFF),
        meter_range: tuple[int, int] = (METER_BASE, METER_BASE + 0xFF),
        dpids: frozenset[int] | None = None,
    ) -> list[Intent]:
        """What is installed on every connected switch (or on ``dpids``) inside our
        cookie and id ranges."""
        only: dict[str, Any] = {} if dpids is None else {"dpids": sorted(dpids)}
        r = await self.request(
            "dump",
            **only,
            cookie=cookie,
            cookie_mask=cookie_mask,
            group_min=group_range[0],
            group_max=group_range[1],
            meter_min=meter_range[0],
            meter_max=meter_range[1],
        )
        return [from_json(rule) for rule in r["rules"]]

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
                self._on_message(json.loads(line))
        except (OSError, ValueError) as exc:
            reason = f"connection failed: {exc}"
        finally:
            self._shutdown(reason)

    def _on_message(self, message: Any) -> None:
        if not isinstance(message, dict):
            return
        if "id" in message:
            future = self._pending.get(message["id"]) if message["id"] is not None else None
            if future is not None and not future.done():
                future.set_result(message)
            return
        note = parse_notification(message)
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
