"""Progressive-recovery policies: RATIO, RANDOM, DP-OPT, the learned DeepPR, and the
daemon-facing planner. See ``agent.model.recovery`` for the problem."""

from agent.policies.recovery.base import (
    RandomPolicy,
    RatioPolicy,
    RecoveryPolicy,
    greedy_order,
    plan_with,
    ratio_choice,
)
from agent.policies.recovery.dp import MAX_DP_NODES, DPOptPolicy, dp_optimal

__all__ = [
    "MAX_DP_NODES",
    "DPOptPolicy",
    "RandomPolicy",
    "RatioPolicy",
    "RecoveryPolicy",
    "dp_optimal",
    "greedy_order",
    "plan_with",
    "ratio_choice",
]
