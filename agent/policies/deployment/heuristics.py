"""Greedy deployment heuristics: each places the VNFs of a chain one by one on a server
that can take it (resources, a path with room, the latency bound still reachable).

- ``first-fit``: the lowest-numbered such server;
- ``least-loaded``: the server with the largest share of its CPU left;
- ``latency-greedy``: the server through which the chain's latency can be lowest.

A chain that reaches a VNF no server can take is rejected (no backtracking).

``BalancedGreedy`` (``balanced-greedy``) is MADDPG-SD's prior without training: servers
ranked by the chain's latency lower bound and the balance of their CPU and memory left,
with MADDPG-SD's backtracking; a reference for what training adds, and the offline
greedy's best pass. ``ThresholdGreedy`` (``threshold-greedy``) is the same with the
outlook's admission rule (``agent.model.deployment_outlook``) and MADDPG-SD's decoding
that weighs energy against latency over several whole placements.
"""

from __future__ import annotations

import numpy as np

from agent.model.deployment_decoding import ACTION_SIZE, SERVER_FEATURES, place_by_weights
from agent.model.deployment_state import (
    ChainPlan,
    Decision,
    Option,
    Rejection,
    Request,
    SubstrateState,
)

LATENCY_FEATURE = 4  # the server features: the chain's latency lower bound through it
BALANCE_FEATURE = 8  # the balance of the server's CPU and memory left


class SequentialPolicy:
    """Builds a placement VNF by VNF with ``choose``; rejects where it finds nothing."""

    name = "sequential"

    def place(self, request: Request, state: SubstrateState) -> Decision:
        plan = ChainPlan(state, request)
        while not plan.done:
            option = self.choose(plan)
            if option is None:
                return Rejection(request.id, no_server_reason(plan))
            plan.take(option)
        return plan.placement()

    def choose(self, plan: ChainPlan) -> Option | None:
        raise NotImplementedError


def no_server_reason(plan: ChainPlan) -> str:
    return (
        f"no server can take VNF {plan.position + 1} of {plan.request.length} "
        "within the resources and the latency bound"
    )


class FirstFit(SequentialPolicy):
    name = "first-fit"

    def choose(self, plan: ChainPlan) -> Option | None:
        for server in range(plan.state.substrate.n):
            option = plan.option(server)
            if option is not None:
                return option
        return None


class LeastLoaded(SequentialPolicy):
    name = "least-loaded"

    def choose(self, plan: ChainPlan) -> Option | None:
        state, taken = plan.state, plan.cpu
        capacity = state.substrate.cpu
        share = [(state.cpu[s] - taken.get(s, 0.0)) / capacity[s] for s in range(len(capacity))]
        for server in sorted(range(len(share)), key=lambda s: (-share[s], s)):
            option = plan.option(server)
            if option is not None:
                return option
        return None


class LatencyGreedy(SequentialPolicy):
    name = "latency-greedy"

    def choose(self, plan: ChainPlan) -> Option | None:
        options = plan.options()
        if not options:
            return None
        return min(options, key=lambda o: (o.latency_bound_rest, o.server))


class BalancedGreedy:
    """Fixed weights over the server features, decoded as MADDPG-SD decodes its actions;
    with a ``fill``, requests are admitted by the outlook's threshold rule alone."""

    name = "balanced-greedy"

    def __init__(
        self,
        latency: float = -0.96,
        balance: float = 0.5,
        backtrack: int = 50,
        fill: float | None = None,
        energy: float | None = None,
    ) -> None:
        self.actions = np.zeros((1, ACTION_SIZE), np.float32)
        self.actions[0, LATENCY_FEATURE] = latency
        self.actions[0, BALANCE_FEATURE] = balance
        self.actions[0, SERVER_FEATURES] = 1.0 if fill is None else 0.0  # admit / the rule
        self.backtrack, self.fill, self.energy = backtrack, fill, energy

    def place(self, request: Request, state: SubstrateState) -> Decision:
        return place_by_weights(
            state, request, self.actions, True, self.backtrack, self.fill, self.energy
        )


ADMISSION_FILL = 0.9  # the threshold rule's default: the competitors fill 90 % of what is free
# MADDPG-SD's decoding: ms of latency worth one server-period of activity beyond standby
# (chosen on the validation seeds 5001-5040: below it latency falls and energy rises)
ENERGY_WEIGHT = 0.6


class ThresholdGreedy(BalancedGreedy):
    """``balanced-greedy`` admitting by the outlook's threshold rule: MADDPG-SD's prior
    with the admission rule, untrained."""

    name = "threshold-greedy"

    def __init__(self, fill: float = ADMISSION_FILL, energy: float | None = ENERGY_WEIGHT) -> None:
        super().__init__(fill=fill, energy=energy)


HEURISTICS: dict[str, type[SequentialPolicy]] = {
    cls.name: cls for cls in (FirstFit, LeastLoaded, LatencyGreedy)
}
