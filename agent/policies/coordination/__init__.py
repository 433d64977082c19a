"""Learned coordination policies (DeepCoord-style actors) and the shipped ones by name."""

from agent.policies.coordination.policy import (
    CoordinationPolicy,
    PolicyFileError,
    PolicyMismatchError,
    load_named,
    load_policy,
    shipped_names,
)

__all__ = [
    "CoordinationPolicy",
    "PolicyFileError",
    "PolicyMismatchError",
    "load_named",
    "load_policy",
    "shipped_names",
]
