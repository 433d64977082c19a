"""Coordination evaluation in the library: policies built once, the same episodes for every
policy, summaries, chunks for parallel runs, the serial fallback without Ray."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from agent.policies import registry
from agent.policies.base import Policy, PolicyContext
from agent.policies.errors import PolicyError
from agent.train.evaluate import (
    EvalPlan,
    chunks,
    evaluate,
    markdown_table,
    run_chunk,
    summarise,
    write_outputs,
)
from agent.train.parallel import RAY_MISSING, run_tasks
from agent.train.rollout import run_episodes
from tests.envs.test_coordination import abilene


def test_a_policy_is_built_once_per_run_a_seeded_baseline_per_episode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[tuple[str, int]] = []
    real = registry.make_policy

    def counting(name: str, context: PolicyContext) -> Policy:
        built.append((name, context.seed))
        return real(name, context)

    monkeypatch.setattr(registry, "make_policy", counting)
    plan = EvalPlan(abilene(1), ("greedy", "random"), 3, 10, 50)
    evaluate(plan)
    assert [b for b in built if b[0] == "greedy"] == [("greedy", 50)]
    # the random baseline draws by its seed: one per episode, that episode's seed
    assert [b for b in built if b[0] == "random"] == [
        ("random", 50),
        ("random", 51),
        ("random", 52),
    ]


def test_the_summary_matches_a_policy_built_per_episode() -> None:
    scenario = abilene(2)
    summary = evaluate(EvalPlan(scenario, ("shortest-path", "greedy"), 3, 20, 7))
    for name in ("shortest-path", "greedy"):
        fresh = run_episodes(scenario, registry.policy_factory(name), 3, 20, 7)
        expected = summarise(fresh.per_episode)
        assert summary["policies"][name] == expected
        assert len(expected["episode_success"]) == 3
    assert summary["schedule"] == scenario.schedule_mode.value
    table = markdown_table(summary)
    assert "| shortest-path |" in table and "seeds 7..9" in table


def test_chunks_cover_every_episode_once() -> None:
    assert chunks(7, 3) == [(0, 3), (3, 2), (5, 2)]
    assert chunks(2, 5) == [(0, 1), (1, 1)]
    assert chunks(4, 1) == [(0, 4)]


def test_chunked_episodes_equal_the_whole_run() -> None:
    plan = EvalPlan(abilene(1), ("random",), 4, 15, 3)
    whole = run_chunk(plan, "random", 0, 4)
    parts = run_chunk(plan, "random", 0, 1) + run_chunk(plan, "random", 1, 3)
    assert [t.success_ratio for t in parts] == [t.success_ratio for t in whole]
    assert summarise(parts) == summarise(whole)


def test_workers_run_in_processes_of_this_machine_without_ray(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    notes: list[str] = []
    plan = EvalPlan(abilene(1), ("random", "load-balance"), 3, 10, 11)
    parallel = evaluate(plan, workers=2, note=notes.append)
    assert parallel == evaluate(plan) and notes == []
    pids = run_tasks(os.getpid, [(), (), ()], 2)
    assert len(pids) == 3 and os.getpid() not in pids and len(set(pids)) <= 2
    assert run_tasks(divmod, [(7, 2), (9, 4)], 3) == [(3, 1), (2, 1)]  # in the jobs' order


def test_a_cluster_address_without_ray_runs_serially_with_one_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    notes: list[str] = []
    assert run_tasks(divmod, [(7, 2), (9, 4)], 3, "auto", note=notes.append) == [(3, 1), (2, 1)]
    assert notes == [RAY_MISSING]


def test_an_unknown_or_mismatched_policy_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"policy 'nope': .*\(known: shortest-path"):
        evaluate(EvalPlan(abilene(1), ("nope",), 1, 5, 0))


def test_outputs_are_written(tmp_path: Path) -> None:
    summary = evaluate(EvalPlan(abilene(1), ("load-balance",), 2, 10, 0))
    write_outputs(tmp_path, summary)
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {f"coordination_eval.{ext}" for ext in ("csv", "md", "json", "png")}
    header = (tmp_path / "coordination_eval.csv").read_text().splitlines()[0]
    assert header.startswith("policy,success_ratio") and "drop_node_cap" in header
