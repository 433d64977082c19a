"""Observations that are partial and delayed by design.

At the end of every control step each node produces a report (load, peak load,
arrivals, requested traffic per chain and SF, drops). The observation model decides
which nodes report at all, how many steps old the reports are when the policy sees
them, and how often a report is lost; a lost report leaves the node's previous one
in place, with its true (larger) age, or the node listed as missing.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from agent.model.types import NodeReport, Observation

if TYPE_CHECKING:
    from agent.sim.engine import Simulator


class ObservationRecorder:
    def __init__(self, sim: Simulator, rng: random.Random) -> None:
        self.sim = sim
        self.rng = rng
        model = sim.scenario.observation
        self.delay_steps = model.delay_steps
        self.probability = model.report_probability
        nodes = model.reporting_nodes
        self.reporting = set(sim.node_ids if nodes is None else nodes)
        self.history: list[dict[str, NodeReport]] = []
        self.last_seen: dict[str, NodeReport] = {}

    def observe(self) -> Observation:
        """Record the step that just ended (if any) and build what the policy sees."""
        sim = self.sim
        if sim.step_index > 0 or sim.now > 0:
            self.history.append(self._snapshot())
        index = len(self.history) - 1 - self.delay_steps
        fresh = self.history[index] if index >= 0 else {}
        down = sim.down_nodes
        for node in self.reporting:
            report = fresh.get(node)
            if report is None or node in down:
                continue
            if self.probability >= 1.0 or self.rng.random() < self.probability:
                self.last_seen[node] = report
        reports = {node: _aged(report, sim.now) for node, report in sorted(self.last_seen.items())}
        missing = tuple(node for node in sim.node_ids if node not in reports)
        return Observation(
            time=sim.now,
            step=sim.step_index,
            interval=sim.run_duration,
            reports=reports,
            missing=missing,
            down_nodes=down,
            down_links=sim.down_links,
        )

    def _snapshot(self) -> dict[str, NodeReport]:
        sim = self.sim
        n_chains, n_sfs = len(sim.chain_names), len(sim.sf_names)
        drops = sim.metrics.drops_by_node
        snapshot = {}
        for i, (node_id, node) in enumerate(zip(sim.node_ids, sim.nodes, strict=True)):
            traffic: dict[str, dict[str, float]] = {}
            ingress_traffic = 0.0
            for c, chain in enumerate(sim.chain_names):
                for position, sf in enumerate(sim.chain_sfs[c]):
                    rate = sim.requested[(i * n_chains + c) * n_sfs + sf]
                    if rate:
                        traffic.setdefault(chain, {})[sim.sf_names[sf]] = rate
                        if position == 0:
                            ingress_traffic += rate
            snapshot[node_id] = NodeReport(
                node=node_id,
                measured_at=sim.now,
                age=0.0,
                cap=node.cap,
                load=node.usage(sim.resource),
                max_load=node.max_usage,
                arrivals=sim.arrived[i],
                ingress_traffic=ingress_traffic,
                traffic=traffic,
                dropped=drops.get(node_id, 0),
            )
        return snapshot


def _aged(report: NodeReport, now: float) -> NodeReport:
    return NodeReport(
        node=report.node,
        measured_at=report.measured_at,
        age=now - report.measured_at,
        cap=report.cap,
        load=report.load,
        max_load=report.max_load,
        arrivals=report.arrivals,
        ingress_traffic=report.ingress_traffic,
        traffic=report.traffic,
        dropped=report.dropped,
    )
