"""Offline greedy placements: a feasible solution of the offline problem, found fast.

The offline problem knows every request in advance. A request in service from its
arrival to its departure must fit, together with the other accepted requests in service,
at every arrival instant; the sets of requests in service at an arrival instant that are
not contained in another such set (``busy_sets``) are the only ones to check. A greedy
pass takes the requests in some order, places each with a placement policy on the
residual resources it sees (the least over the busy sets it belongs to) and keeps it if
it fits. Several orders are tried (arrival order, smallest first by several measures)
with several placement rules; the pass that accepts the most wins: the MILP's warm start
and, where it meets the aggregate bound, a proven optimum on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent.model.deployment import Substrate
from agent.model.deployment_state import Placement, PlacementPolicy, Request, SubstrateState
from agent.policies.deployment.heuristics import BalancedGreedy, FirstFit, LatencyGreedy


def busy_sets(requests: Sequence[Request]) -> list[list[int]]:
    """For each arrival, the indices of the requests in service then; a set inside
    another is dropped (its capacity rows add nothing)."""
    sets = set()
    for q in requests:
        sets.add(
            frozenset(
                i for i, r in enumerate(requests) if r.arrival <= q.arrival < r.arrival + r.duration
            )
        )
    maximal = [s for s in sets if not any(s < other for other in sets)]
    return [sorted(s) for s in sorted(maximal, key=min)]


@dataclass
class GreedyPass:
    """One pass: which order and rule it used and what it accepted."""

    order: str
    policy: str
    placements: dict[int, Placement]

    @property
    def accepted(self) -> int:
        return len(self.placements)


class TimeIndexedState:
    """Residual resources per busy set; a request sees the least over its sets."""

    def __init__(self, substrate: Substrate, groups: list[list[int]], service_rate: float):
        self.base = SubstrateState(substrate, service_rate)
        self.sets = [self.base.copy() for _ in groups]
        self.member: dict[int, list[int]] = {}
        for g, group in enumerate(groups):
            for i in group:
                self.member.setdefault(i, []).append(g)

    def view(self, index: int) -> SubstrateState:
        states = [self.sets[g] for g in self.member.get(index, [])]
        if len(states) == 1:
            return states[0]
        view = self.base.copy()
        for state in states:
            view.cpu = [min(a, b) for a, b in zip(view.cpu, state.cpu, strict=True)]
            view.memory = [min(a, b) for a, b in zip(view.memory, state.memory, strict=True)]
            view.bandwidth = [
                min(a, b) for a, b in zip(view.bandwidth, state.bandwidth, strict=True)
            ]
            view.hosted = [max(a, b) for a, b in zip(view.hosted, state.hosted, strict=True)]
        return view

    def take(self, index: int, request: Request, placement: Placement) -> None:
        for g in self.member.get(index, []):
            self.sets[g].apply(request, placement)


def greedy_pass(
    substrate: Substrate,
    requests: Sequence[Request],
    order: list[int],
    policy: PlacementPolicy,
    service_rate: float = 1.0,
) -> dict[int, Placement]:
    """Place the requests in ``order``; the placements of those that fit, by request id."""
    state = TimeIndexedState(substrate, busy_sets(requests), service_rate)
    found: dict[int, Placement] = {}
    for index in order:
        request = requests[index]
        view = state.view(index)
        decision = policy.place(request, view)
        if isinstance(decision, Placement) and view.check(request, decision) is None:
            state.take(index, request, decision)
            found[request.id] = decision
    return found


def _orders(substrate: Substrate, requests: Sequence[Request]) -> dict[str, list[int]]:
    cpu, memory = sum(substrate.cpu), sum(substrate.memory)
    keys: dict[str, Callable[[Request], float]] = {
        "cpu and memory": lambda r: sum(r.cpu) / cpu + sum(r.memory) / memory,
        "cpu": lambda r: sum(r.cpu),
        "largest resource": lambda r: max(sum(r.cpu) / cpu, sum(r.memory) / memory),
        "cpu x time": lambda r: sum(r.cpu) * r.duration,
    }
    indices = list(range(len(requests)))
    orders = {"arrival": indices}
    for name, key in keys.items():
        orders[f"smallest {name} first"] = sorted(indices, key=lambda i: (key(requests[i]), i))
    return orders


def best_greedy(
    substrate: Substrate, requests: Sequence[Request], service_rate: float = 1.0
) -> GreedyPass:
    """The best of the greedy passes (orders x balanced-greedy, latency-greedy and
    first-fit)."""
    best = GreedyPass("none", "none", {})
    policies: list[PlacementPolicy] = [BalancedGreedy(), BalancedGreedy(balance=1.0)]
    policies += [LatencyGreedy(), FirstFit()]
    for order_name, order in _orders(substrate, requests).items():
        for policy in policies:
            found = greedy_pass(substrate, requests, order, policy, service_rate)
            if len(found) > best.accepted:
                best = GreedyPass(order_name, policy.name, found)
    return best
