"""A short DDPG run: it trains, saves a policy that loads, and the numpy actor matches
the torch actor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from agent.model.slicing import load_slicing_scenario
from agent.policies.slicing import SlicingPolicy, make_method
from agent.policies.slicing.learned import actor_forward, load_slave
from agent.train.slicing_ddpg import SlicingDDPGArgs, numpy_weights, save_policy, train_slicing_ddpg

BUNDLED = Path(__file__).resolve().parents[2] / "topologies" / "slicing"


def test_smoke_training_saves_a_loadable_policy(tmp_path: Path) -> None:
    scenario = load_slicing_scenario(BUNDLED / "paper.yaml")
    args = SlicingDDPGArgs(
        steps=60, envs=4, warmup=10, batch_size=32, eval_every=60, eval_episodes=1
    )
    seen: list[float] = []
    actor, ratio = train_slicing_ddpg(scenario, args, tmp_path, lambda _, r: seen.append(r))
    assert seen and 0 < ratio <= 1.5
    assert (tmp_path / "curves.csv").is_file() and (
        tmp_path / "checkpoints" / "step60.pt"
    ).is_file()
    save_policy(tmp_path / "policy", actor, scenario, args, ratio)
    slave = load_slave(tmp_path / "policy")
    obs = np.random.default_rng(0).uniform(0, 1, (7, 31)).astype(np.float32)
    obs[:, 25:30] = 1.0  # mask: five users
    obs[:, 10:15] *= 0.01  # small floors
    with torch.no_grad():
        expected = actor(torch.from_numpy(obs)).numpy()
    got = actor_forward(slave.weights, obs.astype(np.float64), 5)
    assert np.allclose(got, expected, atol=1e-5)
    problem = scenario.problem(12345678)
    policy = SlicingPolicy(problem, make_method("admm-drl", tmp_path / "policy"))
    decided = policy.allocate(scenario.demand(problem, 0)[0])
    assert decided.per_user.sum() <= problem.capacity * (1 + 1e-9)
    assert numpy_weights(actor).keys() == slave.weights.keys()
