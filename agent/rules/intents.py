"""OpenFlow 1.3 intents: what we want installed, as plain data.

A flow, group or meter intent names its switch by datapath id and says everything
needed to install it; ``to_json``/``from_json`` give the wire form of the controller
protocol (docs/controller-protocol.md). Match fields and set-field names are OXM
names as os-ken spells them (``in_port``, ``eth_type``, ``mpls_label``, ``ipv4_dst``,
``ip_proto``, ``udp_dst`` ...). Actions are tuples:

    ("output", port)            ("group", group_id)
    ("push_mpls", ethertype)    ("pop_mpls", ethertype)
    ("set_field", field, value) ("dec_mpls_ttl",)

An empty action list drops the packet.

Ownership: flows carry our cookie (``COOKIE`` under ``COOKIE_MASK``); groups and
meters carry ids inside our ranges. Nothing outside them is ever touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

COOKIE = 0x5DC0_0000_0000_0001
COOKIE_MASK = 0xFFFF_0000_0000_0000
GROUP_BASE = 0x5D00_0000  # our group ids: GROUP_BASE .. GROUP_BASE + 0xFFFFFF
METER_BASE = 0x5D00  # our meter ids: METER_BASE .. METER_BASE + 0xFF

ActionValue = int | str
Action = tuple[ActionValue, ...]
MatchValue = int | str

ACTION_ARITY = {
    "output": 1,
    "group": 1,
    "push_mpls": 1,
    "pop_mpls": 1,
    "set_field": 2,
    "dec_mpls_ttl": 0,
}


class IntentError(ValueError):
    """Malformed intent (bad wire form or an action we do not know)."""


def _check_actions(actions: tuple[Action, ...]) -> None:
    for action in actions:
        if not action or action[0] not in ACTION_ARITY:
            raise IntentError(f"unknown action {action!r}")
        if len(action) - 1 != ACTION_ARITY[str(action[0])]:
            raise IntentError(f"action {action!r} takes {ACTION_ARITY[str(action[0])]} argument(s)")


@dataclass(frozen=True)
class FlowIntent:
    dpid: int
    table: int
    priority: int
    match: tuple[tuple[str, MatchValue], ...]
    actions: tuple[Action, ...] = ()
    goto_table: int | None = None
    meter_id: int | None = None
    cookie: int = COOKIE

    def __post_init__(self) -> None:
        _check_actions(self.actions)

    @property
    def key(self) -> tuple[str, int, int, int, tuple[tuple[str, MatchValue], ...]]:
        """What identifies a flow entry on a switch (OpenFlow's strict match)."""
        return ("flow", self.dpid, self.table, self.priority, self.match)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "flow",
            "dpid": self.dpid,
            "table": self.table,
            "priority": self.priority,
            "match": dict(self.match),
            "actions": [list(a) for a in self.actions],
            "goto_table": self.goto_table,
            "meter_id": self.meter_id,
            "cookie": self.cookie,
        }


@dataclass(frozen=True)
class Bucket:
    weight: int
    actions: tuple[Action, ...]

    def __post_init__(self) -> None:
        _check_actions(self.actions)
        if not 0 <= self.weight <= 0xFFFF:
            raise IntentError(f"bucket weight {self.weight} outside 0..65535")


GroupType = Literal["select", "all", "indirect", "ff"]


@dataclass(frozen=True)
class GroupIntent:
    dpid: int
    group_id: int
    type: GroupType
    buckets: tuple[Bucket, ...] = field(default=())

    @property
    def key(self) -> tuple[str, int, int]:
        return ("group", self.dpid, self.group_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "group",
            "dpid": self.dpid,
            "group_id": self.group_id,
            "type": self.type,
            "buckets": [
                {"weight": b.weight, "actions": [list(a) for a in b.actions]} for b in self.buckets
            ],
        }


@dataclass(frozen=True)
class MeterIntent:
    dpid: int
    meter_id: int
    rate: int  # kbit/s (unit kbps) or packets/s (unit pktps)
    burst: int = 0
    unit: Literal["kbps", "pktps"] = "kbps"

    @property
    def key(self) -> tuple[str, int, int]:
        return ("meter", self.dpid, self.meter_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "meter",
            "dpid": self.dpid,
            "meter_id": self.meter_id,
            "rate": self.rate,
            "burst": self.burst,
            "unit": self.unit,
        }


Intent = FlowIntent | GroupIntent | MeterIntent


def _actions(raw: Any) -> tuple[Action, ...]:
    if not isinstance(raw, list):
        raise IntentError("actions must be a list")
    return tuple(tuple(a) for a in raw)


def from_json(data: Mapping[str, Any]) -> Intent:
    """Parse the wire form; IntentError on anything malformed."""
    try:
        kind = data["kind"]
        if kind == "flow":
            match = data.get("match") or {}
            return FlowIntent(
                dpid=int(data["dpid"]),
                table=int(data["table"]),
                priority=int(data["priority"]),
                match=tuple(sorted((str(k), v) for k, v in match.items())),
                actions=_actions(data.get("actions", [])),
                goto_table=data.get("goto_table"),
                meter_id=data.get("meter_id"),
                cookie=int(data.get("cookie", COOKIE)),
            )
        if kind == "group":
            seen: dict[tuple[int, tuple[Action, ...]], Bucket] = {}  # buckets repeat
            buckets = []
            for b in data["buckets"]:
                key = (int(b.get("weight", 0)), _actions(b["actions"]))
                bucket = seen.get(key)
                if bucket is None:
                    bucket = seen[key] = Bucket(*key)
                buckets.append(bucket)
            return GroupIntent(
                int(data["dpid"]), int(data["group_id"]), data["type"], tuple(buckets)
            )
        if kind == "meter":
            return MeterIntent(
                int(data["dpid"]),
                int(data["meter_id"]),
                int(data["rate"]),
                int(data.get("burst", 0)),
                data.get("unit", "kbps"),
            )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, IntentError):
            raise
        raise IntentError(f"malformed intent {dict(data)!r}: {exc}") from None
    raise IntentError(f"unknown intent kind {data.get('kind')!r}")


def flow(
    dpid: int,
    table: int,
    priority: int,
    match: Mapping[str, MatchValue],
    actions: tuple[Action, ...] = (),
    goto_table: int | None = None,
    meter_id: int | None = None,
) -> FlowIntent:
    """A FlowIntent with its match in canonical (sorted) order."""
    return FlowIntent(
        dpid, table, priority, tuple(sorted(match.items())), actions, goto_table, meter_id
    )
