"""A coordination result as the project's ``Decision``: placement and schedule.

Placement: every node that runs an instance, with its VNFs. Schedule: for each request
and chain position, traffic at the node of the previous VNF (the ingress for the first)
goes to the nodes of this VNF in proportion to the rates the solution gives them; rows
of several requests that meet at one node are merged by rate and normalised, as a switch
group mixes the flows that reach it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from agent.model.hvc import Request
from agent.model.types import Decision
from agent.policies.milp.coordinate import CoordinationResult

Rows = dict[str, dict[str, dict[str, dict[str, float]]]]


def to_decision(
    result: CoordinationResult, requests: Mapping[str, Request], policy: str = "milp"
) -> Decision:
    placement: dict[str, set[str]] = defaultdict(set)
    for vnf, node in result.placements:
        placement[node].add(vnf)
    rows: Rows = {}
    for request in requests.values():
        chain = request.chain_name or "chain"
        previous = {request.ingress: request.rate}
        for i, vnf in enumerate(request.chain, start=1):
            here = result.position_rates.get((request.name, i), {})
            total = sum(here.values())
            if total <= 0:
                break
            for source, weight in previous.items():
                row = rows.setdefault(source, {}).setdefault(chain, {}).setdefault(vnf, {})
                for target, rate in here.items():
                    row[target] = row.get(target, 0.0) + weight * rate / total
            previous = here
    schedule = {
        node: {
            chain: {vnf: _normalised(targets) for vnf, targets in per_vnf.items()}
            for chain, per_vnf in per_chain.items()
        }
        for node, per_chain in rows.items()
    }
    notes = (f"status {result.status}", f"instances {result.instances}")
    return Decision(
        {node: tuple(sorted(vnfs)) for node, vnfs in sorted(placement.items())},
        schedule,
        policy,
        notes,
    )


def complete(
    decision: Decision, nodes: Sequence[str], chains: Mapping[str, Sequence[str]]
) -> Decision:
    """Every (node, chain, SF) row filled, as a simulator or switch table expects: a row
    the plan does not use sends to the SF's instances in proportion to the traffic the
    plan gives them (anywhere, uniformly, for an SF without instances)."""
    share: dict[str, dict[str, dict[str, float]]] = {}
    for per_chain in decision.schedule.values():
        for chain, per_sf in per_chain.items():
            for sf, targets in per_sf.items():
                row = share.setdefault(chain, {}).setdefault(sf, {})
                for node, weight in targets.items():
                    row[node] = row.get(node, 0.0) + weight
    uniform = {node: 1.0 / len(nodes) for node in nodes} if nodes else {}
    schedule: Rows = {}
    for node in nodes:
        for chain, sfs in chains.items():
            for sf in dict.fromkeys(sfs):
                planned = decision.schedule.get(node, {}).get(chain, {}).get(sf)
                chosen: Mapping[str, float] = planned or share.get(chain, {}).get(sf) or uniform
                schedule.setdefault(node, {}).setdefault(chain, {})[sf] = _normalised(chosen)
    return Decision(decision.placement, schedule, decision.policy, decision.notes)


def _normalised(targets: Mapping[str, float]) -> dict[str, float]:
    total = sum(targets.values())
    return {node: weight / total for node, weight in sorted(targets.items()) if weight > 0}


def decision_as_dict(decision: Decision) -> dict[str, object]:
    """Plain data for JSON."""
    return {
        "policy": decision.policy,
        "placement": {node: list(vnfs) for node, vnfs in decision.placement.items()},
        "schedule": {
            node: {c: {v: dict(t) for v, t in per_vnf.items()} for c, per_vnf in per_chain.items()}
            for node, per_chain in decision.schedule.items()
        },
        "notes": list(decision.notes),
    }
