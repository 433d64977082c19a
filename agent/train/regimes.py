"""Regimes of a scenario, randomised episodes over them, and a teacher that reacts.

A *regime* is a steady state a scenario passes through: every ingress at some mean
inter-arrival time (or off), some nodes down. ``stationary`` turns a regime into a
scenario of its own (a trace row per ingress at time 0, the failed nodes down from the
start), on which ``schedule_search`` finds a static schedule for that regime alone.

``RegimeTeacher`` holds one such schedule per regime and, at every step, plays the one
whose regime best explains the observation: among the regimes whose failed nodes are all
down in the observation (``Observation.down_nodes``; the most of them first), the one
under which the observed ingress rates are likeliest (Poisson counts per control step,
read as a Gaussian: variance ``expected x rate_unit / interval`` in observation units).
It reads only the observation, as any policy.

``RegimeOracle`` is the same teacher told the truth: it plays the schedule of the regime
in force (``regime_in_force``: the scenario's own trace and failures at the decision's
time). No policy can see that; it is the ceiling of switching schedules by regime, and
shows whether a scenario's regimes are worth telling apart at all.

``Randomisation`` draws the training episodes (domain randomisation): every ingress's
rate scaled, an ingress switched off, one ingress at double rate for a random window, a
node failing at a random time. ``randomised`` applies one draw to a scenario; the
draws follow their seed alone.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from agent.model.deepcoord import CoordinationLayout
from agent.model.scenario import Failure, Scenario
from agent.model.traffic import TraceRow
from agent.model.types import Decision, Observation

Array = npt.NDArray[np.float64]
TEACHER_NAME = "regime-teacher"


@dataclass(frozen=True)
class Regime:
    """Per ingress its mean inter-arrival time in ms (None: no arrivals); nodes down."""

    name: str
    means: tuple[tuple[str, float | None], ...]
    down: frozenset[str] = frozenset()


def base_means(scenario: Scenario, at: float = 0.0) -> dict[str, float | None]:
    """Each ingress's mean inter-arrival time in force at ``at`` ms (trace rows included)."""
    means: dict[str, float | None] = dict.fromkeys(
        scenario.network.ingress, scenario.traffic.config.inter_arrival_mean
    )
    for row in scenario.traffic.trace:
        if row.time - 1.0 > at:  # rows apply 1 ms early (coord-sim)
            continue
        for node in means if row.node is None else [row.node]:
            if node in means:
                means[node] = row.inter_arrival_mean
    return means


def regime(name: str, means: dict[str, float | None], down: Sequence[str] = ()) -> Regime:
    return Regime(name, tuple(sorted(means.items())), frozenset(down))


def stationary(base: Scenario, state: Regime) -> Scenario:
    """``base`` held in ``state`` for the whole episode."""
    rows = tuple(TraceRow(0.0, node, mean) for node, mean in state.means)
    failures = tuple(Failure(0.0, None, node) for node in sorted(state.down))
    traffic = replace(base.traffic, trace=rows)
    return replace(base, name=f"{base.name}@{state.name}", traffic=traffic, failures=failures)


def expected_rates(layout: CoordinationLayout, state: Regime, rate_mean: float) -> Array:
    """The ingress part of the observation vector that ``state`` leads to on average."""
    out = np.zeros(layout.n_nodes)
    for node, mean in state.means:
        if mean is not None and node in layout.nodes:
            out[layout.nodes.index(node)] = layout.rate_unit_ms / mean * rate_mean
    return out


