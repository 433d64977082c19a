"""The shipped slaves load, match their scenarios and decide close to ADMM-OPT."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.model.slicing import load_slicing_scenario
from agent.policies.slicing.learned import SHIPPED, load_slave
from agent.policies.slicing.methods import admm_opt, make_method
from agent.train.slicing_eval import evaluate

BUNDLED = Path(__file__).resolve().parents[2] / "topologies" / "slicing"
CASES = [("paper", "admm-drl", 5), ("paper", "maddpg-admm", 5), ("paper-20x50", "admm-drl", 1)]


@pytest.mark.parametrize(("scenario", "method", "episodes"), CASES)
def test_shipped_slave_is_close_to_admm_opt(scenario: str, method: str, episodes: int) -> None:
    loaded = load_slicing_scenario(BUNDLED / f"{scenario}.yaml")
    methods = {"admm-opt": admm_opt, method: make_method(method, scenario=scenario)}
    result = evaluate(loaded, methods, episodes, 12345678)[method]
    assert result.ratio_to_opt is not None and result.ratio_to_opt >= 0.97
    assert result.qos_satisfaction == 1.0 and result.capacity_violations == 0


def test_shipped_cards_name_their_scenarios() -> None:
    for directory in sorted(p for p in SHIPPED.iterdir() if p.is_dir()):
        slave = load_slave(directory)
        scenario = load_slicing_scenario(BUNDLED / f"{slave.card['scenario']}.yaml")
        problem = scenario.problem(0)
        assert slave.card["utility"] == problem.utility.value
        assert slave.card["capacity"] == problem.capacity
        assert slave.card["users"] == max(s.users for s in problem.slices)
