"""MADDPG-SD: multi-agent DDPG for SFC deployment, top to bottom.

One agent per chain position (up to ``agents``). For each request, every agent i reads its
local observation o_i (its VNF's demands, the request's slack and size, the substrate's
load and the request's pressure on it) and outputs a deterministic action
a_i = tanh(actor_i(o_i)) in [-1, 1]^(F+1), plus Gaussian exploration noise while training:
weights over the F server features and an admission value. The environment decodes the
actions (``place_by_weights``): the first agent's admission value below zero rejects the
request; otherwise VNF i goes to the server, among those that can take it, whose features
score highest under agent i's weights.

Each agent has a centralised critic Q_i(o_1..o_A, a_1..a_A) that sees every observation and
every action (absent positions are zeros). The reward of a request is shared: when it is
accepted, ``1 - xi_a * latency / bound - xi_b * servers switched on / length`` less a
price for the CPU it takes, zero while little of the substrate's CPU is in use and rising
once it is scarce (``shaped_reward``); 0 when it is rejected. Transitions chain the requests of an
episode with discount ``gamma`` and end with the episode, so the critics value what a
decision leaves for the requests that follow (long-run acceptance). Critics learn from a
replay buffer with target networks (Polyak ``tau``); each actor follows the gradient of
its critic with the other agents' actions taken from the buffer. The actors and the
critics are each one ``StackedMLP``: every agent's network in one batched call.

The actors start from a prior ranking, the chain's latency lower bound first and the
balance of each server's CPU and memory left second (``prior_latency``, ``prior_balance``),
and from the outlook's admission rule (``admission_fill``: the first agent's admission
value, 0 at the start, shifts the rule's margin; ``agent.model.deployment_outlook``), and
learn from there; exploration noise decays linearly from ``noise`` to ``final_noise``.
With ``admission_fill`` 0 there is no rule: the admission value alone decides, starting
from ``admission_bias`` (0.3 admits every request that fits).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from agent.model.deployment import DeploymentScenario
from agent.model.deployment_decoding import (
    ACTION_SIZE,
    REQUEST_FEATURES,
    SERVER_FEATURES,
    joint_observation,
    place_by_weights,
)
from agent.model.deployment_state import Request, request_reward
from agent.policies.deployment.heuristics import ADMISSION_FILL, ENERGY_WEIGHT
from agent.policies.deployment.learned import DeploymentCard, ScoreNet, StackedMLP
from agent.sim.deployment import DeploymentSim, generate_requests
from agent.train.deployment_eval import BestCheckpoint
from agent.train.learner import soft_update

LATENCY_FEATURE = 4  # index of the latency lower bound among the server features
BALANCE_FEATURE = 8  # index of the balance of CPU and memory left
TRAINING_SEEDS = 10**6  # training episodes draw their requests from seeds 10**6 + k


@dataclass
class MaddpgArgs:
    scenario: DeploymentScenario
    requests: int = 20_000  # training requests in total
    loads: tuple[int, ...] = (10, 20, 30, 40, 50)  # requests per episode, drawn per episode
    agents: int = 5
    hidden: int = 128
    gamma: float = 0.3
    tau: float = 0.01
    actor_lr: float = 1e-5
    critic_lr: float = 1e-3
    batch: int = 128
    buffer: int = 50_000
    noise: float = 0.1
    final_noise: float = 0.05
    warmup: int = 512
    update_every: int = 2
    scarcity: float = 2.0  # reward shaping: price of a mean request's CPU when all is used
    scarce_above: float = 0.65  # CPU in use (share) from which CPU has a price
    admission: bool = True
    backtrack: int = 50  # servers the agents may retry when a later one finds none
    admission_bias: float = 0.0  # initial admission value (with the rule: the rule as it is)
    admission_fill: float = ADMISSION_FILL  # the outlook's threshold rule (0: no rule)
    energy_weight: float = ENERGY_WEIGHT  # the decoding's ms per server-period (0: first found)
    prior_latency: float = -0.96  # initial weight of the latency lower bound (tanh(-2))
    prior_balance: float = 0.5  # initial weight of the balance of CPU and memory left
    critic_warmup: int = 500  # updates of the critics alone before the actors learn
    policy_delay: int = 2  # critic updates per actor update
    validate_every: int = 1000  # requests between validations (0: never; keep the last)
    validation_episodes: int = 6  # per load, on seeds no evaluation uses
    seed: int = 0


@dataclass
class TrainResult:
    net: ScoreNet  # the actors that scored best on the validation episodes
    acceptance: list[float] = field(default_factory=list)  # per training episode
    validation: list[tuple[int, float]] = field(default_factory=list)  # (requests, score)
    best_at: int = 0  # training requests seen when the kept actors were validated
    seconds: float = 0.0


class Replay:
    """Transitions between consecutive requests of an episode (``done`` at its end)."""

    def __init__(self, size: int, agents: int) -> None:
        a = agents
        self.obs = np.zeros((size, a, REQUEST_FEATURES), np.float32)
        self.act = np.zeros((size, a, ACTION_SIZE), np.float32)
        self.mask = np.zeros((size, a), np.float32)
        self.reward = np.zeros(size, np.float32)
        self.next_obs = np.zeros_like(self.obs)
        self.next_mask = np.zeros_like(self.mask)
        self.done = np.zeros(size, np.float32)
        self.size, self.count = size, 0
        self._open = False  # the newest transition still waits for its successor

    def add(self, obs: np.ndarray, act: np.ndarray, mask: np.ndarray, reward: float) -> None:
        self._close(obs, mask, done=False)
        i = self.count % self.size
        self.obs[i], self.act[i], self.mask[i], self.reward[i] = obs, act, mask, reward
        self.count += 1
        self._open = True

    def end_episode(self) -> None:
        self._close(np.zeros_like(self.obs[0]), np.zeros_like(self.mask[0]), done=True)

    def _close(self, obs: np.ndarray, mask: np.ndarray, done: bool) -> None:
        if self._open:
            j = (self.count - 1) % self.size
            self.next_obs[j], self.next_mask[j], self.done[j] = obs, mask, float(done)
            self._open = False

    def ready(self) -> int:
        return min(self.count, self.size) - (1 if self._open else 0)

    def sample(self, rng: np.random.Generator, batch: int) -> list[torch.Tensor]:
        newest = (self.count - 1) % self.size
        idx = rng.integers(0, min(self.count, self.size), batch)
        if self._open:  # the newest has no successor yet
            idx = np.where(idx == newest, (newest - 1) % min(self.count, self.size), idx)
        arrays = (
            self.obs, self.act, self.mask, self.reward, self.next_obs, self.next_mask, self.done
        )  # fmt: skip
        return [torch.from_numpy(a[idx]) for a in arrays]


class Maddpg:
    def __init__(self, args: MaddpgArgs) -> None:
        self.args = args
        a = args.agents
        card = DeploymentCard(
            format="sfc-deployment/2",
            algorithm="maddpg",
            hidden=args.hidden,
            agents=a,
            admission=args.admission,
            backtrack=args.backtrack,
            admission_fill=args.admission_fill or None,
            energy_weight=args.energy_weight or None,
        )
        self.net = ScoreNet(card)
        with torch.no_grad():  # start from the prior ranking, admitting what fits
            last_w, last_b = self.net.actors.w2, self.net.actors.b2
            last_w.zero_()  # exactly the prior until the actors learn
            last_b.zero_()
            last_b[:, 0, LATENCY_FEATURE] = float(np.arctanh(args.prior_latency))
            last_b[:, 0, BALANCE_FEATURE] = float(np.arctanh(args.prior_balance))
            last_b[:, 0, SERVER_FEATURES] = args.admission_bias
        size = a * (REQUEST_FEATURES + ACTION_SIZE)
        self.critics = StackedMLP(a, size, 1, args.hidden)
        self.target_net = copy.deepcopy(self.net)
        self.target_critics = copy.deepcopy(self.critics)
        self.actor_opt = torch.optim.Adam(self.net.parameters(), lr=args.actor_lr)
        self.critic_opt = torch.optim.Adam(self.critics.parameters(), lr=args.critic_lr)
        self.eye = torch.eye(a)[:, None, :, None]  # (A, 1, A, 1): agent i's own slot
        self.updates = 0

    def act(self, obs: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
        with torch.no_grad():
            w = self.net.actions(torch.from_numpy(obs)).numpy()
        if noise > 0:
            w = np.clip(w + rng.normal(0.0, noise, w.shape).astype(np.float32), -1.0, 1.0)
        return w

    def _critic(self, critics: StackedMLP, obs: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:
        """Every critic on the same joint input (acts ``(B, A, F+1)``) or on its own joint
        actions (acts ``(A, B, A, F+1)``): values ``(A, B)``."""
        a = self.args.agents
        flat = obs.flatten(1)
        if acts.dim() == 3:
            joint = torch.cat([flat, acts.flatten(1)], 1).expand(a, -1, -1)
        else:
            joint = torch.cat([flat.expand(a, -1, -1), acts.flatten(2)], 2)
        out: torch.Tensor = critics(joint).squeeze(-1)
        return out

    def update(self, batch: list[torch.Tensor]) -> None:
        obs, act, mask, reward, next_obs, next_mask, done = batch
        weight = mask.t()  # (A, B): agents present in each sample
        with torch.no_grad():
            next_act = self.target_net.actions(next_obs.transpose(0, 1)).transpose(0, 1)
            next_act = next_act * next_mask[..., None]
            future = self._critic(self.target_critics, next_obs, next_act)
            target = reward + self.args.gamma * (1.0 - done) * future
        q = self._critic(self.critics, obs, act)
        critic_loss = (((q - target) ** 2) * weight).sum() / weight.sum()
        self.critic_opt.zero_grad()
        critic_loss.backward()  # type: ignore[no-untyped-call]
        self.critic_opt.step()
        self.updates += 1
        if self.updates > self.args.critic_warmup and self.updates % self.args.policy_delay == 0:
            self._actor_step(obs, act, weight)
        self._soft_update()

    def _actor_step(self, obs: torch.Tensor, act: torch.Tensor, weight: torch.Tensor) -> None:
        mine = self.net.actions(obs.transpose(0, 1)) * weight[..., None]  # (A, B, F+1)
        joint = act[None] * (1.0 - self.eye) + mine[:, :, None, :] * self.eye
        actor_loss = -(self._critic(self.critics, obs, joint) * weight).sum() / weight.sum()
        self.actor_opt.zero_grad()
        actor_loss.backward()  # type: ignore[no-untyped-call]
        self.actor_opt.step()

    def _soft_update(self) -> None:
        soft_update(self.target_net, self.net, self.args.tau)
        soft_update(self.target_critics, self.critics, self.args.tau)


def shaped_reward(
    args: MaddpgArgs, request: Request, latency: float, woken: int, used: float
) -> float:
    """The request reward less the price of the CPU it takes: zero while the substrate's
    CPU in use (share ``used`` before the request) is below ``scarce_above``, rising
    linearly to ``scarcity`` per mean request's CPU when it is all in use."""
    base = request_reward(args.scenario.cost, request, latency, woken)
    spec = args.scenario.requests
    mean_cpu = sum(spec.chain_length) / 2 * sum(spec.cpu) / 2
    scarce = max(0.0, used - args.scarce_above) / (1.0 - args.scarce_above)
    return base - args.scarcity * scarce * sum(request.cpu) / mean_cpu


