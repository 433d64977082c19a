"""The slave's actor and critic in torch, twins of the numpy actor in
``agent.policies.slicing.learned`` (the same ``agent.model.slicing_price`` code runs on
torch tensors through ``TORCH``).

Actor: the closed-form guess of a slice's log price plus ``correction(head(features))``;
the users respond to the price (floors by construction). Critic: a deep set, a per-user MLP
over the user's features, the slice's context and the user's allocation against the
slice's mean share, summed over real users, plus an MLP over the context and the gap
between the slice's total and its target.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from agent.model.slicing_price import (
    CONTEXT,
    USER_FEATURES,
    Pricing,
    Slices,
    allocate,
    correction,
    features,
    guess,
    user_features,
)

GAP_SCALE = 0.03  # the critic sees the gap between total and target in units of 3 % of the target
GAP_FLOOR = 0.01  # (or of 1 % of the capacity, for targets below that)


class TorchBackend:
    def exp(self, x: Any) -> Any:
        return torch.exp(x)

    def log(self, x: Any) -> Any:
        return torch.log(x)

    def tanh(self, x: Any) -> Any:
        return torch.tanh(x)

    def sqrt(self, x: Any) -> Any:
        return torch.sqrt(x)

    def clip(self, x: Any, lo: float | None, hi: float | None) -> Any:
        return torch.clamp(x, lo, hi)

    def maximum(self, x: Any, y: Any) -> Any:
        return torch.clamp(x, min=y) if isinstance(y, float) else torch.maximum(x, y)

    def minimum(self, x: Any, y: Any) -> Any:
        return torch.clamp(x, max=y) if isinstance(y, float) else torch.minimum(x, y)

    def where(self, condition: Any, x: Any, y: Any) -> Any:
        return torch.where(condition, x, y)

    def total(self, x: Any) -> Any:
        return torch.sum(x, dim=-1, keepdim=True)

    def logsumexp(self, x: Any) -> Any:
        return torch.logsumexp(x, dim=-1, keepdim=True)

    def concat(self, xs: list[Any]) -> Any:
        return torch.cat(xs, dim=-1)


TORCH = TorchBackend()


def mlp(sizes: list[int], last_scale: float = 1.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    last = layers[-1]
    assert isinstance(last, nn.Linear)
    with torch.no_grad():
        last.weight.mul_(last_scale)
        last.bias.mul_(last_scale)
    return nn.Sequential(*layers)


class SlaveActor(nn.Module):
    """Observations B x O (padded to ``users``) -> allocations B x U (fractions). ``band``
    (the cut of a slice's total at 1.1 times its target) is off in training and on for
    decisions and exports, as in the numpy actor."""

    def __init__(self, hidden: int, users: int, pricing: Pricing, band: bool = False) -> None:
        super().__init__()
        self.users, self.pricing, self.band = users, pricing, band
        self.head = mlp([CONTEXT, hidden, hidden, 1], last_scale=0.01)

    def inputs(self, obs: torch.Tensor) -> tuple[Slices, torch.Tensor, torch.Tensor]:
        """(the slices, the guessed log price B x 1, the head's input B x CONTEXT)."""
        slices = Slices.of(obs, self.users)
        mu, guessed = guess(TORCH, slices, self.pricing)
        return slices, mu, features(TORCH, slices, self.pricing, guessed)

    def forward(self, obs: torch.Tensor, noise: float = 0.0) -> torch.Tensor:
        slices, mu, context = self.inputs(obs)
        delta = correction(TORCH, self.head(context))
        if noise > 0:
            delta = delta + noise * torch.randn_like(delta)
        result: torch.Tensor = allocate(TORCH, slices, self.pricing, mu + delta, self.band)
        return result


class SlaveCritic(nn.Module):
    def __init__(self, hidden: int, users: int, pricing: Pricing) -> None:
        super().__init__()
        self.users, self.pricing = users, pricing
        self.user = mlp([USER_FEATURES + CONTEXT + 2, hidden, hidden, 1])
        self.slice = mlp([CONTEXT + 2, hidden, 1])

    def forward(
        self, obs: torch.Tensor, action: torch.Tensor, context: torch.Tensor
    ) -> torch.Tensor:
        """Q of allocations B x U; ``context`` is the actor's input of ``obs``."""
        slices = Slices.of(obs, self.users)
        share = torch.clamp(slices.target, min=1e-4) / torch.clamp(
            slices.mask.sum(-1, keepdim=True), min=1.0
        )
        relative = action / share
        per_user = torch.stack(
            [
                *user_features(TORCH, slices),
                torch.log(relative + 1e-4) / 4.0,
                torch.clamp(relative, max=100.0) / 10.0,
            ],
            -1,
        )
        joined = torch.cat([per_user, context[:, None, :].expand(-1, self.users, -1)], -1)
        value = (self.user(joined)[..., 0] * slices.mask).sum(1)
        scale = torch.clamp(slices.target[:, 0], min=GAP_FLOOR) * GAP_SCALE
        gap = torch.clamp((action.sum(1) - slices.target[:, 0]) / scale, -30.0, 30.0)
        head = torch.cat([context, gap[:, None], gap[:, None] ** 2 / 10.0], -1)
        total: torch.Tensor = value + self.slice(head)[:, 0]
        return total


def numpy_weights(actor: SlaveActor) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in actor.state_dict().items()}
