"""Fidelity and speed of our simulator against coord-sim 2.2.1, side by side.

Both run the DeepCoord authors' shortest-path baseline on DeepCoord's Abilene
scenarios with the same seeds. coord-sim runs in its own virtual environment
(created on first use in bench/.venv-coordsim; its pins do not install on Python 3.11,
so its dependencies are installed unpinned). Prints a markdown report and writes it
to bench/out/sim_vs_coordsim.md.

    python bench/sim_vs_coordsim.py            # fidelity (10 seeds) and speed
    python bench/sim_vs_coordsim.py --quick    # 3 seeds, speed on 5 ingress only
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agent.model.scenario import scenario_from_files
from agent.policies.registry import make_policy
from agent.train.rollout import run_episodes

Run = dict[str, Any]  # one seed's result: generated, successful, dropped, drops, wall_s
HERE = Path(__file__).resolve().parent
RES = HERE.parent / "topologies/deepcoord/res"
VENV = HERE / ".venv-coordsim"
SEEDS = [4832, 3327, 1109, 9726, 7892, 1692, 8443, 7841, 9834, 6996]  # DeepCoord's 10seeds.txt
CONFIGS = {
    "rand": "rand-arrival10_det-size001_duration100.yaml",
    "det": "det-arrival10_det-size001_duration100.yaml",
}
PAPER = {  # coord-sim shortest path as published with DeepCoord
    "rand": [62.7, 62.3, 48.6, 41.2, 29.1],
    "det": [100.0, 100.0, 66.7, 50.0, 10.0],
}


def ensure_coordsim() -> Path:
    python = VENV / "bin/python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--no-deps", "coord-sim==2.2.1"], check=True)
        subprocess.run(
            [*pip, "simpy", "geopy", "numpy", "pandas", "pyyaml", "networkx"], check=True
        )
    return python


def files(n: int, config: str) -> tuple[Path, Path, Path]:
    return (
        RES / f"networks/abilene/abilene-in{n}-rand-cap0-2.graphml",
        RES / "service_functions/abc.yaml",
        RES / f"config/simulator/{CONFIGS[config]}",
    )


def run_coordsim(python: Path, n: int, config: str, seeds: list[int], steps: int) -> list[Run]:
    network, service, traffic = files(n, config)
    command = [
        str(python),
        str(HERE / "coordsim_sp.py"),
        "--network",
        str(network),
        "--service",
        str(service),
        "--config",
        str(traffic),
        "--seeds",
        ",".join(map(str, seeds)),
        "--steps",
        str(steps),
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def run_ours(n: int, config: str, seeds: list[int], steps: int) -> list[Run]:
    scenario = scenario_from_files(*files(n, config))
    rows = []
    for seed in seeds:
        started = time.perf_counter()
        result = run_episodes(
            scenario, lambda c: make_policy("shortest-path", c), 1, steps, seed, keep_rows=False
        )
        wall = time.perf_counter() - started
        totals = result.totals
        rows.append(
            {
                "seed": seed,
                "generated": totals.generated,
                "successful": totals.successful,
                "dropped": totals.dropped,
                "drops": totals.drops,
                "wall_s": wall,
            }
        )
    return rows


def success(rows: list[Run]) -> tuple[float, float]:
    ratios = [100 * r["successful"] / r["generated"] for r in rows]
    return statistics.mean(ratios), statistics.stdev(ratios) if len(ratios) > 1 else 0.0


def flows_per_s(rows: list[Run]) -> float:
    return float(sum(r["generated"] for r in rows) / sum(r["wall_s"] for r in rows))


def speed(python: Path, repeats: int, steps: int) -> tuple[float, float, float, float]:
    """Flows and control steps per second on Abilene with 5 ingress nodes: the two
    simulators take turns on the same seed; the best of ``repeats`` runs each."""
    ref_best = ours_best = 0.0
    ref_steps = ours_steps = 0.0
    for _ in range(repeats):
        (ref,) = run_coordsim(python, 5, "rand", SEEDS[:1], steps)
        (ours,) = run_ours(5, "rand", SEEDS[:1], steps)
        ref_best, ours_best = max(ref_best, flows_per_s([ref])), max(ours_best, flows_per_s([ours]))
        ref_steps = max(ref_steps, steps / ref["wall_s"])
        ours_steps = max(ours_steps, steps / ours["wall_s"])
    return ref_best, ours_best, ref_steps, ours_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    seeds = SEEDS[:3] if args.quick else SEEDS
    python = ensure_coordsim()
    lines = [
        f"Shortest path, {args.steps} steps, seeds {seeds}.",
        "",
        "| config | ingress | paper (coord-sim) | coord-sim here | ours | ours - coord-sim "
        "| drop reasons (ours) |",
        "|---|---|---|---|---|---|---|",
    ]
    for config in CONFIGS:
        for n in range(1, 6):
            if args.quick and config == "det" and n != 5:
                continue
            reference = run_coordsim(python, n, config, seeds, args.steps)
            ours = run_ours(n, config, seeds, args.steps)
            (ref_mean, ref_sd), (our_mean, our_sd) = success(reference), success(ours)
            reasons = sorted({k for r in ours for k, v in r["drops"].items() if v})
            cells = [
                config,
                str(n),
                f"{PAPER[config][n - 1]:.1f} %",
                f"{ref_mean:.2f} ± {ref_sd:.2f} %",
                f"{our_mean:.2f} ± {our_sd:.2f} %",
                f"{our_mean - ref_mean:+.2f} pp",
                ", ".join(reasons) or "-",
            ]
            lines.append("| " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
    ref_speed, our_speed, ref_steps, our_steps = speed(python, 3 if args.quick else 5, args.steps)
    lines += [
        "",
        "Speed, Abilene 5 ingress, Poisson arrivals, shortest path, one process each, "
        "taking turns on one seed (best of the runs):",
        "",
        "| simulator | flows/s | control steps/s |",
        "|---|---|---|",
        f"| coord-sim 2.2.1 | {ref_speed:,.0f} | {ref_steps:,.1f} |",
        f"| ours | {our_speed:,.0f} | {our_steps:,.1f} |",
        f"| ratio | {our_speed / ref_speed:.1f}x | {our_steps / ref_steps:.1f}x |",
    ]
    report = "\n".join(lines) + "\n"
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / "sim_vs_coordsim.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
