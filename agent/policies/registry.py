"""Policies by name."""

from __future__ import annotations

from collections.abc import Callable

from agent.policies.base import Policy, PolicyContext
from agent.policies.coordination import PolicyFileError, load_named, shipped_names
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
    """A baseline by name, or a shipped trained policy by name (the stem of the network
    it was trained for) or path. A trained policy refuses a network it does not know."""
    factory = BASELINES.get(name)
    if factory is not None:
        return factory(context)
    try:
        return load_named(name, context)
    except PolicyFileError:
        known = ", ".join(sorted([*BASELINES, *shipped_names()]))
        raise UnknownPolicyError(f"unknown policy {name!r} (known: {known})") from None


def known_policies() -> list[str]:
    return [*BASELINES, *shipped_names()]
