"""Event-driven deployment simulator: SFC requests arrive, are placed or rejected, and give
their resources back when their service time ends.

Requests come from the scenario's generator (Poisson arrivals, ``arrivals_per_period`` per
period on average, each at a uniform time within its period) or from its trace. Before a
request is decided, every request that ends at or before its arrival departs. A policy's
placement is checked against the residual resources and the latency bound before it is
applied; one that fails counts as a rejection with the reason. Before each decision the
state's outlook says how many requests of the episode are not yet decided and what sizes
the scenario brings (``agent.model.deployment_outlook``).

Energy (Eq. 4) is integrated over time, from the first arrival to the last departure: the
power of the substrate is constant between two events. An episode's cost is that energy
divided by the number of accepted requests.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from agent.model.deployment import DeploymentScenario
from agent.model.deployment_outlook import Outlook, generator_sizes
from agent.model.deployment_state import (
    Decision,
    Placement,
    PlacementPolicy,
    Request,
    SubstrateState,
    request_reward,
    woken_servers,
)


def generate_requests(
    scenario: DeploymentScenario, seed: int, count: int | None = None
) -> list[Request]:
    """``count`` requests (default: the scenario's) drawn with ``seed``; the trace's
    requests (the first ``count``) when the scenario has one."""
    spec = scenario.requests
    total = spec.count if count is None else count
    if scenario.trace is not None:
        return trace_requests(scenario)[:total]
    rng = np.random.default_rng(seed)
    requests: list[Request] = []
    period = 0
    while len(requests) < total:
        arrivals = int(rng.poisson(spec.arrivals_per_period))
        times = np.sort(rng.uniform(0.0, 1.0, arrivals)) + period
        for time in times[: total - len(requests)]:
            requests.append(_draw_request(scenario, rng, len(requests), float(time)))
        period += 1
    return requests


def _draw_request(
    scenario: DeploymentScenario, rng: np.random.Generator, rid: int, time: float
) -> Request:
    spec = scenario.requests
    length = int(rng.integers(spec.chain_length[0], spec.chain_length[1] + 1))
    types = len(scenario.vnf_types)
    vnfs = rng.choice(types, size=length, replace=length > types)
    ingress = int(rng.choice(scenario.ingress))
    choices = [node for node in scenario.egress if node != ingress] or list(scenario.egress)
    egress = int(choices[int(rng.integers(len(choices)))])
    return Request(
        id=rid,
        arrival=time,
        duration=int(rng.integers(spec.duration[0], spec.duration[1] + 1)),
        ingress=ingress,
        egress=egress,
        vnfs=tuple(int(v) for v in vnfs),
        cpu=_uniform(rng, spec.cpu, length),
        memory=_uniform(rng, spec.memory, length),
        bandwidth=_uniform(rng, spec.bandwidth, length + 1),
        latency_bound=float(rng.uniform(*spec.latency_bound_ms)),
        data=spec.data_kbit,
    )


def _uniform(rng: np.random.Generator, span: tuple[float, float], count: int) -> tuple[float, ...]:
    return tuple(float(v) for v in rng.uniform(span[0], span[1], count))


_SIZES: dict[int, tuple[DeploymentScenario, np.ndarray]] = {}  # by scenario, the last few


def scenario_sizes(scenario: DeploymentScenario) -> np.ndarray:
    """CPU and memory of whole chains as the scenario brings them: its trace's requests,
    or a sample of its generator's (the outlook's sizes); computed once per scenario."""
    cached = _SIZES.get(id(scenario))
    if cached is not None and cached[0] is scenario:
        return cached[1]
    if scenario.trace is not None:
        rows = [(sum(r.cpu), sum(r.memory)) for r in scenario.trace]
        sizes = np.array(rows, dtype=float).reshape(len(rows), 2)
    else:
        sizes = generator_sizes(scenario.requests)
    if len(_SIZES) >= 8:
        _SIZES.pop(next(iter(_SIZES)))
    _SIZES[id(scenario)] = (scenario, sizes)
    return sizes


def trace_requests(scenario: DeploymentScenario) -> list[Request]:
    sub, types = scenario.substrate, scenario.vnf_types
    return [
        Request(
            id=i,
            arrival=row.arrival,
            duration=row.duration,
            ingress=sub.index(row.ingress),
            egress=sub.index(row.egress),
            vnfs=tuple(types.index(name) for name in row.chain),
            cpu=tuple(row.cpu),
            memory=tuple(row.memory),
            bandwidth=tuple(row.bandwidth),
            latency_bound=row.latency_bound_ms,
            data=row.data_kbit or scenario.requests.data_kbit,
        )
        for i, row in enumerate(scenario.trace or ())
    ]


@dataclass
class EpisodeResult:
    requests: int = 0
    accepted: int = 0
    latency_sum: float = 0.0
    reward_sum: float = 0.0  # MADDPG-SD's objective summed over the accepted requests
    energy: float = 0.0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def acceptance(self) -> float:
        return self.accepted / self.requests if self.requests else 0.0

    @property
    def latency_ms(self) -> float:
        return self.latency_sum / self.accepted if self.accepted else math.nan

    @property
    def cost(self) -> float:
        """Energy per accepted request (the whole episode's energy where none was)."""
        return self.energy / self.accepted if self.accepted else self.energy


@dataclass(frozen=True)
class Outcome:
    accepted: bool
    reason: str | None
    latency: float


class DeploymentSim:
    """One episode over a fixed request sequence, one decision at a time."""

    def __init__(self, scenario: DeploymentScenario, requests: list[Request]) -> None:
        self.scenario = scenario
        self.requests = requests
        self.state = SubstrateState(scenario.substrate, scenario.latency.service_rate)
        self.result = EpisodeResult()
        self.index = 0
        self._departures: list[tuple[float, int, Request, Placement]] = []
        self._now = requests[0].arrival if requests else 0.0
        self._power = self.state.power(scenario.cost)
        self._sizes = scenario_sizes(scenario)

    @property
    def done(self) -> bool:
        return self.index >= len(self.requests)

    @property
    def current(self) -> Request:
        """The request to decide, once the departures up to its arrival have happened."""
        request = self.requests[self.index]
        self._advance(request.arrival)
        remaining = len(self.requests) - self.index
        if self.state.outlook is None or self.state.outlook.remaining != remaining:
            rate = self.scenario.requests.arrivals_per_period
            self.state.outlook = Outlook(remaining, rate, self._sizes)
        return request

    @property
    def active(self) -> int:
        return len(self._departures)

    def submit(self, decision: Decision) -> Outcome:
        """Apply the decision for ``current``; a placement that fails the checks is a
        rejection with the reason."""
        request = self.current
        self.index += 1
        self.result.requests += 1
        if not isinstance(decision, Placement):
            self.result.reasons[decision.reason] += 1
            return Outcome(False, decision.reason, 0.0)
        reason = self.state.check(request, decision)
        if reason is not None:
            self.result.reasons[f"invalid placement: {reason}"] += 1
            return Outcome(False, reason, 0.0)
        woken = woken_servers(self.state, decision)
        self.result.reward_sum += request_reward(
            self.scenario.cost, request, decision.latency, woken
        )
        self.state.apply(request, decision)
        self._power = self.state.power(self.scenario.cost)
        end = request.arrival + request.duration
        heapq.heappush(self._departures, (end, self.index, request, decision))
        self.result.accepted += 1
        self.result.latency_sum += decision.latency
        return Outcome(True, None, decision.latency)

    def finish(self) -> EpisodeResult:
        """Let every accepted request depart; the episode's totals."""
        self._advance(math.inf)
        return self.result

    def _advance(self, time: float) -> None:
        departures = self._departures
        while departures and departures[0][0] <= time:
            end, _, request, placement = heapq.heappop(departures)
            self._integrate(end)
            self.state.release(request, placement)
            self._power = self.state.power(self.scenario.cost)
        if time != math.inf:
            self._integrate(time)

    def _integrate(self, time: float) -> None:
        if time > self._now:
            self.result.energy += self._power * (time - self._now)
            self._now = time


def run_episode(
    scenario: DeploymentScenario, policy: PlacementPolicy, requests: list[Request]
) -> EpisodeResult:
    """Every request decided by ``policy`` in order of arrival."""
    sim = DeploymentSim(scenario, requests)
    while not sim.done:
        sim.submit(policy.place(sim.current, sim.state))
    return sim.finish()
