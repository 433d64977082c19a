"""Deployment simulator speed: requests decided per second with each greedy policy on the
bundled scenario (``python bench/deployment.py [--episodes K] [--requests N]``)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from agent.model.deployment import load_deployment
from agent.policies.deployment.heuristics import HEURISTICS
from agent.sim.deployment import generate_requests, run_episode

SCENARIO = Path(__file__).resolve().parents[1] / "topologies" / "deployment" / "bteurope-sfc.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    scenario = load_deployment(SCENARIO)
    sequences = [generate_requests(scenario, 1 + k, args.requests) for k in range(args.episodes)]
    total = args.episodes * args.requests
    print("| policy | requests/s (best of runs) | acceptance |")
    print("|---|---|---|")
    for name, cls in HEURISTICS.items():
        best, accepted = 0.0, 0
        for _ in range(args.repeats):
            started = time.perf_counter()
            accepted = sum(run_episode(scenario, cls(), seq).accepted for seq in sequences)
            best = max(best, total / (time.perf_counter() - started))
        print(f"| {name} | {best:,.0f} | {accepted / total * 100:.2f} % |")


if __name__ == "__main__":
    main()
