"""The slicing lab: three DSCP-marked UDP classes over one shared bottleneck, the daemon
(controller backend, the os-ken app, the ``dynamic`` slicing method over the bundled
``topologies/slicing/lab-three-class.yaml``) allocating per slice each decision
interval from the demand it measures on the switch, one meter per slice.

Network (the triangle scenario's nodes): a source host on pop0, a sink host on pop1,
pop0-pop1 an HTB-limited link of ``link_mbps`` (the slices share ``capacity_mbps`` of it:
the slicing scenario's capacity times ``kbps_per_unit``), the other links unlimited. The
offered demand of each class plays the slicing scenario's demand process (slice totals,
in units of ``kbps_per_unit`` kbit/s), one step every ``step_s``; one class's demand is
multiplied by ``spike_factor`` from ``spike_at`` (mid-run, mid-step) on.

While traffic runs the lab reads back the meters (``ovs-ofctl -O OpenFlow13
dump-meters``) every ``METER_POLL_S`` and the daemon's ``GET /slices`` every
``SLICES_POLL_S``; the sender and the sink count bytes per bin. ``slicing_report`` turns
that into the steady-state error per slice and the spike's reaction time.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from agent.model.scenario import load_scenario
from agent.model.slicing import load_slicing_scenario
from agent.rules.intents import METER_BASE
from mininet_labs.lab import (
    LabConfig,
    LabFailed,
    LabRun,
    free_port,
    require_lab,
    stop_process,
    wait_for,
)
from mininet_labs.slicing_report import LabRecord, SlicingResult, analyse
from mininet_labs.topology import HostPlan, LabPlan, LinkPlan, MininetLab, free_prefix

ROOT = Path(__file__).resolve().parents[1]
TRIANGLE = ROOT / "topologies/scenarios/triangle.yaml"
SLICING = ROOT / "topologies/slicing/lab-three-class.yaml"
CLASSES = {"embb": 10, "urllc": 46, "mmtc": 8}  # slice -> DSCP, in the scenario's order
PORT_BASE = 7001  # class i is sent to this UDP port + i
SOURCE_IP, SINK_IP = "10.10.0.1", "10.20.0.1"
SOURCE_PORT, SINK_PORT, LINK_PORTS = 3, 2, (10, 11)
CONTROLLER_POLL_S = 0.25  # flow statistics (slice demand) at this pace
METER_POLL_S = 0.1
SLICES_POLL_S = 0.2


@dataclass
class SlicingLabConfig:
    out: Path = ROOT / "mininet_labs/reports/slicing"
    duration: float = 90.0  # wall seconds of traffic
    decision_interval: float = 2.0
    step_s: float = 6.0  # wall seconds per step of the slicing scenario's demand
    method: str = "dynamic"
    kbps_per_unit: float = 10.0
    link_mbps: float = 11.0
    spike_slice: str = "urllc"
    spike_factor: float = 3.0
    spike_at: float | None = None  # default: mid-run, in the middle of a step
    spike_s: float | None = None  # default: two steps (or to the end)
    seed: int = 0
    bin_s: float = 0.5

    def spike_window(self) -> tuple[float, float]:
        start = self.spike_at
        if start is None:
            start = (int(self.duration / 2 // self.step_s) + 0.5) * self.step_s
        length = self.spike_s if self.spike_s is not None else 2 * self.step_s
        return start, min(self.duration, start + length)


@dataclass
class Polls:
    """What the lab read while traffic ran: (wall time, value) pairs."""

    meters: list[tuple[float, dict[int, int]]] = field(default_factory=list)
    slices: list[tuple[float, dict[str, Any]]] = field(default_factory=list)


def demand_segments(cfg: SlicingLabConfig) -> dict[str, list[tuple[float, float, float]]]:
    """Per class, (from, to, kbit/s of frames) over the run: the scenario's slice totals
    step by step, the spike on top."""
    scenario = load_slicing_scenario(SLICING)
    problem = scenario.problem(cfg.seed)
    demand = scenario.demand(problem, cfg.seed)
    bounds = np.cumsum([0] + [s.users for s in problem.slices])
    spike = cfg.spike_window()
    segments: dict[str, list[tuple[float, float, float]]] = {s.name: [] for s in problem.slices}
    t, step = 0.0, 0
    while t < cfg.duration:
        row = demand[step % demand.shape[0]]
        cuts = sorted({t, min(cfg.duration, t + cfg.step_s), *(x for x in spike if t < x)})
        cuts = [c for c in cuts if c <= min(cfg.duration, t + cfg.step_s)]
        for a, b in pairwise(cuts):
            for i, s in enumerate(problem.slices):
                kbps = float(row[bounds[i] : bounds[i + 1]].sum()) * cfg.kbps_per_unit
                if s.name == cfg.spike_slice and spike[0] <= a < spike[1]:
                    kbps *= cfg.spike_factor
                segments[s.name].append((a, b, round(kbps, 1)))
        t, step = t + cfg.step_s, step + 1
    return segments


def lab_plan(prefix: str, cfg: SlicingLabConfig) -> LabPlan:
    """The triangle's switches; a source on pop0, a sink on pop1; pop0-pop1 limited."""
    plan = LabPlan(load_scenario(TRIANGLE), prefix, 1.0)
    a, b = LINK_PORTS
    plan.links = [
        LinkPlan("pop0", "pop1", a, a, cfg.link_mbps, 0.0),
        LinkPlan("pop0", "pop2", b, a, None, 0.0),
        LinkPlan("pop1", "pop2", b, b, None, 0.0),
    ]
    plan.hosts = [
        HostPlan(f"{prefix}g0", "pop0", "source", SOURCE_PORT, "02:00:00:01:00:00", (SOURCE_IP,)),
        HostPlan(f"{prefix}k1", "pop1", "sink", SINK_PORT, "02:00:00:02:00:01", (SINK_IP,)),
    ]
    return plan


