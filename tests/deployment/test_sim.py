from __future__ import annotations

import pytest

from agent.model.deployment import DeploymentScenario
from agent.model.deployment_state import Decision, Placement, Rejection, Request, SubstrateState
from agent.policies.deployment.heuristics import HEURISTICS, FirstFit
from agent.sim.deployment import DeploymentSim, generate_requests, run_episode


def test_generator_is_seeded_and_follows_the_scenario(bundled: DeploymentScenario) -> None:
    a, b = generate_requests(bundled, 5, 40), generate_requests(bundled, 5, 40)
    assert a == b and a != generate_requests(bundled, 6, 40)
    assert all(2 <= r.length <= 5 and 10 <= r.duration <= 50 for r in a)
    assert all(10 <= c <= 20 for r in a for c in r.cpu) and a[-1].arrival > a[0].arrival


def test_departures_release_everything(bundled: DeploymentScenario) -> None:
    requests = generate_requests(bundled, 1, 50)
    sim = DeploymentSim(bundled, requests)
    policy = FirstFit()
    while not sim.done:
        sim.submit(policy.place(sim.current, sim.state))
    assert sim.active > 0
    sim.finish()
    fresh = SubstrateState(bundled.substrate)
    assert sim.state.cpu == pytest.approx(fresh.cpu) and sim.active == 0
    assert sim.state.bandwidth == pytest.approx(fresh.bandwidth)
    assert sim.result.energy > 0


def test_invalid_placements_are_rejections(bundled: DeploymentScenario) -> None:
    requests = generate_requests(bundled, 1, 3)

    class Liar:
        name = "liar"

        def place(self, request: Request, state: SubstrateState) -> Decision:
            placement = FirstFit().place(request, state)
            assert isinstance(placement, Placement)
            return Placement(request.id, placement.servers, placement.paths, 0.0)

    result = run_episode(bundled, Liar(), requests)
    assert result.accepted <= 3
    assert all(reason.startswith("invalid placement") for reason in result.reasons)


@pytest.mark.parametrize("name", sorted(HEURISTICS))
def test_heuristics_are_deterministic_and_valid(bundled: DeploymentScenario, name: str) -> None:
    requests = generate_requests(bundled, 2, 50)
    first = run_episode(bundled, HEURISTICS[name](), requests)
    second = run_episode(bundled, HEURISTICS[name](), requests)
    assert first == second
    assert 0 < first.accepted < 50
    assert not any(r.startswith("invalid") for r in first.reasons)


def test_rejection_leaves_state_unchanged(bundled: DeploymentScenario) -> None:
    sim = DeploymentSim(bundled, generate_requests(bundled, 1, 2))
    before = list(sim.state.cpu)
    outcome = sim.submit(Rejection(sim.current.id, "no"))
    assert not outcome.accepted and sim.state.cpu == before
