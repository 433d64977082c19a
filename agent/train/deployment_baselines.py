"""The paper's single-agent baselines for SFC deployment: DQN, DDPG and PG (REINFORCE).

Each sees the chain one VNF at a time (the gymnasium view of agent.envs.deployment) and
picks a server among those that can take the VNF. A request is one episode of at most five
steps; its only reward comes at the end: MADDPG-SD's request reward when it is accepted, 0
when it is rejected. Networks: two hidden layers of 128, ReLU, Adam.

- DQN: Q(request, server) from [request features, server features]; epsilon-greedy;
  target ``r + max Q_target(next step)`` within the chain; replay and a target network.
- DDPG: actor from the request features and every server's features to one score per server
  (Gaussian noise), decoded to the best feasible server; critic Q(state, scores).
- PG: softmax over the same per-server scores as DQN, REINFORCE with a running baseline.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from agent.model.deployment import DeploymentScenario
from agent.model.deployment_decoding import (
    REQUEST_FEATURES,
    SERVER_FEATURES,
    option_matrix,
    request_features,
)
from agent.model.deployment_state import ChainPlan, Option, Rejection, Request, request_reward
from agent.policies.deployment.heuristics import no_server_reason
from agent.policies.deployment.learned import (
    Algorithm,
    DeploymentCard,
    ScoreNet,
    ddpg_input,
    mlp,
)
from agent.sim.deployment import DeploymentSim, generate_requests
from agent.train.deployment_eval import BestCheckpoint
from agent.train.deployment_maddpg import TRAINING_SEEDS


@dataclass
class BaselineArgs:
    scenario: DeploymentScenario
    algorithm: Algorithm = "dqn"
    requests: int = 2000
    loads: tuple[int, ...] = (10, 20, 30, 40, 50)
    hidden: int = 128
    lr: float = 1e-3
    batch: int = 64
    epsilon: float = 0.2
    noise: float = 0.3
    validate_every: int = 1000  # requests between validations (0: never; keep the last)
    validation_episodes: int = 6  # per load, the same episodes as MADDPG-SD's
    seed: int = 0


@dataclass
class Step:
    obs: np.ndarray  # the network's input for the chosen action
    options: np.ndarray  # dqn/pg: every candidate's input rows; ddpg: the scores


@dataclass
class BaselineResult:
    net: ScoreNet  # the network that scored best on the validation episodes
    acceptance: list[float] = field(default_factory=list)
    validation: list[tuple[int, float]] = field(default_factory=list)  # (requests, score)
    best_at: int = 0
    seconds: float = 0.0


class Learner:
    """What differs between the three: choosing, and learning from one finished request."""

    def __init__(self, args: BaselineArgs, servers: int) -> None:
        self.args = args
        card = DeploymentCard(
            format="sfc-deployment/2",
            algorithm=args.algorithm,
            hidden=args.hidden,
            servers=servers,
        )
        self.net = ScoreNet(card)
        self.rng = np.random.default_rng(args.seed)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=args.lr)
        self.baseline = 0.0
        self.memory: list[tuple[list[Step], float]] = []
        if args.algorithm == "ddpg":
            size = REQUEST_FEATURES + servers * (SERVER_FEATURES + 1)
            self.critic = mlp(size + servers, 1, args.hidden)
            self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=args.lr)
        self.target = copy.deepcopy(self.net)

    def choose(
        self, plan: ChainPlan, options: list[Option], features: np.ndarray
    ) -> tuple[int, Step]:
        if self.args.algorithm == "ddpg":
            x = ddpg_input(plan, options, features)
            with torch.no_grad():
                scores = torch.tanh(self.net.actor(torch.from_numpy(x))).numpy()
            scores = np.clip(scores + self.rng.normal(0, self.args.noise, scores.shape), -1, 1)
            scores = scores.astype(np.float32)
            pick = int(np.argmax([scores[o.server] for o in options]))
            return pick, Step(x, scores)
        obs = request_features(plan)
        rows = np.concatenate([np.repeat(obs[None], len(features), 0), features], 1)
        with torch.no_grad():
            logits = self.net.scorer(torch.from_numpy(rows)).squeeze(-1).numpy()
        if self.args.algorithm == "pg":
            p = np.exp(logits - logits.max())
            pick = int(self.rng.choice(len(p), p=p / p.sum()))
        elif self.rng.random() < self.args.epsilon:
            pick = int(self.rng.integers(len(options)))
        else:
            pick = int(np.argmax(logits))
        return pick, Step(rows[pick], rows)

    def learn(self, steps: list[Step], reward: float) -> None:
        self.memory.append((steps, reward))
        if len(self.memory) < self.args.batch:
            return
        batch, self.memory = self.memory, []
        {"dqn": self._dqn, "pg": self._pg, "ddpg": self._ddpg}[self.args.algorithm](batch)

    def _dqn(self, batch: list[tuple[list[Step], float]]) -> None:
        inputs, targets = [], []
        for steps, reward in batch:
            for k, step in enumerate(steps):
                inputs.append(step.obs)
                if k + 1 < len(steps):
                    with torch.no_grad():
                        nxt = self.target.scorer(torch.from_numpy(steps[k + 1].options))
                    targets.append(float(nxt.max()))
                else:
                    targets.append(reward)
        q = self.net.scorer(torch.from_numpy(np.stack(inputs))).squeeze(-1)
        loss = ((q - torch.tensor(targets)) ** 2).mean()
        self._step(self.opt, loss)
        self.target.load_state_dict(self.net.state_dict())

    def _pg(self, batch: list[tuple[list[Step], float]]) -> None:
        loss = torch.zeros(())
        mean = float(np.mean([reward for _, reward in batch]))
        for steps, reward in batch:
            for step in steps:
                logits = self.net.scorer(torch.from_numpy(step.options)).squeeze(-1)
                chosen = int(np.flatnonzero((step.options == step.obs).all(1))[0])
                log_p = torch.log_softmax(logits, 0)[chosen]
                loss = loss - (reward - self.baseline) * log_p
        self.baseline = 0.9 * self.baseline + 0.1 * mean
        self._step(self.opt, loss / len(batch))

    def _ddpg(self, batch: list[tuple[list[Step], float]]) -> None:
        states = torch.from_numpy(np.stack([s.obs for steps, _ in batch for s in steps]))
        actions = torch.from_numpy(np.stack([s.options for steps, _ in batch for s in steps]))
        rewards = torch.tensor([r for steps, r in batch for _ in steps])
        q = self.critic(torch.cat([states, actions], 1)).squeeze(-1)
        self._step(self.critic_opt, ((q - rewards) ** 2).mean())
        mine = torch.tanh(self.net.actor(states))
        self._step(self.opt, -self.critic(torch.cat([states, mine], 1)).mean())

    @staticmethod
    def _step(opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()


def run_request(learner: Learner, sim: DeploymentSim, request: Request) -> float:
    plan = ChainPlan(sim.state, request)
    steps: list[Step] = []
    active_before = sim.state.active_servers()
    while not plan.done:
        options, features = option_matrix(plan)
        if not options:
            sim.submit(Rejection(request.id, no_server_reason(plan)))
            if steps:
                learner.learn(steps, 0.0)
            return 0.0
        pick, step = learner.choose(plan, options, features)
        steps.append(step)
        plan.take(options[pick])
    outcome = sim.submit(plan.placement())
    woken = sim.state.active_servers() - active_before
    reward = (
        request_reward(sim.scenario.cost, request, outcome.latency, woken)
        if outcome.accepted
        else 0.0
    )
    learner.learn(steps, reward)
    return reward


def train(args: BaselineArgs) -> BaselineResult:
    """Train for ``args.requests`` requests, keeping the network that scored best on the
    validation episodes (as MADDPG-SD's trainer does)."""
    torch.manual_seed(args.seed)
    learner = Learner(args, args.scenario.substrate.n)
    best = BestCheckpoint(args.scenario, args.loads, args.validation_episodes)
    result = BaselineResult(learner.net)
    started, seen, episode = time.perf_counter(), 0, 0
    rng = np.random.default_rng(args.seed)
    if args.validate_every:
        best.check(learner.net, 0)
    while seen < args.requests:
        load = int(rng.choice(args.loads))
        requests = generate_requests(args.scenario, TRAINING_SEEDS + episode, load)
        sim = DeploymentSim(args.scenario, requests)
        episode += 1
        before = seen
        while not sim.done and seen < args.requests:
            run_request(learner, sim, sim.current)
            seen += 1
        result.acceptance.append(sim.finish().acceptance)
        if args.validate_every and seen // args.validate_every > before // args.validate_every:
            best.check(learner.net, seen)
    if args.validate_every and seen % args.validate_every:
        best.check(learner.net, seen)
    result.net = best.net or learner.net
    result.validation, result.best_at = best.history, best.best_at
    result.seconds = time.perf_counter() - started
    return result
