"""The learners' small torch pieces, shared by the off-policy trainers (coordination's DDPG,
TD3 and SAC, slicing's DDPG and MADDPG, deployment's MADDPG-SD).

Their networks are small (one or two hidden layers of 64-128 on a batch of 64), so on CPU
an update is mostly the cost of dispatching some hundred torch operations, not their
arithmetic. These helpers cut the dispatching where the values stay what they were:

- ``soft_update``: Polyak averaging of all of a network's parameters in two multi-tensor
  calls (the same ``mul_`` and ``add_`` kernels per tensor as a Python loop, so the same
  values bit for bit);
- ``adam``: torch's fused Adam (one kernel per parameter instead of about ten); its
  arithmetic is Adam's, in another order, so values differ from the loop's in the last
  bits (about 1e-7 after hundreds of steps);
- ``step_on``: gradients of a loss for the given parameters only, then their optimiser's
  step: the actor's update does not also compute the critic's weight gradients, which it
  would throw away (the same values for the parameters stepped);
- ``decayed``: the learning rate decayed as Keras does, ``lr / (1 + decay x updates)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """``target <- (1 - tau) target + tau source``, parameter by parameter."""
    targets: list[torch.Tensor] = list(target.parameters())
    sources: list[torch.Tensor] = list(source.parameters())
    if len(targets) != len(sources):
        raise ValueError(f"soft update of {len(targets)} parameters from {len(sources)}")
    with torch.no_grad():
        torch._foreach_mul_(targets, 1 - tau)
        torch._foreach_add_(targets, sources, alpha=tau)


def adam(params: Iterable[nn.Parameter], lr: float) -> torch.optim.Adam:
    """Adam with torch's fused kernel (CPU and GPU alike in the torch we pin)."""
    return torch.optim.Adam(params, lr=lr, fused=True)


def step_on(
    loss: torch.Tensor, params: Sequence[torch.Tensor], optimiser: torch.optim.Optimizer
) -> None:
    """One optimiser step on ``params`` (all of ``optimiser``'s) from ``loss``'s gradients
    for them alone."""
    grads = torch.autograd.grad(loss, params)
    for param, grad in zip(params, grads, strict=True):
        param.grad = grad
    optimiser.step()


def decayed(optimiser: torch.optim.Optimizer, lr: float, decay: float, updates: int) -> None:
    """Set ``optimiser``'s learning rate to ``lr / (1 + decay x updates)`` (Keras's decay)."""
    for group in optimiser.param_groups:
        group["lr"] = lr / (1 + decay * updates)
