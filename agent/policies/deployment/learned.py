"""Learned deployment policies (inference only) and their file format.

Every learned policy builds a placement VNF by VNF, like the heuristics, over the servers
that can take the next VNF (``ChainPlan.options``); what differs is how it ranks them:

- ``maddpg`` (MADDPG-SD): one actor per chain position. From its local observation (its
  VNF's demands, the request's slack and size, the substrate's load) the actor of position
  i outputs a weight vector w_i in [-1, 1]^F and an admission value; the server whose
  features phi score highest, ``w_i . phi``, gets the VNF, and the first agent's admission
  value below zero rejects the request (``place_by_weights``); with ``admission_fill`` in
  the card, the value is added to the request's margin under the outlook's threshold rule
  (``agent.model.deployment_outlook``), so that it shifts the rule. The actors are evaluated
  together (``StackedMLP``). Trained with centralised critics
  (agent.train.deployment_maddpg).
- ``dqn``: one Q-network scores each candidate server from [request features, its
  features]; the highest Q wins.
- ``pg``: the same network read as logits of a softmax policy (greedy at evaluation).
- ``ddpg``: an actor maps the request features and the features of every server to one
  score per server (a continuous action in [-1, 1]^N); the highest feasible score wins.

All networks: two hidden layers of 128, ReLU. Files: ``card.json`` (architecture) and
``model.safetensors``; no code is loaded. Format 2 (this one) added the request's pressure
features and MADDPG-SD's admission value; format 1 files are refused with that reason.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from agent.model.deployment_decoding import (
    ACTION_SIZE,
    REQUEST_FEATURES,
    SERVER_FEATURES,
    joint_observation,
    option_matrix,
    place_by_weights,
    request_features,
)
from agent.model.deployment_state import (
    ChainPlan,
    Decision,
    Option,
    Rejection,
    Request,
    SubstrateState,
)
from agent.policies.deployment.heuristics import no_server_reason
from agent.policies.errors import PolicyFileError
from agent.policies.jsoncard import card_error, read_card, validate
from agent.policies.tensorfile import Shape, check_tensors, linear_shapes, match_mode

FORMAT = "sfc-deployment/2"
CARD, WEIGHTS = "card.json", "model.safetensors"
SHIPPED = Path(__file__).resolve().parents[3] / "topologies" / "policies" / "deployment"
Algorithm = Literal["maddpg", "dqn", "ddpg", "pg"]
HIDDEN = 128


def mlp(inputs: int, outputs: int, hidden: int = HIDDEN) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, outputs),
    )


class DeploymentCard(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    format: Literal["sfc-deployment/2"]
    algorithm: Algorithm
    hidden: int = Field(ge=1, le=4096)
    agents: int = Field(default=1, ge=1, le=20)  # maddpg: actors, one per chain position
    servers: int = Field(default=1, ge=1, le=1000)  # ddpg: the substrate it was trained on
    admission: bool = True  # maddpg: the first agent's admission value may reject
    backtrack: int = Field(default=0, ge=0, le=10_000)  # maddpg: servers retried on dead ends
    # maddpg: with a fill, the admission value shifts the outlook's threshold rule
    admission_fill: float | None = Field(default=None, gt=0.0, le=4.0)
    # maddpg: with a weight (ms per server-period), the decoding weighs the servers kept on
    # against latency over several whole placements (``place_by_weights``)
    energy_weight: float | None = Field(default=None, ge=0.0, le=1000.0)


class StackedMLP(nn.Module):
    """``count`` MLPs of the same shape (two hidden layers, ReLU) evaluated in one batched
    call: ``(count, batch, inputs) -> (count, batch, outputs)``."""

    def __init__(self, count: int, inputs: int, outputs: int, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.w0, self.b0 = _stacked_layer(count, inputs, hidden)
        self.w1, self.b1 = _stacked_layer(count, hidden, hidden)
        self.w2, self.b2 = _stacked_layer(count, hidden, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(torch.baddbmm(self.b0, x, self.w0))
        h = torch.relu(torch.baddbmm(self.b1, h, self.w1))
        return torch.baddbmm(self.b2, h, self.w2)


def _stacked_layer(count: int, inputs: int, outputs: int) -> tuple[nn.Parameter, nn.Parameter]:
    """Weights and biases initialised as ``nn.Linear`` does, ``count`` times."""
    bound = 1.0 / math.sqrt(inputs)
    weight = nn.Parameter(torch.empty(count, inputs, outputs).uniform_(-bound, bound))
    bias = nn.Parameter(torch.empty(count, 1, outputs).uniform_(-bound, bound))
    return weight, bias


def stacked_shapes(prefix: str, count: int, sizes: list[int]) -> dict[str, Shape]:
    shapes: dict[str, Shape] = {}
    for k, (a, b) in enumerate(itertools.pairwise(sizes)):
        shapes[f"{prefix}.w{k}"] = (count, a, b)
        shapes[f"{prefix}.b{k}"] = (count, 1, b)
    return shapes


class ScoreNet(nn.Module):
    """What each algorithm keeps at inference: actors (maddpg), a per-server scorer (dqn,
    pg) or a whole-substrate actor (ddpg)."""

    def __init__(self, card: DeploymentCard) -> None:
        super().__init__()
        self.card = card
        h = card.hidden
        if card.algorithm == "maddpg":
            self.actors = StackedMLP(card.agents, REQUEST_FEATURES, ACTION_SIZE, h)
        elif card.algorithm == "ddpg":
            size = REQUEST_FEATURES + card.servers * (SERVER_FEATURES + 1)
            self.actor = mlp(size, card.servers, h)
        else:
            self.scorer = mlp(REQUEST_FEATURES + SERVER_FEATURES, 1, h)

    def actions(self, obs: torch.Tensor) -> torch.Tensor:
        """maddpg: every agent's action from its observation, ``(agents, [batch,] F + 1)``."""
        if obs.dim() == 2:
            return self.actions(obs[:, None, :])[:, 0]
        return torch.tanh(self.actors(obs))

    def scores(self, obs: np.ndarray, features: np.ndarray) -> torch.Tensor:
        """dqn / pg: one score per candidate row."""
        rows = np.concatenate([np.repeat(obs[None], len(features), 0), features], 1)
        out: torch.Tensor = self.scorer(torch.from_numpy(rows)).squeeze(-1)
        return out


