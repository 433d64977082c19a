"""MADDPG-SD: multi-agent DDPG for SFC deployment, top to bottom.

One agent per chain position (up to ``agents``). For each request, every agent i reads its
local observation o_i (its VNF's demands, the request's latency bound, the substrate's load)
and outputs a deterministic action a_i = tanh(actor_i(o_i)) in [-1, 1]^F, plus Gaussian
exploration noise while training. The environment decodes the actions VNF by VNF: VNF i goes
to the server, among those that can take it, whose features score highest under a_i.

Each agent has a centralised critic Q_i(o_1..o_A, a_1..a_A) that sees every observation and
every action (absent positions are zeros). The reward of a request is shared:
``1 - xi_a * latency / bound - xi_b * servers switched on / length`` when accepted, 0 when
rejected; transitions chain requests with discount ``gamma``. Critics learn from a replay
buffer with target networks (Polyak ``tau``); each actor follows the gradient of its critic
with the other agents' actions taken from the buffer.

The actors start from the latency-greedy ranking (their last layer's bias favours the
servers through which the chain's latency stays lowest) and learn from there.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from agent.model.deployment import DeploymentScenario
from agent.model.deployment_state import (
    REQUEST_FEATURES,
    SERVER_FEATURES,
    ChainPlan,
    Decision,
    Rejection,
    Request,
    SubstrateState,
    option_matrix,
    request_features,
)
from agent.policies.deployment.heuristics import no_server_reason
from agent.policies.deployment.learned import DeploymentCard, ScoreNet, mlp
from agent.sim.deployment import DeploymentSim, generate_requests

LATENCY_FEATURE = 4  # index of the latency lower bound among the server features


@dataclass
class MaddpgArgs:
    scenario: DeploymentScenario
    requests: int = 2000  # training requests in total
    loads: tuple[int, ...] = (10, 20, 30, 40, 50)  # requests per episode, drawn per episode
    agents: int = 5
    hidden: int = 128
    gamma: float = 0.9
    tau: float = 0.01
    actor_lr: float = 1e-4
    critic_lr: float = 1e-3
    batch: int = 128
    buffer: int = 50_000
    noise: float = 0.3
    warmup: int = 256
    update_every: int = 2
    seed: int = 0


@dataclass
class TrainResult:
    net: ScoreNet
    acceptance: list[float] = field(default_factory=list)  # per training episode
    seconds: float = 0.0


def request_reward(
    scenario: DeploymentScenario, request: Request, placement_latency: float, woken: int
) -> float:
    cost = scenario.cost
    return (
        1.0
        - cost.latency_weight * placement_latency / request.latency_bound
        - cost.cost_weight * woken / request.length
    )


class Replay:
    def __init__(self, size: int, agents: int) -> None:
        a = agents
        self.obs = np.zeros((size, a, REQUEST_FEATURES), np.float32)
        self.act = np.zeros((size, a, SERVER_FEATURES), np.float32)
        self.mask = np.zeros((size, a), np.float32)
        self.reward = np.zeros(size, np.float32)
        self.next_obs = np.zeros_like(self.obs)
        self.next_mask = np.zeros_like(self.mask)
        self.size, self.count = size, 0

    def add(self, obs: np.ndarray, act: np.ndarray, mask: np.ndarray, reward: float) -> None:
        i = self.count % self.size
        if self.count:
            j = (self.count - 1) % self.size
            self.next_obs[j], self.next_mask[j] = obs, mask
        self.obs[i], self.act[i], self.mask[i], self.reward[i] = obs, act, mask, reward
        self.count += 1

    def sample(self, rng: np.random.Generator, batch: int) -> list[torch.Tensor]:
        high = min(self.count, self.size) - 1  # the newest has no successor yet
        idx = rng.integers(0, high, batch)
        arrays = (self.obs, self.act, self.mask, self.reward, self.next_obs, self.next_mask)
        return [torch.from_numpy(a[idx]) for a in arrays]


def joint_observation(state: SubstrateState, request: Request, agents: int) -> np.ndarray:
    plan = ChainPlan(state, request)
    obs = np.zeros((agents, REQUEST_FEATURES), np.float32)
    for i in range(min(request.length, agents)):
        obs[i] = request_features(plan, i)
    return obs


def decode(state: SubstrateState, request: Request, actions: np.ndarray) -> Decision:
    """Place the chain VNF by VNF, each on its agent's best-scoring feasible server."""
    plan = ChainPlan(state, request)
    while not plan.done:
        options, features = option_matrix(plan)
        if not options:
            return Rejection(request.id, no_server_reason(plan))
        w = actions[min(plan.position, len(actions) - 1)]
        plan.take(options[int(np.argmax(features @ w))])
    return plan.placement()


