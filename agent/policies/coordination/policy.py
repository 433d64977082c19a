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

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from agent.model.deepcoord import CoordinationLayout
from agent.model.deepcoord import postprocess as postprocess
from agent.model.types import Decision, Observation
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
)
from agent.policies.coordination.locate import SHIPPED, find_policy, policy_directory, shipped_names
from agent.policies.coordination.network import Actor
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

    def __init__(self, actor: Actor, card: dict[str, Any], context: PolicyContext | None) -> None:
        self.actor = actor.eval()
        self.card = card
        self.layout = layout_of_card(card)
        self.threshold = float(card["threshold"])
        self.name = str(card.get("name", "coordination"))
        if context is not None:
            check_compatible(card, context)

    def weights(self, observation: Observation) -> npt.NDArray[np.float64]:
        """Post-processed (N, R, N) schedule weights for ``observation``."""
        obs = torch.from_numpy(self.layout.observe(observation))[None]
        with torch.no_grad():
            raw = self.actor(obs)[0].double().numpy()
        n, r = len(self.layout.nodes), len(self.layout.rows)
        return postprocess(raw.reshape(n, r, n), self.threshold)

    def predict(self, observation: Observation) -> Decision:
        return self.layout.decision(self.weights(observation), self.name)


def load_policy(path: str | Path, context: PolicyContext | None = None) -> CoordinationPolicy:
    """Load a policy directory (or its ``actor.safetensors`` / ``card.json``, or a training
    run directory: its ``best/``). Card and weights header are checked before any tensor is
    allocated; given a context, so is the network the policy was trained for."""
    directory = policy_directory(path)
    raw, card = check_policy_files(directory)
    if context is not None:
        check_compatible(raw, context)
    actor = build_actor(card)
    weights = directory / WEIGHTS_FILE
    try:
        actor.load_state_dict(load_file(str(weights)))
    except (SafetensorError, OSError, RuntimeError) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PolicyFileError(weights, "", f"cannot load the weights: {problem}") from None
    return CoordinationPolicy(actor, raw, context)


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


def save_policy(directory: Path, actor: Actor, card: dict[str, Any]) -> None:
    """Write ``card.json`` and ``actor.safetensors`` into ``directory``; the weights get the
    card's permissions (the safetensors writer would make them private)."""
    directory.mkdir(parents=True, exist_ok=True)
    card_path, weights = directory / CARD_FILE, directory / WEIGHTS_FILE
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    state = {k: v.detach().cpu().contiguous() for k, v in actor.state_dict().items()}
    save_file(state, str(weights))
    match_mode(weights, card_path)
