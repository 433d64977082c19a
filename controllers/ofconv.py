"""Intent <-> OpenFlow 1.3 conversion: the only place that knows both spellings.

``to_message`` builds the FlowMod/GroupMod/MeterMod for one batch entry; the
``*_from_stats`` functions turn dump replies back into intents; ``monitor_*`` turn
statistics replies into the records of a ``monitor`` notification (agent.protocol).
"""

from __future__ import annotations

from typing import Any, cast

from agent.protocol import (
    OWN_COOKIE_MASK,
    BatchOp,
    BucketStats,
    FlowStats,
    GroupStats,
    MeterStats,
    Port,
    PortStats,
)
from agent.rules.intents import (
    Action,
    Bucket,
    FlowIntent,
    GroupIntent,
    GroupType,
    Intent,
    MatchValue,
    MeterIntent,
)
from controllers.compat import OFP, PARSER

# symbolic output ports an intent may name instead of a number
PORT_NAMES: dict[str, int] = {
    "in_port": OFP.OFPP_IN_PORT,
    "controller": OFP.OFPP_CONTROLLER,
    "flood": OFP.OFPP_FLOOD,
    "all": OFP.OFPP_ALL,
    "local": OFP.OFPP_LOCAL,
}
_PORT_BY_NUMBER = {v: k for k, v in PORT_NAMES.items()}

GROUP_TYPES: dict[str, int] = {
    "select": OFP.OFPGT_SELECT,
    "all": OFP.OFPGT_ALL,
    "indirect": OFP.OFPGT_INDIRECT,
    "ff": OFP.OFPGT_FF,
}
_GROUP_TYPE_NAMES = {v: k for k, v in GROUP_TYPES.items()}

_FLOW_COMMANDS = {"add": OFP.OFPFC_ADD, "modify": OFP.OFPFC_MODIFY_STRICT}
_GROUP_COMMANDS = {"add": OFP.OFPGC_ADD, "modify": OFP.OFPGC_MODIFY, "delete": OFP.OFPGC_DELETE}
_METER_COMMANDS = {"add": OFP.OFPMC_ADD, "modify": OFP.OFPMC_MODIFY, "delete": OFP.OFPMC_DELETE}


class ConversionError(ValueError):
    """An intent that cannot be expressed as an OpenFlow 1.3 message."""


# ---------------------------------------------------------------- intent -> OpenFlow


def _port(value: Any) -> int:
    if isinstance(value, str):
        if value in PORT_NAMES:
            return PORT_NAMES[value]
        raise ConversionError(f"unknown port name {value!r}")
    return int(value)


def _match_value(value: MatchValue) -> Any:
    """'value/mask' strings become os-ken's (value, mask) tuples."""
    if isinstance(value, str) and "/" in value:
        addr, mask = value.split("/", 1)
        return (addr, mask)
    return value


def build_match(match: tuple[tuple[str, MatchValue], ...]) -> Any:
    try:
        return PARSER.OFPMatch(**{k: _match_value(v) for k, v in match})
    except (KeyError, TypeError, ValueError) as exc:
        raise ConversionError(f"bad match {dict(match)!r}: {exc}") from None


def build_action(action: Action) -> Any:
    name, args = action[0], action[1:]
    try:
        if name == "output":
            return PARSER.OFPActionOutput(_port(args[0]), OFP.OFPCML_NO_BUFFER)
        if name == "group":
            return PARSER.OFPActionGroup(int(args[0]))
        if name == "push_mpls":
            return PARSER.OFPActionPushMpls(int(args[0]))
        if name == "pop_mpls":
            return PARSER.OFPActionPopMpls(int(args[0]))
        if name == "dec_mpls_ttl":
            return PARSER.OFPActionDecMplsTtl()
        if name == "set_field":
            OFP.oxm_from_user(str(args[0]), args[1])  # an unknown field fails here, not later
            return PARSER.OFPActionSetField(**{str(args[0]): args[1]})
    except (KeyError, TypeError, ValueError) as exc:
        raise ConversionError(f"bad action {action!r}: {exc}") from None
    raise ConversionError(f"unknown action {action!r}")


