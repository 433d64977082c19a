"""The learned slave's parameterisation: a slice's allocation is its users' best response
to one price, the price a learned correction to a closed-form guess.

At a price ``lambda = exp(mu)`` a user takes the allocation at which its weighted marginal
utility equals the price, between its QoS floor and its demand (the floor is therefore met
by construction, and every allocation of this family is the best split of its own total:
the exact slave's optimum is one of them). The guess of ``mu`` for a slice's ADMM target
``t``: the price at which the slice's users would take exactly ``t`` if they all had the
slice's mean exponent and no floor or demand bound (exact for ``log-demand`` without
bounds), then ``guess_steps`` Newton steps on ``log F(mu) = log t`` for those unbounded
responses ``F``. The actor adds a bounded correction ``delta`` computed from the slice's
features (``features``: the users' features pooled, and how far the guess's real
responses, floors and demand included, are from the target), so that an untrained actor
is the guess and training learns what the guess misses.

Written once for numpy and torch: every function takes a ``Backend`` (``NUMPY`` here, the
torch one in the trainer) and arrays of one slice per row (``B x U``; per slice ``B x 1``),
allocations in fractions of the capacity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from agent.model.slicing import UtilityForm
from agent.model.slicing_observation import BLOCKS

ALPHA_MAX = 0.95  # exponents are clipped here: 1 / (1 - a) <= 20
LOG_FREE_MAX = 1.0  # a response above e times the capacity is cut there
NEWTON_STEP_MAX = 2.0
DELTA_MAX = 1.0  # the learned correction of the log price, at most this far either way
TOTAL_BAND = 0.1  # a slice's total is cut to at most 1.1 times its target
USER_FEATURES = 7
CONTEXT = 2 * USER_FEATURES + 11  # pooled users, 5 slice-level, 6 of the guess


class Backend(Protocol):
    """The few array operations the parameterisation needs (numpy or torch)."""

    def exp(self, x: Any) -> Any: ...
    def log(self, x: Any) -> Any: ...
    def tanh(self, x: Any) -> Any: ...
    def sqrt(self, x: Any) -> Any: ...
    def clip(self, x: Any, lo: float | None, hi: float | None) -> Any: ...
    def maximum(self, x: Any, y: Any) -> Any: ...
    def minimum(self, x: Any, y: Any) -> Any: ...
    def where(self, condition: Any, x: Any, y: Any) -> Any: ...
    def total(self, x: Any) -> Any:  # sum over the last axis, kept as a column
        ...

    def logsumexp(self, x: Any) -> Any:  # over the last axis, kept as a column
        ...

    def concat(self, xs: list[Any]) -> Any:  # along the last axis
        ...


class NumpyBackend:
    def exp(self, x: Any) -> Any:
        return np.exp(x)

    def log(self, x: Any) -> Any:
        return np.log(x)

    def tanh(self, x: Any) -> Any:
        return np.tanh(x)

    def sqrt(self, x: Any) -> Any:
        return np.sqrt(x)

    def clip(self, x: Any, lo: float | None, hi: float | None) -> Any:
        return np.clip(x, lo, hi)

    def maximum(self, x: Any, y: Any) -> Any:
        return np.maximum(x, y)

    def minimum(self, x: Any, y: Any) -> Any:
        return np.minimum(x, y)

    def where(self, condition: Any, x: Any, y: Any) -> Any:
        return np.where(condition, x, y)

    def total(self, x: Any) -> Any:
        return np.sum(x, axis=-1, keepdims=True)

    def logsumexp(self, x: Any) -> Any:
        top = np.max(x, axis=-1, keepdims=True)
        return top + np.log(np.sum(np.exp(x - top), axis=-1, keepdims=True))

    def concat(self, xs: list[Any]) -> Any:
        return np.concatenate(xs, axis=-1)


NUMPY = NumpyBackend()


@dataclass(frozen=True)
class Slices:
    """Slices as rows: per user (B x U, padded users masked out) and per slice (B x 1)."""

    deficit: Any
    demand: Any
    floor: Any
    alpha: Any
    weight: Any
    mask: Any
    target: Any

    @staticmethod
    def of(obs: Any, users: int) -> Slices:
        """The rows of observations (``agent.model.slicing_observation.encode``)."""
        return Slices.of_blocks(
            [obs[:, i * users : (i + 1) * users] for i in range(BLOCKS)], obs[:, -1:]
        )

    @staticmethod
    def of_blocks(blocks: list[Any], target: Any) -> Slices:
        """From the six per-user blocks in observation order and the targets (B x 1)."""
        deficit, demand, floor, alpha, weight, mask = blocks
        return Slices(deficit, demand, floor, alpha, weight, mask, target)


@dataclass(frozen=True)
class Pricing:
    """The constants of one problem the response needs, and how many Newton steps the
    guess takes (a property of the trained actor, recorded in its card)."""

    form: UtilityForm
    capacity: float
    guess_steps: int = 2

    @property
    def log_capacity(self) -> float:
        return math.log(self.capacity)


def _exponent(xp: Backend, s: Slices) -> Any:
    return 1.0 / (1.0 - xp.clip(s.alpha, 0.0, ALPHA_MAX))


def free_response(xp: Backend, s: Slices, p: Pricing, mu: Any) -> tuple[Any, Any]:
    """(unbounded response, its derivative in ``mu``) per user, fractions of capacity."""
    if p.form is UtilityForm.ALPHA_FAIR:
        k = _exponent(xp, s)
        log_w = xp.log(xp.maximum(s.weight, 1e-12))
        free = xp.exp(xp.clip(k * (log_w - mu) - p.log_capacity, None, LOG_FREE_MAX))
        return free, -k * free
    scaled = s.weight * xp.exp(-xp.clip(mu, -30.0, 30.0)) / p.capacity
    return scaled - 1.0 / p.capacity, -scaled


def respond(xp: Backend, s: Slices, p: Pricing, mu: Any) -> tuple[Any, Any]:
    """(allocation, its derivative in ``mu``) per user at log price ``mu`` (B x 1)."""
    free, slope = free_response(xp, s, p, mu)
    cap = xp.maximum(s.demand, s.floor)
    x = xp.maximum(s.floor, xp.minimum(free, cap)) * s.mask
    inside = (free > s.floor) & (free < cap) & (s.mask > 0)
    return x, xp.where(inside, slope, 0.0 * slope)


def _target(xp: Backend, s: Slices) -> Any:
    return xp.maximum(s.target, 1e-6)


def first_guess(xp: Backend, s: Slices, p: Pricing) -> Any:
    """The closed-form log price: all of the slice's users at its mean exponent (alpha-fair)
    or no bounds (log-demand), taking the target exactly."""
    count = xp.maximum(xp.total(s.mask), 1.0)
    wanted = _target(xp, s) * p.capacity
    if p.form is UtilityForm.ALPHA_FAIR:
        k_mean = xp.total(_exponent(xp, s) * s.mask) / count
        log_w = xp.log(xp.maximum(s.weight, 1e-12))
        masked = xp.where(s.mask > 0, k_mean * log_w, 0.0 * log_w - 1e30)
        return (xp.logsumexp(masked) - xp.log(wanted)) / k_mean
    return xp.log(xp.maximum(xp.total(s.weight * s.mask), 1e-12)) - xp.log(wanted + count)


def _log_target(xp: Backend, s: Slices) -> Any:
    return xp.log(_target(xp, s))


def smooth_newton(xp: Backend, s: Slices, p: Pricing, mu: Any) -> tuple[Any, Any, Any]:
    """One Newton step on ``log F(mu) = log t`` for the unbounded responses ``F`` (no floor,
    no demand: a smooth, convex function of ``mu``): (new mu, residual, log slope) where the
    residual and slope are those at the old ``mu``."""
    free, slope = free_response(xp, s, p, mu)
    total = xp.maximum(xp.total(free * s.mask), 1e-9)
    d_log = xp.minimum(xp.total(slope * s.mask) / total, -1e-6)
    residual = xp.clip(xp.log(total) - _log_target(xp, s), -10.0, 10.0)
    step = xp.clip(-residual / d_log, -NEWTON_STEP_MAX, NEWTON_STEP_MAX)
    return mu + step, residual, xp.log(xp.clip(-d_log, 1e-3, 1e3))


def bounded_residual(xp: Backend, s: Slices, p: Pricing, mu: Any) -> tuple[Any, Any, Any]:
    """(log S(mu) - log t, log of -d log S / d mu, the Newton step these give) for the real
    responses (floors, demand)."""
    x, slope = respond(xp, s, p, mu)
    total = xp.maximum(xp.total(x), 1e-9)
    residual = xp.clip(xp.log(total) - _log_target(xp, s), -10.0, 10.0)
    d_log = xp.minimum(xp.total(slope) / total, -1e-3)
    step = xp.clip(-residual / d_log, -NEWTON_STEP_MAX, NEWTON_STEP_MAX)
    return residual, xp.log(xp.clip(-d_log, 1e-3, 1e3)), step


def guess(xp: Backend, s: Slices, p: Pricing) -> tuple[Any, Any]:
    """(the guessed log price: the closed form, then ``guess_steps`` smooth Newton steps,
    B x 1; the guess's features, B x 6: how far the steps went, the smooth residual and
    slope after them, the real residual and slope after them and the Newton step they
    suggest)."""
    mu0 = first_guess(xp, s, p)
    mu1 = mu0
    for _ in range(p.guess_steps):
        mu1, _, _ = smooth_newton(xp, s, p, mu1)
    _, smooth_residual, smooth_slope = smooth_newton(xp, s, p, mu1)
    residual, slope, step = bounded_residual(xp, s, p, mu1)
    return mu1, xp.concat([mu1 - mu0, smooth_residual, smooth_slope, residual, slope, step])


def _mean_spread(xp: Backend, values: Any, mask: Any, count: Any) -> tuple[Any, Any]:
    mean = xp.total(values * mask) / count
    spread = xp.sqrt(xp.maximum(xp.total(values * values * mask) / count - mean * mean, 0.0))
    return mean, spread


def user_features(xp: Backend, s: Slices) -> list[Any]:
    """Per-user features (each B x U): exponent, 1 / (1 - exponent) / 10, log weight, their
    product / 10, floor and demand against the slice's mean share of its target, deficit."""
    share = xp.maximum(_target(xp, s), 1e-4) / xp.maximum(xp.total(s.mask), 1.0)
    k = _exponent(xp, s)
    log_w = xp.clip(xp.log(xp.maximum(s.weight, 1e-12)), -10.0, 5.0)
    return [
        s.alpha,
        k / 10.0,
        log_w,
        xp.clip(k * log_w / 10.0, -10.0, 10.0),
        xp.log(1.0 + xp.clip(s.floor / share, 0.0, 1e4)),
        xp.log(1.0 + xp.clip(s.demand / share, 0.0, 1e4)),
        xp.clip(s.deficit, 0.0, 10.0),
    ]