def expected_tensors(card: DeploymentCard) -> dict[str, Shape]:
    h = card.hidden
    if card.algorithm == "maddpg":
        return stacked_shapes("actors", card.agents, [REQUEST_FEATURES, h, h, ACTION_SIZE])
    if card.algorithm == "ddpg":
        size = REQUEST_FEATURES + card.servers * (SERVER_FEATURES + 1)
        return linear_shapes("actor", [size, h, h, card.servers])
    return linear_shapes("scorer", [REQUEST_FEATURES + SERVER_FEATURES, h, h, 1])


def ddpg_input(plan: ChainPlan, options: list[Option], features: np.ndarray) -> np.ndarray:
    """Request features, then per server: a feasibility flag and its features (0 if none)."""
    n = plan.state.substrate.n
    grid = np.zeros((n, SERVER_FEATURES + 1), dtype=np.float32)
    for option, row in zip(options, features, strict=True):
        grid[option.server, 0] = 1.0
        grid[option.server, 1:] = row
    return np.concatenate([request_features(plan), grid.reshape(-1)])


class LearnedPolicy:
    """A trained network used greedily; deterministic."""

    def __init__(self, net: ScoreNet, name: str | None = None) -> None:
        self.net = net.eval()
        self.name = name or net.card.algorithm

    @torch.no_grad()
    def place(self, request: Request, state: SubstrateState) -> Decision:
        card = self.net.card
        if card.algorithm == "maddpg":
            obs = torch.from_numpy(joint_observation(state, request, card.agents))
            actions = self.net.actions(obs).numpy()
            return place_by_weights(
                state,
                request,
                actions,
                card.admission,
                card.backtrack,
                card.admission_fill,
                card.energy_weight,
            )
        plan = ChainPlan(state, request)
        while not plan.done:
            options, features = option_matrix(plan)
            if not options:
                return Rejection(request.id, no_server_reason(plan))
            plan.take(options[self.pick(plan, options, features)])
        return plan.placement()

    def pick(self, plan: ChainPlan, options: list[Option], features: np.ndarray) -> int:
        if self.net.card.algorithm == "ddpg":
            x = torch.from_numpy(ddpg_input(plan, options, features))
            scores = torch.tanh(self.net.actor(x)).numpy()
            return int(np.argmax([scores[o.server] for o in options]))
        return int(torch.argmax(self.net.scores(request_features(plan), features)))


def save_policy(net: ScoreNet, directory: Path, extra: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    card = {**net.card.model_dump(), **extra, "format": FORMAT}
    (directory / CARD).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, str(directory / WEIGHTS))
    match_mode(directory / WEIGHTS, directory / CARD)


def load_card(path: Path) -> tuple[dict[str, Any], DeploymentCard]:
    doc = read_card(path)
    found = doc.data.get("format")
    if found == "sfc-deployment/1":
        problem = "'sfc-deployment/1': written before the pressure features and admission; retrain"
        raise card_error(doc, ["format"], problem)
    if found != FORMAT:
        raise card_error(doc, ["format"], f"{found!r}, not a {FORMAT} card (SFC deployment)")
    return doc.data, validate(doc, DeploymentCard)


def load_policy(directory: Path, servers: int | None = None) -> LearnedPolicy:
    """The policy in ``directory``; card and weights header checked before any tensor is
    read; a ddpg policy only runs on a substrate with the servers it was trained for."""
    raw, card = load_card(directory / CARD)
    check_tensors(directory / WEIGHTS, expected_tensors(card))
    if card.algorithm == "ddpg" and servers is not None and servers != card.servers:
        problem = f"trained for {card.servers} servers, the substrate has {servers}"
        raise PolicyFileError(directory / CARD, "servers", problem)
    net = ScoreNet(card)
    try:
        net.load_state_dict(load_file(str(directory / WEIGHTS)))
    except (SafetensorError, OSError, RuntimeError) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PolicyFileError(
            directory / WEIGHTS, "", f"cannot load the weights: {problem}"
        ) from None
    return LearnedPolicy(net, str(raw.get("name") or card.algorithm))
