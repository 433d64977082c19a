"""Smoke tests: DDPG, TD3 and SAC each train 200 steps; warm start; resume; DDPG fine-tuning
keys (actor learning rate, TD3+BC regulariser)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from agent.policies.coordination import load_policy
from agent.train import coordination_common, ddpg, learner, sac, td3
from agent.train.coordination_common import (
    DeepCoordConfig,
    TrainSettings,
    load_deepcoord_config,
    set_threads,
)
from agent.train.rollout import policy_context
from tests.conftest import ROOT
from tests.envs.test_coordination import abilene

# DeepCoord's agent files, in the reference inputs kept beside the checkout
ANCHOR = ROOT.parent / "shared/anchors/DeepCoord/res/config/agent/ddpg"


def small_config(**extra: object) -> DeepCoordConfig:
    return DeepCoordConfig.model_validate(
        {
            "episode_steps": 40,
            "eval_every": 100,
            "eval_episodes": 1,
            "nb_steps_warmup_critic": 40,
            "nb_steps_warmup_actor": 60,
            "batch_size": 32,
            **extra,
        }
    )


@pytest.mark.parametrize("trainer", [ddpg.train, td3.train, sac.train])
def test_each_algorithm_trains_and_writes_a_run(tmp_path: Path, trainer: object) -> None:
    scenario = abilene(2)
    settings = TrainSettings(scenario, small_config(), 200, seed=1, out=tmp_path)
    result = trainer(settings)  # type: ignore[operator]
    assert 0.0 < result.best_success <= 1.0 and result.steps_per_s > 0
    (run,) = tmp_path.iterdir()
    assert {"config.json", "curves.csv", "curves.png", "best", "checkpoints"} <= {
        p.name for p in run.iterdir()
    }
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "step0.pt",  # after the warm start
        "step100.pt",
        "step200.pt",
    ]
    policy = load_policy(run / "best", policy_context(scenario, 0))
    assert policy.card.training.steps == 200


def test_resume_continues_from_a_checkpoint(tmp_path: Path) -> None:
    scenario = abilene(1)
    first = TrainSettings(scenario, small_config(), 100, seed=2, out=tmp_path / "a")
    ddpg.train(first)
    checkpoint = next((tmp_path / "a").iterdir()) / "checkpoints" / "step100.pt"
    second = TrainSettings(scenario, small_config(), 200, seed=2, resume=checkpoint)
    result = ddpg.train(second)
    assert result.curve[0]["step"] == 100  # started where the checkpoint left off


def test_warm_start_imitates_a_searched_schedule() -> None:
    config = small_config(
        pretrain_search_iterations=2,
        pretrain_search_population=4,
        pretrain_search_steps=20,
        pretrain_bc_steps=50,
    )
    result = ddpg.train(TrainSettings(abilene(1), config, 100, seed=0))
    assert result.card.training.warm_start_teacher_success is not None


@pytest.mark.skipif(not ANCHOR.is_dir(), reason="DeepCoord's agent files not here")
def test_reads_every_deepcoord_agent_yaml() -> None:
    for path in sorted(ANCHOR.glob("*.yaml")):
        config = load_deepcoord_config(path)
        assert config.episode_steps == 200


def test_bc_weight_pulls_the_actor_toward_its_imitation_start() -> None:
    critic = ddpg.Critic(3, 4, [8], "relu")
    obs = torch.rand(5, 3)
    anchor = torch.full((5, 4), 0.25)
    action = anchor.clone().requires_grad_(True)
    plain = ddpg.actor_objective(critic, obs, action, anchor, 0.0)
    assert torch.allclose(plain, -critic(obs, action).mean())
    far = torch.zeros(5, 4)
    far[:, 0] = 1.0
    near_loss = ddpg.actor_objective(critic, obs, anchor, anchor, 10.0)
    far_loss = ddpg.actor_objective(critic, obs, far, anchor, 10.0)
    assert far_loss > near_loss  # moving off the imitation schedule costs


def test_ddpg_fine_tuning_keys_train() -> None:
    config = small_config(bc_weight=1.0, actor_learning_rate=1e-5)
    assert ddpg.DDPGArgs.of(config).actor_lr == 1e-5
    assert ddpg.DDPGArgs.of(small_config()).actor_lr == small_config().learning_rate
    result = ddpg.train(TrainSettings(abilene(1), config, 100, seed=0))
    assert 0.0 < result.best_success <= 1.0


def test_threads_follow_the_networks_size_unless_set(
    one_torch_thread: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = TrainSettings(abilene(1), small_config(), 10)
    small, large = torch.nn.Linear(64, 363), torch.nn.Linear(64, 42 * 3 * 42)  # 42 nodes
    monkeypatch.setattr(coordination_common, "keep_freed_memory", lambda: True)  # not here
    monkeypatch.setattr(learner, "idle_cores", lambda: 8.0)  # an idle machine
    assert set_threads(settings, small) == 1 and torch.get_num_threads() == 1
    settings.threads = None
    cores = learner.usable_cores()
    assert set_threads(settings, small, large) == min(2, cores) == torch.get_num_threads()
    settings.threads = None
    monkeypatch.setattr(learner, "idle_cores", lambda: 0.0)  # every core busy
    assert set_threads(settings, small, large) == 1 == torch.get_num_threads()
    settings.threads = 3  # asked for: whatever the size
    assert set_threads(settings, small) == 3 == torch.get_num_threads()
