"""The coordination environment: layout, DeepCoord's post-processing, rewards, episodes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from agent.envs.coordination import (
    OBJECTIVES,
    CoordinationEnv,
    RewardConfig,
    layout_of,
    postprocess,
)
from agent.model.scenario import Scenario, scenario_from_files
from agent.policies.coordination import policy as learned
from tests.conftest import DEEPCOORD


def abilene(ingress: int = 2) -> Scenario:
    return scenario_from_files(
        DEEPCOORD / "networks" / "abilene" / f"abilene-in{ingress}-rand-cap0-2.graphml",
        DEEPCOORD / "service_functions" / "abc.yaml",
        DEEPCOORD / "config" / "simulator" / "rand-arrival10_det-size001_duration100.yaml",
    )


def test_layout_follows_network_and_chain_order() -> None:
    layout = layout_of(abilene(), observe_load=True)
    assert layout.nodes[:3] == ("pop0", "pop1", "pop2")
    assert layout.rows == (("sfc_1", "a"), ("sfc_1", "b"), ("sfc_1", "c"))
    assert layout.action_shape == (11, 3, 11)
    assert layout.obs_size == 22


def test_postprocess_zeroes_small_weights_and_renormalises() -> None:
    out = postprocess(np.array([[[0.5, 0.45, 0.05]], [[0.0, 0.0, 0.0]], [[0.05, 0.06, 0.04]]]), 0.1)
    np.testing.assert_allclose(out[0, 0], [0.5 / 0.95, 0.45 / 0.95, 0.0])
    np.testing.assert_allclose(out[1, 0], [1 / 3] * 3)  # all zero: uniform
    # under the threshold after normalisation? 0.05/0.15 = 0.33: all kept
    np.testing.assert_allclose(out[2, 0].sum(), 1.0)


def test_env_and_policy_postprocessing_agree() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        raw = rng.dirichlet(np.ones(6) * 0.3, size=(4, 2))
        np.testing.assert_allclose(postprocess(raw, 0.1), learned.postprocess(raw, 0.1))
        for row in postprocess(raw, 0.1).reshape(-1, 6):
            assert row.sum() == pytest.approx(1.0)
            assert (row[row > 0] >= 0.1 - 1e-12).all() or (row > 0).sum() == 1


def test_episode_of_control_steps_with_new_seed_each_reset() -> None:
    env = CoordinationEnv(abilene(), episode_steps=5, seed=7)
    obs, info = env.reset()
    assert obs.shape == (11,) and info["seed"] == 7
    weights = np.zeros(env.layout.action_shape, dtype=np.float32)
    weights[..., [1, 3]] = 1.0  # every (node, SF) to pop1 and pop3, half each
    action = weights.reshape(-1)
    for k in range(5):
        obs, reward, terminated, truncated, info = env.step(action)
        assert -1.0 <= reward <= 1.0
        assert not terminated and truncated == (k == 4)
    assert obs[0] > 0 and obs[1] > 0 and obs[2:].sum() == 0  # ingress rates only
    decision = info["decision"]
    assert set(decision.placement) == {"pop1", "pop3"}  # placement follows the schedule
    assert decision.schedule["pop0"]["sfc_1"]["a"] == {"pop1": 0.5, "pop3": 0.5}
    assert env.reset()[1]["seed"] == 8


def test_same_seed_same_episode() -> None:
    env = CoordinationEnv(abilene(), episode_steps=3)
    action = np.random.default_rng(0).random(env.action_space.shape).astype(np.float32)
    runs = []
    for _ in range(2):
        env.reset(seed=11)
        runs.append([env.step(action)[1] for _ in range(3)])
    assert runs[0] == runs[1]


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_every_objective_gives_a_bounded_reward(objective: str) -> None:
    reward = RewardConfig(objective, delay_weight=0.5, node_weight=0.5)  # type: ignore[arg-type]
    env = CoordinationEnv(abilene(1), reward, episode_steps=3)
    env.reset(seed=1)
    action = np.ones(env.layout.action_size, dtype=np.float32)  # 1/11 < 0.1: argmax
    rewards = [env.step(action)[1] for _ in range(3)]
    assert all(-3.0 <= r <= 3.0 for r in rewards)


def test_a_step_is_the_step_of_its_decision() -> None:
    arrays, decisions = CoordinationEnv(abilene(3), seed=4), CoordinationEnv(abilene(3), seed=4)
    arrays.reset(), decisions.reset()
    rng = np.random.default_rng(1)
    for _ in range(12):
        action = rng.random(arrays.layout.action_size).astype(np.float32)
        obs, reward, _, _, info = arrays.step(action)
        expected = decisions.step_decision(decisions.decision(action))
        assert obs.tolist() == expected[0].tolist() and reward == expected[1]
        assert info["metrics"].delays == expected[4]["metrics"].delays
        # the Decision is made only when asked for, and is the one the action makes
        assert "decision" not in info
        assert info.get("decision") == expected[4]["decision"] == info["decision"]
    with pytest.raises(KeyError):
        info["nothing"]


def test_observations_can_be_built_in_place() -> None:
    env = CoordinationEnv(abilene(3), observe_load=True, seed=2)
    env.reset()
    observation = env.sim.step(env.decision(np.ones(env.layout.action_size))).observation
    buffer = np.full(env.layout.obs_size, 7.0, dtype=np.float32)
    fresh = env.layout.observe(observation)
    assert env.layout.observe(observation, out=buffer) is buffer
    assert buffer.tolist() == fresh.tolist() and fresh[:3].sum() > 0
    with pytest.raises(ValueError, match="observation buffer"):
        env.layout.observe(observation, out=np.zeros(3, dtype=np.float32))
    # the simulator's reports give their numbers without building NodeReports: the same
    plain = dataclasses.replace(observation, reports=dict(observation.reports))
    assert env.layout.observe(plain).tolist() == fresh.tolist()
