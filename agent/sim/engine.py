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

import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from agent.model.network import Path as RoutePath
from agent.model.scenario import Failure, Scenario, ScheduleMode
from agent.model.traffic import TraceRow
from agent.model.types import Decision, Observation
from agent.sim.arrivals import ArrivalProcess, trace_times
from agent.sim.core import CONTROL, FlowCore, Route, Routes
from agent.sim.fastpath import plain_case, run_plain_step
from agent.sim.flows import LinkState, NodeState
from agent.sim.metrics import REASONS, StepMetrics, Totals
from agent.sim.observe import ObservationRecorder
from agent.sim.schedule import ScheduleCompiler, ScheduleEntry, lookup

if TYPE_CHECKING:  # numpy is the caller's: the simulator itself does not import it
    import numpy as np
    import numpy.typing as npt

TRACE, FAIL, REPAIR = range(3)  # kinds of control event


@dataclass
class StepResult:
    observation: Observation
    metrics: StepMetrics
    done: bool


class Simulator(FlowCore):
    def __init__(
        self, scenario: Scenario, seed: int | None = None, hop_by_hop: bool = False
    ) -> None:
        """``hop_by_hop`` turns off the shortcuts (booked paths, early departures), for
        checking that they change nothing."""
        self.scenario = scenario
        net, services = scenario.network, scenario.services
        self.node_ids = net.node_ids
        self.node_index = {node: i for i, node in enumerate(self.node_ids)}
        self.n_nodes = len(self.node_ids)
        self.chain_names = list(services.chains)
        self.chain_index = {name: i for i, name in enumerate(self.chain_names)}
        self.sf_names = services.sf_names
        self.sf_index = {name: i for i, name in enumerate(self.sf_names)}
        self.chain_sfs = [
            tuple(self.sf_index[sf] for sf in services.chains[c]) for c in self.chain_names
        ]
        self.n_chains, self.n_sfs = len(self.chain_names), len(self.sf_names)
        functions = [services.functions[name] for name in self.sf_names]
        self.pd_mean = [f.processing_delay_mean for f in functions]
        self.pd_stdev = [f.processing_delay_stdev for f in functions]
        self.fixed_delay = [
            m if s == 0 else None for m, s in zip(self.pd_mean, self.pd_stdev, strict=True)
        ]
        self.startup = [f.startup_delay for f in functions]
        self.has_startup = any(self.startup)
        identity = all(f.resource.is_identity for f in functions)
        self.resource = None if identity else [f.resource.fn for f in functions]
        self.ttl_choices = list(scenario.traffic.config.ttl_choices)
        self.plain_flows = (
            len(self.chain_names) == 1 and not net.egress and len(self.ttl_choices) == 1
        )
        self.round_robin = scenario.schedule_mode is ScheduleMode.ROUND_ROBIN
        self.ingress = [self.node_index[n] for n in net.ingress]
        self.egress = [self.node_index[n] for n in net.egress]
        self.link_index = {link.key: i for i, link in enumerate(net.links)}
        self.link_names = [f"{link.a}-{link.b}" for link in net.links]
        self.run_duration = scenario.run_duration
        self.paths_per_flow = max(len(sfs) for sfs in self.chain_sfs) + 1
        caps = [link.cap for link in net.links if link.cap is not None]
        self.min_link_cap = min(caps, default=float("inf"))
        self.lookahead = max(self.ttl_choices) + 1.0
        # failures change paths under flows on their way: keep hop-by-hop events then
        self.merge_paths = not scenario.failures and not hop_by_hop
        self.track_potential = self.merge_paths and bool(caps)
        self.plain = plain_case(self)  # steps run by ``run_plain_step`` where links are safe
        self.base_seed = scenario.seed if seed is None else seed
        self.episode = 0
        self._paths_cache: dict[tuple[frozenset[str], frozenset[frozenset[str]]], Routes] = {}
        self._compiler = ScheduleCompiler(
            self.node_index, self.chain_index, self.sf_index, self.chain_sfs
        )
        self._placement: tuple[object, dict[int, frozenset[int]]] = (None, {})
        self._hosted: tuple[npt.NDArray[np.bool_] | None, dict[int, frozenset[int]]] = (None, {})
        self._row_keys: dict[tuple[tuple[str, str], ...], tuple[list[int], list[int]]] = {}
        self.report_rows: dict[int, list[tuple[int, str, str, bool]]] = {}  # see observe
        self.reset(self.base_seed)

    # ---------------------------------------------------------------- episode control
    def reset(self, seed: int | None = None) -> Observation:
        """Start a new episode; without a seed, episode k uses the base seed + k."""
        self.seed = self.base_seed + self.episode if seed is None else seed
        self.episode += 1
        self.totals = Totals()  # this episode's
        self.rng = random.Random(self.seed)
        net = self.scenario.network
        self.nodes = [NodeState(node.cap) for node in net.nodes]
        self.links = [LinkState(link.cap) for link in net.links]
        self._down: tuple[frozenset[str], frozenset[frozenset[str]]] = (frozenset(), frozenset())
        traffic = self.scenario.traffic
        self.arrivals = ArrivalProcess(
            traffic.config, net.ingress, traffic.trace, self.seed, self.run_duration
        )
        self.queues = [self.arrivals.queues.get(name, deque()) for name in self.node_ids]
        self.alive_rate = 0.0
        self.lingering = deque()
        config = self.scenario.traffic.config
        self.lingering_sorted = (
            len(set(config.ttl_choices)) == 1
            and config.sizes_deterministic
            and not config.flow_dr_stdev
        )
        self.link_log = []
        self.booked_routes = []
        self.booked_rate = [0.0] * self.n_nodes**2
        self.booked_rate_duration = [0.0] * self.n_nodes**2
        self._start_events()
        self.now = 0.0
        self.step_index = 0
        self.flow_count = 0  # flow ids
        self.generated = 0
        self.successful = 0
        self.dropped = 0
        self.schedule: dict[int, ScheduleEntry] = {}
        self.lazy_rows = None
        self._applied: Decision | None = None
        self._counting: list[ScheduleEntry] = []  # entries whose round robin counts
        self._placed: dict[int, frozenset[int]] = {}
        self.paths = self._compute_paths()
        self.requested = [0.0] * (len(self.node_ids) * len(self.chain_names) * len(self.sf_names))
        self.arrived = [0] * self.n_nodes
        self.drop_counts = [0] * (len(REASONS) * self.n_nodes)
        self.step_delays = []
        self.metrics = StepMetrics(self.episode, 0, 0.0)
        self.recorder = ObservationRecorder(self, random.Random(self.seed ^ 0x5EED))
        self._schedule_controls()
        self.observation = self.recorder.observe()
        return self.observation

    def _schedule_controls(self) -> None:
        rows = self.scenario.traffic.trace
        for time, row in zip(trace_times(rows), rows, strict=True):
            if row.cap is not None:  # the means are the arrival process's business
                self._push(time, CONTROL, (TRACE, row))
        for failure in self.scenario.failures:
            self._push(failure.down_at, CONTROL, (FAIL, failure))
            if failure.up_at is not None:
                self._push(failure.up_at, CONTROL, (REPAIR, failure))

    @property
    def in_flight(self) -> int:
        return self.generated - self.successful - self.dropped

    @property
    def done(self) -> bool:
        return self.step_index >= self.scenario.steps

    def step(self, decision: Decision) -> StepResult:
        """Apply ``decision`` and simulate one control step."""
        self.apply(decision)
        return self._run_step()

    def step_weights(
        self, weights: npt.NDArray[np.float64], rows: Sequence[tuple[str, str]]
    ) -> StepResult:
        """Simulate one control step under a schedule given as (N, R, N) weights (see
        ``apply_weights``)."""
        self.apply_weights(weights, rows)
        return self._run_step()

    def _run_step(self) -> StepResult:
        self.metrics = StepMetrics(self.episode, self.step_index, self.now)
        end = (self.step_index + 1) * self.run_duration
        self.step_end = end
        self._fill_arrivals(self.now, end)
        if self.links_safe and self.plain:
            run_plain_step(self, end)
        else:
            self._run_until(end)
        for node in self.nodes:
            if node.releases and node.releases[0][0] <= end:
                node.release_until(end)
        for link in self.links:
            if link.releases or link.future:  # only after flushes (see _flush_link_log)
                link.release_until(end)
        # a path whose last link is released by now is done (1 ms spares the rounding:
        # flushing looks at each link's own end again)
        self.link_log = [entry for entry in self.link_log if entry[2] > end - 1.0]
        metrics = self._close_step()
        self.step_index += 1
        self.observation = self.recorder.observe()
        return StepResult(self.observation, metrics, self.done)

    def finish(self) -> Totals:
        """Close the episode's books (flows still in flight) and return its totals.
        Call once per episode."""
        self.totals.end_episode(self.in_flight)
        return self.totals

    def apply(self, decision: Decision) -> None:
        repeated = decision is self._applied
        if repeated:  # a policy repeating itself: reuse the compiled form
            table, placed = self.schedule, self._placed
            for entry in self._counting:
                entry.reset()
        else:
            table = self._compiler.compile(decision.schedule)
            placed = self._compile_placement(decision)
        self._applied = decision
        self._install(table, placed, repeated)
        self.lazy_rows = None

    def apply_weights(
        self, weights: npt.NDArray[np.float64], rows: Sequence[tuple[str, str]]
    ) -> None:
        """Apply a schedule given as post-processed (N, R, N) weights: node, (chain, SF)
        row, destination, nodes in network order (DeepCoord's layout). The outcome is
        exactly that of ``apply`` with the Decision ``weights_to_decision`` makes of the
        same weights (an SF placed wherever positive weight sends traffic), without
        making it: what training steps millions of times."""
        rows = tuple(rows)
        keys = self._row_keys.get(rows)
        if keys is None:
            keys = self._row_keys[rows] = (
                self._compiler.row_keys(rows),
                [self.sf_index[sf] for _, sf in rows],
            )
        rows_of = self._compiler.compile_weights(weights, keys[0])
        hosted = cast("npt.NDArray[np.bool_]", (weights > 0).any(axis=0))  # (R, N): r's SF at j
        source, placed = self._hosted
        if source is None or source.shape != hosted.shape or (source != hosted).any():
            placed_sets: dict[int, set[int]] = {}
            for r, j in zip(*hosted.nonzero(), strict=True):
                placed_sets.setdefault(int(j), set()).add(keys[1][r])
            placed = {j: frozenset(sfs) for j, sfs in placed_sets.items()}
            self._hosted = (hosted, placed)
        self._applied = None
        self._install(rows_of.built, placed, repeated=False)
        self.lazy_rows = rows_of

    def _install(
        self, table: dict[int, ScheduleEntry], placed: dict[int, frozenset[int]], repeated: bool
    ) -> None:
        """Start a control step under ``table`` and ``placed``."""
        # coord-sim restarts idle placed instances at every decision; that only matters
        # (and only costs) where an SF has a startup delay; an unchanged placement
        # changes nothing else
        restart = self.has_startup or (not repeated and placed is not self._placed)
        if not repeated:
            self._counting = [entry for entry in table.values() if entry.single < 0]
        self._placed = placed
        now, resource = self.now, self.resource
        for i, state in enumerate(self.nodes):
            if state.releases and state.releases[0][0] <= now:
                state.release_until(now)
            if restart:
                state.place(placed.get(i, frozenset()), now)
            state.max_usage = state.load if resource is None else state.usage(resource)
        for link in self.links:
            link.rate_time = 0.0
        self.schedule = table
        self.requested = [0.0] * len(self.requested)
        self.arrived = [0] * self.n_nodes
        self.drop_counts = [0] * len(self.drop_counts)
        self.step_delays = []

    def _compile_placement(self, decision: Decision) -> dict[int, frozenset[int]]:
        source, placed = self._placement
        if decision.placement != source:  # policies often repeat the placement
            placed = {}
            for name, sfs in decision.placement.items():
                node_i = lookup(self.node_index, name, "node")
                placed[node_i] = frozenset(
                    lookup(self.sf_index, sf, "service function") for sf in sfs
                )
            self._placement = (dict(decision.placement), placed)
        return placed

    # ---------------------------------------------------------------- control events
    def _on_control(self, payload: object, time: float) -> None:
        assert isinstance(payload, tuple)
        kind: int = payload[0]
        item: object = payload[1]
        if kind == TRACE:
            assert isinstance(item, TraceRow)
            if item.cap is not None and item.node in self.node_index:
                self.nodes[self.node_index[item.node]].cap = item.cap
        else:
            assert isinstance(item, Failure)
            self._set_failure(item, down=kind == FAIL, time=time)

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
        self._down = self._find_down()
        self.paths = self._compute_paths()

    @property
    def down_nodes(self) -> frozenset[str]:
        return self._down[0]

    @property
    def down_links(self) -> frozenset[frozenset[str]]:
        return self._down[1]

    def _find_down(self) -> tuple[frozenset[str], frozenset[frozenset[str]]]:
        links = self.scenario.network.links
        return (
            frozenset(self.node_ids[i] for i, node in enumerate(self.nodes) if node.down),
            frozenset(links[i].key for i, link in enumerate(self.links) if link.down),
        )

    def _compute_paths(self) -> Routes:
        key = self._down
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
        hops: list[tuple[int, int, float]] = []
        for a, b in zip(path.nodes, path.nodes[1:], strict=False):
            link = self.scenario.network.links[self.link_index[frozenset((a, b))]]
            hops.append((self.node_index[b], self.link_index[link.key], link.delay))
        delays = tuple(delay for _, _, delay in hops)
        caps = self.scenario.network.links
        capped = tuple((i, delay) for _, i, delay in hops if caps[i].cap is not None)
        return tuple(hops), path.delay, delays, capped

    def _close_step(self) -> StepMetrics:
        if self.booked_routes:
            self._settle_bookings()
        metrics = self.metrics
        metrics.generated = sum(self.arrived)
        metrics.successful = len(self.step_delays)
        metrics.delays = self.step_delays
        n, drops, by_node = self.n_nodes, metrics.drops, metrics.drops_by_node
        for r, reason in enumerate(REASONS):
            counts = self.drop_counts[r * n : (r + 1) * n]
            drops[reason] = total = sum(counts)
            if total:
                for i, count in enumerate(counts):
                    if count:
                        name = self.node_ids[i]
                        by_node[name] = by_node.get(name, 0) + count
        metrics.dropped = sum(drops.values())
        self.generated += metrics.generated
        self.successful += metrics.successful
        self.dropped += metrics.dropped
        metrics.in_flight = self.in_flight
        metrics.node_utilisation = {
            node_id: node.max_usage / node.cap if node.cap else 0.0
            for node_id, node in zip(self.node_ids, self.nodes, strict=True)
        }
        duration, utilisation = self.run_duration, metrics.link_utilisation
        for name, state in zip(self.link_names, self.links, strict=True):
            if state.cap:
                utilisation[name] = state.rate_time / duration / state.cap
        self.totals.add_step(metrics)
        return metrics
