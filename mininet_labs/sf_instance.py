"""A node's service-function instances: one process on the node's compute host.

``python -m mininet_labs.sf_instance --iface IF --node pop3 --scenario S.yaml
--time-scale 10 --out stats.json`` opens a raw socket on the compute host's
interface. The switch hands it MPLS frames (agent/rules/compiler.py: the label names
chain, SF position and this node); for each frame it

1. finds the SF from the label and drops the frame if no instance of that SF runs
   here (the simulator's NODE_CAP for a missing instance);
2. on a flow's first packet, checks the node's capacity the way the simulator does
   (the sum over the node's SFs of resource(load) with this flow's rate added must not
   exceed the node's capacity) and admits or rejects the whole flow (rejected flows
   are counted: the lab's NODE_CAP);
3. holds every packet of an admitted flow for the SF's processing delay (scaled by the
   time scale) and sends it back unchanged out of the same interface; the switch
   advances the chain. An admitted flow holds its rate until processing delay plus
   flow duration after its first packet, as in the simulator.

Instances are started and stopped with lines on stdin (``start a``, ``stop a``,
``running``, ``quit``); each is answered with one JSON line. All SFs of a node live in
one process because they share one capacity. On ``quit`` or SIGTERM it writes its
counters and the first time it saw each flow at each SF (used to check chain order), whole
(``reportfile``), and exits.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import select
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mininet_labs.packets import parse_mpls
from mininet_labs.reportfile import write_report

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
FORGET_AFTER = 30.0  # seconds after which a flow's admit/reject verdict is forgotten


@dataclass
class SfCounters:
    packets_in: int = 0
    packets_out: int = 0
    packets_dropped: int = 0
    flows_admitted: int = 0
    flows_rejected: int = 0
    no_instance_packets: int = 0


@dataclass
class NodeInstances:
    """Capacity accounting for one node: pure, the clock is a parameter."""

    node: str
    cap: float
    chains: list[tuple[str, ...]]
    delays: dict[str, tuple[float, float]]  # sf -> processing delay mean, stdev (ms)
    resources: dict[str, Callable[[float], float]]
    time_scale: float
    seed: int = 0
    running: set[str] = field(default_factory=set)
    load: dict[str, float] = field(default_factory=dict)
    releases: list[tuple[float, str, float]] = field(default_factory=list)
    verdicts: dict[tuple[int, int, int, int], tuple[float, float]] = field(default_factory=dict)
    counters: dict[str, SfCounters] = field(default_factory=dict)
    firsts: list[tuple[int, int, int, int, float]] = field(default_factory=list)
    rejected: list[tuple[int, int, int, int, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"sf/{self.seed}/{self.node}")
        for sf in self.delays:
            self.counters[sf] = SfCounters()

    def sf_of(self, chain: int, position: int) -> str | None:
        if 0 <= chain < len(self.chains) and 0 <= position < len(self.chains[chain]):
            return self.chains[chain][position]
        return None

    def _release(self, now: float) -> None:
        while self.releases and self.releases[0][0] <= now:
            _, sf, rate = heapq.heappop(self.releases)
            self.load[sf] = max(0.0, self.load.get(sf, 0.0) - rate)

    def _demand(self, sf: str, rate: float) -> float:
        total = 0.0
        for s in self.running | {sf}:
            load = self.load.get(s, 0.0) + (rate if s == sf else 0.0)
            total += self.resources[s](load)
        return total

    def admit(
        self, key: tuple[int, int, int, int], sf: str, rate: float, duration_ms: float, now: float
    ) -> float | None:
        """Seconds to hold this packet, or None to drop it."""
        counters = self.counters.setdefault(sf, SfCounters())
        counters.packets_in += 1
        if sf not in self.running:
            counters.no_instance_packets += 1
            counters.packets_dropped += 1
            if key not in self.verdicts:
                self.verdicts[key] = (now, -1.0)
                counters.flows_rejected += 1
                self.rejected.append((*key, now))
            return None
        verdict = self.verdicts.get(key)
        if verdict is None:
            self._release(now)
            if self._demand(sf, rate) > self.cap + 1e-9:
                hold = -1.0
                counters.flows_rejected += 1
                self.rejected.append((*key, now))
            else:
                mean, stdev = self.delays.get(sf, (0.0, 0.0))
                delay_ms = mean if stdev == 0 else abs(self.rng.gauss(mean, stdev))
                hold = delay_ms * self.time_scale / 1000.0
                self.load[sf] = self.load.get(sf, 0.0) + rate
                release = now + (delay_ms + duration_ms) * self.time_scale / 1000.0
                heapq.heappush(self.releases, (release, sf, rate))
                counters.flows_admitted += 1
                self.firsts.append((*key, now))
            verdict = self.verdicts[key] = (now, hold)
        if verdict[1] < 0:
            counters.packets_dropped += 1
            return None
        return verdict[1]

    def forget(self, now: float) -> None:
        old = [k for k, (t, _) in self.verdicts.items() if now - t > FORGET_AFTER]
        for key in old:
            del self.verdicts[key]

    def report(self) -> dict[str, object]:
        return {
            "node": self.node,
            "cap": self.cap,
            "running": sorted(self.running),
            "counters": {sf: vars(c) for sf, c in sorted(self.counters.items())},
            "firsts": self.firsts,
            "rejected": self.rejected,
        }


def instances_for(scenario_path: str, node: str, time_scale: float, seed: int) -> NodeInstances:
    from agent.model.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    services = scenario.services
    return NodeInstances(
        node=node,
        cap=scenario.network.node(node).cap,
        chains=[tuple(sfs) for sfs in services.chains.values()],
        delays={
            name: (sf.processing_delay_mean, sf.processing_delay_stdev)
            for name, sf in services.functions.items()
        },
        resources={name: sf.resource.fn for name, sf in services.functions.items()},
        time_scale=time_scale,
        seed=seed,
    )


class SfProcess:
    """The I/O loop around NodeInstances."""

    def __init__(self, iface: str, node: NodeInstances, out: Path) -> None:
        self.node, self.out = node, out
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((iface, 0))
        self.pending: list[tuple[float, int, bytes, str]] = []
        self.seq = 0
        self.stdin_buffer = b""
        self.stop = False

    def command(self, line: str) -> dict[str, object]:
        verb, _, arg = line.strip().partition(" ")
        if verb == "start" and arg in self.node.delays:
            self.node.running.add(arg)
        elif verb == "stop" and arg:
            self.node.running.discard(arg)
        elif verb == "quit":
            self.stop = True
        elif verb != "running":
            return {"ok": False, "error": f"unknown command {line.strip()!r}"}
        return {"ok": True, "running": sorted(self.node.running)}

    def _stdin(self) -> None:
        chunk = os.read(sys.stdin.fileno(), 4096)
        if not chunk:
            self.stop = True
            return
        self.stdin_buffer += chunk
        while b"\n" in self.stdin_buffer:
            line, self.stdin_buffer = self.stdin_buffer.split(b"\n", 1)
            print(json.dumps(self.command(line.decode())), flush=True)

    def _frame(self) -> None:
        frame, address = self.sock.recvfrom(65535)
        if address[2] == PACKET_OUTGOING:
            return
        labelled = parse_mpls(frame)
        if labelled is None:
            return
        sf = self.node.sf_of(labelled.chain, labelled.position)
        if sf is None:
            return
        pkt = labelled.packet
        now = time.time()
        key = (pkt.flow_id, pkt.ingress, labelled.chain, labelled.position)
        hold = self.node.admit(key, sf, pkt.rate, pkt.duration_ms, now)
        if hold is not None:
            self.seq += 1
            heapq.heappush(self.pending, (now + hold, self.seq, frame, sf))

    def _send_due(self) -> None:
        now = time.time()
        while self.pending and self.pending[0][0] <= now:
            item = heapq.heappop(self.pending)
            try:
                self.sock.send(item[2])
                self.node.counters[item[3]].packets_out += 1
            except OSError:
                continue

    def loop(self) -> None:
        print(json.dumps({"ok": True, "ready": True}), flush=True)
        stdin = sys.stdin.fileno()
        last_forget = time.time()
        while not self.stop:
            timeout = 0.05
            if self.pending:
                timeout = max(0.0, min(timeout, self.pending[0][0] - time.time()))
            readable, _, _ = select.select([self.sock, stdin], [], [], timeout)
            if self.sock in readable:
                for _ in range(64):  # drain what is queued without blocking
                    self._frame()
                    if not select.select([self.sock], [], [], 0)[0]:
                        break
            if stdin in readable:
                self._stdin()
            self._send_due()
            if time.time() - last_forget > 5.0:
                self.node.forget(time.time())
                last_forget = time.time()
        write_report(self.out, self.node.report())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mininet_labs.sf_instance")
    parser.add_argument("--iface", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--time-scale", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    node = instances_for(args.scenario, args.node, args.time_scale, args.seed)
    process = SfProcess(args.iface, node, Path(args.out))

    def on_term(signum: int, frame: object) -> None:
        process.stop = True

    signal.signal(signal.SIGTERM, on_term)
    process.loop()


if __name__ == "__main__":
    main()
