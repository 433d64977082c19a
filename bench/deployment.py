"""Deployment simulator speed: requests decided per second with each greedy policy on the
bundled scenario (``python bench/deployment.py [--episodes K] [--requests N]``).

Wall-clock rates move with whatever else the machine runs, so three figures are printed
per policy: requests per wall-clock second (best of ``--repeats`` runs), requests per
second of this process's CPU time (what other processes do not take away), and Python
function calls per request (counted by the profiler: the same on every machine). The
profile's top entries for first-fit follow (``--top``).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path

from agent.model.deployment import DeploymentScenario, load_deployment
from agent.model.deployment_state import Request
from agent.policies.deployment.heuristics import HEURISTICS, SequentialPolicy
from agent.sim.deployment import generate_requests, run_episode

SCENARIO = Path(__file__).resolve().parents[1] / "topologies" / "deployment" / "bteurope-sfc.yaml"


def rates(
    scenario: DeploymentScenario,
    policy: type[SequentialPolicy],
    sequences: list[list[Request]],
    repeats: int,
) -> tuple[float, float, int]:
    """Best requests per wall-clock second and per CPU second, and the requests accepted."""
    total = sum(len(seq) for seq in sequences)
    wall = cpu = 0.0
    accepted = 0
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        accepted = sum(run_episode(scenario, policy(), seq).accepted for seq in sequences)
        wall = max(wall, total / (time.perf_counter() - started))
        cpu = max(cpu, total / max(time.process_time() - started_cpu, 1e-9))
    return wall, cpu, accepted


def profile(
    scenario: DeploymentScenario, policy: type[SequentialPolicy], sequences: list[list[Request]]
) -> pstats.Stats:
    profiler = cProfile.Profile()
    profiler.enable()
    for seq in sequences:
        run_episode(scenario, policy(), seq)
    profiler.disable()
    return pstats.Stats(profiler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--top", type=int, default=6, help="profile entries shown for first-fit")
    args = parser.parse_args()
    scenario = load_deployment(SCENARIO)
    sequences = [generate_requests(scenario, 1 + k, args.requests) for k in range(args.episodes)]
    total = args.episodes * args.requests
    print("| policy | requests/s (wall, best of runs) | requests per CPU second | "
          "Python calls per request | acceptance |")  # fmt: skip
    print("|---|---|---|---|---|")
    for name, cls in HEURISTICS.items():
        wall, cpu, accepted = rates(scenario, cls, sequences, args.repeats)
        calls = profile(scenario, cls, sequences).total_calls / total  # type: ignore[attr-defined]
        share = accepted / total * 100
        print(f"| {name} | {wall:,.0f} | {cpu:,.0f} | {calls:,.0f} | {share:.2f} % |")
    print(f"\nfirst-fit, top {args.top} by own time (microseconds and calls per request):")
    stats = profile(scenario, HEURISTICS["first-fit"], sequences)
    entries = stats.stats  # type: ignore[attr-defined]
    top = sorted(entries.items(), key=lambda item: -item[1][2])[: args.top]
    for (path, line, function), (_, calls, own, _cum, _) in top:
        where = f"{Path(path).name}:{line}({function})" if line else function
        print(f"  {own / total * 1e6:8.1f}  {calls / total:6.1f}  {where}")


if __name__ == "__main__":
    main()
