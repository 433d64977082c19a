"""Utilities, QoS and the per-user arrays every slicing method works on.

All users of all slices are laid out in one vector, slice after slice (``Layout``). A user's
``cap`` is its demand (the paper's saturated users demand the whole capacity): utility stops
growing there. A user's ``floor`` is the allocation at which its utility reaches the slice's
QoS floor, capped at its demand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agent.model.slicing import Array, SlicingProblem, UtilityForm

EPS = 1e-12


@dataclass(frozen=True)
class Layout:
    """Per-user arrays of a problem, concatenated in slice order."""

    problem: SlicingProblem
    alpha: Array
    weight: Array
    qos_floor: Array  # in utility, per user
    slice_of: np.ndarray  # slice index of each user
    starts: np.ndarray  # first user of each slice, plus the total at the end

    @staticmethod
    def of(problem: SlicingProblem) -> Layout:
        slices = problem.slices
        sizes = np.array([s.users for s in slices])
        return Layout(
            problem,
            np.concatenate([s.alpha for s in slices]),
            np.concatenate([s.weight for s in slices]),
            np.repeat([s.qos_floor for s in slices], sizes).astype(np.float64),
            np.repeat(np.arange(len(slices)), sizes),
            np.concatenate([[0], np.cumsum(sizes)]),
        )

    @property
    def n_slices(self) -> int:
        return len(self.problem.slices)

    def slice_sums(self, values: Array) -> Array:
        sums = np.bincount(self.slice_of, values, minlength=self.n_slices)
        return sums.astype(np.float64)

    def floors(self, demand: Array) -> Array:
        """Allocation each user needs for its QoS floor, capped at its demand."""
        need = floor_allocation_per_user(self.problem.utility, self.alpha, self.qos_floor)
        result: Array = np.minimum(need, demand)
        return result


def floor_allocation_per_user(form: UtilityForm, alpha: Array, floor: Array) -> Array:
    if form is UtilityForm.ALPHA_FAIR:
        result: Array = (floor * alpha) ** (1.0 / alpha)
        return result
    return np.expm1(floor)


def raw_utility(form: UtilityForm, alpha: Array, x: Array, demand: Array) -> Array:
    """Unweighted utility of each user."""
    served = np.clip(np.minimum(x, demand), 0.0, None)
    if form is UtilityForm.ALPHA_FAIR:
        result: Array = served**alpha / alpha
        return result
    logged: Array = np.log1p(served)
    return logged


def weighted_utility(layout: Layout, x: Array, demand: Array) -> Array:
    result: Array = layout.weight * raw_utility(layout.problem.utility, layout.alpha, x, demand)
    return result


def qos_met(layout: Layout, x: Array, demand: Array) -> np.ndarray:
    """Whether each user reaches its floor (or receives its whole demand)."""
    utility = raw_utility(layout.problem.utility, layout.alpha, x, demand)
    met: np.ndarray = (utility >= layout.qos_floor * (1 - 1e-6) - 1e-9) | (x >= demand * (1 - 1e-6))
    return met


def qos_shortfall(layout: Layout, x: Array, demand: Array) -> Array:
    """How far each user's utility is below its floor (0 where QoS is met)."""
    utility = raw_utility(layout.problem.utility, layout.alpha, x, demand)
    short: Array = np.where(qos_met(layout, x, demand), 0.0, layout.qos_floor - utility)
    return np.clip(short, 0.0, None)


def response(layout: Layout, price: Array, demand: Array) -> Array:
    """Each user's utility-maximising allocation at a marginal price (per user, > 0):
    where the weighted marginal utility equals the price, between its floor and its demand."""
    w, a = layout.weight, layout.alpha
    if layout.problem.utility is UtilityForm.ALPHA_FAIR:
        free = (np.maximum(w, EPS) / price) ** (1.0 / (1.0 - a))
    else:
        free = w / price - 1.0
    free = np.where(w > 0, free, 0.0)
    result: Array = np.maximum(layout.floors(demand), np.minimum(free, demand))
    return result


def project_simplex(values: Array, total: float) -> Array:
    """Euclidean projection of ``values`` onto ``{z >= 0, sum z = total}`` (ADMM's master)."""
    ordered = np.sort(values)[::-1]
    excess = np.cumsum(ordered) - total
    ranks = np.arange(1, values.size + 1)
    valid = ordered - excess / ranks > 0
    rank = int(ranks[valid][-1]) if valid.any() else values.size
    shift = excess[rank - 1] / rank
    result: Array = np.maximum(values - shift, 0.0)
    return result


def project_capacity(x: Array, capacity: float, floors: Array | None = None) -> Array:
    """``x`` itself when it fits, else its projection onto ``sum x = capacity, x >= 0``;
    with ``floors`` (per user), onto ``sum x = capacity, x >= min(x, floors)``: a user whose
    raw allocation met its floor keeps it (when those floors fit in the capacity)."""
    x = np.maximum(x, 0.0)
    if x.sum() <= capacity:
        return x
    if floors is not None:
        kept = np.minimum(x, floors)
        if kept.sum() <= capacity:
            result: Array = kept + project_simplex(x - kept, capacity - float(kept.sum()))
            return result
    return project_simplex(x, capacity)


GAP_OF_NOTE = 0.03  # a slave total 3 % off its slice's equal share counts in the reward scale


def reward_scale(layout: Layout, demand: Array) -> Array:
    """Per slice: what a slave's reward is divided by, so that slices of any size learn at
    one scale: 1 + the slice's utility at an equal share of the capacity + the ADMM
    penalty of missing an equal share by ``GAP_OF_NOTE`` (which dominates for large
    capacities, where the penalty grows with the square of the allocation)."""
    problem = layout.problem
    sizes = np.diff(layout.starts)
    share = problem.capacity / layout.n_slices
    equal = (share / sizes)[layout.slice_of]
    utility = np.bincount(
        layout.slice_of, weighted_utility(layout, equal, demand), minlength=layout.n_slices
    )
    penalty = 0.5 * problem.rho * (GAP_OF_NOTE * share) ** 2
    return np.asarray(1.0 + utility + penalty, dtype=np.float64)
