"""ADMM for slicing (DeepSlicing's decomposition) and the exact slave.

Each iteration: every slice solves its slave problem for its target ``z - u`` (maximise its
weighted utility minus ``rho / 2 * (sum x - target)^2``, QoS floors as lower bounds, the
capacity as an upper bound on its sum); the master projects the slices' totals plus the
scaled duals onto ``{z >= 0, sum z = capacity}``; the duals step ``u += sum x - z``. Targets
are clipped to ``[0, capacity]`` as in the published code.

The exact slave uses the problem's structure: at the optimum every user not held at its floor
or its demand has weighted marginal utility equal to one price ``lambda = rho * (S - target)``
(plus the capacity's multiplier), and the sum ``S(lambda)`` of the users' responses falls as
the price rises, so the optimum is the root of ``S(lambda) - target - lambda / rho``, found by
bisection on ``log lambda`` for all slices at once (relative precision about 1e-12).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from agent.model.slicing import Array
from agent.model.slicing_utility import Layout, response
from agent.model.slicing_utility import project_capacity as project_capacity
from agent.model.slicing_utility import project_simplex as project_simplex

Slave = Callable[[Array, Array, Array], Array]  # (targets per slice, demand, deficit) -> x
BISECTION_STEPS = 90
LOG_PRICE_MIN = np.log(1e-12)


def raw_violation(x: Array, capacity: float) -> float:
    """How far ``x`` exceeds the capacity, as a fraction of it (0 when it fits)."""
    return max(0.0, float(np.sum(x)) - capacity) / capacity


def _bisect(
    layout: Layout, demand: Array, lo: Array, hi: Array, gap: Callable[[Array], Array]
) -> Array:
    """Per-slice root of a decreasing function of the log price, by bisection."""
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        positive = gap(mid) > 0
        lo, hi = np.where(positive, mid, lo), np.where(positive, hi, mid)
    return response(layout, np.exp(hi)[layout.slice_of], demand)


def exact_slave(layout: Layout, targets: Array, demand: Array, rho: float) -> Array:
    """The slave problems of all slices, solved exactly (within bisection precision)."""
    capacity = layout.problem.capacity
    floors = layout.floors(demand)
    full = np.maximum(floors, demand)
    full_sums = layout.slice_sums(full)

    def sums(log_price: Array) -> Array:
        return layout.slice_sums(response(layout, np.exp(log_price)[layout.slice_of], demand))

    lo = np.full(layout.n_slices, LOG_PRICE_MIN)
    hi = np.log(rho * (full_sums + capacity) + 1.0) + np.log(np.max(layout.weight) + 1.0) + 30.0
    x = _bisect(layout, demand, lo.copy(), hi.copy(), lambda p: sums(p) - targets - np.exp(p) / rho)
    # slices whose whole demand is below the target: serve it and spread the rest evenly
    sated = full_sums <= targets
    if sated.any():
        sizes = np.diff(layout.starts)
        spread = ((targets - full_sums) / sizes)[layout.slice_of]
        x = np.where(sated[layout.slice_of], full + spread, x)
    over = layout.slice_sums(x) > capacity
    if over.any():  # the slice's own capacity constraint binds
        capped = _bisect(layout, demand, lo.copy(), hi.copy(), lambda p: sums(p) - capacity)
        x = np.where(over[layout.slice_of], capped, x)
    return _fit_floors(layout, x, floors, capacity)


def _fit_floors(layout: Layout, x: Array, floors: Array, capacity: float) -> Array:
    """Where a slice's floors alone exceed the capacity, scale them down to it."""
    floor_sums = layout.slice_sums(floors)
    too_big = floor_sums > capacity
    if not too_big.any():
        return x
    scaled = floors * (capacity / np.maximum(floor_sums, 1e-300))[layout.slice_of]
    result: Array = np.where(too_big[layout.slice_of], scaled, x)
    return result


@dataclass
class AdmmTrace:
    """What one ADMM run went through: raw totals per slice and targets, per iteration."""

    totals: list[Array] = field(default_factory=list)
    targets: list[Array] = field(default_factory=list)


def admm(
    layout: Layout,
    slave: Slave,
    demand: Array,
    deficit: Array,
    trace: AdmmTrace | None = None,
) -> Array:
    """Run the problem's ADMM iterations with ``slave``; the last raw per-user allocation."""
    problem = layout.problem
    n, capacity = layout.n_slices, problem.capacity
    z, u, targets = np.zeros(n), np.zeros(n), np.zeros(n)
    x = np.zeros(layout.alpha.size)
    for _ in range(problem.iterations):
        x = slave(targets, demand, deficit)
        totals = layout.slice_sums(x)
        z = project_simplex(totals + u, capacity)
        u = u + totals - z
        if trace is not None:
            trace.totals.append(totals)
            trace.targets.append(targets)
        targets = np.clip(z - u, 0.0, capacity)
    return x


def optimum(layout: Layout, demand: Array) -> Array:
    """The centralised optimum (one price for all users, sum x <= capacity): a reference
    that ADMM approaches as its iterations grow."""
    capacity = layout.problem.capacity
    floors = layout.floors(demand)
    if floors.sum() > capacity:
        scaled: Array = floors * capacity / floors.sum()
        return scaled
    full = np.maximum(floors, demand)
    if full.sum() <= capacity:
        return full
    lo, hi = LOG_PRICE_MIN, float(np.log(np.max(layout.weight) + 1.0) + 30.0)
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if response(layout, np.full(full.size, np.exp(mid)), demand).sum() > capacity:
            lo = mid
        else:
            hi = mid
    return response(layout, np.full(full.size, np.exp(hi)), demand)
