"""MADDPG under ADMM (MADDPG-ADMM) for slicing: decentralised actors, a centralised critic,
on ``SlicingMultiEnv`` (one agent per slice, ADMM's master inside the environment).

The actors share one set of weights (the agents are alike: a slice's actor sees only its
own observation, so the trained actor is a slave like DDPG's and runs in the same ADMM
method, ``maddpg-admm``). The critic of agent i sees its own observation and allocation
(the DDPG critic's deep set) and, pooled over all agents, every slice's context, total and
gap to its target, plus how far all totals together are from the capacity: what the shared
part of the reward (``team_weight``) depends on.

The loop, top to bottom: ``envs`` environments step together, all agents acting with
Gaussian noise on their log prices; joint transitions go to the replay buffer; after
``warmup`` steps one update per step (critic to the TD target over ADMM iterations, actor
up the critic of each agent, soft target updates); every ``eval_every`` steps the actor's
regret and ratio to ADMM-OPT are measured and the actor of least regret is kept.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from agent.envs.slicing_multi import SlicingMultiEnv
from agent.model.slicing import SlicingScenario
from agent.model.slicing_price import CONTEXT
from agent.train.learner import soft_update
from agent.train.slicing_common import (
    KeepBest,
    Report,
    Selected,
    noise_at,
    optimizers,
    pricing_of,
    save_slave_policy,
    write_config,
)
from agent.train.slicing_nets import SlaveActor, SlaveCritic, mlp


@dataclass
class SlicingMADDPGArgs:
    steps: int = 4000
    envs: int = 8
    hidden: int = 64
    guess_steps: int = 2
    gamma: float = 0.5  # over the ADMM iterations of a decision
    team_weight: float = 0.2
    tau: float = 0.01
    actor_lr: float = 1e-3
    critic_lr: float = 2e-3
    batch_size: int = 128
    buffer: int = 100_000
    sigma: float = 0.03
    sigma_final: float = 0.005
    warmup: int = 50
    eval_every: int = 500
    eval_episodes: int = 8
    seed: int = 0
    threads: int = 1


class CentralCritic(nn.Module):
    """Q of every agent from all agents' observations and allocations (B x N x ...)."""

    def __init__(self, hidden: int, users: int, actor: SlaveActor) -> None:
        super().__init__()
        self.local = SlaveCritic(hidden, users, actor.pricing)
        self.summary = mlp([CONTEXT + 2, hidden, hidden])
        self.joint = mlp([CONTEXT + hidden + 1, hidden, 1])
        self.users = users

    def forward(
        self, obs: torch.Tensor, actions: torch.Tensor, context: torch.Tensor
    ) -> torch.Tensor:
        b, n = obs.shape[:2]
        local: torch.Tensor = self.local(
            obs.reshape(b * n, -1), actions.reshape(b * n, -1), context.reshape(b * n, -1)
        )
        totals = actions.sum(-1)  # B x N
        targets = obs[..., -1]
        gap = (totals - targets) / torch.clamp(targets, min=0.01)
        summary = self.summary(torch.cat([context, totals[..., None], gap[..., None]], -1)).mean(1)
        excess = (totals.sum(1, keepdim=True) - 1.0) * 10.0
        joined = torch.cat(
            [context, summary[:, None, :].expand(-1, n, -1), excess[:, None, :].expand(-1, n, -1)],
            -1,
        )
        value: torch.Tensor = local.reshape(b, n) + self.joint(joined)[..., 0]
        return value


class JointBuffer:
    """Joint transitions: observations and actions of all agents, a reward per agent."""

    def __init__(self, size: int, agents: int, obs: int, act: int, seed: int) -> None:
        self.obs = np.zeros((size, agents, obs), np.float32)
        self.next_obs = np.zeros((size, agents, obs), np.float32)
        self.actions = np.zeros((size, agents, act), np.float32)
        self.rewards = np.zeros((size, agents), np.float32)
        self.dones = np.zeros(size, np.float32)
        self.size, self.count, self.pos = size, 0, 0
        self.rng = np.random.default_rng(seed)

    def add(
        self, obs: np.ndarray, act: np.ndarray, rew: np.ndarray, nxt: np.ndarray, done: bool
    ) -> None:
        i = self.pos
        self.obs[i], self.actions[i], self.rewards[i], self.next_obs[i] = obs, act, rew, nxt
        self.dones[i] = float(done)
        self.pos, self.count = (i + 1) % self.size, min(self.count + 1, self.size)

    def sample(self, n: int) -> tuple[torch.Tensor, ...]:
        idx = self.rng.integers(0, self.count, n)
        arrays = (self.obs, self.actions, self.rewards, self.next_obs, self.dones)
        return tuple(torch.from_numpy(a[idx]) for a in arrays)


