"""The coordination actor as numpy arrays: its forward pass for inference, without torch.

A tiny network's forward pass costs torch more in dispatch (and, with several threads, in
waking them) than in arithmetic, and importing torch costs more than a whole simulated
episode. ``ActorArrays`` holds the linear layers as float64 arrays and computes the actor's
function (``network.Actor``: linear layers, the activation between them, a softmax per row
of N destinations) for one observation at a time; it agrees with the torch actor to
float32 rounding. A policy's weights file is read straight into it (``from_tensors``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # torch only where an actor is given
    from agent.policies.coordination.network import Actor

Array = npt.NDArray[np.float64]
_NUMPY_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "relu": lambda x: np.maximum(x, 0.0, out=x),
    "tanh": lambda x: np.tanh(x, out=x),
    "elu": lambda x: np.where(x > 0.0, x, np.expm1(np.minimum(x, 0.0))),
}


class ActorArrays:
    """An actor's layers as float64 arrays and its forward pass in numpy, for one
    observation at a time (``forward``), without torch in the loop."""

    def __init__(
        self,
        layers: Sequence[tuple[npt.NDArray[np.floating], npt.NDArray[np.floating]]],
        n_nodes: int,
        activation: str,
    ) -> None:
        """``layers``: (weight (out, in), bias (out,)) per linear layer, as torch has them."""
        self.layers = [
            (np.ascontiguousarray(w.T, dtype=np.float64), np.array(b, dtype=np.float64))
            for w, b in layers
        ]  # x @ W.T + b
        self.n_nodes = n_nodes
        self.activation_name = activation
        self.activation = _NUMPY_ACTIVATIONS[activation]

    @staticmethod
    def of(actor: Actor, activation: str) -> ActorArrays:
        """The arrays of ``actor`` (a snapshot: later training does not change them)."""
        from agent.policies.coordination.network import linear_layers

        return ActorArrays(linear_layers(actor), actor.n_nodes, activation)

    @staticmethod
    def from_tensors(
        tensors: Mapping[str, npt.NDArray[np.floating]],
        names: list[str],
        n_nodes: int,
        activation: str,
    ) -> ActorArrays:
        """The arrays of a weights file read as numpy (``names``: weight, bias, weight,
        bias... in layer order, as ``card.expected_tensors`` lists them)."""
        pairs = list(zip(names[0::2], names[1::2], strict=True))
        return ActorArrays([(tensors[w], tensors[b]) for w, b in pairs], n_nodes, activation)

    def state_dict(self) -> dict[str, npt.NDArray[np.float32]]:
        """The layers under the names of ``Actor.state_dict`` (float32, as trained)."""
        out: dict[str, npt.NDArray[np.float32]] = {}
        for i, (weight, bias) in enumerate(self.layers):
            out[f"body.{2 * i}.weight"] = np.ascontiguousarray(weight.T, dtype=np.float32)
            out[f"body.{2 * i}.bias"] = bias.astype(np.float32)
        return out

    def forward(self, obs: npt.NDArray[np.floating]) -> Array:
        """(N * R * N,) weights for one observation, each row of N summing to 1."""
        x = np.asarray(obs, dtype=np.float64)
        last = len(self.layers) - 1
        for i, (weight, bias) in enumerate(self.layers):
            x = x @ weight
            x += bias
            if i < last:
                x = self.activation(x)
        rows = x.reshape(-1, self.n_nodes)
        rows -= rows.max(axis=1, keepdims=True)
        np.exp(rows, out=rows)
        rows /= rows.sum(axis=1, keepdims=True)
        return x
