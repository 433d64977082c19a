"""The learned coordination policy: an actor network loaded from safetensors + a JSON card.

A policy directory holds ``actor.safetensors`` (the weights) and ``card.json`` (see
``card``). Loading needs no training code and no pickle: the card is validated, the weights
file's header is checked against the shapes the card implies, and only then are tensors
read; a network whose fingerprint differs from the card's is refused with
``PolicyMismatchError`` naming what differs.

``predict`` does what DeepCoord's agent does: observation -> actor -> weights per (node, chain,
SF) over destination nodes, weights under the threshold zeroed and the rest renormalised;
placement follows from the schedule.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from agent.model.deepcoord import CoordinationLayout
from agent.model.deepcoord import postprocess as postprocess
from agent.model.types import Decision, Observation, placement_from_schedule
from agent.policies.base import PolicyContext
from agent.policies.coordination.card import (
    CARD_FILE,
    CARD_FORMAT,
    CARD_VERSION,
    WEIGHTS_FILE,
    PolicyCard,
    check_compatible,
    check_policy_files,
    fingerprint,
    layout_of_card,
    network_facts,
    save_card,
)
from agent.policies.coordination.locate import SHIPPED, find_policy, policy_directory, shipped_names
from agent.policies.coordination.network import Actor, ActorArrays
from agent.policies.errors import PolicyFileError, PolicyMismatchError
from agent.policies.tensorfile import match_mode

__all__ = [
    "CARD_FILE",
    "CARD_FORMAT",
    "CARD_VERSION",
    "SHIPPED",
    "WEIGHTS_FILE",
    "CoordinationLayout",
    "CoordinationPolicy",
    "PolicyFileError",
    "PolicyMismatchError",
    "fingerprint",
    "load_named",
    "load_policy",
    "network_facts",
    "postprocess",
    "save_policy",
    "shipped_names",
]


class CoordinationPolicy:
    """A trained DeepCoord-style actor behind ``predict(observation) -> Decision``."""

    def __init__(self, actor: Actor, card: PolicyCard, context: PolicyContext | None) -> None:
        self.actor = actor.eval()
        self.card = card
        self.layout = layout_of_card(card)
        self.threshold = card.threshold
        self.name = card.name
        # inference runs the actor's arrays in numpy (a snapshot of ``actor``), into one
        # observation buffer
        self.arrays = ActorArrays.of(self.actor, card.actor.activation)
        self._obs = np.zeros(self.layout.obs_size, dtype=np.float32)
        self._decisions = RowDecisions(self.layout, self.name)
        if context is not None:
            check_compatible(card, context)

    def weights(self, observation: Observation) -> npt.NDArray[np.float64]:
        """Post-processed (N, R, N) schedule weights for ``observation``."""
        raw = self.arrays.forward(self.layout.observe(observation, out=self._obs))
        n, r = len(self.layout.nodes), len(self.layout.rows)
        return postprocess(raw.reshape(n, r, n), self.threshold)

    def predict(self, observation: Observation) -> Decision:
        return self._decisions.decision(self.weights(observation))


class RowDecisions:
    """``layout.decision(weights, name)`` for successive weights, rebuilding only the
    (node, row) schedule entries whose weights changed since the last call: a trained
    actor moves a few rows per step (one of 33 for the shipped Abilene policies). The
    same weights give the same Decision object back. Equal to ``layout.decision``
    (a test holds them so); the rows it shares between decisions are never changed."""

    def __init__(self, layout: CoordinationLayout, name: str) -> None:
        self.layout = layout
        self.name = name
        self.last: tuple[npt.NDArray[np.float64], Decision, list[Mapping[str, float]]] | None = None

    def decision(self, weights: npt.NDArray[np.float64]) -> Decision:
        nodes, rows = self.layout.nodes, self.layout.rows
        if self.last is None or self.last[0].shape != weights.shape:
            decision = self.layout.decision(weights, self.name)
            cells = [decision.schedule[node][chain][sf] for node in nodes for chain, sf in rows]
            self.last = (weights.copy(), decision, cells)
            return decision
        previous, last_decision, cells = self.last
        changed = np.flatnonzero(np.any(weights != previous, axis=-1))
        if not changed.size:
            return last_decision
        cells = list(cells)
        for cell in changed.tolist():
            row = weights.reshape(-1, len(nodes))[cell]
            cells[cell] = {nodes[j]: float(row[j]) for j in np.flatnonzero(row > 0).tolist()}
        schedule: dict[str, dict[str, dict[str, Mapping[str, float]]]] = {}
        for i, node in enumerate(nodes):
            per_chain: dict[str, dict[str, Mapping[str, float]]] = {}
            for r, (chain, sf) in enumerate(rows):
                per_chain.setdefault(chain, {})[sf] = cells[i * len(rows) + r]
            schedule[node] = per_chain
        decision = Decision(placement_from_schedule(schedule), schedule, self.name)
        self.last = (weights.copy(), decision, cells)
        return decision


def load_policy(path: str | Path, context: PolicyContext | None = None) -> CoordinationPolicy:
    """Load a policy directory (or its ``actor.safetensors`` / ``card.json``, or a training
    run directory: its ``best/``). Card and weights header are checked before any tensor is
    allocated; given a context, so is the network the policy was trained for."""
    directory = policy_directory(path)
    _, card = check_policy_files(directory)
    if context is not None:
        check_compatible(card, context)
    actor = build_actor(card)
    weights = directory / WEIGHTS_FILE
    try:
        actor.load_state_dict(load_file(str(weights)))
    except (SafetensorError, OSError, RuntimeError) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PolicyFileError(weights, "", f"cannot load the weights: {problem}") from None
    return CoordinationPolicy(actor, card, None)  # checked above


def build_actor(card: PolicyCard) -> Actor:
    n = len(card.network.nodes)
    return Actor(
        card.layout.obs_size, n, len(card.layout.rows), card.actor.hidden, card.actor.activation
    )


def load_named(
    name: str, context: PolicyContext | None = None, root: Path = SHIPPED
) -> CoordinationPolicy:
    """A shipped policy by name (the stem of its network file), or a policy path."""
    return load_policy(find_policy(name, root), context)


def save_policy(directory: Path, actor: Actor, card: PolicyCard) -> None:
    """Write ``card.json`` and ``actor.safetensors`` into ``directory``; the weights get the
    card's permissions (the safetensors writer would make them private)."""
    directory.mkdir(parents=True, exist_ok=True)
    card_path, weights = directory / CARD_FILE, directory / WEIGHTS_FILE
    save_card(card, card_path)
    state = {k: v.detach().cpu().contiguous() for k, v in actor.state_dict().items()}
    save_file(state, str(weights))
    match_mode(weights, card_path)
