"""Recovery policies by name: the shipped DeepPR (beam search or greedy over its
Q-values), RATIO and RANDOM. ``check_recovery_policy`` validates without torch."""

from __future__ import annotations

from pathlib import Path

from agent.policies.errors import UnknownPolicyError
from agent.policies.recovery.base import RandomPolicy, RatioPolicy, RecoveryPolicy
from agent.policies.recovery.card import SHIPPED, check_policy_files

RECOVERY_POLICIES = ("deeppr", "deeppr-greedy", "ratio", "random")


def check_recovery_policy(name: str, directory: Path | None = None) -> str:
    """A one-line description of recovery policy ``name``; PolicyError when it is unknown
    or its files are broken (read without building the network)."""
    if name not in RECOVERY_POLICIES:
        known = ", ".join(RECOVERY_POLICIES)
        raise UnknownPolicyError(f"unknown recovery policy {name!r} (known: {known})")
    if name.startswith("deeppr"):
        folder = directory or SHIPPED
        check_policy_files(folder)
        return f"{name} from {folder}"
    return name


def make_recovery_policy(
    name: str, directory: Path | None = None, beam_width: int = 64, seed: int = 0
) -> RecoveryPolicy:
    check_recovery_policy(name, directory)
    if name == "ratio":
        return RatioPolicy()
    if name == "random":
        return RandomPolicy(seed)
    from agent.policies.recovery.deeppr import DeepPRPolicy  # torch: only here

    if name == "deeppr":
        return DeepPRPolicy.load(directory, "beam", beam_width)
    return DeepPRPolicy.load(directory, "greedy")
