"""DDPG for DeepSlicing's slave problem (Liu et al., GLOBECOM 2020), in torch.

One actor learns the slave of every slice of a scenario (it is permutation-equivariant, see
``agent.policies.slicing.learned``), trained on ``SliceSlaveEnv`` episodes with random ADMM
targets, as the paper trains its slaves for every target. The critic is a deep set:
a per-user MLP over the user's features and allocation, summed, plus an MLP over the slice's
context and the gap between its total and its target.

The loop, top to bottom: ``envs`` environments step together with Gaussian noise on the
actor's scores and total; transitions go to the replay buffer; after ``warmup`` steps, one
update per step (critic to the TD target, actor up the critic's value, soft target updates);
every ``eval_every`` steps ADMM with the current actor is compared with ADMM-OPT on a few
episodes and the best actor is kept. The run directory gets curves, checkpoints and the
policy (``policy/``: ``card.json`` + ``slave.safetensors``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from agent.envs.slicing import SliceSlaveEnv
from agent.model.slicing import SlicingScenario
from agent.model.slicing_observation import CONTEXT, FEATURES, TOTAL_SWING, features
from agent.policies.slicing.learned import LearnedSlave, save_slave
from agent.policies.slicing.methods import admm_drl, admm_opt
from agent.train.replay import ReplayBuffer
from agent.train.run_log import CurveLog, save_checkpoint
from agent.train.slicing_eval import evaluate


@dataclass
class SlicingDDPGArgs:
    steps: int = 4000
    envs: int = 16
    hidden: int = 64
    gamma: float = 0.0  # the slave's reward depends on the step's allocation alone
    tau: float = 0.01
    actor_lr: float = 1e-3
    critic_lr: float = 2e-3
    batch_size: int = 256
    buffer: int = 200_000
    sigma: float = 0.3  # noise on the actor's scores and total
    warmup: int = 50
    eval_every: int = 500
    eval_episodes: int = 4
    seed: int = 0
    threads: int = 1


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _inputs(obs: torch.Tensor, users: int) -> tuple[torch.Tensor, ...]:
    per_user, context, mask, share = features(obs.numpy(), users)
    return tuple(torch.from_numpy(a) for a in (per_user, context, mask, share))


class SlaveActor(nn.Module):
    """The torch twin of ``agent.policies.slicing.learned.actor_forward``."""

    def __init__(self, hidden: int, users: int) -> None:
        super().__init__()
        self.users = users
        self.user = mlp([FEATURES + CONTEXT, hidden, hidden, 1])
        self.total = mlp([CONTEXT, hidden, 1])

    def forward(self, obs: torch.Tensor, noise: float = 0.0) -> torch.Tensor:
        per_user, context, mask, _ = _inputs(obs, self.users)
        joined = torch.cat([per_user, context[:, None, :].expand(-1, self.users, -1)], -1)
        scores = self.user(joined)[..., 0]
        swing = self.total(context)[:, 0]
        if noise > 0:
            scores = scores + noise * torch.randn_like(scores)
            swing = swing + noise * torch.randn_like(swing)
        floor = obs[:, 2 * self.users : 3 * self.users] * mask
        floor_sum = floor.sum(1)
        total = torch.minimum(obs[:, -1] + TOTAL_SWING * torch.tanh(swing), torch.ones(1))
        total = torch.maximum(total, floor_sum)
        split = torch.softmax(scores.masked_fill(mask == 0, -1e9), dim=1)
        return floor + split * (total - floor_sum)[:, None]


class SlaveCritic(nn.Module):
    def __init__(self, hidden: int, users: int) -> None:
        super().__init__()
        self.users = users
        self.user = mlp([FEATURES + CONTEXT + 2, hidden, hidden, 1])
        self.slice = mlp([CONTEXT + 2, hidden, 1])

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        per_user, context, mask, share = _inputs(obs, self.users)
        relative = action / share
        joined = torch.cat(
            [
                per_user,
                context[:, None, :].expand(-1, self.users, -1),
                torch.log1p(relative)[..., None],
                relative[..., None] / 10,
            ],
            -1,
        )
        per_user_value = (self.user(joined)[..., 0] * mask).sum(1)
        gap = (action.sum(1) - obs[:, -1]) / TOTAL_SWING
        value: torch.Tensor = (
            per_user_value
            + self.slice(torch.cat([context, gap[:, None], gap[:, None] ** 2], -1))[:, 0]
        )
        return value


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    with torch.no_grad():
        for t, s in zip(target.parameters(), source.parameters(), strict=True):
            t.mul_(1 - tau).add_(s, alpha=tau)


def numpy_weights(actor: SlaveActor) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in actor.state_dict().items()}


def ratio_to_opt(scenario: SlicingScenario, actor: SlaveActor, episodes: int, seed: int) -> float:
    slave = LearnedSlave(numpy_weights(actor), {})
    result = evaluate(scenario, {"admm-opt": admm_opt, "admm-drl": admm_drl(slave)}, episodes, seed)
    ratio = result["admm-drl"].ratio_to_opt
    return float(ratio) if ratio is not None else 0.0


def train_slicing_ddpg(
    scenario: SlicingScenario,
    args: SlicingDDPGArgs,
    run: Path | None,
    report: Callable[[int, float], None] | None = None,
) -> tuple[SlaveActor, float]:
    """Train; returns the best actor and its ratio to ADMM-OPT on the evaluation episodes."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if run is not None:
        (run / "checkpoints").mkdir(parents=True, exist_ok=True)
    envs = [SliceSlaveEnv(scenario) for _ in range(args.envs)]
    users = envs[0].users
    obs = np.stack([env.reset(seed=args.seed * 1000 + i)[0] for i, env in enumerate(envs)])
    actor, critic = SlaveActor(args.hidden, users), SlaveCritic(args.hidden, users)
    actor_target, critic_target = copy.deepcopy(actor), copy.deepcopy(critic)
    actor_opt = torch.optim.Adam(actor.parameters(), lr=args.actor_lr)
    critic_opt = torch.optim.Adam(critic.parameters(), lr=args.critic_lr)
    buffer = ReplayBuffer(args.buffer, obs.shape[1], users, args.seed)
    log = CurveLog(run)
    eval_seed = 10_000_000 + args.seed * 1000
    best, best_actor = -np.inf, copy.deepcopy(actor)
    for step in range(1, args.steps + 1):
        with torch.no_grad():
            actions = actor(torch.from_numpy(obs), noise=args.sigma).numpy()
        rewards = []
        for i, env in enumerate(envs):
            next_obs, reward, _, truncated, _ = env.step(actions[i])
            buffer.add(obs[i], actions[i], reward, next_obs, False)
            rewards.append(reward)
            obs[i] = env.reset()[0] if truncated else next_obs
        if step > args.warmup:
            batch = buffer.sample(args.batch_size)
            with torch.no_grad():
                next_q = critic_target(batch.next_obs, actor_target(batch.next_obs))
                target = batch.rewards + args.gamma * (1 - batch.dones) * next_q
            critic_loss = nn.functional.mse_loss(critic(batch.obs, batch.actions), target)
            critic_opt.zero_grad()
            critic_loss.backward()  # type: ignore[no-untyped-call]
            critic_opt.step()
            actor_loss = -critic(batch.obs, actor(batch.obs)).mean()
            actor_opt.zero_grad()
            actor_loss.backward()
            actor_opt.step()
            soft_update(actor_target, actor, args.tau)
            soft_update(critic_target, critic, args.tau)
        if step % 50 == 0:
            log.add({"step": step, "episode_reward": float(np.mean(rewards))})
        if step % args.eval_every == 0 or step == args.steps:
            score = ratio_to_opt(scenario, actor, args.eval_episodes, eval_seed)
            log.add({"step": step, "success_ratio": score})
            if score > best:
                best, best_actor = score, copy.deepcopy(actor)
            if run is not None:
                modules = {"actor": actor, "critic": critic}
                save_checkpoint(run / "checkpoints" / f"step{step}.pt", modules, step)
            if report is not None:
                report(step, score)
    log.close()
    return best_actor, float(best)


def save_policy(
    directory: Path,
    actor: SlaveActor,
    scenario: SlicingScenario,
    args: SlicingDDPGArgs,
    ratio: float,
) -> None:
    card = {
        "format": "deepslicing-slave/1",
        "hidden": args.hidden,
        "scenario": scenario.name,
        "algorithm": "ddpg",
        "training": asdict(args),
        "eval_ratio_to_admm_opt": round(ratio, 6),
    }
    save_slave(directory, numpy_weights(actor), card)


def write_run_config(run: Path, scenario: SlicingScenario, args: SlicingDDPGArgs) -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / "checkpoints").mkdir(exist_ok=True)
    config = {"scenario": scenario.source, "algorithm": "ddpg", "args": asdict(args)}
    (run / "config.json").write_text(json.dumps(config, indent=2) + "\n")
