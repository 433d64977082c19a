"""The slave's observation, shared by the environments, the trainers and the exported
actors so that all see the same numbers (the learned actor's features built from it:
``agent.model.slicing_price``).

A slice's observation (float32, padded to ``users`` entries per block): QoS deficit,
demand / capacity, floor / capacity, exponent, weight, mask (1 for a real user), then the
ADMM target (z - u) / capacity. Its action is the allocation per user / capacity.
"""

from __future__ import annotations

import numpy as np

from agent.model.slicing import Array

BLOCKS = 6  # deficit, demand, floor, alpha, weight, mask


def obs_size(users: int) -> int:
    return BLOCKS * users + 1


def encode(
    deficit: Array,
    demand: Array,
    floor: Array,
    alpha: Array,
    weight: Array,
    target: float,
    capacity: float,
    users: int,
) -> np.ndarray:
    """One slice's observation, padded to ``users``."""
    n = deficit.size
    obs = np.zeros(obs_size(users), dtype=np.float32)
    for block, values in enumerate(
        (
            np.clip(deficit, 0, 10),
            np.minimum(demand / capacity, 1.0),
            floor / capacity,
            alpha,
            weight,
            np.ones(n),
        )
    ):
        obs[block * users : block * users + n] = values
    obs[-1] = target / capacity
    return obs
