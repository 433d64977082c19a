"""Evaluating recovery policies on instances: each method's total utility against the
exact DP optimum where it is in reach (else the best method), summaries and tables.
Used by ``agent eval recovery`` and ``bench/recovery.py``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from agent.model.recovery import GraphFamily, Mode, RecoveryInstance, total_utility
from agent.policies.recovery.base import RecoveryPolicy
from agent.policies.recovery.dp import dp_optimal


@dataclass
class Row:
    """One instance: the reference total and every method's total and time."""

    graph: str
    instance: RecoveryInstance
    seed: int
    reference: str
    best: float = 0.0
    totals: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def ratio(self, method: str) -> float:
        return self.totals[method] / self.best if self.best > 0 else 1.0


def make_instances(
    families: list[GraphFamily], count: int, seed: int, mode: Mode
) -> list[tuple[str, RecoveryInstance, int]]:
    """``count`` instances per family and size, seeds ``seed``...; ValueError naming the
    family when one cannot be made."""
    out: list[tuple[str, RecoveryInstance, int]] = []
    for family in families:
        for size in family.sizes or (None,):
            for k in range(count):
                try:
                    instance = family.instance(seed + k, mode, size)
                except ValueError as exc:
                    raise ValueError(f"{family.label}: {exc}") from None
                out.append((family.label, instance, seed + k))
    return out


def evaluate_rows(
    items: list[tuple[str, RecoveryInstance, int]],
    methods: dict[str, RecoveryPolicy],
    dp_max: int,
) -> list[Row]:
    rows: list[Row] = []
    for graph, instance, seed in items:
        exact = len(instance.to_repair) <= dp_max
        row = Row(graph, instance, seed, "dp-opt" if exact else "best")
        for name, policy in methods.items():
            started = time.perf_counter()
            order = policy.order(instance)
            row.seconds[name] = time.perf_counter() - started
            row.totals[name] = total_utility(instance, order)
        if exact:
            started = time.perf_counter()
            row.best = dp_optimal(instance)[0]
            row.seconds["dp-opt"] = time.perf_counter() - started
        else:
            row.best = max(row.totals.values())
        rows.append(row)
    return rows


def summarise(rows: list[Row], methods: list[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for m in methods:
        ratios = [row.ratio(m) for row in rows]
        out[m] = {
            "mean_ratio": round(sum(ratios) / len(ratios), 6),
            "min_ratio": round(min(ratios), 6),
            "mean_total": round(sum(row.totals[m] for row in rows) / len(rows), 3),
            "at_least_ratio": sum(
                row.totals[m] >= row.totals.get("ratio", -1.0) - 1e-9 for row in rows
            ),
            "mean_seconds": round(sum(row.seconds[m] for row in rows) / len(rows), 4),
        }
    return out


def summary_of(
    rows: list[Row], methods: list[str], graphs: str, mode: str, seed: int, instances: int
) -> dict[str, Any]:
    """The per-method figures and what they were measured on."""
    kinds = {row.reference for row in rows}
    return {
        "methods": summarise(rows, methods),
        "reference": kinds.pop() if len(kinds) == 1 else "dp-opt where feasible, else best",
        "graphs": graphs,
        "mode": mode,
        "instances": len(rows),
        "seeds": f"{seed}..{seed + instances - 1}",
    }


def markdown_table(summary: dict[str, Any]) -> str:
    """The per-method table as markdown."""
    lines = [
        f"{summary['instances']} instances of {summary['graphs']} ({summary['mode']}, "
        f"seeds {summary['seeds']}), ratio to {summary['reference']}",
        "",
        "| method | mean ratio | min ratio | mean total utility | >= RATIO | mean time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in summary["methods"].items():
        lines.append(
            f"| {name} | {s['mean_ratio'] * 100:.2f} % | {s['min_ratio'] * 100:.2f} % | "
            f"{s['mean_total']} | {s['at_least_ratio']}/{summary['instances']} | "
            f"{s['mean_seconds']} |"
        )
    return "\n".join(lines)
