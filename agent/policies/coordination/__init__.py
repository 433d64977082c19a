"""Learned coordination policies (DeepCoord-style actors) and the shipped ones by name.

Neither importing this package nor loading and running a policy imports torch: the card,
the file checks, the names and inference (the actor in numpy) are torch-free; torch comes in
only with the torch actor itself (``CoordinationPolicy.actor``, training, export).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from agent.policies.base import PolicyContext
from agent.policies.coordination.card import check_compatible, check_policy_files
from agent.policies.coordination.locate import SHIPPED, find_policy, shipped_names
from agent.policies.errors import PolicyFileError, PolicyMismatchError

if TYPE_CHECKING:
    from agent.policies.coordination.policy import CoordinationPolicy


def load_policy(path: str | Path, context: PolicyContext | None = None) -> CoordinationPolicy:
    """See ``agent.policies.coordination.policy.load_policy``."""
    from agent.policies.coordination import policy

    return policy.load_policy(path, context)


def load_named(
    name: str, context: PolicyContext | None = None, root: Path = SHIPPED
) -> CoordinationPolicy:
    """See ``agent.policies.coordination.policy.load_named``."""
    from agent.policies.coordination import policy

    return policy.load_named(name, context, root)


__all__ = [
    "SHIPPED",
    "PolicyFileError",
    "PolicyMismatchError",
    "check_compatible",
    "check_policy_files",
    "find_policy",
    "load_named",
    "load_policy",
    "shipped_names",
]
