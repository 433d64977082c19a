"""ADMM over all slices as a PettingZoo parallel environment (MADDPG-ADMM): one agent per
slice, each acting as its slice's slave, the master and the duals inside the environment.

An episode plays one instance of a slicing scenario for its steps; every demand step runs
the problem's ADMM iterations, one environment step each: every agent allocates to its
users (its observation and action are those of ``SliceSlaveEnv``: QoS deficit, demand,
floor, exponent, weight, mask per user, then its target ``z - u``; the allocation per user
as a fraction of the capacity), then the master projects the totals plus the scaled duals
onto the capacity, the duals step and the new targets are observed. After the last
iteration of a demand step its allocation (projected onto the capacity, floors kept) is
scored and the users' QoS deficits advance; ADMM starts again from zero targets.

Reward of an agent: its slave objective (weighted utility - qos_penalty x QoS shortfall -
rho / 2 x (total - target)^2) over its slice's ``reward_scale``, plus
``team_weight`` x the utility of all slices' (projected) allocation over the sum of those
scales: the shared term is what the centralised critic has to attribute. ``state()`` is all
observations side by side.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from pettingzoo import ParallelEnv

from agent.model.slicing import Array, SlicingScenario
from agent.model.slicing_observation import encode, obs_size
from agent.model.slicing_utility import (
    Layout,
    project_capacity,
    project_simplex,
    qos_shortfall,
    reward_scale,
    weighted_utility,
)

Obs = np.ndarray


class SlicingMultiEnv(ParallelEnv[str, Obs, Obs]):  # type: ignore[misc]
    metadata: ClassVar[dict[str, Any]] = {
        "name": "slicing_admm_v0",
        "render_modes": [],
        "is_parallelizable": True,
    }

    def __init__(
        self, scenario: SlicingScenario, users: int | None = None, team_weight: float = 0.0
    ) -> None:
        first = scenario.problem(0)
        self.scenario, self.team_weight = scenario, team_weight
        self.possible_agents = [s.name for s in first.slices]
        self.agents: list[str] = []
        self.users = users or max(s.users for s in first.slices)
        self.observation_spaces = {
            a: gym.spaces.Box(-20.0, 20.0, (obs_size(self.users),), np.float32)
            for a in self.possible_agents
        }
        self.action_spaces = {
            a: gym.spaces.Box(0.0, 1.0, (self.users,), np.float32) for a in self.possible_agents
        }
        self.layout = Layout.of(first)
        self.demand: Array = np.zeros((1, 1))
        self.deficit: Array = np.zeros(1)
        self.scales: Array = np.ones(1)
        self.z, self.u, self.targets = np.zeros(1), np.zeros(1), np.zeros(1)
        self.t, self.iteration = 0, 0
        self.rng = np.random.default_rng()

    def observation_space(self, agent: str) -> gym.spaces.Space[Obs]:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gym.spaces.Space[Obs]:
        return self.action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Obs], dict[str, dict[str, Any]]]:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        episode_seed = int(self.rng.integers(0, 2**31 - 1))
        problem = self.scenario.problem(episode_seed)
        self.layout = Layout.of(problem)
        self.demand = self.scenario.demand(problem, episode_seed)
        self.deficit = np.zeros(self.layout.alpha.size)
        self.agents = [s.name for s in problem.slices]
        self.scales = self._scales()
        self.t = 0
        self._restart_admm()
        return self._observations(), {a: {} for a in self.agents}

    def _scales(self) -> Array:
        return reward_scale(self.layout, self.demand.mean(0))

    def _restart_admm(self) -> None:
        n = self.layout.n_slices
        self.z, self.u, self.targets = np.zeros(n), np.zeros(n), np.zeros(n)
        self.iteration = 0

    def state(self) -> Obs:
        return np.concatenate(list(self._observations().values()))

    def _observations(self) -> dict[str, Obs]:
        layout = self.layout
        row = self.demand[min(self.t, self.demand.shape[0] - 1)]
        floors = layout.floors(row)
        out = {}
        for i, agent in enumerate(self.agents):
            a, b = int(layout.starts[i]), int(layout.starts[i + 1])
            out[agent] = encode(
                self.deficit[a:b],
                row[a:b],
                floors[a:b],
                layout.alpha[a:b],
                layout.weight[a:b],
                float(self.targets[i]),
                layout.problem.capacity,
                self.users,
            )
        return out

    def allocation(self, actions: dict[str, Obs]) -> Array:
        """The per-user allocation (capacity units) the agents' actions ask for."""
        layout, capacity = self.layout, self.layout.problem.capacity
        parts = []
        for i, agent in enumerate(self.agents):
            n = int(layout.starts[i + 1] - layout.starts[i])
            parts.append(np.clip(np.asarray(actions[agent], np.float64)[:n], 0.0, 1.0))
        return np.concatenate(parts) * capacity

    def step(
        self, actions: dict[str, Obs]
    ) -> tuple[
        dict[str, Obs],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        layout, problem = self.layout, self.layout.problem
        x = self.allocation(actions)
        row = self.demand[self.t]
        rewards = self._rewards(x, row)
        totals = layout.slice_sums(x)
        self.z = project_simplex(totals + self.u, problem.capacity)
        self.u = self.u + totals - self.z
        self.targets = np.clip(self.z - self.u, 0.0, problem.capacity)
        self.iteration += 1
        info: dict[str, Any] = {}
        if self.iteration >= problem.iterations:
            info = self._finish_step(x, row)
        done = self.t >= self.demand.shape[0]
        if done:
            self.t -= 1  # the last observation shows the last step
        observations = self._observations()
        if done:
            self.t += 1
        truncations = {a: done for a in self.agents}
        infos = {a: dict(info) for a in self.agents}
        agents = list(self.agents)
        if done:
            self.agents = []
        return observations, rewards, dict.fromkeys(agents, False), truncations, infos

    def _rewards(self, x: Array, row: Array) -> dict[str, float]:
        layout, problem = self.layout, self.layout.problem
        utility = np.bincount(
            layout.slice_of, weighted_utility(layout, x, row), minlength=layout.n_slices
        )
        short = np.bincount(
            layout.slice_of, qos_shortfall(layout, x, row), minlength=layout.n_slices
        )
        gap = layout.slice_sums(x) - self.targets
        own = (utility - problem.qos_penalty * short - 0.5 * problem.rho * gap**2) / self.scales
        team = 0.0
        if self.team_weight > 0:
            fitted = project_capacity(x, problem.capacity, layout.floors(row))
            team = float(weighted_utility(layout, fitted, row).sum()) / float(self.scales.sum())
        return {a: float(own[i] + self.team_weight * team) for i, a in enumerate(self.agents)}

    def _finish_step(self, x: Array, row: Array) -> dict[str, Any]:
        layout = self.layout
        fitted = project_capacity(x, layout.problem.capacity, layout.floors(row))
        shortfall = qos_shortfall(layout, fitted, row)
        self.deficit = self.deficit + shortfall / np.maximum(layout.qos_floor, 1e-9)
        utility = float(weighted_utility(layout, fitted, row).sum())
        self.t += 1
        self._restart_admm()
        return {"step_utility": utility, "qos_met": float(np.mean(shortfall <= 0))}
