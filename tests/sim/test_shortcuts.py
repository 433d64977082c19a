"""The simulator's shortcuts (booked paths, early departures, logged link holdings)
must not change any outcome: the same seed gives the same counts hop by hop."""

from __future__ import annotations

import dataclasses

import pytest

from agent.model.network import Link, Network
from agent.model.scenario import Scenario, scenario_from_files
from agent.policies.registry import make_policy
from agent.sim.engine import Simulator
from agent.train.rollout import policy_context
from tests.conftest import DEEPCOORD


def abilene(n: int, config: str = "rand-arrival10_det-size001_duration100") -> Scenario:
    return scenario_from_files(
        DEEPCOORD / f"networks/abilene/abilene-in{n}-rand-cap0-2.graphml",
        DEEPCOORD / "service_functions/abc.yaml",
        DEEPCOORD / f"config/simulator/{config}.yaml",
    )


def with_link_cap(scenario: Scenario, cap: float) -> Scenario:
    net = scenario.network
    links = tuple(Link(link.a, link.b, cap, link.delay) for link in net.links)
    return dataclasses.replace(scenario, network=Network(net.name, net.nodes, links, net.source))


def outcome(
    scenario: Scenario, policy: str, hop_by_hop: bool, steps: int = 60
) -> tuple[object, ...]:
    sim = Simulator(scenario, seed=11, hop_by_hop=hop_by_hop)
    agent = make_policy(policy, policy_context(scenario, 11))
    per_step = []
    for _ in range(steps):
        result = sim.step(agent.predict(sim.observation))
        per_step.append(
            (
                result.metrics.generated,
                result.metrics.successful,
                tuple(result.metrics.drops.values()),
            )
        )
    totals = sim.finish()
    return (tuple(per_step), round(sum(totals.delays), 6))


CASES = {
    "abilene-in3": abilene(3),
    "abilene-in5-det": abilene(5, "det-arrival10_det-size001_duration100"),
    "abilene-in2-mmpp": abilene(2, "rand-mmp-arrival12-8_det-size001_dur100"),
    # links so narrow that they fill: the shortcuts must switch themselves off
    "abilene-in5-narrow-links": with_link_cap(abilene(5), 6.0),
    "abilene-in4-links-at-the-edge": with_link_cap(abilene(4), 150.0),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("policy", ["shortest-path", "load-balance"])
def test_shortcuts_change_nothing(name: str, policy: str) -> None:
    scenario = CASES[name]
    assert outcome(scenario, policy, hop_by_hop=False) == outcome(scenario, policy, hop_by_hop=True)


def test_narrow_links_do_drop() -> None:
    sim = Simulator(CASES["abilene-in5-narrow-links"], seed=3)
    agent = make_policy("load-balance", policy_context(sim.scenario, 3))
    for _ in range(30):
        sim.step(agent.predict(sim.observation))
    assert sim.finish().drops["LINK_CAP"] > 0


def test_traffic_does_not_depend_on_the_policy() -> None:
    scenario = abilene(3)
    generated = set()
    for policy in ("shortest-path", "random", "greedy"):
        sim = Simulator(scenario, seed=5)
        agent = make_policy(policy, policy_context(scenario, 5))
        counts = []
        for _ in range(20):
            counts.append(sim.step(agent.predict(sim.observation)).metrics.generated)
        generated.add(tuple(counts))
    assert len(generated) == 1