def run_training_episode(
    agent: Maddpg, replay: Replay, sim: DeploymentSim, rng: np.random.Generator, seen: int
) -> int:
    """Decide every request of ``sim`` with exploration, learning as it goes; the total of
    requests seen afterwards."""
    args = agent.args
    while not sim.done and seen < args.requests:
        request = sim.current
        obs = joint_observation(sim.state, request, args.agents)
        mask = (np.arange(args.agents) < request.length).astype(np.float32)
        progress = seen / max(args.requests, 1)
        noise = args.noise + (args.final_noise - args.noise) * progress
        actions = agent.act(obs, noise, rng) * mask[:, None]
        before = sim.state.active_servers()
        used = 1.0 - sum(sim.state.cpu) / sum(sim.state.substrate.cpu)
        decision = place_by_weights(
            sim.state,
            request,
            actions,
            args.admission,
            args.backtrack,
            args.admission_fill or None,
            args.energy_weight or None,
        )
        outcome = sim.submit(decision)
        reward = 0.0
        if outcome.accepted:
            woken = sim.state.active_servers() - before
            reward = shaped_reward(args, request, outcome.latency, woken, used)
        replay.add(obs, actions, mask, reward)
        seen += 1
        if replay.ready() > args.warmup and seen % args.update_every == 0:
            agent.update(replay.sample(rng, args.batch))
    replay.end_episode()
    return seen


def train(args: MaddpgArgs) -> TrainResult:
    """Train for ``args.requests`` requests; the actors kept are those that scored best on
    the validation episodes (checked every ``validate_every`` requests, and at the start)."""
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    agent = Maddpg(args)
    replay = Replay(args.buffer, args.agents)
    best = BestCheckpoint(args.scenario, args.loads, args.validation_episodes)
    result = TrainResult(agent.net)
    started, seen, episode = time.perf_counter(), 0, 0
    if args.validate_every:
        best.check(agent.net, 0)
    while seen < args.requests:
        load = int(rng.choice(args.loads))
        requests = generate_requests(args.scenario, TRAINING_SEEDS + episode, load)
        sim = DeploymentSim(args.scenario, requests)
        episode += 1
        before, seen = seen, run_training_episode(agent, replay, sim, rng, seen)
        result.acceptance.append(sim.finish().acceptance)
        if args.validate_every and seen // args.validate_every > before // args.validate_every:
            best.check(agent.net, seen)
    if args.validate_every and seen % args.validate_every:
        best.check(agent.net, seen)
    result.net = best.net or agent.net
    result.validation, result.best_at = best.history, best.best_at
    result.seconds = time.perf_counter() - started
    return result
