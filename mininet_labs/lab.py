"""One lab run: OVS, the controller app, the daemon, the Mininet network, SF
instances, traffic, faults; then metrics. Everything started here is stopped here,
by PID (processes) and by name (bridges, links, hosts)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from agent.model.scenario import Scenario, load_scenario
from mininet_labs.instances import InstanceServer, LabInstanceManager, NodeProcessLink
from mininet_labs.metrics import LabMetrics, lab_metrics
from mininet_labs.reportfile import LabReportError
from mininet_labs.topology import LabPlan, MininetLab, free_prefix
from mininet_labs.traffic import flow_schedule, write_schedule

OVS_CTL = "/usr/share/openvswitch/scripts/ovs-ctl"
ROOT = Path(__file__).resolve().parents[1]
TOKEN = "mininet-lab-token-0123456789"
REPORTS = ("flows.json", "schedule-*.json", "sf-*.json", "sink-*.json", "source-*.json")
REPORT_WAIT_S = 15.0  # for a process to write its report and exit once told to stop
T = TypeVar("T")


class LabUnavailable(RuntimeError):
    """Root, Open vSwitch or Mininet's mnexec is missing."""


class LabFailed(RuntimeError):
    """A process the lab started (controller, daemon) exited before it was ready."""


@dataclass(frozen=True)
class Fault:
    action: str  # fail | restore
    node: str | None
    link: tuple[str, str] | None
    at: float  # wall seconds after traffic starts (scenario time 0): scenario ms = at*1000/K

    @staticmethod
    def parse(action: str, text: str) -> Fault:
        target, sep, at = text.rpartition("@")
        if not sep or not target:
            raise ValueError(f"--{action} {text!r}: expected NODE@SECONDS or NODE-NODE@SECONDS")
        try:
            seconds = float(at)
        except ValueError:
            raise ValueError(f"--{action} {text!r}: {at!r} is not a number of seconds") from None
        if "-" in target:
            a, b = target.split("-", 1)
            return Fault(action, None, (a, b), seconds)
        return Fault(action, target, None, seconds)


@dataclass
class LabConfig:
    scenario: Path
    policy: str = "shortest-path"
    duration: float = 30.0  # wall seconds of traffic
    time_scale: float = 10.0  # wall ms per scenario ms
    out: Path = Path("results/labs/run")
    packets_per_flow: int = 4
    frame_size: int = 200
    faults: list[Fault] = field(default_factory=list)
    decision_interval: float | None = None  # default: one control step, scaled
    bin_s: float = 1.0

    def unit_mbps(self, scenario: Scenario) -> float:
        """Mbit/s that one unit of data rate becomes: a mean flow's packets over its
        scaled duration."""
        cfg = scenario.traffic.config
        wall_s = cfg.flow_size_shape / cfg.flow_dr_mean * self.time_scale
        bits = self.packets_per_flow * self.frame_size * 8
        return bits / wall_s / 1e6 / cfg.flow_dr_mean


