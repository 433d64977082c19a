"""Request and response records of the controller link.

Each record is a frozen dataclass with ``to_wire()`` (the JSON body, without the
envelope of ``wire.request``/``wire.response``) and ``from_wire()`` (WireError, naming
the field, on anything malformed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from agent.protocol.wire import (
    BATCH_OPS,
    DEFAULT_SECTIONS,
    GROUP_RANGE,
    LOCAL_ERROR_TYPE,
    METER_RANGE,
    OWN_COOKIE,
    OWN_COOKIE_MASK,
    PROTOCOL_VERSION,
    SECTIONS,
    BatchOp,
    Section,
    WireError,
    flag,
    integer,
    items,
    mapping,
    optional_int,
    text,
)
from agent.rules.intents import Intent, IntentError, from_json


@dataclass(frozen=True)
class Hello:
    """The answer to ``hello``: protocol, controller name, connected switches."""

    controller: str
    datapaths: tuple[int, ...]
    protocol: int = PROTOCOL_VERSION

    def to_wire(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "controller": self.controller,
            "datapaths": list(self.datapaths),
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Hello:
        dpids = items(data, "datapaths", "hello")
        return cls(
            text(data, "controller", "hello"),
            tuple(integer({"dpid": d}, "dpid", "hello.datapaths") for d in dpids),
            integer(data, "protocol", "hello"),
        )


@dataclass(frozen=True)
class Port:
    """One switch port; ``up``: link up and not administratively down."""

    port_no: int
    name: str
    hw_addr: str
    up: bool

    def to_wire(self) -> dict[str, Any]:
        return {"port_no": self.port_no, "name": self.name, "hw_addr": self.hw_addr, "up": self.up}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], where: str = "port") -> Port:
        return cls(
            integer(data, "port_no", where),
            text(data, "name", where),
            text(data, "hw_addr", where),
            flag(data, "up", where),
        )


@dataclass(frozen=True)
class Datapath:
    dpid: int
    connected: bool
    ports: tuple[Port, ...]


@dataclass(frozen=True)
class Link:
    src_dpid: int
    src_port: int
    dst_dpid: int
    dst_port: int

    def to_wire(self) -> dict[str, int]:
        return {
            "src_dpid": self.src_dpid,
            "src_port": self.src_port,
            "dst_dpid": self.dst_dpid,
            "dst_port": self.dst_port,
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], where: str = "link") -> Link:
        names = ("src_dpid", "src_port", "dst_dpid", "dst_port")
        return cls(*(integer(data, name, where) for name in names))


@dataclass(frozen=True)
class Topology:
    """The answer to ``topology``: switches (by dpid) with their ports, and links."""

    datapaths: Mapping[int, Datapath]
    links: tuple[Link, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {
            "datapaths": {
                str(dpid): {"connected": d.connected, "ports": [p.to_wire() for p in d.ports]}
                for dpid, d in sorted(self.datapaths.items())
            },
            "links": [link.to_wire() for link in self.links],
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Topology:
        datapaths = {}
        for key, raw in mapping(data.get("datapaths", {}), "topology.datapaths").items():
            where = f"topology.datapaths.{key}"
            if not str(key).isdigit():
                raise WireError(f"{where}: a dpid key is a decimal string")
            entry = mapping(raw, where)
            ports = tuple(
                Port.from_wire(mapping(p, f"{where}.ports"), f"{where}.ports")
                for p in items(entry, "ports", where)
            )
            datapaths[int(key)] = Datapath(int(key), flag(entry, "connected", where), ports)
        links = tuple(
            Link.from_wire(mapping(ln, "topology.links"), "topology.links")
            for ln in items(data, "links", "topology")
        )
        return cls(datapaths, links)


@dataclass(frozen=True)
class Subscription:
    """A ``subscribe`` request: the polling interval and the statistics wanted."""

    interval: float
    sections: frozenset[Section] = DEFAULT_SECTIONS

    def to_wire(self) -> dict[str, Any]:
        return {"interval": self.interval, "stats": [s for s in SECTIONS if s in self.sections]}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], default_interval: float) -> Subscription:
        raw = data.get("interval", default_interval)
        if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
            raise WireError("subscribe.interval must be a positive number of seconds")
        wanted = data.get("stats", sorted(DEFAULT_SECTIONS))
        if not isinstance(wanted, list) or not all(s in SECTIONS for s in wanted):
            raise WireError(f"subscribe.stats must be a list of {', '.join(SECTIONS)}")
        return cls(float(raw), frozenset(cast(list[Section], wanted)))


@dataclass(frozen=True)
class DumpRequest:
    """A ``dump`` request: which of the installed rules to read back."""

    cookie: int = OWN_COOKIE
    cookie_mask: int = OWN_COOKIE_MASK
    group_range: tuple[int, int] = GROUP_RANGE
    meter_range: tuple[int, int] = METER_RANGE
    dpids: frozenset[int] | None = None  # None: every connected switch

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "cookie": self.cookie,
            "cookie_mask": self.cookie_mask,
            "group_min": self.group_range[0],
            "group_max": self.group_range[1],
            "meter_min": self.meter_range[0],
            "meter_max": self.meter_range[1],
        }
        if self.dpids is not None:
            body["dpids"] = sorted(self.dpids)
        return body

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> DumpRequest:
        def bounds(name: str, default: tuple[int, int]) -> tuple[int, int]:
            low = integer(data, f"{name}_min", "dump", default[0])
            return low, integer(data, f"{name}_max", "dump", default[1])

        dpids = None
        if data.get("dpids") is not None:
            dpids = frozenset(
                integer({"dpid": d}, "dpid", "dump.dpids") for d in items(data, "dpids", "dump")
            )
        return cls(
            integer(data, "cookie", "dump", OWN_COOKIE),
            integer(data, "cookie_mask", "dump", OWN_COOKIE_MASK),
            bounds("group", GROUP_RANGE),
            bounds("meter", METER_RANGE),
            dpids,
        )


@dataclass(frozen=True)
class DumpReply:
    """The answer to ``dump``: our rules as intents."""

    rules: tuple[Intent, ...]

    def to_wire(self) -> dict[str, Any]:
        return {"rules": [rule.to_json() for rule in self.rules]}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> DumpReply:
        return cls(tuple(_intent(r, "dump.rules") for r in items(data, "rules", "dump")))


@dataclass(frozen=True)
class BatchEntry:
    """One entry of an ``apply`` batch: add, modify or delete one intent."""

    op: BatchOp
    intent: Intent

    def to_wire(self) -> dict[str, Any]:
        return {"op": self.op, "intent": self.intent.to_json()}

    @classmethod
    def from_wire(cls, data: Any, where: str = "batch entry") -> BatchEntry:
        entry = mapping(data, where)
        op = entry.get("op")
        if op not in BATCH_OPS:
            raise WireError(f"{where}.op: expected add, modify or delete, got {op!r}")
        return cls(cast(BatchOp, op), _intent(entry.get("intent"), f"{where}.intent"))


@dataclass(frozen=True)
class BatchError:
    """One batch entry the controller (type -1) or a switch rejected."""

    index: int  # into the batch
    dpid: int | None  # None when the entry did not even name a switch
    type: int
    code: int
    message: str

    @classmethod
    def local(cls, index: int, dpid: int | None, code: int, message: str) -> BatchError:
        """An error the controller found itself (codes in ``wire``)."""
        return cls(index, dpid, LOCAL_ERROR_TYPE, code, message)

    def to_wire(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "dpid": self.dpid,
            "type": self.type,
            "code": self.code,
            "message": self.message,
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], where: str = "apply.errors") -> BatchError:
        return cls(
            integer(data, "index", where),
            optional_int(data, "dpid", where),
            integer(data, "type", where),
            integer(data, "code", where),
            text(data, "message", where, ""),
        )


@dataclass(frozen=True)
class ApplyResult:
    """The answer to ``apply``: the rejected entries, by batch index."""

    errors: tuple[BatchError, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_wire(self) -> dict[str, Any]:
        return {"errors": [e.to_wire() for e in self.errors]}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ApplyResult:
        return cls(
            tuple(
                BatchError.from_wire(mapping(e, "apply.errors"))
                for e in items(data, "errors", "apply")
            )
        )

    @classmethod
    def sorted(cls, errors: Iterable[BatchError]) -> ApplyResult:
        return cls(tuple(sorted(errors, key=lambda e: e.index)))


def _intent(raw: Any, where: str) -> Intent:
    try:
        return from_json(mapping(raw, where))
    except (IntentError, AttributeError, TypeError) as exc:  # e.g. a match that is a list
        raise WireError(f"{where}: {exc}") from None


__all__ = [
    "ApplyResult",
    "BatchEntry",
    "BatchError",
    "Datapath",
    "DumpReply",
    "DumpRequest",
    "Hello",
    "Link",
    "Port",
    "Subscription",
    "Topology",
]
