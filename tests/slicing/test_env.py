"""The slave environment: spaces, reward terms, deficits, seeding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.envs.slicing import SliceSlaveEnv
from agent.model.slicing import load_slicing_scenario
from agent.model.slicing_observation import obs_size

BUNDLED = Path(__file__).resolve().parents[2] / "topologies" / "slicing"


def test_spaces_fit_the_largest_slice() -> None:
    env = SliceSlaveEnv(load_slicing_scenario(BUNDLED / "three-service.yaml"))
    assert env.action_space.shape == (50,)
    obs, _ = env.reset(seed=3)
    assert obs.shape == (obs_size(50),) and env.observation_space.contains(obs)


def test_reward_prefers_meeting_the_target() -> None:
    env = SliceSlaveEnv(load_slicing_scenario(BUNDLED / "paper.yaml"), slice_index=0)
    env.reset(seed=1, options={"target": 30.0})
    on_target = env.step(np.full(5, 0.06))[1]  # 5 x 6 = 30
    env.reset(seed=1, options={"target": 30.0})
    off_target = env.step(np.full(5, 0.12))[1]  # 60: penalty 5 x 30^2
    assert on_target > off_target + 100


def test_deficit_grows_when_qos_is_missed_and_episodes_end() -> None:
    env = SliceSlaveEnv(load_slicing_scenario(BUNDLED / "paper.yaml"), slice_index=0)
    obs, _ = env.reset(seed=2, options={"target": 0.0})
    assert obs[:5].sum() == 0
    truncated, steps = False, 0
    while not truncated:
        obs, _, terminated, truncated, _ = env.step(np.zeros(5))
        assert not terminated
        steps += 1
    assert steps == 20
    assert obs[:5].min() > 0


def test_same_seed_same_episode() -> None:
    scenario = load_slicing_scenario(BUNDLED / "three-service.yaml")
    first, second = SliceSlaveEnv(scenario), SliceSlaveEnv(scenario)
    a, _ = first.reset(seed=9)
    b, _ = second.reset(seed=9)
    assert np.array_equal(a, b) and first.target == pytest.approx(second.target)
