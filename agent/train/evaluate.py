"""Evaluating coordination policies: policies and baselines on the same seeds, summaries,
tables and plots. Used by ``agent eval coordination``, ``bench/coordination.py`` and the
best-of-seeds choice of ``agent train coordination --seeds``.

Episode k of an evaluation uses seed ``seed + k`` for every policy, so two policies can be
compared episode by episode (``episode_success``). Each policy is built once per evaluation
run (a trained policy is loaded once; shortest-path keeps its plan across episodes); only
the ``random`` baseline, whose draws follow its seed, is built per episode from that
episode's seed, so that an episode's outcome does not depend on which episodes ran before
it. That is also what lets ``workers`` > 1 spread the episodes over Ray tasks (see
``parallel``) with results identical to a serial run.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.model.scenario import Scenario, ScheduleMode
from agent.policies.base import Policy, PolicyContext
from agent.policies.errors import PolicyError, PolicyFileError, PolicyMismatchError
from agent.sim.metrics import StepMetrics, Totals
from agent.train.parallel import run_tasks
from agent.train.progress import PhaseTracker, Progress
from agent.train.rollout import StepHook, policy_context, run_episodes

PER_EPISODE = frozenset({"random"})  # baselines whose draws follow the context's seed
STATIC_SEARCH = "static-search"  # agent.train.static_search.POLICY_NAME
MASK_PREFIX = "mask-down:"  # mask-down:POLICY never sends traffic to a node seen down
PolicyMaker = Callable[[PolicyContext], Policy]


@dataclass(frozen=True)
class EvalPlan:
    """What one evaluation runs: every policy on episodes ``seed .. seed + episodes - 1``."""

    scenario: Scenario
    policies: tuple[str, ...]
    episodes: int
    steps: int
    seed: int
    generalize: str | None = None  # the traffic file evaluated instead, for the record


def with_schedule(scenario: Scenario, mode: str | None) -> Scenario:
    """``scenario`` with its schedule semantics set to ``mode`` (None: as it is)."""
    if mode is None:
        return scenario
    return dataclasses.replace(scenario, schedule_mode=ScheduleMode(mode))


def build_policy(name: str, scenario: Scenario, seed: int) -> PolicyMaker:
    """A maker for ``run_episodes``: the policy ``name`` (a baseline, a shipped name or a
    policy directory) built once, or per episode for a seeded baseline. ``static-search``
    is the scenario's best static schedule (``agent.train.static_search``: searched on
    training seeds, cached by the scenario's hash); ``mask-down:NAME`` is NAME with the
    nodes the observation says are down masked out of its schedule
    (``agent.policies.coordination_reacting``). PolicyError with one line naming the
    policy when it cannot be used here."""
    from agent.policies.registry import BASELINES, make_policy

    if name.startswith(MASK_PREFIX):
        return masked(build_policy(name[len(MASK_PREFIX) :], scenario, seed), scenario)
    if name == STATIC_SEARCH:  # the scenario's best static schedule (searched once, cached)
        from agent.train.static_search import static_policy

        static = static_policy(scenario)
        return lambda _context: static
    if name in PER_EPISODE:
        return lambda context: make_policy(name, context)
    if name in BASELINES:
        built = make_policy(name, policy_context(scenario, seed))
        return lambda _context: built
    from agent.policies.coordination import load_named, shipped_names

    try:
        policy: Policy = load_named(name, policy_context(scenario, seed))
    except (PolicyFileError, PolicyMismatchError) as exc:
        names = ", ".join([*BASELINES, STATIC_SEARCH, *shipped_names()])
        known = "" if Path(name).exists() else f" (known: {names})"
        raise PolicyError(f"policy {name!r}: {exc}{known}") from None
    return lambda _context: policy


def masked(make: PolicyMaker, scenario: Scenario) -> PolicyMaker:
    """``make``'s policies with the nodes an observation says are down masked out."""
    from agent.policies.coordination_reacting import DownNodeMask

    return lambda context: DownNodeMask(make(context), scenario.network)


def run_chunk(
    plan: EvalPlan, name: str, first: int, count: int, on_step: StepHook | None = None
) -> list[Totals]:
    """Episodes ``first .. first + count - 1`` of policy ``name``: one Totals each."""
    return _run(plan, build_policy(name, plan.scenario, plan.seed), first, count, on_step)


def _run(
    plan: EvalPlan, make: PolicyMaker, first: int, count: int, on_step: StepHook | None
) -> list[Totals]:
    import torch

    torch.set_num_threads(1)
    seed = plan.seed + first
    result = run_episodes(plan.scenario, make, count, plan.steps, seed, on_step, False)
    return result.per_episode


def chunks(episodes: int, parts: int) -> list[tuple[int, int]]:
    """(first, count) of at most ``parts`` contiguous runs of episodes, sizes within one."""
    parts = max(1, min(parts, episodes))
    base, extra = divmod(episodes, parts)
    out, first = [], 0
    for k in range(parts):
        count = base + (1 if k < extra else 0)
        out.append((first, count))
        first += count
    return out


