"""Policies that react: the bundled scenarios where traffic or the network changes, the
regime teacher, the down-node mask, the randomised episodes and the imitation."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import numpy as np
import pytest

from agent.envs.coordination import layout_of
from agent.model.scenario import Scenario, load_scenario
from agent.model.types import NodeReport, Observation
from agent.policies.coordination.policy import load_policy
from agent.policies.coordination_reacting import DownNodeMask, mask_down
from agent.policies.shortest_path import ShortestPathPolicy
from agent.sim.arrivals import ArrivalProcess
from agent.sim.engine import Simulator
from agent.train.reacting import ActorPolicy, ReactingArgs, fit, train_reacting
from agent.train.regimes import (
    Randomisation,
    RegimeOracle,
    RegimeTeacher,
    Timeline,
    doubled,
    randomised,
    regime_in_force,
    scenario_family,
    scenario_regimes,
)
from agent.train.rollout import policy_context
from agent.train.static_search import regime_args

SCENARIOS = Path(__file__).resolve().parents[2] / "topologies" / "scenarios"


def bundled(kind: str) -> Scenario:
    return load_scenario(SCENARIOS / f"abilene-in3-{kind}.yaml")


def observed(rates: dict[str, float], down: frozenset[str] = frozenset()) -> Observation:
    """An observation whose ingress rates read ``rates`` (observation units)."""
    reports = {
        node: NodeReport(node, 0.0, 0.0, 1.0, 0.0, 0.0, 0, rate * 10.0)
        for node, rate in rates.items()
    }
    return Observation(100.0, 1, 100.0, reports, down_nodes=down)


def shares(n: int, rows: int, hot: int) -> np.ndarray:
    """Every (node, row) sends everything to node ``hot``."""
    weights = np.zeros((n, rows, n))
    weights[..., hot] = 1.0
    return weights


# ------------------------------------------------------------------ the scenarios
def test_the_failure_scenario_takes_houston_down_mid_episode() -> None:
    scenario = bundled("failure")
    sim = Simulator(scenario, seed=5)
    policy = ShortestPathPolicy(policy_context(scenario, 5))
    seen: dict[int, frozenset[str]] = {}
    observation = sim.observation
    for step in range(170):
        observation = sim.step(policy.predict(observation)).observation
        seen[step] = observation.down_nodes
    assert seen[70] == frozenset() and seen[100] == {"pop8"} and seen[165] == frozenset()


def test_the_rate_change_doubles_chicago_for_part_of_the_episode() -> None:
    scenario = bundled("ratechange")
    traffic = scenario.traffic
    arrivals = ArrivalProcess(traffic.config, ["pop0", "pop1", "pop2"], traffic.trace, 1, 100.0)
    assert arrivals.mean_at("pop1", 3_000) == 10.0 and arrivals.mean_at("pop1", 9_000) == 5.0
    assert arrivals.mean_at("pop1", 15_000) == 10.0 and arrivals.mean_at("pop0", 9_000) == 10.0
    sim = Simulator(scenario, seed=2)
    decision = ShortestPathPolicy(policy_context(scenario, 2)).predict(sim.observation)
    per_step = []
    for _ in range(140):
        sim.step(decision)
        per_step.append(sim.arrived[1])  # flows that entered at pop1 this step
    assert np.mean(per_step[65:135]) > 1.6 * np.mean(per_step[:55])


def test_the_trace_scenario_uses_deepcoords_trace() -> None:
    scenario = bundled("trace")
    assert len(scenario.traffic.trace) == 1100
    assert scenario.network.ingress == ["pop0", "pop1", "pop2"]
    assert scenario.observation.delay_steps == 1


def test_each_family_has_its_regimes() -> None:
    assert [r.name for r in scenario_family(bundled("ratechange"))[0]] == ["normal", "pop1x2"]
    regimes, spec = scenario_family(bundled("failure"))
    assert [r.name for r in regimes] == ["normal", "pop8-down"] and spec.fail == ("pop8",)


# ------------------------------------------------------------------ the teacher
def teacher_of(scenario: Scenario) -> RegimeTeacher:
    regimes = scenario_regimes(scenario, ["pop1"], ["pop8"])
    layout = layout_of(scenario)
    schedules = [shares(11, 3, hot) for hot in (3, 5, 9)]
    return RegimeTeacher(layout, regimes, schedules)


def test_the_teacher_switches_schedule_when_the_observation_changes() -> None:
    teacher = teacher_of(bundled("ratechange"))
    normal = observed({"pop0": 1.0, "pop1": 1.1, "pop2": 0.9})
    busy = observed({"pop0": 1.0, "pop1": 2.1, "pop2": 0.9})
    assert teacher.choose(normal) == 0 and teacher.choose(busy) == 1
    assert teacher.predict(normal) is not teacher.predict(busy)
    failed = observed({"pop0": 1.0, "pop1": 1.0, "pop2": 1.0}, frozenset({"pop8"}))
    assert teacher.choose(failed) == 2


def test_the_oracle_plays_the_regime_in_force_whatever_it_observes() -> None:
    rate = bundled("ratechange")
    regimes = scenario_regimes(rate, ["pop1"], [])
    assert [regime_in_force(rate, regimes, t) for t in (0.0, 5_000.0, 9_000.0, 15_000.0)] == [
        0,
        0,
        1,
        0,
    ]
    failure = bundled("failure")
    both = scenario_regimes(failure, ["pop1"], ["pop8"])  # normal, pop1x2, pop8-down
    assert [regime_in_force(failure, both, t) for t in (7_000.0, 9_000.0, 16_500.0)] == [0, 2, 0]
    oracle = RegimeOracle(teacher_of(rate), rate)
    calm = observed({"pop0": 1.0, "pop1": 1.0, "pop2": 1.0})
    late = dataclasses.replace(calm, time=29_000.0)  # 9 s into the second episode
    assert oracle.choose(calm) == 0 and oracle.choose(late) == 1
    assert np.array_equal(oracle.weights(late), teacher_of(rate).schedules[1])


def test_the_mask_never_sends_traffic_to_a_node_seen_down() -> None:
    scenario = bundled("failure")
    layout = layout_of(scenario)
    weights = shares(11, 3, 8)
    weights[0, 0] = 0.0
    weights[0, 0, [5, 8]] = [0.25, 0.75]
    decision = layout.decision(weights, "test")
    caps = {n.id: float(n.cap) for n in scenario.network.nodes}
    masked = mask_down(decision, frozenset({"pop8"}), caps)
    assert masked.schedule["pop0"]["sfc_1"]["a"] == {"pop5": 1.0}
    fallback = masked.schedule["pop1"]["sfc_1"]["b"]  # everything went to pop8
    assert "pop8" not in fallback and fallback["pop3"] == pytest.approx(2 / 8)
    assert "pop8" not in masked.placement and "pop8" in decision.placement
    wrapped = DownNodeMask(teacher_of(scenario), scenario.network)
    up = observed({"pop0": 1.0, "pop1": 1.0, "pop2": 1.0})
    assert wrapped.predict(up) is wrapped.policy.predict(up)  # nothing down: unchanged
    down = observed({"pop0": 1.0}, frozenset({"pop3"}))
    assert all(
        "pop3" not in w
        for c in wrapped.predict(down).schedule.values()
        for s in c.values()
        for w in s.values()
    )


# ------------------------------------------------------------------ randomised episodes
def test_randomised_episodes_follow_their_seed_and_change_the_traffic() -> None:
    scenario = bundled("ratechange")
    spec = Randomisation(double=("pop1",), double_probability=1.0, fail=("pop8",))
    one = randomised(scenario, random.Random(4), spec)
    assert one == randomised(scenario, random.Random(4), spec)
    draws = [randomised(scenario, random.Random(s), spec) for s in range(12)]
    assert len({d.traffic.trace for d in draws}) > 1
    assert any(d.failures for d in draws) and any(not d.failures for d in draws)


def test_doubling_halves_the_means_inside_the_window_only() -> None:
    line: Timeline = [(0.0, 10.0), (5_000.0, 8.0)]
    assert doubled(line, 2_000.0, 9_000.0) == [
        (0.0, 10.0),
        (2_000.0, 5.0),
        (5_000.0, 4.0),
        (9_000.0, 8.0),
    ]


# ------------------------------------------------------------------ imitation
def test_the_imitated_actor_changes_its_decision_with_the_ingress_rate() -> None:
    import torch

    from agent.policies.coordination.network import Actor

    scenario = bundled("ratechange")
    layout = layout_of(scenario)
    schedules = [shares(11, 3, 3), shares(11, 3, 5)]
    rng = np.random.default_rng(0)
    vectors, labels = [], []
    for _ in range(400):
        loaded = bool(rng.random() < 0.5)
        vector = np.zeros(11, dtype=np.float32)
        vector[:3] = rng.normal(1.0, 0.2, 3)
        vector[1] += 1.0 if loaded else 0.0
        vectors.append(vector)
        labels.append(int(loaded))
    torch.manual_seed(0)
    actor = Actor(11, 11, 3, [32])
    fit(actor, vectors, labels, schedules, 800, 0)
    policy = ActorPolicy(actor, layout, 0.1)
    quiet = policy.weights(observed({"pop0": 1.0, "pop1": 1.0, "pop2": 1.0}))
    busy = policy.weights(observed({"pop0": 1.0, "pop1": 2.0, "pop2": 1.0}))
    assert quiet[0, 0].argmax() == 3 and busy[0, 0].argmax() == 5
    assert quiet[0, 0, 3] > 0.6 and busy[0, 0, 5] > 0.6


def test_training_saves_a_policy_that_loads(tmp_path: Path) -> None:
    scenario = dataclasses.replace(bundled("ratechange"), steps=20)
    regimes, spec = scenario_family(scenario)
    search = regime_args(iterations=1, population=3, episodes=1, steps=10, prune_rounds=0)
    args = ReactingArgs(
        tuple(regimes), spec, search, episodes=2, dagger_episodes=1, bc_steps=20, static=search
    )
    result = train_reacting(scenario, args, tmp_path / "run", tmp_path / "cache")
    assert len(result.scores) == 2 and result.directory is not None
    loaded = load_policy(result.directory)
    assert loaded.card.algorithm == "regime-imitation"
    sim = Simulator(scenario, seed=1)
    assert loaded.predict(sim.observation).schedule.keys() == {n for n in layout_of(scenario).nodes}
