"""The offline bound: a MILP (HiGHS through ``highspy``) that knows the whole request
sequence of an instance and accepts as many requests as the resources and latency bounds
allow. No online method can accept more; small instances are solved to optimality.

Variables: ``x[r]`` request r accepted; ``y[r, i, n]`` VNF i of r on server n; ``z[r, j, a,
b, p]`` virtual link j of r from server a to server b over the p-th of the scenario's k
shortest paths (the same k as the online methods; the empty path where a = b).

- every VNF of an accepted request is on one server: ``sum_n y[r, i, n] = x[r]``;
- the virtual links join the VNFs: ``sum_{b, p} z[r, j, a, b, p] = y[r, j - 1, a]`` and
  ``sum_{a, p} z[r, j, a, b, p] = y[r, j, b]`` (the ingress and the egress stand for VNF -1
  and VNF k, with ``x[r]``);
- resources: at each arrival instant, the requests in service then fit in every server's
  usable CPU and memory and every link's bandwidth; only the busy sets not contained in
  another are written (``offline_greedy.busy_sets``), each with two aggregate rows (all
  CPU, all memory) that the solver's cuts work on better than on the per-server rows;
- latency: processing plus, per virtual link, the chosen path's propagation and
  transmission stay within the request's bound (no big-M: every term vanishes with x).

The model is kept small: a server is a candidate for a VNF only if the chain can still
meet its latency bound through it (lower bounds: shortest delays and hop counts to the
ingress and egress, the fastest processing of the other VNFs), and a path only if the
chain can meet its bound over it and every link on it has the bandwidth. Symmetry
breaking has nothing to act on here: servers differ in capacity and position, requests
in their continuous demands.

Solving: a greedy incumbent (``offline_greedy.best_greedy``) is computed first. An
aggregate bound (a two-row knapsack per busy set over x only: total CPU, memory and the
least bandwidth each request needs) is solved exactly; where the incumbent reaches it,
the incumbent is optimal and no MILP is solved. Otherwise the incumbent is the MILP's
warm start (``setSolution``) and HiGHS closes the gap within the time limit, or reports
it. The objective is integral, so an absolute gap below one request is optimality.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.model.deployment import Substrate
from agent.model.deployment_state import Decision, Placement, Rejection, Request, SubstrateState
from agent.policies.deployment.offline_greedy import best_greedy, busy_sets


@dataclass(frozen=True)
class OfflineResult:
    accepted: int
    status: str  # "Optimal", "Time limit reached", ... (HiGHS's model status)
    gap: float  # relative gap between the bound and the solution (0 when optimal)
    bound: float  # the best upper bound on accepted requests proved
    placements: dict[int, Placement] = field(default_factory=dict)
    incumbent: int = 0  # accepted by the greedy warm start
    aggregate_bound: float = 0.0  # the x-only knapsack bound
    proved_by: str = "milp"  # "aggregate bound" when the greedy solution met it
    columns: int = 0  # of the MILP (0: not needed)

    @property
    def optimal(self) -> bool:
        return self.status == "Optimal"


@dataclass
class _Model:
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    rows: list[list[tuple[int, float]]] = field(default_factory=list)
    columns: int = 0

    def column(self) -> int:
        self.columns += 1
        return self.columns - 1

    def row(self, entries: list[tuple[int, float]], lower: float, upper: float) -> None:
        self.rows.append(entries)
        self.lower.append(lower)
        self.upper.append(upper)


@dataclass
class _Request:
    x: int
    y: list[dict[int, int]]  # per VNF: server -> column
    z: list[dict[tuple[int, int, int], int]]  # per virtual link: (a, b, path) -> column


def solve_offline(
    substrate: Substrate,
    requests: Sequence[Request],
    service_rate: float = 1.0,
    time_limit_s: float = 60.0,
) -> OfflineResult:
    """Accept as many of ``requests`` as possible, knowing all of them in advance
    (HiGHS may spend ``time_limit_s`` on the MILP; the greedy passes and the aggregate
    bound before it take a fraction of a second on small instances)."""
    greedy = best_greedy(substrate, requests, service_rate)
    groups = busy_sets(requests)
    aggregate = aggregate_bound(substrate, requests, groups)
    if greedy.accepted >= aggregate - 1e-6:
        return OfflineResult(
            greedy.accepted, "Optimal", 0.0, float(greedy.accepted), greedy.placements,
            greedy.accepted, aggregate, "aggregate bound",
        )  # fmt: skip
    state = SubstrateState(substrate, service_rate)
    model = _Model()
    variables = [_request_columns(model, state, r) for r in requests]
    for r, v in zip(requests, variables, strict=True):
        _chain_rows(model, state, r, v)
    for group in groups:
        _capacity_rows(
            model, substrate, [requests[i] for i in group], [variables[i] for i in group]
        )
    highs = _highs(model, [v.x for v in variables], time_limit_s)
    highs.setSolution(_start(model, substrate, requests, variables, greedy.placements))
    highs.run()
    return _result(highs, state, requests, variables, greedy, aggregate, model)


def _highs(model: _Model, objective: list[int], time_limit_s: float) -> Any:
    import highspy

    highs = highspy.Highs()  # type: ignore[no-untyped-call]
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("time_limit", float(time_limit_s))
    highs.setOptionValue("threads", 1)
    highs.setOptionValue("random_seed", 0)
    highs.setOptionValue("mip_abs_gap", 1.0 - 1e-6)  # integral objective: < 1 is optimal
    _pass(highs, model, objective)
    return highs


def _result(
    highs: Any,
    state: SubstrateState,
    requests: Sequence[Request],
    variables: list[_Request],
    greedy: Any,
    aggregate: float,
    model: _Model,
) -> OfflineResult:
    status = highs.modelStatusToString(highs.getModelStatus())
    info = highs.getInfo()
    values = list(highs.getSolution().col_value) if info.primal_solution_status else []
    placements = _placements(state, requests, variables, values) if values else {}
    if len(placements) < greedy.accepted:
        placements = dict(greedy.placements)
    bound = min(aggregate, -float(info.mip_dual_bound)) if values else aggregate
    bound = max(bound, float(len(placements)))
    if status == "Optimal" or math.floor(bound + 1e-6) <= len(placements):
        status, bound = "Optimal", float(len(placements))
    gap = (bound - len(placements)) / max(bound, 1.0)
    return OfflineResult(
        len(placements), status, round(gap, 6), bound, placements, greedy.accepted,
        aggregate, "milp", model.columns,
    )  # fmt: skip


def aggregate_bound(
    substrate: Substrate, requests: Sequence[Request], groups: list[list[int]]
) -> float:
    """The most requests that fit the substrate's totals (CPU, memory and bandwidth
    times hops, at least the shortest route's hops at the least bandwidth of the chain)
    at every busy set, an exact knapsack over x only."""
    import highspy

    n = len(requests)
    if n == 0:
        return 0.0
    hops = substrate.hop_distance
    demands = {
        "cpu": ([sum(r.cpu) for r in requests], sum(substrate.cpu)),
        "memory": ([sum(r.memory) for r in requests], sum(substrate.memory)),
        "bandwidth": (
            [min(r.bandwidth) * hops[r.ingress][r.egress] for r in requests],
            sum(substrate.bandwidth),
        ),
    }
    highs = highspy.Highs()  # type: ignore[no-untyped-call]
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("threads", 1)
    highs.setOptionValue("time_limit", 10.0)
    cols = np.arange(n, dtype=np.int32)
    highs.addVars(n, np.zeros(n), np.ones(n))
    highs.changeColsIntegrality(n, cols, np.full(n, highspy.HighsVarType.kInteger))
    highs.changeColsCost(n, cols, -np.ones(n))
    for group in groups:
        idx = np.array(group, dtype=np.int32)
        for values, capacity in demands.values():
            highs.addRow(-np.inf, capacity, len(idx), idx, np.array(values)[idx])
    highs.run()
    info = highs.getInfo()
    return float(math.floor(-float(info.mip_dual_bound) + 1e-6))


def _lower_bounds(state: SubstrateState, request: Request) -> tuple[list[float], list[float]]:
    """Per node: the least latency from the ingress to it and from it to the egress."""
    sub = state.substrate
    fastest = request.data / max(request.bandwidth)
    into = [
        sub.delay_distance[request.ingress][n] + sub.hop_distance[request.ingress][n] * fastest
        for n in range(sub.n)
    ]
    out = [
        sub.delay_distance[n][request.egress] + sub.hop_distance[n][request.egress] * fastest
        for n in range(sub.n)
    ]
    return into, out


def _request_columns(model: _Model, state: SubstrateState, request: Request) -> _Request:
    sub = state.substrate
    x = model.column()
    into, out = _lower_bounds(state, request)
    best = [
        min(state.processing(request, i, n) for n in range(sub.n)) for i in range(request.length)
    ]
    floor = sum(best)
    y: list[dict[int, int]] = []
    for i in range(request.length):
        reach = [
            n
            for n in range(sub.n)
            if request.cpu[i] <= sub.cpu[n]
            and request.memory[i] <= sub.memory[n]
            and into[n] + out[n] + floor - best[i] + state.processing(request, i, n)
            <= request.latency_bound + 1e-9
        ]
        y.append({n: model.column() for n in reach})
    z: list[dict[tuple[int, int, int], int]] = []
    ends: list[list[int]] = [[request.ingress], *[list(servers) for servers in y], [request.egress]]
    for j in range(request.length + 1):
        links: dict[tuple[int, int, int], int] = {}
        for a, b in itertools.product(ends[j], ends[j + 1]):
            reach_ab = (into[a] if j > 0 else 0.0) + (out[b] if j < request.length else 0.0)
            for p, option in enumerate(sub.paths[(a, b)]):
                cost = option.delay + option.hops * request.data / request.bandwidth[j]
                if reach_ab + cost + floor > request.latency_bound + 1e-9:
                    continue
                if all(request.bandwidth[j] <= sub.bandwidth[link] for link in option.links):
                    links[(a, b, p)] = model.column()
        z.append(links)
    return _Request(x, y, z)


def _chain_rows(model: _Model, state: SubstrateState, request: Request, v: _Request) -> None:
    sub = state.substrate
    for servers in v.y:
        model.row([(col, 1.0) for col in servers.values()] + [(v.x, -1.0)], 0.0, 0.0)
    ends: list[dict[int, int]] = [{request.ingress: v.x}, *v.y, {request.egress: v.x}]
    for j, links in enumerate(v.z):
        for side, nodes in ((0, ends[j]), (1, ends[j + 1])):
            for node, col in nodes.items():
                entries = [(c, 1.0) for key, c in links.items() if key[side] == node]
                model.row([*entries, (col, -1.0)], 0.0, 0.0)
        # a server no path reaches still has its row: an empty sum forces y to 0
    latency: list[tuple[int, float]] = []
    for i, servers in enumerate(v.y):
        latency += [(col, state.processing(request, i, n)) for n, col in servers.items()]
    for j, links in enumerate(v.z):
        for (a, b, p), col in links.items():
            option = sub.paths[(a, b)][p]
            cost = option.delay + option.hops * request.data / request.bandwidth[j]
            if cost > 0:
                latency.append((col, cost))
    model.row(latency, -np.inf, request.latency_bound)


def _capacity_rows(
    model: _Model, sub: Substrate, requests: list[Request], variables: list[_Request]
) -> None:
    cpu: dict[int, list[tuple[int, float]]] = {}
    memory: dict[int, list[tuple[int, float]]] = {}
    bandwidth: dict[int, list[tuple[int, float]]] = {}
    for r, v in zip(requests, variables, strict=True):
        for i, servers in enumerate(v.y):
            for n, col in servers.items():
                cpu.setdefault(n, []).append((col, r.cpu[i]))
                memory.setdefault(n, []).append((col, r.memory[i]))
        for j, links in enumerate(v.z):
            for (a, b, p), col in links.items():
                for link in sub.paths[(a, b)][p].links:
                    bandwidth.setdefault(link, []).append((col, r.bandwidth[j]))
    for n, entries in cpu.items():
        model.row(entries, -np.inf, sub.cpu[n])
    for n, entries in memory.items():
        model.row(entries, -np.inf, sub.memory[n])
    for link, entries in bandwidth.items():
        model.row(entries, -np.inf, sub.bandwidth[link])
    model.row([(v.x, sum(r.cpu)) for r, v in zip(requests, variables, strict=True)],
              -np.inf, sum(sub.cpu))  # fmt: skip
    model.row([(v.x, sum(r.memory)) for r, v in zip(requests, variables, strict=True)],
              -np.inf, sum(sub.memory))  # fmt: skip


def _start(
    model: _Model,
    sub: Substrate,
    requests: Sequence[Request],
    variables: list[_Request],
    placements: dict[int, Placement],
) -> Any:
    """The greedy solution as a full column vector (the MILP's warm start)."""
    import highspy

    values = np.zeros(model.columns)
    for r, v in zip(requests, variables, strict=True):
        placement = placements.get(r.id)
        columns = None if placement is None else _columns_of(sub, r, v, placement)
        if columns is not None:
            values[columns] = 1.0
    solution = highspy.HighsSolution()
    solution.col_value = list(values)
    solution.value_valid = True
    return solution


def _columns_of(sub: Substrate, r: Request, v: _Request, placement: Placement) -> list[int] | None:
    """The columns a placement sets to one; None if the model left one of them out."""
    columns = [v.x]
    ends = (r.ingress, *placement.servers, r.egress)
    for i, server in enumerate(placement.servers):
        if server not in v.y[i]:
            return None
        columns.append(v.y[i][server])
    for j, path in enumerate(placement.paths):
        a, b = ends[j], ends[j + 1]
        p = next((p for p, o in enumerate(sub.paths[(a, b)]) if o.links == path), None)
        if p is None or (a, b, p) not in v.z[j]:
            return None
        columns.append(v.z[j][(a, b, p)])
    return columns


def _pass(highs: Any, model: _Model, objective: list[int]) -> None:
    import highspy

    n = model.columns
    highs.addVars(n, np.zeros(n), np.ones(n))
    highs.changeColsIntegrality(
        n, np.arange(n, dtype=np.int32), np.full(n, highspy.HighsVarType.kInteger)
    )
    highs.changeColsCost(
        len(objective), np.array(objective, dtype=np.int32), -np.ones(len(objective))
    )
    starts: list[int] = []
    index: list[int] = []
    value: list[float] = []
    for entries in model.rows:
        starts.append(len(index))
        index += [col for col, _ in entries]
        value += [val for _, val in entries]
    highs.addRows(
        len(model.rows),
        np.array(model.lower),
        np.array(model.upper),
        len(index),
        np.array(starts, dtype=np.int32),
        np.array(index, dtype=np.int32),
        np.array(value, dtype=np.float64),
    )


def _placements(
    state: SubstrateState,
    requests: Sequence[Request],
    variables: list[_Request],
    values: list[float],
) -> dict[int, Placement]:
    found: dict[int, Placement] = {}
    for r, v in zip(requests, variables, strict=True):
        if values[v.x] < 0.5:
            continue
        servers = tuple(max(y, key=lambda n: values[y[n]]) for y in v.y)
        paths = []
        for links in v.z:
            a, b, p = max(links, key=lambda key: values[links[key]])
            paths.append(state.substrate.paths[(a, b)][p].links)
        latency = state.latency(r, servers, tuple(paths))
        found[r.id] = Placement(r.id, servers, tuple(paths), latency)
    return found


class OfflinePlacements:
    """Replays the offline solution as a policy (to check it in the simulator)."""

    name = "offline-milp"

    def __init__(self, result: OfflineResult) -> None:
        self.result = result

    @classmethod
    def of(cls, placements: dict[int, Placement]) -> OfflinePlacements:
        """Replays any offline placements (a greedy pass's, for instance)."""
        return cls(OfflineResult(len(placements), "given", 0.0, len(placements), placements))

    def place(self, request: Request, state: SubstrateState) -> Decision:
        placement = self.result.placements.get(request.id)
        if placement is None:
            return Rejection(request.id, "not accepted by the offline optimum")
        return placement