class RegimeTeacher:
    """Plays the schedule of the regime that best explains each observation."""

    def __init__(
        self,
        layout: CoordinationLayout,
        regimes: Sequence[Regime],
        schedules: Sequence[Array],
        rate_mean: float = 1.0,
        interval: float = 100.0,
    ) -> None:
        self.name = TEACHER_NAME
        self.layout = layout
        self.regimes = list(regimes)
        self.schedules = list(schedules)
        self.expected = np.stack([expected_rates(layout, r, rate_mean) for r in regimes])
        self.variance = np.maximum(self.expected, 0.05) * layout.rate_unit_ms / interval
        self.decisions = [layout.decision(w, TEACHER_NAME) for w in schedules]
        self._obs = np.zeros(layout.obs_size, dtype=np.float32)

    def choose(self, observation: Observation, failures: bool = True) -> int:
        """Index of the regime that best explains ``observation`` (``failures`` False:
        of the regimes without failed nodes, from the ingress rates alone)."""
        rates = self.layout.observe(observation, out=self._obs)[: self.layout.n_nodes]
        down = observation.down_nodes if failures else frozenset()
        fitting = [k for k, r in enumerate(self.regimes) if r.down <= down]
        if not fitting:
            fitting = list(range(len(self.regimes)))
        most = max(len(self.regimes[k].down) for k in fitting)
        fitting = [k for k in fitting if len(self.regimes[k].down) == most]
        misfit = (rates[None, :] - self.expected[fitting]) ** 2 / (2 * self.variance[fitting])
        cost = misfit.sum(axis=1) + 0.5 * np.log(self.variance[fitting]).sum(axis=1)
        return fitting[int(np.argmin(cost))]

    def weights(self, observation: Observation) -> Array:
        return self.schedules[self.choose(observation)]

    def predict(self, observation: Observation) -> Decision:
        return self.decisions[self.choose(observation)]


def regime_in_force(base: Scenario, regimes: Sequence[Regime], time: float) -> int:
    """Index of the regime of ``regimes`` that ``base`` is in at ``time`` ms of its
    episode: the one with the same nodes down (the failures in force then) whose mean
    inter-arrival times are nearest to the trace's (in log ratio; an ingress off counts
    as far from any rate), the first among equals."""
    means = base_means(base, time)
    down = {
        f.node
        for f in base.failures
        if f.node is not None and f.down_at <= time and (f.up_at is None or time < f.up_at)
    }

    def distance(state: Regime) -> float:
        mismatch = len(set(state.down) ^ down)
        gap = 0.0
        for node, mean in state.means:
            now = means.get(node)
            if (mean is None) != (now is None):
                gap += 10.0
            elif mean is not None and now is not None:
                gap += abs(float(np.log(mean / now)))
        return 1000.0 * mismatch + gap

    return min(range(len(regimes)), key=lambda k: distance(regimes[k]))


class RegimeOracle(RegimeTeacher):
    """``RegimeTeacher``'s schedules, played by the regime in force (``regime_in_force``)
    instead of the one the observation suggests: the ceiling of switching by regime."""

    def __init__(self, teacher: RegimeTeacher, base: Scenario) -> None:
        self.__dict__.update(teacher.__dict__)
        self.name = "regime-oracle"
        self.base = base
        self.episode_ms = base.steps * base.run_duration  # the trace repeats every episode

    def choose(self, observation: Observation, failures: bool = True) -> int:
        return regime_in_force(self.base, self.regimes, observation.time % self.episode_ms)


# ------------------------------------------------------------------ randomised episodes
@dataclass(frozen=True)
class Randomisation:
    """What a training episode may change against the scenario (domain randomisation)."""

    rate_scale: tuple[float, float] = (0.85, 1.15)  # every ingress's means scaled by
    off_probability: float = 0.0  # per ingress: no arrivals this episode (one stays on)
    double: tuple[str, ...] = ()  # ingresses that may run at double rate for a while
    double_probability: float = 0.5
    fail: tuple[str, ...] = ()  # nodes that may fail for a while
    fail_probability: float = 0.5
    keep_failures: bool = False  # keep the scenario's own failures (else: only drawn ones)
    window: tuple[float, float] = (0.2, 0.8)  # shares of the episode a change may span
    shift_trace: bool = True  # a trace starts at a random row's time
    extra: tuple[str, ...] = field(default=())  # for the record


def randomised(base: Scenario, rng: random.Random, spec: Randomisation) -> Scenario:
    """One draw of ``spec`` applied to ``base``."""
    horizon = base.steps * base.run_duration
    rows = _drawn_rows(base, rng, spec, horizon)
    failures = tuple(base.failures) if spec.keep_failures else ()
    if spec.fail and rng.random() < spec.fail_probability:
        start, end = _window(rng, spec, horizon)
        failures += (Failure(start, None if end >= horizon else end, rng.choice(spec.fail)),)
    traffic = replace(base.traffic, trace=rows)
    return replace(base, traffic=traffic, failures=failures)


def _window(rng: random.Random, spec: Randomisation, horizon: float) -> tuple[float, float]:
    low, high = spec.window
    start = rng.uniform(0.0, high) * horizon
    length = rng.uniform(low, 1.0) * horizon
    return round(start, -2), round(min(start + length, horizon), -2)


