"""Flow arrivals per ingress node: deterministic, Poisson, two-state MMPP, trace-driven."""

from __future__ import annotations

import random
from dataclasses import dataclass

from agent.model.traffic import TraceRow, TrafficConfig


@dataclass
class FlowDraw:
    inter_arrival: float
    rate: float
    size: float


class ArrivalProcess:
    """Draws inter-arrival times and flow sizes/rates with coord-sim's distributions."""

    def __init__(self, config: TrafficConfig, ingress: list[str], rng: random.Random) -> None:
        self.config = config
        self.ingress = ingress
        self.rng = rng
        self.means: dict[str, float | None] = dict.fromkeys(ingress, config.inter_arrival_mean)
        self.states: dict[str, str] = {}
        if config.use_states and config.states:
            names = list(config.states)
            for node in ingress:
                state = rng.choice(names) if config.rand_init_state else str(config.init_state)
                self.states[node] = state
                self.means[node] = config.states[state].inter_arr_mean

    def draw(self, node: str) -> FlowDraw | None:
        """The next flow at ``node``; None once its arrivals were stopped by a trace."""
        mean = self.means[node]
        if mean is None:
            return None
        cfg, rng = self.config, self.rng
        inter = mean if cfg.deterministic_arrival else rng.expovariate(1.0 / mean)
        while True:
            rate = (
                cfg.flow_dr_mean
                if cfg.flow_dr_stdev == 0
                else rng.gauss(cfg.flow_dr_mean, cfg.flow_dr_stdev)
            )
            # coord-sim's heavy tail: numpy pareto(shape) + 1, i.e. Pareto with scale 1.
            size = (
                cfg.flow_size_shape
                if cfg.deterministic_size
                else rng.paretovariate(cfg.flow_size_shape)
            )
            if rate > 0 and size >= 0:
                return FlowDraw(inter, rate, size)

    def switch_states(self) -> None:
        """One MMPP transition per ingress node, at the end of every control step."""
        states = self.config.states
        if not states:
            return
        first, second = list(states)
        for node, state in self.states.items():
            if self.rng.random() < states[state].switch_p:
                state = second if state == first else first
                self.states[node] = state
                self.means[node] = states[state].inter_arr_mean

    def apply_trace(self, row: TraceRow) -> None:
        if row.node is None:
            for node in self.ingress:
                self.means[node] = row.inter_arrival_mean
        elif row.node in self.means:
            self.means[row.node] = row.inter_arrival_mean


def trace_times(rows: tuple[TraceRow, ...]) -> list[float]:
    """coord-sim applies each trace row 1 ms before its time, never before the previous."""
    times, previous = [], 0.0
    for row in rows:
        previous = max(row.time - 1.0, previous)
        times.append(previous)
    return times
