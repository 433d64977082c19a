"""Wiring: how the scenario's nodes map onto OpenFlow switches and their ports.

The rule compiler needs, per node, the switch's datapath id, the port toward each
neighbour, the port of the node's service-function host (its compute), the ports
where chain traffic enters, and where each end host (by IPv4 address) is attached.
A lab or test bed writes this file; on a real network the operator does.

```yaml
switches:
  pop0: {dpid: 1, sf_port: 3, ingress_ports: [4]}
  pop1: {dpid: 2, sf_port: 3}
links:                       # port on the first node toward the second, and back
  - {a: pop0, b: pop1, a_port: 1, b_port: 1}
hosts:                       # IPv4 address -> node and port
  10.0.0.1: {node: pop0, port: 4}
chains:                      # optional: which packets belong to which chain
  sfc_1: {ip_proto: 17}
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, IPvAnyAddress

from agent.model.errors import InputError
from agent.model.network import Network
from agent.model.yamlfile import YamlDocument, load_yaml, require_mapping


class SwitchSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dpid: int = Field(ge=1)
    sf_port: int | None = Field(default=None, ge=1)
    ingress_ports: list[int] = Field(default_factory=list)


class LinkSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: str
    b: str
    a_port: int = Field(ge=1)
    b_port: int = Field(ge=1)


class HostSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    node: str
    port: int = Field(ge=1)


class WiringFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    switches: dict[str, SwitchSpec]
    links: list[LinkSpec] = Field(default_factory=list)
    hosts: dict[IPvAnyAddress, HostSpec] = Field(default_factory=dict)
    chains: dict[str, dict[str, int | str]] = Field(default_factory=dict)


@dataclass(frozen=True)
class Wiring:
    dpids: dict[str, int]  # node -> datapath id
    ports: dict[tuple[str, str], int]  # (node, neighbour) -> port on node's switch
    sf_ports: dict[str, int]  # node -> port of its service-function host
    ingress_ports: dict[str, tuple[int, ...]]
    hosts: dict[str, tuple[str, int]]  # IPv4 -> (node, port)
    chain_match: dict[str, dict[str, int | str]] = field(default_factory=dict)

    def node_of(self, dpid: int) -> str | None:
        return next((node for node, d in self.dpids.items() if d == dpid), None)


def load_wiring(path: str | Path, network: Network) -> Wiring:
    doc = load_yaml(path, "wiring file")
    spec = doc.validate(WiringFile, require_mapping(doc, "a wiring file"))
    return build_wiring(doc, spec, network)


def build_wiring(doc: YamlDocument | None, spec: WiringFile, network: Network) -> Wiring:
    def fail(key: list[str | int], problem: str) -> InputError:
        if doc is None:
            return InputError(None, ".".join(map(str, key)), problem)
        return doc.error(key, problem)

    for node in spec.switches:
        if not network.has_node(node):
            raise fail(["switches", node], f"unknown node {node!r} (network {network.name})")
    missing = [n for n in network.node_ids if n not in spec.switches]
    if missing:
        raise fail(["switches"], f"no switch for node(s) {missing}")
    ports: dict[tuple[str, str], int] = {}
    for i, link in enumerate(spec.links):
        if network.link(link.a, link.b) is None:
            raise fail(["links", i], f"the network has no link {link.a}-{link.b}")
        ports[(link.a, link.b)] = link.a_port
        ports[(link.b, link.a)] = link.b_port
    hosts = {}
    for address, host in spec.hosts.items():
        if host.node not in spec.switches:
            raise fail(["hosts", str(address), "node"], f"unknown node {host.node!r}")
        hosts[str(address)] = (host.node, host.port)
    return Wiring(
        dpids={n: s.dpid for n, s in spec.switches.items()},
        ports=ports,
        sf_ports={n: s.sf_port for n, s in spec.switches.items() if s.sf_port is not None},
        ingress_ports={n: tuple(s.ingress_ports) for n, s in spec.switches.items()},
        hosts=hosts,
        chain_match=dict(spec.chains),
    )


def synthetic_wiring(network: Network) -> Wiring:
    """A wiring for a network that has no switches of its own (the embedded simulator
    backend): switch i+1 per node, ports numbered per neighbour in link order, then
    the SF host port, then one traffic-source port per ingress node; a source host
    10.0.<i>.1 at every ingress and a sink host 10.1.<i>.1 at every node."""
    next_port = dict.fromkeys(network.node_ids, 1)
    ports: dict[tuple[str, str], int] = {}
    for link in network.links:
        for a, b in ((link.a, link.b), (link.b, link.a)):
            ports[(a, b)] = next_port[a]
            next_port[a] += 1
    sf_ports: dict[str, int] = {}
    ingress_ports: dict[str, tuple[int, ...]] = {}
    hosts: dict[str, tuple[str, int]] = {}
    for i, node in enumerate(network.node_ids):
        sf_ports[node] = next_port[node]
        sink_port = next_port[node] + 1
        hosts[f"10.1.{i}.1"] = (node, sink_port)
        if node in network.ingress:
            ingress_ports[node] = (sink_port + 1,)
            hosts[f"10.0.{i}.1"] = (node, sink_port + 1)
    return Wiring(
        dpids={node: i + 1 for i, node in enumerate(network.node_ids)},
        ports=ports,
        sf_ports=sf_ports,
        ingress_ports=ingress_ports,
        hosts=hosts,
    )
