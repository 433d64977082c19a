"""Flow arrivals per ingress node: deterministic, Poisson, two-state MMPP, trace-driven.

Arrivals do not depend on anything a policy does, so they are drawn ahead of time,
each ingress from its own random stream. Two things follow: the same seed gives every
policy exactly the same traffic (paired comparisons), and the simulator knows, at any
moment, the total rate of the flows that can still enter before a given time, which
lets it skip per-hop events where no link can run out of capacity.

Distributions are coord-sim's: exponential or fixed inter-arrival times with the mean
in force when the previous flow arrived; rate normal(mean, stdev) redrawn while not
positive; size fixed or Pareto(shape) with scale 1; the MMPP switches state at every
control-step boundary with the state's switch probability; trace rows apply 1 ms
before their time. Where a trace is given it decides the means (coord-sim warns that
trace and MMPP together behave unpredictably).
"""

from __future__ import annotations

import bisect
import math
import random
from collections import deque

from agent.model.traffic import TraceRow, TrafficConfig

# A drawn flow: (arrival time, data rate, size)
Arrival = tuple[float, float, float]


class ArrivalProcess:
    def __init__(
        self,
        config: TrafficConfig,
        ingress: list[str],
        trace: tuple[TraceRow, ...],
        seed: int,
        run_duration: float,
    ) -> None:
        self.config = config
        self.ingress = ingress
        self.run_duration = run_duration
        self.rngs = {node: random.Random(f"arrivals/{seed}/{node}") for node in ingress}
        self.queues: dict[str, deque[Arrival]] = {node: deque() for node in ingress}
        self.next_time: dict[str, float | None] = dict.fromkeys(ingress, 0.0)
        self.timelines = _trace_timelines(trace, ingress)
        self.states: dict[str, list[str]] = {}
        if config.use_states and config.states and not trace:
            names = list(config.states)
            for node in ingress:
                rng = self.rngs[node]
                first = rng.choice(names) if config.rand_init_state else str(config.init_state)
                self.states[node] = [first]

    def mean_at(self, node: str, time: float) -> float | None:
        """Mean inter-arrival time in force at ``time`` (None: arrivals stopped)."""
        timeline = self.timelines.get(node)
        if timeline:
            times, means = timeline
            i = bisect.bisect_right(times, time) - 1
            return means[i] if i >= 0 else self.config.inter_arrival_mean
        states = self.states.get(node)
        if states is None:
            return self.config.inter_arrival_mean
        assert self.config.states is not None
        step = int(time // self.run_duration)
        while len(states) <= step:
            states.append(self._switch(node, states[-1]))
        return self.config.states[states[step]].inter_arr_mean

    def _switch(self, node: str, state: str) -> str:
        states = self.config.states
        assert states is not None
        first, second = list(states)
        if self.rngs[node].random() < states[state].switch_p:
            return second if state == first else first
        return state

    def fill(self, until: float) -> list[str]:
        """Draw every flow arriving up to ``until``; returns the ingress nodes whose queue
        was empty and now is not."""
        woken = []
        constant = not self.timelines and not self.states
        for node in self.ingress:
            queue = self.queues[node]
            was_empty = not queue
            if constant:
                self._fill_constant(node, until)
            while (time := self.next_time[node]) is not None and time <= until:
                self._draw(node, time)
            if was_empty and queue:
                woken.append(node)
        return woken

    def _fill_constant(self, node: str, until: float) -> None:
        """The common case (one fixed mean) without per-flow calls; same draws as _draw."""
        cfg, rng, append = self.config, self.rngs[node], self.queues[node].append
        mean, stdev, shape = cfg.inter_arrival_mean, cfg.flow_dr_stdev, cfg.flow_size_shape
        fixed_size, fixed_arrival = cfg.deterministic_size, cfg.deterministic_arrival
        time, rate, size = self.next_time[node], cfg.flow_dr_mean, shape
        uniform, lambd = rng.random, (1.0 / mean if not fixed_arrival else 0.0)
        if not stdev and fixed_size and rate > 0 and size >= 0 and not fixed_arrival:
            # every flow alike, Poisson arrivals (DeepCoord's): one draw per flow
            while time is not None and time <= until:
                append((time, rate, size))
                time += -math.log(1.0 - uniform()) / lambd
            self.next_time[node] = time
            return
        while time is not None and time <= until:
            while True:
                if stdev:
                    rate = rng.gauss(cfg.flow_dr_mean, stdev)
                if not fixed_size:
                    size = _pareto(rng, shape)
                if rate > 0 and size >= 0:
                    break
            append((time, rate, size))
            # rng.expovariate(lambd), spelt out: the same draw without a call
            time += mean if fixed_arrival else -math.log(1.0 - uniform()) / lambd
        self.next_time[node] = time

    def _draw(self, node: str, time: float) -> None:
        mean = self.mean_at(node, time)
        if mean is None:
            self.next_time[node] = None  # coord-sim never restarts a stopped ingress
            return
        cfg, rng = self.config, self.rngs[node]
        while True:
            rate = cfg.flow_dr_mean
            if cfg.flow_dr_stdev:
                rate = rng.gauss(cfg.flow_dr_mean, cfg.flow_dr_stdev)
            size = cfg.flow_size_shape
            if not cfg.deterministic_size:
                size = _pareto(rng, cfg.flow_size_shape)
            if rate > 0 and size >= 0:
                break
        self.queues[node].append((time, rate, size))
        inter = mean if cfg.deterministic_arrival else rng.expovariate(1.0 / mean)
        self.next_time[node] = time + inter

    @property
    def pending_rate(self) -> float:
        """Total rate of the flows drawn that have not arrived yet."""
        rate = self.config.flow_dr_mean
        if not self.config.flow_dr_stdev and float(rate).is_integer():
            # every flow has this rate, a whole number: the sum below, exactly, at once
            return sum(map(len, self.queues.values())) * float(rate)
        return sum(rate for queue in self.queues.values() for _, rate, _ in queue)

    def head(self, node: str) -> float | None:
        queue = self.queues[node]
        return queue[0][0] if queue else None

    def pop(self, node: str) -> Arrival:
        return self.queues[node].popleft()


def _pareto(rng: random.Random, shape: float) -> float:
    """Pareto(shape) with scale 1; infinite where the draw overflows a float (shapes
    below about 0.05), as numpy's draw, which coord-sim uses, gives it."""
    try:
        return rng.paretovariate(shape)
    except OverflowError:
        return math.inf


def _trace_timelines(
    rows: tuple[TraceRow, ...], ingress: list[str]
) -> dict[str, tuple[list[float], list[float | None]]]:
    """Per ingress, the times at which the mean changes and the new means."""
    timelines: dict[str, tuple[list[float], list[float | None]]] = {}
    for time, row in zip(trace_times(rows), rows, strict=True):
        for node in ingress if row.node is None else [row.node]:
            if node in ingress:
                times, means = timelines.setdefault(node, ([], []))
                times.append(time)
                means.append(row.inter_arrival_mean)
    return timelines


def trace_times(rows: tuple[TraceRow, ...]) -> list[float]:
    """coord-sim applies each trace row 1 ms before its time, never before the previous."""
    times, previous = [], 0.0
    for row in rows:
        previous = max(row.time - 1.0, previous)
        times.append(previous)
    return times