def _flow_mod(dp: Any, op: BatchOp, intent: FlowIntent) -> Any:
    match = build_match(intent.match)
    if op == "delete":
        return PARSER.OFPFlowMod(
            dp,
            cookie=intent.cookie,
            cookie_mask=OWN_COOKIE_MASK,
            table_id=intent.table,
            command=OFP.OFPFC_DELETE_STRICT,
            priority=intent.priority,
            out_port=OFP.OFPP_ANY,
            out_group=OFP.OFPG_ANY,
            match=match,
        )
    instructions: list[Any] = []
    if intent.meter_id is not None:
        instructions.append(PARSER.OFPInstructionMeter(int(intent.meter_id)))
    if intent.actions:
        actions = [build_action(a) for a in intent.actions]
        instructions.append(PARSER.OFPInstructionActions(OFP.OFPIT_APPLY_ACTIONS, actions))
    if intent.goto_table is not None:
        instructions.append(PARSER.OFPInstructionGotoTable(int(intent.goto_table)))
    return PARSER.OFPFlowMod(
        dp,
        cookie=intent.cookie,
        cookie_mask=OWN_COOKIE_MASK if op == "modify" else 0,
        table_id=intent.table,
        command=_FLOW_COMMANDS[op],
        priority=intent.priority,
        buffer_id=OFP.OFP_NO_BUFFER,
        out_port=OFP.OFPP_ANY,
        out_group=OFP.OFPG_ANY,
        match=match,
        instructions=instructions,
    )


def _watch_port(bucket: Bucket, group_type: GroupType) -> int:
    """Fast-failover buckets watch their first output port; others watch nothing."""
    if group_type == "ff":
        for action in bucket.actions:
            if action[0] == "output":
                return _port(action[1])
    return int(OFP.OFPP_ANY)


def _group_mod(dp: Any, op: BatchOp, intent: GroupIntent) -> Any:
    if intent.type not in GROUP_TYPES:
        raise ConversionError(f"unknown group type {intent.type!r}")
    buckets = []
    built: dict[Bucket, Any] = {}  # select groups repeat a few buckets many times
    if op != "delete":
        for bucket in intent.buckets:
            message = built.get(bucket)
            if message is None:
                message = built[bucket] = PARSER.OFPBucket(
                    weight=bucket.weight if intent.type == "select" else 0,
                    watch_port=_watch_port(bucket, intent.type),
                    watch_group=OFP.OFPG_ANY,
                    actions=[build_action(a) for a in bucket.actions],
                )
            buckets.append(message)
    return PARSER.OFPGroupMod(
        dp, _GROUP_COMMANDS[op], GROUP_TYPES[intent.type], intent.group_id, buckets
    )


def _meter_mod(dp: Any, op: BatchOp, intent: MeterIntent) -> Any:
    flags = OFP.OFPMF_STATS | (OFP.OFPMF_PKTPS if intent.unit == "pktps" else OFP.OFPMF_KBPS)
    if intent.burst:
        flags |= OFP.OFPMF_BURST
    bands = [] if op == "delete" else [PARSER.OFPMeterBandDrop(intent.rate, intent.burst)]
    return PARSER.OFPMeterMod(dp, _METER_COMMANDS[op], flags, intent.meter_id, bands)


def to_message(dp: Any, op: str, intent: Intent) -> Any:
    """The OpenFlow message that applies one batch entry on datapath ``dp``."""
    if op not in ("add", "modify", "delete"):
        raise ConversionError(f"unknown batch op {op!r}")
    if isinstance(intent, FlowIntent):
        return _flow_mod(dp, op, intent)  # type: ignore[arg-type]
    if isinstance(intent, GroupIntent):
        return _group_mod(dp, op, intent)  # type: ignore[arg-type]
    return _meter_mod(dp, op, intent)  # type: ignore[arg-type]


def encoded(msg: Any) -> Any:
    """``msg``, serialized once: a value OpenFlow cannot carry fails here, as a
    ConversionError, before anything of the batch entry is sent."""
    try:
        msg.serialize()
    except Exception as exc:  # os-ken raises whatever its packers raise
        raise ConversionError(f"cannot encode {type(msg).__name__}: {exc!r}") from None
    return msg


# ---------------------------------------------------------------- OpenFlow -> intent


def match_to_dict(match: Any) -> dict[str, MatchValue]:
    out: dict[str, MatchValue] = {}
    for key, value in match.items():
        if isinstance(value, tuple):
            value = f"{value[0]}/{value[1]}"
        out[str(key)] = value
    return out


