"""Evaluating deployment policies: the same request sequences for every policy, sweeps over
the number of requests per episode, the paper's three figures, and the ratio to the offline
optimum (MILP) on small instances.

Episode k of a load N uses the requests drawn with seed ``S + k`` (the same for every
policy); the figures are means over the episodes.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agent.model.deployment import DeploymentScenario
from agent.model.deployment_state import PlacementPolicy, Request
from agent.policies.deployment.learned import LearnedPolicy, ScoreNet
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


def validation_score(
    scenario: DeploymentScenario,
    policy: PlacementPolicy,
    requests: Mapping[int, Sequence[Sequence[Request]]],
) -> float:
    """What training keeps the best actors by: the mean acceptance over the loads, plus a
    twentieth of the mean request reward of the accepted requests (latency and servers
    woken, MADDPG-SD's objective) to prefer the better placements between equals."""
    shares, rewards = [], []
    for sequences in requests.values():
        for sequence in sequences:
            result = run_episode(scenario, policy, list(sequence))
            shares.append(result.acceptance)
            if result.accepted:
                rewards.append(result.reward_sum / result.accepted)
    quality = float(sum(rewards) / len(rewards)) if rewards else 0.0
    return float(sum(shares) / len(shares)) + quality / 20.0


VALIDATION_SEEDS = 2 * 10**6  # validation episodes (checkpoint choice) from 2 * 10**6 + k


class BestCheckpoint:
    """Training keeps the network that scores best (``validation_score``) on validation
    episodes, drawn from seeds no evaluation uses, the same for every algorithm."""

    def __init__(self, scenario: DeploymentScenario, loads: Sequence[int], episodes: int) -> None:
        self.scenario = scenario
        self.requests = {
            load: [generate_requests(scenario, VALIDATION_SEEDS + k, load) for k in range(episodes)]
            for load in loads
        }
        self.score = -math.inf
        self.net: ScoreNet | None = None
        self.best_at = 0
        self.history: list[tuple[int, float]] = []  # (training requests seen, score)

    def check(self, net: ScoreNet, seen: int) -> None:
        snapshot = copy.deepcopy(net)
        score = validation_score(self.scenario, LearnedPolicy(snapshot), self.requests)
        self.history.append((seen, round(score, 5)))
        if score > self.score:
            self.score, self.net, self.best_at = score, snapshot, seen


def offline_ratios(
    scenario: DeploymentScenario,
    policies: Mapping[str, PlacementPolicy],
    requests: int,
    instances: int,
    seed: int,
    time_limit_s: float,
) -> dict[str, Any]:
    """Accepted requests of each policy over the offline optimum's, per instance and in
    the mean. Where HiGHS did not prove the optimum within the time limit, the optimum
    lies between the best solution found and the proven upper bound: ``mean_ratio`` uses
    the bound (the ratio can only be higher), ``mean_ratio_to_best_found`` the solution
    (it can only be lower)."""
    rows = [
        _offline_row(scenario, policies, requests, seed + k, time_limit_s) for k in range(instances)
    ]

    def mean(key: str) -> dict[str, float]:
        return {
            name: round(sum(r["accepted"][name] / max(r[key], 1) for r in rows) / len(rows), 4)
            for name in policies
        }

    return {
        "instances": rows,
        "mean_ratio": mean("upper_bound"),
        "mean_ratio_to_best_found": mean("milp"),
        "solved_optimally": sum(1 for r in rows if r["optimal"]),
        "mean_gap_requests": round(
            sum(r["upper_bound"] - r["milp"] for r in rows) / max(len(rows), 1), 3
        ),
        "mean_seconds": round(sum(r["seconds"] for r in rows) / max(len(rows), 1), 2),
    }


def _offline_row(
    scenario: DeploymentScenario,
    policies: Mapping[str, PlacementPolicy],
    requests: int,
    seed: int,
    time_limit_s: float,
) -> dict[str, Any]:
    sequence = generate_requests(scenario, seed, requests)
    started = time.perf_counter()
    offline = solve_offline(
        scenario.substrate, sequence, scenario.latency.service_rate, time_limit_s
    )
    seconds = time.perf_counter() - started
    return {
        "seed": seed,
        "optimal": offline.optimal,
        "milp": offline.accepted,
        "upper_bound": math.floor(offline.bound + 1e-6),
        "proved_by": offline.proved_by if offline.optimal else None,
        "greedy": offline.incumbent,
        "seconds": round(seconds, 2),
        "accepted": {n: run_episode(scenario, p, sequence).accepted for n, p in policies.items()},
    }


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
