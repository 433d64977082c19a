"""The learned coordination policy: an actor network loaded from safetensors + a JSON card.

A policy directory holds ``actor.safetensors`` (the weights) and ``card.json`` (see
``card``). Loading needs no training code and no pickle: the card is validated, the weights
file's header is checked against the shapes the card implies, and only then are tensors
read; a network whose fingerprint differs from the card's is refused with
``PolicyMismatchError`` naming what differs.

Loading and inference do not import torch: the weights are read as numpy arrays into the
actor's numpy form (``ActorArrays``); the torch ``Actor`` is built from them only when
asked for (``CoordinationPolicy.actor``: export, comparisons). Saving takes a torch actor.

``predict`` does what DeepCoord's agent does: observation -> actor -> weights per (node, chain,
SF) over destination nodes, weights under the threshold zeroed and the rest renormalised;
placement follows from the schedule.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from safetensors import SafetensorError
from safetensors.numpy import load_file

from agent.model.deepcoord import CoordinationLayout
from agent.model.deepcoord import postprocess as postprocess
from agent.model.types import Decision, Observation
from agent.policies.base import PolicyContext
from agent.policies.coordination.arrays import ActorArrays
from agent.policies.coordination.card import (
    CARD_FILE,
    CARD_FORMAT,
    CARD_VERSION,
    WEIGHTS_FILE,
    PolicyCard,
    check_compatible,
    check_policy_files,
    expected_tensors,
    fingerprint,
    layout_of_card,
    network_facts,
    save_card,
)
from agent.policies.coordination.decisions import RowDecisions, postprocess_rows
from agent.policies.coordination.locate import SHIPPED, find_policy, policy_directory, shipped_names
from agent.policies.errors import PolicyFileError, PolicyMismatchError
from agent.policies.tensorfile import match_mode

if TYPE_CHECKING:
    from agent.policies.coordination.network import Actor

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
    "RowDecisions",
    "fingerprint",
    "load_named",
    "load_policy",
    "network_facts",
    "postprocess",
    "save_policy",
    "shipped_names",
]


class CoordinationPolicy:
    """A trained DeepCoord-style actor behind ``predict(observation) -> Decision``:
    the actor's numpy form (``arrays``), the torch module only if ``actor`` is read."""

    def __init__(
        self, arrays: ActorArrays, card: PolicyCard, context: PolicyContext | None
    ) -> None:
        self.arrays = arrays
        self.card = card
        self.layout = layout_of_card(card)
        self.threshold = card.threshold
        self.name = card.name
        self._actor: Actor | None = None
        # inference runs the actor's arrays in numpy, into one observation buffer
        self._obs = np.zeros(self.layout.obs_size, dtype=np.float32)
        self._decisions = RowDecisions(self.layout, self.name)
        if context is not None:
            check_compatible(card, context)

    @property
    def actor(self) -> Actor:
        """The torch actor with the policy's weights (built on first use; imports torch)."""
        if self._actor is None:
            from agent.policies.coordination.network import actor_of

            self._actor = actor_of(self.arrays)
        return self._actor

    def weights(self, observation: Observation) -> npt.NDArray[np.float64]:
        """Post-processed (N, R, N) schedule weights for ``observation``."""
        raw = self.arrays.forward(self.layout.observe(observation, out=self._obs))
        n, r = len(self.layout.nodes), len(self.layout.rows)
        return postprocess_rows(raw.reshape(n, r, n), self.threshold)

    def predict(self, observation: Observation) -> Decision:
        return self._decisions.decision(self.weights(observation))


def load_policy(path: str | Path, context: PolicyContext | None = None) -> CoordinationPolicy:
    """Load a policy directory (or its ``actor.safetensors`` / ``card.json``, or a training
    run directory: its ``best/``). Card and weights header are checked before any tensor is
    allocated; given a context, so is the network the policy was trained for."""
    directory = policy_directory(path)
    _, card = check_policy_files(directory)
    if context is not None:
        check_compatible(card, context)
    weights = directory / WEIGHTS_FILE
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PolicyFileError(weights, "", f"cannot load the weights: {problem}") from None
    names = list(expected_tensors(card))  # the header holds exactly these (checked above)
    arrays = ActorArrays.from_tensors(
        tensors, names, len(card.network.nodes), card.actor.activation
    )
    return CoordinationPolicy(arrays, card, None)  # checked above


def build_actor(card: PolicyCard) -> Actor:
    """A fresh torch actor of the card's shape (imports torch)."""
    from agent.policies.coordination.network import Actor

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
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    card_path, weights = directory / CARD_FILE, directory / WEIGHTS_FILE
    save_card(card, card_path)
    state = {k: v.detach().cpu().contiguous() for k, v in actor.state_dict().items()}
    save_file(state, str(weights))
    match_mode(weights, card_path)