def action_to_intent(action: Any) -> Action:
    if isinstance(action, PARSER.OFPActionOutput):
        return ("output", _PORT_BY_NUMBER.get(action.port, action.port))
    if isinstance(action, PARSER.OFPActionGroup):
        return ("group", action.group_id)
    if isinstance(action, PARSER.OFPActionPushMpls):
        return ("push_mpls", action.ethertype)
    if isinstance(action, PARSER.OFPActionPopMpls):
        return ("pop_mpls", action.ethertype)
    if isinstance(action, PARSER.OFPActionDecMplsTtl):
        return ("dec_mpls_ttl",)
    if isinstance(action, PARSER.OFPActionSetField):
        value = action.value
        if isinstance(value, tuple):
            value = f"{value[0]}/{value[1]}"
        return ("set_field", action.key, value)
    # an action intents cannot express: keep its name so a diff sees a difference
    return ("output", f"unsupported:{type(action).__name__}")


def _sorted_match(match: Any) -> tuple[tuple[str, MatchValue], ...]:
    return tuple(sorted(match_to_dict(match).items()))


def flow_from_stats(dpid: int, stat: Any) -> FlowIntent:
    actions: list[Action] = []
    meter_id: int | None = None
    goto_table: int | None = None
    for inst in stat.instructions:
        if isinstance(inst, PARSER.OFPInstructionActions):
            actions.extend(action_to_intent(a) for a in inst.actions)
        elif isinstance(inst, PARSER.OFPInstructionMeter):
            meter_id = inst.meter_id
        elif isinstance(inst, PARSER.OFPInstructionGotoTable):
            goto_table = inst.table_id
    return FlowIntent(
        dpid,
        stat.table_id,
        stat.priority,
        _sorted_match(stat.match),
        tuple(actions),
        goto_table,
        meter_id,
        stat.cookie,
    )


def group_from_stats(dpid: int, stat: Any) -> GroupIntent:
    kind = cast(GroupType, _GROUP_TYPE_NAMES.get(stat.type, str(stat.type)))
    seen: dict[Bucket, Bucket] = {}  # select groups repeat a few buckets many times
    buckets = []
    for b in stat.buckets:
        bucket = Bucket(
            b.weight if kind == "select" else 0, tuple(action_to_intent(a) for a in b.actions)
        )
        buckets.append(seen.setdefault(bucket, bucket))
    return GroupIntent(dpid, stat.group_id, kind, tuple(buckets))


def meter_from_stats(dpid: int, stat: Any) -> MeterIntent:
    band = stat.bands[0] if stat.bands else None
    return MeterIntent(
        dpid,
        stat.meter_id,
        band.rate if band is not None else 0,
        band.burst_size if band is not None and stat.flags & OFP.OFPMF_BURST else 0,
        "pktps" if stat.flags & OFP.OFPMF_PKTPS else "kbps",
    )


# ---------------------------------------------------------------- statistics -> monitor


def monitor_port(stat: Any) -> PortStats:
    return PortStats(
        stat.port_no,
        stat.rx_packets,
        stat.tx_packets,
        stat.rx_bytes,
        stat.tx_bytes,
        stat.rx_dropped,
        stat.tx_dropped,
    )


def monitor_flow(stat: Any) -> FlowStats:
    return FlowStats(
        stat.table_id,
        stat.priority,
        _sorted_match(stat.match),
        stat.cookie,
        stat.packet_count,
        stat.byte_count,
    )


def monitor_group(stat: Any) -> GroupStats:
    buckets = tuple(BucketStats(b.packet_count, b.byte_count) for b in stat.bucket_stats)
    return GroupStats(stat.group_id, stat.packet_count, stat.byte_count, buckets)


def monitor_meter(stat: Any) -> MeterStats:
    return MeterStats(stat.meter_id, stat.packet_in_count, stat.byte_in_count)


def is_physical(port_no: int) -> bool:
    """Whether a port number names a real port (not LOCAL or another reserved one)."""
    return bool(port_no <= OFP.OFPP_MAX)


def port_desc(port: Any) -> Port:
    """A port of the topology answer; ``up`` means link up and not administratively down."""
    name = port.name.decode("utf-8", "replace") if isinstance(port.name, bytes) else port.name
    up = not (port.state & OFP.OFPPS_LINK_DOWN) and not (port.config & OFP.OFPPC_PORT_DOWN)
    return Port(port.port_no, name, port.hw_addr, bool(up))
