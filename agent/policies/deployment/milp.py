"""The offline bound: a MILP (HiGHS through ``highspy``) that knows the whole request
sequence of an instance and accepts as many requests as the resources and latency bounds
allow. No online method can accept more; on small instances it is solved to optimality.

Variables: ``x[r]`` request r accepted; ``y[r, i, n]`` VNF i of r on server n; ``z[r, j, a,
b, p]`` virtual link j of r from server a to server b over the p-th of the scenario's k
shortest paths (the same k as the online methods; the empty path where a = b).

- every VNF of an accepted request is on one server: ``sum_n y[r, i, n] = x[r]``;
- the virtual links join the VNFs: ``sum_{b, p} z[r, j, a, b, p] = y[r, j - 1, a]`` and
  ``sum_{a, p} z[r, j, a, b, p] = y[r, j, b]`` (the ingress and the egress stand for VNF -1
  and VNF k, with ``x[r]``);
- resources: at each arrival time, the requests in service then (arrived, not yet
  departed) fit in every server's usable CPU and memory and every link's bandwidth (only
  the largest such sets are written: one contained in another adds nothing);
- latency: processing plus, per virtual link, the chosen path's propagation and
  transmission stay within the request's bound.

Servers a VNF cannot reach within its latency bound are left out of the model.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from agent.model.deployment import Substrate
from agent.model.deployment_state import (
    Decision,
    Placement,
    Rejection,
    Request,
    SubstrateState,
)


@dataclass(frozen=True)
class OfflineResult:
    accepted: int
    status: str  # HiGHS's model status ("Optimal", "Time limit reached", ...)
    gap: float  # relative MIP gap (0 when optimal)
    bound: float  # the best upper bound on accepted requests HiGHS proved
    placements: dict[int, Placement] = field(default_factory=dict)

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
    """Accept as many of ``requests`` as possible, knowing all of them in advance."""
    import highspy

    state = SubstrateState(substrate, service_rate)
    model = _Model()
    variables = [_request_columns(model, state, r) for r in requests]
    for r, v in zip(requests, variables, strict=True):
        _chain_rows(model, state, r, v)
    for group in _busy_sets(requests):
        _capacity_rows(
            model, substrate, [requests[i] for i in group], [variables[i] for i in group]
        )
    highs = highspy.Highs()  # type: ignore[no-untyped-call]
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("time_limit", float(time_limit_s))
    highs.setOptionValue("threads", 1)
    _pass(highs, model, [v.x for v in variables])
    highs.run()
    status = highs.modelStatusToString(highs.getModelStatus())
    info = highs.getInfo()
    values = list(highs.getSolution().col_value) if info.primal_solution_status else []
    placements = _placements(state, requests, variables, values) if values else {}
    bound = -float(info.mip_dual_bound) if values else float(len(requests))
    gap = float(info.mip_gap) if values else float("inf")
    return OfflineResult(len(placements), status, gap, bound, placements)


def _request_columns(model: _Model, state: SubstrateState, request: Request) -> _Request:
    sub = state.substrate
    x = model.column()
    fastest = min(
        state.processing(request, i, n) for i in range(request.length) for n in range(sub.n)
    )
    floor = request.length * fastest
    y: list[dict[int, int]] = []
    for i in range(request.length):
        reach = [
            n
            for n in range(sub.n)
            if request.cpu[i] <= sub.cpu[n]
            and request.memory[i] <= sub.memory[n]
            and sub.delay_distance[request.ingress][n]
            + sub.delay_distance[n][request.egress]
            + floor
            <= request.latency_bound
        ]
        y.append({n: model.column() for n in reach})
    z: list[dict[tuple[int, int, int], int]] = []
    ends: list[list[int]] = [[request.ingress], *[list(servers) for servers in y], [request.egress]]
    for j in range(request.length + 1):
        links: dict[tuple[int, int, int], int] = {}
        for a, b in itertools.product(ends[j], ends[j + 1]):
            for p, option in enumerate(sub.paths[(a, b)]):
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
        # a server no path reaches still needs its row: an empty sum forces y to 0
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


def _busy_sets(requests: Sequence[Request]) -> list[list[int]]:
    """For each arrival, the requests in service then; sets inside another are dropped."""
    sets = []
    for q in requests:
        sets.append(
            frozenset(
                i for i, r in enumerate(requests) if r.arrival <= q.arrival < r.arrival + r.duration
            )
        )
    unique = set(sets)
    maximal = [s for s in unique if not any(s < other for other in unique)]
    return [sorted(s) for s in sorted(maximal, key=min)]


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


def _pass(highs: object, model: _Model, objective: list[int]) -> None:
    import highspy

    h: highspy.Highs = highs  # type: ignore[assignment]
    n = model.columns
    h.addVars(n, np.zeros(n), np.ones(n))
    h.changeColsIntegrality(
        n, np.arange(n, dtype=np.int32), np.full(n, highspy.HighsVarType.kInteger)
    )
    h.changeColsCost(len(objective), np.array(objective, dtype=np.int32), -np.ones(len(objective)))
    starts: list[int] = []
    index: list[int] = []
    value: list[float] = []
    for entries in model.rows:
        starts.append(len(index))
        index += [col for col, _ in entries]
        value += [val for _, val in entries]
    h.addRows(
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

    def place(self, request: Request, state: SubstrateState) -> Decision:
        placement = self.result.placements.get(request.id)
        if placement is None:
            return Rejection(request.id, "not accepted by the offline optimum")
        return placement
