"""SAC for coordination (Haarnoja et al., 2018), asked for by DeepCoord's users.

The stochastic actor is the deterministic actor's logits plus state-independent Gaussian
noise (a learned log standard deviation per output), then the softmax per (node, chain, SF):
``a = softmax(logits(s) + std * eps)``. The entropy bonus uses the Gaussian log-density of the
perturbed logits (the softmax's Jacobian is left out: a common surrogate for simplex actions).
Twin critics, soft target updates, a fixed temperature ``sac_alpha``. The policy that is
evaluated and shipped is the deterministic ``softmax(logits(s))``, the same ``Actor`` as DDPG.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from agent.policies.coordination.network import Actor
from agent.train.coordination_common import (
    TrainProgress,
    TrainResult,
    TrainSettings,
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
class SACArgs(OffPolicyArgs):
    """SAC's arguments: the shared ones (``OffPolicyArgs``) and its own."""

    alpha: float  # entropy temperature, fixed (``sac_alpha``)
    init_log_std: float = -1.0  # the policy's initial log standard deviation of the logits

    @staticmethod
    def of(config: DeepCoordConfig) -> SACArgs:
        """SAC's arguments; InputError for a key of another algorithm."""
        return SACArgs(**OffPolicyArgs.shared(config, "sac"), alpha=config.sac_alpha)


class GaussianLogits(nn.Module):
    """The actor's logits with learned, state-independent noise; samples on the simplex."""

    def __init__(self, actor: Actor, init_log_std: float) -> None:
        super().__init__()
        self.actor = actor
        size = actor.n_nodes * actor.n_rows * actor.n_nodes
        self.log_std = nn.Parameter(torch.full((size,), init_log_std))

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised action (B, N*R*N) and its log-density (B,)."""
        logits = self.actor.logits(obs).flatten(1)
        std = self.log_std.clamp(-5.0, 1.0).exp()
        eps = torch.randn_like(logits)
        noisy = (logits + std * eps).view(obs.shape[0], -1, self.actor.n_nodes)
        log_prob = (-0.5 * eps.pow(2) - std.log() - 0.5 * math.log(2 * math.pi)).sum(-1)
        return torch.softmax(noisy, dim=-1).flatten(1), log_prob


def train(settings: TrainSettings) -> TrainResult:
    run = run_directory(settings)  # first: it exists while the warm start runs
    torch.manual_seed(settings.seed)
    args = SACArgs.of(settings.config)
    env = make_env(settings.scenario, settings.config, settings.seed)
    obs_size, action_size = env.layout.obs_size, env.layout.action_size
    actor = make_actor(env, settings.config)
    policy = GaussianLogits(actor, args.init_log_std)
    critics = [
        Critic(obs_size, action_size, args.critic_hidden, args.critic_activation) for _ in "12"
    ]
    set_threads(settings, actor, *critics)
    critic_targets = copy.deepcopy(critics)
    actor_opt = adam(policy.parameters(), args.lr)
    critic_opt = adam([p for c in critics for p in c.parameters()], args.lr)
    policy_params = list(policy.parameters())
    modules: dict[str, Any] = {"policy": policy, "critic1": critics[0], "critic2": critics[1]}
    modules |= {"critic1_target": critic_targets[0], "critic2_target": critic_targets[1]}
    modules |= {"actor_opt": actor_opt, "critic_opt": critic_opt}
    state = start_run(settings, env, actor, modules, [])
    start = state.step
    buffer = ReplayBuffer(args.buffer, obs_size, action_size, settings.seed)
    log = CurveLog(run, start)
    progress = TrainProgress(settings, start)
    log.add({"step": start, "success_ratio": state.best})
    obs, _ = env.reset(seed=settings.seed * 100_003)
    episode_reward, updates = 0.0, 0
    for step in range(start + 1, settings.steps + 1):
        # act by sampling the stochastic policy
        with torch.no_grad():
            action = policy.sample(torch.from_numpy(obs)[None])[0][0].numpy()
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
            # soft TD target: min of twin target critics minus alpha x log-density
            with torch.no_grad():
                next_action, next_log_p = policy.sample(batch.next_obs)
                next_q = torch.min(
                    critic_targets[0](batch.next_obs, next_action),
                    critic_targets[1](batch.next_obs, next_action),
                )
                soft_q = next_q - args.alpha * next_log_p
                target = batch.rewards + args.gamma * (1 - batch.dones) * soft_q
            critic_loss = nn.functional.mse_loss(critics[0](batch.obs, batch.actions), target)
            critic_loss = critic_loss + nn.functional.mse_loss(
                critics[1](batch.obs, batch.actions), target
            )
            critic_opt.zero_grad()
            critic_loss.backward()  # type: ignore[no-untyped-call]
            critic_opt.step()
            # actor: maximise min Q - alpha x log-density of its own samples
            if step > args.warmup_actor:
                new_action, log_p = policy.sample(batch.obs)
                q = torch.min(critics[0](batch.obs, new_action), critics[1](batch.obs, new_action))
                actor_loss = (args.alpha * log_p - q).mean()
                step_on(actor_loss, policy_params, actor_opt)
            for target_net, critic in zip(critic_targets, critics, strict=True):
                soft_update(target_net, critic, args.tau)
            updates += 1
            decayed(actor_opt, args.lr, args.lr_decay, updates)
            decayed(critic_opt, args.lr, args.lr_decay, updates)
        if step % settings.config.eval_every == 0 or step == settings.steps:
            evaluate_and_checkpoint(settings, env, actor, state, modules, log, step)
            obs, _ = env.reset()
            episode_reward = 0.0
        progress.step(step, state.best)
    return finish_run(settings, env, state, progress, log, run, "sac")
