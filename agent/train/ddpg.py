"""DDPG for coordination, as DeepCoord (Schneider et al., CNSM 2020), in torch.

Actor: an MLP with one softmax head per (node, chain, SF) over destination nodes
(``agent.policies.coordination.network.Actor``). Critic: an MLP over observation and action.
Exploration: Gaussian noise (``rand_sigma``) on the actor's weights, clipped at 0; the
environment renormalises and applies the threshold. Replay buffer of ``mem_limit``; soft
target updates with rate ``target_model_update``; learning rate decayed as Keras does
(lr / (1 + decay x updates)). Warm-ups: critic updates start after
``nb_steps_warmup_critic`` steps, actor updates after ``nb_steps_warmup_actor``.

The loop, top to bottom: optional warm start (behaviour cloning of a searched schedule,
``pretrain_*`` keys), then per step: act with noise, store, update critic and actor, soft
update the targets; every ``eval_every`` steps evaluate the deterministic actor and keep the
best as the run's policy; checkpoints after the warm start and each evaluation (a resumed
run starts from one, see ``resume``).

Fine-tuning a warm-started actor (our keys): ``actor_learning_rate`` (default: the shared
``learning_rate``) and ``bc_weight``. With ``bc_weight`` > 0 the actor loss is TD3+BC's
(Fujimoto and Gu, 2021): -Q / mean |Q| plus ``bc_weight`` x the squared distance to the frozen
imitation actor's schedule, so the early, poorly fitted critic cannot pull the actor far from
the schedule it imitated; ``bc_weight`` 0 keeps DeepCoord's plain -Q.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from agent.policies.coordination.network import mlp, run_layers
from agent.train.coordination_common import (
    TrainProgress,
    TrainResult,
    TrainSettings,
    act,
    finish_run,
    make_actor,
    make_env,
    run_directory,
    set_threads,
)
from agent.train.coordination_config import DeepCoordConfig
from agent.train.learner import adam, decayed, soft_update, step_on
from agent.train.off_policy import OffPolicyArgs
from agent.train.replay import ReplayBuffer
from agent.train.resume import evaluate_and_checkpoint, start_run
from agent.train.run_log import CurveLog


@dataclass
class DDPGArgs(OffPolicyArgs):
    """DDPG's arguments: the shared ones (``OffPolicyArgs``) and its own."""

    sigma: float  # std of the Gaussian exploration noise on the weights (``rand_sigma``)
    actor_lr: float  # the actor's learning rate (``actor_learning_rate``; default the shared)
    bc_weight: float  # TD3+BC pull toward the imitation actor; 0: plain -Q (``bc_weight``)

    @staticmethod
    def of(config: DeepCoordConfig) -> DDPGArgs:
        """DDPG's arguments; InputError for a key of another algorithm."""
        return DDPGArgs(
            **OffPolicyArgs.shared(config, "ddpg"),
            sigma=config.rand_sigma,
            actor_lr=config.actor_learning_rate or config.learning_rate,
            bc_weight=config.bc_weight,
        )


class Critic(nn.Module):
    def __init__(self, obs_size: int, action_size: int, hidden: list[int], activation: str):
        super().__init__()
        self.net = mlp([obs_size + action_size, *hidden, 1], activation)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return run_layers(self.net, torch.cat([obs, action], dim=-1)).squeeze(-1)


def actor_objective(
    critic: nn.Module,
    obs: torch.Tensor,
    action: torch.Tensor,
    anchor: torch.Tensor,
    bc_weight: float,
) -> torch.Tensor:
    """The actor's loss: -Q, or TD3+BC's normalised -Q plus the pull toward ``anchor``."""
    q: torch.Tensor = critic(obs, action)
    if bc_weight <= 0:
        return -q.mean()
    bc = (action - anchor).pow(2).sum(-1).mean()
    return -q.mean() / (q.abs().mean().detach() + 1e-6) + bc_weight * bc


def train(settings: TrainSettings) -> TrainResult:
    run = run_directory(settings)  # first: it exists while the warm start runs
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    args = DDPGArgs.of(settings.config)
    env = make_env(settings.scenario, settings.config, settings.seed)
    obs_size, action_size = env.layout.obs_size, env.layout.action_size
    actor = make_actor(env, settings.config)
    critic = Critic(obs_size, action_size, args.critic_hidden, args.critic_activation)
    set_threads(settings, actor, critic)
    actor_target, critic_target = copy.deepcopy(actor), copy.deepcopy(critic)
    imitation = copy.deepcopy(actor).requires_grad_(False)  # the BC anchor (bc_weight)
    actor_opt = adam(actor.parameters(), args.actor_lr)
    critic_opt = adam(critic.parameters(), args.lr)
    actor_params = list(actor.parameters())
    modules: dict[str, Any] = {"actor": actor, "critic": critic, "actor_target": actor_target}
    modules |= {"critic_target": critic_target, "actor_opt": actor_opt, "critic_opt": critic_opt}
    modules["imitation"] = imitation
    state = start_run(settings, env, actor, modules, [actor_target, imitation])
    start = state.step
    buffer = ReplayBuffer(args.buffer, obs_size, action_size, settings.seed)
    log = CurveLog(run, start)
    progress = TrainProgress(settings, start)
    log.add({"step": start, "success_ratio": state.best})
    obs, _ = env.reset(seed=settings.seed * 100_003)
    episode_reward, updates = 0.0, 0
    for step in range(start + 1, settings.steps + 1):
        # act with Gaussian exploration noise on the schedule weights
        action = act(actor, obs) + rng.normal(0.0, args.sigma, action_size).astype(np.float32)
        action = np.clip(action, 0.0, 1.0)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(obs, action, reward, next_obs, terminated)
        obs, episode_reward = next_obs, episode_reward + reward
        if terminated or truncated:
            log.add({"step": step, "episode_reward": episode_reward})
            progress.reward = episode_reward
            obs, _ = env.reset()
            episode_reward = 0.0
        if step > args.warmup_critic and len(buffer) >= args.batch_size:
            batch = buffer.sample(args.batch_size)
            # critic: one-step TD target from the target networks
            with torch.no_grad():
                next_q = critic_target(batch.next_obs, actor_target(batch.next_obs))
                target = batch.rewards + args.gamma * (1 - batch.dones) * next_q
            critic_loss = nn.functional.mse_loss(critic(batch.obs, batch.actions), target)
            critic_opt.zero_grad()
            critic_loss.backward()  # type: ignore[no-untyped-call]
            critic_opt.step()
            # actor: ascend the critic's value of the actor's own action
            if step > args.warmup_actor:
                with torch.no_grad():
                    anchor = imitation(batch.obs)
                actor_loss = actor_objective(
                    critic, batch.obs, actor(batch.obs), anchor, args.bc_weight
                )
                step_on(actor_loss, actor_params, actor_opt)
            soft_update(actor_target, actor, args.tau)
            soft_update(critic_target, critic, args.tau)
            updates += 1
            decayed(actor_opt, args.actor_lr, args.lr_decay, updates)
            decayed(critic_opt, args.lr, args.lr_decay, updates)
        if step % settings.config.eval_every == 0 or step == settings.steps:
            evaluate_and_checkpoint(settings, env, actor, state, modules, log, step)
            obs, _ = env.reset()
            episode_reward = 0.0
        progress.step(step, state.best)
    return finish_run(settings, env, state, progress, log, run, "ddpg")
