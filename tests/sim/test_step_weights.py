"""A schedule given as a weights array steps the simulator exactly as the Decision those
weights make: the training environment relies on it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from agent.envs.coordination import layout_of
from agent.model.deepcoord import postprocess
from agent.model.scenario import Scenario, ScheduleMode, load_scenario
from agent.sim.engine import Simulator
from tests.conftest import TOPOLOGIES
from tests.sim.test_shortcuts import abilene, with_link_cap


def outcomes(scenario: Scenario, arrays: bool, steps: int = 90) -> list[tuple[object, ...]]:
    layout = layout_of(scenario)
    sim = Simulator(scenario, seed=5)
    rng = np.random.default_rng(0)
    base = rng.random(layout.action_shape)
    seen: list[tuple[object, ...]] = []
    for k in range(steps):
        # a schedule that moves every step, and now and then repeats the last one
        noise = 0.0 if k % 7 == 6 else rng.normal(0.0, 0.2, layout.action_shape)
        weights = postprocess(np.clip(base + noise, 0.0, None), 0.1)
        if arrays:
            result = sim.step_weights(weights, layout.rows)
        else:
            result = sim.step(layout.decision(weights, "test"))
        m = result.metrics
        seen.append((m.generated, m.successful, dict(m.drops), m.delays, m.node_utilisation))
        seen.append(tuple(layout.observe(result.observation)))
    return seen


CASES = {
    "abilene-in3": abilene(3),
    "abilene-in5-narrow-links": with_link_cap(abilene(5), 6.0),
    "degraded": load_scenario(Path(TOPOLOGIES) / "scenarios/abilene-in3-degraded.yaml"),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("mode", list(ScheduleMode))
def test_weights_step_like_their_decision(name: str, mode: ScheduleMode) -> None:
    scenario = dataclasses.replace(CASES[name], schedule_mode=mode)
    assert outcomes(scenario, arrays=True) == outcomes(scenario, arrays=False)


def test_weights_of_the_wrong_shape_are_refused() -> None:
    scenario = abilene(3)
    layout = layout_of(scenario)
    with pytest.raises(ValueError, match="shape"):
        Simulator(scenario).step_weights(np.ones((3, 3, 3)), layout.rows)
