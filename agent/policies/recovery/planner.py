"""The daemon-facing recovery planner: failed switches and links of a coordination network
become a recovery instance, a recovery policy orders the repairs, and the result is a
JSON-serialisable ``RecoveryReport`` (the body of a future ``GET /recovery``).

Mapping (documented choice):

- every switch of the network is a node of the recovery graph; a failed switch needs
  ``switch_demand`` repair units, a working one none; its utility is ``utilities[id]``
  (default 1: one unit of service per working, connected switch);
- a failed link is a node of its own, between its two endpoints (edge a-b becomes
  a-L-b), with ``link_demand`` units and utility 0: it is worth repairing only for the
  switches it reconnects. Modelling it by its endpoints instead would force repairing a
  working switch, and could not tell two parallel failures apart;
- the independent node is the orchestrator's host (``independent``; by default the first
  working switch in network order); working switches cut off from it have demand 0 and count
  as soon as a repair reconnects them.

When repairs are reported, call ``plan_recovery`` again with the smaller failed sets (and
``received`` for units already spent on an element): the plan is recomputed from there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict

from agent.model.network import Network
from agent.model.recovery import RecoveryInstance, RecoveryPlan, make_plan
from agent.policies.recovery.base import RatioPolicy, RecoveryPolicy


class RecoveryReport(BaseModel):
    """What the daemon exposes about recovery: the failed elements and the repair plan."""

    model_config = ConfigDict(extra="forbid")

    network: str
    independent: str
    down_nodes: list[str]
    down_links: list[tuple[str, str]]
    next_repair: str | None
    plan: RecoveryPlan


def link_label(a: str, b: str) -> str:
    first, second = sorted((a, b))
    return f"{first}|{second}"


def recovery_instance(
    network: Network,
    down_nodes: Iterable[str],
    down_links: Iterable[Iterable[str]],
    *,
    independent: str | None = None,
    utilities: Mapping[str, float] | None = None,
    switch_demand: int = 1,
    link_demand: int = 1,
    capacity: int = 1,
    received: Mapping[str, int] | None = None,
) -> RecoveryInstance:
    """The recovery instance of a network with failed switches and links (see module doc)."""
    dead = set(down_nodes)
    unknown = sorted(dead - set(network.node_ids))
    if unknown:
        raise ValueError(f"unknown failed switch(es): {', '.join(unknown)}")
    broken = sorted({tuple(sorted(link)) for link in down_links})
    host = independent or next((v for v in network.node_ids if v not in dead), None)
    if host is None or host in dead or not network.has_node(host):
        raise ValueError("the independent node (orchestrator host) must be a working switch")
    got = received or {}
    labels = list(network.node_ids)
    demand = [max(switch_demand - got.get(v, 0), 1) if v in dead else 0 for v in labels]
    weights = utilities or {}
    utility = [float(weights.get(v, 1.0)) for v in labels]
    edges: list[tuple[int, int]] = []
    broken_keys = {frozenset(link) for link in broken}
    for link in network.links:
        if link.key not in broken_keys:
            edges.append((network.index(link.a), network.index(link.b)))
    for a, b in broken:
        if network.link(a, b) is None:
            raise ValueError(f"unknown failed link {a}-{b}")
        label = link_label(a, b)
        node = len(labels)
        labels.append(label)
        demand.append(max(link_demand - got.get(label, 0), 1))
        utility.append(0.0)
        edges += [(network.index(a), node), (node, network.index(b))]
    return RecoveryInstance(
        name=f"{network.name}-recovery",
        n=len(labels),
        edges=tuple(edges),
        demand=tuple(demand),
        utility=tuple(utility),
        independent=network.index(host),
        capacity=capacity,
        labels=tuple(labels),
    )


def plan_recovery(
    network: Network,
    down_nodes: Iterable[str],
    down_links: Iterable[Iterable[str]],
    policy: RecoveryPolicy | None = None,
    **options: object,
) -> RecoveryPlan:
    """A repair order for the failed elements with ``policy`` (default RATIO), and its
    expected utility curve. Elements the policy cannot reach (cut off for good) come last."""
    instance = recovery_instance(network, down_nodes, down_links, **options)  # type: ignore[arg-type]
    chosen = policy or RatioPolicy()
    order = chosen.order(instance)
    order += [v for v in instance.to_repair if v not in set(order)]
    plan = make_plan(instance, order, chosen.name)
    n_switches = len(network.nodes)
    for step in plan.steps:
        step.kind = "switch" if step.node < n_switches else "link"
    return plan


def recovery_report(
    network: Network,
    down_nodes: Iterable[str],
    down_links: Iterable[Iterable[str]],
    policy: RecoveryPolicy | None = None,
    independent: str | None = None,
    **options: object,
) -> RecoveryReport:
    """``plan_recovery`` wrapped with what a ``GET /recovery`` answer needs."""
    nodes = sorted(set(down_nodes))
    links = sorted({tuple(sorted(link)) for link in down_links})
    host = independent or next((v for v in network.node_ids if v not in set(nodes)), None)
    if host is None:
        raise ValueError("every switch has failed: no working switch to plan the repairs from")
    plan = plan_recovery(network, nodes, links, policy, independent=host, **options)
    return RecoveryReport(
        network=network.name,
        independent=host,
        down_nodes=nodes,
        down_links=[(a, b) for a, b in links],
        next_repair=plan.steps[0].label if plan.steps else None,
        plan=plan,
    )
