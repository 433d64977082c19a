"""``milp``: the coordination MILP's plan as a policy (a fluid optimum to compare with).

``plan_for_demand`` is the whole work: network, services and the demand per ingress node
in, a ``Decision`` out; it blocks for as long as the solver runs (the daemon calls it in
a worker process, never on its event loop). ``MilpPolicy`` wraps it for the simulator:
it plans once for a nominal demand, then estimates each ingress node's demand from the
observations (exponentially smoothed) and plans again when an estimate moves by more than
``threshold`` from the one planned for, or when nodes or links fail or return.

The simulator's flows hold their rate for their duration (from ``flow_duration_ms``, as
the policy sees no traffic file) plus the processing delay; see agent.model.hvc_convert.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from agent.model.hvc_convert import requests_for_demand, substrate_from_network, vnfs_from_services
from agent.model.hvc_scenario import MilpInputs
from agent.model.network import Network
from agent.model.services import Services
from agent.model.types import Decision, Observation
from agent.policies.base import PolicyContext
from agent.policies.milp.api import SolveSettings, solve_inputs
from agent.policies.milp.decision import complete, to_decision
from agent.policies.milp.lp import SolverOptions
from agent.policies.milp.solve import MilpOptions


@dataclass(frozen=True)
class MilpPlanConfig:
    time_limit_s: float = 10.0  # the best plan found by then, its gap in the notes
    mip_gap: float = 1e-3
    lexicographic: bool = False  # the fluid objective (instances + delay) only
    levels: int = 1  # 1: centralised; more: a k-means hierarchy
    flow_duration_ms: float = 1.0  # DeepCoord's traffic: size 0.001 at data rate 1
    nominal_rate: float = 0.1  # in flight per ingress before any observation (1 flow / 10 ms)
    threshold: float = 0.3  # relative change of an estimate that triggers a new plan
    smoothing: float = 0.1  # weight of the newest observation


def plan_for_demand(
    network: Network,
    services: Services,
    demand: Mapping[str, float],
    config: MilpPlanConfig | None = None,
) -> Decision:
    """The MILP's Decision for ``demand`` (ingress node -> rate in flight)."""
    config = config or MilpPlanConfig()
    nodes = network.node_ids
    requests = requests_for_demand(network, services, demand)
    if not requests:
        return complete(Decision({}, {}, "milp", ("no demand",)), nodes, services.chains)
    inputs = MilpInputs(
        network.name,
        vnfs_from_services(services, config.flow_duration_ms),
        requests,
        substrate_from_network(network),
    )
    solver = SolverOptions(time_limit_s=config.time_limit_s, mip_gap=config.mip_gap)
    milp = MilpOptions(solver, lexicographic=config.lexicographic)
    settings = SolveSettings(levels=config.levels, milp=milp)
    result = solve_inputs(inputs, settings)
    if not result.feasible:
        plan = Decision({}, {}, "milp", (f"status {result.status}",))
    else:
        plan = to_decision(result, requests)
        gap = max((d.gap for d in result.domains), default=0.0)
        plan = Decision(plan.placement, plan.schedule, plan.policy, (*plan.notes, f"gap {gap:.4g}"))
    return complete(plan, nodes, services.chains)


def working_network(
    network: Network, down_nodes: frozenset[str], down_links: frozenset[frozenset[str]]
) -> Network:
    """The network without failed elements: a failed node keeps no capacity and no links."""
    nodes = tuple(
        dataclasses.replace(node, cap=0.0) if node.id in down_nodes else node
        for node in network.nodes
    )
    links = tuple(
        link
        for link in network.links
        if link.key not in down_links and not ({link.a, link.b} & down_nodes)
    )
    return Network(network.name, nodes, links, network.source)


class MilpPolicy:
    name = "milp"

    def __init__(self, context: PolicyContext, config: MilpPlanConfig | None = None) -> None:
        self.context = context
        self.config = config or MilpPlanConfig()
        ingress = context.network.ingress
        self.estimate = dict.fromkeys(ingress, self.config.nominal_rate)
        self.planned_for: dict[str, float] = {}
        self.failures: tuple[frozenset[str], frozenset[frozenset[str]]] | None = None
        self.plan: Decision | None = None
        self.plans_made = 0

    def predict(self, observation: Observation) -> Decision:
        self._observe(observation)
        failures = (observation.down_nodes, observation.down_links)
        if self.plan is None or failures != self.failures or self._moved():
            network = working_network(self.context.network, *failures)
            self.planned_for = dict(self.estimate)
            self.failures = failures
            self.plan = plan_for_demand(
                network, self.context.services, self.planned_for, self.config
            )
            self.plans_made += 1
        return self.plan

    def _observe(self, observation: Observation) -> None:
        """The first observation (step 0) reports no interval of traffic yet."""
        if observation.interval <= 0 or observation.step == 0:
            return
        weight = self.config.smoothing
        for node in self.estimate:
            report = observation.report(node)
            if report is None:
                continue
            rate = report.ingress_traffic / observation.interval * self.config.flow_duration_ms
            self.estimate[node] = (1 - weight) * self.estimate[node] + weight * rate

    def _moved(self) -> bool:
        for node, value in self.estimate.items():
            planned = self.planned_for.get(node, 0.0)
            if abs(value - planned) > self.config.threshold * max(planned, 1e-9):
                return True
        return False