def features(xp: Backend, s: Slices, p: Pricing, guessed: Any) -> Any:
    """The actor's input per slice (B x CONTEXT): mean and spread of the users' features,
    then the slice's size, target, floors and demand against the target, the capacity's
    scale and the guess's features."""
    count = xp.maximum(xp.total(s.mask), 1.0)
    target = _target(xp, s)
    pooled: list[Any] = []
    for values in user_features(xp, s):
        pooled.extend(_mean_spread(xp, values, s.mask, count))
    slice_level = [
        xp.log(count) / 4.0,
        xp.log(target) / 4.0,
        xp.log(1.0 + xp.clip(xp.total(s.floor * s.mask) / target, 0.0, 1e4)),
        xp.log(1.0 + xp.clip(xp.total(s.demand * s.mask) / target, 0.0, 1e4)),
        0.0 * target + p.log_capacity / 10.0,
    ]
    return xp.concat([*pooled, *slice_level, guessed])


def allocate(xp: Backend, s: Slices, p: Pricing, mu: Any, band: bool = True) -> Any:
    """The slice's allocation at log price ``mu``; with ``band``, its total at most
    ``1 + TOTAL_BAND`` times the target (what is above the floors shrinks in proportion:
    one very elastic user must not take the whole capacity on a small error of the price;
    training goes without, the cut would hide the error from the critic); a slice whose
    whole demand is below its target spreads the rest evenly (its utility is flat there,
    the target is not)."""
    x, _ = respond(xp, s, p, mu)
    if band:
        floors = xp.total(s.floor * s.mask)
        above = xp.maximum(xp.total(x) - floors, 1e-12)
        room = xp.maximum((1.0 + TOTAL_BAND) * s.target - floors, 0.0)
        x = s.floor * s.mask + (x - s.floor * s.mask) * xp.minimum(room / above, 1.0)
    cap = xp.total(xp.maximum(s.demand, s.floor) * s.mask)
    count = xp.maximum(xp.total(s.mask), 1.0)
    headroom = xp.maximum(s.target - cap, 0.0) / count
    return x + headroom * s.mask


def correction(xp: Backend, raw: Any) -> Any:
    """The actor's bounded correction of the log price from its network's raw output."""
    return DELTA_MAX * xp.tanh(raw / DELTA_MAX)
