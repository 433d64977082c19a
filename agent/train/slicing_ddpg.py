"""DDPG for DeepSlicing's slave problem (Liu et al., GLOBECOM 2020), in torch.

One actor learns the slave of every slice of a scenario (``agent.train.slicing_nets``: a
learned correction of a closed-form price), trained on ``SliceSlaveEnv`` episodes, once for
every ADMM target as the paper trains its slaves: a share ``uniform_targets`` of the
episodes draws the target uniformly (in ``[0, capacity]``, with many slices in
``[0, 3 x capacity / slices]``), the others near a target ADMM goes through on that
instance (an iterate of ADMM with the closed-form guess as slave, jittered).

The loop, top to bottom: ``envs`` environments step together with Gaussian noise on the
actor's log price (``sigma`` decaying to ``sigma_final``); transitions go to the replay
buffer; after ``warmup`` steps, one update per step (critic to the TD target, actor up the
critic's value, soft target updates); every ``eval_every`` steps the current actor's
regret against the exact slave and ratio to ADMM-OPT are measured on a few episodes
(``agent.train.slicing_probe``) and the actor of least regret is kept. The run
directory gets curves, checkpoints and the policy (``policy/``: ``card.json`` +
``slave.safetensors``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from agent.envs.slicing import SliceSlaveEnv, TargetSampler
from agent.model.slicing import Array, SlicingProblem, SlicingScenario
from agent.model.slicing_utility import Layout
from agent.policies.slicing.admm import AdmmTrace, admm
from agent.policies.slicing.learned import LearnedSlave
from agent.train.learner import soft_update
from agent.train.replay import ReplayBuffer
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
from agent.train.slicing_nets import SlaveActor, SlaveCritic


@dataclass
class SlicingDDPGArgs:
    steps: int = 6000
    envs: int = 16
    hidden: int = 64
    guess_steps: int = 2  # Newton steps of the closed-form guess the actor corrects
    gamma: float = 0.0  # the slave's reward depends on the step's allocation alone
    tau: float = 0.01
    actor_lr: float = 1e-3
    critic_lr: float = 2e-3
    batch_size: int = 256
    buffer: int = 200_000
    sigma: float = 0.03  # noise on the actor's log price
    sigma_final: float = 0.005
    uniform_targets: float = 0.3  # share of episodes with a uniform target
    jitter: float = 0.1  # log-normal spread around an ADMM iterate's target
    reward_floor: float = -50.0  # rewards (per slice, scaled) are clipped below here
    warmup: int = 50
    eval_every: int = 500
    eval_episodes: int = 8
    seed: int = 0
    threads: int = 1


def admm_targets(uniform: float, jitter: float, guess_steps: int) -> TargetSampler:
    """Targets for training: with probability ``uniform``, uniform in ``[0, capacity]``
    (the paper's 3 slices) or, with more slices, in ``[0, 3 x capacity / slices]`` (ADMM
    does not ask one of 20 slices for the whole capacity); else one iterate's target of
    ADMM with the closed-form guess as slave, x lognormal(jitter)."""
    guess = LearnedSlave(None, {"guess_steps": guess_steps})

    def sample(
        problem: SlicingProblem, demand: Array, index: int, rng: np.random.Generator
    ) -> float:
        capacity = problem.capacity
        if rng.random() < uniform:
            return float(rng.uniform(0.0, capacity * min(1.0, 3.0 / len(problem.slices))))
        layout = Layout.of(problem)
        deficit = np.zeros(layout.alpha.size)
        prepared = guess.prepare(layout, demand, deficit)
        trace = AdmmTrace()
        admm(layout, lambda t, _d, _f: prepared(t), demand, deficit, trace)
        target = trace.targets[int(rng.integers(0, len(trace.targets)))][index]
        return float(np.clip(target * rng.lognormal(0.0, jitter), 0.0, capacity))

    return sample


def _update(
    nets: tuple[SlaveActor, SlaveCritic, SlaveActor, SlaveCritic],
    opts: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    buffer: ReplayBuffer,
    args: SlicingDDPGArgs,
) -> None:
    actor, critic, actor_target, critic_target = nets
    batch = buffer.sample(args.batch_size)
    with torch.no_grad():
        context = actor.inputs(batch.obs)[2]
        target = batch.rewards
        if args.gamma > 0:
            next_context = actor.inputs(batch.next_obs)[2]
            next_q = critic_target(batch.next_obs, actor_target(batch.next_obs), next_context)
            target = target + args.gamma * (1 - batch.dones) * next_q
    critic_loss = nn.functional.mse_loss(critic(batch.obs, batch.actions, context), target)
    opts[1].zero_grad()
    critic_loss.backward()  # type: ignore[no-untyped-call]
    nn.utils.clip_grad_norm_(critic.parameters(), 10.0)
    opts[1].step()
    actor_loss = -critic(batch.obs, actor(batch.obs), context).mean()
    opts[0].zero_grad()
    actor_loss.backward()
    nn.utils.clip_grad_norm_(actor.parameters(), 1.0)
    opts[0].step()
    soft_update(actor_target, actor, args.tau)
    soft_update(critic_target, critic, args.tau)


def train_slicing_ddpg(
    scenario: SlicingScenario,
    args: SlicingDDPGArgs,
    run: Path | None,
    report: Report | None = None,
) -> tuple[SlaveActor, Selected]:
    """Train; returns the actor of least regret and its figures on the evaluation episodes."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    keep = KeepBest(scenario, args.seed, args.eval_episodes, args.guess_steps, run, report)
    sampler = admm_targets(args.uniform_targets, args.jitter, args.guess_steps)
    envs = [SliceSlaveEnv(scenario, target_sampler=sampler) for _ in range(args.envs)]
    users, pricing = envs[0].users, pricing_of(scenario, args.guess_steps)
    obs = np.stack([env.reset(seed=args.seed * 1000 + i)[0] for i, env in enumerate(envs)])
    actor, critic = (
        SlaveActor(args.hidden, users, pricing),
        SlaveCritic(args.hidden, users, pricing),
    )
    nets = (actor, critic, copy.deepcopy(actor), copy.deepcopy(critic))
    opts = optimizers(actor, critic, args.actor_lr, args.critic_lr)
    buffer = ReplayBuffer(args.buffer, obs.shape[1], users, args.seed)
    for step in range(1, args.steps + 1):
        sigma = noise_at(step, args.steps, args.sigma, args.sigma_final)
        with torch.no_grad():
            actions = actor(torch.from_numpy(obs), noise=sigma).numpy()
        rewards = []
        for i, env in enumerate(envs):
            next_obs, reward, _, truncated, _ = env.step(actions[i])
            buffer.add(obs[i], actions[i], max(reward, args.reward_floor), next_obs, False)
            rewards.append(reward)
            obs[i] = env.reset()[0] if truncated else next_obs
        if step > args.warmup:
            _update(nets, opts, buffer, args)
        if step % 50 == 0:
            keep.log.add({"step": step, "episode_reward": float(np.mean(rewards))})
        if step % args.eval_every == 0 or step == args.steps:
            keep.evaluate(step, actor, critic)
    return keep.result(actor)


def save_policy(
    directory: Path,
    actor: SlaveActor,
    scenario: SlicingScenario,
    args: SlicingDDPGArgs,
    selected: Selected,
) -> None:
    save_slave_policy(directory, actor, scenario, "ddpg", args, selected)


def write_run_config(run: Path, scenario: SlicingScenario, args: SlicingDDPGArgs) -> None:
    write_config(run, scenario, "ddpg", args)
