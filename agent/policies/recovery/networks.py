"""The Q-networks of DeepPR, and their file format (safetensors weights + a JSON card).

- ``NodeQNet`` (ours): one small network shared by all nodes, so it works on graphs of any
  size. Each node's features are embedded; the embeddings of the frontier and of all nodes
  are averaged into a context; a dueling head gives Q(s, v) = V(context) + A(v, context) minus
  the mean advantage over the frontier. Q(s, v) is the value of giving this step's units to v.
- ``PaperQNet`` (the paper's): a fully connected network for one graph size n, two hidden
  layers of 200, from the state vector (functional flags and remaining demands) to one
  Q-value per ordered pair of nodes (first * n + second).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from agent.policies.errors import PolicyFileError
from agent.policies.recovery.card import (
    CARD,
    WEIGHTS,
    DeepPRCard,
    check_policy_files,
    make_card,
    save_card,
)
from agent.policies.recovery.features import NODE_FEATURES
from agent.policies.tensorfile import match_mode

__all__ = ["CARD", "WEIGHTS", "NodeQNet", "PaperQNet", "load_network", "save_network"]


class NodeQNet(nn.Module):
    """Size-independent dueling Q-network over graph-aware node features.

    Only valid actions (frontier nodes) are ever scored, so only their rows are computed:
    the embeddings of the frontier are averaged into a context (the features already carry
    the global quantities), V comes from the context, A from each node with the context."""

    def __init__(self, features: int = NODE_FEATURES, hidden: int = 64) -> None:
        super().__init__()
        self.features, self.hidden = features, hidden
        self.embed = nn.Sequential(
            nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.node_in = nn.Linear(hidden, hidden)
        self.context_in = nn.Linear(hidden, hidden)
        self.advantage = nn.Linear(hidden, 1)
        self.value = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (B, n, F) node features, mask: (B, n) valid actions. Returns (B, n) Q-values,
        0 where the mask is False."""
        batch = mask.nonzero()[:, 0]
        h = self.embed(x[mask])
        counts = mask.sum(1).clamp(min=1).to(h.dtype)
        front = torch.zeros(mask.shape[0], self.hidden, dtype=h.dtype).index_add_(0, batch, h)
        front = front / counts[:, None]
        joint = torch.relu(self.node_in(h) + self.context_in(front)[batch])
        adv = self.advantage(joint).squeeze(-1)
        mean_adv = torch.zeros(mask.shape[0], dtype=h.dtype).index_add_(0, batch, adv) / counts
        value = self.value(front).squeeze(-1)
        out = torch.zeros(mask.shape, dtype=h.dtype)
        out[mask] = value[batch] + adv - mean_adv[batch]
        return out

    def config(self) -> dict[str, Any]:
        return {"architecture": "node", "features": self.features, "hidden": self.hidden}


class PaperQNet(nn.Module):
    """The paper's DQN for a graph of n nodes: 2n inputs, 200-200 hidden, n*n pair outputs."""

    def __init__(self, n: int, hidden: int = 200) -> None:
        super().__init__()
        self.n, self.hidden = n, hidden
        self.layers = nn.Sequential(
            nn.Linear(2 * n, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n * n),
        )

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.layers(state)
        return out

    def config(self) -> dict[str, Any]:
        return {"architecture": "paper", "n": self.n, "hidden": self.hidden}


def save_network(
    net: NodeQNet | PaperQNet, directory: Path, card: DeepPRCard | Mapping[str, Any]
) -> None:
    """Write ``card.json`` and ``model.safetensors``. ``card`` is the network's card, or
    what its training recorded (a ``DeepPRCard`` is made of it and the network's
    architecture; ValueError for an unknown or mistyped key, before anything is written).
    The weights get the card's permissions (the safetensors writer makes them private)."""
    if not isinstance(card, DeepPRCard):
        card = make_card(net.config(), card)
    structure = card.model_dump(include=set(net.config()))
    if structure != net.config():
        raise ValueError(f"DeepPR card: describes {structure}, the network is {net.config()}")
    directory.mkdir(parents=True, exist_ok=True)
    save_card(card, directory / CARD)
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, str(directory / WEIGHTS))
    match_mode(directory / WEIGHTS, directory / CARD)


def load_network(directory: Path) -> tuple[NodeQNet | PaperQNet, DeepPRCard]:
    """Read a network saved by ``save_network``; no code is loaded, only tensors and JSON.
    The card and the weights header are checked before any tensor is allocated
    (PolicyFileError, one line)."""
    card = check_policy_files(directory)
    net: NodeQNet | PaperQNet
    if card.architecture == "paper":
        net = PaperQNet(card.n or 0, card.hidden)
    else:
        net = NodeQNet(card.features or NODE_FEATURES, card.hidden)
    weights = directory / WEIGHTS
    try:
        net.load_state_dict(load_file(str(weights)))
    except (SafetensorError, OSError, RuntimeError) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PolicyFileError(weights, "", f"cannot load the weights: {problem}") from None
    net.eval()
    return net, card
