"""Coordination on the five DeepCoord Abilene scenarios: the shipped policies against the
baselines and DeepCoord's published figures, their generalisation to MMPP traffic, and the
training speed recorded in the shipped cards.

Switch semantics by default (``--schedule random``: each flow draws its destination by
weight, as a hashing SELECT group does); ``--schedule round-robin`` measures under
coord-sim's weighted round robin instead.

    python bench/coordination.py [--episodes 30] [--seed 1234] [--ingress 1,2,3,4,5]
    python bench/coordination.py --train 3 [--steps 4000]   # retrain one scenario first
    python bench/coordination.py --train 3 --steps 6000 \
        --agent topologies/policies/coordination/agent-ddpg-bc.yaml   # another agent YAML

Writes bench/out/coordination.md (and .json). Training runs go to bench/out/coordination-runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.model.scenario import Scenario, ScheduleMode, scenario_from_files  # noqa: E402
from agent.policies.coordination.policy import SHIPPED  # noqa: E402
from agent.train.coordination_config import (  # noqa: E402
    load_deepcoord_config,
    make_run_directory,
    resolved_config,
    scenario_inputs,
)
from agent.train.evaluate import EvalPlan, evaluate  # noqa: E402
from agent.train.recipe import TrainJob, run_job  # noqa: E402

RES = ROOT / "topologies" / "deepcoord" / "res"
TRAFFIC = RES / "config" / "simulator" / "rand-arrival10_det-size001_duration100.yaml"
MMPP = RES / "config" / "simulator" / "rand-mmp-arrival12-8_det-size001_dur100.yaml"
DEEPCOORD = {1: 0.894, 2: 0.750, 3: 0.708, 4: 0.592, 5: 0.556}
BASELINES = ("shortest-path", "greedy", "load-balance")
OUT = ROOT / "bench" / "out"


def stem(n: int) -> str:
    return f"abilene-in{n}-rand-cap0-2"


def scenario(n: int, traffic: Path = TRAFFIC, schedule: str = "random") -> Scenario:
    net = RES / "networks" / "abilene" / f"{stem(n)}.graphml"
    loaded = scenario_from_files(net, RES / "service_functions" / "abc.yaml", traffic)
    return dataclasses.replace(loaded, schedule_mode=ScheduleMode(schedule))


def success(sc: Scenario, names: list[str], episodes: int, seed: int) -> dict[str, float]:
    """Success ratio of each policy, all on the same episodes (the library's evaluation)."""
    summary = evaluate(EvalPlan(sc, tuple(names), episodes, 200, seed))
    return {name: summary["policies"][name]["success_ratio"] for name in names}


def train(n: int, steps: int, seed: int, agent: Path = SHIPPED / "agent-ddpg-switch.yaml") -> None:
    """Retrain one shipped policy with the recipe's own run (``agent train coordination``)."""
    sc = scenario(n)  # switch semantics: the card records "schedule": "random"
    config = load_deepcoord_config(agent)
    inputs = scenario_inputs(sc) | {"agent": agent}
    record = resolved_config(config, steps, seed) | {"schedule": sc.schedule_mode.value}
    run = make_run_directory(OUT / "coordination-runs", sc.name, seed, inputs, record)
    run_job(TrainJob(sc, config, config.agent_type.lower(), steps, seed, run, inputs))
    shutil.copytree(run / "best", SHIPPED / stem(n), dirs_exist_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1234)  # the scenarios' first test seed
    parser.add_argument("--ingress", default="1,2,3,4,5")
    parser.add_argument("--train", type=int, help="retrain the policy of this ingress count")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--agent", type=Path, default=SHIPPED / "agent-ddpg-switch.yaml")
    parser.add_argument("--schedule", choices=["random", "round-robin"], default="random")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.train:
        train(args.train, args.steps, args.seed, args.agent.resolve())
    rows: list[dict[str, Any]] = []
    for n in (int(x) for x in args.ingress.split(",")):
        row: dict[str, Any] = {"ingress": n, "deepcoord": DEEPCOORD[n]}
        sc = scenario(n, schedule=args.schedule)
        shipped = (SHIPPED / stem(n) / "card.json").is_file()
        names = [*BASELINES, *([stem(n)] if shipped else [])]
        figures = success(sc, names, args.episodes, args.seed)
        row.update({name: figures[name] for name in BASELINES})
        if shipped:
            row["ours"] = figures[stem(n)]
            mmpp = scenario(n, MMPP, args.schedule)
            on_mmpp = success(mmpp, [stem(n), "shortest-path"], args.episodes, args.seed)
            row["ours_mmpp"], row["sp_mmpp"] = on_mmpp[stem(n)], on_mmpp["shortest-path"]
            card = json.loads((SHIPPED / stem(n) / "card.json").read_text())
            row["training"] = card["training"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "coordination.json").write_text(json.dumps(rows, indent=2) + "\n")
    (OUT / "coordination.md").write_text(report(rows, args.episodes, args.seed, args.schedule))


def pct(value: Any) -> str:
    return f"{value * 100:.1f} %" if isinstance(value, float) else "-"


def report(rows: list[dict[str, Any]], episodes: int, seed: int, schedule: str) -> str:
    head = "| ingress nodes | " + " | ".join(str(r["ingress"]) for r in rows) + " |"
    lines = [
        "# Coordination on the DeepCoord Abilene scenarios",
        "",
        f"Success ratio, {episodes} episodes x 200 steps, seeds {seed}..{seed + episodes - 1}, "
        f"{schedule} schedule, traffic rand-arrival10_det-size001_duration100 "
        "(generalisation: rand-mmp-arrival12-8).",
        "",
        head,
        "|---" * (len(rows) + 1) + "|",
    ]
    keys = [
        ("DeepCoord DRL (paper)", "deepcoord"),
        ("ours (shipped policy)", "ours"),
        *((f"{b} (our simulator)", b) for b in BASELINES),
        ("ours on MMPP traffic (--generalize)", "ours_mmpp"),
        ("shortest-path on MMPP traffic", "sp_mmpp"),
    ]
    for label, key in keys:
        lines.append(f"| {label} | " + " | ".join(pct(r.get(key)) for r in rows) + " |")
    lines += ["", "Training (from the shipped cards):", ""]
    lines += ["| ingress | steps | RL wall (s) | RL steps/s | total wall incl. warm start (s) |"]
    lines += ["|---|---|---|---|---|"]
    for r in rows:
        t = r.get("training", {})
        lines.append(
            f"| {r['ingress']} | {t.get('steps', '-')} | {t.get('wall_s', '-')} | "
            f"{t.get('steps_per_s', '-')} | {t.get('total_wall_s', '-')} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
