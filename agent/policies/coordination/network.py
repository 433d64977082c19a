"""The coordination actor: an MLP whose head is one softmax per (node, chain, SF) row.

Input: the observation vector (ingress rate per node, optionally load per node). Output:
``N * R * N`` weights read as ``[node][row][destination]``, each (node, row) summing to 1, as
DeepCoord's actor. Shared by the policy (inference) and the trainers (which add critics).

``ActorArrays`` is the same function in numpy, for inference: a tiny network's forward
pass costs torch more in dispatch (and, with several threads, in waking them) than in
arithmetic. It computes in float64 and agrees with the torch actor to float32 rounding.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU}


def mlp(sizes: list[int], activation: str = "relu") -> nn.Sequential:
    """Linear layers with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class Actor(nn.Module):
    """Observation -> schedule weights (softmax per row)."""

    def __init__(
        self, obs_size: int, n_nodes: int, n_rows: int, hidden: list[int], activation: str = "relu"
    ) -> None:
        super().__init__()
        self.n_nodes, self.n_rows = n_nodes, n_rows
        self.body = mlp([obs_size, *hidden, n_nodes * n_rows * n_nodes], activation)

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, N * R, N) pre-softmax scores."""
        out: torch.Tensor = self.body(obs)
        return out.view(obs.shape[0], self.n_nodes * self.n_rows, self.n_nodes)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, N * R * N) weights, each row of N summing to 1."""
        return row_softmax(self.logits(obs)).reshape(obs.shape[0], -1)


SHORT_ROWS = 16  # below this many destinations, softmax over the transposed view


def row_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dimension of (B, rows, N). For N under ``SHORT_ROWS`` it is
    computed over dimension 1 of the transposed view: the same values, but torch's CPU
    kernel for a short last dimension is several times slower, forward and backward
    (torch 2.13, batch 64: N = 11, 4.0x; N = 42 is faster as it is)."""
    if logits.shape[-1] < SHORT_ROWS:
        return torch.softmax(logits.transpose(1, 2), dim=1).transpose(1, 2)
    return torch.softmax(logits, dim=-1)


Array = npt.NDArray[np.float64]
_NUMPY_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "relu": lambda x: np.maximum(x, 0.0, out=x),
    "tanh": lambda x: np.tanh(x, out=x),
    "elu": lambda x: np.where(x > 0.0, x, np.expm1(np.minimum(x, 0.0))),
}


class ActorArrays:
    """An actor's layers as float64 arrays and its forward pass in numpy, for one
    observation at a time (``forward``), without torch in the loop."""

    def __init__(self, layers: list[tuple[Array, Array]], n_nodes: int, activation: str) -> None:
        self.layers = [(np.ascontiguousarray(w.T), b.copy()) for w, b in layers]  # x @ W.T + b
        self.n_nodes = n_nodes
        self.activation = _NUMPY_ACTIVATIONS[activation]

    @staticmethod
    def of(actor: Actor, activation: str) -> ActorArrays:
        """The arrays of ``actor`` (a snapshot: later training does not change them)."""
        layers = [
            (
                module.weight.detach().to(torch.float64).numpy(),
                module.bias.detach().to(torch.float64).numpy(),
            )
            for module in actor.body
            if isinstance(module, nn.Linear)
        ]
        return ActorArrays(layers, actor.n_nodes, activation)

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
