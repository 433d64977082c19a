"""The recovery-policy contract and the two baselines of the paper, RATIO and RANDOM.

A recovery policy turns a ``RecoveryInstance`` into an order of the nodes to repair
(``order(instance) -> list[int]``); ``make_plan`` turns the order into a ``RecoveryPlan``
with its expected utility curve. Greedy policies build the order one node at a time, always
among the frontier (non-functional nodes adjacent to the functional set), as the paper's
theorem allows.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol

from agent.model.recovery import RecoveryInstance, RecoveryPlan, make_plan

# choose(instance, remaining demands, frontier) -> node
Chooser = Callable[[RecoveryInstance, list[int], list[int]], int]


class RecoveryPolicy(Protocol):
    """Anything that orders the repairs of a recovery instance."""

    name: str

    def order(self, instance: RecoveryInstance) -> list[int]: ...


def plan_with(policy: RecoveryPolicy, instance: RecoveryInstance) -> RecoveryPlan:
    """The policy's plan for ``instance`` with its expected utility curve."""
    return make_plan(instance, policy.order(instance), policy.name)


def greedy_order(instance: RecoveryInstance, choose: Chooser) -> list[int]:
    """Repair one frontier node after another, each picked by ``choose``."""
    remaining = list(instance.demand)
    remaining[instance.independent] = 0
    functional = instance.functional(remaining)
    order: list[int] = []
    while True:
        frontier = instance.frontier(functional)
        if not frontier:
            return order
        node = choose(instance, remaining, frontier)
        order.append(node)
        remaining[node] = 0
        functional = instance.functional(remaining)


def ratio_choice(instance: RecoveryInstance, remaining: list[int], frontier: list[int]) -> int:
    """RATIO's pick: the frontier node with the largest utility / remaining demand (ties: the
    lowest node number)."""
    return max(frontier, key=lambda v: (instance.utility[v] / max(remaining[v], 1), -v))


class RatioPolicy:
    """RATIO: among nodes adjacent to the functional set, max utility / remaining demand."""

    name = "ratio"

    def order(self, instance: RecoveryInstance) -> list[int]:
        return greedy_order(instance, ratio_choice)


class RandomPolicy:
    """RANDOM: a uniformly random node adjacent to the functional set, seeded per instance."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def order(self, instance: RecoveryInstance) -> list[int]:
        rng = random.Random(f"{self.seed}:{instance.name}")
        return greedy_order(instance, lambda _i, _r, frontier: rng.choice(frontier))
