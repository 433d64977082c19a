"""A real Open vSwitch test bed: userspace bridges, veth links, host namespaces.

``OvsTestbed(spec, controller_port).build()`` makes N bridges (datapath_type=netdev,
OpenFlow 1.3, fail_mode=secure, explicit datapath ids) that connect to a controller
on 127.0.0.1, wires them as a ring or a full mesh with veth pairs, and attaches
namespaces: source and sink hosts (static ARP, checksum offload off) and one SF
namespace per switch running a frame reflector (tests/support/reflector.py).
``teardown()`` removes exactly what was built, by name (reflectors by process group),
carries on past any step that fails, and then checks that no bridge, link or namespace
with the bed's prefix is left; every name starts with a prefix unique to the run.
``wiring`` describes the result as plain data (dpids, port numbers, addresses) for rule
compilers and tests.

Port numbers are fixed: the SF port is 1, hosts get 10, 11, ... in the order given,
and the link towards switch j (1-based) is port 20 + j.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mininet_labs.lab import ovs_running as ovs_running
from mininet_labs.lab import wait_for as wait_for
from tests.support.processes import DEADLINE, stop_group

OVS_CTL = "/usr/share/openvswitch/scripts/ovs-ctl"
FAMILY = "ct"  # every test-bed name starts with this, then 3 hex digits of the run
SF_PORT = 1
HOST_PORT_BASE = 10
LINK_PORT_BASE = 20
REFLECTOR = Path(__file__).with_name("reflector.py")


class TestbedUnavailable(RuntimeError):
    """Open vSwitch or root privileges are missing."""


# ------------------------------------------------------------------ description


@dataclass(frozen=True)
class HostSpec:
    name: str  # at most 8 characters
    switch: int  # 1-based switch number
    ips: tuple[str, ...]
    role: Literal["source", "sink"] = "source"


@dataclass(frozen=True)
class TestbedSpec:
    __test__ = False  # not a test class, whatever its name

    switches: int = 4
    topology: Literal["ring", "mesh"] = "ring"
    hosts: tuple[HostSpec, ...] = (
        HostSpec("src1", 1, ("10.0.0.1",)),
        HostSpec("src2", 1, ("10.0.0.2",)),
        HostSpec("snk1", 3, ("10.0.0.100",), "sink"),
    )
    dpid_base: int = 0x100  # switch k gets dpid_base + k
    reflectors: bool = True


@dataclass(frozen=True)
class Host:
    name: str
    namespace: str
    role: Literal["source", "sink", "sf"]
    switch: int
    dpid: int
    port_no: int  # the switch port the host hangs on
    ips: tuple[str, ...]
    mac: str
    interface: str = "eth0"  # inside the namespace


@dataclass(frozen=True)
class Link:
    a: int  # switch numbers, a < b
    a_port: int
    b: int
    b_port: int


@dataclass(frozen=True)
class Switch:
    number: int
    bridge: str
    dpid: int
    sf_port: int
    sf: Host


@dataclass(frozen=True)
class Wiring:
    prefix: str
    controller: str
    switches: tuple[Switch, ...]
    links: tuple[Link, ...]
    hosts: tuple[Host, ...]  # sources and sinks (SF namespaces are in switches)

    def switch(self, number: int) -> Switch:
        return self.switches[number - 1]

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    def port_towards(self, a: int, b: int) -> int:
        """The port of switch ``a`` on its link to switch ``b``."""
        for link in self.links:
            if (link.a, link.b) == (a, b):
                return link.a_port
            if (link.b, link.a) == (a, b):
                return link.b_port
        raise KeyError(f"no link between switches {a} and {b}")

    def as_wiring_file(self, names: dict[int, str] | None = None) -> dict[str, object]:
        """The agent's wiring-file form (agent/model/wiring.py); switch k is node
        ``names[k]`` (default ``s<k>``); source ports are ingress ports."""
        node = (names or {}).get
        nodes = {sw.number: node(sw.number) or f"s{sw.number}" for sw in self.switches}
        ingress = {k: [h.port_no for h in self.hosts if h.switch == k and h.role == "source"]
                   for k in nodes}  # fmt: skip
        return {
            "switches": {
                nodes[sw.number]: {
                    "dpid": sw.dpid,
                    "sf_port": sw.sf_port,
                    "ingress_ports": ingress[sw.number],
                }
                for sw in self.switches
            },
            "links": [
                {"a": nodes[ln.a], "b": nodes[ln.b], "a_port": ln.a_port, "b_port": ln.b_port}
                for ln in self.links
            ],
            "hosts": {
                ip: {"node": nodes[h.switch], "port": h.port_no} for h in self.hosts for ip in h.ips
            },
        }


# ------------------------------------------------------------------ commands


def run(*cmd: str, check: bool = True, stdin: str | None = None) -> str:
    result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr}")
    return result.stdout


def ensure_ovs() -> bool:
    """Start Open vSwitch if needed; True when this call started it."""
    if os.geteuid() != 0:
        raise TestbedUnavailable("the OVS test bed needs root")
    if not shutil.which("ovs-vsctl") or not os.path.exists(OVS_CTL):
        raise TestbedUnavailable(
            "Open vSwitch is not installed (apt-get install -y --no-install-recommends "
            "openvswitch-switch iputils-ping ethtool iperf3)"
        )
    if ovs_running():
        return False
    run(OVS_CTL, "start", "--system-id=random")
    wait_for(ovs_running, DEADLINE, "ovs-vswitchd")
    # bridges persist in conf.db: remove those our own earlier runs left behind
    for bridge in run("ovs-vsctl", "list-br").split():
        if bridge.startswith(FAMILY) and len(bridge) > len(FAMILY) + 3:
            run("ovs-vsctl", "--if-exists", "del-br", bridge)
    return True


def stop_ovs_if_unused() -> None:
    """Stop an Open vSwitch this process started, if no bridge is left on it."""
    if ovs_running() and not run("ovs-vsctl", "list-br").split():
        run(OVS_CTL, "stop", check=False)


def free_prefix() -> str:
    existing = set(run("ovs-vsctl", "list-br").split())
    existing |= {line.split()[0] for line in run("ip", "netns", "list").splitlines() if line}
    while True:
        prefix = FAMILY + secrets.token_hex(2)[:3]
        if not any(name.startswith(prefix) for name in existing):
            return prefix


def mac_for(kind: int, number: int) -> str:
    return f"02:00:00:{kind:02x}:{number >> 8:02x}:{number & 0xFF:02x}"


# ------------------------------------------------------------------ the test bed


@dataclass
class OvsTestbed:
    spec: TestbedSpec
    controller_port: int
    prefix: str = ""
    wiring: Wiring | None = None
    _bridges: list[str] = field(default_factory=list)
    _veths: list[str] = field(default_factory=list)
    _namespaces: list[str] = field(default_factory=list)
    _reflectors: dict[str, subprocess.Popen[str]] = field(default_factory=dict)
    _bridge_ports: dict[int, list[tuple[str, int]]] = field(default_factory=dict)

    # -------------------------------------------------------------- building

    def build(self) -> Wiring:
        """Create everything; on failure remove what was made and re-raise."""
        self.prefix = self.prefix or free_prefix()
        try:
            self.wiring = self._plan()
            self._make_links()
            self._make_hosts()
            for number in range(1, self.spec.switches + 1):
                self.add_bridge(number)
            if self.spec.reflectors:
                for sw in self.wiring.switches:
                    self._start_reflector(sw.sf)
        except BaseException:
            self.teardown()
            raise
        return self.wiring

    def _plan(self) -> Wiring:
        n, p = self.spec.switches, self.prefix
        pairs: Iterable[tuple[int, int]]
        if self.spec.topology == "ring":
            pairs = sorted({tuple(sorted((k, k % n + 1))) for k in range(1, n + 1)})  # type: ignore[misc]
        else:
            pairs = itertools.combinations(range(1, n + 1), 2)
        links = tuple(Link(a, LINK_PORT_BASE + b, b, LINK_PORT_BASE + a) for a, b in pairs)
        dpid = {k: self.spec.dpid_base + k for k in range(1, n + 1)}
        switches = tuple(
            Switch(k, f"{p}s{k}", dpid[k], SF_PORT,
                   Host(f"sf{k}", f"{p}sf{k}", "sf", k, dpid[k], SF_PORT, (), mac_for(0xF, k)))
            for k in range(1, n + 1)
        )  # fmt: skip
        hosts, per_switch = [], dict.fromkeys(range(1, n + 1), 0)
        for index, h in enumerate(self.spec.hosts, start=1):
            if len(h.name) > 8:
                raise ValueError(f"host name {h.name!r} longer than 8 characters")
            port = HOST_PORT_BASE + per_switch[h.switch]
            per_switch[h.switch] += 1
            hosts.append(Host(h.name, f"{p}{h.name}", h.role, h.switch, dpid[h.switch], port,
                              h.ips, mac_for(1, index)))  # fmt: skip
        return Wiring(p, f"tcp:127.0.0.1:{self.controller_port}", switches, links, tuple(hosts))

    def _make_links(self) -> None:
        assert self.wiring is not None
        for link in self.wiring.links:
            a_if, b_if = f"{self.prefix}{link.a}-{link.b}", f"{self.prefix}{link.b}-{link.a}"
            run("ip", "link", "add", a_if, "type", "veth", "peer", "name", b_if)
            self._veths.append(a_if)
            for name in (a_if, b_if):
                _no_ipv6(name)
                run("ip", "link", "set", name, "up")
            self._bridge_ports.setdefault(link.a, []).append((a_if, link.a_port))
            self._bridge_ports.setdefault(link.b, []).append((b_if, link.b_port))

    def _make_hosts(self) -> None:
        assert self.wiring is not None
        every = [*self.wiring.hosts, *(sw.sf for sw in self.wiring.switches)]
        for host in every:
            self._make_namespace(host)
        for host in self.wiring.hosts:  # static ARP between sources and sinks
            for other in self.wiring.hosts:
                for ip in other.ips if other is not host else ():
                    run("ip", "-n", host.namespace, "neigh", "replace", ip, "lladdr",
                        other.mac, "dev", "eth0", "nud", "permanent")  # fmt: skip

    def _make_namespace(self, host: Host) -> None:
        outside, temp = f"{self.prefix}{host.name}", f"{self.prefix}{host.name}x"
        run("ip", "netns", "add", host.namespace)
        self._namespaces.append(host.namespace)
        run("ip", "netns", "exec", host.namespace, "sysctl", "-qw",
            "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")  # fmt: skip
        run("ip", "link", "add", outside, "type", "veth", "peer", "name", temp)
        self._veths.append(outside)
        _no_ipv6(outside)
        run("ip", "link", "set", outside, "up")
        run("ip", "link", "set", temp, "netns", host.namespace)
        script = [
            f"link set {temp} name eth0",
            f"link set eth0 address {host.mac}",
            "link set eth0 up",
            "link set lo up",
            *(f"addr add {ip}/24 dev eth0" for ip in host.ips),
        ]
        run("ip", "-n", host.namespace, "-batch", "-", stdin="\n".join(script) + "\n")
        features = "tx off" if host.role != "sf" else "tx off gro off gso off tso off"
        run("ip", "netns", "exec", host.namespace, "sh", "-c",
            f"ethtool -K eth0 {features} >/dev/null 2>&1 || true")  # fmt: skip
        self._bridge_ports.setdefault(host.switch, []).append((outside, host.port_no))

    def _start_reflector(self, sf: Host) -> None:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", sf.namespace, sys.executable, str(REFLECTOR), "eth0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        )  # fmt: skip
        self._reflectors[sf.namespace] = proc
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"reflector in {sf.namespace} did not start")

    # -------------------------------------------------------------- switches

    def add_bridge(self, number: int) -> None:
        """Create (or re-create) bridge ``number`` with its ports and controller."""
        sw = self._wiring().switch(number)
        cmd = ["ovs-vsctl", "--may-exist", "add-br", sw.bridge, "--", "set", "bridge", sw.bridge,
               "datapath_type=netdev", "protocols=OpenFlow13", "fail_mode=secure",
               f"other-config:datapath-id={sw.dpid:016x}", "other-config:disable-in-band=true",
               "--", "--id=@c", "create", "controller", f'target="{self._wiring().controller}"',
               "max_backoff=1000", "--", "set", "bridge", sw.bridge, "controller=@c"]  # fmt: skip
        for name, port in self._bridge_ports.get(number, []):
            cmd += ["--", "--may-exist", "add-port", sw.bridge, name,
                    "--", "set", "interface", name, f"ofport_request={port}"]  # fmt: skip
        if sw.bridge not in self._bridges:
            self._bridges.append(sw.bridge)
        run(*cmd)

    def delete_bridge(self, number: int) -> None:
        run("ovs-vsctl", "--if-exists", "del-br", self._wiring().switch(number).bridge)

    def disconnect_controller(self, number: int) -> None:
        run("ovs-vsctl", "del-controller", self._wiring().switch(number).bridge)

    def connect_controller(self, number: int) -> None:
        sw = self._wiring().switch(number)
        run("ovs-vsctl", "--", "--id=@c", "create", "controller",
            f'target="{self._wiring().controller}"', "max_backoff=1000",
            "--", "set", "bridge", sw.bridge, "controller=@c")  # fmt: skip

    def restore_switch(self, number: int) -> None:
        """Bring back a bridge a test deleted, or its controller if it was removed."""
        bridge = self._wiring().switch(number).bridge
        if bridge not in run("ovs-vsctl", "list-br").split():
            self.add_bridge(number)
        elif not run("ovs-vsctl", "get-controller", bridge).strip():
            self.connect_controller(number)

    def ofctl(self, number: int, *args: str) -> str:
        """``ovs-ofctl -O OpenFlow13 ARGS[0] BRIDGE ARGS[1:]``."""
        bridge = self._wiring().switch(number).bridge
        return run("ovs-ofctl", "-O", "OpenFlow13", args[0], bridge, *args[1:])

    # -------------------------------------------------------------- hosts

    def in_host(self, name: str, *cmd: str, check: bool = True, timeout: float = 30) -> str:
        """Run a command inside a host's (or ``sfK``'s) namespace."""
        ns = f"{self.prefix}{name}"
        result = subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True,
                                text=True, timeout=timeout)  # fmt: skip
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} in {ns} failed: {result.stdout}{result.stderr}")
        return result.stdout

    def popen_in_host(self, name: str, *cmd: str) -> subprocess.Popen[str]:
        ns = f"{self.prefix}{name}"
        return subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip

    # -------------------------------------------------------------- teardown

    def teardown(self) -> None:
        """Remove exactly what this test bed created; safe to call twice. Every step
        runs even when one before it fails; RuntimeError if anything is left."""
        reflectors, self._reflectors = list(self._reflectors.values()), {}
        try:
            for proc in reflectors:
                stop_group(proc, timeout=5)
        finally:
            self._remove_network()
        left = self.leftovers()
        if left:  # e.g. a bridge re-created by a test after build()
            self._remove_network(left)
            try:
                wait_for(lambda: not self.leftovers(), 10, "the test bed's removal", every=0.2)
            except TimeoutError:
                raise RuntimeError(f"{self.prefix}: cannot remove {self.leftovers()}") from None

    def _remove_network(self, names: dict[str, list[str]] | None = None) -> None:
        """Bridges, then veths and namespaces, by name (default: what was built)."""
        bridges = names.get("bridges", []) if names else self._bridges
        veths = names.get("links", []) if names else self._veths
        namespaces = names.get("namespaces", []) if names else self._namespaces
        try:
            for bridge in bridges:
                run("ovs-vsctl", "--if-exists", "del-br", bridge, check=False)
        finally:
            script = [f"link del {v}" for v in veths]
            script += [f"netns del {ns}" for ns in namespaces]
            if script:
                run("ip", "-force", "-batch", "-", stdin="\n".join(script) + "\n", check=False)
            if names is None:
                self._bridges, self._veths, self._namespaces = [], [], []

    def leftovers(self) -> dict[str, list[str]]:
        """Bridges, links and namespaces whose names start with this bed's prefix."""
        return leftovers(self.prefix) if self.prefix else {}

    def _wiring(self) -> Wiring:
        if self.wiring is None:
            raise RuntimeError("build() the test bed first")
        return self.wiring


def leftovers(prefix: str) -> dict[str, list[str]]:
    """What exists with a name starting with ``prefix``: bridges, links, namespaces
    (only the kinds with something left)."""
    bridges = run("ovs-vsctl", "list-br", check=False).split() if ovs_running() else []
    links = [line.split(":")[1].strip().split("@")[0]
             for line in run("ip", "-o", "link", "show").splitlines()]  # fmt: skip
    namespaces = [line.split()[0] for line in run("ip", "netns", "list").splitlines() if line]
    found = {"bridges": bridges, "links": links, "namespaces": namespaces}
    return {kind: mine for kind, names in found.items()
            if (mine := sorted(n for n in names if n.startswith(prefix)))}  # fmt: skip


def _no_ipv6(interface: str) -> None:
    """No router solicitations or MLD reports from our veths into the bridges."""
    with contextlib.suppress(OSError):
        Path(f"/proc/sys/net/ipv6/conf/{interface}/disable_ipv6").write_text("1")
