"""Short DDPG and MADDPG runs: they train, save a policy that loads, and the numpy actor
matches the torch actor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from agent.model.slicing import load_slicing_scenario
from agent.model.slicing_price import Slices
from agent.policies.errors import PolicyError
from agent.policies.slicing import SlicingPolicy, make_method
from agent.policies.slicing.learned import actor_forward, load_slave
from agent.train.export import sample_inputs
from agent.train.slicing_ddpg import SlicingDDPGArgs, save_policy, train_slicing_ddpg
from agent.train.slicing_maddpg import (
    SlicingMADDPGArgs,
    save_maddpg_policy,
    train_slicing_maddpg,
)
from agent.train.slicing_nets import numpy_weights

BUNDLED = Path(__file__).resolve().parents[2] / "topologies" / "slicing"
PAPER = load_slicing_scenario(BUNDLED / "paper.yaml")


def test_smoke_training_saves_a_loadable_policy(tmp_path: Path) -> None:
    args = SlicingDDPGArgs(
        steps=60, envs=4, warmup=10, batch_size=32, eval_every=60, eval_episodes=1
    )
    seen: list[tuple[float, float]] = []
    actor, selected = train_slicing_ddpg(PAPER, args, tmp_path, lambda _, g, r: seen.append((g, r)))
    assert seen and 0 < selected.ratio <= 1.5 and selected.regret == min(g for g, _ in seen)
    assert (tmp_path / "curves.csv").is_file()
    assert (tmp_path / "checkpoints" / "step60.pt").is_file()
    save_policy(tmp_path / "policy", actor, PAPER, args, selected)
    slave = load_slave(tmp_path / "policy")
    assert slave.card["users"] == 5 and slave.card["capacity"] == 100
    assert numpy_weights(actor).keys() == (slave.weights or {}).keys()
    obs = sample_inputs_for(actor.users, 64)
    actor.band = True  # as decisions are made
    with torch.no_grad():
        expected = actor(torch.from_numpy(obs)).numpy()
    got = actor_forward(slave.weights, Slices.of(obs.astype(np.float64), 5), actor.pricing)
    assert np.allclose(got, expected, atol=1e-5)
    problem = PAPER.problem(12345678)
    policy = SlicingPolicy(problem, make_method("admm-drl", tmp_path / "policy"))
    decided = policy.allocate(PAPER.demand(problem, 0)[0])
    assert decided.per_user.sum() <= problem.capacity * (1 + 1e-9)


def sample_inputs_for(users: int, count: int) -> np.ndarray:
    from agent.model.slicing_observation import obs_size
    from agent.train.export import Exportable

    fake = Exportable("slicing", torch.nn.Identity(), obs_size(users), "")
    return sample_inputs(fake, count, seed=3)


def test_maddpg_smoke_training(tmp_path: Path) -> None:
    args = SlicingMADDPGArgs(
        steps=30, envs=2, warmup=10, batch_size=16, eval_every=30, eval_episodes=1
    )
    actor, selected = train_slicing_maddpg(PAPER, args, tmp_path)
    assert np.isfinite(selected.regret) and selected.ratio > 0
    save_maddpg_policy(tmp_path / "policy", actor, PAPER, args, selected)
    assert load_slave(tmp_path / "policy").card["algorithm"] == "maddpg"
    method = make_method("maddpg-admm", tmp_path / "policy")
    problem = PAPER.problem(1)
    x = SlicingPolicy(problem, method).allocate(PAPER.demand(problem, 1)[0]).per_user
    assert x.sum() <= problem.capacity * (1 + 1e-9)


def test_a_slave_for_other_utilities_is_refused(tmp_path: Path) -> None:
    three = load_slicing_scenario(BUNDLED / "three-service.yaml")
    args = SlicingDDPGArgs(steps=2, envs=1, warmup=5, eval_every=2, eval_episodes=1)
    actor, selected = train_slicing_ddpg(PAPER, args, None)
    save_policy(tmp_path / "policy", actor, PAPER, args, selected)
    problem = three.problem(0)
    policy = SlicingPolicy(problem, make_method("admm-drl", tmp_path / "policy"))
    with pytest.raises(PolicyError, match="trained for alpha-fair utilities"):
        policy.allocate(three.demand(problem, 0)[0])