def wiring(plan: LabPlan) -> dict[str, Any]:
    a, b = LINK_PORTS
    return {
        "switches": {
            "pop0": {"dpid": plan.switches["pop0"][1], "ingress_ports": [SOURCE_PORT]},
            "pop1": {"dpid": plan.switches["pop1"][1]},
            "pop2": {"dpid": plan.switches["pop2"][1]},
        },
        "links": [
            {"a": "pop0", "b": "pop1", "a_port": a, "b_port": a},
            {"a": "pop0", "b": "pop2", "a_port": b, "b_port": a},
            {"a": "pop1", "b": "pop2", "a_port": b, "b_port": b},
        ],
        "hosts": {
            SINK_IP: {"node": "pop1", "port": SINK_PORT},
            SOURCE_IP: {"node": "pop0", "port": SOURCE_PORT},
        },
    }


def parse_meters(text: str) -> dict[int, int]:
    """meter id -> rate (kbit/s) from ``ovs-ofctl dump-meters``."""
    return {int(m): int(r) for m, r in re.findall(r"meter=(\d+).*?rate=(\d+)", text, re.S)}


class SlicingLab(LabRun):
    """One run of the slicing lab (the coordination lab's process and teardown handling)."""

    def __init__(self, config: SlicingLabConfig) -> None:
        self.scfg = config
        super().__init__(_base_config(config))
        self.polls = Polls()

    def _write_agent_config(self, plan: LabPlan, controller: str) -> Path:
        (self.work / "wiring.yaml").write_text(yaml.safe_dump(wiring(plan)))
        token = self.work / "token"
        token.write_text("slicing-lab-token-0123456789")
        token.chmod(0o600)
        classes = {n: {"match": {"ip_dscp": d}, "ingress": ["pop0"]} for n, d in CLASSES.items()}
        config = {
            "backend": "controller",
            "scenario": str(TRIANGLE),
            "policy": "shortest-path",
            "decision_interval": self.scfg.decision_interval,
            "controller": {"connect": controller, "wiring": "wiring.yaml"},
            "api": {"listen": f"127.0.0.1:{self.api_port}", "token_file": "token"},
            "log": {"format": "json"},
            "slicing": {
                "scenario": str(SLICING),
                "method": self.scfg.method,
                "kbps_per_unit": self.scfg.kbps_per_unit,
                "seed": self.scfg.seed,
                "classes": classes,
            },
        }
        path = self.work / "agent.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def _start_controller(self) -> tuple[str, int]:
        """The os-ken app, polling statistics every ``CONTROLLER_POLL_S``."""
        sock = self.work / "controller.sock"
        address, of_port = f"unix:{sock}", free_port()
        cmd = [sys.executable, "-m", "controllers", "--listen", address]
        cmd += ["--of-port", str(of_port), "--of-host", "127.0.0.1"]
        cmd += ["--poll-interval", str(CONTROLLER_POLL_S)]
        proc = self._spawn(cmd, "controller.log")
        wait_for(lambda: sock.exists() or proc.poll() is not None, 20, "the controller socket")
        if proc.poll() is not None:
            raise LabFailed(f"the controller exited; see {self.work / 'controller.log'}")
        return address, of_port

    def _hosts(self, lab: MininetLab) -> None:
        for h in lab.plan.hosts:
            host = lab.nodes[h.name]
            host.cmd(f"ip addr add {h.ips[0]}/8 dev {h.iface}")
        sink = next(h for h in lab.plan.hosts if h.role == "sink")
        source = lab.nodes[next(h.name for h in lab.plan.hosts if h.role == "source")]
        source.cmd(f"ip neigh replace {SINK_IP} lladdr {sink.mac} dev {source.name}-eth0")

    def _poll(self, bridge: str) -> None:
        """Meters and the daemon's slices until the run stops."""
        next_slices = 0.0
        while not self._stop.wait(METER_POLL_S):
            meters = parse_meters(_dump_meters(bridge))
            now = time.time()
            if meters and (not self.polls.meters or self.polls.meters[-1][1] != meters):
                self.polls.meters.append((now, meters))
            if now >= next_slices:
                next_slices = now + SLICES_POLL_S
                status, body = self.get("/slices")
                if status == 200 and body and body.get("step") is not None:
                    self.polls.slices.append((now, body))

    def _run(self) -> Any:
        self._ensure_ovs()
        controller, of_port = self._start_controller()
        plan = lab_plan(free_prefix(), self.scfg)
        self.prefix = plan.prefix
        self.lab = lab = MininetLab(plan, of_port)
        lab.build()
        self._hosts(lab)
        config = self._write_agent_config(plan, controller)
        agent = str(Path(sys.executable).with_name("agent"))
        daemon = self._spawn([agent, "run", "--config", str(config)], "agent.log")
        bridge = plan.switches["pop0"][0]
        wait_for(
            lambda: (
                daemon.poll() is not None or len(parse_meters(_dump_meters(bridge))) == len(CLASSES)
            ),
            60,
            "the daemon's slice meters on pop0",
        )
        if daemon.poll() is not None:
            raise LabFailed(f"the daemon exited; see {self.work / 'agent.log'}")
        return self._traffic(lab, bridge)

    def _traffic(self, lab: MininetLab, bridge: str) -> LabRecord:
        cfg = self.scfg
        t0 = time.time() + 1.0
        sink_host = next(h.name for h in lab.plan.hosts if h.role == "sink")
        ports = ",".join(str(PORT_BASE + i) for i in range(len(CLASSES)))
        listen = [sys.executable, "-m", "mininet_labs.slicing_traffic", "sink", "--ports", ports]
        listen += ["--t0", repr(t0), "--bin", str(cfg.bin_s)]
        listen += ["--out", str(self.work / "sink.json")]
        sink = lab.popen(
            sink_host, listen, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT
        )
        self.procs.append(sink)
        assert sink.stdout is not None
        if b"ready" not in sink.stdout.readline():
            raise LabFailed("the slicing sink did not start")
        segments = demand_segments(cfg)
        schedule = {
            "t0": t0,
            "end": cfg.duration,
            "bin_s": cfg.bin_s,
            "destination": SINK_IP,
            "classes": [
                {"name": n, "dscp": d, "port": PORT_BASE + i, "segments": segments[n]}
                for i, (n, d) in enumerate(CLASSES.items())
            ],
        }
        (self.work / "schedule.json").write_text(json.dumps(schedule))
        source_host = next(h.name for h in lab.plan.hosts if h.role == "source")
        send = [sys.executable, "-m", "mininet_labs.slicing_traffic", "send"]
        send += ["--schedule", str(self.work / "schedule.json")]
        send += ["--out", str(self.work / "sent.json")]
        sender = lab.popen(
            source_host, send, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
        )
        self.procs.append(sender)
        poller = threading.Thread(target=self._poll, args=(bridge,), daemon=True)
        poller.start()
        sender.wait(timeout=cfg.duration + 60)
        time.sleep(cfg.bin_s)  # the last bin's frames reach the sink
        self._stop.set()
        poller.join(timeout=15)
        stop_process(sink)
        polls = {"t0": t0, "meters": self.polls.meters, "slices": self.polls.slices}
        (self.work / "polls.json").write_text(json.dumps(polls))
        return LabRecord(t0, schedule, self.polls.meters, self.polls.slices, self.work)

    def run_lab(self) -> SlicingResult:
        require_lab()
        self.work.mkdir(parents=True, exist_ok=True)
        for stale in ("sent.json", "sink.json", "schedule.json"):
            (self.work / stale).unlink(missing_ok=True)
        try:
            record = self._run()
        finally:
            self.teardown()
        meter_ids = {name: METER_BASE + 1 + i for i, name in enumerate(CLASSES)}
        return analyse(record, self.scfg, meter_ids)


def _dump_meters(bridge: str) -> str:
    return subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", "dump-meters", bridge],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout


def _base_config(cfg: SlicingLabConfig) -> LabConfig:
    return LabConfig(TRIANGLE, "shortest-path", cfg.duration, out=cfg.out)


def slicing_command(args: argparse.Namespace, argv: list[str] | None) -> int:
    from mininet_labs.slicing_report import write_files

    config = SlicingLabConfig(args.out, args.duration, args.interval)
    if config.duration < 4 * config.step_s:
        raise ValueError(f"--duration {config.duration:g}: at least {4 * config.step_s:g} s")
    result = SlicingLab(config).run_lab()
    command = " ".join(["python -m mininet_labs", *(argv or sys.argv[1:])])
    report = write_files(result, config.out, command)
    summary = result.to_json()
    print(
        json.dumps({"report": str(report), **{k: summary[k] for k in ("steady_ok", "reaction_ok")}})
    )
    return 0
