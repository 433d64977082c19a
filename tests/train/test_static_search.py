"""``static-search``: the scenario's best static schedule, searched on training seeds, held
fixed, cached by the scenario's content hash."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from agent.envs.coordination import layout_of
from agent.model.scenario import Failure, Scenario, ScheduleMode
from agent.sim.engine import Simulator
from agent.train import static_search
from agent.train.evaluate import EvalPlan, evaluate
from agent.train.schedule_search import SearchArgs
from agent.train.static_search import (
    StaticSchedulePolicy,
    cache_file,
    check_disjoint,
    scenario_key,
    searched_schedule,
    static_schedule,
)
from tests.envs.test_coordination import abilene

TINY = SearchArgs(
    iterations=2, population=4, episodes=1, steps=15, prune_rounds=1, prune_episodes=1
)


def small(ingress: int = 1) -> Scenario:
    scenario = abilene(ingress)
    return dataclasses.replace(scenario, schedule_mode=ScheduleMode.RANDOM, steps=15)


def test_the_static_policy_plays_one_decision_whatever_it_observes() -> None:
    scenario = small()
    layout = layout_of(scenario)
    weights = np.full(layout.action_shape, 1.0 / layout.n_nodes)
    policy = StaticSchedulePolicy(layout, weights)
    sim = Simulator(scenario, seed=3)
    observation, decisions = sim.observation, []
    for _ in range(6):
        decisions.append(policy.predict(observation))
        observation = sim.step(decisions[-1]).observation
    assert all(d is decisions[0] for d in decisions)
    assert sim.generated > 0 and observation.step == 6


def test_the_search_runs_once_then_comes_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = small()
    weights, score = static_schedule(scenario, TINY, tmp_path, per_regime=TINY)
    assert 0.0 <= score <= 1.0
    assert np.allclose(weights.sum(axis=-1), 1.0)
    assert cache_file(scenario, TINY, tmp_path).is_file()  # the search on the scenario
    assert len(list(tmp_path.glob("*.json"))) == 3  # and on its one regime, and the choice

    def no_search(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("searched again")

    monkeypatch.setattr(static_search, "search_static", no_search)
    again, cached_score = static_schedule(scenario, TINY, tmp_path, per_regime=TINY)
    assert np.allclose(again, weights) and cached_score == score


def test_the_key_follows_the_content_not_the_name() -> None:
    scenario = small()
    renamed = dataclasses.replace(scenario, name="another name")
    failing = dataclasses.replace(scenario, failures=(Failure(500.0, None, "pop8"),))
    longer = dataclasses.replace(TINY, iterations=3)
    key = scenario_key(scenario, TINY)
    assert scenario_key(renamed, TINY) == key
    assert scenario_key(failing, TINY) != key
    assert scenario_key(scenario, longer) != key


def test_a_cache_file_that_does_not_fit_is_searched_again(tmp_path: Path) -> None:
    scenario = small()
    path = cache_file(scenario, TINY, tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"format": "static-search/1", "key": scenario_key(scenario, TINY)}
    path.write_text(json.dumps(record | {"score": 1.0, "weights": [[[1.0]]]}))
    weights, score = searched_schedule(scenario, TINY, tmp_path)
    assert weights.shape == layout_of(scenario).action_shape and score < 1.0
    assert json.loads(path.read_text())["score"] == score  # rewritten


def test_evaluation_seeds_must_not_meet_the_training_seeds() -> None:
    check_disjoint(1234, 30, TINY)
    with pytest.raises(ValueError, match="overlap"):
        check_disjoint(10_050, 30, TINY)


def test_eval_reports_static_search_beside_the_baselines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(static_search, "default_args", lambda _scenario: TINY)
    monkeypatch.setattr(static_search, "regime_args", lambda: TINY)
    scenario = small()
    summary = evaluate(EvalPlan(scenario, ("static-search", "greedy"), 2, 15, 1234))
    assert set(summary["policies"]) == {"static-search", "greedy"}
    assert len(summary["policies"]["static-search"]["episode_success"]) == 2
    assert len(list((tmp_path / "static-search").glob("*.json"))) == 3
