"""A network of fake switches that forwards: the fake switch table, wired.

``FakeNetwork`` holds rules like ``FakeSwitchTable`` (the same checks on every
message) and knows from a ``Wiring`` where each port leads: to a neighbour's port,
to the node's service-function host, to an end host, or nowhere. ``walk`` sends one
IPv4 packet in at a switch port and follows it through the tables, as OpenFlow 1.3
does: the highest-priority matching flow, its actions applied in order (MPLS push,
pop and set-field, groups, outputs), then its ``goto_table``; a table miss drops.

Semantics chosen to match Open vSwitch where it matters to the rule compiler:

- a SELECT group picks its bucket by a hash of the packet's source address alone:
  ``hash mod total weight`` over the buckets' weights in order. Every switch computes
  the same hash for a packet (as OVS does), so groups with the same layout make the
  same choice. The hash is not OVS's, but like OVS with unit buckets it spreads
  addresses evenly over the buckets;
- output to the port the packet came in on is dropped unless the action names
  ``in_port`` (OpenFlow's rule);
- a service-function host sends every packet back, unchanged, on the port it came
  from; end hosts and unwired ports end the walk;
- failed nodes drop whatever reaches them; failed links drop what is sent over them.

A walk that would copy a packet (two outputs, an ALL group) is refused with
``ForwardingError``: nothing the compiler emits does that.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from agent.model.wiring import Wiring
from agent.rules.diff import Change
from agent.rules.intents import Action, FlowIntent, GroupIntent, Intent, MatchValue
from agent.southbound.base import InstallError
from agent.southbound.fake_table import FakeSwitchTable

ETH_MPLS = 0x8847
MAX_HOPS = 64  # switch visits before a walk counts as a loop


class ForwardingError(ValueError):
    """Rules a walk cannot follow: a packet copied, an ambiguous match, a bad action."""


def source_hash(address: str) -> int:
    """The 32-bit hash a SELECT group sees for a packet from ``address``."""
    packed = ipaddress.ip_address(address).packed
    return int.from_bytes(hashlib.blake2b(packed, digest_size=4).digest(), "big")


@dataclass(frozen=True)
class Packet:
    in_port: int
    eth_type: int
    fields: tuple[tuple[str, MatchValue], ...]  # ipv4_src, ipv4_dst, ip_proto ...
    labels: tuple[int, ...] = ()  # MPLS stack, top first

    def value(self, name: str) -> MatchValue | None:
        if name == "in_port":
            return self.in_port
        if name == "eth_type":
            return self.eth_type
        if name == "mpls_label":
            return self.labels[0] if self.eth_type == ETH_MPLS and self.labels else None
        return dict(self.fields).get(name)


@dataclass(frozen=True)
class SfVisit:
    node: str
    label: int  # the MPLS label the packet carried to the SF host


@dataclass
class Walk:
    """Where a packet went: the switches in order, the SF hosts it reached, and how it
    ended: ``delivered`` (to ``host``), ``dropped`` (``reason`` says why) or ``loop``."""

    switches: list[str] = field(default_factory=list)
    sf_visits: list[SfVisit] = field(default_factory=list)
    end: str = ""
    reason: str = ""
    host: str | None = None

    @property
    def sf_nodes(self) -> tuple[str, ...]:
        return tuple(visit.node for visit in self.sf_visits)


@dataclass(frozen=True)
class _Port:
    """What a switch port leads to: a peer switch port, an SF host or an end host."""

    kind: str  # "switch", "sf", "host"
    node: str = ""
    port: int = 0
    host: str = ""


class FakeNetwork(FakeSwitchTable):
    def __init__(self, wiring: Wiring) -> None:
        super().__init__(set(wiring.dpids.values()))
        self.wiring = wiring
        self.down_nodes: frozenset[str] = frozenset()
        self.down_links: frozenset[frozenset[str]] = frozenset()
        self._node = {dpid: node for node, dpid in wiring.dpids.items()}
        self._ports = _port_map(wiring)
        self._index: dict[tuple[int, int], _TableIndex] | None = None

    def apply(self, changes: list[Change]) -> tuple[InstallError, ...]:
        self._index = None
        return super().apply(changes)

    def load(self, intents: Iterable[Intent]) -> None:
        """Replace everything with ``intents`` (ValueError if a switch would refuse one)."""
        self.rules.clear()
        errors = self.apply([Change("add", intent) for intent in intents])
        if errors:
            raise ValueError(f"rules refused: {errors[0]}")

    def dangling(self) -> list[FlowIntent]:
        """Flows whose actions name a group their switch does not have."""
        return [
            intent
            for intent in self.rules.values()
            if isinstance(intent, FlowIntent)
            and any(
                a[0] == "group" and ("group", intent.dpid, a[1]) not in self.rules
                for a in intent.actions
            )
        ]

    # ------------------------------------------------------------------ walking
    def walk(
        self,
        node: str,
        port: int,
        src: str,
        dst: str,
        fields: Mapping[str, MatchValue] | None = None,
    ) -> Walk:
        """Send an IPv4 packet from ``src`` to ``dst`` into ``node``'s switch at ``port``."""
        extra = {"ipv4_src": src, "ipv4_dst": dst, **(fields or {})}
        packet = Packet(port, 0x0800, tuple(sorted(extra.items())))
        walk, selector = Walk(), source_hash(src)
        for _ in range(MAX_HOPS):
            walk.switches.append(node)
            if node in self.down_nodes:
                return _ended(walk, "dropped", f"node {node} is down")
            out = self._switch(node, packet, selector)
            if out is None:
                return _ended(walk, "dropped", f"nothing sent on at {node}")
            packet, out_port = out
            leads = self._ports.get((node, out_port))
            if leads is None:
                return _ended(walk, "dropped", f"port {out_port} of {node} leads nowhere")
            if leads.kind == "host":
                walk.host = leads.host
                return _ended(walk, "delivered", "")
            if leads.kind == "sf":
                walk.sf_visits.append(SfVisit(node, packet.labels[0] if packet.labels else -1))
                packet = replace(packet, in_port=out_port)  # the SF host sends it back
                continue
            if frozenset((node, leads.node)) in self.down_links:
                return _ended(walk, "dropped", f"link {node}-{leads.node} is down")
            node, packet = leads.node, replace(packet, in_port=leads.port)
        return _ended(walk, "loop", f"more than {MAX_HOPS} switch visits")

    def _switch(self, node: str, packet: Packet, selector: int) -> tuple[Packet, int] | None:
        """One switch's pipeline: the packet and port it leaves on, None if dropped."""
        dpid, table = self.wiring.dpids[node], 0
        outputs: list[tuple[Packet, int]] = []
        while True:
            entry = self._lookup(dpid, table, packet)
            if entry is None:
                break
            packet = self._actions(dpid, entry.actions, packet, selector, outputs)
            if entry.goto_table is None:
                break
            if entry.goto_table <= table:
                raise ForwardingError(f"flow at {node} goes back to table {entry.goto_table}")
            table = entry.goto_table
        if len(outputs) > 1:
            raise ForwardingError(f"switch {node} sends copies of one packet")
        return outputs[0] if outputs else None

    def _actions(
        self,
        dpid: int,
        actions: tuple[Action, ...],
        packet: Packet,
        selector: int,
        outputs: list[tuple[Packet, int]],
    ) -> Packet:
        for action in actions:
            if action[0] == "group":
                bucket = self._bucket(dpid, int(action[1]), selector)
                if bucket is not None:
                    self._actions(dpid, bucket, packet, selector, outputs)
            elif action[0] == "output":
                port = packet.in_port if action[1] == "in_port" else int(action[1])
                if port != packet.in_port or action[1] == "in_port":
                    outputs.append((packet, port))
            else:
                packet = _rewrite(packet, action)
        return packet

    def _bucket(self, dpid: int, group_id: int, selector: int) -> tuple[Action, ...] | None:
        group = self.rules.get(("group", dpid, group_id))
        if not isinstance(group, GroupIntent):
            raise ForwardingError(f"switch {dpid} has no group {group_id:#x}")
        if group.type == "indirect":
            return group.buckets[0].actions if group.buckets else None
        if group.type != "select":
            raise ForwardingError(f"group {group_id:#x}: {group.type} groups are not walked")
        total = sum(b.weight for b in group.buckets)
        if total == 0:
            return None  # no live bucket: dropped
        point = selector % total
        for bucket in group.buckets:
            if point < bucket.weight:
                return bucket.actions
            point -= bucket.weight
        raise AssertionError("unreachable")

    def _lookup(self, dpid: int, table: int, packet: Packet) -> FlowIntent | None:
        if self._index is None:
            self._index = _build_index(self.rules.values())
        index = self._index.get((dpid, table))
        if index is None:
            return None
        candidates = index.by_label.get(packet.value("mpls_label"), []) + index.other
        best: FlowIntent | None = None
        for entry in candidates:
            if best is not None and entry.priority < best.priority:
                continue
            if all(packet.value(name) == value for name, value in entry.match):
                if best is not None and entry.priority == best.priority:
                    raise ForwardingError(f"two flows of priority {best.priority} match at {dpid}")
                best = entry
        return best


