"""Policies by name."""

from __future__ import annotations

from collections.abc import Callable

from agent.policies.base import Policy, PolicyContext
from agent.policies.heuristics import GreedyPolicy, LoadBalancePolicy, RandomSchedulePolicy
from agent.policies.shortest_path import ShortestPathPolicy

PolicyFactory = Callable[[PolicyContext], Policy]

BASELINES: dict[str, PolicyFactory] = {
    "shortest-path": ShortestPathPolicy,
    "load-balance": LoadBalancePolicy,
    "random": RandomSchedulePolicy,
    "greedy": GreedyPolicy,
}


class UnknownPolicyError(ValueError):
    pass


def make_policy(name: str, context: PolicyContext) -> Policy:
    try:
        factory = BASELINES[name]
    except KeyError:
        known = ", ".join(sorted(BASELINES))
        raise UnknownPolicyError(f"unknown policy {name!r} (known: {known})") from None
    return factory(context)