def _context(actor: SlaveActor, obs: torch.Tensor) -> torch.Tensor:
    b, n = obs.shape[:2]
    return actor.inputs(obs.reshape(b * n, -1))[2].reshape(b, n, -1)


def _act(actor: SlaveActor, obs: torch.Tensor, noise: float = 0.0) -> torch.Tensor:
    b, n = obs.shape[:2]
    allocations: torch.Tensor = actor(obs.reshape(b * n, -1), noise=noise)
    return allocations.reshape(b, n, -1)


def _update(
    nets: tuple[SlaveActor, CentralCritic, SlaveActor, CentralCritic],
    opts: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    buffer: JointBuffer,
    args: SlicingMADDPGArgs,
) -> None:
    actor, critic, actor_target, critic_target = nets
    obs, actions, rewards, next_obs, dones = buffer.sample(args.batch_size)
    with torch.no_grad():
        context, next_context = _context(actor, obs), _context(actor, next_obs)
        next_q = critic_target(next_obs, _act(actor_target, next_obs), next_context)
        target = rewards + args.gamma * (1 - dones)[:, None] * next_q
    loss = nn.functional.mse_loss(critic(obs, actions, context), target)
    opts[1].zero_grad()
    loss.backward()  # type: ignore[no-untyped-call]
    nn.utils.clip_grad_norm_(critic.parameters(), 10.0)
    opts[1].step()
    actor_loss = -critic(obs, _act(actor, obs), context).mean()
    opts[0].zero_grad()
    actor_loss.backward()
    nn.utils.clip_grad_norm_(actor.parameters(), 1.0)
    opts[0].step()
    soft_update(actor_target, actor, args.tau)
    soft_update(critic_target, critic, args.tau)


def _joint(observations: dict[str, np.ndarray], agents: list[str]) -> np.ndarray:
    return np.stack([observations[a] for a in agents])


def train_slicing_maddpg(
    scenario: SlicingScenario,
    args: SlicingMADDPGArgs,
    run: Path | None,
    report: Report | None = None,
) -> tuple[SlaveActor, Selected]:
    """Train; returns the actor of least regret and its figures on the evaluation episodes."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    keep = KeepBest(scenario, args.seed, args.eval_episodes, args.guess_steps, run, report)
    envs = [SlicingMultiEnv(scenario, team_weight=args.team_weight) for _ in range(args.envs)]
    agents, users = envs[0].possible_agents, envs[0].users
    obs = np.stack(
        [_joint(e.reset(seed=args.seed * 1000 + i)[0], e.agents) for i, e in enumerate(envs)]
    )
    actor = SlaveActor(args.hidden, users, pricing_of(scenario, args.guess_steps))
    critic = CentralCritic(args.hidden, users, actor)
    nets = (actor, critic, copy.deepcopy(actor), copy.deepcopy(critic))
    opts = optimizers(actor, critic, args.actor_lr, args.critic_lr)
    buffer = JointBuffer(args.buffer, len(agents), obs.shape[2], users, args.seed)
    for step in range(1, args.steps + 1):
        sigma = noise_at(step, args.steps, args.sigma, args.sigma_final)
        with torch.no_grad():
            actions = _act(actor, torch.from_numpy(obs), sigma).numpy()
        rewards = []
        for i, env in enumerate(envs):
            live = list(env.agents)
            nxt, rew, _, trunc, _ = env.step({a: actions[i, j] for j, a in enumerate(live)})
            joint_rewards = np.array([rew[a] for a in live], np.float32)
            buffer.add(obs[i], actions[i], joint_rewards, _joint(nxt, live), False)
            rewards.append(float(joint_rewards.mean()))
            obs[i] = (
                _joint(env.reset()[0], env.agents) if all(trunc.values()) else _joint(nxt, live)
            )
        if step > args.warmup:
            _update(nets, opts, buffer, args)
        if step % 50 == 0:
            keep.log.add({"step": step, "episode_reward": float(np.mean(rewards))})
        if step % args.eval_every == 0 or step == args.steps:
            keep.evaluate(step, actor, critic)
    return keep.result(actor)


def save_maddpg_policy(
    directory: Path,
    actor: SlaveActor,
    scenario: SlicingScenario,
    args: SlicingMADDPGArgs,
    selected: Selected,
) -> None:
    save_slave_policy(directory, actor, scenario, "maddpg", args, selected)


def write_maddpg_config(run: Path, scenario: SlicingScenario, args: SlicingMADDPGArgs) -> None:
    write_config(run, scenario, "maddpg", args)
