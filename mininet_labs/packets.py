"""The lab's frames: raw Ethernet + IPv4 + UDP built and parsed by hand.

Traffic sources write frames straight onto their interface (AF_PACKET), so no
address, route, ARP entry or checksum offload of the host's kernel is involved; the
UDP checksum is 0 (allowed in IPv4: "no checksum"). The payload says which scenario
flow a packet belongs to. Between service functions the switches push one MPLS label
(agent/rules/compiler.py): chain index + 1, SF position and destination node.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

ETH_IPV4, ETH_MPLS = 0x0800, 0x8847
MAGIC = b"MLAB"
UDP_SPORT = 4000
UDP_DPORT_BASE = 5000  # chain c travels to UDP port 5000 + c
# magic, flow id, ingress index, chain, packet index, packets in the flow, rate,
# duration (scenario ms), send time (wall clock)
_PAYLOAD = struct.Struct("!4sIHHHHffd")
PAYLOAD_LEN = _PAYLOAD.size


@dataclass(frozen=True)
class FlowPacket:
    flow_id: int
    ingress: int
    chain: int
    index: int
    count: int
    rate: float
    duration_ms: float
    sent: float


def mac_bytes(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


def ip_bytes(address: str) -> bytes:
    return bytes(int(part) for part in address.split("."))


def ip_text(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


def ipv4_checksum(header: bytes) -> int:
    total: int = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def build_frame(
    src_mac: str, dst_mac: str, src_ip: str, dst_ip: str, packet: FlowPacket, size: int = 0
) -> bytes:
    """An Ethernet frame of at least ``size`` bytes carrying ``packet``."""
    payload = _PAYLOAD.pack(
        MAGIC,
        packet.flow_id,
        packet.ingress,
        packet.chain,
        packet.index,
        packet.count,
        packet.rate,
        packet.duration_ms,
        packet.sent,
    )
    payload += bytes(max(0, size - 14 - 20 - 8 - len(payload)))
    udp = struct.pack("!HHHH", UDP_SPORT, UDP_DPORT_BASE + packet.chain, 8 + len(payload), 0)
    total = 20 + len(udp) + len(payload)
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 17, 0, ip_bytes(src_ip), ip_bytes(dst_ip)
    )
    header = header[:10] + struct.pack("!H", ipv4_checksum(header)) + header[12:]
    eth = mac_bytes(dst_mac) + mac_bytes(src_mac) + struct.pack("!H", ETH_IPV4)
    return eth + header + udp + payload


def restamp(frame: bytes, sent: float) -> bytes:
    """The same frame with a new send time (the last 8 bytes of the payload header)."""
    offset = _payload_offset(frame, 14) + PAYLOAD_LEN - 8
    return frame[:offset] + struct.pack("!d", sent) + frame[offset + 8 :]


def _payload_offset(frame: bytes, ip_start: int) -> int:
    ihl = (frame[ip_start] & 0x0F) * 4
    return ip_start + ihl + 8


def parse_ipv4(frame: bytes, ip_start: int) -> tuple[str, FlowPacket] | None:
    """(source address, packet) of a lab UDP packet whose IPv4 header starts at
    ``ip_start``; None for anything else."""
    if len(frame) < ip_start + 28 + PAYLOAD_LEN or frame[ip_start] >> 4 != 4:
        return None
    if frame[ip_start + 9] != 17:
        return None
    offset = _payload_offset(frame, ip_start)
    if frame[offset : offset + 4] != MAGIC or len(frame) < offset + PAYLOAD_LEN:
        return None
    _, fid, ingress, chain, index, count, rate, duration, sent = _PAYLOAD.unpack_from(frame, offset)
    src = ip_text(frame[ip_start + 12 : ip_start + 16])
    return src, FlowPacket(fid, ingress, chain, index, count, rate, duration, sent)


def parse_plain(frame: bytes) -> tuple[str, FlowPacket] | None:
    if len(frame) < 14 or struct.unpack_from("!H", frame, 12)[0] != ETH_IPV4:
        return None
    return parse_ipv4(frame, 14)


@dataclass(frozen=True)
class Labelled:
    chain: int  # chain index (label's chain field - 1)
    position: int
    node: int
    source: str
    packet: FlowPacket


def parse_mpls(frame: bytes) -> Labelled | None:
    """A lab packet under one MPLS label (as the switch hands it to an SF host)."""
    if len(frame) < 18 or struct.unpack_from("!H", frame, 12)[0] != ETH_MPLS:
        return None
    entry = struct.unpack_from("!I", frame, 14)[0]
    value = entry >> 12
    parsed = parse_ipv4(frame, 18)
    if parsed is None:
        return None
    return Labelled((value >> 16) - 1, (value >> 12) & 0xF, value & 0xFFF, *parsed)
