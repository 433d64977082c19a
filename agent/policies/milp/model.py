"""The coordination MILP of hierarchical coordination (hvc), in a compact flow form.

hvc indexes its variables by (arc, source path, target path[, edge or path]): traffic
of a chain arc from the path where one VNF runs to the path where the next runs, routed
over edges and paths. Here the same decisions are flows per request arc (commodity) on
every link, with the supplies and demands at the ends of the paths where the VNFs run:

- ``x[r,i,p]``: input rate of request r's i-th VNF on path p (entering at ``src(p)``,
  leaving at ``dst(p)`` multiplied by the VNF's outgoing rate); ``stay[r,i,p]``: what
  goes from the i-th to the next VNF on the same path, unrouted (hvc's
  ``lambda_total[arc, p, p]``).
- ``flow[r,k,l]`` with binary ``used[r,k,l]``: arc k's traffic on link l, at most
  ``used`` times the arc's rate or the link's (or its shared pool's) rate, whichever is
  lower (the same integer solutions as with the arc's rate, a tighter LP relaxation);
  flow conservation at every node with the supplies/demands above (SRC at the ingress,
  DST at the egress, as hvc's zero-delay ingress/egress paths place them).
- ``gamma[j,p]`` (VNF j has an instance on p), integer ``kappa[j,p]`` >= CPU of its total
  input rate; a path's CPU = its exclusive share + what it takes from shared pools
  (``eps``); link rates, path rates (hvc's per-request "boxes" plus transit), shared rate
  pools, forward/backward sharing.

The objective terms, as hvc's lexicographic objective: instances (with one SRC/DST
placement per distinct ingress and egress, as hvc counts them) + delay of used links,
then delay, then the number of used links. Only where a request's traffic splits over
several paths can hvc's per-(p, p') accounting count a link's delay more than once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from agent.model.hvc import Overlay, Problem, Request, total_rate
from agent.policies.milp.corridor import corridors
from agent.policies.milp.lp import INF, LpBuilder

Key3 = tuple[str, int, str]


@dataclass(frozen=True)
class Link:
    id: str
    src: str
    dst: str
    delay: float
    max_rate: float
    is_path: bool


@dataclass(frozen=True)
class CapacityRow:
    """A capacity constraint that the elastic diagnosis may relax."""

    row: int
    family: str  # "cpu", "link rate", "path rate"
    label: str


@dataclass
class MilpModel:
    problem: Problem
    elastic: bool = False
    corridor: float | None = None  # each request's links within this detour (corridor.py)
    lp: LpBuilder = field(default_factory=LpBuilder)
    links: dict[str, Link] = field(default_factory=dict)
    x: dict[Key3, int] = field(default_factory=dict)
    stay: dict[Key3, int] = field(default_factory=dict)
    flow: dict[Key3, int] = field(default_factory=dict)
    used: dict[Key3, int] = field(default_factory=dict)
    gamma: dict[tuple[str, str], int] = field(default_factory=dict)
    kappa: dict[tuple[str, str], int] = field(default_factory=dict)
    slack: dict[int, CapacityRow] = field(default_factory=dict)  # slack column -> row
    rates: dict[str, list[float]] = field(default_factory=dict)
    caps: dict[str, float] = field(default_factory=dict)  # most a link carries (flow bound)
    allowed: dict[str, list[str]] = field(default_factory=dict)  # request -> its links
    hosted: dict[str, dict[str, None]] = field(default_factory=dict)  # request -> VNF paths

    def build(self) -> MilpModel:
        problem = self.problem
        self.links = _links(problem.overlay)
        self.rates = {name: problem.rates(r) for name, r in problem.requests.items()}
        self.caps = self._flow_caps()
        if self.corridor is None:
            self.allowed = {name: list(self.links) for name in problem.requests}
        else:
            self.allowed = corridors(problem, self.links, self.corridor)
        for request in problem.requests.values():
            self._request_columns(request)
        for request in problem.requests.values():
            for k in range(self.n_arcs(request)):
                self._conservation(request, k)
        self._cpu()
        self._link_rates()
        self._path_rates()
        return self

    # ------------------------------------------------------------ columns

    def n_arcs(self, request: Request) -> int:
        """Arcs routed: SRC -> VNF1 ... -> DST, or up to the last VNF without egress."""
        n = len(request.chain)
        return n + 1 if request.egress is not None else n

    def placeable(self, vnf: str) -> list[str]:
        spec = self.problem.vnfs[vnf]
        free = spec.cpu.slope == 0 and spec.cpu.intercept == 0
        return [p.id for p in self.problem.overlay.paths.values() if free or p.cpu > 0]

    def _request_columns(self, request: Request) -> None:
        self._placement_columns(request)
        lp, r = self.lp, request.name
        rates, allowed = self.rates[r], self.allowed[r]
        for k in range(self.n_arcs(request)):
            bounds = [min(rates[k], self.caps.get(link, rates[k])) for link in allowed]
            flows, used = lp.linked(bounds)  # flow <= bound * used, per link
            self.flow.update(((r, k, link), col) for link, col in zip(allowed, flows, strict=True))
            self.used.update(((r, k, link), col) for link, col in zip(allowed, used, strict=True))

    def _placement_columns(self, request: Request) -> None:
        """x (where each VNF runs, within the request's corridor if any) and stay."""
        lp, r = self.lp, request.name
        rates = self.rates[r]
        within = set(self.allowed[r]) if self.corridor is not None else None
        placed: set[str] = set()
        for i, vnf in enumerate(request.chain, start=1):
            cols = []
            for p in self.placeable(vnf):
                if within is not None and p not in within:
                    continue  # outside the request's corridor
                col = self.x[(r, i, p)] = lp.var(0.0, rates[i - 1])
                gamma = self._gamma(vnf, p)
                lp.row([(col, 1.0), (gamma, -rates[i - 1])], ub=0.0)  # only where placed
                cols.append(col)
                placed.add(p)
            lp.row(((c, 1.0) for c in cols), rates[i - 1], rates[i - 1])  # all input served
        self.hosted[r] = dict.fromkeys(p for p in self.problem.overlay.paths if p in placed)
        for i in range(1, len(request.chain)):
            slope = self.problem.vnfs[request.chain[i - 1]].out.slope
            for p in self.placeable(request.chain[i - 1]):
                nxt = self.x.get((r, i + 1, p))
                if nxt is None:
                    continue
                col = self.stay[(r, i, p)] = lp.var(0.0, rates[i])
                lp.row([(col, 1.0), (self.x[(r, i, p)], -slope)], ub=0.0)
                lp.row([(col, 1.0), (nxt, -1.0)], ub=0.0)

    def _flow_caps(self) -> dict[str, float]:
        """The most one link can carry: its rate and that of the pools it is in (none
        when capacities are elastic)."""
        if self.elastic:
            return {}
        overlay = self.problem.overlay
        caps = {link.id: link.max_rate for link in self.links.values()}
        for pool in (*overlay.shared_edge_rate, *overlay.shared_path_rate):
            for member in pool.members:
                if member in caps:
                    caps[member] = min(caps[member], pool.amount)
        return caps

    def _gamma(self, vnf: str, path: str) -> int:
        key = (vnf, path)
        if key not in self.gamma:
            self.gamma[key] = self.lp.binary()
            self.kappa[key] = self.lp.var(0.0, INF, integer=True)
        return self.gamma[key]

    # ------------------------------------------------------------ flows

    def out_terms(self, request: Request, i: int, path: str) -> list[tuple[int, float]]:
        """Traffic of arc i leaving ``path`` (output of VNF i there, minus what stays)."""
        col = self.x.get((request.name, i, path))
        if col is None:
            return []
        slope = self.problem.vnfs[request.chain[i - 1]].out.slope
        terms = [(col, slope)]
        stay = self.stay.get((request.name, i, path))
        return terms + ([(stay, -1.0)] if stay is not None else [])

    def in_terms(self, request: Request, i: int, path: str) -> list[tuple[int, float]]:
        """Traffic of arc i - 1 arriving at ``path`` for VNF i (minus what stayed)."""
        col = self.x.get((request.name, i, path))
        if col is None:
            return []
        stay = self.stay.get((request.name, i - 1, path))
        return [(col, 1.0)] + ([(stay, -1.0)] if stay is not None else [])

    def _conservation(self, request: Request, k: int) -> None:
        """Out minus in at each node equals supply minus demand of arc k."""
        r, rate = request.name, self.rates[request.name][k]
        balance: dict[str, list[tuple[int, float]]] = defaultdict(list)
        constant: dict[str, float] = defaultdict(float)
        for link in map(self.links.__getitem__, self.allowed[r]):
            col = self.flow[(r, k, link.id)]
            balance[link.src].append((col, 1.0))
            balance[link.dst].append((col, -1.0))
        if k == 0:
            constant[request.ingress] += rate
        if k == len(request.chain) and request.egress is not None:
            constant[request.egress] -= rate
        for path in map(self.problem.overlay.paths.__getitem__, self.hosted[r]):
            if k >= 1:  # supply: VNF k's output where its path ends
                balance[path.dst] += [(c, -v) for c, v in self.out_terms(request, k, path.id)]
            if k + 1 <= len(request.chain):  # demand: VNF k+1's input where its path starts
                balance[path.src] += self.in_terms(request, k + 1, path.id)
        for node in dict.fromkeys([*balance, *constant]):  # a fixed order: the same model
            value = constant.get(node, 0.0)
            self.lp.row(balance.get(node, []), value, value)

    # ------------------------------------------------------------ capacities

    def _capacity(self, terms: list[tuple[int, float]], ub: float, family: str, label: str) -> None:
        if self.elastic:
            slack = self.lp.var()
            terms = [*terms, (slack, -1.0)]
            row = self.lp.row(terms, ub=ub)
            self.slack[slack] = CapacityRow(row, family, label)
        else:
            self.lp.row(terms, ub=ub)

    def _cpu(self) -> None:
        overlay = self.problem.overlay
        pools_of: dict[str, list[int]] = defaultdict(list)
        eps: dict[tuple[int, str], int] = {}
        for n, pool in enumerate(overlay.shared_cpu):
            cols = []
            for member in pool.members:
                col = eps[(n, member)] = self.lp.var()
                pools_of[member].append(n)
                cols.append((col, 1.0))
            self._capacity(cols, pool.amount, "cpu", f"shared CPU {pool.id}")
        by_path: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for (vnf, path), kappa in self.kappa.items():
            self._cpu_demand(vnf, path, kappa)
            by_path[path].append((kappa, 1.0))
        for path, terms in by_path.items():
            shared = sum(overlay.shared_cpu[n].amount for n in pools_of[path])
            borrowed = [(eps[(n, path)], -1.0) for n in pools_of[path]]
            cap = overlay.paths[path].cpu - shared
            self._capacity(terms + borrowed, cap, "cpu", f"CPU of path {path}")

    def _cpu_demand(self, vnf: str, path: str, kappa: int) -> None:
        """kappa >= slope * (total input rate on the path) + intercept (if placed)."""
        fn = self.problem.vnfs[vnf].cpu
        terms = [(kappa, -1.0), (self.gamma[(vnf, path)], fn.intercept)]
        for request in self.problem.requests.values():
            for i, name in enumerate(request.chain, start=1):
                col = self.x.get((request.name, i, path))
                if name == vnf and col is not None:
                    terms.append((col, fn.slope))
        self.lp.row(terms, ub=0.0)

    def _link_load(self, link: str) -> list[tuple[int, float]]:
        return [
            (col, 1.0)
            for request in self.problem.requests.values()
            for k in range(self.n_arcs(request))
            if (col := self.flow.get((request.name, k, link))) is not None
        ]

    def _link_rates(self) -> None:
        limit = total_rate(self.problem)
        for edge in self.problem.overlay.edges.values():
            if edge.max_rate < limit:
                self._capacity(
                    self._link_load(edge.id), edge.max_rate, "link rate", f"rate of edge {edge.id}"
                )
        for pool in self.problem.overlay.shared_edge_rate:
            terms = [t for member in pool.members for t in self._link_load(member)]
            if pool.amount < limit:
                self._capacity(terms, pool.amount, "link rate", f"shared rate {pool.id}")

    def _path_rates(self) -> None:
        overlay, limit = self.problem.overlay, total_rate(self.problem)
        pooled = {m for pool in overlay.shared_path_rate for m in pool.members}
        beta: dict[str, list[tuple[int, float]]] = {}
        for path in overlay.paths.values():
            if path.max_rate >= limit and path.id not in pooled:
                continue
            beta[path.id] = self._path_load(path.id)
            self._capacity(beta[path.id], path.max_rate, "path rate", f"rate of path {path.id}")
        for pool in overlay.shared_path_rate:
            terms = [t for member in pool.members for t in beta.get(member, [])]
            self._capacity(terms, pool.amount, "path rate", f"shared rate {pool.id}")

    def _path_load(self, path: str) -> list[tuple[int, float]]:
        """hvc's beta: per request the largest of its "boxes", plus transit traffic."""
        terms = self._link_load(path)
        for request in self.problem.requests.values():
            if path not in self.hosted[request.name]:
                continue  # no VNF of this request there: every box empty
            boxes = list(self._boxes(request, path))
            if not any(boxes):
                continue
            top = self.lp.var()
            for box in boxes:
                self.lp.row([*box, (top, -1.0)], ub=0.0)
            terms.append((top, 1.0))
        return terms

    def _boxes(self, request: Request, path: str) -> Iterable[list[tuple[int, float]]]:
        """For arc i: what left the path for arcs 1..i, what stays on it for arc i, and
        what arrives at it for arcs i..n (hvc's constraint 17)."""
        n = len(request.chain)
        for i in range(n + 1):
            box: list[tuple[int, float]] = []
            for k in range(1, i + 1):
                box += self.out_terms(request, k, path)
            stay = self.stay.get((request.name, i, path))
            box += [(stay, 1.0)] if stay is not None else []
            for k in range(i, n):
                box += self.in_terms(request, k + 1, path)
            yield box

    # ------------------------------------------------------------ objective terms

    def instance_terms(self) -> list[tuple[int, float]]:
        return [(col, 1.0) for col in self.gamma.values()]

    def delay_terms(self) -> list[tuple[int, float]]:
        return [(col, self.links[key[2]].delay) for key, col in self.used.items()]

    def link_terms(self) -> list[tuple[int, float]]:
        return [(col, 1.0) for col in self.used.values()]

    def endpoint_placements(self) -> int:
        """hvc's SRC and DST placements: one per distinct ingress and egress."""
        requests = self.problem.requests.values()
        ingress = {r.ingress for r in requests}
        egress = {r.egress for r in requests if r.egress is not None}
        return len(ingress) + len(egress)


def _links(overlay: Overlay) -> dict[str, Link]:
    links = {
        e.id: Link(e.id, e.src, e.dst, e.delay, e.max_rate, False) for e in overlay.edges.values()
    }
    for p in overlay.paths.values():
        links[p.id] = Link(p.id, p.src, p.dst, p.delay, p.max_rate, True)
    return links
