"""One control step of the common case in one function: the hot loop without calls.

The common case: no failures (paths are booked, see ``FlowCore._book_path``), no link
that can fill this step (``links_safe``), one chain, no egress nodes, one TTL, no
startup delays and plain resource use (demand is load). DeepCoord's scenarios, training
and evaluation are all of this kind. The loop does what ``FlowCore._run_until`` and the
handlers it calls do, in the same order with the same arithmetic and the same random
draws, so that a seed gives the same outcome flow for flow (tests/sim/test_fastpath.py
runs both). Anything else, or a flow still on a path entered hop by hop, goes through
the general handlers.

Each event ends in up to three stages, always in this order: ADVANCE (choose where the
flow's next SF runs), PROCESS (start processing here), BOOK (book the path to the next
node). Written for speed: local names only, no calls on the common path; that is why it
is one long function. Installed, it is compiled by Cython with the C types of
``fastpath.pxd`` (see ``agent.sim``): a local typed there must only ever hold that type.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect, insort
from typing import TYPE_CHECKING

from agent.sim.core import DECISION, FAILURE, HOP, NODE_CAP, PROCESSED, TTL, FlowCore
from agent.sim.flows import EPS, Flow

if TYPE_CHECKING:
    from agent.sim.core import Route

_NONE, _ADVANCE, _PROCESS, _BOOK = range(4)
# FlowCore's handlers that the loop inlines: a subclass that replaces one runs the general loop
HANDLERS = (
    "_run_until",
    "_on_arrival",
    "_draw_flow_details",
    "_advance",
    "_book_path",
    "_process",
    "_depart_early",
    "_succeed",
    "_drop",
)


def plain_case(core: FlowCore) -> bool:
    """Whether ``run_plain_step`` may run the scenario's steps (where links are safe):
    not for a simulator whose handlers a subclass replaced (the loop does not call them)."""
    kind = type(core)
    return (
        all(getattr(kind, name) is getattr(FlowCore, name) for name in HANDLERS)
        and core.merge_paths
        and core.plain_flows
        and core.resource is None
        and not core.has_startup
        and core.n_chains == 1
        and not core.egress
    )


def run_plain_step(core: FlowCore, end: float) -> None:
    """Run every event before ``end`` (see ``FlowCore._run_until``); for steps of the
    common case (``plain_case``) in which ``core.links_safe`` holds."""
    events, pop, push, seq = core.events, heapq.heappop, heapq.heappush, core._seq
    nodes, queues, paths = core.nodes, core.queues, core.paths
    booked, booked_rate, booked_rate_duration = (
        core.booked_routes,
        core.booked_rate,
        core.booked_rate_duration,
    )
    schedule, lazy, round_robin, rng = core.schedule, core.lazy_rows, core.round_robin, core.rng
    requested, arrived, drops, delays = (
        core.requested,
        core.arrived,
        core.drop_counts,
        core.step_delays,
    )
    fixed, pd_mean, pd_stdev, uniform = core.fixed_delay, core.pd_mean, core.pd_stdev, rng.random
    n, n_sfs, sfs = core.n_nodes, core.n_sfs, core.chain_sfs[0]
    last_pos, ttl0 = len(sfs), core.ttl_choices[0]
    track, lingering, in_order = core.track_potential, core.lingering, core.lingering_sorted
    log, alive, flow_count = core.link_log, core.alive_rate, core.flow_count
    arrivals, stop = core.step_arrivals, (end, -math.inf, -1)
    arrivals.append(stop)
    next_arrival = iter(arrivals).__next__
    arrival = next_arrival()
    flow: Flow
    path: Route  # the route to book
    while True:
        # ---------------------------------------------------------- the next event
        if not events or arrival < events[0]:
            if arrival is stop:
                break
            time, _, here = arrival
            arrival = next_arrival()
            _, rate, size = queues[here].popleft()
            flow_count += 1
            flow = Flow(flow_count, 0, rate, size / rate * 1000.0, ttl0, here, -1)
            flow.sfs = sfs
            arrived[here] += 1
            if track:
                alive += rate
                entry = (time + ttl0 + flow.duration, rate)
                if in_order:
                    lingering.append(entry)
                else:
                    insort(lingering, entry)
            stage = _ADVANCE
        else:
            time, _, kind, payload = pop(events)
            if kind == HOP:
                flow = payload  # type: ignore[assignment]
                hops = flow.hops
                i = flow.hop_i
                flow.node = hops[i][0]
                flow.hop_i = i = i + 1
                if i < len(hops):  # a path entered hop by hop in an earlier step
                    core._enter_links(flow, time)
                    log = core.link_log  # flushed: a new list
                    continue
                flow.delay += flow.path_delay
                flow.ttl -= flow.path_delay
                if flow.to_egress:
                    delays.append(flow.delay)
                    continue
                stage = _PROCESS
            elif kind == PROCESSED:
                flow = payload  # type: ignore[assignment]
                node = nodes[flow.node]
                push(node.releases, (time + flow.duration, next(seq), flow.sf, flow.rate))
                flow.pos += 1
                if flow.pos == last_pos:
                    flow.to_egress = True
                stage = _ADVANCE
            else:
                core.now = time
                core._on_control(payload, time)
                continue
        # ---------------------------------------------------------- ADVANCE
        if stage == _ADVANCE:
            if flow.ttl <= 0:
                drops[TTL * n + flow.node] += 1
                continue
            here = flow.node
            if flow.to_egress:  # no egress nodes: the flow leaves here
                delays.append(flow.delay)
                continue
            sf = flow.sf = sfs[flow.pos]
            key = here * n_sfs + sf
            requested[key] += flow.rate
            chosen = schedule.get(key)
            if chosen is None and lazy is not None:
                chosen = lazy.entry(key)
            if chosen is None:
                drops[DECISION * n + here] += 1
                continue
            target = chosen.single
            if target < 0:  # ScheduleEntry.round_robin and .sample, spelt out
                if round_robin:
                    sequence, sent = chosen.sequence, chosen.sent
                    if sequence is not None and sent < len(sequence.order):
                        target = chosen.dests[sequence.order[sent]]
                        chosen.sent = sent + 1
                    else:
                        target = chosen.round_robin()
                elif chosen.total > 0.0:
                    target = chosen.dests[
                        bisect(chosen.cum, uniform() * chosen.total, 0, chosen.last)
                    ]
                if target < 0:
                    drops[DECISION * n + here] += 1
                    continue
            if target == here:
                stage = _PROCESS
            else:
                pkey = here * n + target
                route = paths.get(pkey)
                if route is None:
                    drops[FAILURE * n + here] += 1
                    continue
                path = route
                flow.hops, flow.path_delay = route[0], route[1]
                if flow.ttl - flow.path_delay <= 0:
                    flow.ttl = 0
                    drops[TTL * n + here] += 1
                    continue
                start = time
                stage = _BOOK
        # ---------------------------------------------------------- PROCESS
        if stage == _PROCESS:
            here = flow.node
            node = nodes[here]
            sf = flow.sf
            if sf not in node.placed:
                drops[(TTL if flow.ttl <= 0 else NODE_CAP) * n + here] += 1
                continue
            delay = fixed[sf]
            if delay is None:
                delay = abs(rng.gauss(pd_mean[sf], pd_stdev[sf]))
            ttl = flow.ttl - delay
            if ttl <= 0:
                flow.ttl = 0
                drops[TTL * n + here] += 1
                continue
            flow.delay += delay
            flow.ttl = ttl
            releases = node.releases
            if releases and releases[0][0] <= time:  # NodeState.release_until, spelt out
                load, instances = node.load, node.instances
                while releases and releases[0][0] <= time:
                    _, _, held_sf, held = pop(releases)
                    instance = instances[held_sf]
                    left = instance[0] - held
                    if left < EPS:
                        left = 0.0
                        if held_sf not in node.placed:
                            del instances[held_sf]
                    instance[0] = left
                    load -= held
                node.load = 0.0 if load < EPS else load
            rate = flow.rate
            demand = node.load + rate
            if demand > node.cap:
                drops[NODE_CAP * n + here] += 1
                continue
            node.instances[sf][0] += rate
            node.load = demand
            if demand > node.max_usage:
                node.max_usage = demand
            done = time + delay
            stage = _NONE
            if done < end:  # settle what happens when processing ends, where it can
                pos = flow.pos + 1
                if pos == last_pos:  # done: the flow leaves here
                    push(releases, (done + flow.duration, next(seq), sf, rate))
                    flow.pos = pos
                    flow.to_egress = True
                    delays.append(flow.delay)
                    continue
                key = here * n_sfs + sfs[pos]
                chosen = schedule.get(key)
                if chosen is None and lazy is not None:
                    chosen = lazy.entry(key)
                if chosen is not None and chosen.single >= 0 and chosen.single != here:
                    pkey = here * n + chosen.single
                    route = paths.get(pkey)
                    if route is not None and ttl - route[1] > 0:
                        push(releases, (done + flow.duration, next(seq), sf, rate))
                        flow.pos = pos
                        flow.sf = sfs[pos]
                        requested[key] += rate
                        path = route
                        flow.hops, flow.path_delay = route[0], route[1]
                        start = done
                        stage = _BOOK
            if stage == _NONE:
                flow.epoch = node.epoch
                push(events, (done, flow.id * 4 + PROCESSED, PROCESSED, flow))
                continue
        # ---------------------------------------------------------- BOOK
        if stage == _BOOK:  # FlowCore._book_path, link usage summed by route
            rate, duration, hops = flow.rate, flow.duration, path[0]
            begin = start
            for delay in path[2]:
                start += delay
            if track:
                log.append((hops, begin, start + duration, rate, duration))
            if path[3]:
                if not booked_rate[pkey]:
                    booked.append(pkey)
                booked_rate[pkey] += rate
                booked_rate_duration[pkey] += rate * duration
            flow.hop_i = len(hops) - 1
            push(events, (start, flow.id * 4 + HOP, HOP, flow))
    core.flow_count, core.alive_rate = flow_count, alive
    core.step_arrivals = []
    core.now = end
