from __future__ import annotations

from pathlib import Path

import pytest

from agent.model.deployment import DeploymentScenario, load_deployment
from agent.model.deployment_state import Placement, Request
from agent.policies.deployment.heuristics import HEURISTICS, LatencyGreedy
from agent.policies.deployment.milp import OfflinePlacements, aggregate_bound, solve_offline
from agent.policies.deployment.offline_greedy import best_greedy, busy_sets, greedy_pass
from agent.policies.deployment.registry import make_deployment_policy
from agent.policies.errors import PolicyError
from agent.sim.deployment import generate_requests, run_episode
from tests.deployment.conftest import SMALL


def test_milp_is_feasible_and_beats_every_heuristic() -> None:
    scenario = load_deployment(SMALL)
    requests = generate_requests(scenario, 3, 14)
    result = solve_offline(scenario.substrate, requests, time_limit_s=30)
    replay = run_episode(scenario, OfflinePlacements(result), requests)
    assert replay.accepted == result.accepted  # every placement passes the simulator's checks
    assert result.accepted >= result.incumbent  # never worse than its warm start
    assert result.accepted <= result.bound <= result.aggregate_bound
    for cls in HEURISTICS.values():
        assert run_episode(scenario, cls(), requests).accepted <= result.bound + 1e-6


def test_milp_accepts_all_when_everything_fits() -> None:
    scenario = load_deployment(SMALL)
    requests = generate_requests(scenario, 3, 3)
    result = solve_offline(scenario.substrate, requests, time_limit_s=30)
    assert result.optimal and result.accepted == 3 and result.gap == 0
    assert result.proved_by == "aggregate bound"  # the greedy solution meets the bound


def test_milp_proves_what_the_greedy_cannot() -> None:
    """Seed 18 of the small scenario, 18 requests: the greedy passes accept 17, the
    aggregate bound says 18, and the MILP places all 18 (the bound: optimal)."""
    scenario = load_deployment(SMALL)
    requests = generate_requests(scenario, 18, 18)
    result = solve_offline(scenario.substrate, requests, time_limit_s=60)
    assert result.proved_by == "milp" and result.optimal
    assert result.accepted > result.incumbent
    assert run_episode(scenario, OfflinePlacements(result), requests).accepted == result.accepted


def _request(rid: int, arrival: float, duration: int, cpu: float) -> Request:
    return Request(rid, arrival, duration, 0, 2, (0,), (cpu,), (1.0,), (1.0, 1.0), 500.0, 100.0)


def test_capacity_is_checked_only_where_requests_overlap(line: DeploymentScenario) -> None:
    # 40 CPU per server: two requests of 30 overlap at t=1 (not both on one server),
    # the third starts when the first has left
    requests = [_request(0, 0.0, 2, 30.0), _request(1, 1.0, 2, 30.0), _request(2, 2.5, 2, 30.0)]
    assert busy_sets(requests) == [[0, 1], [1, 2]]
    placed = greedy_pass(line.substrate, requests, [0, 1, 2], LatencyGreedy())
    assert set(placed) == {0, 1, 2}
    assert placed[0].servers != placed[1].servers and placed[1].servers != placed[2].servers
    # the aggregate bound: at most 4 requests of 30 fit 3 x 40 at once
    crowd = [_request(i, 0.0, 5, 30.0) for i in range(6)]
    assert aggregate_bound(line.substrate, crowd, busy_sets(crowd)) == 4.0
    assert best_greedy(line.substrate, crowd).accepted == 3  # one per server
    assert solve_offline(line.substrate, crowd, time_limit_s=10).accepted == 3


def test_offline_greedy_placements_replay_in_the_simulator() -> None:
    scenario = load_deployment(SMALL)
    requests = generate_requests(scenario, 4, 30)
    best = best_greedy(scenario.substrate, requests)
    replay = run_episode(scenario, OfflinePlacements.of(best.placements), requests)
    assert replay.accepted == best.accepted and isinstance(
        next(iter(best.placements.values())), Placement
    )


def test_unknown_policy_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not a deployment policy"):
        make_deployment_policy(str(tmp_path / "nothing"), 24)
