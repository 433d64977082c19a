from __future__ import annotations

from pathlib import Path

import pytest

from agent.model.deployment import load_deployment
from agent.policies.deployment.heuristics import HEURISTICS
from agent.policies.deployment.milp import OfflinePlacements, solve_offline
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
    for cls in HEURISTICS.values():
        assert run_episode(scenario, cls(), requests).accepted <= result.bound + 1e-6


def test_milp_accepts_all_when_everything_fits() -> None:
    scenario = load_deployment(SMALL)
    requests = generate_requests(scenario, 3, 3)
    result = solve_offline(scenario.substrate, requests, time_limit_s=30)
    assert result.optimal and result.accepted == 3 and result.gap == 0


def test_unknown_policy_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not a deployment policy"):
        make_deployment_policy(str(tmp_path / "nothing"), 24)
