"""An OpenFlow 1.3 switch in memory, standing in for os-ken's ``Datapath``.

It has what the controller code uses of a Datapath (``id``, ``ofproto``,
``ofproto_parser``, ``ports``, ``send_msg``) and behaves like a switch for the
messages we send: every message is serialized as os-ken would put it on the wire
(flow mods are parsed back from those bytes, as a switch reads them); flow, group
and meter mods change its tables, with the errors Open vSwitch gives (a flow
pointing at a missing group, meter id 0, a group added twice); statistics requests
get replies built from the tables; barriers get barrier replies. Replies and errors
go to the app's own event handlers, at once (inside ``send_msg``), as os-ken's event
thread would deliver them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from controllers.app import CoordinationShell
from controllers.compat import DEAD_DISPATCHER, MAIN_DISPATCHER, OFP, PARSER

FlowKey = tuple[int, int, tuple[tuple[str, Any], ...]]


def _key(table: int, priority: int, match: Any) -> FlowKey:
    return (table, priority, tuple(sorted(match.items())))


@dataclass(eq=False)
class FakeSwitch:
    """One switch, connected to ``app``; ``send_msg`` is what the code under test calls."""

    id: int
    app: CoordinationShell
    port_numbers: tuple[int, ...] = (1, 2, 3)
    silent: bool = False  # True: applies what it gets but never answers (no replies)
    connected: bool = True  # False: send_msg fails, as os-ken's does once a switch is gone
    split_replies: bool = False  # statistics replies in two parts (OFPMPF_REPLY_MORE)
    received: list[Any] = field(default_factory=list)
    flows: dict[FlowKey, Any] = field(default_factory=dict)  # parsed flow mods
    groups: dict[int, Any] = field(default_factory=dict)  # group mods
    meters: dict[int, Any] = field(default_factory=dict)  # meter mods

    ofproto: Any = OFP
    ofproto_parser: Any = PARSER

    @property
    def ports(self) -> dict[int, Any]:
        """Port descriptions, as os-ken's Datapath keeps them (LOCAL included)."""
        numbers = (*self.port_numbers, OFP.OFPP_LOCAL)
        return {no: port(no, f"s{self.id}-eth{no}") for no in numbers}

    # ------------------------------------------------------------ connection

    def connect(self) -> None:
        self.connected = True
        self.app._state_change(SimpleNamespace(datapath=self, state=MAIN_DISPATCHER))

    def disconnect(self) -> None:
        self.connected = False
        self.app._state_change(SimpleNamespace(datapath=self, state=DEAD_DISPATCHER))

    def send_msg(self, msg: Any) -> bool:
        if not self.connected:
            return False
        msg.serialize()  # what os-ken's Datapath does: it must encode
        self.received.append(msg)
        self._handle(msg)
        return True

    # ------------------------------------------------------------ messages

    def _handle(self, msg: Any) -> None:
        if isinstance(msg, PARSER.OFPFlowMod):
            self._flow_mod(PARSER.OFPFlowMod.parser(
                self, msg.version, msg.msg_type, msg.msg_len, msg.xid, bytes(msg.buf)
            ))  # fmt: skip
        elif isinstance(msg, PARSER.OFPGroupMod):
            self._group_mod(msg)
        elif isinstance(msg, PARSER.OFPMeterMod):
            self._meter_mod(msg)
        elif isinstance(msg, PARSER.OFPBarrierRequest):
            if not self.silent:
                self._reply(PARSER.OFPBarrierReply(self), msg.xid, self.app._barrier_reply)
        else:
            self._stats(msg)

    def _error(self, msg: Any, type_: int, code: int) -> None:
        error = PARSER.OFPErrorMsg(self, type_, code, b"")
        error.xid = msg.xid
        self.app._error(SimpleNamespace(msg=error))

    def _reply(self, reply: Any, xid: int, handler: Any) -> None:
        reply.xid = xid
        handler(SimpleNamespace(msg=reply))

    def _flow_mod(self, mod: Any) -> None:
        key = _key(mod.table_id, mod.priority, mod.match)
        if mod.command == OFP.OFPFC_DELETE_STRICT:
            self.flows.pop(key, None)
            return
        for inst in mod.instructions:
            if isinstance(inst, PARSER.OFPInstructionMeter) and inst.meter_id not in self.meters:
                return self._error(mod, OFP.OFPET_METER_MOD_FAILED, OFP.OFPMMFC_UNKNOWN_METER)
            for action in getattr(inst, "actions", []):
                if isinstance(action, PARSER.OFPActionGroup) and action.group_id not in self.groups:
                    return self._error(mod, OFP.OFPET_BAD_ACTION, OFP.OFPBAC_BAD_OUT_GROUP)
        if mod.command == OFP.OFPFC_ADD or key in self.flows:
            self.flows[key] = mod  # a strict modify of a missing flow does nothing
        return None

    def _group_mod(self, mod: Any) -> None:
        if mod.command == OFP.OFPGC_DELETE:
            self.groups.pop(mod.group_id, None)
        elif mod.command == OFP.OFPGC_ADD and mod.group_id in self.groups:
            self._error(mod, OFP.OFPET_GROUP_MOD_FAILED, OFP.OFPGMFC_GROUP_EXISTS)
        elif mod.command == OFP.OFPGC_MODIFY and mod.group_id not in self.groups:
            self._error(mod, OFP.OFPET_GROUP_MOD_FAILED, OFP.OFPGMFC_UNKNOWN_GROUP)
        else:
            self.groups[mod.group_id] = mod

    def _meter_mod(self, mod: Any) -> None:
        if mod.meter_id == 0 or mod.meter_id > OFP.OFPM_MAX:
            self._error(mod, OFP.OFPET_METER_MOD_FAILED, OFP.OFPMMFC_INVALID_METER)
        elif mod.command == OFP.OFPMC_DELETE:
            self.meters.pop(mod.meter_id, None)
        else:
            self.meters[mod.meter_id] = mod

    # ------------------------------------------------------------ statistics

    def _stats(self, msg: Any) -> None:
        reply_type, body = self._stats_body(msg)
        if self.silent:
            return
        parts = [body[: len(body) // 2], body[len(body) // 2 :]] if self.split_replies else [body]
        for n, part in enumerate(parts):
            more = OFP.OFPMPF_REPLY_MORE if n < len(parts) - 1 else 0
            self._reply(reply_type(self, body=part, flags=more), msg.xid, self.app._stats_reply)

    def _stats_body(self, msg: Any) -> tuple[Any, list[Any]]:
        if isinstance(msg, PARSER.OFPFlowStatsRequest):
            mask = msg.cookie_mask
            mods = [m for m in self.flows.values() if m.cookie & mask == msg.cookie & mask]
            return PARSER.OFPFlowStatsReply, [flow_stats(m) for m in mods]
        if isinstance(msg, PARSER.OFPGroupDescStatsRequest):
            groups = self.groups.values()
            body = [PARSER.OFPGroupDescStats(g.type, g.group_id, g.buckets) for g in groups]
            return PARSER.OFPGroupDescStatsReply, body
        if isinstance(msg, PARSER.OFPMeterConfigStatsRequest):
            meters = self.meters.values()
            body = [PARSER.OFPMeterConfigStats(m.flags, m.meter_id, m.bands) for m in meters]
            return PARSER.OFPMeterConfigStatsReply, body
        if isinstance(msg, PARSER.OFPPortStatsRequest):
            return PARSER.OFPPortStatsReply, [port_stats(no) for no in self.ports]
        if isinstance(msg, PARSER.OFPGroupStatsRequest):
            return PARSER.OFPGroupStatsReply, [group_stats(g) for g in self.groups.values()]
        if isinstance(msg, PARSER.OFPMeterStatsRequest):
            return PARSER.OFPMeterStatsReply, [meter_stats(m) for m in self.meters.values()]
        raise AssertionError(f"the fake switch does not know {type(msg).__name__}")


def port(port_no: int, name: str, up: bool = True) -> Any:
    state = 0 if up else OFP.OFPPS_LINK_DOWN
    hw_addr = f"02:00:00:00:00:{port_no & 0xFF:02x}"
    return PARSER.OFPPort(port_no, hw_addr, name.encode(), 0, state, 0, 0, 0, 0, 0, 0)


def flow_stats(mod: Any) -> Any:
    return PARSER.OFPFlowStats(
        table_id=mod.table_id, duration_sec=1, duration_nsec=0, priority=mod.priority,
        idle_timeout=0, hard_timeout=0, flags=0, cookie=mod.cookie, packet_count=7,
        byte_count=700, match=mod.match, instructions=mod.instructions,
    )  # fmt: skip


def port_stats(port_no: int) -> Any:
    counters = [port_no * 10 + n for n in range(6)]  # rx/tx packets, bytes, dropped
    return PARSER.OFPPortStats(port_no, *counters, *([0] * 8))


def group_stats(mod: Any) -> Any:
    buckets = [PARSER.OFPBucketCounter(3, 300) for _ in mod.buckets]
    return PARSER.OFPGroupStats(
        group_id=mod.group_id, ref_count=1, packet_count=3 * len(buckets),
        byte_count=300 * len(buckets), duration_sec=1, duration_nsec=0, bucket_stats=buckets,
    )  # fmt: skip


def meter_stats(mod: Any) -> Any:
    return PARSER.OFPMeterStats(
        meter_id=mod.meter_id, flow_count=1, packet_in_count=5, byte_in_count=500,
        duration_sec=1, duration_nsec=0, band_stats=[],
    )  # fmt: skip
