"""Observations that are partial and delayed by design.

At the end of every control step each node produces a report (load, peak load,
arrivals, requested traffic per chain and SF, drops). The observation model decides
which nodes report at all, how many steps old the reports are when the policy sees
them, and how often a report is lost; a lost report leaves the node's previous one
in place, with its true (larger) age, or the node listed as missing.

Reports are kept as raw per-step arrays and turned into NodeReport objects only when
a policy reads them: most steps of a long run are never looked at node by node.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.model.types import NodeReport, Observation

if TYPE_CHECKING:
    from agent.sim.engine import Simulator


@dataclass(frozen=True)
class _Snapshot:
    measured_at: float
    caps: list[float]
    loads: list[float]
    max_loads: list[float]
    arrived: list[int]
    requested: list[float]
    drops: dict[str, int]


class ObservationRecorder:
    def __init__(self, sim: Simulator, rng: random.Random) -> None:
        self.sim = sim
        self.rng = rng
        model = sim.scenario.observation
        self.delay_steps = model.delay_steps
        self.probability = model.report_probability
        nodes = model.reporting_nodes
        self.reporting = [n for n in sim.node_ids if nodes is None or n in nodes]
        self.history: deque[_Snapshot] = deque(maxlen=self.delay_steps + 1)
        self.last_seen: dict[str, _Snapshot] = {}

    def observe(self) -> Observation:
        """Record the step that just ended (if any) and build what the policy sees."""
        sim = self.sim
        if sim.step_index > 0:
            self.history.append(self._snapshot())
        fresh = self.history[0] if len(self.history) > self.delay_steps else None
        down = sim.down_nodes
        if fresh is not None:
            if self.probability >= 1.0 and not down:
                self.last_seen.update(dict.fromkeys(self.reporting, fresh))
            else:
                for node in self.reporting:
                    if node in down:
                        continue
                    if self.probability >= 1.0 or self.rng.random() < self.probability:
                        self.last_seen[node] = fresh
        reports = LazyReports(sim, dict(self.last_seen), sim.now)
        missing: tuple[str, ...] = ()
        if len(self.last_seen) < len(sim.node_ids):  # else every node has reported
            missing = tuple(node for node in sim.node_ids if node not in self.last_seen)
        return Observation(
            time=sim.now,
            step=sim.step_index,
            interval=sim.run_duration,
            reports=reports,
            missing=missing,
            down_nodes=down,
            down_links=sim.down_links,
        )

    def _snapshot(self) -> _Snapshot:
        sim = self.sim
        return _Snapshot(
            measured_at=sim.now,
            caps=[node.cap for node in sim.nodes],
            loads=[
                node.load if sim.resource is None else node.usage(sim.resource)
                for node in sim.nodes
            ],
            max_loads=[node.max_usage for node in sim.nodes],
            arrived=list(sim.arrived),
            requested=list(sim.requested),
            drops=dict(sim.metrics.drops_by_node),  # the step was closed before observing
        )


class LazyReports(Mapping[str, NodeReport]):
    """Node reports built on first access, in network order."""

    def __init__(self, sim: Simulator, sources: dict[str, _Snapshot], now: float) -> None:
        self._sim = sim
        self._sources = sources
        self._now = now
        self._built: dict[str, NodeReport] = {}
        everyone = len(sources) == len(sim.node_ids)
        self._order = sim.node_ids if everyone else [n for n in sim.node_ids if n in sources]

    def ingress_and_load(self, node: str) -> tuple[float, float, float] | None:
        """(ingress traffic, load, capacity) of ``node``'s report, as its NodeReport
        has them, without building the report (None: no report)."""
        snap = self._sources.get(node)
        if snap is None:
            return None
        i = self._sim.node_index[node]
        requested = snap.requested
        ingress = 0.0
        for offset, _, _, first in _report_rows(self._sim, i):
            if first and requested[offset]:
                ingress += requested[offset]
        return ingress, snap.loads[i], snap.caps[i]

    def __getitem__(self, node: str) -> NodeReport:
        report = self._built.get(node)
        if report is None:
            report = self._build(node, self._sources[node])  # KeyError if it did not report
            self._built[node] = report
        return report

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, node: object) -> bool:
        return node in self._sources

    def _build(self, node: str, snap: _Snapshot) -> NodeReport:
        sim = self._sim
        i = sim.node_index[node]
        traffic: dict[str, dict[str, float]] = {}
        ingress_traffic = 0.0
        requested = snap.requested
        for offset, chain, sf_name, first in _report_rows(sim, i):
            rate = requested[offset]
            if rate:
                traffic.setdefault(chain, {})[sf_name] = rate
                if first:
                    ingress_traffic += rate
        return NodeReport(
            node=node,
            measured_at=snap.measured_at,
            age=self._now - snap.measured_at,
            cap=snap.caps[i],
            load=snap.loads[i],
            max_load=snap.max_loads[i],
            arrivals=snap.arrived[i],
            ingress_traffic=ingress_traffic,
            traffic=traffic,
            dropped=snap.drops.get(node, 0),
        )


def _report_rows(sim: Simulator, i: int) -> list[tuple[int, str, str, bool]]:
    """Node ``i``'s (chain, position, SF) cells in the requested-rate array: offset,
    chain name, SF name, whether it is the chain's first SF; in chain order."""
    rows = sim.report_rows.get(i)
    if rows is None:
        n_chains, n_sfs = len(sim.chain_names), len(sim.sf_names)
        rows = sim.report_rows[i] = [
            ((i * n_chains + c) * n_sfs + sf, chain, sim.sf_names[sf], position == 0)
            for c, chain in enumerate(sim.chain_names)
            for position, sf in enumerate(sim.chain_sfs[c])
        ]
    return rows
