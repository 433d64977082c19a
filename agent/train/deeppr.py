"""DeepPR trainer: DQN with RATIO-guided exploration on the progressive-recovery environment.

Two variants, chosen by ``TrainArgs.variant``:

- ``paper`` (Ishigaki et al., GLOBECOM 2019): one fully connected network per graph, trained
  on that graph; two hidden layers of 200; discount 0.6; replay 20,000; batch 256; epsilon
  from 1 to 0.1; exploring takes RATIO's action with probability 0.4 and a random valid one
  with 0.6; the greedy action is the argmax over valid actions only.
- ``node`` (ours, the default): the same DQN loop with a size-independent network over
  graph-aware node features (``NodeQNet``), double DQN with a dueling head, undiscounted
  returns normalised by (total utility x horizon), trained on a fresh random instance every
  episode (GNP sizes and compliant/adversarial mixed), so one network serves any graph.

The loop, top to bottom: sample an instance, act epsilon-greedily (exploration mixes RATIO
and RANDOM), store the transition, learn from a replay batch, sync the target network.
Training-instance seeds are drawn from [10^6, 10^9), apart from the small seeds used in
evaluation.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from agent.envs.recovery import RecoveryEnv
from agent.model.recovery import GraphFamily, Mode, RecoveryInstance
from agent.policies.recovery.base import ratio_choice
from agent.policies.recovery.deeppr import pair_mask, paper_state
from agent.policies.recovery.features import NODE_FEATURES, GraphArrays, node_features
from agent.policies.recovery.networks import NodeQNet, PaperQNet

Variant = Literal["node", "paper"]


@dataclass
class TrainArgs:
    """Hyperparameters; ``None`` means the variant's default (paper: its published values)."""

    variant: Variant = "node"
    episodes: int = 3000
    seed: int = 0
    gamma: float | None = None  # paper 0.6, node 1.0
    hidden: int | None = None  # paper 200, node 64
    lr: float = 1e-3
    buffer: int = 20_000
    batch: int | None = None  # paper 256, node 128
    eps_start: float = 1.0
    eps_end: float = 0.1
    eps_decay_fraction: float = 0.6  # of the episodes
    ratio_share: float = 0.4  # when exploring: RATIO with this probability, else RANDOM
    learn_start: int = 1_000  # transitions before learning starts
    train_every: int | None = None  # steps between updates: paper 1, node 4
    target_every: int = 200  # learning steps between target-network syncs
    adversarial_share: float = 0.5  # node variant: share of adversarial training instances
    families: list[GraphFamily] = field(
        default_factory=lambda: [GraphFamily("gnp", sizes=tuple(range(10, 25)))]
    )
    threads: int = 1


@dataclass
class TrainResult:
    net: NodeQNet | PaperQNet
    card: dict[str, object]
    returns: list[float]
    seconds_per_episode: float


class Replay:
    """A ring buffer of transitions as preallocated arrays (state shapes fixed per run)."""

    def __init__(self, size: int, state: tuple[int, ...], mask: int, rng: np.random.Generator):
        self.size, self.count, self.pos, self.rng = size, 0, 0, rng
        self.s = np.zeros((size, *state), dtype=np.float32)
        self.m = np.zeros((size, mask), dtype=bool)
        self.s2 = np.zeros((size, *state), dtype=np.float32)
        self.m2 = np.zeros((size, mask), dtype=bool)
        self.a = np.zeros(size, dtype=np.int64)
        self.r = np.zeros(size, dtype=np.float32)
        self.done = np.zeros(size, dtype=np.float32)

    def add(self, s, m, a: int, r: float, done: bool, s2, m2) -> None:  # type: ignore[no-untyped-def]
        i = self.pos
        self.s[i], self.m[i], self.a[i], self.r[i] = s, m, a, r
        self.done[i], self.s2[i], self.m2[i] = float(done), s2, m2
        self.pos, self.count = (i + 1) % self.size, min(self.count + 1, self.size)

    def sample(self, batch: int) -> list[torch.Tensor]:
        idx = self.rng.integers(0, self.count, size=batch)
        arrays = (self.s, self.m, self.a, self.r, self.done, self.s2, self.m2)
        return [torch.from_numpy(x[idx]) for x in arrays]