class Maddpg:
    def __init__(self, args: MaddpgArgs) -> None:
        self.args = args
        a = args.agents
        card = DeploymentCard(
            format="sfc-deployment/1", algorithm="maddpg", hidden=args.hidden, agents=a
        )
        self.net = ScoreNet(card)
        for actor in self.net.actors:  # start from the latency-greedy ranking
            last = list(actor.children())[-1]
            assert isinstance(last, nn.Linear)
            nn.init.uniform_(last.weight, -1e-3, 1e-3)
            nn.init.zeros_(last.bias)
            last.bias.data[LATENCY_FEATURE] = -2.0
        size = a * (REQUEST_FEATURES + SERVER_FEATURES)
        self.critics = nn.ModuleList(mlp(size, 1, args.hidden) for _ in range(a))
        self.target_net = copy.deepcopy(self.net)
        self.target_critics = copy.deepcopy(self.critics)
        self.actor_opt = torch.optim.Adam(self.net.parameters(), lr=args.actor_lr)
        self.critic_opt = torch.optim.Adam(self.critics.parameters(), lr=args.critic_lr)

    def act(self, obs: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
        with torch.no_grad():
            x = torch.from_numpy(obs)
            w = torch.stack([self.net.weights(i, x[i]) for i in range(len(obs))]).numpy()
        if noise > 0:
            w = np.clip(w + rng.normal(0.0, noise, w.shape).astype(np.float32), -1.0, 1.0)
        return w

    def _all_actions(self, net: ScoreNet, obs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        acts = [net.weights(i, obs[:, i]) for i in range(obs.shape[1])]
        return torch.stack(acts, 1) * mask[..., None]

    def update(self, batch: list[torch.Tensor]) -> None:
        obs, act, mask, reward, next_obs, next_mask = batch
        flat = obs.flatten(1)
        with torch.no_grad():
            next_act = self._all_actions(self.target_net, next_obs, next_mask)
            next_in = torch.cat([next_obs.flatten(1), next_act.flatten(1)], 1)
        critic_loss = torch.zeros(())
        for i, critic in enumerate(self.critics):
            with torch.no_grad():
                target = reward + self.args.gamma * self.target_critics[i](next_in).squeeze(-1)
            q = critic(torch.cat([flat, act.flatten(1)], 1)).squeeze(-1)
            critic_loss = critic_loss + ((q - target) ** 2 * mask[:, i]).mean()
        self.critic_opt.zero_grad()
        critic_loss.backward()  # type: ignore[no-untyped-call]
        self.critic_opt.step()
        actor_loss = torch.zeros(())
        for i, critic in enumerate(self.critics):
            mine = self.net.weights(i, obs[:, i]) * mask[:, i : i + 1]
            joint = torch.cat([act[:, :i], mine[:, None], act[:, i + 1 :]], 1)
            q = critic(torch.cat([flat, joint.flatten(1)], 1)).squeeze(-1)
            actor_loss = actor_loss - (q * mask[:, i]).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()  # type: ignore[no-untyped-call]
        self.actor_opt.step()
        self._soft_update()

    def _soft_update(self) -> None:
        tau = self.args.tau
        pairs = ((self.target_net, self.net), (self.target_critics, self.critics))
        with torch.no_grad():
            for target, source in pairs:
                for t, s in zip(target.parameters(), source.parameters(), strict=True):
                    t.mul_(1 - tau).add_(s, alpha=tau)


def train(args: MaddpgArgs) -> TrainResult:
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    agent = Maddpg(args)
    replay = Replay(args.buffer, args.agents)
    result = TrainResult(agent.net)
    started, seen, episode = time.perf_counter(), 0, 0
    while seen < args.requests:
        load = int(rng.choice(args.loads))
        sim = DeploymentSim(args.scenario, generate_requests(args.scenario, 10**6 + episode, load))
        episode += 1
        while not sim.done and seen < args.requests:
            request = sim.current
            obs = joint_observation(sim.state, request, args.agents)
            mask = (np.arange(args.agents) < request.length).astype(np.float32)
            actions = agent.act(obs, args.noise, rng) * mask[:, None]
            active_before = sim.state.active_servers()
            outcome = sim.submit(decode(sim.state, request, actions))
            woken = sim.state.active_servers() - active_before
            reward = request_reward(args.scenario, request, outcome.latency, woken)
            replay.add(obs, actions, mask, reward if outcome.accepted else 0.0)
            seen += 1
            if replay.count > args.warmup and seen % args.update_every == 0:
                agent.update(replay.sample(rng, args.batch))
        result.acceptance.append(sim.finish().acceptance)
    result.seconds = time.perf_counter() - started
    return result
