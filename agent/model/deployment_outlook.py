"""What an online deployment policy may know of the requests still to come, and the
admission rule built on it.

An online policy sees one request at a time; the offline optimum, knowing them all, keeps
resources for many small requests by refusing a few large ones. The outlook gives the
policy what the scenario states in advance: how many requests are still to come in the
episode (the x-axis of the paper's figures), how many arrive per period, and the sizes
(CPU and memory of a whole chain) that its generator draws, or the trace's.

The rule (``admission_margin``): the requests that will compete with this one for what is
free are those not yet decided that arrive before it departs (itself included): at most
``remaining``, on average ``arrivals_per_period x duration``. Sizes are shares of what is
free, the larger of the CPU and the memory share. The threshold is the size ``tau`` at
which the expected total of the competitors no larger than ``tau`` fills ``fill`` of what
is free (the classic threshold of an online knapsack with known item sizes); a request
larger than ``tau`` is better left for smaller ones. ``fill`` below 1 leaves room for
what cannot be packed (a VNF needs one server with room for it). The margin
``(tau - size) / tau`` in [-1, 1] is positive for a request worth admitting; 1 when
everything still to come fits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agent.model.deployment import RequestSpec

SIZE_SAMPLE = 4000  # chain sizes drawn to stand for the generator's distribution
SIZE_SEED = 20_240_803  # fixed: the outlook is a property of the scenario, not an episode


@dataclass(frozen=True)
class Outlook:
    """The requests of the episode not yet decided, the one being decided included."""

    remaining: int
    arrivals_per_period: float
    sizes: np.ndarray  # (k, 2): CPU and memory of whole chains, as the scenario draws them


def generator_sizes(spec: RequestSpec, count: int = SIZE_SAMPLE) -> np.ndarray:
    """CPU and memory of ``count`` chains drawn from the generator's distributions (chain
    length uniform in its range, every VNF's CPU and memory uniform in theirs)."""
    rng = np.random.default_rng(SIZE_SEED)
    low, high = spec.chain_length
    lengths = rng.integers(low, high + 1, count)
    present = np.arange(high)[None, :] < lengths[:, None]
    cpu = (rng.uniform(*spec.cpu, (count, high)) * present).sum(1)
    memory = (rng.uniform(*spec.memory, (count, high)) * present).sum(1)
    return np.stack([cpu, memory], 1)


def admission_margin(
    free_cpu: float,
    free_memory: float,
    cpu: float,
    memory: float,
    duration: float,
    outlook: Outlook | None,
    fill: float,
) -> float:
    """How far below the admission threshold a request of ``cpu`` and ``memory`` (whole
    chain) held for ``duration`` periods is, as a share of the threshold, in [-1, 1];
    1 without an outlook or when all that is still to come fits."""
    if outlook is None or len(outlook.sizes) == 0:
        return 1.0
    competitors = min(float(outlook.remaining), outlook.arrivals_per_period * duration)
    if competitors <= 0:
        return 1.0
    free_cpu, free_memory = max(free_cpu, 1e-9), max(free_memory, 1e-9)
    shares = np.sort(np.maximum(outlook.sizes[:, 0] / free_cpu, outlook.sizes[:, 1] / free_memory))
    expected = np.cumsum(shares) * (competitors / len(shares))
    k = int(np.searchsorted(expected, fill, side="right"))
    if k >= len(shares):
        return 1.0
    tau = float(shares[k]) if k > 0 else float(shares[0])
    size = max(cpu / free_cpu, memory / free_memory)
    return float(np.clip((tau - size) / tau, -1.0, 1.0))
