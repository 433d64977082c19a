"""The coordination actor: an MLP whose head is one softmax per (node, chain, SF) row.

Input: the observation vector (ingress rate per node, optionally load per node). Output:
``N * R * N`` weights read as ``[node][row][destination]``, each (node, row) summing to 1, as
DeepCoord's actor. Shared by the policy (inference) and the trainers (which add critics).
"""

from __future__ import annotations

import itertools

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
        return torch.softmax(self.logits(obs), dim=-1).flatten(1)
