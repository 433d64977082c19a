"""The MILP's problem posed from the project's own inputs (coord-sim or Topology Zoo
networks, coord-sim services and traffic), as a fluid model of the simulator:

- every network link in both directions (one capacity shared by the two), every node's
  capacity as its CPU; coordinates (longitude, latitude) for k-means;
- every service function a VNF whose CPU demand is its resource function (which must be
  linear in the load) scaled by the time an instance holds a flow's rate (processing
  delay plus flow duration) over the flow duration; the data rate is unchanged;
- one request per ingress node, chain and egress node (flows pick a chain and an egress
  uniformly), at the ingress's mean rate: flow data rate x flow duration / mean
  inter-arrival time, the rate the ingress keeps in flight on average; without egress
  nodes a request ends where its last VNF runs.
"""

from __future__ import annotations

from collections.abc import Mapping

from agent.model.errors import InputError
from agent.model.expr import ExpressionError
from agent.model.hvc import (
    UNLIMITED_RATE,
    OverlayEdge,
    Request,
    SharedPool,
    Substrate,
    Vnf,
)
from agent.model.hvc_expr import Linear, parse_linear
from agent.model.hvc_scenario import MilpInputs
from agent.model.network import Network
from agent.model.scenario import Scenario
from agent.model.services import Services


def substrate_from_network(network: Network) -> Substrate:
    links: list[OverlayEdge] = []
    pools: list[SharedPool] = []
    for i, link in enumerate(network.links):
        if link.a == link.b:
            continue
        rate = link.cap if link.cap is not None else UNLIMITED_RATE
        forward, back = f"edge_{2 * i}", f"edge_{2 * i + 1}"
        links.append(OverlayEdge(forward, link.a, link.b, link.delay, rate))
        links.append(OverlayEdge(back, link.b, link.a, link.delay, rate))
        if link.cap is not None:
            pools.append(SharedPool(f"link_{i}", (forward, back), rate))
    cpu = {node.id: node.cap for node in network.nodes}
    coordinates = {
        node.id: (node.longitude, node.latitude)
        for node in network.nodes
        if node.longitude is not None and node.latitude is not None
    }
    return Substrate(network.name, cpu, tuple(links), coordinates, tuple(pools))


def vnfs_from_services(services: Services, flow_duration_ms: float) -> dict[str, Vnf]:
    """One VNF per service function (see the module text); InputError for a resource
    function that is not linear."""
    vnfs: dict[str, Vnf] = {}
    duration = max(flow_duration_ms, 1e-9)
    for name, sf in services.functions.items():
        try:
            fn = parse_linear(sf.resource.text, variable="load")
        except ExpressionError as exc:
            where = f"sf_list.{name}.resource_function"
            problem = f"the MILP needs a linear function: {exc}"
            raise InputError(services.source, where, problem) from None
        hold = (sf.processing_delay_mean + duration) / duration
        cpu = Linear(fn.slope * hold, fn.intercept, sf.resource.text)
        vnfs[name] = Vnf(name, cpu, Linear(1.0, 0.0, "in_rate"))
    return vnfs


def requests_for_demand(
    network: Network, services: Services, demand: Mapping[str, float]
) -> dict[str, Request]:
    """``demand``: ingress node -> rate in flight; split evenly over chains and egresses."""
    egress: list[str | None] = list(network.egress) or [None]
    requests: dict[str, Request] = {}
    for ingress, rate in demand.items():
        if rate <= 0:
            continue
        share = rate / (len(services.chains) * len(egress))
        for chain, sfs in services.chains.items():
            for end in egress:
                name = f"{ingress}-{chain}" + (f"-{end}" if end is not None else "")
                requests[name] = Request(name, ingress, end, share, tuple(sfs), chain)
    return requests


def mean_demand(scenario: Scenario) -> dict[str, float]:
    """Per ingress node the rate it keeps in flight at its mean arrival rate."""
    config = scenario.traffic.config
    duration = config.typical_flow_duration_ms
    per_flow = config.flow_dr_mean * duration
    return {node: per_flow / config.inter_arrival_mean for node in scenario.network.ingress}


def inputs_from_scenario(scenario: Scenario) -> MilpInputs:
    duration = scenario.traffic.config.typical_flow_duration_ms
    requests = requests_for_demand(scenario.network, scenario.services, mean_demand(scenario))
    return MilpInputs(
        name=scenario.name,
        vnfs=vnfs_from_services(scenario.services, duration),
        requests=requests,
        substrate=substrate_from_network(scenario.network),
        source=scenario.source or "",
    )
