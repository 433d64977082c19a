"""DeepPR: the learned recovery policy (a masked DQN), loaded from safetensors + JSON card.

Two ways to act, ``search="greedy"`` and ``search="beam"`` (the default):

- greedy: the paper's rule. Each step the units go to the valid action with the largest
  Q-value (argmax over the frontier only); the plan is the order in which nodes complete.
- beam: a beam search over repair orders guided by the Q-function. A partial order is scored
  by the exact utility it has earned up to the step its last node completes plus the
  network's value of the state reached (max over valid actions of Q); the ``beam_width``
  best distinct sets of repaired nodes are kept at each depth. The plan returned is the best,
  by exact evaluation, of the complete orders in the final beam and the greedy plan.

No training code here; ``agent.train.deeppr`` trains and saves the networks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch

from agent.model.recovery import RecoveryInstance, total_utility
from agent.policies.recovery.card import SHIPPED, DeepPRCard
from agent.policies.recovery.features import GraphArrays, node_features
from agent.policies.recovery.networks import NodeQNet, PaperQNet, load_network

__all__ = ["SHIPPED", "DeepPRPolicy", "pair_mask", "paper_state"]

Search = Literal["beam", "greedy"]


def paper_state(
    graph: GraphArrays, remaining: npt.NDArray[np.int64], functional: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float32]:
    """The paper network's input: functional flags and remaining demand / max demand."""
    scale = np.float32(max(float(graph.demand.max()), 1.0))
    flags = functional.astype(np.float32)
    return np.concatenate([flags, remaining.astype(np.float32) / scale], axis=-1)


def pair_mask(
    graph: GraphArrays, functional: npt.NDArray[np.bool_], front: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """(B, n*n) valid ordered pairs: the first in the frontier, the second in the frontier, a
    non-functional neighbour of the first, or the first itself (no leftover)."""
    n = graph.n
    near = (graph.adjacency[None] > 0) & ~functional[:, None, :]
    second = front[:, None, :] | near | np.eye(n, dtype=bool)[None]
    pairs: npt.NDArray[np.bool_] = (front[:, :, None] & second).reshape(len(front), n * n)
    return pairs


@dataclass
class _Entry:
    earned: float  # exact utility summed over steps 1..done_at
    order: tuple[int, ...]
    remaining: np.ndarray
    poured: int
    level: float  # utility of the functional set after done_at


class DeepPRPolicy:
    """A trained DeepPR Q-network with greedy or beam-search action selection."""

    def __init__(
        self,
        net: NodeQNet | PaperQNet,
        card: DeepPRCard | None = None,
        search: Search = "beam",
        beam_width: int = 64,
    ) -> None:
        self.net = net.eval()
        self.card = card
        self.search: Search = search
        self.beam_width = beam_width
        self.name = "deeppr" if search == "beam" else "deeppr-greedy"

    @staticmethod
    def load(
        directory: Path | None = None, search: Search = "beam", beam_width: int = 64
    ) -> DeepPRPolicy:
        net, card = load_network(directory or SHIPPED)
        return DeepPRPolicy(net, card, search, beam_width)

    def q_values(self, graph: GraphArrays, remaining: np.ndarray, step: np.ndarray) -> np.ndarray:
        """(B, n) Q-values of giving this step's units to each node; -inf where invalid."""
        feats, front = node_features(graph, remaining, step)
        with torch.no_grad():
            if isinstance(self.net, PaperQNet):
                if graph.n != self.net.n:
                    raise ValueError(f"this paper-variant network is for {self.net.n} nodes")
                functional = feats[..., 0] > 0
                q = self.net(torch.from_numpy(paper_state(graph, remaining, functional)))
                q = q.numpy().reshape(len(remaining), graph.n, graph.n)
                q = np.where(pair_mask(graph, functional, front).reshape(q.shape), q, -np.inf)
                q = q.max(axis=2)
            else:
                q = self.net(torch.from_numpy(feats), torch.from_numpy(front)).numpy()
        return np.where(front, q, -np.inf)

    def order(self, instance: RecoveryInstance) -> list[int]:
        graph = GraphArrays.of(instance)
        greedy = self.greedy_order(instance, graph)
        if self.search == "greedy" or isinstance(self.net, PaperQNet):
            return greedy
        beam = self.beam_orders(instance, graph)
        candidates = [greedy, *beam]
        return max(candidates, key=lambda o: total_utility(instance, o))

    def greedy_order(self, instance: RecoveryInstance, graph: GraphArrays) -> list[int]:
        """Step by step, C units to the argmax-Q valid node; the order nodes complete in."""
        remaining = graph.demand.copy()
        order: list[int] = []
        for step in range(graph.horizon):
            units = graph.capacity
            while units > 0:
                q = self.q_values(graph, remaining[None], np.array([step]))[0]
                if not np.isfinite(q).any():
                    return order
                node = int(np.argmax(q))
                used = min(units, int(remaining[node]))
                remaining[node] -= used
                units -= used
                if remaining[node] == 0:
                    order.append(node)
        return order

    def beam_orders(self, instance: RecoveryInstance, graph: GraphArrays) -> list[list[int]]:
        """Complete orders left in the final beam (see the module docstring)."""
        norm = max(float(graph.utility.sum()) * graph.horizon, 1e-9)
        working = instance.functional(graph.demand.tolist())
        start = _Entry(0.0, (), graph.demand.copy(), 0, sum(instance.utility[v] for v in working))
        beam, finished = [start], []
        while beam:
            children = [c for entry in beam for c in _expand(instance, graph, entry)]
            if not children:
                finished = beam
                break
            steps = np.array([_done_at(c.poured, graph.capacity) for c in children])
            q = self.q_values(graph, np.stack([c.remaining for c in children]), steps)
            values = np.where(np.isfinite(q).any(axis=1), q.max(axis=1, initial=-np.inf), 0.0)
            scores = [c.earned / norm + float(v) for c, v in zip(children, values, strict=True)]
            beam = _best_distinct(children, scores, self.beam_width)
            finished = [c for c in beam if not (c.remaining > 0).any()] or finished
            beam = [c for c in beam if (c.remaining > 0).any()]
        return [list(entry.order) for entry in finished]


def _done_at(poured: int, capacity: int) -> int:
    return math.ceil(poured / capacity)


def _expand(instance: RecoveryInstance, graph: GraphArrays, entry: _Entry) -> list[_Entry]:
    """Every order one frontier node longer, with its exact earned utility."""
    functional = instance.functional(entry.remaining.tolist())
    out: list[_Entry] = []
    before = _done_at(entry.poured, graph.capacity)
    for v in instance.frontier(functional):
        remaining = entry.remaining.copy()
        poured = entry.poured + int(remaining[v])
        remaining[v] = 0
        level = float(sum(instance.utility[w] for w in instance.functional(remaining.tolist())))
        after = _done_at(poured, graph.capacity)
        earned = entry.earned + entry.level * (after - before) + (level - entry.level)
        out.append(_Entry(earned, (*entry.order, v), remaining, poured, level))
    return out


def _best_distinct(children: list[_Entry], scores: list[float], width: int) -> list[_Entry]:
    """The ``width`` best children, one per set of repaired nodes."""
    ranked = sorted(range(len(children)), key=lambda i: -scores[i])
    seen: set[frozenset[int]] = set()
    kept: list[_Entry] = []
    for i in ranked:
        key = frozenset(children[i].order)
        if key in seen:
            continue
        seen.add(key)
        kept.append(children[i])
        if len(kept) == width:
            break
    return kept
