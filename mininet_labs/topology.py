"""Topology builder: a scenario's network becomes a Mininet network.

One Open vSwitch bridge per node (userspace datapath, OpenFlow 1.3, fail_mode
secure, explicit datapath id), links with the scenario's capacity as an HTB rate, a
compute host per node (its SF instances; a node of capacity 0 rejects every flow, as
in the simulator), a traffic source at each ingress node and a sink at each egress
node (or, where the scenario has none, at each ingress node: flows come back there
after their chain). Link delays need netem; where the kernel lacks it they are
reported as not emulated.

``LabPlan`` is plain data (names, ports, addresses, the wiring file); ``MininetLab``
builds and removes it. Every name starts with a prefix unique to the run, so teardown
touches nothing else. Ports on every switch: 1 the compute host, 2 the sink, 3 the
source, 10 and up the links in the scenario's link order.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
from dataclasses import dataclass, field
from typing import Any

from agent.model.scenario import Scenario

SF_PORT, SINK_PORT, SOURCE_PORT, LINK_PORT_BASE = 1, 2, 3, 10
FAMILY = "ml"  # every lab name starts with this and 3 hex digits
MAX_LINK_MBPS = 1000.0


@dataclass(frozen=True)
class HostPlan:
    name: str
    node: str
    role: str  # sf | source | sink
    port: int
    mac: str
    ips: tuple[str, ...] = ()

    @property
    def iface(self) -> str:
        return f"{self.name}-eth0"


@dataclass(frozen=True)
class LinkPlan:
    a: str
    b: str
    a_port: int
    b_port: int
    mbps: float | None
    delay_ms: float


@dataclass
class LabPlan:
    scenario: Scenario
    prefix: str
    unit_mbps: float  # Mbit/s of one unit of the scenario's data rate
    source_pool: int = 4096  # an address per flow: SELECT groups split by address hash
    switches: dict[str, tuple[str, int]] = field(default_factory=dict)  # node -> (bridge, dpid)
    links: list[LinkPlan] = field(default_factory=list)
    hosts: list[HostPlan] = field(default_factory=list)

    def __post_init__(self) -> None:
        net = self.scenario.network
        for i, node in enumerate(net.node_ids):
            self.switches[node] = (f"{self.prefix}s{i}", i + 1)
        next_port = dict.fromkeys(net.node_ids, LINK_PORT_BASE)
        for link in net.links:
            mbps = None if link.cap is None else min(MAX_LINK_MBPS, link.cap * self.unit_mbps)
            self.links.append(
                LinkPlan(link.a, link.b, next_port[link.a], next_port[link.b], mbps, link.delay)
            )
            next_port[link.a] += 1
            next_port[link.b] += 1
        sink_nodes = net.egress or net.ingress
        for i, node in enumerate(net.node_ids):
            self.hosts.append(HostPlan(f"{self.prefix}f{i}", node, "sf", SF_PORT, _mac(0x0F, i)))
            if node in net.ingress:
                pool = tuple(_source_ip(i, j) for j in range(self.source_pool))
                self.hosts.append(
                    HostPlan(f"{self.prefix}g{i}", node, "source", SOURCE_PORT, _mac(1, i), pool)
                )
            if node in sink_nodes:
                ip = f"10.{128 + i // 256}.{i % 256}.1"
                self.hosts.append(
                    HostPlan(f"{self.prefix}k{i}", node, "sink", SINK_PORT, _mac(2, i), (ip,))
                )

    def host(self, role: str, node: str) -> HostPlan | None:
        return next((h for h in self.hosts if h.role == role and h.node == node), None)

    def role(self, role: str) -> list[HostPlan]:
        return [h for h in self.hosts if h.role == role]

    def sources(self) -> dict[str, list[str]]:
        return {h.node: list(h.ips) for h in self.role("source")}

    def sinks(self) -> dict[str, tuple[str, str]]:
        return {h.node: (h.ips[0], h.mac) for h in self.role("sink")}

    def wiring(self) -> dict[str, Any]:
        """The daemon's wiring file (agent/model/wiring.py) for this lab."""
        net = self.scenario.network
        switches: dict[str, Any] = {}
        for node, (_, dpid) in self.switches.items():
            spec: dict[str, Any] = {"dpid": dpid, "sf_port": SF_PORT}
            if node in net.ingress:
                spec["ingress_ports"] = [SOURCE_PORT]
            switches[node] = spec
        chains = list(self.scenario.services.chains)
        wiring: dict[str, Any] = {
            "switches": switches,
            "links": [
                {"a": ln.a, "b": ln.b, "a_port": ln.a_port, "b_port": ln.b_port}
                for ln in self.links
            ],
            "hosts": {h.ips[0]: {"node": h.node, "port": h.port} for h in self.role("sink")},
        }
        if len(chains) > 1:
            wiring["chains"] = {
                name: {"ip_proto": 17, "udp_dst": 5000 + c} for c, name in enumerate(chains)
            }
        return wiring


def _source_ip(node: int, j: int) -> str:
    """Source address j of the node with this index: 10.0.0.0/9, 4,096 per node (the
    sinks live in 10.128.0.0/9). Sources send raw frames: nothing routes back to them."""
    k = (node + 1) * 4096 + j
    if k >= 1 << 23:
        raise ValueError(f"no source address {j} for node {node}")
    return f"10.{k >> 16}.{(k >> 8) & 255}.{k & 255}"


