"""The slave's observation and the learned actor's features, shared by the environment,
the trainer and the learned policy so that all three see the same numbers.

A slice's observation (float32, padded to ``users`` entries per block): QoS deficit,
demand / capacity, floor / capacity, exponent, weight, mask (1 for a real user), then the
ADMM target (z - u) / capacity. Its action is the allocation per user / capacity.

Features per user (for a permutation-equivariant actor that fits any number of users):
exponent, 1 / (1 - exponent), log weight, log weight / (1 - exponent), floor, demand and
target share in logs relative to the slice's mean share, and the deficit.
"""

from __future__ import annotations

import numpy as np

from agent.model.slicing import Array

BLOCKS = 6  # deficit, demand, floor, alpha, weight, mask
FEATURES = 8
CONTEXT = 2 * FEATURES + 2
TOTAL_SWING = (
    0.1  # the actor moves a slice's total at most this fraction of capacity from its target
)


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


def features(obs: np.ndarray, users: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(per-user features B x U x F, slice context B x C, mask B x U, mean share B x 1) of
    observations B x O."""
    blocks = obs[:, : BLOCKS * users].reshape(obs.shape[0], BLOCKS, users)
    deficit, demand, floor, alpha, weight, mask = (blocks[:, i] for i in range(BLOCKS))
    target = obs[:, -1:]
    count = np.maximum(mask.sum(1, keepdims=True), 1.0)
    share = np.maximum(np.maximum(target, floor.sum(1, keepdims=True)), 1e-4) / count
    inverse = 1.0 / (1.0 - np.minimum(alpha, 0.95))
    log_w = np.log(weight + 1e-3)
    per_user = (
        np.stack(
            [
                alpha,
                inverse,
                log_w,
                log_w * inverse,
                np.log1p(floor / share),
                np.log1p(demand / share),
                deficit,
                np.log(share * count + 1e-4) * inverse,
            ],
            axis=-1,
        )
        * mask[..., None]
    )
    mean = per_user.sum(1) / count
    spread = np.sqrt(np.maximum((per_user**2).sum(1) / count - mean**2, 0.0))
    context = np.concatenate([mean, spread, target, np.log(count) / 4], axis=1)
    f32 = np.float32
    return per_user.astype(f32), context.astype(f32), mask.astype(f32), share.astype(f32)
