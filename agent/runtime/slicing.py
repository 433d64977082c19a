"""Slicing in the daemon: demand per slice -> the slicing policy's allocation -> one meter
per slice on its ingress switches.

Demand: on the simulator backend, the slicing scenario's demand process (one scenario
step per slicing interval). On a backend with switches (``SliceCounterSource``: the
controller backend), the measured rate of each slice's traffic, spread evenly over the
slice's users: each slicing interval, the byte counters of the flows that send the
slice's class to its meter (one per ingress port) give counter deltas over time, summed
over the slice's ingress switches, in kbit/s of frames (the unit of the meters' rates).

Why those counters: the demand is what the slice OFFERS, before its meter drops anything.
On Open vSwitch 3.1 (userspace datapath, measured) a flow's byte counter counts every
packet it matched, dropped by the meter or not, and equals the meter's input count
(``byte_in_count``: 3,907,500 bytes for both, 6 Mbit/s through a 2 Mbit/s meter; the
band's drop count was 2,633,134). The meter's own statistics would do, but OVS resets
them whenever the meter is modified, which a new allocation does; the flows' counters
survive it. OVS refreshes flow counters about every 0.5 s, so a rate is taken between the
times counter values were first seen (``flow_rate_kbps``), over the last ``window_s``
(half the decision interval, at least ``MIN_WINDOW_S``: a demand spike shows fully in the
next decision). A counter that went down was reset (flow re-added, switch restarted): the
new value counts since then. A flow seen once has no rate yet; a switch missing from
the statistics keeps its last rate for ``HOLD_STEPS`` intervals, then counts nothing; a
slice with no rate at all demands nothing.

The policy (``agent.policies.slicing``) allocates the scenario's capacity;
``kbps_per_unit`` turns an allocation into a meter rate. ``SlicingEngine.step`` is pure
given the demand: the daemon runs it off the event loop and adds its intents to the
cycle's rule set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from agent.model.errors import InputError
from agent.model.slicing import Array, SlicingScenario, load_slicing_scenario
from agent.model.slicing_utility import qos_met, weighted_utility
from agent.model.wiring import Wiring
from agent.policies.slicing import SlicingPolicy, make_method
from agent.rules.intents import FlowIntent, Intent
from agent.rules.slices import SliceClass, compile_slices, meter_id
from agent.runtime.config import SlicingSettings
from agent.southbound.controller_backend import CounterPoint, Match, SwitchCounters

MIN_WINDOW_S = 1.0  # two counter refreshes of Open vSwitch
STALL_S = 1.2  # a counter unchanged this long: no traffic since its last change
HOLD_STEPS = 3  # slicing intervals a missing switch's last rate is kept


@runtime_checkable
class SliceCounterSource(Protocol):
    """A backend that reads the switches' counters of the slices' flows."""

    def slice_counters(self) -> Mapping[int, SwitchCounters]: ...


def flow_rate_kbps(points: Sequence[CounterPoint], ts: float, window_s: float) -> float | None:
    """kbit/s of one flow over about the last ``window_s`` of its counter's values (``ts``:
    when the switch last reported); None while it has a single value still fresh."""
    if not points:
        return None
    end = points[-1]
    if ts - end.seen > STALL_S:
        end = CounterPoint(ts, end.bytes)  # unchanged for a while: nothing since
    older = [p for p in points if p.seen <= end.seen - window_s]
    start = older[-1] if older else points[0]
    span = end.seen - start.seen
    if span <= 0:
        return None
    chosen = [p for p in points if start.seen <= p.seen <= end.seen]
    counted = sum(
        b.bytes - a.bytes if b.bytes >= a.bytes else b.bytes  # down: reset, counts anew
        for a, b in pairwise(chosen)
    )
    return counted * 8 / 1000 / span


@dataclass
class DemandMeter:
    """Offered kbit/s per slice from its flows' counters on each of its ingress switches."""

    flows: Mapping[tuple[int, Match], str]  # (dpid, match) -> slice
    hold_steps: int = HOLD_STEPS
    _last: dict[tuple[int, str], tuple[float, int]] = field(default_factory=dict, init=False)
    _steps: int = field(default=0, init=False)

    def measure(self, counters: Mapping[int, SwitchCounters], window_s: float) -> dict[str, float]:
        """kbit/s of each slice with a rate on any of its switches."""
        self._steps += 1
        fresh: dict[tuple[int, str], float] = {}
        for dpid, switch in counters.items():
            for match, points in switch.flows.items():
                name = self.flows.get((dpid, match))
                rate = None if name is None else flow_rate_kbps(points, switch.ts, window_s)
                if name is not None and rate is not None:
                    fresh[(dpid, name)] = fresh.get((dpid, name), 0.0) + rate
        for key, rate in fresh.items():
            self._last[key] = (rate, self._steps)
        for key, (_, step) in list(self._last.items()):
            if key[0] not in counters and self._steps - step <= self.hold_steps:
                fresh.setdefault(key, self._last[key][0])  # a missing switch: held
            elif self._steps - step > self.hold_steps:
                del self._last[key]
        kbps: dict[str, float] = {}
        for (_, name), rate in fresh.items():
            kbps[name] = kbps.get(name, 0.0) + rate
        return kbps


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
    demand_kbps: float | None = None  # measured on the switches; None: not measured

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "users": self.users,
            "demand": round(self.demand, 6),
            "demand_kbps": None if self.demand_kbps is None else round(self.demand_kbps, 3),
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
    demand_source: str = "scenario"  # or "measured" (the switches' counters)

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "method": self.method,
            "demand_source": self.demand_source,
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
    _meter: DemandMeter | None = field(default=None, init=False, repr=False)

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

    def demand(
        self, step: int, source: object, interval_s: float
    ) -> tuple[Array, Mapping[str, float] | None]:
        """This step's per-user demand and, when ``source`` reads the switches' counters
        and slices are metered there, the measured kbit/s per slice it came from; else
        the scenario's demand process (and None)."""
        if not self.classes or not isinstance(source, SliceCounterSource):
            return self.scenario_demand(step), None
        if self._meter is None:
            self._meter = DemandMeter(self._flow_slices())
        window = max(MIN_WINDOW_S, interval_s / 2)
        kbps = self._meter.measure(source.slice_counters(), window)
        return self.measured_demand(kbps), kbps

    def _flow_slices(self) -> dict[tuple[int, Match], str]:
        """Which slice each compiled slice flow counts, by switch and match."""
        slice_of = {meter_id(i): c.name for i, c in enumerate(self.classes)}
        intents = compile_slices(self.classes, dict.fromkeys(self.names, 1.0))
        return {
            (f.dpid, f.match): slice_of[f.meter_id]
            for f in intents
            if isinstance(f, FlowIntent) and f.meter_id in slice_of
        }

    def measured_demand(self, kbps: Mapping[str, float]) -> Array:
        """Per-user demand from measured kbit/s per slice, spread evenly over its users;
        a slice without a measurement demands nothing."""
        parts = [
            np.full(s.users, kbps.get(s.name, 0.0) / self.kbps_per_unit / max(s.users, 1))
            for s in self.problem.slices
        ]
        return np.concatenate(parts).astype(np.float64)

    def step(
        self, demand: Array, step: int, measured: Mapping[str, float] | None = None
    ) -> SlicingStep:
        """Allocate ``demand``; ``measured`` (kbit/s per slice) when it was measured."""
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
                None if measured is None else measured.get(s.name),
            )
            for i, s in enumerate(self.problem.slices)
        )
        intents: tuple[Intent, ...] = ()
        if self.classes:
            rates = {s.name: s.rate_kbps for s in statuses}
            intents = tuple(compile_slices(self.classes, rates))
        source = "scenario" if measured is None else "measured"
        return SlicingStep(
            step,
            self.method,
            self.problem.capacity,
            statuses,
            allocation.raw_violation,
            intents,
            source,
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
