"""A coordination policy that never sends traffic to a node the observation says is down.

``DownNodeMask`` wraps any coordination policy: every schedule entry of its decision loses
the destinations in ``Observation.down_nodes`` and is renormalised over the others; an
entry whose destinations are all down goes to the working nodes with capacity, in
proportion to their capacity (an operator's first reaction to a failure). Without a
failure in view the inner decision passes unchanged (the same object, so the simulator
and the rule compiler reuse what they made of it).
"""

from __future__ import annotations

from collections.abc import Mapping

from agent.model.network import Network
from agent.model.types import Decision, Observation, placement_from_schedule
from agent.policies.base import Policy

MASK_SUFFIX = "+mask-down"


class DownNodeMask:
    """``policy`` with down nodes masked out of its schedule (see the module)."""

    def __init__(self, policy: Policy, network: Network) -> None:
        self.policy = policy
        self.name = policy.name + MASK_SUFFIX
        self.caps = {node.id: float(node.cap) for node in network.nodes}
        self._last: tuple[Decision, frozenset[str], Decision] | None = None

    def predict(self, observation: Observation) -> Decision:
        decision = self.policy.predict(observation)
        down = observation.down_nodes
        if not down:
            return decision
        last = self._last
        if last is not None and last[0] is decision and last[1] == down:
            return last[2]
        masked = mask_down(decision, down, self.caps)
        self._last = (decision, down, masked)
        return masked


def mask_down(decision: Decision, down: frozenset[str], caps: Mapping[str, float]) -> Decision:
    """``decision`` without traffic to the nodes in ``down`` (see the module)."""
    schedule = {
        node: {
            chain: {sf: masked_entry(weights, down, caps) for sf, weights in per_sf.items()}
            for chain, per_sf in per_chain.items()
        }
        for node, per_chain in decision.schedule.items()
    }
    return Decision(placement_from_schedule(schedule), schedule, decision.policy, decision.notes)


def masked_entry(
    weights: Mapping[str, float], down: frozenset[str], caps: Mapping[str, float]
) -> dict[str, float]:
    """One entry's weights over the destinations that are up, summing to 1."""
    kept = {dst: w for dst, w in weights.items() if w > 0 and dst not in down}
    if not kept:
        kept = {dst: cap for dst, cap in caps.items() if cap > 0 and dst not in down}
    total = sum(kept.values())
    if total <= 0:
        return dict(weights)
    return {dst: w / total for dst, w in kept.items()}
