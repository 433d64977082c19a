"""Policies that react against the best static schedule, on the three bundled scenarios
where traffic or the network changes during an episode (``docs/reacting.md``):

- ``abilene-in3-trace``: DeepCoord's trace traffic;
- ``abilene-in3-ratechange``: one ingress at double rate from 6 s to 14 s;
- ``abilene-in3-failure``: Houston (pop8) down from 8 s to 16 s.

Per scenario: the regime teacher and its imitation are trained
(``agent.train.reacting``, randomised episodes), then every policy plays the same
episodes under hashing semantics (episode k: seed SEED + k): ``static-search`` (the
cross-entropy search on the scenario's own traffic, failures included, on training seeds,
its schedule then held fixed), the regime oracle (the teacher's schedules played by the
regime in force, which no policy can see: the ceiling of switching by regime), the regime
teacher, the trained actor, both with down nodes masked (``mask-down:``), and the
baselines.

    python bench/reacting.py [--episodes 30] [--seed 1234] [--only trace,failure]

Writes bench/out/reacting.md and .json; the trained policies go to
bench/out/reacting-runs/<scenario>/best. Searched schedules are cached
(``agent.train.static_search.cache_directory``), so a second run only evaluates.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.model.scenario import Scenario, load_scenario  # noqa: E402
from agent.policies.coordination_reacting import DownNodeMask  # noqa: E402
from agent.train.evaluate import EvalPlan, evaluate, summarise  # noqa: E402
from agent.train.reacting import ReactingArgs, train_reacting  # noqa: E402
from agent.train.regimes import RegimeOracle, scenario_family  # noqa: E402
from agent.train.rollout import run_episodes  # noqa: E402
from agent.train.static_search import check_disjoint, default_args  # noqa: E402

SCENARIOS = ("trace", "ratechange", "failure")
BASELINES = ("shortest-path", "greedy", "load-balance")
OUT = ROOT / "bench" / "out"


def scenario_path(kind: str) -> Path:
    return ROOT / "topologies" / "scenarios" / f"abilene-in3-{kind}.yaml"


def run_one(kind: str, episodes: int, seed: int) -> dict[str, Any]:
    """Train the reacting policy of one scenario and evaluate everything on it."""
    scenario = load_scenario(scenario_path(kind))
    check_disjoint(seed, episodes, default_args(scenario))
    regimes, spec = scenario_family(scenario)
    began = time.perf_counter()
    result = train_reacting(
        scenario,
        ReactingArgs(tuple(regimes), spec),
        OUT / "reacting-runs" / scenario.name,
        note=lambda line: print(line, file=sys.stderr, flush=True),
    )
    trained_s = time.perf_counter() - began
    actor = str(result.directory)
    names = ("static-search", actor, f"mask-down:{actor}", *BASELINES)
    summary = evaluate(EvalPlan(scenario, names, episodes, scenario.steps, seed))
    policies = summary["policies"]
    policies["regime-actor"] = policies.pop(actor)
    policies["regime-actor+mask-down"] = policies.pop(f"mask-down:{actor}")
    teacher = result.teacher
    policies["regime-teacher"] = _episodes(scenario, lambda: teacher, episodes, seed)
    policies["regime-teacher+mask-down"] = _episodes(
        scenario, lambda: DownNodeMask(teacher, scenario.network), episodes, seed
    )
    oracle = RegimeOracle(teacher, scenario)
    policies["regime-oracle"] = _episodes(scenario, lambda: oracle, episodes, seed)
    summary["regimes"] = {r.name: round(s, 4) for r, s in zip(regimes, result.scores, strict=True)}
    summary["train_s"] = round(trained_s, 1)
    return summary


def _episodes(scenario: Scenario, make: Any, episodes: int, seed: int) -> dict[str, Any]:
    result = run_episodes(scenario, lambda _c: make(), episodes, scenario.steps, seed, None, False)
    return summarise(result.per_episode)


ROWS = (
    "static-search",
    "regime-oracle",
    "regime-teacher",
    "regime-teacher+mask-down",
    "regime-actor",
    "regime-actor+mask-down",
    *BASELINES,
)


def table(summaries: list[dict[str, Any]]) -> str:
    """One row per policy, one column per scenario: success ratio and the difference to
    the best static schedule, in points."""
    head = "| policy | " + " | ".join(s["scenario"] for s in summaries) + " |"
    lines = [head, "|---" * (len(summaries) + 1) + "|"]
    for name in ROWS:
        cells = []
        for s in summaries:
            value = s["policies"][name]["success_ratio"] * 100
            static = s["policies"]["static-search"]["success_ratio"] * 100
            std = s["policies"][name]["success_std"] * 100
            delta = "" if name == "static-search" else f" ({value - static:+.2f})"
            cells.append(f"{value:.2f} % ± {std:.2f}{delta}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--only", default=",".join(SCENARIOS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    summaries = [run_one(kind, args.episodes, args.seed) for kind in kinds]
    header = (
        f"{args.episodes} episodes x 200 steps per policy, seeds {args.seed}.."
        f"{args.seed + args.episodes - 1}, random (hashing) schedule; success ratio ± "
        "standard deviation over episodes (difference to static-search, points)"
    )
    text = header + "\n\n" + table(summaries) + "\n"
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "reacting.md").write_text(text)
    (OUT / "reacting.json").write_text(json.dumps(summaries, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
