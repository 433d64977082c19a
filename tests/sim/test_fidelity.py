"""Agreement with coord-sim 2.2.1: the shortest-path baseline on DeepCoord's Abilene
scenarios. The full 10-seed comparison is in bench/; these are the quick checks."""

from __future__ import annotations

import pytest

from agent.model.scenario import Scenario, scenario_from_files
from agent.policies.registry import make_policy
from agent.train.rollout import run_episodes
from tests.conftest import DEEPCOORD

# coord-sim (DeepCoord paper): success ratio of shortest path, 1..5 ingress nodes
COORD_SIM_DET = {1: 1.0, 2: 1.0, 3: 0.667, 4: 0.50, 5: 0.10}
COORD_SIM_RAND = {1: 0.627, 5: 0.291}


def abilene(n: int, config: str) -> Scenario:
    return scenario_from_files(
        DEEPCOORD / f"networks/abilene/abilene-in{n}-rand-cap0-2.graphml",
        DEEPCOORD / "service_functions/abc.yaml",
        DEEPCOORD / f"config/simulator/{config}.yaml",
    )


@pytest.mark.parametrize("n", sorted(COORD_SIM_DET))
def test_deterministic_arrivals(n: int) -> None:
    result = run_episodes(
        abilene(n, "det-arrival10_det-size001_duration100"),
        lambda c: make_policy("shortest-path", c),
        1,
        200,
        1,
        keep_rows=False,
    )
    assert result.totals.success_ratio == pytest.approx(COORD_SIM_DET[n], abs=0.005)
    assert {k for k, v in result.totals.drops.items() if v} <= {"NODE_CAP"}


@pytest.mark.parametrize("n", sorted(COORD_SIM_RAND))
def test_poisson_arrivals(n: int) -> None:
    result = run_episodes(
        abilene(n, "rand-arrival10_det-size001_duration100"),
        lambda c: make_policy("shortest-path", c),
        4,
        200,
        100,
        keep_rows=False,
    )
    assert result.totals.success_ratio == pytest.approx(COORD_SIM_RAND[n], abs=0.025)
    assert {k for k, v in result.totals.drops.items() if v} == {"NODE_CAP"}
