"""The common case's one-function step (``agent.sim.fastpath``) must give exactly what the
general event loop gives: the same flows, drops, delays, loads and observations."""

from __future__ import annotations

import dataclasses

import pytest

from agent.model.scenario import Scenario, ScheduleMode, load_scenario
from agent.policies.registry import make_policy
from agent.sim.engine import Simulator
from agent.train.rollout import policy_context
from tests.conftest import TOPOLOGIES
from tests.sim.test_shortcuts import abilene, with_link_cap


def run(scenario: Scenario, policy: str, plain: bool, steps: int = 60) -> list[object]:
    sim = Simulator(scenario, seed=11)
    sim.plain = plain and sim.plain
    agent = make_policy(policy, policy_context(scenario, 11))
    seen: list[object] = []
    for _ in range(steps):
        result = sim.step(agent.predict(sim.observation))
        m = result.metrics
        links = {name: round(value, 9) for name, value in m.link_utilisation.items()}
        seen.append((m.generated, m.successful, m.drops, m.drops_by_node, m.delays))
        seen.append((m.node_utilisation, links, m.in_flight))
        seen.append(sorted((node, repr(r)) for node, r in result.observation.reports.items()))
    totals = sim.finish()
    seen.append((totals.generated, totals.successful, totals.dropped, sum(totals.delays)))
    return seen


def random_schedule(scenario: Scenario) -> Scenario:
    return dataclasses.replace(scenario, schedule_mode=ScheduleMode.RANDOM)


CASES = {
    "abilene-in3": (abilene(3), ["shortest-path", "load-balance", "abilene-in3-rand-cap0-2"]),
    "abilene-in5-hashing": (
        random_schedule(abilene(5)),
        ["load-balance", "random", "abilene-in5-rand-cap0-2"],
    ),
    "abilene-in5-det": (abilene(5, "det-arrival10_det-size001_duration100"), ["greedy"]),
    "abilene-in2-mmpp": (abilene(2, "rand-mmp-arrival12-8_det-size001_dur100"), ["random"]),
    # links that could fill in some steps: steps alternate between the two loops
    "abilene-in4-links-now-and-then": (with_link_cap(abilene(4), 480.0), ["load-balance"]),
    "abilene-in5-narrow-links": (with_link_cap(abilene(5), 6.0), ["shortest-path"]),
}


@pytest.mark.parametrize(
    ("name", "policy"), [(name, policy) for name, (_, pols) in CASES.items() for policy in pols]
)
def test_plain_steps_change_nothing(name: str, policy: str) -> None:
    scenario = CASES[name][0]
    assert Simulator(scenario).plain
    assert run(scenario, policy, plain=True) == run(scenario, policy, plain=False)


def test_the_plain_step_runs_where_links_are_safe_and_only_there() -> None:
    scenario = CASES["abilene-in4-links-now-and-then"][0]
    sim = Simulator(scenario, seed=11)
    agent = make_policy("load-balance", policy_context(scenario, 11))
    safe = []
    for _ in range(60):
        sim.step(agent.predict(sim.observation))
        safe.append(sim.links_safe)
    assert any(safe) and not all(safe)  # both loops ran in this episode


def test_scenarios_outside_the_common_case_keep_the_general_loop() -> None:
    degraded = load_scenario(TOPOLOGIES / "scenarios/abilene-in3-degraded.yaml")  # failures
    assert not Simulator(degraded).plain
    assert not Simulator(abilene(3), hop_by_hop=True).plain
    assert Simulator(abilene(3)).plain


def test_a_subclass_that_replaces_a_handler_runs_the_general_loop() -> None:
    class Counting(Simulator):
        seen = 0

        def _on_arrival(self, node: int, time: float) -> None:
            self.seen += 1
            super()._on_arrival(node, time)

    scenario = abilene(2)
    assert Simulator(scenario).plain  # the common case takes the one-function step
    counting = Counting(scenario)
    assert not counting.plain
    policy = make_policy("shortest-path", policy_context(scenario, 0))
    for _ in range(5):
        counting.step(policy.predict(counting.observation))
    assert counting.seen == counting.flow_count > 0  # the hook saw every flow