Timeline = list[tuple[float, float | None]]  # (time in ms, mean in force from then)


def _drawn_rows(
    base: Scenario, rng: random.Random, spec: Randomisation, horizon: float
) -> tuple[TraceRow, ...]:
    """The trace of one randomised episode: the scenario's means (its trace started at a
    random row's time), scaled, an ingress switched off, a window at double rate."""
    scale = rng.uniform(*spec.rate_scale)
    shift = _trace_shift(base, rng) if spec.shift_trace else 0.0
    lines = timelines(base, shift)
    ingress = list(base.network.ingress)
    off = [n for n in ingress if rng.random() < spec.off_probability][: len(ingress) - 1]
    for node in off:
        lines[node] = [(0.0, None)]
    if spec.double and rng.random() < spec.double_probability:
        node = rng.choice(spec.double)
        if node not in off:
            lines[node] = doubled(lines[node], *_window(rng, spec, horizon))
    return tuple(
        sorted(
            (
                TraceRow(time, node, None if mean is None else mean * scale)
                for node, line in lines.items()
                for time, mean in line
            ),
            key=lambda row: row.time,
        )
    )


def timelines(base: Scenario, shift: float = 0.0) -> dict[str, Timeline]:
    """Per ingress, the means of ``base``'s traffic from ``shift`` ms on, as if the
    episode started there (capacity changes of the trace are left out)."""
    lines: dict[str, Timeline] = {n: [(0.0, m)] for n, m in base_means(base, shift).items()}
    for row in base.traffic.trace:
        if row.time - 1.0 <= shift:
            continue
        for node in lines if row.node is None else [row.node]:
            if node in lines:
                lines[node].append((row.time - shift, row.inter_arrival_mean))
    return lines


def in_force(line: Timeline, time: float) -> float | None:
    return [mean for start, mean in line if start <= time][-1]


def doubled(line: Timeline, start: float, end: float) -> Timeline:
    """``line`` at double rate (half the mean inter-arrival time) from ``start`` to
    ``end`` ms."""
    out = [(t, m) for t, m in line if t < start or t > end]
    out += [(t, None if m is None else m / 2.0) for t, m in line if start < t < end]
    first = in_force(line, start)
    out.append((start, None if first is None else first / 2.0))
    out.append((end, in_force(line, end)))
    return sorted(out, key=lambda point: point[0])


def _trace_shift(base: Scenario, rng: random.Random) -> float:
    times = sorted({r.time for r in base.traffic.trace if r.time > 0})
    return rng.choice([0.0, *times[: len(times) // 2]]) if times else 0.0


# ------------------------------------------------------------------ a scenario's family
def changing_ingress(base: Scenario, factor: float = 0.6) -> list[str]:
    """Ingress nodes whose mean inter-arrival time falls, somewhere in the trace, to
    ``factor`` of where it starts or below (their rate at least 1 / ``factor`` times)."""
    lines = timelines(base)
    out = []
    for node, line in lines.items():
        start = line[0][1]
        low = [m for _, m in line if m is not None]
        if start is not None and low and min(low) <= factor * start:
            out.append(node)
    return out


def scenario_regimes(base: Scenario, double: Sequence[str], fail: Sequence[str]) -> list[Regime]:
    """``normal`` (the means at the start, nothing down), each of ``double`` at double
    rate, each of ``fail`` down."""
    means = base_means(base)
    found = [regime("normal", means)]
    for node in double:
        mean = means[node]
        found.append(regime(f"{node}x2", means | {node: None if mean is None else mean / 2}))
    found += [regime(f"{node}-down", means, [node]) for node in fail]
    return found


def scenario_family(base: Scenario) -> tuple[list[Regime], Randomisation]:
    """The regimes of ``base`` and the randomisation of its training episodes: its
    ingresses that change rate (``changing_ingress``) and the nodes its failures take
    down, each drawn in half the episodes for a random window; every rate scaled by
    0.85-1.15; an ingress off in a tenth of them."""
    double = changing_ingress(base)
    fail = sorted({f.node for f in base.failures if f.node is not None})
    spec = Randomisation(
        off_probability=0.1, double=tuple(double), fail=tuple(fail), shift_trace=True
    )
    return scenario_regimes(base, double, fail), spec
