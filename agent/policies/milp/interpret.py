"""Reading a domain's solution: per request, *itineraries* (which path each VNF runs on
and the route of each arc, with the fraction of the request that takes it), and from
them the sub-requests of the child domains (hvc's result interpreter).

A run of consecutive paths of one child domain in an itinerary (crossed, or hosting
VNFs) becomes one sub-request of that child: from where the run enters to where it
leaves, with the VNFs placed in it as its chain and the rate at the run's start.
Identical runs of one request are merged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from agent.model.hvc import Overlay, OverlayEdge, OverlayPath, Problem, Request
from agent.policies.milp.solve import Solution

EPS = 1e-7
Route = tuple[str, ...]


@dataclass(frozen=True)
class SubRequest:
    """A request as one domain solves it, traced back to the original request: its arc
    j is the original's arc ``first_arc + j``."""

    request: Request
    origin: str
    first_arc: int


@dataclass(frozen=True)
class Itinerary:
    fraction: float  # of the request's traffic
    places: tuple[str, ...]  # path of VNF 1..n
    routes: tuple[Route | None, ...]  # per arc; None: stays on the same path


@dataclass(frozen=True)
class _Piece:
    source: str | None  # path of the VNF the arc leaves (None: the ingress)
    target: str | None  # path of the VNF it reaches (None: the egress)
    route: Route
    fraction: float


def itineraries(problem: Problem, solution: Solution, request: Request) -> list[Itinerary]:
    rates = problem.rates(request)
    n, arcs = len(request.chain), len(request.chain) + (request.egress is not None)
    pieces = [_decompose(problem, solution, request, k) for k in range(arcs)]
    partial: list[tuple[float, list[str], list[Route | None]]] = (
        [(p.fraction, [p.target] if p.target else [], [p.route]) for p in pieces[0]]
        if arcs
        else [(1.0, [], [])]
    )
    for k in range(1, arcs):
        nexts: dict[str, list[tuple[float, str | None, Route | None]]] = defaultdict(list)
        for p in pieces[k]:
            nexts[p.source or ""].append((p.fraction, p.target, p.route))
        for (r, i, path), amount in solution.stay.items():
            if r == request.name and i == k and rates[k] > 0:
                nexts[path].append((amount / rates[k], path, None))
        partial = _extend(partial, nexts)
    return [
        Itinerary(f, tuple(places), tuple(routes))
        for f, places, routes in partial
        if f > EPS and len(places) == n
    ]


def _extend(
    partial: list[tuple[float, list[str], list[Route | None]]],
    nexts: dict[str, list[tuple[float, str | None, Route | None]]],
) -> list[tuple[float, list[str], list[Route | None]]]:
    """Match the itineraries ending at each path with what leaves that path."""
    out = []
    queues = {path: list(options) for path, options in nexts.items()}
    for fraction, places, routes in partial:
        left, here = fraction, places[-1] if places else ""
        queue = queues.get(here, [])
        while left > EPS and queue:
            amount, target, route = queue[0]
            take = min(left, amount)
            tail = [target] if target else []
            out.append((take, [*places, *tail], [*routes, route]))
            left -= take
            if amount - take > EPS:
                queue[0] = (amount - take, target, route)
            else:
                queue.pop(0)
    return out


def _decompose(problem: Problem, solution: Solution, request: Request, k: int) -> list[_Piece]:
    """Split arc k's link flows into routes from VNF k's paths to VNF k+1's paths."""
    rate = problem.rates(request)[k]
    if rate <= 0:
        return []
    overlay, r = problem.overlay, request.name
    links: dict[str, OverlayEdge | OverlayPath] = {**overlay.edges, **overlay.paths}
    flow = {link: v for (rr, kk, link), v in solution.flows.items() if rr == r and kk == k}
    out_of: dict[str, list[str]] = defaultdict(list)
    for link in flow:
        out_of[links[link].src].append(link)
    supply = _supply(problem, solution, request, k)
    demand = _demand(problem, solution, request, k)
    pieces = []
    for (node, source), amount in supply.items():
        left = amount
        while left > EPS * max(rate, 1.0):
            route = _walk(node, flow, out_of, links, demand)
            if route is None:
                break
            end, hops = route
            target = next(key for key, d in demand.items() if key[0] == end and d > EPS)
            take = min([left, demand[target], *(flow[h] for h in hops)])
            for hop in hops:
                flow[hop] -= take
            demand[target] -= take
            left -= take
            pieces.append(_Piece(source, target[1], tuple(hops), take / rate))
    return pieces


def _supply(
    problem: Problem, solution: Solution, request: Request, k: int
) -> dict[tuple[str, str | None], float]:
    if k == 0:
        return {(request.ingress, None): request.rate}
    slope = problem.vnfs[request.chain[k - 1]].out.slope
    supply: dict[tuple[str, str | None], float] = {}
    for (r, i, path), x in solution.x.items():
        if r == request.name and i == k:
            amount = slope * x - solution.stay.get((r, k, path), 0.0)
            if amount > EPS:
                supply[(problem.overlay.paths[path].dst, path)] = amount
    return supply


def _demand(
    problem: Problem, solution: Solution, request: Request, k: int
) -> dict[tuple[str, str | None], float]:
    if k == len(request.chain):
        assert request.egress is not None
        return {(request.egress, None): problem.rates(request)[k]}
    overlay = problem.overlay
    demand: dict[tuple[str, str | None], float] = {}
    for (r, i, path), x in solution.x.items():
        if r == request.name and i == k + 1:
            amount = x - solution.stay.get((r, k, path), 0.0)
            if amount > EPS:
                demand[(overlay.paths[path].src, path)] = amount
    return demand


