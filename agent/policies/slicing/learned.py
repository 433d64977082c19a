"""The learned slave (ADMM-DRL): a DDPG actor applied to every slice, loaded from
``slave.safetensors`` + ``card.json``, evaluated in numpy (no torch at decision time).

The actor is permutation-equivariant, so one network serves slices of any size: a per-user
MLP scores each user from its features and the slice's context; a total MLP moves the slice's
total at most ``TOTAL_SWING`` x capacity away from its ADMM target. The allocation gives every
user its QoS floor, then splits the rest of the total by the softmax of the scores.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agent.model.slicing import Array
from agent.model.slicing_observation import CONTEXT, FEATURES, TOTAL_SWING, encode, features
from agent.model.slicing_utility import Layout
from agent.policies.jsoncard import read_card, validate
from agent.policies.tensorfile import Shape, check_tensors, linear_shapes

CARD = "card.json"
WEIGHTS = "slave.safetensors"
FORMAT = "deepslicing-slave/1"
SHIPPED = Path(__file__).resolve().parents[3] / "topologies" / "policies" / "slicing"


class SlaveCard(BaseModel):
    model_config = ConfigDict(extra="allow")
    format: Literal["deepslicing-slave/1"]
    hidden: int = Field(ge=1, le=4096)
    scenario: str = ""


def expected_tensors(hidden: int) -> dict[str, Shape]:
    return {
        **linear_shapes("user", [FEATURES + CONTEXT, hidden, hidden, 1]),
        **linear_shapes("total", [CONTEXT, hidden, 1]),
    }


def _mlp(weights: Mapping[str, np.ndarray], prefix: str, layers: int, x: np.ndarray) -> np.ndarray:
    for i in range(layers):
        x = x @ weights[f"{prefix}.{2 * i}.weight"].T + weights[f"{prefix}.{2 * i}.bias"]
        if i < layers - 1:
            x = np.maximum(x, 0.0)
    return x


def assemble(
    scores: np.ndarray, swing: np.ndarray, floor: np.ndarray, target: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """Allocations (fractions of capacity, B x U) from scores (B x U) and swings (B)."""
    floor_sum = (floor * mask).sum(1)
    total = np.clip(target + TOTAL_SWING * np.tanh(swing), floor_sum, 1.0)
    scores = np.where(mask > 0, scores, -np.inf)
    weights = np.exp(scores - scores.max(1, keepdims=True))
    weights /= weights.sum(1, keepdims=True)
    result: np.ndarray = floor * mask + weights * np.maximum(total - floor_sum, 0.0)[:, None]
    return result


def actor_forward(weights: Mapping[str, np.ndarray], obs: np.ndarray, users: int) -> np.ndarray:
    """The actor on observations (B x O, padded to ``users``): allocations B x U."""
    per_user, context, mask, _ = features(obs, users)
    joined = np.concatenate([per_user, np.repeat(context[:, None, :], users, 1)], axis=-1)
    scores = _mlp(weights, "user", 3, joined)[..., 0]
    swing = _mlp(weights, "total", 2, context)[:, 0]
    floor = obs[:, 2 * users : 3 * users]
    return assemble(scores, swing, floor, obs[:, -1], mask)


class LearnedSlave:
    """A trained slave actor: ``slave(layout, targets, demand, deficit)`` -> x per user."""

    def __init__(self, weights: Mapping[str, np.ndarray], card: Mapping[str, Any]) -> None:
        self.weights = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
        self.card = dict(card)

    def __call__(self, layout: Layout, targets: Array, demand: Array, deficit: Array) -> Array:
        capacity = layout.problem.capacity
        users = int(np.diff(layout.starts).max())
        floors = layout.floors(demand)
        obs = np.stack(
            [
                encode(
                    deficit[a:b],
                    demand[a:b],
                    floors[a:b],
                    layout.alpha[a:b],
                    layout.weight[a:b],
                    float(targets[i]),
                    capacity,
                    users,
                )
                for i, (a, b) in enumerate(zip(layout.starts[:-1], layout.starts[1:], strict=True))
            ]
        ).astype(np.float64)
        allocation = actor_forward(self.weights, obs, users)
        parts = [
            allocation[i, : b - a]
            for i, (a, b) in enumerate(zip(layout.starts[:-1], layout.starts[1:], strict=True))
        ]
        result: Array = np.concatenate(parts) * capacity
        return result


def load_slave(directory: str | Path) -> LearnedSlave:
    """The slave policy in ``directory`` (card checked, weights header checked first)."""
    from safetensors.numpy import load_file

    path = Path(directory)
    if path.is_file():
        path = path.parent
    doc = read_card(path / CARD)
    card = validate(doc, SlaveCard)
    check_tensors(path / WEIGHTS, expected_tensors(card.hidden))
    return LearnedSlave(load_file(str(path / WEIGHTS)), doc.data)


def save_slave(directory: Path, weights: Mapping[str, np.ndarray], card: Mapping[str, Any]) -> None:
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()},
        str(directory / WEIGHTS),
    )
    (directory / CARD).write_text(json.dumps(dict(card), indent=2) + "\n")
    (directory / WEIGHTS).chmod(0o644)
