"""The warm start's teacher: schedule search scored under a scenario's semantics, and the
pruning of small splits that hashing makes costly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from agent.envs.coordination import CoordinationEnv
from agent.model.scenario import ScheduleMode
from agent.train import ddpg
from agent.train.coordination_common import TrainSettings
from agent.train.progress import ProgressEvent
from agent.train.schedule_search import (
    SearchArgs,
    episode_scores,
    prune_candidates,
    prune_schedule,
    risk_score,
    score,
    without,
)
from tests.envs.test_coordination import abilene
from tests.train.test_coordination_trainers import small_config


def hashing_env(ingress: int = 1) -> CoordinationEnv:
    scenario = dataclasses.replace(abilene(ingress), schedule_mode=ScheduleMode.RANDOM)
    return CoordinationEnv(scenario, seed=0)


def test_candidates_are_each_split_rows_smallest_share() -> None:
    weights = np.zeros((2, 1, 3))
    weights[0, 0] = [0.5, 0.2, 0.3]
    weights[1, 0] = [0.0, 1.0, 0.0]  # no split: nothing to drop
    assert prune_candidates(weights) == [(0, 0, 1)]
    dropped = without(weights, 0, 0, 1)
    assert dropped[0, 0] == pytest.approx([0.625, 0.0, 0.375])
    assert weights[0, 0, 1] == 0.2  # the input is left alone


def test_risk_score_charges_the_spread_over_episodes() -> None:
    scores = np.array([0.8, 0.9, 1.0])
    assert risk_score(scores, 0.0) == pytest.approx(0.9)
    assert risk_score(scores, 1.0) == pytest.approx(0.8)
    assert risk_score(np.array([0.7]), 5.0) == pytest.approx(0.7)


def test_the_score_depends_on_the_semantics() -> None:
    env = hashing_env()
    logits = np.zeros(env.layout.action_shape)  # an even split over the nodes with capacity
    logits[..., np.asarray(env.layout.caps) <= 0] = -20.0
    hashing = score(env, logits, 3, 60, episodes=2)
    robin = score(CoordinationEnv(abilene(1), seed=0), logits, 3, 60, episodes=2)
    assert 0 < hashing < 1 and 0 < robin < 1 and hashing != robin


def test_pruning_never_lowers_the_validation_score() -> None:
    env = hashing_env()
    rng = np.random.default_rng(0)
    weights = rng.random(env.layout.action_shape)
    weights /= weights.sum(axis=-1, keepdims=True)
    args = SearchArgs(steps=30, prune_rounds=1, prune_episodes=2)
    seen: list[tuple[int, float]] = []
    pruned, value = prune_schedule(env, weights, args, lambda n, v: seen.append((n, v)))
    seeds = [20_000 + k for k in range(2)]
    before = float(episode_scores(env, weights, seeds, 30).mean())
    assert value == pytest.approx(episode_scores(env, pruned, seeds, 30).mean())
    assert value >= before
    assert (pruned > 0).sum() < (weights > 0).sum()  # some split was dropped
    assert seen[0][0] == 0 and seen[0][1] == pytest.approx(before)
    assert len(seen) == 1 + len(prune_candidates(weights))  # one pass: each split row once
    assert [v for _, v in seen] == sorted(v for _, v in seen)


def test_warm_start_with_pruning_reports_its_phase() -> None:
    config = small_config(
        pretrain_search_iterations=1,
        pretrain_search_population=4,
        pretrain_search_steps=10,
        pretrain_search_episodes=2,
        pretrain_prune_rounds=1,
        pretrain_prune_episodes=1,
        pretrain_bc_steps=20,
    )
    events: list[ProgressEvent] = []
    scenario = dataclasses.replace(abilene(1), schedule_mode=ScheduleMode.RANDOM)
    settings = TrainSettings(scenario, config, 60, seed=0)
    settings.progress = events.append
    result = ddpg.train(settings)
    phases = list(dict.fromkeys(e.phase for e in events))
    assert phases == ["search", "prune", "imitate", "train", "save"]
    prune = [e for e in events if e.phase == "prune"]
    assert prune[-1].finished and "split rows" in prune[-1].detail and "->" in prune[-1].detail
    assert result.card.schedule == "random"
    assert result.card.training.warm_start_teacher_success == prune[-1].best
