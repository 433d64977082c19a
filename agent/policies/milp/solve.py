"""Solving one coordination MILP: the lexicographic objective in stages, the solution as
placements and routes, and infeasibility explained by the constraint family.

Stage 1 minimises instances + link delay; stage 2 the delay with stage 1's value held
(its incumbent where the time ran out); stage 3 the number of used links with both held.
Each stage starts from the previous solution and gets what is left of the time limit.
With corridors (a heuristic, agent.policies.milp.corridor) each request's links are first
those of short routes only, wider where that leaves no solution, at last all of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from agent.model.hvc import Problem
from agent.policies.milp.lp import (
    LpBuilder,
    LpResult,
    SolverOptions,
    Status,
    solve_lp,
)
from agent.policies.milp.model import MilpModel

TOL = 1e-6  # values below are zero
HOLD_TOL = 1e-6  # relative slack when a stage's value is held


@dataclass(frozen=True)
class MilpOptions:
    solver: SolverOptions = field(default_factory=SolverOptions)
    lexicographic: bool = True  # else: stage 1 only
    corridor: tuple[float, ...] = ()  # detours tried in turn, then all links (corridor.py)


@dataclass(frozen=True)
class VnfInstance:
    vnf: str
    path: str
    in_rate: float
    cpu: float


@dataclass(frozen=True)
class Infeasibility:
    """Why a problem has no solution: the constraint families whose relaxation helps,
    with the tightest constraints of each."""

    families: tuple[str, ...]
    constraints: tuple[str, ...]

    def describe(self) -> str:
        shown = ", ".join(self.constraints[:3])
        more = f" (+{len(self.constraints) - 3} more)" if len(self.constraints) > 3 else ""
        return f"infeasible: {'/'.join(self.families)} ({shown}{more})"


@dataclass(frozen=True)
class Solution:
    status: Status
    objective: float  # stage 1: instances (with SRC/DST placements) + delay of used links
    instances: int  # VNF instances, without SRC/DST
    delay: float  # sum over request arcs of the delay of the links they use
    links_used: int
    gap: float  # stage 1's relative MIP gap
    runtime_s: float  # solver time of all stages
    instances_placed: tuple[VnfInstance, ...] = ()
    x: dict[tuple[str, int, str], float] = field(default_factory=dict)
    stay: dict[tuple[str, int, str], float] = field(default_factory=dict)
    flows: dict[tuple[str, int, str], float] = field(default_factory=dict)
    infeasibility: Infeasibility | None = None
    stages: tuple[Status, ...] = ()
    widened: bool = False  # the first corridor left no solution: solved again, wider

    @property
    def feasible(self) -> bool:
        return self.status in {Status.OPTIMAL, Status.TIME_LIMIT}


def solve_problem(problem: Problem, options: MilpOptions | None = None) -> Solution:
    """With corridors, each request's links within the first detour, and where that
    leaves no solution the next, then all links (the time of every solve counted)."""
    opts = options or MilpOptions()
    blocked = _structural_infeasibility(problem)
    if blocked is not None:
        return Solution(Status.INFEASIBLE, 0.0, 0, 0.0, 0, 0.0, 0.0, infeasibility=blocked)
    slacks: list[float | None] = [*opts.corridor, None]
    spent = 0.0
    for tried, slack in enumerate(slacks):
        solution = _solve_model(MilpModel(problem, corridor=slack).build(), opts)
        solution = replace(solution, runtime_s=solution.runtime_s + spent, widened=tried > 0)
        if solution.status is not Status.INFEASIBLE:
            return solution
        spent = solution.runtime_s
    return replace(solution, infeasibility=_diagnose(problem, opts))


def _solve_model(model: MilpModel, opts: MilpOptions) -> Solution:
    """The lexicographic stages on a built model."""
    lp = model.lp
    budget = opts.solver.time_limit_s
    primary = model.instance_terms() + model.delay_terms()
    lp.set_costs(primary)
    first = solve_lp(lp, opts.solver)
    runtime = first.runtime_s
    if not first.has_solution:
        return Solution(first.status, 0.0, 0, 0.0, 0, first.gap, runtime, stages=(first.status,))
    best, stages = first, [first.status]
    if opts.lexicographic:
        for terms in (model.delay_terms(), model.link_terms()):
            _hold(lp, lp.cost, best.values)
            lp.set_costs(terms)
            remaining = replace(opts.solver, time_limit_s=max(budget - runtime, 1.0))
            result = solve_lp(lp, remaining, start=best.values)
            runtime += result.runtime_s
            stages.append(result.status)
            if result.has_solution:
                best = result
    return _solution(model, first, best, runtime, tuple(stages))


def _hold(lp: LpBuilder, cost: list[float], values: Sequence[float]) -> None:
    """Keep the current objective at most its value in ``values``."""
    terms = [(col, c) for col, c in enumerate(cost) if c]
    value = sum(c * values[col] for col, c in terms)
    lp.row(terms, ub=value + HOLD_TOL * max(1.0, abs(value)))


def _solution(
    model: MilpModel, first: LpResult, best: LpResult, runtime: float, stages: tuple[Status, ...]
) -> Solution:
    values = best.values

    def val(col: int) -> float:
        return float(values[col])

    instances = tuple(
        VnfInstance(vnf, path, _input_rate(model, vnf, path, values), _cpu(model, key, values))
        for key in model.gamma
        if val(model.gamma[key]) > 0.5
        for vnf, path in [key]
    )
    used = [key for key, col in model.used.items() if val(col) > 0.5]
    delay = sum(model.links[key[2]].delay for key in used)
    status = first.status if all(s is Status.OPTIMAL for s in stages) else Status.TIME_LIMIT
    return Solution(
        status=status,
        objective=len(instances) + model.endpoint_placements() + delay,
        instances=len(instances),
        delay=delay,
        links_used=len(used),
        gap=first.gap,
        runtime_s=runtime,
        instances_placed=instances,
        x={k: val(c) for k, c in model.x.items() if val(c) > TOL},
        stay={k: val(c) for k, c in model.stay.items() if val(c) > TOL},
        flows={k: val(c) for k, c in model.flow.items() if val(c) > TOL},
        stages=stages,
    )


def _cpu(model: MilpModel, key: tuple[str, str], values: Sequence[float]) -> float:
    return float(round(values[model.kappa[key]]))


def _input_rate(model: MilpModel, vnf: str, path: str, values: Sequence[float]) -> float:
    total = 0.0
    for request in model.problem.requests.values():
        for i, name in enumerate(request.chain, start=1):
            col = model.x.get((request.name, i, path))
            if name == vnf and col is not None:
                total += values[col]
    return total


# ---------------------------------------------------------------- infeasibility


def _structural_infeasibility(problem: Problem) -> Infeasibility | None:
    """What no capacity could fix: a VNF that fits on no path, an egress out of reach."""
    overlay = problem.overlay
    graph: dict[str, set[str]] = {node: set() for node in overlay.nodes}
    arcs = [(e.src, e.dst) for e in overlay.edges.values()]
    for src, dst in arcs + [(p.src, p.dst) for p in overlay.paths.values()]:
        graph.setdefault(src, set()).add(dst)
        graph.setdefault(dst, set())
    for request in problem.requests.values():
        for vnf in request.chain:
            fn = problem.vnfs[vnf].cpu
            if (fn.slope or fn.intercept) and not any(p.cpu > 0 for p in overlay.paths.values()):
                return Infeasibility(
                    ("placement",), (f"{request.name}: no path has CPU for {vnf}",)
                )
        ends = [request.ingress] + ([request.egress] if request.egress is not None else [])
        missing = [node for node in ends if node not in graph]
        if missing:
            return Infeasibility(
                ("routing",), (f"{request.name}: node {missing[0]} not in domain",)
            )
        if request.egress is not None and request.egress not in _reachable(graph, request.ingress):
            problem_text = f"{request.name}: no route from {request.ingress} to {request.egress}"
            return Infeasibility(("routing",), (problem_text,))
    return None


def _reachable(graph: dict[str, set[str]], source: str) -> set[str]:
    seen, todo = {source}, [source]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def _diagnose(problem: Problem, options: MilpOptions) -> Infeasibility:
    """Relax every capacity with a penalised slack; the ones that need it are the cause."""
    model = MilpModel(problem, elastic=True).build()
    model.lp.set_costs((col, 1.0) for col in model.slack)
    result = solve_lp(model.lp, options.solver)
    if not result.has_solution:
        return Infeasibility(("routing",), ("no route satisfies flow conservation",))
    short: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for col, row in model.slack.items():
        amount = float(result.values[col])
        if amount > TOL:
            short[row.family].append((amount, f"{row.label} short by {amount:.3g}"))
    if not short:
        return Infeasibility(("integrality",), ("CPU must be whole units",))
    families = tuple(sorted(short, key=lambda f: -max(a for a, _ in short[f])))
    constraints = tuple(
        text for family in families for _, text in sorted(short[family], reverse=True)
    )
    return Infeasibility(families, constraints)
