"""The progressive-recovery environment (gymnasium), with an action mask.

One episode recovers one ``RecoveryInstance`` from "every dependent node failed". An action
is an ordered pair of nodes, encoded ``first * n + second``: the first receives this step's
C repair units (as many as it still needs) and any leftover goes to the second (``second ==
first`` means no second). The reward of a step is the utility of the functional nodes after
its units are applied; the episode ends after ``instance.horizon`` steps.

Any action is physically possible (units given to a functional node are wasted, units given
to a node cut off from the independent node wait until it is connected), but optimal plans
only give units to nodes adjacent to the functional set (the paper's theorem), and that is
what the mask allows: ``info["action_mask"]`` and ``env.action_masks()`` (a bool vector of
length n*n) mark the pairs whose first node is in the frontier and whose second is in the
frontier, a non-functional neighbour of the first, or the first itself.

Observation (float32, length 2n + 1): remaining demand of each node / max demand, functional
flag of each node, fraction of the recovery steps left. ``env.remaining`` and ``env.step_index``
expose the exact state for feature extractors.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt

from agent.model.recovery import RecoveryInstance

Obs = npt.NDArray[np.float32]


class RecoveryEnv(gym.Env[Obs, np.int64]):
    """Progressive recovery of one instance; seedable (the dynamics are deterministic)."""

    def __init__(self, instance: RecoveryInstance) -> None:
        self.metadata = {"render_modes": []}
        self.instance = instance
        n = instance.n
        self.n = n
        self.action_space = gym.spaces.Discrete(n * n)
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(2 * n + 1,), dtype=np.float32)
        self._adjacency = np.zeros((n, n), dtype=bool)
        for a, b in instance.edges:
            self._adjacency[a, b] = self._adjacency[b, a] = a != b
        self._scale = float(max(max(instance.demand), 1))
        self.remaining = np.zeros(n, dtype=np.int64)
        self.functional = np.zeros(n, dtype=bool)
        self.step_index = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, dict[str, Any]]:
        super().reset(seed=seed)
        self.remaining = np.array(self.instance.demand, dtype=np.int64)
        self.remaining[self.instance.independent] = 0
        self.step_index = 0
        self._update_functional()
        return self._observation(), self._info()

    def step(self, action: np.int64 | int) -> tuple[Obs, float, bool, bool, dict[str, Any]]:
        first, second = divmod(int(action), self.n)
        units = self.instance.capacity
        for node in (first, second) if second != first else (first,):
            if self.functional[node]:
                continue
            used = min(units, int(self.remaining[node]))
            self.remaining[node] -= used
            units -= used
        self.step_index += 1
        self._update_functional()
        reward = float(np.dot(self.functional, self.instance.utility))
        terminated = self.step_index >= self.instance.horizon or not self.frontier().any()
        return self._observation(), reward, terminated, False, self._info()

    def frontier(self) -> npt.NDArray[np.bool_]:
        """Non-functional nodes adjacent to the functional set."""
        return ~self.functional & (self._adjacency[self.functional].any(axis=0))

    def action_masks(self) -> npt.NDArray[np.bool_]:
        """The valid ordered pairs (length n*n)."""
        front = self.frontier()
        near = self._adjacency & ~self.functional[None, :]
        second = front[None, :] | near | np.eye(self.n, dtype=bool)
        return (front[:, None] & second).reshape(-1)

    def _update_functional(self) -> None:
        self.functional = np.zeros(self.n, dtype=bool)
        for v in self.instance.functional(self.remaining.tolist()):
            self.functional[v] = True

    def _observation(self) -> Obs:
        left = (self.instance.horizon - self.step_index) / max(self.instance.horizon, 1)
        return np.concatenate(
            [self.remaining / self._scale, self.functional, [max(left, 0.0)]]
        ).astype(np.float32)

    def _info(self) -> dict[str, Any]:
        return {"action_mask": self.action_masks(), "step": self.step_index}