def _mac(kind: int, index: int) -> str:
    return f"02:00:00:{kind:02x}:{index >> 8:02x}:{index & 0xFF:02x}"


def free_prefix() -> str:
    bridges = subprocess.run(["ovs-vsctl", "list-br"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    while True:
        prefix = FAMILY + secrets.token_hex(2)[:3]
        if prefix not in bridges and prefix not in links:
            return prefix


def netem_available(prefix: str) -> bool:
    """Try netem on a dummy interface of our own (never on a shared one)."""
    dummy = f"{prefix}nt"
    if (
        subprocess.run(
            ["ip", "link", "add", dummy, "type", "dummy"], capture_output=True
        ).returncode
        != 0
    ):
        return False
    try:
        probe = subprocess.run(
            ["tc", "qdisc", "add", "dev", dummy, "root", "netem", "delay", "1ms"],
            capture_output=True,
        )
        return probe.returncode == 0
    finally:
        subprocess.run(["ip", "link", "del", dummy], capture_output=True)


class _ControllerRef:
    """What Mininet's OVSSwitch.start needs to know about a controller."""

    name = "c"
    protocol = "tcp"

    def __init__(self, port: int) -> None:
        self.port = port

    def IP(self) -> str:
        return "127.0.0.1"


class MininetLab:
    """Builds a LabPlan with Mininet and removes exactly what it built."""

    def __init__(self, plan: LabPlan, of_port: int) -> None:
        self.plan = plan
        self.controller = _ControllerRef(of_port)
        self.net: Any = None
        self.delay_emulated = False
        self.nodes: dict[str, Any] = {}

    def build(self) -> None:
        from mininet.link import Link, TCLink
        from mininet.log import setLogLevel
        from mininet.net import Mininet
        from mininet.node import OVSSwitch

        setLogLevel("critical")  # HTB's "quantum is big" notes are printed as errors
        self.delay_emulated = netem_available(self.plan.prefix)
        self.net = net = Mininet(
            topo=None,
            build=False,
            controller=None,
            link=Link,
            autoSetMacs=False,
            autoStaticArp=False,
        )
        try:
            for node, (bridge, dpid) in self.plan.switches.items():
                self.nodes[node] = net.addSwitch(
                    bridge,
                    cls=OVSSwitch,
                    dpid=f"{dpid:016x}",
                    datapath="user",
                    protocols="OpenFlow13",
                    failMode="secure",
                    reconnectms=1000,
                )
            for ln in self.plan.links:
                params: dict[str, Any] = {}
                if ln.mbps is not None:
                    params["bw"] = ln.mbps
                if self.delay_emulated and ln.delay_ms > 0:
                    params["delay"] = f"{ln.delay_ms}ms"
                net.addLink(
                    self.nodes[ln.a],
                    self.nodes[ln.b],
                    port1=ln.a_port,
                    port2=ln.b_port,
                    cls=TCLink if params else Link,
                    **params,
                )
            for h in self.plan.hosts:
                host = net.addHost(h.name, ip=None, mac=h.mac)
                self.nodes[h.name] = host
                net.addLink(host, self.nodes[h.node], port2=h.port)
            net.build()
            for h in self.plan.hosts:
                self._quiet_host(h)
            for node in self.plan.switches:
                self.start_switch(node)
        except BaseException:
            self.teardown()
            raise

    def _quiet_host(self, h: HostPlan) -> None:
        host = self.nodes[h.name]
        host.cmd("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
        features = "tx off gro off gso off tso off" if h.role == "sf" else "tx off"
        host.cmd(f"ethtool -K {h.iface} {features} >/dev/null 2>&1; ip link set {h.iface} up")

    def start_switch(self, node: str) -> None:
        bridge, _ = self.plan.switches[node]
        self.nodes[node].start([self.controller])
        subprocess.run(
            ["ovs-vsctl", "set", "bridge", bridge, "other-config:disable-in-band=true"],
            capture_output=True,
        )

    def stop_switch(self, node: str) -> None:
        """The switch goes away (bridge deleted; its links and hosts stay wired)."""
        bridge, _ = self.plan.switches[node]
        subprocess.run(["ovs-vsctl", "--if-exists", "del-br", bridge], capture_output=True)

    def set_link(self, a: str, b: str, up: bool) -> None:
        self.net.configLinkStatus(
            self.plan.switches[a][0], self.plan.switches[b][0], "up" if up else "down"
        )

    def popen(self, host: str, cmd: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc: subprocess.Popen[bytes] = self.nodes[host].popen(cmd, **kwargs)
        return proc

    def teardown(self) -> None:
        if self.net is None:
            return
        net, self.net = self.net, None
        with contextlib.suppress(Exception):
            net.stop()
        # Mininet shuts OVS switches down in a batch and never closes their shells' pty
        # (a file left for the garbage collector): close every node's
        for node in (*net.hosts, *net.switches, *net.controllers):
            pty = getattr(node, "stdin", None)
            if pty is not None and not pty.closed:
                with contextlib.suppress(OSError):
                    pty.close()
        # belt and braces: our bridges, by name
        for bridge, _ in self.plan.switches.values():
            subprocess.run(["ovs-vsctl", "--if-exists", "del-br", bridge], capture_output=True)
