"""Policies by name: the baselines, the shipped trained policies, and policy directories.

The registry knows every name without importing torch: a trained policy's factory imports
its network only when it is called. ``check_policy`` validates a name or path (card, weights
header, and the network it was trained for) without building anything, for a daemon's start
or a command's argument check.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from agent.policies.base import Policy, PolicyContext
from agent.policies.coordination.card import check_compatible, check_policy_files, describe
from agent.policies.coordination.locate import (
    find_policy,
    looks_like_path,
    shipped_directory,
    shipped_names,
)
from agent.policies.errors import (
    PolicyError,
    PolicyFileError,
    PolicyMismatchError,
    UnknownPolicyError,
)
from agent.policies.heuristics import GreedyPolicy, LoadBalancePolicy, RandomSchedulePolicy
from agent.policies.shortest_path import ShortestPathPolicy

PolicyFactory = Callable[[PolicyContext], Policy]


def _milp(context: PolicyContext) -> Policy:
    """The coordination MILP's plan (HiGHS is imported only when it is built)."""
    from agent.policies.milp.policy import MilpPolicy

    return MilpPolicy(context)


BASELINES: dict[str, PolicyFactory] = {
    "shortest-path": ShortestPathPolicy,
    "load-balance": LoadBalancePolicy,
    "random": RandomSchedulePolicy,
    "greedy": GreedyPolicy,
    "milp": _milp,
}

__all__ = [
    "BASELINES",
    "PolicyError",
    "PolicyFactory",
    "PolicyFileError",
    "PolicyMismatchError",
    "UnknownPolicyError",
    "check_policy",
    "known_policies",
    "make_policy",
    "policy_factory",
]


def known_policies() -> list[str]:
    """Every policy name: the baselines, then the shipped trained policies."""
    return [*BASELINES, *shipped_names()]


def trained_directory(name: str) -> Path:
    """The directory of the trained policy ``name`` (shipped name or path)."""
    if shipped_directory(name) is None and not looks_like_path(name) and not Path(name).exists():
        raise UnknownPolicyError(
            f"unknown policy {name!r} (known: {', '.join(known_policies())}, "
            "or the path of a policy directory)"
        )
    return find_policy(name)


def policy_factory(name: str) -> PolicyFactory:
    """A factory for the policy ``name``; nothing is loaded until it is called (a trained
    policy imports torch then). UnknownPolicyError for a name that names nothing."""
    factory = BASELINES.get(name)
    if factory is not None:
        return factory
    directory = trained_directory(name)

    def load(context: PolicyContext) -> Policy:
        from agent.policies.coordination.policy import load_policy

        return load_policy(directory, context)

    return load


def make_policy(name: str, context: PolicyContext) -> Policy:
    """A baseline by name, or a trained policy by shipped name (the stem of the network it
    was trained for) or path. A trained policy refuses a network it does not know."""
    return policy_factory(name)(context)


def check_policy(name: str, context: PolicyContext | None = None) -> str:
    """Validate ``name`` without building the policy (no torch, no tensor read): a baseline,
    or a trained policy whose card is valid, whose weights file holds exactly the tensors the
    card implies and, given ``context``, that was trained for its network and service.
    Returns a one-line description; raises a ``PolicyError`` (``UnknownPolicyError``,
    ``PolicyFileError`` or ``PolicyMismatchError``) whose message is one line."""
    if name in BASELINES:
        return f"baseline {name}"
    directory = trained_directory(name)
    _, card = check_policy_files(directory)
    if context is not None:
        check_compatible(card, context)
    return f"{describe(card)}, in {directory}"