def _walk(
    start: str,
    flow: dict[str, float],
    out_of: Mapping[str, list[str]],
    links: Mapping[str, OverlayEdge | OverlayPath],
    demand: Mapping[tuple[str, str | None], float],
) -> tuple[str, list[str]] | None:
    """Follow positive flow from ``start`` to a node with demand left; cycles are
    cancelled on the way."""
    here, hops, seen = start, list[str](), {start: 0}
    for _ in range(10 * len(flow) + 10):
        if any(key[0] == here and d > EPS for key, d in demand.items()):
            return here, hops
        nxt = next((link for link in out_of.get(here, []) if flow[link] > EPS), None)
        if nxt is None:
            return None
        hops.append(nxt)
        here = links[nxt].dst
        if here in seen:  # a cycle: cancel it and continue from where it started
            cycle = hops[seen[here] :]
            least = min(flow[h] for h in cycle)
            for hop in cycle:
                flow[hop] -= least
            hops = hops[: seen[here]]
        seen[here] = len(hops)
    return None


# ---------------------------------------------------------------- sub-requests


def sub_requests(
    problem: Problem,
    solution: Solution,
    parents: Mapping[str, SubRequest],
    local_to_node: Mapping[str, str],
) -> tuple[dict[str, list[SubRequest]], dict[tuple[str, int], set[str]]]:
    """Per child domain its sub-requests; and per (original request, arc) the links of
    this domain's view it crosses directly (edges between children)."""
    children: dict[str, dict[tuple[object, ...], SubRequest]] = defaultdict(dict)
    crossed: dict[tuple[str, int], set[str]] = defaultdict(set)
    for name, request in problem.requests.items():
        parent = parents[name]
        rates = problem.rates(request)
        for it in itineraries(problem, solution, request):
            for run in _runs(problem.overlay, request, it, rates, crossed, parent):
                child, sub = run
                key = (
                    sub.origin,
                    sub.first_arc,
                    sub.request.ingress,
                    sub.request.egress,
                    sub.request.chain,
                )
                merged = children[child].get(key)
                if merged is not None:
                    rate = merged.request.rate + sub.request.rate
                    sub = SubRequest(_with_rate(merged.request, rate), sub.origin, sub.first_arc)
                children[child][key] = sub
    result: dict[str, list[SubRequest]] = {}
    for child, subs in children.items():
        result[child] = [
            SubRequest(_rename(s.request, f"{s.origin}.{i}", local_to_node), s.origin, s.first_arc)
            for i, s in enumerate(subs.values())
        ]
    return result, crossed


def _with_rate(request: Request, rate: float) -> Request:
    return Request(
        request.name, request.ingress, request.egress, rate, request.chain, request.chain_name
    )


def _rename(request: Request, name: str, local_to_node: Mapping[str, str]) -> Request:
    ingress = local_to_node.get(request.ingress, request.ingress)
    egress = request.egress
    if egress is not None:
        egress = local_to_node.get(egress, egress)
    return Request(name, ingress, egress, request.rate, request.chain, request.chain_name)


def _runs(
    overlay: Overlay,
    request: Request,
    it: Itinerary,
    rates: list[float],
    crossed: dict[tuple[str, int], set[str]],
    parent: SubRequest,
) -> list[tuple[str, SubRequest]]:
    """Cut the itinerary into runs of one child domain each."""
    elements: list[tuple[str, int, str | None]] = []  # (link or path, arc, VNF or None)
    for k, route in enumerate(it.routes):
        for link in route or ():
            elements.append((link, k, None))
        if k < len(it.places):
            elements.append((it.places[k], k, request.chain[k]))
    runs: list[tuple[str, SubRequest]] = []
    current: list[tuple[str, int, str | None]] = []
    for element in [*elements, ("", -1, None)]:
        link, k, _ = element
        domain = overlay.paths[link].domain if link in overlay.paths else None
        if current and (domain is None or domain != overlay.paths[current[0][0]].domain):
            runs.append(_run(overlay, request, it, rates, current, parent))
            current = []
        if domain is not None:
            current.append(element)
        elif link:
            crossed[(parent.origin, parent.first_arc + k)].add(link)
    return [
        run
        for run in runs
        if run[1].request.chain or run[1].request.ingress != run[1].request.egress
    ]


def _run(
    overlay: Overlay,
    request: Request,
    it: Itinerary,
    rates: list[float],
    elements: list[tuple[str, int, str | None]],
    parent: SubRequest,
) -> tuple[str, SubRequest]:
    first, last = elements[0], elements[-1]
    path_first, path_last = overlay.paths[first[0]], overlay.paths[last[0]]
    chain = tuple(vnf for _, _, vnf in elements if vnf is not None)
    arc = first[1]  # arc on which the run starts (a placement starts on its input arc)
    ends_request = (
        request.egress is None and last[2] is not None and last[1] == len(request.chain) - 1
    )
    egress = None if ends_request else path_last.dst
    sub = Request(
        name=request.name,
        ingress=path_first.src,
        egress=egress,
        rate=it.fraction * rates[arc],
        chain=chain,
        chain_name=request.chain_name,
    )
    return path_first.domain, SubRequest(sub, parent.origin, parent.first_arc + arc)
