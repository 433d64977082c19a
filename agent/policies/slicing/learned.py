"""The learned slave (ADMM-DRL): a DDPG actor applied to every slice, loaded from
``slave.safetensors`` + ``card.json``, evaluated in numpy (no torch at decision time).

The actor prices a slice (``agent.model.slicing_price``): a closed-form guess of the log
price at which the slice's users take its ADMM target, corrected by a small MLP over the
slice's features; the users respond to that price between their QoS floors and their
demand. One network serves slices of any size and every slice of a problem in one batched
forward pass per ADMM iteration; what does not depend on the target (the padded per-user
arrays) is built once per decision (``prepare``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agent.model.slicing import Array, UtilityForm
from agent.model.slicing_price import (
    CONTEXT,
    NUMPY,
    Pricing,
    Slices,
    allocate,
    correction,
    features,
    guess,
)
from agent.model.slicing_utility import Layout
from agent.policies.errors import PolicyError
from agent.policies.jsoncard import read_card, validate
from agent.policies.tensorfile import Shape, check_tensors, linear_shapes

CARD = "card.json"
WEIGHTS = "slave.safetensors"
FORMAT = "deepslicing-slave/2"
SHIPPED = Path(__file__).resolve().parents[3] / "topologies" / "policies" / "slicing"
Weights = Mapping[str, np.ndarray]


class SlaveCard(BaseModel):
    model_config = ConfigDict(extra="allow")
    format: Literal["deepslicing-slave/2"]
    hidden: int = Field(ge=1, le=4096)
    utility: UtilityForm
    guess_steps: int = Field(default=2, ge=0, le=10)
    scenario: str = ""


def expected_tensors(hidden: int) -> dict[str, Shape]:
    return linear_shapes("head", [CONTEXT, hidden, hidden, 1])


def mlp_forward(weights: Weights, prefix: str, layers: int, x: np.ndarray) -> np.ndarray:
    for i in range(layers):
        x = x @ weights[f"{prefix}.{2 * i}.weight"].T + weights[f"{prefix}.{2 * i}.bias"]
        if i < layers - 1:
            x = np.maximum(x, 0.0)
    return x


def actor_forward(weights: Weights | None, slices: Slices, pricing: Pricing) -> np.ndarray:
    """Allocations (fractions of capacity, B x U) of slices as rows; without weights, the
    guess alone (no correction)."""
    mu, guessed = guess(NUMPY, slices, pricing)
    if weights is not None:
        raw = mlp_forward(weights, "head", 3, features(NUMPY, slices, pricing, guessed))
        mu = mu + correction(NUMPY, raw)
    result: np.ndarray = allocate(NUMPY, slices, pricing, mu)
    return result


class LearnedSlave:
    """A trained slave actor: ``slave(layout, targets, demand, deficit)`` -> x per user.
    ``LearnedSlave(None, {"guess_steps": n})`` is the closed-form guess alone."""

    def __init__(self, weights: Weights | None, card: Mapping[str, Any]) -> None:
        self.weights = (
            None if weights is None else {k: np.asarray(v, np.float64) for k, v in weights.items()}
        )
        self.card = dict(card)
        self.guess_steps = int(self.card.get("guess_steps", 2))

    def prepare(self, layout: Layout, demand: Array, deficit: Array) -> Callable[[Array], Array]:
        """The slave of one decision: targets per slice -> allocation per user."""
        problem = layout.problem
        form = self.card.get("utility")
        if form is not None and form != problem.utility.value:
            raise PolicyError(
                f"slave trained for {form} utilities, the problem has {problem.utility}"
            )
        capacity = problem.capacity
        rows = layout.slice_of
        cols = np.arange(rows.size) - layout.starts[rows]
        shape = (layout.n_slices, int(np.diff(layout.starts).max()))

        def padded(values: Array) -> np.ndarray:
            out = np.zeros(shape)
            out[rows, cols] = values
            return out

        blocks = [
            padded(np.clip(deficit, 0.0, 10.0)),
            padded(np.minimum(demand / capacity, 1.0)),
            padded(layout.floors(demand) / capacity),
            padded(layout.alpha),
            padded(layout.weight),
            padded(np.ones(rows.size)),
        ]
        pricing = Pricing(problem.utility, capacity, self.guess_steps)

        def slave(targets: Array) -> Array:
            slices = Slices.of_blocks(blocks, (targets / capacity)[:, None])
            result: Array = actor_forward(self.weights, slices, pricing)[rows, cols] * capacity
            return result

        return slave

    def __call__(self, layout: Layout, targets: Array, demand: Array, deficit: Array) -> Array:
        return self.prepare(layout, demand, deficit)(targets)


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


def save_slave(directory: Path, weights: Weights, card: Mapping[str, Any]) -> None:
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()},
        str(directory / WEIGHTS),
    )
    (directory / CARD).write_text(json.dumps(dict(card), indent=2) + "\n")
    (directory / WEIGHTS).chmod(0o644)