@dataclass
class _TableIndex:
    by_label: dict[MatchValue | None, list[FlowIntent]] = field(default_factory=dict)
    other: list[FlowIntent] = field(default_factory=list)


def _build_index(rules: Iterable[Intent]) -> dict[tuple[int, int], _TableIndex]:
    index: dict[tuple[int, int], _TableIndex] = {}
    for intent in rules:
        if not isinstance(intent, FlowIntent):
            continue
        table = index.setdefault((intent.dpid, intent.table), _TableIndex())
        label = dict(intent.match).get("mpls_label")
        if label is None:
            table.other.append(intent)
        else:
            table.by_label.setdefault(label, []).append(intent)
    return index


def _rewrite(packet: Packet, action: Action) -> Packet:
    name = action[0]
    if name == "push_mpls":
        return replace(packet, eth_type=int(action[1]), labels=(0, *packet.labels))
    if name == "pop_mpls":
        if packet.eth_type != ETH_MPLS or not packet.labels:
            raise ForwardingError("pop_mpls on a packet without a label")
        return replace(packet, eth_type=int(action[1]), labels=packet.labels[1:])
    if name == "set_field" and action[1] == "mpls_label":
        if packet.eth_type != ETH_MPLS:
            raise ForwardingError("set_field mpls_label on a packet without a label")
        return replace(packet, labels=(int(action[2]), *packet.labels[1:]))
    if name == "set_field":
        fields = {**dict(packet.fields), str(action[1]): action[2]}
        return replace(packet, fields=tuple(sorted(fields.items())))
    if name == "dec_mpls_ttl":
        return packet
    raise ForwardingError(f"cannot walk action {action!r}")


def _ended(walk: Walk, end: str, reason: str) -> Walk:
    walk.end, walk.reason = end, reason
    return walk


def _port_map(wiring: Wiring) -> dict[tuple[str, int], _Port]:
    ports: dict[tuple[str, int], _Port] = {}
    for (node, peer), port in wiring.ports.items():
        ports[(node, port)] = _Port("switch", peer, wiring.ports[(peer, node)])
    for node, port in wiring.sf_ports.items():
        ports[(node, port)] = _Port("sf", node)
    for address, (node, port) in wiring.hosts.items():
        ports[(node, port)] = _Port("host", node, port, address)
    return ports
