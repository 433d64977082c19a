"""What learned deployment policies see of a request and the substrate (the features),
and how MADDPG-SD's actions become a placement (``place_by_weights``: the admission
value under the outlook's threshold rule, then a depth-first search over each agent's
ranking of the servers, optionally weighing energy against latency over several whole
placements)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agent.model.deployment_outlook import admission_margin
from agent.model.deployment_state import (
    EPS,
    ChainPlan,
    Decision,
    Option,
    Rejection,
    Request,
    SubstrateState,
)

# what learned policies see: a few numbers about the request and the substrate, and a
# row of features per server that can take the next VNF
REQUEST_FEATURES = 13
SERVER_FEATURES = 9
MAX_LENGTH_SCALE = 5.0


def request_features(plan: ChainPlan, position: int | None = None) -> np.ndarray:
    """The local observation of the agent of VNF ``position`` (default: the next one): its
    VNF's demands, the request's slack and size, and how loaded the substrate is (shares
    used, and the request's whole CPU and memory over what is left: its pressure)."""
    req, state = plan.request, plan.state
    sub = state.substrate
    i = plan.position if position is None else position
    free_cpu, free_memory = sum(state.cpu), sum(state.memory)
    active = sum(1 for count in state.hosted if count) / sub.n
    return np.array(
        [
            i / MAX_LENGTH_SCALE,
            req.length / MAX_LENGTH_SCALE,
            req.cpu[i] / 20.0,
            req.memory[i] / 20.0,
            req.bandwidth[i] / 20.0,
            (req.latency_bound - plan.latency) / req.latency_bound,
            req.latency_bound / 150.0,
            1.0 - free_cpu / sum(sub.cpu),
            1.0 - sum(state.bandwidth) / sum(sub.bandwidth),
            active,
            min(sum(req.cpu) / max(free_cpu, EPS), 2.0),
            min(sum(req.memory) / max(free_memory, EPS), 2.0),
            sum(req.cpu) / 100.0,
        ],
        dtype=np.float32,
    )


def server_features(plan: ChainPlan, option: Option) -> list[float]:
    """What a learned policy knows of ``option``: CPU and memory left (shares, after the
    VNF), active, the previous VNF's server, the chain's latency lower bound through it
    (share of the bound), the path's hops, its bottleneck (share left), the server's speed
    and the balance of its CPU and memory left (a server with one exhausted and the other
    free takes no VNF: keeping them even keeps both usable)."""
    req, state, i = plan.request, plan.state, plan.position
    sub, n = state.substrate, option.server
    cpu_left = (state.cpu[n] - plan.cpu.get(n, 0.0) - req.cpu[i]) / sub.cpu[n]
    memory_left = (state.memory[n] - plan.memory.get(n, 0.0) - req.memory[i]) / sub.memory[n]
    active = 1.0 if state.hosted[n] or n in plan.cpu else 0.0
    bottleneck = min(
        ((state.bandwidth[k] - plan.bandwidth.get(k, 0.0)) / sub.bandwidth[k] for k in option.path),
        default=1.0,
    )
    return [
        cpu_left,
        memory_left,
        active,
        1.0 if n == plan.previous else 0.0,
        option.latency_bound_rest / req.latency_bound,
        len(option.path) / 5.0,
        bottleneck,
        sub.speed[n] / state.max_speed,
        -abs(cpu_left - memory_left),  # balance: CPU and memory left in the same share
    ]


def option_matrix(plan: ChainPlan) -> tuple[list[Option], np.ndarray]:
    """The options for the next VNF and their features (one row each)."""
    options = plan.options()
    rows = [server_features(plan, option) for option in options]
    matrix = np.array(rows, dtype=np.float32).reshape(len(options), SERVER_FEATURES)
    return options, matrix


# MADDPG-SD's actions: per agent, weights over the server features, then an admission
# value (read from the first agent only: below zero rejects the request)
ACTION_SIZE = SERVER_FEATURES + 1
ACTIVE_FEATURE, PREVIOUS_FEATURE = 2, 3  # server_features: active, the previous VNF's server
CANDIDATES = 20  # whole placements per search pass where the decoding weighs energy
# the passes of that search: the agents' weights, then with a bonus for active servers
# and for the previous VNF's server (placements that wake no server)
_CONSOLIDATION_PASSES: tuple[tuple[tuple[int, float], ...], ...] = (
    (),
    ((ACTIVE_FEATURE, 1.0),),
    ((PREVIOUS_FEATURE, 1.0),),
)
ADMISSION_REASON = "admission: refused to keep resources for later requests"


def joint_observation(state: SubstrateState, request: Request, agents: int) -> np.ndarray:
    """Every agent's local observation at the request's arrival (zeros beyond its chain)."""
    plan = ChainPlan(state, request)
    obs = np.zeros((agents, REQUEST_FEATURES), np.float32)
    for i in range(min(request.length, agents)):
        obs[i] = request_features(plan, i)
    return obs


def place_by_weights(
    state: SubstrateState,
    request: Request,
    actions: np.ndarray,
    admission: bool = True,
    backtrack: int = 0,
    fill: float | None = None,
    energy: float | None = None,
    candidates: int = CANDIDATES,
) -> Decision:
    """MADDPG-SD's decoding: the first agent's admission value below zero rejects (with a
    ``fill``, its value plus the request's ``admission_margin`` under the state's outlook:
    the value shifts the outlook's threshold); else VNF by VNF, VNF i on the feasible
    server whose features score highest under agent i's weights (the last agent's for
    positions beyond the agents). With ``backtrack`` > 0, an agent that finds no server
    sends the choice back to the previous agent, which tries its next-best server (depth
    first), until ``backtrack`` more servers have been tried.

    With an ``energy`` weight (ms per server-period), the search does not stop at the
    first whole placement: it collects up to ``candidates`` placements under the agents'
    weights, and as many again under the same weights with a bonus for servers already
    active and for the previous VNF's server, and keeps the one with the least ``latency
    + energy x active_extension`` (the paper's two costs, latency and the energy of
    servers kept on, in one sum; the first found among equals)."""
    if admission and actions.shape[1] > SERVER_FEATURES:
        value = float(actions[0, SERVER_FEATURES])
        if fill is not None:
            value += request_margin(state, request, fill)
        if value < 0:
            return Rejection(request.id, ADMISSION_REASON)
    weights = actions[:, :SERVER_FEATURES]
    plan = ChainPlan(state, request)
    if energy is None:
        search = _Search(weights, request.length + backtrack)
        found = search.run(plan)
        if found is None:
            return _no_server(request, search.deepest)
        return found.placement()
    leaves: list[ChainPlan] = []
    deepest = 0
    for bonus in _CONSOLIDATION_PASSES:
        shifted = weights.copy()
        for feature, value in bonus:
            shifted[:, feature] += value
        search = _Search(shifted, request.length + backtrack + candidates, candidates)
        search.run(plan)
        leaves += search.leaves
        deepest = max(deepest, search.deepest)
    if not leaves:
        return _no_server(request, deepest)
    best = min(
        leaves,
        key=lambda leaf: leaf.latency + energy * state.active_extension(request, leaf.servers),
    )
    return best.placement()


def _no_server(request: Request, deepest: int) -> Rejection:
    return Rejection(
        request.id,
        f"no server can take VNF {deepest + 1} of {request.length} "
        "within the resources and the latency bound",
    )


def request_margin(state: SubstrateState, request: Request, fill: float) -> float:
    """``admission_margin`` of ``request`` now (1 when the state has no outlook)."""
    return admission_margin(
        sum(state.cpu),
        sum(state.memory),
        sum(request.cpu),
        sum(request.memory),
        request.duration,
        state.outlook,
        fill,
    )


@dataclass
class _Search:
    """Depth first over each agent's ranking, trying at most ``budget`` servers, until
    ``limit`` whole placements are found (``leaves``)."""

    weights: np.ndarray
    budget: int
    limit: int = 1
    deepest: int = 0  # the furthest VNF that found no server
    leaves: list[ChainPlan] = field(default_factory=list)

    def run(self, plan: ChainPlan) -> ChainPlan | None:
        """The first whole placement found (the search goes on to ``limit``)."""
        self._walk(plan)
        return self.leaves[0] if self.leaves else None

    def _walk(self, plan: ChainPlan) -> None:
        if plan.done:
            self.leaves.append(plan)
            return
        self.deepest = max(self.deepest, plan.position)
        options, features = option_matrix(plan)
        scores = features @ self.weights[min(plan.position, len(self.weights) - 1)]
        for k in np.argsort(-scores, kind="stable"):
            if self.budget <= 0 or len(self.leaves) >= self.limit:
                return
            self.budget -= 1
            child = plan.branch()
            child.take(options[int(k)])
            self._walk(child)
