"""Top-down coordination over a domain hierarchy.

The root solves its view (children's advertised paths and the links between them) for
the requests; its solution becomes sub-requests of its children (agent.policies.milp.
interpret); each domain is handed to a *runner* (here, to a process pool or as a Ray
task: agent.policies.milp.parallel) as soon as its sub-requests are known, and so on down
to the leaf domains, whose solutions are concrete: VNF instances on substrate nodes, traffic on
substrate links. A flat hierarchy (one leaf) is the centralised MILP.

Time is measured with a clock the caller passes (this package never reads one):
``runtime_s`` is the critical path, each domain's time plus the slowest of its
children's, as hvc reports the runtime of domains solved in parallel.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field

from agent.model.hvc import Problem, Request, Vnf, is_temp_path, node_of_temp_path
from agent.policies.milp.advertise import HierarchyPlan
from agent.policies.milp.interpret import SubRequest, sub_requests
from agent.policies.milp.lp import Status
from agent.policies.milp.solve import MilpOptions, Solution, solve_problem

Clock = Callable[[], float]


def no_clock() -> float:
    return 0.0


@dataclass(frozen=True)
class DomainTask:
    domain: str
    level: int
    problem: Problem
    options: MilpOptions


@dataclass(frozen=True)
class DomainResult:
    domain: str
    level: int
    solution: Solution
    seconds: float  # building and solving, by the caller's clock (or the solver's)


def solve_domain(task: DomainTask, clock: Clock = no_clock) -> DomainResult:
    """One domain's MILP; a top-level function so that worker processes can run it."""
    started = clock()
    solution = solve_problem(task.problem, task.options)
    elapsed = clock() - started
    return DomainResult(task.domain, task.level, solution, elapsed or solution.runtime_s)


Runner = Callable[[DomainTask], "Future[DomainResult]"]  # starts the task, or runs it


def serial_runner(clock: Clock = no_clock) -> Runner:
    """Each task right away, here."""

    def run(task: DomainTask) -> Future[DomainResult]:
        future: Future[DomainResult] = Future()
        future.set_result(solve_domain(task, clock))
        return future

    return run


@dataclass(frozen=True)
class DomainReport:
    name: str
    level: int
    status: str
    requests: int
    runtime_s: float
    gap: float
    problem: str = ""  # infeasibility: the constraint family and constraints
    objective: float | None = None  # the domain MILP's first objective
    widened: bool = False  # its first corridor left no solution: solved again, wider

    def as_dict(self) -> dict[str, object]:
        report: dict[str, object] = {
            "name": self.name,
            "level": self.level,
            "status": self.status,
            "requests": self.requests,
            "runtime_s": round(self.runtime_s, 4),
            "gap": round(self.gap, 6) if math.isfinite(self.gap) else None,
            "objective": None if self.objective is None else round(self.objective, 6),
        }
        if self.problem:
            report["problem"] = self.problem
        if self.widened:
            report["widened"] = True
        return report


@dataclass
class CoordinationResult:
    status: str  # optimal, time_limit (gap or time), infeasible
    instances: int = 0
    endpoint_placements: int = 0
    total_delay_ms: float = 0.0  # per request: delay of the distinct links it uses; summed
    arc_delay_ms: float = 0.0  # per request arc: delay of the links it uses; summed
    runtime_s: float = 0.0  # critical path over levels
    solver_s: float = 0.0  # all domains together
    domains: list[DomainReport] = field(default_factory=list)
    placements: dict[tuple[str, str], float] = field(default_factory=dict)  # (vnf, node) -> rate
    position_rates: dict[tuple[str, int], dict[str, float]] = field(default_factory=dict)
    arc_links: dict[tuple[str, int], set[str]] = field(default_factory=dict)

    @property
    def objective(self) -> float:
        """hvc's first objective: instances (with SRC/DST) + delay of used links."""
        return self.instances + self.endpoint_placements + self.arc_delay_ms

    @property
    def feasible(self) -> bool:
        return self.status != Status.INFEASIBLE.value and self.status != "no_solution"


