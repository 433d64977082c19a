"""The shared types: what a policy sees (Observation) and what it returns (Decision).

A policy cannot tell whether an observation came from the simulator or from
controller statistics, nor whether its decision is applied by the simulator or
compiled to OpenFlow. Times are in milliseconds of scenario time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# schedule[node][chain][sf] -> {destination node: weight}; weights of one entry sum to 1.
Schedule = Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]]
# placement[node] -> service functions with an instance there.
Placement = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class NodeReport:
    """One node's last monitoring report, as old as ``age`` when the observation is made."""

    node: str
    measured_at: float
    age: float
    cap: float
    load: float  # resources in use at measurement time
    max_load: float  # peak resource use over the reported interval
    arrivals: int  # flows that entered the network here during the interval
    ingress_traffic: float  # data rate requested at this node for the chains' first SFs
    traffic: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # chain -> sf -> rate
    dropped: int = 0


@dataclass(frozen=True)
class Observation:
    """A possibly partial, possibly delayed view of the network."""

    time: float
    step: int
    interval: float  # length of one reporting interval (control step), ms
    reports: Mapping[str, NodeReport]
    missing: tuple[str, ...] = ()
    down_nodes: frozenset[str] = frozenset()
    down_links: frozenset[frozenset[str]] = frozenset()

    def report(self, node: str) -> NodeReport | None:
        return self.reports.get(node)


@dataclass(frozen=True)
class Decision:
    """Placement and traffic schedule for every chain; more parts join with later problems."""

    placement: Placement
    schedule: Schedule
    policy: str = ""
    notes: tuple[str, ...] = ()


def placement_from_schedule(schedule: Schedule) -> dict[str, tuple[str, ...]]:
    """An SF runs wherever positive weight sends traffic to it (DeepCoord's rule)."""
    placed: dict[str, set[str]] = {}
    for per_chain in schedule.values():
        for per_sf in per_chain.values():
            for sf, weights in per_sf.items():
                for dst, weight in weights.items():
                    if weight > 0:
                        placed.setdefault(dst, set()).add(sf)
    return {node: tuple(sorted(sfs)) for node, sfs in placed.items()}
