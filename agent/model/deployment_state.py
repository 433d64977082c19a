"""Requests, placements and the substrate's residual resources (MADDPG-SD's model).

A request is an ordered chain of VNFs between an ingress and an egress node; virtual link
``j`` joins VNF ``j - 1`` (the ingress for ``j = 0``) to VNF ``j`` (the egress for the last
link), so a chain of ``k`` VNFs has ``k + 1`` virtual links. A placement puts each VNF on a
server and routes each virtual link over one of the substrate's k shortest paths (no links
where both ends share a server).

End-to-end latency (Eq. 1-3): processing ``data / (cpu x speed x service_rate)`` per VNF,
plus, per virtual link, the propagation delay of its path and ``hops x data / bandwidth``
(the data is sent again on every hop).

Placements are built VNF by VNF (``ChainPlan``): ``option`` tells whether a server can take
the next VNF, through which path, at what latency, and whether the rest of the chain can
still meet the latency bound from there (a lower bound: the remaining VNFs at the fastest
speed, the shortest route to the egress). Every policy, learned or not, builds placements
this way, so none proposes a server that is certain to fail. What learned policies see of
a plan (features) and how MADDPG-SD's actions decode into one are in
``agent.model.deployment_decoding``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from agent.model.deployment import CostSpec, PathOption, Substrate
from agent.model.deployment_outlook import Outlook

EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Request:
    id: int
    arrival: float  # period
    duration: int  # periods
    ingress: int
    egress: int
    vnfs: tuple[int, ...]  # VNF type indices
    cpu: tuple[float, ...]
    memory: tuple[float, ...]
    bandwidth: tuple[float, ...]  # one per virtual link: len(vnfs) + 1
    latency_bound: float  # ms
    data: float  # kbit per slot
    length: int = field(init=False, compare=False)  # VNFs in the chain

    def __post_init__(self) -> None:
        object.__setattr__(self, "length", len(self.vnfs))


@dataclass(frozen=True, slots=True)
class Placement:
    request: int
    servers: tuple[int, ...]
    paths: tuple[tuple[int, ...], ...]  # link indices of each virtual link
    latency: float  # ms


@dataclass(frozen=True, slots=True)
class Rejection:
    request: int
    reason: str


Decision = Placement | Rejection


@dataclass(frozen=True, slots=True)
class Option:
    """Server ``server`` for the next VNF: the path from the previous VNF (and, for the last
    VNF, the path on to the egress) and the chain's latency once it is placed there."""

    server: int
    path: tuple[int, ...]
    exit_path: tuple[int, ...] | None
    latency: float  # so far, including this VNF (and the egress link for the last)
    latency_bound_rest: float  # lower bound of the whole chain's latency through here


