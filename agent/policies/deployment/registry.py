"""Deployment policies by name: the heuristics, the shipped learned policies
(``topologies/policies/deployment/<algorithm>``) or a policy directory."""

from __future__ import annotations

from pathlib import Path

from agent.model.deployment_state import PlacementPolicy
from agent.policies.deployment.heuristics import HEURISTICS, BalancedGreedy, ThresholdGreedy
from agent.policies.errors import UnknownPolicyError

LEARNED = ("maddpg", "dqn", "ddpg", "pg")
ONLINE = (*LEARNED, *HEURISTICS, BalancedGreedy.name, ThresholdGreedy.name)


def make_deployment_policy(name: str, servers: int, shipped: Path | None = None) -> PlacementPolicy:
    """A heuristic by name, a shipped learned policy by algorithm, or a policy directory."""
    if name in HEURISTICS:
        return HEURISTICS[name]()
    if name == BalancedGreedy.name:
        return BalancedGreedy()
    if name == ThresholdGreedy.name:
        return ThresholdGreedy()
    from agent.policies.deployment.learned import SHIPPED, load_policy

    directory = (shipped or SHIPPED) / name if name in LEARNED else Path(name)
    if not (directory / "card.json").is_file():
        known = ", ".join(ONLINE)
        raise UnknownPolicyError(
            f"{name}: not a deployment policy (known: {known}, or a policy directory)"
        )
    policy = load_policy(directory, servers)
    policy.name = name
    return policy