def coordinate(
    plan: HierarchyPlan,
    vnfs: Mapping[str, Vnf],
    requests: Mapping[str, Request],
    options: MilpOptions,
    runner: Runner,
    upper: MilpOptions | None = None,
) -> CoordinationResult:
    """Solve the hierarchy top-down: a domain starts as soon as its parent's solution has
    given it sub-requests, so that domains of a level run side by side; ``upper``
    (default ``options``) for the domains above the leaves. ``runtime_s`` is hvc's: a
    domain's own time plus the slowest of its children's, from the root."""
    local = _local_nodes(plan)
    specs = {domain.name: domain for domain in plan.root.walk()}
    result = CoordinationResult(Status.OPTIMAL.value)
    leaves: list[tuple[Solution, dict[str, SubRequest]]] = []
    crossed: dict[tuple[str, int], set[str]] = defaultdict(set)
    running: dict[Future[DomainResult], tuple[DomainTask, dict[str, SubRequest], float]] = {}

    def start(name: str, subs: list[SubRequest], depth: int, before: float) -> None:
        spec = specs[name]
        chosen = options if spec.is_leaf or upper is None else upper
        named = {s.request.name: s.request for s in subs}
        task = DomainTask(name, depth, Problem(plan.views[name].overlay, vnfs, named, name), chosen)
        running[runner(task)] = (task, {s.request.name: s for s in subs}, before)

    start(plan.root.name, [SubRequest(r, r.name, 0) for r in requests.values()], 0, 0.0)
    while running:
        done, _ = wait(list(running), return_when=FIRST_COMPLETED)
        for future in done:
            task, parent, before = running.pop(future)
            outcome = future.result()
            elapsed = before + outcome.seconds
            _report(result, task, outcome)
            result.runtime_s = max(result.runtime_s, elapsed)
            if not outcome.solution.feasible:
                continue
            if plan.views[task.domain].is_leaf:
                leaves.append((outcome.solution, parent))
                continue
            children, links = sub_requests(task.problem, outcome.solution, parent, local)
            for key, used in links.items():
                crossed[key] |= used
            for child, subs in children.items():
                start(child, subs, task.level + 1, elapsed)
    result.domains.sort(key=lambda d: (d.level, d.name))
    if result.status != Status.INFEASIBLE.value:
        _assemble(result, plan, requests, leaves, crossed)
    return result


def _local_nodes(plan: HierarchyPlan) -> dict[str, str]:
    """Local node ``u~domain`` -> substrate node u."""
    return {
        ap.path.dst: ap.path.src
        for abstraction in plan.abstractions.values()
        for ap in abstraction.paths.values()
        if ap.local and ap.path.cpu > 0
    }


def _report(result: CoordinationResult, task: DomainTask, outcome: DomainResult) -> None:
    solution = outcome.solution
    problem = solution.infeasibility.describe() if solution.infeasibility else ""
    result.domains.append(
        DomainReport(
            task.domain,
            task.level,
            solution.status.value,
            len(task.problem.requests),
            outcome.seconds,
            solution.gap,
            problem,
            solution.objective if solution.feasible else None,
            solution.widened,
        )
    )
    result.solver_s += outcome.seconds
    if not solution.feasible:
        result.status = (
            Status.INFEASIBLE.value if solution.status is Status.INFEASIBLE else ("no_solution")
        )
    elif solution.status is not Status.OPTIMAL and result.status == Status.OPTIMAL.value:
        result.status = Status.TIME_LIMIT.value


def _assemble(
    result: CoordinationResult,
    plan: HierarchyPlan,
    requests: Mapping[str, Request],
    leaves: list[tuple[Solution, dict[str, SubRequest]]],
    crossed: Mapping[tuple[str, int], set[str]],
) -> None:
    links = plan.substrate.link_by_id()
    arc_links: dict[tuple[str, int], set[str]] = defaultdict(set)
    for key, used in crossed.items():
        arc_links[key] |= used
    positions: dict[tuple[str, int], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for solution, parent in leaves:
        for instance in solution.instances_placed:
            node = (
                node_of_temp_path(instance.path) if is_temp_path(instance.path) else instance.path
            )
            placed = (instance.vnf, node)
            result.placements[placed] = result.placements.get(placed, 0.0) + instance.in_rate
        for (name, k, link), _rate in solution.flows.items():
            if link in links:
                sub = parent[name]
                arc_links[(sub.origin, sub.first_arc + k)].add(link)
        for (name, i, path), rate in solution.x.items():
            sub = parent[name]
            node = node_of_temp_path(path) if is_temp_path(path) else path
            positions[(sub.origin, sub.first_arc + i)][node] += rate
    result.instances = len(result.placements)
    ingress = {r.ingress for r in requests.values()}
    egress = {r.egress for r in requests.values() if r.egress is not None}
    result.endpoint_placements = len(ingress) + len(egress)
    result.arc_links = dict(arc_links)
    result.position_rates = {key: dict(nodes) for key, nodes in positions.items()}
    result.arc_delay_ms = sum(links[x].delay for used in arc_links.values() for x in used)
    per_request: dict[str, set[str]] = defaultdict(set)
    for (origin, _arc), used in arc_links.items():
        per_request[origin] |= used
    result.total_delay_ms = sum(links[x].delay for used in per_request.values() for x in used)
