"""Evaluating slicing methods on the same episodes: utility, ratio to ADMM-OPT, QoS
satisfaction, raw (pre-projection) capacity violation and decision time.

Episode k of a run seeded S plays the scenario's instance and demand of seed S + k. Every
step, each method decides from that step's demand and the users' QoS deficits so far; its
raw allocation is projected onto the capacity and scored. Where a step repeats the previous
one (same demand and deficits: the paper's static setting) the decision is reused.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from agent.model.slicing import SlicingScenario
from agent.model.slicing_utility import Layout, qos_met, qos_shortfall, weighted_utility
from agent.policies.slicing.admm import project_capacity, raw_violation
from agent.policies.slicing.methods import Method


@dataclass
class Episode:
    utility: float
    qos_satisfaction: float
    raw_violation: float
    over_capacity: float  # after projection: always 0
    decision_ms: list[float] = field(default_factory=list)


@dataclass
class Summary:
    utility: float
    ratio_to_opt: float | None
    qos_satisfaction: float
    raw_violation: float
    max_raw_violation: float
    capacity_violations: int
    decision_ms: float
    episodes: list[float]


def run_episode(scenario: SlicingScenario, method: Method, seed: int) -> Episode:
    problem = scenario.problem(seed)
    layout = Layout.of(problem)
    demand = scenario.demand(problem, seed)
    capacity = problem.capacity
    deficit = np.zeros(layout.alpha.size)
    utility, met, violation, over, times = 0.0, 0.0, 0.0, 0.0, []
    last: tuple[bytes, np.ndarray, float] | None = None
    for row in demand:
        key = row.tobytes() + deficit.tobytes()
        if last is not None and last[0] == key:
            x, raw_over = last[1], last[2]
        else:
            start = time.perf_counter()
            raw = method(layout, row, deficit)
            times.append((time.perf_counter() - start) * 1e3)
            x = project_capacity(raw, capacity, layout.floors(row))
            raw_over = raw_violation(raw, capacity)
            last = (key, x, raw_over)
        utility += float(weighted_utility(layout, x, row).sum())
        met += float(qos_met(layout, x, row).mean())
        violation += raw_over
        over = max(over, float(x.sum()) - capacity * (1 + 1e-9))
        deficit = deficit + qos_shortfall(layout, x, row) / np.maximum(layout.qos_floor, 1e-9)
    steps = demand.shape[0]
    return Episode(utility, met / steps, violation / steps, max(over, 0.0), times)


def evaluate(
    scenario: SlicingScenario, methods: dict[str, Method], episodes: int, seed: int
) -> dict[str, Summary]:
    runs = {
        name: [run_episode(scenario, method, seed + k) for k in range(episodes)]
        for name, method in methods.items()
    }
    reference = runs.get("admm-opt")
    out: dict[str, Summary] = {}
    for name, eps in runs.items():
        total = sum(e.utility for e in eps)
        ratio = None
        if reference is not None:
            ratio = total / max(sum(e.utility for e in reference), 1e-12)
        times = [t for e in eps for t in e.decision_ms]
        out[name] = Summary(
            utility=total / episodes,
            ratio_to_opt=ratio,
            qos_satisfaction=float(np.mean([e.qos_satisfaction for e in eps])),
            raw_violation=float(np.mean([e.raw_violation for e in eps])),
            max_raw_violation=max(e.raw_violation for e in eps),
            capacity_violations=sum(e.over_capacity > 0 for e in eps),
            decision_ms=float(np.mean(times)) if times else 0.0,
            episodes=[e.utility for e in eps],
        )
    return out


def as_json(summaries: dict[str, Summary], keep_episodes: bool = False) -> dict[str, object]:
    methods = {}
    for name, summary in summaries.items():
        row = asdict(summary)
        if not keep_episodes:
            row.pop("episodes")
        methods[name] = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()}
    return {"methods": methods}


COLUMNS = ("utility", "ratio_to_opt", "qos_satisfaction", "raw_violation", "decision_ms")


def markdown_table(summaries: dict[str, Summary]) -> str:
    lines = ["| method | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, summary in summaries.items():
        values = [getattr(summary, c) for c in COLUMNS]
        cells = ["" if v is None else f"{v:.4g}" for v in values]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(out: Path, summaries: dict[str, Summary], meta: dict[str, object]) -> None:
    """``summary.json``, ``episodes.csv``, ``summary.md`` and ``utility.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(
        json.dumps(as_json(summaries, keep_episodes=True) | {"run": meta}, indent=2) + "\n"
    )
    names = list(summaries)
    with (out / "episodes.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["episode", *names])
        count = len(next(iter(summaries.values())).episodes) if summaries else 0
        for k in range(count):
            writer.writerow([k, *(round(summaries[n].episodes[k], 6) for n in names)])
    (out / "summary.md").write_text(markdown_table(summaries))
    plot_utilities(summaries, out / "utility.png")


def plot_utilities(summaries: dict[str, Summary], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    names = list(summaries)
    ax.bar(names, [summaries[n].utility for n in names], color="tab:blue")
    ax.set_ylabel("mean episode utility")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
