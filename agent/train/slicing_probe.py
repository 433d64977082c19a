"""How good a learned slave is, measured two ways on fixed episodes.

- ``regret``: on the targets ADMM-OPT goes through (iterations 2 onwards of each episode's
  first decision), the slave objective (weighted utility - rho / 2 x (total - target)^2) the
  learned slave loses against the exact slave, as a fraction of the exact slave's utility,
  averaged over slices and targets. 0 is the exact slave.
- ``ratio``: the episode utility of ADMM with the learned slave over ADMM-OPT's (the
  evaluation's ``ratio_to_opt``). ADMM's few iterations are not converged, so a slave that
  deviates from the exact one can land above 1: the regret is what training selects on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from agent.model.slicing import Array, SlicingScenario
from agent.model.slicing_utility import Layout, weighted_utility
from agent.policies.slicing.admm import AdmmTrace, admm, exact_slave
from agent.policies.slicing.learned import LearnedSlave
from agent.policies.slicing.methods import admm_drl, admm_opt
from agent.train.slicing_eval import run_episode


@dataclass(frozen=True)
class Probe:
    layout: Layout
    demand: Array
    deficit: Array
    targets: Array  # iterations x slices
    objective: Array  # the exact slave's objective, iterations x slices
    utility: Array  # the exact slave's utility, iterations x slices


def slave_objective(layout: Layout, x: Array, demand: Array, targets: Array) -> tuple[Array, Array]:
    """(objective, utility) per slice of allocation ``x`` for ``targets``."""
    utility = np.bincount(
        layout.slice_of, weighted_utility(layout, x, demand), minlength=layout.n_slices
    ).astype(np.float64)
    gap = layout.slice_sums(x) - targets
    return utility - 0.5 * layout.problem.rho * gap**2, utility


def _probe(scenario: SlicingScenario, seed: int) -> Probe:
    problem = scenario.problem(seed)
    layout = Layout.of(problem)
    demand = scenario.demand(problem, seed)[0]
    deficit = np.zeros(layout.alpha.size)
    trace = AdmmTrace()
    admm(layout, lambda t, d, _: exact_slave(layout, t, d, problem.rho), demand, deficit, trace)
    targets = np.array(trace.targets[1:])
    pairs = [
        slave_objective(layout, exact_slave(layout, t, demand, problem.rho), demand, t)
        for t in targets
    ]
    return Probe(
        layout,
        demand,
        deficit,
        targets,
        np.array([p[0] for p in pairs]),
        np.array([p[1] for p in pairs]),
    )


class SlaveProbe:
    """Regret and ratio of slaves on the episodes seeded ``seed``, ``seed + 1``, ..."""

    def __init__(self, scenario: SlicingScenario, episodes: int, seed: int) -> None:
        self.scenario = scenario
        self.seeds = [seed + k for k in range(episodes)]
        self.probes = [_probe(scenario, s) for s in self.seeds]
        self.reference = sum(run_episode(scenario, admm_opt, s).utility for s in self.seeds)

    def regret(self, slave: LearnedSlave) -> float:
        losses = []
        for p in self.probes:
            prepared = slave.prepare(p.layout, p.demand, p.deficit)
            for i, targets in enumerate(p.targets):
                objective, _ = slave_objective(p.layout, prepared(targets), p.demand, targets)
                loss = (p.objective[i] - objective) / np.maximum(p.utility[i], 1e-9)
                losses.append(loss)
        return float(np.mean(np.concatenate(losses)))

    def ratio(self, method: Callable[[Layout, Array, Array], Array]) -> float:
        total = sum(run_episode(self.scenario, method, s).utility for s in self.seeds)
        return total / max(self.reference, 1e-12)

    def slave_ratio(self, slave: LearnedSlave) -> float:
        return self.ratio(admm_drl(slave))
