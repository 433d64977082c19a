"""Notifications of the controller link: statistics (``monitor``) and events.

A ``monitor`` record carries the statistics sections its subscriber asked for
(``Subscription.sections``); a section it did not ask for is absent (``None`` here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from agent.protocol.wire import (
    PROTOCOL_VERSION,
    Section,
    WireError,
    integer,
    items,
    mapping,
    number,
    text,
)
from agent.rules.intents import MatchValue

EventName = Literal["switch_up", "switch_down", "port_status", "link_up", "link_down"]
EVENT_NAMES: frozenset[str] = frozenset(
    {"switch_up", "switch_down", "port_status", "link_up", "link_down"}
)
PortReason = Literal["add", "delete", "modify"]


def _ints(cls: Any, data: Mapping[str, Any], where: str) -> Any:
    """A record whose fields are all integers, read by name."""
    return cls(**{name: integer(data, name, where) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class PortStats:
    port_no: int
    rx_packets: int = 0
    tx_packets: int = 0
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_dropped: int = 0
    tx_dropped: int = 0

    def to_wire(self) -> dict[str, int]:
        return dict(self.__dict__)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> PortStats:
        return _ints(cls, data, "monitor.ports")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class FlowStats:
    """Counters of one flow entry (ours or not), named by its strict match."""

    table: int
    priority: int
    match: tuple[tuple[str, MatchValue], ...]
    cookie: int
    packet_count: int
    byte_count: int

    def to_wire(self) -> dict[str, Any]:
        return {**self.__dict__, "match": dict(self.match)}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> FlowStats:
        where = "monitor.flows"
        match = mapping(data.get("match", {}), f"{where}.match")
        return cls(
            integer(data, "table", where),
            integer(data, "priority", where),
            tuple(sorted(match.items())),
            integer(data, "cookie", where),
            integer(data, "packet_count", where),
            integer(data, "byte_count", where),
        )


@dataclass(frozen=True)
class BucketStats:
    packet_count: int
    byte_count: int


@dataclass(frozen=True)
class GroupStats:
    group_id: int
    packet_count: int
    byte_count: int
    buckets: tuple[BucketStats, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {**self.__dict__, "buckets": [b.__dict__ for b in self.buckets]}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> GroupStats:
        where = "monitor.groups"
        buckets = tuple(
            _ints(BucketStats, mapping(b, f"{where}.buckets"), f"{where}.buckets")
            for b in items(data, "buckets", where)
        )
        return cls(
            integer(data, "group_id", where),
            integer(data, "packet_count", where),
            integer(data, "byte_count", where),
            buckets,
        )


@dataclass(frozen=True)
class MeterStats:
    meter_id: int
    packet_count: int
    byte_count: int

    def to_wire(self) -> dict[str, int]:
        return dict(self.__dict__)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> MeterStats:
        return _ints(cls, data, "monitor.meters")  # type: ignore[no-any-return]


_SECTION_TYPES: dict[str, Any] = {
    "ports": PortStats,
    "flows": FlowStats,
    "groups": GroupStats,
    "meters": MeterStats,
}


@dataclass(frozen=True)
class Monitor:
    """One statistics record of one switch; ``ts`` is when the controller got it."""

    dpid: int
    ts: float
    ports: tuple[PortStats, ...] | None = None
    flows: tuple[FlowStats, ...] | None = None
    groups: tuple[GroupStats, ...] | None = None
    meters: tuple[MeterStats, ...] | None = None

    def only(self, sections: frozenset[Section]) -> Monitor:
        """This record with just ``sections`` (the others absent)."""
        return Monitor(
            self.dpid,
            self.ts,
            self.ports if "ports" in sections else None,
            self.flows if "flows" in sections else None,
            self.groups if "groups" in sections else None,
            self.meters if "meters" in sections else None,
        )

    def to_wire(self) -> dict[str, Any]:
        message: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": "monitor"}
        message.update(ts=self.ts, dpid=self.dpid)
        for section in _SECTION_TYPES:
            entries = getattr(self, section)
            if entries is not None:
                message[section] = [entry.to_wire() for entry in entries]
        return message

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Monitor:
        sections = {
            name: tuple(
                kind.from_wire(mapping(e, f"monitor.{name}")) for e in items(data, name, "monitor")
            )
            for name, kind in _SECTION_TYPES.items()
            if name in data
        }
        return cls(integer(data, "dpid", "monitor"), number(data, "ts", "monitor"), **sections)


@dataclass(frozen=True)
class Event:
    """switch_up/down, port_status, link_up/down; ``data`` holds the other fields
    (port_status: port_no, up, reason; links: src_dpid, src_port, dst_dpid, dst_port)."""

    event: EventName
    ts: float
    dpid: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def switch(cls, up: bool, dpid: int, ts: float) -> Event:
        return cls("switch_up" if up else "switch_down", ts, dpid)

    @classmethod
    def port_status(cls, dpid: int, port_no: int, up: bool, reason: PortReason, ts: float) -> Event:
        return cls("port_status", ts, dpid, {"port_no": port_no, "up": up, "reason": reason})

    def to_wire(self) -> dict[str, Any]:
        message: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": "event", "event": self.event}
        if self.dpid is not None:
            message["dpid"] = self.dpid
        message.update(self.data)
        message["ts"] = self.ts
        return message

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Event:
        name = text(data, "event", "event")
        if name not in EVENT_NAMES:
            raise WireError(f"event.event: unknown event {name!r}")
        dpid = integer(data, "dpid", "event") if data.get("dpid") is not None else None
        rest = {k: v for k, v in data.items() if k not in ("v", "type", "event", "ts", "dpid")}
        return cls(name, number(data, "ts", "event"), dpid, rest)  # type: ignore[arg-type]


Notification = Monitor | Event


def parse_notification(message: Mapping[str, Any]) -> Notification | None:
    """A notification record; None for a type this version does not know."""
    kind = message.get("type")
    if kind == "monitor":
        return Monitor.from_wire(message)
    if kind == "event":
        return Event.from_wire(message)
    return None
