"""Slicing in the daemon: demand per slice -> the slicing policy's allocation -> one meter
per slice on its ingress switches.

Demand comes from the slicing scenario's demand process (the simulator backend plays it,
one scenario step per slicing interval) or from measured rates (kbit/s per slice, from
the switches' counters of the slices' flows), spread evenly over the slice's users. The
policy (``agent.policies.slicing``) allocates the scenario's capacity; ``kbps_per_unit``
turns an allocation into a meter rate. ``SlicingEngine.step`` is pure given the demand:
the daemon runs it off the event loop and adds its intents to the cycle's rule set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agent.model.errors import InputError
from agent.model.slicing import Array, SlicingScenario, load_slicing_scenario
from agent.model.slicing_utility import qos_met, weighted_utility
from agent.model.wiring import Wiring
from agent.policies.slicing import SlicingPolicy, make_method
from agent.rules.intents import Intent
from agent.rules.slices import SliceClass, compile_slices
from agent.runtime.config import SlicingSettings


@dataclass(frozen=True)
class SliceStatus:
    """One slice after a slicing step, in the scenario's units (and the meter's kbit/s)."""

    name: str
    users: int
    demand: float
    allocation: float
    rate_kbps: float
    utility: float
    qos: float  # fraction of the slice's users at or above its QoS floor

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "users": self.users,
            "demand": round(self.demand, 6),
            "allocation": round(self.allocation, 6),
            "rate_kbps": round(self.rate_kbps, 3),
            "utility": round(self.utility, 6),
            "qos": round(self.qos, 6),
        }


@dataclass(frozen=True)
class SlicingStep:
    step: int
    method: str
    capacity: float
    slices: tuple[SliceStatus, ...]
    raw_violation: float
    intents: tuple[Intent, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "method": self.method,
            "capacity": self.capacity,
            "raw_violation": round(self.raw_violation, 6),
            "slices": [s.to_json() for s in self.slices],
        }


@dataclass
class SlicingEngine:
    """A slicing scenario's problem and policy, and the traffic classes on the switches
    (none on the simulator backend: the allocation is then only reported)."""

    scenario: SlicingScenario
    method: str
    classes: Sequence[SliceClass] = ()
    kbps_per_unit: float = 1.0
    seed: int = 0
    policy_path: str | None = None
    _demand: Array | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.problem = self.scenario.problem(self.seed)
        self.policy = SlicingPolicy(
            self.problem, make_method(self.method, self.policy_path, self.scenario.name)
        )
        self.names = tuple(s.name for s in self.problem.slices)
        unknown = sorted({c.name for c in self.classes} - set(self.names))
        if unknown:
            raise ValueError(
                f"slice class {unknown[0]!r} is not a slice of {self.scenario.name} "
                f"(slices: {', '.join(self.names)})"
            )

    def scenario_demand(self, step: int) -> Array:
        """Per-user demand of the scenario's demand process at ``step`` (cyclic)."""
        if self._demand is None:
            self._demand = self.scenario.demand(self.problem, self.seed)
        row: Array = self._demand[step % self._demand.shape[0]]
        return row

    def measured_demand(self, kbps: Mapping[str, float]) -> Array:
        """Per-user demand from measured kbit/s per slice, spread evenly over its users;
        a slice without a measurement demands nothing."""
        parts = [
            np.full(s.users, kbps.get(s.name, 0.0) / self.kbps_per_unit / max(s.users, 1))
            for s in self.problem.slices
        ]
        return np.concatenate(parts).astype(np.float64)

    def step(self, demand: Array, step: int) -> SlicingStep:
        allocation = self.policy.allocate(demand)
        layout = self.policy.layout
        x = allocation.per_user
        utility = layout.slice_sums(weighted_utility(layout, x, demand))
        met = layout.slice_sums(qos_met(layout, x, demand).astype(np.float64))
        wanted = layout.slice_sums(np.asarray(demand, dtype=np.float64))
        statuses = tuple(
            SliceStatus(
                s.name,
                s.users,
                float(wanted[i]),
                float(allocation.per_slice[i]),
                float(allocation.per_slice[i]) * self.kbps_per_unit,
                float(utility[i]),
                float(met[i]) / max(s.users, 1),
            )
            for i, s in enumerate(self.problem.slices)
        )
        intents: tuple[Intent, ...] = ()
        if self.classes:
            rates = {s.name: s.rate_kbps for s in statuses}
            intents = tuple(compile_slices(self.classes, rates))
        return SlicingStep(
            step, self.method, self.problem.capacity, statuses, allocation.raw_violation, intents
        )


def load_engine(
    scenario_path: str | Path,
    method: str,
    classes: Sequence[SliceClass] = (),
    kbps_per_unit: float = 1.0,
    seed: int = 0,
    policy_path: str | None = None,
) -> SlicingEngine:
    """Read the slicing scenario and build its policy (a learned slave's weights are read
    here: call it in a worker, never on the event loop)."""
    scenario = load_slicing_scenario(scenario_path)
    return SlicingEngine(scenario, method, classes, kbps_per_unit, seed, policy_path)


def slice_classes(settings: SlicingSettings, wiring: Wiring) -> list[SliceClass]:
    """The configured traffic classes on the switches of ``wiring``: each class enters on
    the ingress ports of its nodes (every ingress node by default)."""
    classes = []
    for name, spec in settings.classes.items():
        nodes = spec.ingress if spec.ingress is not None else sorted(wiring.ingress_ports)
        ingress: list[tuple[int, int]] = []
        for node in nodes:
            if node not in wiring.dpids:
                raise ValueError(f"classes.{name}.ingress: unknown node {node!r}")
            ingress += [(wiring.dpids[node], port) for port in wiring.ingress_ports.get(node, ())]
        if not ingress:
            raise ValueError(f"classes.{name}.ingress: no ingress port on {nodes}")
        classes.append(SliceClass(name, spec.match, tuple(ingress)))
    return classes


def engine_from_settings(
    settings: SlicingSettings, wiring: Wiring, where: str | None = None
) -> SlicingEngine:
    """The engine the configuration asks for; InputError naming the configuration key."""
    from agent.policies.errors import PolicyError

    try:
        return load_engine(
            settings.scenario,
            settings.method,
            slice_classes(settings, wiring),
            settings.kbps_per_unit,
            settings.seed,
            settings.policy,
        )
    except InputError:
        raise
    except (PolicyError, ValueError) as exc:
        raise InputError(where, "slicing", str(exc)) from None
