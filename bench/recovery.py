"""Progressive recovery (DeepPR): training time per episode and the evaluation table.

1. Training time per episode on a 19-node GNP graph (seed 1), for the paper's variant
   (per-graph network, batch 256, an update every step) and ours (size-independent network,
   batch 128, an update every 4 steps). The paper reports 1.057 s per episode.
2. The "done when" table: the shipped DeepPR policy (beam search and greedy), RATIO and
   RANDOM against DP-OPT (or the best method where DP-OPT is out of reach), the same code
   as ``agent eval recovery``.
3. The paper's variant trained per instance on a few 19-node instances, for comparison.

Writes bench/out/recovery.md (and prints it).

    python bench/recovery.py            # full: 20 instances per size
    python bench/recovery.py --quick    # 3 instances per size, shorter timings
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from agent.model.recovery import GraphFamily, Mode, gnp_instance, parse_graphs, total_utility
from agent.policies.recovery.base import RandomPolicy, RatioPolicy, RecoveryPolicy
from agent.policies.recovery.deeppr import DeepPRPolicy
from agent.policies.recovery.dp import dp_optimal
from agent.train.deeppr import TrainArgs, train
from agent.train.recovery_eval import (
    evaluate_rows,
    make_instances,
    markdown_table,
    summary_of,
)

HERE = Path(__file__).resolve().parent
SEED = 1
ROWS: list[tuple[str, Mode, str]] = [  # graphs, mode, paper's figures
    ("gnp:15-20", "compliant", "paper: DeepPR 96.6 %, RATIO 95.8 %; required >= 99 % mean"),
    ("gnp:23", "adversarial", "paper: DeepPR 98.5 %, RATIO 91.4 %; required >= 99 % mean"),
    ("zoo:Ibm", "adversarial", "paper: RATIO 79.0 %; required >= 97 %"),
    ("zoo:Ibm", "compliant", "(not in the paper's table)"),
    ("zoo:BtNorthAmerica", "compliant", "no DP-OPT; required: DeepPR >= RATIO"),
    ("zoo:BtNorthAmerica", "adversarial", "no DP-OPT; required: DeepPR >= RATIO"),
]


def training_time(episodes: int) -> list[str]:
    """Seconds per training episode on one 19-node graph, both variants."""
    instance = gnp_instance(19, SEED)
    paper = train(TrainArgs(variant="paper", episodes=episodes, seed=0), instance)
    ours = train(TrainArgs(episodes=episodes, seed=0, families=[GraphFamily("gnp", sizes=(19,))]))
    return [
        f"Training time per episode on a 19-node GNP graph ({episodes} episodes, "
        f"{instance.horizon} steps per episode, one CPU thread):",
        "",
        "| trainer | s / episode | paper |",
        "|---|---|---|",
        f"| paper's variant (batch 256, update every step) | {paper.seconds_per_episode:.4f} "
        "| 1.057 |",
        f"| ours (node features, batch 128, update every 4 steps) | "
        f"{ours.seconds_per_episode:.4f} | — |",
    ]


def evaluation(instances: int, beam: int) -> list[str]:
    """The evaluation table, one block per row of ROWS."""
    methods: dict[str, RecoveryPolicy] = {
        "deeppr": DeepPRPolicy.load(None, "beam", beam),
        "deeppr-greedy": DeepPRPolicy.load(None, "greedy"),
        "ratio": RatioPolicy(),
        "random": RandomPolicy(SEED),
    }
    lines: list[str] = []
    for graphs, mode, note in ROWS:
        started = time.perf_counter()
        items = make_instances(parse_graphs(graphs), instances, SEED, mode)
        rows = evaluate_rows(items, methods, 22)
        summary = summary_of(rows, list(methods), graphs, mode, SEED, instances)
        dp_times = [row.seconds["dp-opt"] for row in rows if "dp-opt" in row.seconds]
        block = [f"### {graphs}, {mode}", "", note, "", markdown_table(summary), ""]
        if dp_times:
            block.append(
                f"DP-OPT time per instance: mean {statistics.mean(dp_times):.2f} s, "
                f"max {max(dp_times):.2f} s."
            )
        block += [f"Wall time {time.perf_counter() - started:.0f} s.", ""]
        print("\n".join(block), flush=True)
        lines += block
    return lines


def paper_variant(instances: int, episodes: int) -> list[str]:
    """The paper's per-graph DQN trained on each of a few 19-node instances."""
    ratios, ratio_baseline = [], []
    for k in range(instances):
        instance = gnp_instance(19, SEED + k)
        result = train(TrainArgs(variant="paper", episodes=episodes, seed=k), instance)
        order = DeepPRPolicy(result.net, search="greedy").order(instance)
        opt = dp_optimal(instance)[0]
        ratios.append(total_utility(instance, order) / opt)
        ratio_baseline.append(total_utility(instance, RatioPolicy().order(instance)) / opt)
    return [
        f"Paper's variant, trained {episodes} episodes on each of {instances} GNP 19-node "
        f"compliant instances (seeds {SEED}..{SEED + instances - 1}), greedy action:",
        "",
        "| method | mean ratio | min ratio |",
        "|---|---|---|",
        f"| deeppr (paper's variant) | {statistics.mean(ratios) * 100:.2f} % | "
        f"{min(ratios) * 100:.2f} % |",
        f"| ratio | {statistics.mean(ratio_baseline) * 100:.2f} % | "
        f"{min(ratio_baseline) * 100:.2f} % |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--beam-width", type=int, default=64)
    args = parser.parse_args()
    instances = 3 if args.quick else 20
    lines = ["# Progressive recovery (DeepPR)", ""]
    lines += [*training_time(100 if args.quick else 500), ""]
    print("\n".join(lines), flush=True)
    lines += ["## Evaluation (shipped policy, `agent eval recovery`)", ""]
    lines += evaluation(instances, args.beam_width)
    lines += ["## The paper's variant", ""]
    lines += paper_variant(2 if args.quick else 3, 200 if args.quick else 1000)
    out = HERE / "out" / "recovery.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-7:]))


if __name__ == "__main__":
    main()
