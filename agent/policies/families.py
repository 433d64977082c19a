"""The policy families the daemon runs, each with its declared contract and its names.

A family is a kind of decision: coordination (``predict(Observation) -> Decision``:
placement and schedule), recovery (``order(RecoveryInstance) -> list[int]``: the repair
order of failed switches and links). Slicing, deployment and MILP coordination join here.
The daemon loads each configured family's policy in a worker at start and on reload.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent.policies.recovery.registry import RECOVERY_POLICIES
from agent.policies.registry import known_policies


@dataclass(frozen=True)
class Family:
    name: str
    contract: str
    config_key: str  # the daemon configuration's key that names its policy
    known: Callable[[], Sequence[str]]


FAMILIES = (
    Family("coordination", "predict(Observation) -> Decision", "policy", known_policies),
    Family(
        "recovery",
        "order(RecoveryInstance) -> list[int]",
        "recovery_policy",
        lambda: RECOVERY_POLICIES,
    ),
)
