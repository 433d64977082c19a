"""Solving a loaded problem end to end: the hierarchy from the settings, the advertisement,
top-down coordination, the summary ``agent solve`` prints and the ``Decision``.

A problem posed directly on an overlay (hvc's ``network_description.yaml``) has no
substrate to split: it is solved as one MILP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from agent.model.errors import InputError
from agent.model.hvc import OverlayEdge, OverlayPath, Problem
from agent.model.hvc_scenario import MilpInputs
from agent.model.hvc_topology import DomainSpec, check_hierarchy
from agent.model.types import Decision
from agent.policies.milp.advertise import Advertise, Placement, plan_hierarchy
from agent.policies.milp.coordinate import (
    CoordinationResult,
    DomainReport,
    Runner,
    coordinate,
    serial_runner,
)
from agent.policies.milp.decision import to_decision
from agent.policies.milp.hierarchy import flat_hierarchy, kmeans_hierarchy
from agent.policies.milp.lp import Status
from agent.policies.milp.solve import MilpOptions, solve_problem


@dataclass(frozen=True)
class SolveSettings:
    hierarchy: DomainSpec | None = None  # given (hierarchy.yaml); else from levels/domains
    levels: int | None = None  # 1: centralised; 2, 3, ...: k-means
    domains: tuple[int, ...] = ()  # domain counts per level, leaves first
    kmeans_seed: int = 0
    advertise: Advertise = Advertise.FULL
    placement: Placement = Placement.BORDER
    milp: MilpOptions = field(default_factory=MilpOptions)
    upper_lexicographic: bool = False  # above the leaves: the first objective only
    upper_gap: float | None = None  # relative MIP gap above the leaves (None: the same)


def default_domains(levels: int, nodes: int) -> tuple[int, ...]:
    """Leaf domains of about sqrt(n) nodes; one parent level per further level."""
    if levels <= 1:
        return ()
    leaves = max(2, min(nodes, round(nodes / max(2.0, math.sqrt(nodes)) * (levels - 1))))
    counts = [leaves]
    for _ in range(levels - 2):
        counts.append(max(2, round(counts[-1] / 4)))
    return tuple(counts)


def choose_hierarchy(inputs: MilpInputs, settings: SolveSettings) -> DomainSpec:
    substrate = inputs.substrate
    if substrate is None:
        raise InputError(inputs.source, "", "a hierarchy needs a substrate network (GML)")
    if settings.hierarchy is not None:
        check_hierarchy(None, settings.hierarchy, substrate.nodes)
        return settings.hierarchy
    if settings.levels is None and not settings.domains:
        return inputs.hierarchy or flat_hierarchy(substrate)
    domains = settings.domains or default_domains(settings.levels or 1, len(substrate.nodes))
    if settings.levels is not None and len(domains) != settings.levels - 1:
        problem = f"{settings.levels} levels need {settings.levels - 1} domain counts"
        raise InputError(None, "domains", problem)
    return kmeans_hierarchy(substrate, domains, settings.kmeans_seed)


def solve_inputs(
    inputs: MilpInputs, settings: SolveSettings, runner: Runner | None = None
) -> CoordinationResult:
    if inputs.substrate is None:
        if (settings.levels or 1) > 1 or settings.domains or settings.hierarchy is not None:
            raise InputError(inputs.source, "", "a hierarchy needs a substrate network (GML)")
        return _solve_overlay(inputs, settings.milp)
    root = choose_hierarchy(inputs, settings)
    plan = plan_hierarchy(
        root, inputs.substrate, inputs.requests.values(), settings.advertise, settings.placement
    )
    solver = settings.milp.solver
    if settings.upper_gap is not None:
        solver = replace(solver, mip_gap=settings.upper_gap)
    upper = replace(settings.milp, solver=solver, lexicographic=settings.upper_lexicographic)
    return coordinate(
        plan, inputs.vnfs, inputs.requests, settings.milp, runner or serial_runner(), upper
    )


def _solve_overlay(inputs: MilpInputs, options: MilpOptions) -> CoordinationResult:
    assert inputs.overlay is not None
    problem = Problem(inputs.overlay, inputs.vnfs, inputs.requests, inputs.name)
    solution = solve_problem(problem, options)
    infeasible = solution.infeasibility.describe() if solution.infeasibility else ""
    report = DomainReport(
        "root",
        0,
        solution.status.value,
        len(inputs.requests),
        solution.runtime_s,
        solution.gap,
        infeasible,
        solution.objective if solution.feasible else None,
    )
    result = CoordinationResult(
        solution.status.value,
        runtime_s=solution.runtime_s,
        solver_s=solution.runtime_s,
        domains=[report],
    )
    if not solution.feasible:
        return result
    links: dict[str, OverlayEdge | OverlayPath] = {**inputs.overlay.edges, **inputs.overlay.paths}
    result.instances = solution.instances
    result.endpoint_placements = round(solution.objective - solution.instances - solution.delay)
    for request, arc, link in solution.flows:
        result.arc_links.setdefault((request, arc), set()).add(link)
    for instance in solution.instances_placed:
        result.placements[(instance.vnf, instance.path)] = instance.in_rate
    for (request, i, path), rate in solution.x.items():
        result.position_rates.setdefault((request, i), {})[path] = rate
    result.arc_delay_ms = sum(links[x].delay for used in result.arc_links.values() for x in used)
    per_request: dict[str, set[str]] = {}
    for (request, _arc), used in result.arc_links.items():
        per_request.setdefault(request, set()).update(used)
    result.total_delay_ms = sum(links[x].delay for used in per_request.values() for x in used)
    return result


def summary(result: CoordinationResult, wall_s: float | None = None) -> dict[str, object]:
    """What ``agent solve --format json`` prints."""
    out: dict[str, object] = {
        "status": result.status,
        "objective": round(result.objective, 6) if result.feasible else None,
        "instances": result.instances,
        "total_delay_ms": round(result.total_delay_ms, 6),
        "runtime_s": round(result.runtime_s, 4),
        "domains": [d.as_dict() for d in result.domains],
    }
    if wall_s is not None:
        out["wall_s"] = round(wall_s, 4)
    gaps = [d.gap for d in result.domains if math.isfinite(d.gap)]
    out["gap"] = round(max(gaps, default=0.0), 6) if result.feasible else None
    return out


def decision_for(inputs: MilpInputs, result: CoordinationResult) -> Decision:
    return to_decision(result, inputs.requests)


__all__ = ["SolveSettings", "Status", "decision_for", "solve_inputs", "summary"]
