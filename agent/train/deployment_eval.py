"""Evaluating deployment policies: the same request sequences for every policy, sweeps over
the number of requests per episode, the paper's three figures, and the ratio to the offline
optimum (MILP) on small instances.

Episode k of a load N uses the requests drawn with seed ``S + k`` (the same for every
policy); the figures are means over the episodes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agent.model.deployment import DeploymentScenario
from agent.model.deployment_state import PlacementPolicy
from agent.policies.deployment.milp import solve_offline
from agent.sim.deployment import generate_requests, run_episode

METRICS = ("acceptance", "latency_ms", "cost")


def evaluate(
    scenario: DeploymentScenario,
    policies: Mapping[str, PlacementPolicy],
    requests: int,
    episodes: int,
    seed: int,
) -> dict[str, dict[str, float]]:
    """Mean acceptance, latency of accepted requests (ms) and cost (energy per accepted
    request) of each policy over ``episodes`` episodes of ``requests`` requests."""
    sums = {name: dict.fromkeys(METRICS, 0.0) for name in policies}
    counts = {name: 0 for name in policies}
    for k in range(episodes):
        sequence = generate_requests(scenario, seed + k, requests)
        for name, policy in policies.items():
            result = run_episode(scenario, policy, sequence)
            sums[name]["acceptance"] += result.acceptance
            sums[name]["cost"] += result.cost
            if result.accepted:
                sums[name]["latency_ms"] += result.latency_ms
                counts[name] += 1
    return {
        name: {
            "acceptance": round(s["acceptance"] / episodes, 4),
            "latency_ms": round(s["latency_ms"] / counts[name], 2) if counts[name] else math.nan,
            "cost": round(s["cost"] / episodes, 2),
        }
        for name, s in sums.items()
    }


def offline_ratios(
    scenario: DeploymentScenario,
    policies: Mapping[str, PlacementPolicy],
    requests: int,
    instances: int,
    seed: int,
    time_limit_s: float,
) -> dict[str, Any]:
    """Accepted requests of each policy over the offline optimum's, per instance and in
    the mean; instances not solved to optimality are compared with HiGHS's proven upper
    bound (which can only lower the ratio)."""
    rows: list[dict[str, Any]] = []
    for k in range(instances):
        sequence = generate_requests(scenario, seed + k, requests)
        offline = solve_offline(
            scenario.substrate, sequence, scenario.latency.service_rate, time_limit_s
        )
        reference = offline.accepted if offline.optimal else math.floor(offline.bound + 1e-6)
        accepted = {n: run_episode(scenario, p, sequence).accepted for n, p in policies.items()}
        rows.append(
            {
                "seed": seed + k,
                "optimal": offline.optimal,
                "milp": offline.accepted,
                "reference": reference,
                "gap": round(offline.gap, 4),
                "accepted": accepted,
            }
        )
    ratio = {
        name: round(sum(r["accepted"][name] / max(r["reference"], 1) for r in rows) / len(rows), 4)
        for name in policies
    }
    solved = sum(1 for r in rows if r["optimal"])
    return {"instances": rows, "mean_ratio": ratio, "solved_optimally": solved}


def plot_sweep(
    out: Path, sweep: Mapping[int, Mapping[str, Mapping[str, float]]], title: str
) -> list[Path]:
    """The paper's three figures: acceptance, latency and cost against requests."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    loads = sorted(sweep)
    names: Sequence[str] = list(sweep[loads[0]])
    labels = {
        "acceptance": "acceptance rate (%)",
        "latency_ms": "mean latency (ms)",
        "cost": "cost (energy per accepted request)",
    }
    written = []
    for metric in METRICS:
        fig, ax = plt.subplots(figsize=(6, 4))
        for name in names:
            scale = 100.0 if metric == "acceptance" else 1.0
            ax.plot(loads, [sweep[n][name][metric] * scale for n in loads], marker="o", label=name)
        ax.set_xlabel("requests per episode")
        ax.set_ylabel(labels[metric])
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"{metric}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written