class Learner:
    """Online and target networks, the optimiser and one DQN update."""

    def __init__(self, net: NodeQNet | PaperQNet, args: TrainArgs, gamma: float) -> None:
        self.net, self.args, self.gamma = net, args, gamma
        self.target = type(net)(**_init_args(net))
        self.target.load_state_dict(net.state_dict())
        self.optim = torch.optim.Adam(net.parameters(), lr=args.lr)
        self.updates = 0

    def q(self, net: nn.Module, s: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = net(s, m) if isinstance(net, NodeQNet) else net(s)
        return out.masked_fill(~m, -1e9)

    def update(self, batch: list[torch.Tensor]) -> float:
        s, m, a, r, done, s2, m2 = batch
        q = self.q(self.net, s, m).gather(1, a[:, None]).squeeze(1)
        with torch.no_grad():
            target_q = self.q(self.target, s2, m2)
            if self.args.variant == "node":  # double DQN: online picks, target evaluates
                pick = self.q(self.net, s2, m2).argmax(1, keepdim=True)
                nxt = target_q.gather(1, pick).squeeze(1)
            else:
                nxt = target_q.max(1).values
            nxt = torch.where(m2.any(1), nxt, torch.zeros_like(nxt))
            y = r + self.gamma * (1.0 - done) * nxt
        loss = nn.functional.smooth_l1_loss(q, y)
        self.optim.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        nn.utils.clip_grad_norm_(self.net.parameters(), 10.0)
        self.optim.step()
        self.updates += 1
        if self.updates % self.args.target_every == 0:
            self.target.load_state_dict(self.net.state_dict())
        return float(loss.detach())


def _init_args(net: NodeQNet | PaperQNet) -> dict[str, int]:
    if isinstance(net, PaperQNet):
        return {"n": net.n, "hidden": net.hidden}
    return {"features": net.features, "hidden": net.hidden}


def train(
    args: TrainArgs,
    instance: RecoveryInstance | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train a DeepPR network. The paper variant needs ``instance`` (its one graph)."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    if args.variant == "paper":
        if instance is None:
            raise ValueError("the paper variant trains on one given instance")
        agent: _Agent = _PaperAgent(args, instance, rng)
    else:
        agent = _NodeAgent(args, rng)
    returns: list[float] = []
    started = time.perf_counter()
    for episode in range(args.episodes):
        fraction = min(episode / max(args.eps_decay_fraction * args.episodes, 1.0), 1.0)
        eps = args.eps_start + (args.eps_end - args.eps_start) * fraction
        returns.append(agent.episode(eps))
        if progress is not None:
            progress(episode, returns[-1])
    elapsed = time.perf_counter() - started
    card: dict[str, object] = {
        "variant": args.variant,
        "gamma": agent.learner.gamma,
        "episodes": args.episodes,
        "seed": args.seed,
        "seconds_per_episode": round(elapsed / max(args.episodes, 1), 5),
        "double_dqn": args.variant == "node",
        "trained_on": [f.label for f in args.families] if args.variant == "node" else "one graph",
    }
    return TrainResult(agent.learner.net, card, returns, elapsed / max(args.episodes, 1))


class _Agent:
    """What both variants share: exploration, storing, learning."""

    learner: Learner
    replay: Replay

    def __init__(self, args: TrainArgs, rng: random.Random) -> None:
        self.args, self.rng, self.steps = args, rng, 0

    def explore_node(
        self, instance: RecoveryInstance, remaining: np.ndarray, front: np.ndarray
    ) -> int:
        """RATIO's pick with probability ratio_share, else a random frontier node."""
        nodes = [int(v) for v in np.flatnonzero(front)]
        if self.rng.random() < self.args.ratio_share:
            return ratio_choice(instance, remaining.tolist(), nodes)
        return self.rng.choice(nodes)

    def learn(self) -> None:
        self.steps += 1
        paper = self.args.variant == "paper"
        every = self.args.train_every or (1 if paper else 4)
        if self.replay.count >= self.args.learn_start and self.steps % every == 0:
            self.learner.update(self.replay.sample(self.args.batch or (256 if paper else 128)))

    def episode(self, eps: float) -> float:  # pragma: no cover - overridden
        raise NotImplementedError


class _NodeAgent(_Agent):
    """Ours: one NodeQNet over node features, a new random instance every episode."""

    def __init__(self, args: TrainArgs, rng: random.Random) -> None:
        super().__init__(args, rng)
        self.n_max = max(
            max(f.sizes) if f.kind == "gnp" else f.instance(0, "compliant").n for f in args.families
        )
        net = NodeQNet(NODE_FEATURES, args.hidden or 64)
        self.learner = Learner(net, args, 1.0 if args.gamma is None else args.gamma)
        shape = (self.n_max, NODE_FEATURES)
        self.replay = Replay(args.buffer, shape, self.n_max, np.random.default_rng(args.seed))

    def sample_instance(self) -> RecoveryInstance:
        family = self.rng.choice(self.args.families)
        mode: Mode = (
            "adversarial" if self.rng.random() < self.args.adversarial_share else "compliant"
        )
        size = self.rng.choice(family.sizes) if family.kind == "gnp" else None
        return family.instance(self.rng.randrange(10**6, 10**9), mode, size)

    def padded(self, graph: GraphArrays, env: RecoveryEnv) -> tuple[np.ndarray, np.ndarray]:
        feats, front = node_features(graph, env.remaining[None], np.array([env.step_index]))
        s = np.full((self.n_max, NODE_FEATURES), -1.0, dtype=np.float32)
        m = np.zeros(self.n_max, dtype=bool)
        s[: graph.n], m[: graph.n] = feats[0], front[0]
        return s, m

    def episode(self, eps: float) -> float:
        instance = self.sample_instance()
        graph, env = GraphArrays.of(instance), RecoveryEnv(instance)
        env.reset()
        norm = max(float(graph.utility.sum()) * graph.horizon, 1e-9)
        s, m = self.padded(graph, env)
        total, done = 0.0, False
        while not done:
            if self.rng.random() < eps:
                node = self.explore_node(instance, env.remaining, m[: graph.n])
            else:
                with torch.no_grad():
                    q = self.learner.net(torch.from_numpy(s[None]), torch.from_numpy(m[None]))[0]
                node = int(q.masked_fill(~torch.from_numpy(m), -1e9).argmax())
            _, reward, done, _, _ = env.step(node * graph.n + node)
            s2, m2 = self.padded(graph, env)
            self.replay.add(s, m, node, reward / norm, done, s2, m2)
            self.learn()
            s, m, total = s2, m2, total + reward
        return total


class _PaperAgent(_Agent):
    """The paper's: a PaperQNet for one instance, actions are ordered pairs."""

    def __init__(self, args: TrainArgs, instance: RecoveryInstance, rng: random.Random) -> None:
        super().__init__(args, rng)
        self.instance, self.graph = instance, GraphArrays.of(instance)
        n = instance.n
        net = PaperQNet(n, args.hidden or 200)
        self.learner = Learner(net, args, 0.6 if args.gamma is None else args.gamma)
        self.replay = Replay(args.buffer, (2 * n,), n * n, np.random.default_rng(args.seed))
        self.env = RecoveryEnv(instance)
        self.norm = max(float(self.graph.utility.sum()), 1e-9)

    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        remaining, functional = self.env.remaining[None], self.env.functional[None]
        front = functional.copy()
        front[0] = self.env.frontier()
        mask = pair_mask(self.graph, functional, front)[0]
        return paper_state(self.graph, remaining, functional)[0], mask, front[0]

    def episode(self, eps: float) -> float:
        self.env.reset()
        n = self.instance.n
        s, m, front = self.state()
        total, done = 0.0, False
        while not done:
            if self.rng.random() < eps:
                first = self.explore_node(self.instance, self.env.remaining, front)
                action = first * n + first
            else:
                with torch.no_grad():
                    q = self.learner.net(torch.from_numpy(s[None]))[0]
                action = int(q.masked_fill(~torch.from_numpy(m), -1e9).argmax())
            _, reward, done, _, _ = self.env.step(action)
            s2, m2, front = self.state()
            self.replay.add(s, m, action, reward / self.norm, done, s2, m2)
            self.learn()
            s, m, total = s2, m2, total + reward
        return total
