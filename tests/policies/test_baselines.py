"""Baseline policies: the shortest-path plan equals the authors' algorithm, every policy
returns a complete and valid schedule, plans avoid failed nodes."""

from __future__ import annotations

import math

import pytest

from agent.model.scenario import Scenario, load_scenario
from agent.model.types import Observation
from agent.policies.registry import BASELINES, make_policy
from agent.sim.engine import Simulator
from agent.train.rollout import policy_context
from tests.conftest import TOPOLOGIES

# Plans printed by the authors' shortestPath.py on coord-sim 2.2.1 for these networks.
REFERENCE_SP: dict[int, tuple[dict[str, tuple[str, ...]], dict[tuple[str, str], str]]] = {
    1: (
        {"pop1": ("a",), "pop10": ("b",), "pop9": ("c",)},
        {("pop0", "a"): "pop1", ("pop1", "b"): "pop10", ("pop10", "c"): "pop9"},
    ),
    3: (
        {
            "pop1": ("a",),
            "pop9": ("a",),
            "pop10": ("b",),
            "pop8": ("c",),
            "pop3": ("b",),
            "pop4": ("c", "b"),
            "pop5": ("a", "c"),
        },
        {
            ("pop0", "a"): "pop9",
            ("pop1", "a"): "pop1",
            ("pop1", "b"): "pop3",
            ("pop2", "a"): "pop5",
            ("pop3", "c"): "pop4",
            ("pop4", "c"): "pop5",
            ("pop5", "b"): "pop4",
            ("pop9", "b"): "pop10",
            ("pop10", "c"): "pop8",
        },
    ),
}


def first_observation(n: int) -> tuple[Observation, Scenario]:
    scenario = load_scenario(TOPOLOGIES / f"scenarios/abilene-in{n}.yaml")
    return Simulator(scenario).observation, scenario


@pytest.mark.parametrize("n", [1, 3])
def test_shortest_path_matches_the_reference_plan(n: int) -> None:
    observation, scenario = first_observation(n)
    decision = make_policy("shortest-path", policy_context(scenario, 0)).predict(observation)
    placement, moves = REFERENCE_SP[n]
    assert {k: tuple(sorted(v)) for k, v in decision.placement.items()} == {
        k: tuple(sorted(v)) for k, v in placement.items()
    }
    targeted = {
        (node, sf): next(iter(w))
        for node, chains in decision.schedule.items()
        for sf, weights in chains["sfc_1"].items()
        if len(w := {d: x for d, x in weights.items() if x > 0}) == 1
    }
    assert targeted == moves


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_every_policy_returns_complete_normalised_schedules(name: str) -> None:
    observation, scenario = first_observation(3)
    sim = Simulator(scenario)
    policy = make_policy(name, policy_context(scenario, 0))
    for _ in range(3):
        decision = policy.predict(observation)
        for node in scenario.network.node_ids:
            for sf in ("a", "b", "c"):
                weights = decision.schedule[node]["sfc_1"][sf]
                assert math.isclose(sum(weights.values()), 1.0), (node, sf)
                assert all(w >= 0 for w in weights.values())
        observation = sim.step(decision).observation
    assert sim.finish().drops["DECISION"] == 0


@pytest.mark.parametrize("name", ["greedy", "load-balance", "random", "shortest-path"])
def test_plans_avoid_failed_nodes(name: str) -> None:
    observation, scenario = first_observation(3)
    failed = Observation(
        observation.time, 0, observation.interval, {}, down_nodes=frozenset({"pop9", "pop5"})
    )
    decision = make_policy(name, policy_context(scenario, 0)).predict(failed)
    assert not {"pop9", "pop5"} & set(decision.placement)
    targets = {
        d
        for c in decision.schedule.values()
        for w in c["sfc_1"].values()
        for d, x in w.items()
        if x > 0
    }
    assert not {"pop9", "pop5"} & targets
