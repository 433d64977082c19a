"""A replay buffer for continuous-action off-policy trainers (DDPG, TD3, SAC)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch


@dataclass
class Batch:
    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    dones: torch.Tensor


class ReplayBuffer:
    """A ring buffer of (obs, action, reward, next obs, done) as preallocated float32 arrays.

    ``done`` is 1 only where the episode terminated (not where it was truncated), so that
    bootstrapping continues across the time limit, as the DeepCoord episodes have no end state.
    """

    def __init__(self, size: int, obs_size: int, action_size: int, seed: int = 0) -> None:
        self.size, self.count, self.pos = size, 0, 0
        self.obs = np.zeros((size, obs_size), dtype=np.float32)
        self.next_obs = np.zeros((size, obs_size), dtype=np.float32)
        self.actions = np.zeros((size, action_size), dtype=np.float32)
        self.rewards = np.zeros(size, dtype=np.float32)
        self.dones = np.zeros(size, dtype=np.float32)
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.count

    def add(
        self,
        obs: npt.NDArray[np.float32],
        action: npt.NDArray[np.float32],
        reward: float,
        next_obs: npt.NDArray[np.float32],
        done: bool,
    ) -> None:
        i = self.pos
        self.obs[i], self.actions[i], self.next_obs[i] = obs, action, next_obs
        self.rewards[i], self.dones[i] = reward, float(done)
        self.pos = (self.pos + 1) % self.size
        self.count = min(self.count + 1, self.size)

    def sample(self, batch_size: int) -> Batch:
        idx = self.rng.integers(0, self.count, size=batch_size)
        return Batch(
            torch.from_numpy(self.obs[idx]),
            torch.from_numpy(self.actions[idx]),
            torch.from_numpy(self.rewards[idx]),
            torch.from_numpy(self.next_obs[idx]),
            torch.from_numpy(self.dones[idx]),
        )