class SubstrateState:
    """Residual CPU and memory per server, bandwidth per link, VNFs hosted per server."""

    def __init__(self, substrate: Substrate, service_rate: float = 1.0) -> None:
        self.substrate = substrate
        self.service_rate = service_rate
        self.cpu = list(substrate.cpu)
        self.memory = list(substrate.memory)
        self.bandwidth = list(substrate.bandwidth)
        self.hosted = [0] * substrate.n
        # per server: the end (arrival + duration) of each request it hosts, with counts
        self.ends: list[dict[float, int]] = [{} for _ in range(substrate.n)]
        self.max_speed = max(substrate.speed)
        self.outlook: Outlook | None = None  # the requests still to come, where known

    def copy(self) -> SubstrateState:
        other = SubstrateState.__new__(SubstrateState)
        other.substrate, other.service_rate = self.substrate, self.service_rate
        other.cpu, other.memory = list(self.cpu), list(self.memory)
        other.bandwidth, other.hosted = list(self.bandwidth), list(self.hosted)
        other.ends = [dict(ends) for ends in self.ends]
        other.max_speed, other.outlook = self.max_speed, self.outlook
        return other

    def processing(self, request: Request, i: int, server: int) -> float:
        speed = self.substrate.speed[server] * self.service_rate
        return request.data / (request.cpu[i] * speed)

    def active_servers(self) -> int:
        return sum(1 for count in self.hosted if count)

    def power(self, cost: CostSpec) -> float:
        """Eq. (4) at this instant: active servers, CPU in use, standby servers."""
        sub = self.substrate
        used = sum(cap - left for cap, left in zip(sub.cpu, self.cpu, strict=True))
        active = self.active_servers()
        standby = sub.n - active
        return (
            active * cost.active_power
            + used * cost.cpu_power
            + standby * cost.standby_fraction * cost.active_power
        )

    def apply(self, request: Request, placement: Placement, sign: float = 1.0) -> None:
        """Take (``sign`` 1) or give back (``sign`` -1) the placement's resources."""
        for i, server in enumerate(placement.servers):
            self.cpu[server] -= sign * request.cpu[i]
            self.memory[server] -= sign * request.memory[i]
            self.hosted[server] += 1 if sign > 0 else -1
        for j, path in enumerate(placement.paths):
            for link in path:
                self.bandwidth[link] -= sign * request.bandwidth[j]
        end = request.arrival + request.duration
        for server in set(placement.servers):
            ends = self.ends[server]
            count = ends.get(end, 0) + (1 if sign > 0 else -1)
            if count > 0:
                ends[end] = count
            else:
                ends.pop(end, None)

    def active_extension(self, request: Request, servers: tuple[int, ...] | list[int]) -> float:
        """Server-periods of activity that placing ``request`` on ``servers`` adds: its
        duration for a server now idle, and for an active one the time by which the request
        outlasts every request the server hosts (the energy Eq. (4) charges beyond
        standby, per unit of active power)."""
        end = request.arrival + request.duration
        added = 0.0
        for server in set(servers):
            ends = self.ends[server]
            if not self.hosted[server] or not ends:
                added += request.duration
            else:
                added += max(0.0, end - max(ends))
        return added

    def release(self, request: Request, placement: Placement) -> None:
        self.apply(request, placement, -1.0)

    def check(self, request: Request, placement: Placement) -> str | None:
        """Why the placement cannot be applied now, or None: servers and paths that do not
        exist or do not join the chain, resources short, latency above the bound."""
        sub = self.substrate
        if len(placement.servers) != request.length or len(placement.paths) != request.length + 1:
            return "placement does not match the chain's length"
        if any(not 0 <= s < sub.n for s in placement.servers):
            return "placement names a server that does not exist"
        ends = (request.ingress, *placement.servers, request.egress)
        for j, path in enumerate(placement.paths):
            options = sub.paths[(ends[j], ends[j + 1])]
            if all(path != option.links for option in options):
                return f"virtual link {j} is not routed between its VNFs"
        cpu, memory, bandwidth = _demand(request, placement)
        if any(cpu[s] > self.cpu[s] + EPS or memory[s] > self.memory[s] + EPS for s in cpu):
            return "not enough CPU or memory on a server"
        if any(need > self.bandwidth[link] + EPS for link, need in bandwidth.items()):
            return "not enough bandwidth on a link"
        latency = self.latency(request, placement.servers, placement.paths)
        if latency > request.latency_bound + EPS:
            return f"latency {latency:.1f} ms above the bound {request.latency_bound:.1f} ms"
        return None

    def latency(
        self, request: Request, servers: tuple[int, ...], paths: tuple[tuple[int, ...], ...]
    ) -> float:
        """Eq. (1)-(3): processing of every VNF plus propagation and transmission per hop."""
        total = sum(self.processing(request, i, s) for i, s in enumerate(servers))
        delay = self.substrate.link_delay
        for j, path in enumerate(paths):
            if path:
                total += sum(delay[link] for link in path)
                total += len(path) * request.data / request.bandwidth[j]
        return total


def _demand(
    request: Request, placement: Placement
) -> tuple[dict[int, float], dict[int, float], dict[int, float]]:
    cpu: dict[int, float] = {}
    memory: dict[int, float] = {}
    bandwidth: dict[int, float] = {}
    for i, server in enumerate(placement.servers):
        cpu[server] = cpu.get(server, 0.0) + request.cpu[i]
        memory[server] = memory.get(server, 0.0) + request.memory[i]
    for j, path in enumerate(placement.paths):
        for link in path:
            bandwidth[link] = bandwidth.get(link, 0.0) + request.bandwidth[j]
    return cpu, memory, bandwidth