def evaluate(
    plan: EvalPlan,
    workers: int = 1,
    progress: Progress | None = None,
    ray_address: str | None = None,
    note: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The summary of ``plan``: per policy, ``summarise`` of its episodes. ``workers`` > 1
    runs the episodes as Ray tasks (``ray_address``: an existing cluster); results are the
    same as with one worker. ``note`` hears the one line said when Ray is not installed."""
    names = list(dict.fromkeys(plan.policies))
    makers = {name: build_policy(name, plan.scenario, plan.seed) for name in names}
    parts = chunks(plan.episodes, workers)
    tracker = PhaseTracker(progress, "evaluate", len(names) * plan.episodes, "episodes")
    if len(parts) == 1:  # serial: the policies built above, each once
        results = [
            _run(plan, makers[name], 0, plan.episodes, _counter(tracker, plan, k, name))
            for k, name in enumerate(names)
        ]
    else:
        done = [0]

        def finished(index: int, value: list[Totals]) -> None:
            done[0] += len(value)
            tracker.update(done[0], detail=names[index // len(parts)])

        tasks = [(plan, name, first, count) for name in names for first, count in parts]
        results = run_tasks(run_chunk, tasks, workers, ray_address, finished, note)
    tracker.finish()
    policies: dict[str, Any] = {}
    for k, name in enumerate(names):
        episodes = [t for chunk in results[k * len(parts) : (k + 1) * len(parts)] for t in chunk]
        policies[name] = summarise(episodes)
    return {
        "scenario": plan.scenario.name,
        "episodes": plan.episodes,
        "steps": plan.steps,
        "seed": plan.seed,
        "schedule": plan.scenario.schedule_mode.value,
        "generalize": plan.generalize,
        "policies": policies,
    }


def _counter(tracker: PhaseTracker, plan: EvalPlan, index: int, name: str) -> StepHook:
    """A step hook that reports the episodes done of the ``index``-th policy."""
    steps = [0]

    def stepped(_metrics: StepMetrics) -> None:
        steps[0] += 1
        tracker.update(index * plan.episodes + steps[0] // plan.steps, detail=name)

    return stepped


def summarise(per_episode: list[Totals]) -> dict[str, Any]:
    """Success ratio over all flows, mean and standard deviation over episodes, each
    episode's ratio (episode k: seed SEED + k), delays and drops by reason."""
    totals = Totals()
    for episode in per_episode:
        totals.merge(episode)
    ratios = [t.success_ratio for t in per_episode]
    delays = [sum(t.delays) / len(t.delays) if t.delays else 0.0 for t in per_episode]
    return {
        "success_ratio": round(totals.success_ratio, 6),
        "success_mean": round(mean(ratios), 6),
        "success_std": round(std(ratios), 6),
        "episode_success": [round(r, 6) for r in ratios],
        "delay_ms": round(sum(totals.delays) / len(totals.delays), 4) if totals.delays else 0.0,
        "delay_std_ms": round(std(delays), 4),
        "generated": totals.generated,
        "successful": totals.successful,
        "dropped": totals.dropped,
        "drops": dict(totals.drops),
    }


def mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0


def std(values: list[float]) -> float:
    """Sample standard deviation (0 for fewer than two values)."""
    if len(values) < 2:
        return 0.0
    centre = mean(values)
    return math.sqrt(math.fsum((v - centre) ** 2 for v in values) / (len(values) - 1))


def markdown_table(summary: dict[str, Any]) -> str:
    lines = [
        f"{summary['scenario']}: {summary['episodes']} episodes x {summary['steps']} steps, "
        f"seeds {summary['seed']}..{summary['seed'] + summary['episodes'] - 1}, "
        f"{summary['schedule']} schedule"
        + (f", traffic {summary['generalize']}" if summary["generalize"] else ""),
        "",
        "| policy | success ratio | std | delay (ms) | std | drops by reason |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in summary["policies"].items():
        drops = ", ".join(f"{k} {v}" for k, v in r["drops"].items() if v) or "none"
        lines.append(
            f"| {name} | {r['success_ratio'] * 100:.2f} % | {r['success_std'] * 100:.2f} | "
            f"{r['delay_ms']:.2f} | {r['delay_std_ms']:.2f} | {drops} |"
        )
    return "\n".join(lines)


def write_outputs(out: Path, summary: dict[str, Any]) -> None:
    """``coordination_eval.{csv,md,json,png}`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rows = [{"policy": name, **_flat(r)} for name, r in summary["policies"].items()]
    with (out / "coordination_eval.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "coordination_eval.md").write_text(markdown_table(summary) + "\n")
    (out / "coordination_eval.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(out / "coordination_eval.png", summary)


def _flat(result: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in result.items() if k not in ("drops", "episode_success")}
    flat.update({f"drop_{k.lower()}": v for k, v in result["drops"].items()})
    return flat


def plot(path: Path, summary: dict[str, Any]) -> None:
    """A bar chart of each policy's mean success ratio with its standard deviation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary["policies"])
    means = [summary["policies"][n]["success_mean"] * 100 for n in names]
    stds = [summary["policies"][n]["success_std"] * 100 for n in names]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.4 * len(names)), 3.5))
    labels = [n if len(n) <= 24 else "..." + n[-21:] for n in names]
    ax.bar(labels, means, yerr=stds, capsize=4)
    ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    ax.set_ylabel("success ratio (%)")
    ax.set_ylim(0, 100)
    ax.set_title(summary["scenario"])
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
