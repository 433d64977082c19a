"""One slice's ADMM slave problem as a gymnasium environment (DeepSlicing's slave).

An episode plays one slice of one instance of a slicing scenario for the scenario's steps
with one ADMM target ``z - u``: drawn uniformly in ``[0, capacity]`` at reset, as the paper
trains its slaves for every target, or by ``target_sampler`` (for instance near the targets
ADMM goes through); ``options={"target": t}`` fixes it. The demand follows
the scenario's demand process. Observation and action: ``agent.model.slicing_observation``
(deficit, demand, floor, exponent, weight, mask per user, then the target; the action is
the allocation per user as a fraction of the capacity).

Reward of a step, divided by the slice's ``reward_scale`` (so that slices of any size learn
at one scale): weighted utility - qos_penalty x QoS shortfall - rho / 2 x
(sum x - target)^2. The deficit of a user is its accumulated QoS shortfall over its floor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from agent.model.slicing import Array, SlicingProblem, SlicingScenario
from agent.model.slicing_observation import encode, obs_size
from agent.model.slicing_utility import Layout, qos_shortfall, reward_scale, weighted_utility

Obs = np.ndarray
# (problem, demand of the first step for all users, slice index, generator) -> target
TargetSampler = Callable[[SlicingProblem, Array, int, np.random.Generator], float]


class SliceSlaveEnv(gym.Env[Obs, Obs]):
    """The slave problem of one slice (``slice_index``, or a random slice per episode)."""

    def __init__(
        self,
        scenario: SlicingScenario,
        slice_index: int | None = None,
        users: int | None = None,
        target_sampler: TargetSampler | None = None,
    ) -> None:
        self.metadata = {"render_modes": []}
        self.scenario = scenario
        self.slice_index = slice_index
        self.target_sampler = target_sampler
        self.users = users or max(s.users for s in scenario.problem(0).slices)
        self.observation_space = gym.spaces.Box(-20.0, 20.0, (obs_size(self.users),), np.float32)
        self.action_space = gym.spaces.Box(0.0, 1.0, (self.users,), np.float32)
        self.layout: Layout | None = None
        self.demand: Array = np.zeros((1, 1))
        self.deficit: Array = np.zeros(1)
        self.target, self.scale, self.t = 0.0, 1.0, 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, dict[str, Any]]:
        super().reset(seed=seed)
        episode_seed = int(self.np_random.integers(0, 2**31 - 1))
        problem = self.scenario.problem(episode_seed)
        index = self.slice_index
        if index is None:
            index = int(self.np_random.integers(0, len(problem.slices)))
        full = Layout.of(problem)
        columns = slice(int(full.starts[index]), int(full.starts[index + 1]))
        every = self.scenario.demand(problem, episode_seed)
        demand = every[:, columns]
        if demand.shape[1] > self.users:
            raise ValueError(f"slice has {demand.shape[1]} users, the env holds {self.users}")
        one = dataclasses.replace(problem, slices=(problem.slices[index],))
        self.layout, self.demand = Layout.of(one), demand
        self.deficit = np.zeros(demand.shape[1])
        options = options or {}
        capacity = problem.capacity
        if "target" in options:
            self.target = float(options["target"])
        elif self.target_sampler is not None:
            self.target = self.target_sampler(problem, every[0], index, self.np_random)
        else:
            self.target = float(self.np_random.uniform(0.0, capacity))
        self.scale = float(reward_scale(full, every.mean(0))[index])
        self.t = 0
        return self.observation(), {}

    def observation(self) -> Obs:
        layout = self.layout
        assert layout is not None
        demand = self.demand[self.t]
        return encode(
            self.deficit,
            demand,
            layout.floors(demand),
            layout.alpha,
            layout.weight,
            self.target,
            layout.problem.capacity,
            self.users,
        )

    def step(self, action: Obs) -> tuple[Obs, float, bool, bool, dict[str, Any]]:
        layout = self.layout
        assert layout is not None
        problem = layout.problem
        n = self.deficit.size
        x = np.clip(np.asarray(action, dtype=np.float64)[:n], 0.0, 1.0) * problem.capacity
        demand = self.demand[self.t]
        utility = float(weighted_utility(layout, x, demand).sum())
        shortfall = qos_shortfall(layout, x, demand)
        gap = float(x.sum()) - self.target
        value = utility - problem.qos_penalty * shortfall.sum() - 0.5 * problem.rho * gap**2
        floors = np.maximum(layout.qos_floor, 1e-9)
        self.deficit = self.deficit + shortfall / floors
        self.t += 1
        truncated = self.t >= self.demand.shape[0]
        info = {"utility": utility, "gap": gap}
        obs = self.observation() if not truncated else self._last_observation()
        return obs, value / self.scale, False, truncated, info

    def _last_observation(self) -> Obs:
        self.t -= 1
        obs = self.observation()
        self.t += 1
        return obs
