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

Networks that are not small (a coordination learner on a 42-node network: an actor with a
5,292-wide output layer and a critic with a 5,334-wide input, some 340,000 weights each) are
the other way round: an update is ten products of a batch of 64 with those layers, each at
about what one core does, and elementwise work on tensors of over a megabyte. For them:

- ``learner_threads``: two torch threads where two cores are idle (one below
  ``BIG_LAYER`` weights, where a second thread only waits, and one on a busy machine, where
  two threads wait for each other);
- ``keep_freed_memory``: glibc returns each freed block of over 128 KiB to the kernel and
  faults it in again, zeroed, at the next allocation (some 700 page faults an update on the
  42-node network); this keeps freed memory in the process's heap.
"""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import cast

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


BIG_LAYER = 1 << 18  # weights: from here on an update gains from a second thread
LEARNER_THREADS = 2  # at most: the products of a batch of 64 gain little beyond two
IDLE_SLACK = 0.5  # a core counts as idle while under half of it is in use


def learner_threads(largest_layer: int, cores: int | None = None, idle: float | None = None) -> int:
    """Torch threads for a learner whose largest layer has ``largest_layer`` weights: one,
    or ``LEARNER_THREADS`` from ``BIG_LAYER`` on where that many cores are idle (``cores``,
    the cores this process may run on; ``idle``, how many of them are idle, by default
    ``idle_cores()`` now).

    Measured on a 2-core machine, an update of DDPG's actor and critic (64 hidden units):
    Abilene (11 nodes, 23,936 weights) and BT Europe (24 nodes, 112,128) no faster on two
    threads; ChinaNet (42 nodes, 341,376) 1.4-1.6x faster on an idle machine, but with both
    cores busy with other work, training ran 2.5x slower on two threads than on one: the
    threads of each product wait for each other."""
    if largest_layer < BIG_LAYER:
        return 1
    if cores is None:
        cores = usable_cores()
    if idle is None:
        idle = idle_cores()
    return max(1, min(LEARNER_THREADS, cores, int(idle + IDLE_SLACK)))


def usable_cores() -> int:
    """The cores this process may run on (its affinity), at most its cgroup's CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as limit:  # cgroup v2: "max 100000" or "Q P"
            quota, period = limit.read().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


def idle_cores(interval_s: float = 0.2) -> float:
    """How many of the cores this process may run on were idle over the next
    ``interval_s`` (Linux's per-core counters in ``/proc/stat``); 0 where they cannot be
    read (so a learner stays on one thread)."""
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    try:
        before = _cpu_times(cores)
        time.sleep(interval_s)
        after = _cpu_times(cores)
    except (OSError, ValueError, IndexError):
        return 0.0
    idle, total = after[0] - before[0], after[1] - before[1]
    return after[2] * idle / total if total > 0 else 0.0


def _cpu_times(cores: set[int] | None) -> tuple[int, int, int]:
    """(idle and waiting, all) jiffies of ``cores`` together (every core for None), from
    ``/proc/stat``, and how many cores that is."""
    idle = total = counted = 0
    with open("/proc/stat") as stat:
        for line in stat:
            name, *values = line.split()
            if not name.startswith("cpu") or name == "cpu":
                continue
            if cores is not None and int(name[3:]) not in cores:
                continue
            fields = [int(value) for value in values[:8]]  # user .. steal (guest is in user)
            idle, total, counted = idle + fields[3] + fields[4], total + sum(fields), counted + 1
    if counted == 0:
        raise ValueError("no per-core counters in /proc/stat")
    return idle, total, counted


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 << 20  # glibc's largest: blocks below it come from the heap
TRIM_THRESHOLD = 128 << 20  # free memory at the heap's top kept, not returned


def keep_freed_memory() -> bool:
    """Have glibc's malloc serve blocks under 32 MiB from the heap and keep up to 128 MiB of
    freed memory there (``mallopt``), so that a learner's large temporaries are not mapped,
    faulted in and unmapped again at every update. Process-wide, and only where the C
    library is glibc; returns whether both were set (the allocations' values do not
    change)."""
    mallopt = mallopt_of_libc()
    if mallopt is None:
        return False
    mapped = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    trimmed = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    return bool(mapped) and bool(trimmed)


def mallopt_of_libc() -> Callable[[int, int], int] | None:
    """glibc's ``mallopt``, or None where the C library has none."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError, TypeError):  # not glibc (or no C library to load)
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return cast("Callable[[int, int], int]", mallopt)