@dataclass
class ChainPlan:
    """A placement under construction: the VNFs placed so far and what they take."""

    state: SubstrateState
    request: Request
    servers: list[int] = field(default_factory=list)
    paths: list[tuple[int, ...]] = field(default_factory=list)
    latency: float = 0.0
    cpu: dict[int, float] = field(default_factory=dict)
    memory: dict[int, float] = field(default_factory=dict)
    bandwidth: dict[int, float] = field(default_factory=dict)
    rest: list[float] = field(default_factory=list)  # lower bound of VNFs i+1.. processing

    def __post_init__(self) -> None:
        if self.rest:  # a branch of another plan
            return
        req, state = self.request, self.state
        fastest = state.max_speed * state.service_rate
        tail = [req.data / (c * fastest) for c in req.cpu]
        self.rest = [sum(tail[i + 1 :]) for i in range(req.length)]

    @property
    def position(self) -> int:
        return len(self.servers)

    @property
    def done(self) -> bool:
        return len(self.servers) == self.request.length

    @property
    def previous(self) -> int:
        return self.servers[-1] if self.servers else self.request.ingress

    def fits(self, server: int) -> bool:
        i, state = self.position, self.state
        cpu = state.cpu[server] - self.cpu.get(server, 0.0)
        memory = state.memory[server] - self.memory.get(server, 0.0)
        return cpu + EPS >= self.request.cpu[i] and memory + EPS >= self.request.memory[i]

    def route(
        self, a: int, b: int, j: int, extra: tuple[int, ...] = (), extra_need: float = 0.0
    ) -> PathOption | None:
        """The lowest-latency path from ``a`` to ``b`` with room for virtual link ``j``
        (``extra``: links this chain is about to take ``extra_need`` on for its previous
        virtual link)."""
        need = self.request.bandwidth[j]
        best: PathOption | None = None
        best_cost = 0.0
        residual, used = self.state.bandwidth, self.bandwidth
        for option in self.state.substrate.paths[(a, b)]:
            ok = True
            if used or extra:
                for link in option.links:
                    taken = used.get(link, 0.0) + (extra_need if link in extra else 0.0)
                    if residual[link] - taken + EPS < need:
                        ok = False
                        break
            else:  # nothing taken yet by this chain: the residuals alone
                for link in option.links:
                    if residual[link] + EPS < need:
                        ok = False
                        break
            if ok:
                cost = option.delay + option.hops * self.request.data / need
                if best is None or cost < best_cost:
                    best, best_cost = option, cost
        return best

    def option(self, server: int) -> Option | None:
        """Whether ``server`` can take the next VNF with the chain still able to finish."""
        req, state, i = self.request, self.state, len(self.servers)
        cpu, memory = state.cpu[server], state.memory[server]
        if self.cpu:  # this chain already takes some of the servers' resources
            cpu, memory = cpu - self.cpu.get(server, 0.0), memory - self.memory.get(server, 0.0)
        if cpu + EPS < req.cpu[i] or memory + EPS < req.memory[i]:
            return None
        into = self.route(self.previous, server, i)
        if into is None:
            return None
        data = req.data
        latency = self.latency + self.state.processing(req, i, server)
        latency += into.delay + into.hops * data / req.bandwidth[i]
        if i == req.length - 1:
            out = self.route(server, req.egress, i + 1, into.links, req.bandwidth[i])
            if out is None:
                return None
            latency += out.delay + out.hops * data / req.bandwidth[i + 1]
            if latency > req.latency_bound + EPS:
                return None
            return Option(server, into.links, out.links, latency, latency)
        sub = self.state.substrate
        hops = sub.hop_distance[server][req.egress]
        bound = latency + self.rest[i] + sub.delay_distance[server][req.egress]
        bound += hops * data / max(req.bandwidth[i + 1 :])
        if bound > req.latency_bound + EPS:
            return None
        return Option(server, into.links, None, latency, bound)

    def options(self) -> list[Option]:
        return [o for o in map(self.option, range(self.state.substrate.n)) if o is not None]

    def take(self, option: Option) -> None:
        req, i = self.request, self.position
        self.servers.append(option.server)
        self.cpu[option.server] = self.cpu.get(option.server, 0.0) + req.cpu[i]
        self.memory[option.server] = self.memory.get(option.server, 0.0) + req.memory[i]
        self._use(option.path, req.bandwidth[i])
        self.paths.append(option.path)
        if option.exit_path is not None:
            self._use(option.exit_path, req.bandwidth[i + 1])
            self.paths.append(option.exit_path)
        self.latency = option.latency

    def branch(self) -> ChainPlan:
        """A copy to try a choice on (the state is shared, never changed)."""
        return ChainPlan(
            self.state,
            self.request,
            list(self.servers),
            list(self.paths),
            self.latency,
            dict(self.cpu),
            dict(self.memory),
            dict(self.bandwidth),
            self.rest,
        )

    def _use(self, path: tuple[int, ...], need: float) -> None:
        for link in path:
            self.bandwidth[link] = self.bandwidth.get(link, 0.0) + need

    def placement(self) -> Placement:
        return Placement(self.request.id, tuple(self.servers), tuple(self.paths), self.latency)


def request_reward(cost: CostSpec, request: Request, latency: float, woken: int) -> float:
    """MADDPG-SD's objective for an accepted request: ``1 - xi_a * latency / bound - xi_b *
    servers switched on / chain length`` (0 for a rejected one)."""
    return (
        1.0
        - cost.latency_weight * latency / request.latency_bound
        - cost.cost_weight * woken / request.length
    )


def woken_servers(state: SubstrateState, placement: Placement) -> int:
    """Servers the placement switches on (hosting no VNF before it)."""
    return sum(1 for server in set(placement.servers) if not state.hosted[server])


class PlacementPolicy(Protocol):
    """What decides deployments: ``place`` is deterministic, reads ``state`` and never
    changes it; a placement it returns must pass ``state.check``."""

    name: str

    def place(self, request: Request, state: SubstrateState) -> Decision: ...
