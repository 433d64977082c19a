"""The coordination actor: an MLP whose head is one softmax per (node, chain, SF) row.

Input: the observation vector (ingress rate per node, optionally load per node). Output:
``N * R * N`` weights read as ``[node][row][destination]``, each (node, row) summing to 1, as
DeepCoord's actor. Shared by the policy (inference) and the trainers (which add critics).

``ActorArrays`` (in ``arrays``, no torch there) is the same function in numpy, for
inference; ``linear_layers`` and ``actor_of`` convert between the two.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from agent.policies.coordination.arrays import ActorArrays

__all__ = [
    "ACTIVATIONS",
    "Actor",
    "ActorArrays",
    "actor_of",
    "linear_layers",
    "mlp",
    "row_softmax",
    "run_layers",
]

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU}


def mlp(sizes: list[int], activation: str = "relu") -> nn.Sequential:
    """Linear layers with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def run_layers(layers: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``layers(x)`` with each layer's ``forward`` called directly: the same kernels on the
    same values, without a module call's bookkeeping (hooks, which these networks do not
    use), which is a large part of the time of networks this small."""
    for layer in layers:
        x = layer.forward(x)
    return x


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
        out = run_layers(self.body, obs)
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


def linear_layers(actor: Actor) -> list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
    """(weight, bias) of each linear layer of ``actor``, as float64 arrays (copies)."""
    return [
        (
            module.weight.detach().to(torch.float64).numpy(),
            module.bias.detach().to(torch.float64).numpy(),
        )
        for module in actor.body
        if isinstance(module, nn.Linear)
    ]


def actor_of(arrays: ActorArrays) -> Actor:
    """A torch actor with the layers of ``arrays`` (float32, as trained), in eval mode."""
    layers = arrays.layers
    obs_size, out_size = layers[0][0].shape[0], layers[-1][0].shape[1]
    n = arrays.n_nodes
    hidden = [weight.shape[1] for weight, _ in layers[:-1]]
    actor = Actor(obs_size, n, out_size // (n * n), hidden, arrays.activation_name)
    state = {name: torch.from_numpy(value) for name, value in arrays.state_dict().items()}
    actor.load_state_dict(state)
    return actor.eval()
