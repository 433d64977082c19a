"""Checks every decision passes before it becomes rules."""

from __future__ import annotations

import math

from agent.model.network import Network
from agent.model.services import Services
from agent.model.types import Decision


class UnsafeDecision(ValueError):
    """A decision that cannot be installed as it is."""


def make_safe(
    decision: Decision,
    network: Network,
    services: Services,
    down_nodes: frozenset[str],
    reachable: set[tuple[str, str]],
) -> Decision:
    """Drop weights toward failed or unreachable nodes and renormalise; reject names
    the topology does not have and entries that end up with nothing to send to."""
    schedule: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for node, per_chain in decision.schedule.items():
        if not network.has_node(node):
            raise UnsafeDecision(f"unknown node {node!r}")
        if node in down_nodes:
            continue
        for chain, per_sf in per_chain.items():
            if chain not in services.chains:
                raise UnsafeDecision(f"unknown chain {chain!r}")
            for sf, weights in per_sf.items():
                if sf not in services.chains[chain]:
                    raise UnsafeDecision(f"{sf!r} is not in chain {chain!r}")
                kept = _usable(node, weights, network, down_nodes, reachable)
                if kept:
                    schedule.setdefault(node, {}).setdefault(chain, {})[sf] = kept
    placement = {node: sfs for node, sfs in decision.placement.items() if node not in down_nodes}
    return Decision(placement, schedule, decision.policy, decision.notes)


def _usable(
    node: str,
    weights: object,
    network: Network,
    down_nodes: frozenset[str],
    reachable: set[tuple[str, str]],
) -> dict[str, float]:
    assert isinstance(weights, dict)
    kept: dict[str, float] = {}
    for dst, weight in weights.items():
        if not network.has_node(dst):
            raise UnsafeDecision(f"unknown node {dst!r}")
        if not isinstance(weight, int | float) or not math.isfinite(weight) or weight < 0:
            raise UnsafeDecision(f"bad weight {weight!r} at {node}")
        if weight > 0 and dst not in down_nodes and (dst == node or (node, dst) in reachable):
            kept[dst] = float(weight)
    total = sum(kept.values())
    return {dst: w / total for dst, w in kept.items()} if total > 0 else {}
