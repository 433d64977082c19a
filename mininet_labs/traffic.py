"""Traffic: the scenario's arrival process as real flows, and the sinks that count them.

``flow_schedule`` draws the scenario's flows with the simulator's own arrival process
(agent.sim.arrivals: deterministic, Poisson, MMPP, trace; same seed, same flows as
the simulator's first episode). A flow that arrives at scenario time t (ms) starts at
wall time t * K / 1000 and sends its packets evenly over its duration * K; its
packet count is proportional to its volume (rate * duration), ``packets_per_flow`` for
a flow of the mean rate and nominal duration. Each flow leaves from its own source
address (4,096 per ingress, reused round robin beyond that), because the switches'
SELECT groups hash on addresses, not UDP ports: each flow is then one independent
draw of the groups' choices, as in the simulator's per-flow weighted choice.

``python -m mininet_labs.traffic send --iface IF --schedule F --t0 T --out F`` runs in
a source host; ``python -m mininet_labs.traffic sink --iface IF --out F`` in a sink
host: it records, per flow, the packets that arrived and the first packet's delay.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import select
import signal
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent.model.scenario import Scenario
from agent.sim.arrivals import ArrivalProcess
from mininet_labs.packets import FlowPacket, build_frame, parse_plain
from mininet_labs.reportfile import write_report

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
MAX_PACKETS = 64


@dataclass(frozen=True)
class FlowSpec:
    flow_id: int
    ingress: int  # node index
    chain: int
    arrival_ms: float  # scenario time
    rate: float
    duration_ms: float
    packets: int
    src_ip: str
    dst_ip: str
    dst_mac: str


def packets_for(rate: float, duration_ms: float, nominal: float, per_flow: int) -> int:
    """Packets of a flow: proportional to its volume, at least 1."""
    volume = rate * duration_ms
    return max(1, min(MAX_PACKETS, round(per_flow * volume / nominal))) if nominal else per_flow


def flow_schedule(
    scenario: Scenario,
    duration_s: float,
    time_scale: float,
    packets_per_flow: int,
    sources: dict[str, list[str]],
    sinks: dict[str, tuple[str, str]],
    seed: int | None = None,
) -> list[FlowSpec]:
    """Every flow arriving in the first ``duration_s`` wall seconds. ``sources`` maps an
    ingress node to its address pool, ``sinks`` a node to (address, MAC); flows go to
    an egress node's sink (chosen at random, as the simulator does) or, without egress
    nodes, back to their ingress node's sink."""
    seed = scenario.seed if seed is None else seed
    net, cfg = scenario.network, scenario.traffic.config
    arrivals = ArrivalProcess(cfg, net.ingress, scenario.traffic.trace, seed, cfg.run_duration)
    until = duration_s * 1000.0 / time_scale
    arrivals.fill(until)
    rng = random.Random(f"lab-flows/{seed}")
    chains = len(scenario.services.chains)
    nominal = cfg.flow_size_shape * 1000.0  # rate * duration (ms) of a nominal-size flow
    drawn: list[tuple[float, str, float, float]] = []
    for node in net.ingress:
        while (head := arrivals.head(node)) is not None and head < until:
            time_ms, rate, size = arrivals.pop(node)
            drawn.append((time_ms, node, rate, size / rate * 1000.0))
    drawn.sort(key=lambda item: (item[0], net.index(item[1])))
    used = dict.fromkeys(net.ingress, 0)
    flows = []
    for fid, (time_ms, node, rate, duration) in enumerate(drawn, start=1):
        pool = sources[node]
        src = pool[used[node] % len(pool)]
        used[node] += 1
        chain = rng.randrange(chains) if chains > 1 else 0
        target = rng.choice(net.egress) if net.egress else node
        dst_ip, dst_mac = sinks[target]
        count = packets_for(rate, duration, nominal, packets_per_flow)
        flows.append(
            FlowSpec(
                fid, net.index(node), chain, time_ms, rate, duration, count, src, dst_ip, dst_mac
            )
        )
    return flows


def write_schedule(path: Path, flows: list[FlowSpec]) -> None:
    path.write_text(json.dumps([asdict(f) for f in flows]))


# ------------------------------------------------------------------ sender


def send(
    iface: str, schedule: Path, t0: float, time_scale: float, src_mac: str, out: Path, size: int
) -> None:
    flows = [FlowSpec(**item) for item in json.loads(schedule.read_text())]
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((iface, 0))
    queue: list[tuple[float, int, int, int]] = []  # (due, flow id, packet index, flow slot)
    for slot, flow in enumerate(flows):
        start = t0 + flow.arrival_ms * time_scale / 1000.0
        gap = flow.duration_ms * time_scale / 1000.0 / flow.packets
        for index in range(flow.packets):
            queue.append((start + index * gap, flow.flow_id, index, slot))
    heapq.heapify(queue)
    sent, errors, late = 0, 0, 0.0
    stop = False

    def on_term(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    while queue and not stop:
        due, _, index, slot = queue[0]
        wait = due - time.time()
        if wait > 0:
            time.sleep(min(wait, 0.1))
            continue
        heapq.heappop(queue)
        late = max(late, -wait)
        flow = flows[slot]
        packet = FlowPacket(
            flow.flow_id,
            flow.ingress,
            flow.chain,
            index,
            flow.packets,
            flow.rate,
            flow.duration_ms,
            time.time(),
        )
        frame = build_frame(src_mac, flow.dst_mac, flow.src_ip, flow.dst_ip, packet, size)
        try:
            sock.send(frame)
            sent += 1
        except OSError:
            errors += 1
    report = {"packets_sent": sent, "send_errors": errors, "max_late_s": late, "flows": len(flows)}
    write_report(out, report)


# ------------------------------------------------------------------ sink


def sink(iface: str, out: Path) -> None:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((iface, 0))
    flows: dict[str, list[Any]] = {}  # "ingress/flow" -> [received, count, first_sent, first_recv]
    stop = False

    def on_term(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    print("ready", flush=True)
    while not stop:
        if not select.select([sock], [], [], 0.1)[0]:
            continue
        frame, address = sock.recvfrom(65535)
        if address[2] == PACKET_OUTGOING:
            continue
        parsed = parse_plain(frame)
        if parsed is None:
            continue
        now, packet = time.time(), parsed[1]
        key = f"{packet.ingress}/{packet.flow_id}"
        entry = flows.get(key)
        if entry is None:
            entry = flows[key] = [0, packet.count, packet.sent, now]
        entry[0] += 1
        if packet.sent < entry[2]:  # an earlier packet overtaken: keep the first one's delay
            entry[2], entry[3] = packet.sent, now
    write_report(out, flows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mininet_labs.traffic")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("send")
    s.add_argument("--iface", required=True)
    s.add_argument("--schedule", required=True)
    s.add_argument("--t0", type=float, required=True)
    s.add_argument("--time-scale", type=float, required=True)
    s.add_argument("--mac", required=True)
    s.add_argument("--size", type=int, default=200)
    s.add_argument("--out", required=True)
    k = sub.add_parser("sink")
    k.add_argument("--iface", required=True)
    k.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "send":
        send(
            args.iface,
            Path(args.schedule),
            args.t0,
            args.time_scale,
            args.mac,
            Path(args.out),
            args.size,
        )
    else:
        sink(args.iface, Path(args.out))


if __name__ == "__main__":
    main()
