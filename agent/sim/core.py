"""The per-flow event handling: the simulator's hot loop.

Three kinds of event carry flows: ARRIVAL (a flow enters at an ingress), HOP (a flow
reaches the next node of a path) and PROCESSED (an SF finished with it). Everything
else a flow does happens at once inside ``_advance``: choose the next node from the
schedule, check TTL, start the path (holding the first link) or start processing.
The code is written for speed (local names, few calls); the semantics are coord-sim's,
see :mod:`agent.sim.engine`.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import insort
from collections import deque
from collections.abc import Callable
from itertools import count
from typing import TYPE_CHECKING

from agent.sim.flows import Flow, LinkState, NodeState
from agent.sim.metrics import REASONS, DropReason, StepMetrics
from agent.sim.schedule import ScheduleEntry, WeightRows

if TYPE_CHECKING:
    from agent.sim.arrivals import ArrivalProcess

ARRIVAL, HOP, PROCESSED, CONTROL = range(4)
# Events at equal times run in a fixed order that does not depend on when they were
# queued (so that shortcuts which queue fewer events change nothing): control events,
# then arrivals by ingress, then flows oldest first.
_CONTROL_FIRST = 1 << 60
# drop reasons by index into REASONS
NODE_CAP, LINK_CAP, TTL, DECISION, FAILURE = (REASONS.index(r.value) for r in DropReason)

# A route, keyed src * n + dst: hops (next node, link, link delay), the path delay, the
# link delays alone and the capacitated links (link, delay).
Hops = tuple[tuple[int, int, float], ...]
Route = tuple[Hops, float, tuple[float, ...], tuple[tuple[int, float], ...]]
Routes = dict[int, Route]


class FlowCore:
    """State and handlers that every flow event touches. Subclassed by Simulator."""

    # static, set by the subclass
    node_ids: list[str]
    chain_sfs: list[tuple[int, ...]]
    n_chains: int
    n_sfs: int
    pd_mean: list[float]
    pd_stdev: list[float]
    fixed_delay: list[float | None]  # the processing delay where it is not drawn
    startup: list[float]
    has_startup: bool
    resource: list[Callable[[float], float]] | None
    egress: list[int]
    ttl_choices: list[float]
    round_robin: bool
    node_index: dict[str, int]
    paths_per_flow: int  # longest chain + 1: a flow's paths, each crossing a link at most once
    min_link_cap: float
    lookahead: float
    merge_paths: bool
    track_potential: bool  # merging with capacitated links needs the potential bound
    step_end: float
    links_safe: bool  # no link can fill during this step (see _links_cannot_fill)
    # per episode
    rng: random.Random
    alive_rate: float
    lingering: deque[tuple[float, float]]  # (end of a flow's last holding, rate), in order
    lingering_sorted: bool  # every flow lingers equally long: append keeps the order
    queues: list[deque[tuple[float, float, float]]]  # arrivals drawn ahead, by node index
    plain_flows: bool  # one chain, no egress nodes, one TTL
    # booked paths: hops, start, end (about: the last link's), rate, duration
    link_log: list[tuple[Hops, float, float, float, float]]
    # rate and rate x duration booked this step per route (by key), for links' rate_time
    booked_routes: list[int]
    booked_rate: list[float]
    booked_rate_duration: list[float]
    arrivals: ArrivalProcess
    nodes: list[NodeState]
    links: list[LinkState]
    paths: Routes
    schedule: dict[int, ScheduleEntry]
    lazy_rows: WeightRows | None  # rows of a weights schedule, built on first use
    requested: list[float]
    arrived: list[int]  # flows that entered at each node this step
    drop_counts: list[int]  # this step's drops, index reason * n_nodes + node
    step_delays: list[float]  # end-to-end delays of this step's successful flows
    n_nodes: int
    metrics: StepMetrics
    events: list[tuple[float, int, int, object]]
    step_arrivals: list[tuple[float, float, int]]  # this step's: (time, order, node), in order
    now: float
    flow_count: int
    successful: int
    dropped: int

    def _start_events(self) -> None:
        self.events = []
        self._seq = count()

    def _push(self, time: float, kind: int, payload: object) -> None:
        """Queue a control event (failures, trace capacity changes): at equal times
        these come first, in the order queued."""
        heapq.heappush(self.events, (time, next(self._seq) - _CONTROL_FIRST, kind, payload))

    def _run_until(self, end: float) -> None:
        """Run every event before ``end``: the queued ones and this step's arrivals,
        merged in (time, order) as if the arrivals were queued too."""
        events, pop, push, seq = self.events, heapq.heappop, heapq.heappush, self._seq
        nodes, advance, enter, process = self.nodes, self._advance, self._enter_links, self._process
        failures = not self.merge_paths  # only scenarios with failures take nodes down
        arrivals, stop = self.step_arrivals, (end, -math.inf, -1)  # after all before end
        arrivals.append(stop)
        next_arrival = iter(arrivals).__next__
        arrival = next_arrival()
        while True:
            if not events or arrival < events[0]:
                if arrival is stop:
                    break
                self.now = time = arrival[0]
                self._on_arrival(arrival[2], time)
                arrival = next_arrival()
                continue
            time, _, kind, payload = pop(events)  # before ``arrival``, so before ``end``
            if kind == HOP:
                flow: Flow = payload  # type: ignore[assignment]
                hops = flow.hops
                i = flow.hop_i
                node_i = hops[i][0]
                flow.node = node_i
                flow.hop_i = i = i + 1
                if failures and nodes[node_i].down:
                    self._drop(flow, FAILURE)
                elif i < len(hops):
                    enter(flow, time)
                else:
                    flow.delay += flow.path_delay
                    flow.ttl -= flow.path_delay
                    if flow.to_egress:
                        self.step_delays.append(flow.delay)
                    else:
                        process(flow, time)
            elif kind == PROCESSED:
                flow = payload  # type: ignore[assignment]
                node = nodes[flow.node]
                if node.down or node.epoch != flow.epoch:
                    self._drop(flow, FAILURE)
                    continue
                push(node.releases, (time + flow.duration, next(seq), flow.sf, flow.rate))
                flow.pos += 1
                if flow.pos == len(flow.sfs):
                    flow.to_egress = True
                advance(flow, time)
            else:
                self.now = time
                self._on_control(payload, time)
        self.step_arrivals = []
        self.now = end

    def _on_control(self, payload: object, time: float) -> None:
        raise NotImplementedError

    def _fill_arrivals(self, start: float, end: float) -> None:
        """Draw arrivals up to ``end`` plus the look-ahead that merging needs, list this
        step's in the order they enter (time, then ingress), and decide for the whole
        step whether links can fill (see ``_links_cannot_fill``)."""
        self.arrivals.fill(end + self.lookahead)
        step: list[tuple[float, float, int]] = []
        n = self.n_nodes
        for node, queue in enumerate(self.queues):
            for arrival in queue:
                if arrival[0] >= end:
                    break
                step.append((arrival[0], node - n, node))
        step.sort()
        self.step_arrivals = step
        self.links_safe = self._links_cannot_fill(start)

    def _on_arrival(self, node: int, time: float) -> None:
        _, rate, size = self.queues[node].popleft()
        if self.plain_flows:  # one chain, no egress nodes, one TTL: nothing to draw
            chain, egress, ttl = 0, -1, self.ttl_choices[0]
        else:
            chain, egress, ttl = self._draw_flow_details()
        self.flow_count += 1
        flow = Flow(self.flow_count, chain, rate, size / rate * 1000.0, ttl, node, egress)
        flow.sfs = self.chain_sfs[chain]
        self.arrived[node] += 1
        if self.track_potential:
            # all a flow does ends within its TTL; its link holdings one duration later
            self.alive_rate += rate
            entry = (time + ttl + flow.duration, rate)
            if self.lingering_sorted:
                self.lingering.append(entry)
            else:
                insort(self.lingering, entry)
        if self.merge_paths or not self.nodes[node].down:  # only failures take nodes down
            self._advance(flow, time)
        else:
            self._drop(flow, FAILURE)

    def _draw_flow_details(self) -> tuple[int, int, float]:
        rng, ttls = self.rng, self.ttl_choices
        chain = rng.randrange(self.n_chains) if self.n_chains > 1 else 0
        egress = rng.choice(self.egress) if self.egress else -1
        ttl = ttls[0] if len(ttls) == 1 else rng.choice(ttls)
        return chain, egress, ttl

    def _advance(self, flow: Flow, time: float) -> None:
        """Decide where the flow goes next and set it on its way."""
        if flow.ttl <= 0:
            self._drop(flow, DECISION)
            return
        here = flow.node
        if flow.to_egress:
            target = flow.egress if flow.egress >= 0 else here
        else:
            sf = flow.sf = flow.sfs[flow.pos]
            key = (here * self.n_chains + flow.chain) * self.n_sfs + sf
            self.requested[key] += flow.rate
            entry = self.schedule.get(key)
            if entry is None and self.lazy_rows is not None:
                entry = self.lazy_rows.entry(key)
            if entry is None:
                self._drop(flow, DECISION)
                return
            target = entry.single
            if target < 0:
                target = entry.round_robin() if self.round_robin else entry.sample(self.rng)
            if target < 0:
                self._drop(flow, DECISION)
                return
        if target == here:
            if flow.ttl <= 0:
                self._drop(flow, LINK_CAP)
            elif flow.to_egress:
                self._succeed(flow)
            else:
                self._process(flow, time)
            return
        route = self.paths.get(here * self.n_nodes + target)
        if route is None or self.nodes[target].down:
            self._drop(flow, FAILURE)
            return
        flow.hops, flow.path_delay = route[0], route[1]
        if flow.ttl - flow.path_delay <= 0:
            flow.ttl = 0
            self._drop(flow, LINK_CAP)
            return
        flow.hop_i = 0
        if self.merge_paths and self.links_safe:
            self._book_path(flow, time)
        else:
            self._enter_links(flow, time)

    def _links_cannot_fill(self, time: float) -> bool:
        """True if no capacitated link can run full before a path started now ends:
        every flow that can hold a link until then (born less than TTL + duration ago,
        or arriving within the look-ahead, which covers any TTL), holding it on each of
        its paths at once, still fits the smallest link capacity. Then per-hop checks
        cannot fail and may be skipped without changing any outcome.

        Checked once per step, after the step's arrivals are drawn: an arrival only
        moves its rate from pending to alive and expiries only lower the sum, so a
        bound that holds at the start of the step holds until its end."""
        if not self.track_potential:
            return True
        lingering = self.lingering
        while lingering and lingering[0][0] <= time:
            self.alive_rate -= lingering.popleft()[1]
        potential = self.alive_rate + self.arrivals.pending_rate
        return potential * self.paths_per_flow <= self.min_link_cap

    def _book_path(self, flow: Flow, start: float) -> None:
        """Hold every link of the path, each from the time the flow will enter it (the
        path starts at ``start``), and jump to the end of the path: one event instead
        of one per hop. The holdings are logged by path (see ``_flush_link_log``)."""
        rate, duration, hops = flow.rate, flow.duration, flow.hops
        links, begin = self.links, start
        for _, link_i, delay in hops:
            link = links[link_i]
            if link.cap is not None:
                link.rate_time += rate * (delay + duration)
            start += delay
        if self.track_potential:  # capacitated links: log the holdings
            self.link_log.append((hops, begin, start + duration, rate, duration))
        flow.hop_i = len(hops) - 1
        heapq.heappush(self.events, (start, flow.id * 4 + HOP, HOP, flow))

    def _settle_bookings(self) -> None:
        """Add the step's bookings summed by route (``run_plain_step``) to the links'
        rate x time: per link, the sum over flows of rate x (delay + duration)."""
        links, paths = self.links, self.paths
        rates, rate_durations = self.booked_rate, self.booked_rate_duration
        for key in self.booked_routes:
            rate, rate_duration = rates[key], rate_durations[key]
            for link_i, delay in paths[key][3]:
                links[link_i].rate_time += rate * delay + rate_duration
            rates[key] = rate_durations[key] = 0.0
        self.booked_routes = []

    def _flush_link_log(self, time: float) -> None:
        """Enter booked holdings into the links' exact accounting. Booking only logs
        them, one entry per path: while no link can fill nobody needs exact link
        usage, and that saves two heap operations per hop. Each link is held from
        entering it until ``duration`` after leaving it, as ``_enter_links`` holds it."""
        links = self.links
        for hops, start, _, rate, duration in self.link_log:
            for _, link_i, delay in hops:
                link = links[link_i]
                if link.cap is not None:
                    end = start + (delay + duration)
                    if end > time:
                        link.used += rate
                        heapq.heappush(link.releases, (end, rate))
                        if start > time:
                            link.future_rate += rate
                            heapq.heappush(link.future, (start, rate))
                start += delay
        self.link_log = []

    def _enter_links(self, flow: Flow, time: float) -> None:
        """Hold the next link (and the ones after it while their delay is 0)."""
        if self.link_log:
            self._flush_link_log(time)
        hops, rate = flow.hops, flow.rate
        while True:
            nxt, link_i, delay = hops[flow.hop_i]
            link = self.links[link_i]
            if link.down:
                self._drop(flow, FAILURE)
                return
            cap = link.cap
            if cap is not None:
                if link.used + rate > cap:  # an upper bound; purge and look again
                    link.release_until(time)
                    if link.used - link.future_rate + rate > cap:
                        self._drop(flow, LINK_CAP)
                        return
                link.used += rate
                hold = delay + flow.duration
                link.rate_time += rate * hold
                heapq.heappush(link.releases, (time + hold, rate))
            if delay > 0:
                heapq.heappush(self.events, (time + delay, flow.id * 4 + HOP, HOP, flow))
                return
            flow.node = nxt
            flow.hop_i += 1
            if self.nodes[nxt].down:
                self._drop(flow, FAILURE)
                return
            if flow.hop_i == len(hops):
                flow.delay += flow.path_delay
                flow.ttl -= flow.path_delay
                if flow.to_egress:
                    self._succeed(flow)
                else:
                    self._process(flow, time)
                return

    def _process(self, flow: Flow, time: float) -> None:
        """Start processing the flow's SF at its node, if there is an instance and room."""
        node = self.nodes[flow.node]
        sf = flow.sf
        if sf not in node.placed:
            self._drop(flow, NODE_CAP)
            return
        delay = self.fixed_delay[sf]
        if delay is None:
            delay = abs(self.rng.gauss(self.pd_mean[sf], self.pd_stdev[sf]))
        ttl = flow.ttl - delay
        if ttl <= 0:
            flow.ttl = 0
            self._drop(flow, NODE_CAP)
            return
        flow.delay += delay
        flow.ttl = ttl
        releases = node.releases
        if releases and releases[0][0] <= time:
            node.release_until(time)
        rate = flow.rate
        demand = node.load + rate if self.resource is None else self._demand(node, sf, rate)
        if demand > node.cap:
            self._drop(flow, NODE_CAP)
            return
        node.instances[sf][0] += rate
        node.load += rate
        if demand > node.max_usage:
            node.max_usage = demand
        if self.has_startup:
            delay = self._wait_for_startup(flow, node, time, delay)
            if delay < 0:
                return
        done = time + delay
        if not (self.merge_paths and done < self.step_end and self._depart_early(flow, time, done)):
            flow.epoch = node.epoch
            heapq.heappush(self.events, (done, flow.id * 4 + PROCESSED, PROCESSED, flow))

    def _wait_for_startup(self, flow: Flow, node: NodeState, time: float, delay: float) -> float:
        """Processing delay plus the wait for the instance to finish starting; -1 if the
        flow runs out of TTL waiting (dropped here)."""
        sf, rate = flow.sf, flow.rate
        wait = node.instances[sf][1] + self.startup[sf] - time
        if wait > 0:
            if flow.ttl - wait <= 0:
                flow.ttl = 0
                self._drop(flow, NODE_CAP)  # coord-sim keeps the load here (a leak); we do not
                heapq.heappush(node.releases, (time, next(self._seq), sf, rate))
                return -1.0
            flow.delay += wait
            flow.ttl -= wait
            delay += wait
        return delay

    def _depart_early(self, flow: Flow, time: float, done: float) -> bool:
        """At the start of processing, settle what happens when it ends, where nothing
        can change it: the schedule (fixed until the step ends) sends the next SF to a
        single node, the flow leaves on a path whose links cannot fill (or leaves the
        network here). Then the flow's next event is its arrival for the next SF: one
        event instead of two or more. Anything else waits for the PROCESSED event."""
        pos = flow.pos + 1
        here = flow.node
        finished = pos == len(flow.sfs)
        if finished:
            target = flow.egress if flow.egress >= 0 else here
            key = -1
        else:
            key = (here * self.n_chains + flow.chain) * self.n_sfs + flow.sfs[pos]
            entry = self.schedule.get(key)
            if entry is None and self.lazy_rows is not None:
                entry = self.lazy_rows.entry(key)
            if entry is None or entry.single < 0:
                return False
            target = entry.single
        if target == here:
            if not finished:
                return False  # processed here again: a capacity check at ``done``
            route = None
        else:
            route = self.paths.get(here * self.n_nodes + target)
            if route is None or flow.ttl - route[1] <= 0 or not self.links_safe:
                return False
        heapq.heappush(
            self.nodes[here].releases, (done + flow.duration, next(self._seq), flow.sf, flow.rate)
        )
        flow.pos = pos
        flow.to_egress = finished
        if not finished:
            flow.sf = flow.sfs[pos]
            self.requested[key] += flow.rate
        if route is None:
            self._succeed(flow)
        else:
            flow.hops, flow.path_delay = route[0], route[1]
            self._book_path(flow, done)
        return True

    def _demand(self, node: NodeState, sf: int, rate: float) -> float:
        """Resources the node would use with this flow added, summed over its SFs."""
        rf = self.resource
        assert rf is not None
        return sum(
            rf[s](inst[0] + rate if s == sf else inst[0]) for s, inst in node.instances.items()
        )

    def _succeed(self, flow: Flow) -> None:
        self.step_delays.append(flow.delay)

    def _drop(self, flow: Flow, reason: int) -> None:
        """Count a drop by reason and node; a flow out of TTL always counts as TTL."""
        if flow.ttl <= 0:
            reason = TTL
        self.drop_counts[reason * self.n_nodes + flow.node] += 1
