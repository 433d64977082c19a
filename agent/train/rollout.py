"""Running policies on the simulator: episodes of control steps, totals over seeds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agent.model.scenario import Scenario
from agent.policies.base import Policy, PolicyContext
from agent.sim.engine import Simulator
from agent.sim.metrics import StepMetrics, Totals

StepHook = Callable[[StepMetrics], None]


@dataclass
class RolloutResult:
    totals: Totals
    per_episode: list[Totals] = field(default_factory=list)
    rows: list[dict[str, float | int]] = field(default_factory=list)

    @property
    def episode_success(self) -> list[float]:
        return [t.success_ratio for t in self.per_episode]


def policy_context(scenario: Scenario, seed: int) -> PolicyContext:
    return PolicyContext(scenario.network, scenario.services, scenario.routing, seed)


def run_episodes(
    scenario: Scenario,
    make: Callable[[PolicyContext], Policy],
    episodes: int,
    steps: int,
    seed: int,
    on_step: StepHook | None = None,
    keep_rows: bool = True,
) -> RolloutResult:
    """Episode k runs with seed ``seed + k``; a fresh policy per episode."""
    result = RolloutResult(Totals())
    sim = Simulator(scenario, seed=seed)
    for episode in range(episodes):
        if episode:
            sim.reset(seed + episode)
        policy = make(policy_context(scenario, seed + episode))
        observation = sim.observation
        for _ in range(steps):
            outcome = sim.step(policy.predict(observation))
            observation = outcome.observation
            outcome.metrics.episode = episode
            if keep_rows:
                result.rows.append(outcome.metrics.row())
            if on_step is not None:
                on_step(outcome.metrics)
        episode_totals = sim.finish()
        result.per_episode.append(episode_totals)
        result.totals.merge(episode_totals)
    return result
