"""The trainers' actor calls: ``act`` gives exactly the actor module's output, and the
periodic evaluation, which runs the actor in numpy, scores a trained actor as the torch
actor scores it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agent.envs.coordination import CoordinationEnv
from agent.policies.coordination import load_named
from agent.policies.coordination.network import Actor
from agent.train.coordination_common import act, activation_of, evaluate_actor
from agent.train.rollout import policy_context
from tests.envs.test_coordination import abilene


@pytest.mark.parametrize(
    ("hidden", "activation"), [([64, 32], "relu"), ([16], "elu"), ([], "tanh")]
)
def test_act_is_the_modules_output_bit_for_bit(hidden: list[int], activation: str) -> None:
    torch.manual_seed(2)
    actor = Actor(11, 11, 3, hidden, activation)
    assert activation_of(actor) == (activation if hidden else "relu")
    for obs in np.random.default_rng(1).normal(0.0, 3.0, (20, 11)).astype(np.float32):
        with torch.no_grad():
            want = actor(torch.from_numpy(obs)[None])[0].numpy()
        got = act(actor, obs)
        assert got.dtype == np.float32 and np.array_equal(got, want)


def _torch_evaluation(env: CoordinationEnv, actor: Actor, episodes: int, seed: int) -> float:
    successful = generated = 0
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        for _ in range(env.episode_steps):
            with torch.no_grad():
                action = actor(torch.from_numpy(obs)[None])[0].numpy()
            obs, _, _, _, _ = env.step(action)
        successful += env.sim.successful
        generated += env.sim.generated
    return successful / generated


def test_the_numpy_evaluation_scores_as_the_torch_actor_does() -> None:
    scenario = abilene(3)
    policy = load_named("abilene-in3-rand-cap0-2", policy_context(scenario, 0))
    actor = policy.actor
    env = CoordinationEnv(scenario, episode_steps=40, seed=0)
    score = evaluate_actor(env, actor, 3, 7)
    assert score == _torch_evaluation(env, actor, 3, 7)
    assert 0.0 < score < 1.0
