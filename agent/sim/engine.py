"""The discrete-event, flow-level simulator, with coord-sim's semantics.

One control step is ``run_duration`` ms: ``step(decision)`` applies a Decision
(placement and schedule), runs the step and returns the step's metrics and an
Observation (partial and delayed as the scenario says). Deterministic for a seed.

Per flow, as in coord-sim: at each node the schedule picks the node that processes
the chain's next SF; the flow travels there hop by hop on shortest paths, holding
each link's capacity from entering it until ``duration`` after leaving it; at the node
it needs an instance of the SF (else NODE_CAP) and enough capacity, summed over the
SFs' resource functions (else NODE_CAP); it holds that load for processing delay plus
duration and moves on after the processing delay. After the last SF it goes to its
egress node (or stays). TTL is checked before each path and each processing.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

from agent.model.network import Path as RoutePath
from agent.model.scenario import Failure, Scenario, ScheduleMode
from agent.model.types import Decision, Observation
from agent.sim.arrivals import ArrivalProcess, trace_times
from agent.sim.flows import Flow, LinkState, NodeState
from agent.sim.metrics import DropReason, StepMetrics, Totals
from agent.sim.observe import ObservationRecorder
from agent.sim.schedule import ScheduleEntry, compile_schedule, lookup

# A route: hops (next node, link, link delay) and the path delay; keyed src * n + dst.
Route = tuple[tuple[tuple[int, int, float], ...], float]
Routes = dict[int, Route]

ARRIVAL, HOP, PROCESSED, MMPP, TRACE, FAIL, REPAIR = range(7)
_NODE_CAP, _LINK_CAP, _TTL, _DECISION, _FAILURE = (r.value for r in DropReason)


@dataclass
class StepResult:
    observation: Observation
    metrics: StepMetrics
    done: bool


class Simulator:
    def __init__(self, scenario: Scenario, seed: int | None = None) -> None:
        self.scenario = scenario
        net, services = scenario.network, scenario.services
        self.node_ids = net.node_ids
        self.node_index = {node: i for i, node in enumerate(self.node_ids)}
        self.chain_names = list(services.chains)
        self.chain_index = {name: i for i, name in enumerate(self.chain_names)}
        self.sf_names = services.sf_names
        self.sf_index = {name: i for i, name in enumerate(self.sf_names)}
        self.chain_sfs = [
            tuple(self.sf_index[sf] for sf in services.chains[c]) for c in self.chain_names
        ]
        functions = [services.functions[name] for name in self.sf_names]
        self.pd_mean = [f.processing_delay_mean for f in functions]
        self.pd_stdev = [f.processing_delay_stdev for f in functions]
        self.startup = [f.startup_delay for f in functions]
        identity = all(f.resource.is_identity for f in functions)
        self.resource = None if identity else [f.resource.fn for f in functions]
        self.ingress = [self.node_index[n] for n in net.ingress]
        self.egress = [self.node_index[n] for n in net.egress]
        self.link_index = {link.key: i for i, link in enumerate(net.links)}
        self.run_duration = scenario.run_duration
        self.base_seed = scenario.seed if seed is None else seed
        self.episode = 0
        self.totals = Totals()
        self._paths_cache: dict[tuple[frozenset[str], frozenset[frozenset[str]]], Routes] = {}
        self.reset(self.base_seed)

    # ---------------------------------------------------------------- episode control
    def reset(self, seed: int | None = None) -> Observation:
        """Start a new episode; without a seed, episode k uses the base seed + k."""
        self.seed = self.base_seed + self.episode if seed is None else seed
        self.episode += 1
        self.rng = random.Random(self.seed)
        net = self.scenario.network
        self.nodes = [NodeState(node.cap) for node in net.nodes]
        self.links = [LinkState(link.cap) for link in net.links]
        self.arrivals = ArrivalProcess(self.scenario.traffic.config, net.ingress, self.rng)
        self.events: list[tuple[float, int, int, object]] = []
        self.seq = 0
        self.now = 0.0
        self.step_index = 0
        self.flow_count = 0
        self.successful = 0
        self.dropped = 0
        self.schedule: dict[int, ScheduleEntry] = {}
        self.paths = self._compute_paths()
        self.requested = [0.0] * (len(self.node_ids) * len(self.chain_names) * len(self.sf_names))
        self.arrived = [0] * len(self.node_ids)
        self.metrics = StepMetrics(self.episode, 0, 0.0)
        self.recorder = ObservationRecorder(self, random.Random(self.seed ^ 0x5EED))
        for node in self.ingress:
            self._push(0.0, ARRIVAL, node)
        self._schedule_controls()
        self.observation = self.recorder.observe()
        return self.observation

    def _schedule_controls(self) -> None:
        config = self.scenario.traffic.config
        if config.use_states:
            self._push(self.run_duration, MMPP, None)
        rows = self.scenario.traffic.trace
        for time, row in zip(trace_times(rows), rows, strict=True):
            self._push(time, TRACE, row)
        for failure in self.scenario.failures:
            self._push(failure.down_at, FAIL, failure)
            if failure.up_at is not None:
                self._push(failure.up_at, REPAIR, failure)

    @property
    def in_flight(self) -> int:
        return self.flow_count - self.successful - self.dropped

    @property
    def done(self) -> bool:
        return self.step_index >= self.scenario.steps

    def step(self, decision: Decision) -> StepResult:
        """Apply ``decision`` and simulate one control step."""
        self.apply(decision)
        self.metrics = StepMetrics(self.episode, self.step_index, self.now)
        end = (self.step_index + 1) * self.run_duration
        self._run_until(end)
        self.now = end
        for node in self.nodes:
            node.release_until(end)
        for link in self.links:
            link.release_until(end)
        metrics = self._close_step()
        self.step_index += 1
        self.observation = self.recorder.observe()
        return StepResult(self.observation, metrics, self.done)

    def finish(self) -> Totals:
        """Close the current episode's books (flows still in flight) and return the
        totals over all finished episodes. Call once per episode."""
        self.totals.end_episode(self.in_flight)
        return self.totals

    def apply(self, decision: Decision) -> None:
        table = compile_schedule(
            decision.schedule, self.node_index, self.chain_index, self.sf_index, self.chain_sfs
        )
        placed: dict[int, frozenset[int]] = {}
        for name, sfs in decision.placement.items():
            node_i = lookup(self.node_index, name, "node")
            placed[node_i] = frozenset(lookup(self.sf_index, sf, "service function") for sf in sfs)
        for i, state in enumerate(self.nodes):
            state.release_until(self.now)
            state.place(placed.get(i, frozenset()), self.now)
            state.max_usage = state.usage(self.resource)
        for link in self.links:
            link.max_used = link.used
        self.schedule = table
        self.requested = [0.0] * len(self.requested)
        self.arrived = [0] * len(self.arrived)

    # ---------------------------------------------------------------- the event loop
    def _push(self, time: float, kind: int, payload: object) -> None:
        self.seq += 1
        heapq.heappush(self.events, (time, self.seq, kind, payload))

    def _run_until(self, end: float) -> None:
        events, pop = self.events, heapq.heappop
        while events and events[0][0] < end:
            time, _, kind, payload = pop(events)
            self.now = time
            if kind == HOP:
                self._on_hop(payload, time)  # type: ignore[arg-type]
            elif kind == PROCESSED:
                self._on_processed(payload, time)  # type: ignore[arg-type]
            elif kind == ARRIVAL:
                self._on_arrival(payload, time)  # type: ignore[arg-type]
            else:
                self._on_control(kind, payload, time)

    def _on_arrival(self, node: int, time: float) -> None:
        draw = self.arrivals.draw(self.node_ids[node])
        if draw is None:
            return  # a trace stopped this ingress (coord-sim does not restart it)
        rng = self.rng
        chain = rng.randrange(len(self.chain_names)) if len(self.chain_names) > 1 else 0
        egress = rng.choice(self.egress) if self.egress else -1
        ttls = self.scenario.traffic.config.ttl_choices
        ttl = ttls[0] if len(ttls) == 1 else rng.choice(ttls)
        self.flow_count += 1
        flow = Flow(
            self.flow_count, chain, draw.rate, draw.size / draw.rate * 1000.0, ttl, node, egress
        )
        self.metrics.generated += 1
        self.arrived[node] += 1
        self._push(time + draw.inter_arrival, ARRIVAL, node)
        if self.nodes[node].down:
            self._drop(flow, _FAILURE)
        else:
            self._decide(flow, time)

    def _decide(self, flow: Flow, time: float) -> None:
        if flow.ttl <= 0:
            self._drop(flow, _DECISION)
            return
        if flow.to_egress:
            self._forward(flow, flow.egress if flow.egress >= 0 else flow.node, time)
            return
        sf = self.chain_sfs[flow.chain][flow.pos]
        flow.sf = sf
        key = (flow.node * len(self.chain_names) + flow.chain) * len(self.sf_names) + sf
        self.requested[key] += flow.rate
        entry = self.schedule.get(key)
        if entry is None:
            self._drop(flow, _DECISION)
            return
        if self.scenario.schedule_mode is ScheduleMode.ROUND_ROBIN:
            target = entry.round_robin()
        else:
            target = entry.sample(self.rng)
        if target < 0:
            self._drop(flow, _DECISION)
        else:
            self._forward(flow, target, time)

    def _forward(self, flow: Flow, target: int, time: float) -> None:
        if target == flow.node:
            if flow.ttl <= 0:
                self._drop(flow, _LINK_CAP)
            elif flow.to_egress:
                self._succeed(flow)
            else:
                self._process(flow, time)
            return
        route = self.paths.get(flow.node * len(self.node_ids) + target)
        if route is None or self.nodes[target].down:
            self._drop(flow, _FAILURE)
            return
        flow.hops, flow.path_delay = route
        if flow.ttl - flow.path_delay <= 0:
            flow.ttl = 0
            self._drop(flow, _LINK_CAP)
            return
        flow.hop_i = 0
        self._enter_link(flow, time)

    def _enter_link(self, flow: Flow, time: float) -> None:
        while True:
            nxt, link_i, delay = flow.hops[flow.hop_i]
            link = self.links[link_i]
            if link.down:
                self._drop(flow, _FAILURE)
                return
            if link.cap is not None:
                link.release_until(time)
                used = link.used + flow.rate
                if used > link.cap:
                    self._drop(flow, _LINK_CAP)
                    return
                link.used = used
                if used > link.max_used:
                    link.max_used = used
                heapq.heappush(link.releases, (time + delay + flow.duration, flow.rate))
            if delay > 0:
                self._push(time + delay, HOP, flow)
                return
            if not self._arrive_hop(flow, nxt, time):
                return

    def _on_hop(self, flow: Flow, time: float) -> None:
        nxt = flow.hops[flow.hop_i][0]
        if self._arrive_hop(flow, nxt, time):
            self._enter_link(flow, time)

    def _arrive_hop(self, flow: Flow, node: int, time: float) -> bool:
        """Move onto ``node``; True if the path continues from there."""
        flow.node = node
        flow.hop_i += 1
        if self.nodes[node].down:
            self._drop(flow, _FAILURE)
            return False
        if flow.hop_i < len(flow.hops):
            return True
        flow.delay += flow.path_delay
        flow.ttl -= flow.path_delay
        if flow.to_egress:
            self._succeed(flow)
        else:
            self._process(flow, time)
        return False

    def _process(self, flow: Flow, time: float) -> None:
        node = self.nodes[flow.node]
        sf = flow.sf
        if sf not in node.placed:
            self._drop(flow, _NODE_CAP)
            return
        stdev = self.pd_stdev[sf]
        delay = self.pd_mean[sf] if stdev == 0 else abs(self.rng.gauss(self.pd_mean[sf], stdev))
        if flow.ttl - delay <= 0:
            flow.ttl = 0
            self._drop(flow, _NODE_CAP)
            return
        flow.delay += delay
        flow.ttl -= delay
        node.release_until(time)
        instance = node.instances[sf]
        if self.resource is None:
            demand = node.load + flow.rate
        else:
            rf = self.resource
            demand = sum(
                rf[s](i[0] + flow.rate if s == sf else i[0]) for s, i in node.instances.items()
            )
        if demand > node.cap:
            self._drop(flow, _NODE_CAP)
            return
        instance[0] += flow.rate
        node.load += flow.rate
        if demand > node.max_usage:
            node.max_usage = demand
        wait = instance[1] + self.startup[sf] - time
        if wait > 0:
            if flow.ttl - wait <= 0:
                flow.ttl = 0
                self._drop(flow, _NODE_CAP)  # coord-sim keeps the load here (a leak); we do not
                heapq.heappush(node.releases, (time, 0, sf, flow.rate))
                return
            flow.delay += wait
            flow.ttl -= wait
        else:
            wait = 0.0
        flow.epoch = node.epoch
        self._push(time + wait + delay, PROCESSED, flow)

    def _on_processed(self, flow: Flow, time: float) -> None:
        node = self.nodes[flow.node]
        if node.down or node.epoch != flow.epoch:
            self._drop(flow, _FAILURE)
            return
        self.seq += 1
        heapq.heappush(node.releases, (time + flow.duration, self.seq, flow.sf, flow.rate))
        flow.pos += 1
        if flow.pos == len(self.chain_sfs[flow.chain]):
            flow.to_egress = True
        self._decide(flow, time)

    def _succeed(self, flow: Flow) -> None:
        self.successful += 1
        self.metrics.successful += 1
        self.metrics.delays.append(flow.delay)

    def _drop(self, flow: Flow, reason: str) -> None:
        if flow.ttl <= 0:
            reason = _TTL
        self.dropped += 1
        metrics = self.metrics
        metrics.dropped += 1
        metrics.drops[reason] += 1
        node = self.node_ids[flow.node]
        metrics.drops_by_node[node] = metrics.drops_by_node.get(node, 0) + 1

    # ---------------------------------------------------------------- control events
    def _on_control(self, kind: int, payload: object, time: float) -> None:
        if kind == MMPP:
            self.arrivals.switch_states()
            self._push(time + self.run_duration, MMPP, None)
        elif kind == TRACE:
            row = payload
            self.arrivals.apply_trace(row)  # type: ignore[arg-type]
            if row.cap is not None and row.node in self.node_index:  # type: ignore[attr-defined]
                self.nodes[self.node_index[row.node]].cap = row.cap  # type: ignore[attr-defined]
        elif kind in (FAIL, REPAIR):
            self._set_failure(payload, down=kind == FAIL, time=time)  # type: ignore[arg-type]

    def _set_failure(self, failure: Failure, down: bool, time: float) -> None:
        if failure.node is not None:
            node = self.nodes[self.node_index[failure.node]]
            node.release_until(time)
            node.down = down
            if down:
                node.clear()
            else:
                node.place(node.placed, time)
        if failure.link is not None:
            self.links[self.link_index[failure.link]].down = down
        self.paths = self._compute_paths()

    @property
    def down_nodes(self) -> frozenset[str]:
        return frozenset(self.node_ids[i] for i, node in enumerate(self.nodes) if node.down)

    @property
    def down_links(self) -> frozenset[frozenset[str]]:
        links = self.scenario.network.links
        return frozenset(links[i].key for i, link in enumerate(self.links) if link.down)

    def _compute_paths(self) -> Routes:
        key = (
            (self.down_nodes, self.down_links)
            if hasattr(self, "nodes")
            else (frozenset(), frozenset())
        )
        cached = self._paths_cache.get(key)
        if cached is None:
            paths = self.scenario.network.shortest_paths(self.scenario.routing, *key)
            cached = {
                self._path_key(src, dst): self._hops(path) for (src, dst), path in paths.items()
            }
            self._paths_cache[key] = cached
        return cached

    def _path_key(self, src: str, dst: str) -> int:
        return self.node_index[src] * len(self.node_ids) + self.node_index[dst]

    def _hops(self, path: RoutePath) -> Route:
        hops = []
        for a, b in zip(path.nodes, path.nodes[1:], strict=False):
            link = self.scenario.network.links[self.link_index[frozenset((a, b))]]
            hops.append((self.node_index[b], self.link_index[link.key], link.delay))
        return tuple(hops), path.delay

    def _close_step(self) -> StepMetrics:
        metrics = self.metrics
        metrics.in_flight = self.in_flight
        for node_id, node in zip(self.node_ids, self.nodes, strict=True):
            metrics.node_utilisation[node_id] = node.max_usage / node.cap if node.cap else 0.0
        for link, state in zip(self.scenario.network.links, self.links, strict=True):
            if state.cap:
                metrics.link_utilisation[f"{link.a}-{link.b}"] = state.max_used / state.cap
        self.totals.add_step(metrics)
        return metrics
