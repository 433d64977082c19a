"""Every slicing method behind one interface, and the policy the daemon can call.

A method maps one step's demand (and the users' QoS deficits) to a raw per-user allocation;
``SlicingPolicy.allocate`` projects it onto the capacity (so no method over-allocates),
keeping the QoS floors the raw output met, and reports how far the raw output was above
the capacity.

Methods: ``static``, ``proportional``, ``dynamic`` (heuristics), ``admm-opt`` (ADMM with the
exact slave), ``admm-drl`` (ADMM with the learned DDPG slave), ``maddpg-admm`` (ADMM with
the slave trained by MADDPG), ``optimum`` (the centralised optimum, a reference, not a
slicing scheme).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.model.slicing import Array, SlicingProblem
from agent.model.slicing_utility import Layout
from agent.policies.errors import PolicyError
from agent.policies.slicing import heuristics
from agent.policies.slicing.admm import admm, exact_slave, optimum, project_capacity, raw_violation
from agent.policies.slicing.learned import SHIPPED, LearnedSlave, load_slave

Method = Callable[[Layout, Array, Array], Array]  # (layout, demand, deficit) -> raw x
METHODS = ("static", "proportional", "dynamic", "admm-opt", "admm-drl", "maddpg-admm", "optimum")
SHIPPED_SUFFIX = {"admm-drl": "", "maddpg-admm": "-maddpg"}  # shipped slave of scenario NAME


@dataclass(frozen=True)
class SliceAllocation:
    per_user: Array  # projected onto the capacity
    per_slice: Array
    raw_violation: float  # how far the raw output exceeded the capacity (fraction of it)


def admm_opt(layout: Layout, demand: Array, deficit: Array) -> Array:
    rho = layout.problem.rho
    return admm(layout, lambda t, d, _: exact_slave(layout, t, d, rho), demand, deficit)


def admm_drl(slave: LearnedSlave) -> Method:
    def method(layout: Layout, demand: Array, deficit: Array) -> Array:
        prepared = slave.prepare(layout, demand, deficit)
        return admm(layout, lambda t, _d, _f: prepared(t), demand, deficit)

    return method


def make_method(name: str, policy: str | Path | None = None, scenario: str = "") -> Method:
    """The method called ``name``; ``admm-drl`` and ``maddpg-admm`` load their slave from
    ``policy`` (default: the shipped policy of ``scenario``: ``NAME``, ``NAME-maddpg``)."""
    simple: dict[str, Method] = {
        "static": lambda layout, demand, _: heuristics.static(layout, demand),
        "proportional": lambda layout, demand, _: heuristics.proportional(layout, demand),
        "dynamic": lambda layout, demand, _: heuristics.dynamic(layout, demand),
        "admm-opt": admm_opt,
        "optimum": lambda layout, demand, _: optimum(layout, demand),
    }
    if name in simple:
        return simple[name]
    if name in SHIPPED_SUFFIX:
        directory = (
            Path(policy) if policy is not None else SHIPPED / (scenario + SHIPPED_SUFFIX[name])
        )
        if not directory.exists():
            raise PolicyError(f"{directory}: no slicing slave policy here")
        return admm_drl(load_slave(directory))
    raise PolicyError(f"unknown slicing method {name!r} (known: {', '.join(METHODS)})")


class SlicingPolicy:
    """Deterministic: the slices of a problem and the demand per user (slice order) ->
    allocation per user and per slice, within the capacity."""

    def __init__(self, problem: SlicingProblem, method: Method) -> None:
        self.layout = Layout.of(problem)
        self.method = method

    def allocate(self, demand: Array, deficit: Array | None = None) -> SliceAllocation:
        layout = self.layout
        deficit = np.zeros(layout.alpha.size) if deficit is None else deficit
        raw = self.method(layout, np.asarray(demand, dtype=np.float64), deficit)
        capacity = layout.problem.capacity
        x = project_capacity(raw, capacity, layout.floors(np.asarray(demand, dtype=np.float64)))
        return SliceAllocation(x, layout.slice_sums(x), raw_violation(raw, capacity))