def require_lab() -> None:
    if os.geteuid() != 0:
        raise LabUnavailable("the Mininet lab needs root (network namespaces, ovs-vsctl)")
    for tool in ("ovs-vsctl", "mnexec", "tc", "ethtool"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode:
            raise LabUnavailable(f"{tool} is not installed")


def ovs_running() -> bool:
    return subprocess.run(["ovs-vsctl", "--timeout=2", "show"], capture_output=True).returncode == 0


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, every: float = 0.05) -> T:
    """Poll ``probe`` until it returns something truthy; TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM this one process (by its PID), then SIGKILL if it does not go."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


class LabRun:
    def __init__(self, config: LabConfig) -> None:
        self.cfg = config
        self.scenario = load_scenario(config.scenario)
        self.out = config.out.resolve()  # the lab's processes run elsewhere (cwd ROOT)
        self.work = self.out / "work"
        self.procs: list[subprocess.Popen[Any]] = []  # stopped in reverse order
        self.sf_procs: dict[str, subprocess.Popen[Any]] = {}  # node -> its SF process
        self.lab: MininetLab | None = None
        self.prefix: str | None = None  # this run's names start with it (kept after teardown)
        self.server: InstanceServer | None = None
        self.started_ovs = False
        self.api_port = free_port()
        self.events: list[dict[str, Any]] = []
        self._stop = threading.Event()

    # ---------------------------------------------------------------- processes
    def _spawn(self, cmd: list[str], log: str, **kwargs: Any) -> subprocess.Popen[Any]:
        with (self.work / log).open("ab") as handle:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, **kwargs
            )
        self.procs.append(proc)
        return proc

    def _ensure_ovs(self) -> None:
        if not ovs_running():
            subprocess.run([OVS_CTL, "start", "--system-id=random"], capture_output=True)
            wait_for(ovs_running, 10, "ovs-vswitchd")
            self.started_ovs = True

    def _start_controller(self) -> tuple[str, int]:
        sock = self.work / "controller.sock"
        address, of_port = f"unix:{sock}", free_port()
        cmd = [
            sys.executable,
            "-m",
            "controllers",
            "--listen",
            address,
            "--of-port",
            str(of_port),
            "--of-host",
            "127.0.0.1",
            "--poll-interval",
            "0.5",
        ]
        proc = self._spawn(cmd, "controller.log")
        wait_for(lambda: sock.exists() or proc.poll() is not None, 20, "the controller socket")
        if proc.poll() is not None:
            raise LabFailed(f"the controller exited; see {self.work / 'controller.log'}")
        return address, of_port

    def _write_agent_config(self, plan: LabPlan, controller: str) -> Path:
        (self.work / "wiring.yaml").write_text(yaml.safe_dump(plan.wiring()))
        (self.work / "token").write_text(TOKEN)
        interval = self.cfg.decision_interval or (
            self.scenario.run_duration * self.cfg.time_scale / 1000.0
        )
        config = {
            "backend": "controller",
            "scenario": str(self.cfg.scenario.resolve()),
            "policy": self.cfg.policy,
            "decision_interval": interval,
            "controller": {
                "connect": controller,
                "wiring": "wiring.yaml",
                # port counters in the scenario's units: what the policy saw in training
                "units": {"rate_mbps": plan.unit_mbps, "time_scale": self.cfg.time_scale},
            },
            "api": {"listen": f"127.0.0.1:{self.api_port}", "token_file": "token"},
            "instances": {"kind": "json-lines", "endpoint": f"unix:{self.work / 'instances.sock'}"},
            "log": {"format": "json"},
        }
        path = self.work / "agent.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}{path}", timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, None
        except (urllib.error.URLError, OSError, ValueError):
            return 0, None

    # ---------------------------------------------------------------- SF instances
    def _start_instances(self, lab: MininetLab) -> LabInstanceManager:
        links: dict[str, NodeProcessLink] = {}
        for host in lab.plan.role("sf"):
            cmd = [
                sys.executable,
                "-m",
                "mininet_labs.sf_instance",
                "--iface",
                host.iface,
                "--node",
                host.node,
                "--scenario",
                str(self.cfg.scenario.resolve()),
                "--time-scale",
                str(self.cfg.time_scale),
                "--seed",
                str(self.scenario.seed),
                "--out",
                str(self.work / f"sf-{host.node}.json"),
            ]
            with (self.work / f"sf-{host.node}.log").open("ab") as err:
                proc = lab.popen(
                    host.name,
                    cmd,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    cwd=ROOT,
                )
            self.procs.append(proc)
            self.sf_procs[host.node] = proc
            assert proc.stdin is not None and proc.stdout is not None
            if b"ready" not in proc.stdout.readline():
                raise RuntimeError(f"SF process on {host.node} did not start")
            links[host.node] = NodeProcessLink(proc.stdin, proc.stdout)
        return LabInstanceManager(links)

    def _start_sinks(self, lab: MininetLab) -> list[subprocess.Popen[Any]]:
        sinks = []
        for host in lab.plan.role("sink"):
            cmd = [
                sys.executable,
                "-m",
                "mininet_labs.traffic",
                "sink",
                "--iface",
                host.iface,
                "--out",
                str(self.work / f"sink-{host.node}.json"),
            ]
            proc = lab.popen(
                host.name, cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT
            )
            self.procs.append(proc)
            sinks.append(proc)
            assert proc.stdout is not None
            if b"ready" not in proc.stdout.readline():
                raise RuntimeError(f"sink on {host.node} did not start")
        return sinks

    def _start_sources(self, lab: MininetLab, t0: float) -> list[subprocess.Popen[Any]]:
        flows = flow_schedule(
            self.scenario,
            self.cfg.duration,
            self.cfg.time_scale,
            self.cfg.packets_per_flow,
            lab.plan.sources(),
            lab.plan.sinks(),
        )
        write_schedule(self.work / "flows.json", flows)
        net = self.scenario.network
        senders = []
        for host in lab.plan.role("source"):
            mine = [f for f in flows if f.ingress == net.index(host.node)]
            schedule = self.work / f"schedule-{host.node}.json"
            write_schedule(schedule, mine)
            cmd = [
                sys.executable,
                "-m",
                "mininet_labs.traffic",
                "send",
                "--iface",
                host.iface,
                "--schedule",
                str(schedule),
                "--t0",
                repr(t0),
                "--time-scale",
                str(self.cfg.time_scale),
                "--mac",
                host.mac,
                "--size",
                str(self.cfg.frame_size),
                "--out",
                str(self.work / f"source-{host.node}.json"),
            ]
            proc = lab.popen(
                host.name, cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
            )
            self.procs.append(proc)
            senders.append(proc)
        return senders

    # ---------------------------------------------------------------- faults
    def _apply_fault(self, lab: MininetLab, fault: Fault, t0: float) -> None:
        wait = t0 + fault.at - time.time()
        if wait > 0 and self._stop.wait(wait):
            return
        up = fault.action == "restore"
        if fault.node is not None:
            if up:
                lab.start_switch(fault.node)
            else:
                lab.stop_switch(fault.node)
        elif fault.link is not None:
            lab.set_link(*fault.link, up=up)
        target = fault.node or "-".join(fault.link or ())
        self.events.append({"t": time.time() - t0, "action": fault.action, "target": target})

    # ---------------------------------------------------------------- the run
    def run(self) -> LabMetrics:
        require_lab()
        self.work.mkdir(parents=True, exist_ok=True)
        for pattern in REPORTS:  # an earlier run's reports must not stand in for this one's
            for stale in self.work.glob(pattern):
                stale.unlink()
        try:
            return self._run()
        finally:
            self.teardown()

    def _run(self) -> LabMetrics:
        self._ensure_ovs()
        controller, of_port = self._start_controller()
        plan = LabPlan(self.scenario, free_prefix(), self.cfg.unit_mbps(self.scenario))
        self.prefix = plan.prefix
        self.lab = lab = MininetLab(plan, of_port)
        lab.build()
        # the daemon starts and stops SF instances itself, through the lab's manager
        manager = self._start_instances(lab)
        self.server = InstanceServer(manager, self.work / "instances.sock")
        self.server.start()
        config = self._write_agent_config(plan, controller)
        agent = str(Path(sys.executable).with_name("agent"))
        daemon = self._spawn([agent, "run", "--config", str(config)], "agent.log")
        ready = wait_for(
            lambda: daemon.poll() is not None or self.get("/readyz")[0] == 200,
            60,
            "the daemon to turn ready",
        )
        if ready and daemon.poll() is not None:
            raise LabFailed(f"the daemon exited; see {self.work / 'agent.log'}")
        wait_for(lambda: manager.running(), 20, "the first SF instances")
        sinks = self._start_sinks(lab)
        t0 = time.time() + 1.0
        senders = self._start_sources(lab, t0)
        faults = [
            threading.Thread(target=self._apply_fault, args=(lab, f, t0), daemon=True)
            for f in self.cfg.faults
        ]
        for thread in faults:
            thread.start()
        ttl = max(self.scenario.traffic.config.ttl_choices)
        drain = ttl * self.cfg.time_scale / 1000.0 + 1.0
        for proc in senders:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(1.0, t0 + self.cfg.duration + 5.0 - time.time()))
        time.sleep(drain)
        self._stop.set()  # ends fault threads still waiting
        for thread in faults:
            thread.join(timeout=5)
        for proc in [*senders, *sinks]:
            stop_process(proc)  # each writes its report on SIGTERM; waited for
        self._stop_instances(manager)
        placement = self.get("/decisions/latest")[1] or {}
        status = self.get("/status")[1] or {}
        metrics = lab_metrics(
            self.work, self.scenario, self.cfg.time_scale, t0, self.cfg.bin_s, self._reports(lab)
        )
        metrics.info.update(
            {
                "policy": self.cfg.policy,
                "scenario": self.scenario.name,
                "duration_s": self.cfg.duration,
                "time_scale": self.cfg.time_scale,
                "packets_per_flow": self.cfg.packets_per_flow,
                "unit_mbps": round(plan.unit_mbps, 4),
                "link_delay": "emulated (netem)"
                if lab.delay_emulated
                else "not emulated (no netem)",
                "events": self.events,
                "instance_requests": [list(r) for r in manager.requests],
                "final_placement": placement.get("placement"),
                "daemon_fallback": status.get("fallback"),
            }
        )
        return metrics

    def _stop_instances(self, manager: LabInstanceManager) -> None:
        """Tell every SF process to quit and wait until it has exited, so that its report
        is complete before anything reads it; SIGTERM (which also writes the report) for a
        process that does not quit in time."""
        for link in manager.links.values():
            with contextlib.suppress(Exception):
                link.ask("quit")
        deadline = time.monotonic() + REPORT_WAIT_S
        for node, proc in self.sf_procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                stop_process(proc)
            if proc.returncode not in (0, -signal.SIGTERM):
                raise LabReportError(
                    f"the SF process on {node} exited with status {proc.returncode}; "
                    f"see {self.work / f'sf-{node}.log'}"
                )

    @staticmethod
    def _reports(lab: MininetLab) -> list[str]:
        """The report files this run's processes must have left."""
        names = {"sf": "sf-{}.json", "sink": "sink-{}.json", "source": "source-{}.json"}
        return [names[h.role].format(h.node) for h in lab.plan.hosts if h.role in names]

    def teardown(self) -> None:
        self._stop.set()
        for proc in reversed(self.procs):
            stop_process(proc)
        self.procs.clear()
        if self.server is not None:
            self.server.close()
            self.server = None
        if self.lab is not None:
            self.lab.teardown()
            self.lab = None
        if self.started_ovs:
            bridges = subprocess.run(["ovs-vsctl", "list-br"], capture_output=True, text=True)
            if not bridges.stdout.split():
                subprocess.run([OVS_CTL, "stop"], capture_output=True)


@contextlib.contextmanager
def lab_run(config: LabConfig) -> Iterator[LabRun]:
    run = LabRun(config)
    try:
        yield run
    finally:
        run.teardown()
