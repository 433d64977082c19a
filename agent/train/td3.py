"""TD3 for coordination (Fujimoto et al., 2018): DDPG with twin critics (the smaller target
value), target-policy smoothing (clipped Gaussian noise, ``policy_noise``/``noise_clip``, on
the target actor's weights) and delayed actor and target updates (every ``policy_delay``
critic updates). Same actor, exploration, buffer, warm start and run files as ``ddpg``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

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
from agent.train.ddpg import Critic
from agent.train.learner import adam, decayed, soft_update, step_on
from agent.train.off_policy import OffPolicyArgs
from agent.train.replay import ReplayBuffer
from agent.train.resume import evaluate_and_checkpoint, start_run
from agent.train.run_log import CurveLog


@dataclass
class TD3Args(OffPolicyArgs):
    """TD3's arguments: the shared ones (``OffPolicyArgs``) and its own."""

    sigma: float  # std of the Gaussian exploration noise on the weights (``rand_sigma``)
    policy_noise: float  # std of the target-policy smoothing noise (``policy_noise``)
    noise_clip: float  # its clip (``noise_clip``)
    policy_delay: int  # critic updates per actor and target update (``policy_delay``)

    @staticmethod
    def of(config: DeepCoordConfig) -> TD3Args:
        """TD3's arguments; InputError for a key of another algorithm."""
        return TD3Args(
            **OffPolicyArgs.shared(config, "td3"),
            sigma=config.rand_sigma,
            policy_noise=config.policy_noise,
            noise_clip=config.noise_clip,
            policy_delay=config.policy_delay,
        )


def train(settings: TrainSettings) -> TrainResult:
    run = run_directory(settings)  # first: it exists while the warm start runs
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    args = TD3Args.of(settings.config)
    env = make_env(settings.scenario, settings.config, settings.seed)
    obs_size, action_size = env.layout.obs_size, env.layout.action_size
    actor = make_actor(env, settings.config)
    critics = [
        Critic(obs_size, action_size, args.critic_hidden, args.critic_activation) for _ in "12"
    ]
    set_threads(settings, actor, *critics)
    actor_target, critic_targets = copy.deepcopy(actor), copy.deepcopy(critics)
    actor_opt = adam(actor.parameters(), args.lr)
    actor_params = list(actor.parameters())
    critic_params = [p for c in critics for p in c.parameters()]
    critic_opt = adam(critic_params, args.lr)
    modules: dict[str, Any] = {"actor": actor, "critic1": critics[0], "critic2": critics[1]}
    modules |= {"actor_target": actor_target, "critic1_target": critic_targets[0]}
    modules |= {"critic2_target": critic_targets[1], "actor_opt": actor_opt}
    modules["critic_opt"] = critic_opt
    state = start_run(settings, env, actor, modules, [actor_target])
    start = state.step
    buffer = ReplayBuffer(args.buffer, obs_size, action_size, settings.seed)
    log = CurveLog(run, start)
    progress = TrainProgress(settings, start)
    log.add({"step": start, "success_ratio": state.best})
    obs, _ = env.reset(seed=settings.seed * 100_003)
    episode_reward, updates = 0.0, 0
    for step in range(start + 1, settings.steps + 1):
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
            # twin critics towards the smaller target value of a smoothed target action
            with torch.no_grad():
                noise = (torch.randn_like(batch.actions) * args.policy_noise).clamp(
                    -args.noise_clip, args.noise_clip
                )
                next_action = (actor_target(batch.next_obs) + noise).clamp(0.0, 1.0)
                next_q = torch.min(
                    critic_targets[0](batch.next_obs, next_action),
                    critic_targets[1](batch.next_obs, next_action),
                )
                target = batch.rewards + args.gamma * (1 - batch.dones) * next_q
            critic_loss = nn.functional.mse_loss(critics[0](batch.obs, batch.actions), target)
            critic_loss = critic_loss + nn.functional.mse_loss(
                critics[1](batch.obs, batch.actions), target
            )
            critic_opt.zero_grad()
            critic_loss.backward()  # type: ignore[no-untyped-call]
            critic_opt.step()
            updates += 1
            # delayed actor and target updates
            if step > args.warmup_actor and updates % args.policy_delay == 0:
                actor_loss = -critics[0](batch.obs, actor(batch.obs)).mean()
                step_on(actor_loss, actor_params, actor_opt)
                soft_update(actor_target, actor, args.tau)
                for target_net, critic in zip(critic_targets, critics, strict=True):
                    soft_update(target_net, critic, args.tau)
            decayed(actor_opt, args.lr, args.lr_decay, updates)
            decayed(critic_opt, args.lr, args.lr_decay, updates)
        if step % settings.config.eval_every == 0 or step == settings.steps:
            evaluate_and_checkpoint(settings, env, actor, state, modules, log, step)
            obs, _ = env.reset()
            episode_reward = 0.0
        progress.step(step, state.best)
    return finish_run(settings, env, state, progress, log, run, "td3")
