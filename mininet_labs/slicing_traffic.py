"""UDP traffic of the slicing lab: one sender of several DSCP-marked classes at scheduled
rates, one sink that counts what each class delivered.

``python -m mininet_labs.slicing_traffic send --schedule FILE --out FILE`` sends, per
class, datagrams of ``PAYLOAD`` bytes to the class's UDP port at the class's rate of the
moment (kbit/s of Ethernet frames, the unit of the switches' meters), paced against the
wall clock, until the schedule ends; ``sink --ports P,Q,R --out FILE`` counts frames per
port until SIGTERM. Both count bytes per ``bin_s`` bin from the schedule's ``t0`` and
write a JSON report when they end (SIGTERM included).

Schedule file: ``{"t0": EPOCH_S, "end": S, "bin_s": S, "destination": IP,
"classes": [{"name": N, "dscp": D, "port": P, "segments": [[FROM_S, TO_S, KBPS], ...]}]}``.
"""

from __future__ import annotations

import argparse
import json
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from mininet_labs.reportfile import write_report

PAYLOAD = 1000
FRAME = PAYLOAD + 8 + 20 + 14  # UDP, IPv4 and Ethernet headers: what a meter counts
MAX_LAG_S = 0.05  # a sender further behind than this skips ahead instead of bursting


@dataclass
class SendClass:
    name: str
    dscp: int
    port: int
    segments: list[tuple[float, float, float]]
    sock: socket.socket
    next_at: float = 0.0
    bins: dict[int, int] = field(default_factory=dict)

    def rate(self, t: float) -> float:
        return next((kbps for a, b, kbps in self.segments if a <= t < b), 0.0)

    def next_start(self, t: float) -> float | None:
        """The next time after ``t`` that this class sends at a positive rate."""
        starts = [a for a, _, kbps in self.segments if a > t and kbps > 0]
        return min(starts) if starts else None


class Stop:
    """Set by SIGTERM: the process writes its report and exits."""

    def __init__(self) -> None:
        self.asked = False
        signal.signal(signal.SIGTERM, self._handler)

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.asked = True


def _count(bins: dict[int, int], t: float, bin_s: float, size: int) -> None:
    index = int(t // bin_s)
    bins[index] = bins.get(index, 0) + size


def _classes(schedule: dict[str, Any]) -> list[SendClass]:
    classes = []
    for c in schedule["classes"]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, int(c["dscp"]) << 2)
        segments = [(float(a), float(b), float(k)) for a, b, k in c["segments"]]
        classes.append(SendClass(c["name"], int(c["dscp"]), int(c["port"]), segments, sock))
    return classes


def _send_due(c: SendClass, t: float, destination: str, bin_s: float, payload: bytes) -> None:
    """Send the class's datagrams due by ``t`` (relative to t0)."""
    while c.next_at <= t:
        kbps = c.rate(c.next_at)
        if kbps <= 0:
            later = c.next_start(c.next_at)
            c.next_at = float("inf") if later is None else later
            continue
        try:
            c.sock.sendto(payload, (destination, c.port))
            _count(c.bins, c.next_at, bin_s, FRAME)
        except OSError:
            pass  # a full socket buffer: the datagram is not offered
        c.next_at += FRAME * 8 / (kbps * 1000)
        if c.next_at < t - MAX_LAG_S:
            c.next_at = t


def send(schedule_path: Path, out: Path) -> None:
    schedule = json.loads(schedule_path.read_text())
    t0, end, bin_s = float(schedule["t0"]), float(schedule["end"]), float(schedule["bin_s"])
    classes = _classes(schedule)
    payload = bytes(PAYLOAD)
    stop = Stop()
    while time.time() < t0 and not stop.asked:
        time.sleep(min(0.01, max(0.0, t0 - time.time())))
    try:
        while not stop.asked:
            t = time.time() - t0
            if t >= end:
                break
            for c in classes:
                _send_due(c, t, schedule["destination"], bin_s, payload)
            wait = min(c.next_at for c in classes) - (time.time() - t0)
            time.sleep(min(0.005, max(0.0, wait)))
    finally:
        report = {
            "t0": t0,
            "bin_s": bin_s,
            "frame_bytes": FRAME,
            "sent": {c.name: c.bins for c in classes},
        }
        write_report(out, report)


def sink(ports: list[int], t0: float, bin_s: float, out: Path) -> None:
    socks: dict[socket.socket, int] = {}
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        sock.bind(("0.0.0.0", port))
        sock.setblocking(False)
        socks[sock] = port
    bins: dict[int, dict[int, int]] = {p: {} for p in ports}
    stop = Stop()
    print("ready", flush=True)
    try:
        while not stop.asked:
            readable, _, _ = select.select(list(socks), [], [], 0.1)
            for sock in readable:
                _drain(sock, bins[socks[sock]], t0, bin_s)
    finally:
        report = {"t0": t0, "bin_s": bin_s, "received": {str(p): b for p, b in bins.items()}}
        write_report(out, report)


def _drain(sock: socket.socket, bins: dict[int, int], t0: float, bin_s: float) -> None:
    while True:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        _count(bins, time.time() - t0, bin_s, len(data) + FRAME - PAYLOAD)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mininet_labs.slicing_traffic")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("send")
    s.add_argument("--schedule", type=Path, required=True)
    s.add_argument("--out", type=Path, required=True)
    k = sub.add_parser("sink")
    k.add_argument("--ports", required=True, help="comma-separated UDP ports")
    k.add_argument("--t0", type=float, required=True)
    k.add_argument("--bin", type=float, default=0.5)
    k.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "send":
        send(args.schedule, args.out)
    else:
        sink([int(p) for p in args.ports.split(",")], args.t0, args.bin, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
