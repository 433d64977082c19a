"""Environments over the deployment simulator.

- ``DeploymentParallelEnv`` (PettingZoo parallel API): one agent per chain position
  (``vnf_0`` .. ``vnf_{A-1}``); one step is one request. Agent i observes its VNF locally
  (``request_features``: its demands, the request's latency bound, the substrate's load)
  and answers with a weight vector over the server features and an admission value; the
  first agent's admission value below zero rejects the request, otherwise it is placed VNF
  by VNF, VNF i on the feasible server its weights score highest (``place_by_weights``).
  ``state()`` is what the centralised critics see: every agent's observation. Agents
  beyond a chain's length see zeros and their actions are ignored. The reward, shared, is
  MADDPG-SD's request reward.
- ``DeploymentGymEnv`` (gymnasium): the single-agent view for DQN / DDPG / PG; one step
  is one VNF, the action a server index; ``info["action_mask"]`` marks the servers that can
  take the VNF (any other action rejects the request). The request's reward comes with its
  last step.

Episode k draws its requests with seed ``seed + k`` (``reset(seed=...)`` sets it).
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from pettingzoo import ParallelEnv

from agent.model.deployment import DeploymentScenario
from agent.model.deployment_decoding import (
    ACTION_SIZE,
    REQUEST_FEATURES,
    SERVER_FEATURES,
    option_matrix,
    place_by_weights,
    request_features,
)
from agent.model.deployment_state import ChainPlan, Decision, Rejection, request_reward
from agent.sim.deployment import DeploymentSim, generate_requests


class _Episodes:
    def __init__(self, scenario: DeploymentScenario, requests: int | None, seed: int) -> None:
        self.scenario, self.count, self.seed = scenario, requests, seed
        self.sim = DeploymentSim(scenario, [])

    def reset(self, seed: int | None) -> None:
        if seed is not None:
            self.seed = seed
        requests = generate_requests(self.scenario, self.seed, self.count)
        self.seed += 1
        self.sim = DeploymentSim(self.scenario, requests)

    def submit(self, decision: Decision) -> float:
        request = self.sim.current
        before = self.sim.state.active_servers()
        outcome = self.sim.submit(decision)
        if not outcome.accepted:
            return 0.0
        woken = self.sim.state.active_servers() - before
        return request_reward(self.scenario.cost, request, outcome.latency, woken)


class DeploymentParallelEnv(ParallelEnv):  # type: ignore[misc]
    metadata: ClassVar[dict[str, Any]] = {"name": "sfc_deployment_v0"}

    def __init__(
        self,
        scenario: DeploymentScenario,
        agents: int = 5,
        requests: int | None = None,
        seed: int = 0,
    ) -> None:
        self.possible_agents = [f"vnf_{i}" for i in range(agents)]
        self.agents: list[str] = []
        self._episodes = _Episodes(scenario, requests, seed)
        box = gym.spaces.Box(-np.inf, np.inf, (REQUEST_FEATURES,), np.float32)
        action = gym.spaces.Box(-1.0, 1.0, (ACTION_SIZE,), np.float32)
        self.observation_spaces = {a: box for a in self.possible_agents}
        self.action_spaces = {a: action for a in self.possible_agents}

    def observation_space(self, agent: str) -> gym.Space[Any]:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gym.Space[Any]:
        return self.action_spaces[agent]

    @property
    def sim(self) -> DeploymentSim:
        return self._episodes.sim

    def _observations(self) -> dict[str, np.ndarray]:
        zeros = np.zeros(REQUEST_FEATURES, np.float32)
        if self.sim.done:
            return {a: zeros for a in self.possible_agents}
        request = self.sim.current
        plan = ChainPlan(self.sim.state, request)
        return {
            a: request_features(plan, i) if i < request.length else zeros
            for i, a in enumerate(self.possible_agents)
        }

    def state(self) -> np.ndarray:
        """The centralised view: every agent's observation, in agent order."""
        obs = self._observations()
        return np.concatenate([obs[a] for a in self.possible_agents])

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        self._episodes.reset(seed)
        self.agents = list(self.possible_agents)
        return self._observations(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, np.ndarray]) -> tuple[Any, Any, Any, Any, Any]:
        request = self.sim.current
        zero = np.zeros(ACTION_SIZE, np.float32)
        weights = np.stack([np.asarray(actions.get(a, zero), np.float32) for a in self.agents])
        reward = self._episodes.submit(place_by_weights(self.sim.state, request, weights))
        done = self.sim.done
        info = {"accepted": reward > 0, "request": request.id}
        observations = self._observations()
        result = (
            observations,
            {a: reward for a in self.agents},
            {a: done for a in self.agents},
            {a: False for a in self.agents},
            {a: dict(info) for a in self.agents},
        )
        if done:
            self.agents = []
        return result


class DeploymentGymEnv(gym.Env[np.ndarray, np.int64]):
    def __init__(
        self, scenario: DeploymentScenario, requests: int | None = None, seed: int = 0
    ) -> None:
        self._episodes = _Episodes(scenario, requests, seed)
        n = scenario.substrate.n
        size = REQUEST_FEATURES + n * (SERVER_FEATURES + 1)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)
        self.action_space = gym.spaces.Discrete(n)
        self._plan: ChainPlan | None = None
        self._options: dict[int, Any] = {}
        self._before = 0

    @property
    def sim(self) -> DeploymentSim:
        return self._episodes.sim

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._episodes.reset(seed)
        return self._next_request(0.0)[0], self._info()

    def step(self, action: np.int64) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        plan = self._plan
        assert plan is not None, "call reset() first"
        option = self._options.get(int(action))
        if option is None:
            reward = self._episodes.submit(Rejection(plan.request.id, "server cannot take it"))
            return self._finish(reward)
        plan.take(option)
        if plan.done:
            return self._finish(self._episodes.submit(plan.placement()))
        return self._observe(), 0.0, False, False, self._info()

    def _finish(self, reward: float) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, done = self._next_request(reward)
        return obs, reward, done, False, self._info()

    def _next_request(self, reward: float) -> tuple[np.ndarray, bool]:
        while not self.sim.done:
            self._plan = ChainPlan(self.sim.state, self.sim.current)
            obs = self._observe()
            if self._options:
                return obs, False
            self._episodes.submit(Rejection(self._plan.request.id, "no server can take VNF 1"))
        self._plan, self._options = None, {}
        return np.zeros(self.observation_space.shape or (), np.float32), True

    def _observe(self) -> np.ndarray:
        plan = self._plan
        assert plan is not None
        options, features = option_matrix(plan)
        self._options = {o.server: o for o in options}
        grid = np.zeros((plan.state.substrate.n, SERVER_FEATURES + 1), np.float32)
        for option, row in zip(options, features, strict=True):
            grid[option.server, 0], grid[option.server, 1:] = 1.0, row
        return np.concatenate([request_features(plan), grid.reshape(-1)])

    def _info(self) -> dict[str, Any]:
        mask = np.zeros(self._episodes.scenario.substrate.n, np.int8)
        mask[list(self._options)] = 1
        return {"action_mask": mask}
