"""The learned coordination policy: an actor network loaded from safetensors + a JSON card.

A policy directory holds ``actor.safetensors`` (the weights) and ``card.json``: format and
version, the network it was trained for (name, node ordering, capacities, ingress nodes, links
and a fingerprint of all of them), the observation and action layout, the actor's shape, the
schedule threshold, scenario and input hashes, training steps and metrics. Loading needs no
training code and no pickle; a network whose fingerprint differs from the card's is refused
with ``PolicyMismatchError`` naming what differs.

``predict`` does what DeepCoord's agent does: observation -> actor -> weights per (node, chain,
SF) over destination nodes, weights under the threshold zeroed and the rest renormalised;
placement follows from the schedule.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from safetensors.torch import load_file

from agent.model import deepcoord as encoding
from agent.model.deepcoord import postprocess as postprocess
from agent.model.network import Network
from agent.model.types import Decision, Observation
from agent.policies.base import PolicyContext
from agent.policies.coordination.network import Actor

CARD_FORMAT = "sdn-agent/coordination-policy"
CARD_VERSION = 1
WEIGHTS_FILE = "actor.safetensors"
CARD_FILE = "card.json"
SHIPPED = Path(__file__).resolve().parents[3] / "topologies" / "policies" / "coordination"


class PolicyFileError(ValueError):
    """A policy file that is missing, unreadable or of an unknown format."""


class PolicyMismatchError(ValueError):
    """A policy asked to run on a topology or service it was not trained for."""


def network_facts(network: Network) -> dict[str, Any]:
    """What a policy's layout depends on: node ordering, capacities, ingress, links."""
    return {
        "nodes": list(network.node_ids),
        "caps": [float(n.cap) for n in network.nodes],
        "ingress": list(network.ingress),
        "links": sorted(sorted([link.a, link.b]) for link in network.links),
    }


def fingerprint(facts: dict[str, Any]) -> str:
    text = json.dumps(facts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Layout:
    nodes: tuple[str, ...]
    rows: tuple[tuple[str, str], ...]
    observe_load: bool
    rate_unit_ms: float
    threshold: float

    @staticmethod
    def of_card(card: dict[str, Any]) -> Layout:
        layout = card["layout"]
        return Layout(
            tuple(card["network"]["nodes"]),
            tuple((str(c), str(s)) for c, s in layout["rows"]),
            bool(layout["observe_load"]),
            float(layout["rate_unit_ms"]),
            float(card["threshold"]),
        )


class CoordinationPolicy:
    """A trained DeepCoord-style actor behind ``predict(observation) -> Decision``."""

    def __init__(self, actor: Actor, card: dict[str, Any], context: PolicyContext | None) -> None:
        self.actor = actor.eval()
        self.card = card
        self.layout = Layout.of_card(card)
        self.name = str(card.get("name", "coordination"))
        if context is not None:
            check_compatible(card, context)

    def weights(self, observation: Observation) -> npt.NDArray[np.float64]:
        """Post-processed (N, R, N) schedule weights for ``observation``."""
        obs = torch.from_numpy(observation_vector(self.layout, observation))[None]
        with torch.no_grad():
            raw = self.actor(obs)[0].double().numpy()
        n, r = len(self.layout.nodes), len(self.layout.rows)
        return postprocess(raw.reshape(n, r, n), self.layout.threshold)

    def predict(self, observation: Observation) -> Decision:
        return to_decision(self.layout, self.weights(observation), self.name)


def check_compatible(card: dict[str, Any], context: PolicyContext) -> None:
    facts = network_facts(context.network)
    trained = card["network"]
    if fingerprint(facts) == trained["fingerprint"]:
        rows = [[c, s] for c, sfs in context.services.chains.items() for s in dict.fromkeys(sfs)]
        if rows != card["layout"]["rows"]:
            raise PolicyMismatchError(
                f"policy {card.get('name')!r} was trained for chains/SFs {card['layout']['rows']}"
                f", this service has {rows}"
            )
        return
    differs = [key for key in facts if facts[key] != trained.get(key)]
    raise PolicyMismatchError(
        f"policy {card.get('name')!r} was trained for network {trained.get('name')!r} and "
        f"cannot run on this one: {', '.join(differs)} differ(s) "
        f"(trained nodes {trained.get('nodes')}, caps {trained.get('caps')}, ingress "
        f"{trained.get('ingress')}; this network: nodes {facts['nodes']}, caps {facts['caps']}, "
        f"ingress {facts['ingress']})"
    )


def load_policy(path: str | Path, context: PolicyContext | None = None) -> CoordinationPolicy:
    """Load a policy directory (or its ``actor.safetensors`` / ``card.json``)."""
    directory = Path(path)
    if directory.is_file():
        directory = directory.parent
    card_path, weights_path = directory / CARD_FILE, directory / WEIGHTS_FILE
    if not card_path.is_file() or not weights_path.is_file():
        raise PolicyFileError(f"{directory}: expected {CARD_FILE} and {WEIGHTS_FILE} there")
    try:
        card = json.loads(card_path.read_text())
    except json.JSONDecodeError as exc:
        raise PolicyFileError(f"{card_path}:{exc.lineno}: not JSON: {exc.msg}") from None
    if card.get("format") != CARD_FORMAT or card.get("version") != CARD_VERSION:
        raise PolicyFileError(f"{card_path}: not a {CARD_FORMAT} v{CARD_VERSION} card")
    actor = build_actor(card)
    actor.load_state_dict(load_file(str(weights_path)))
    return CoordinationPolicy(actor, card, context)


def build_actor(card: dict[str, Any]) -> Actor:
    spec, layout = card["actor"], card["layout"]
    n = len(card["network"]["nodes"])
    return Actor(layout["obs_size"], n, len(layout["rows"]), spec["hidden"], spec["activation"])


def shipped_names(root: Path = SHIPPED) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / CARD_FILE).is_file())


def load_named(
    name: str, context: PolicyContext | None = None, root: Path = SHIPPED
) -> CoordinationPolicy:
    """A shipped policy by name (the stem of its network file), or a policy path."""
    if (root / name / CARD_FILE).is_file():
        return load_policy(root / name, context)
    if Path(name).exists():
        return load_policy(name, context)
    known = ", ".join(shipped_names(root)) or "none"
    raise PolicyFileError(f"no coordination policy named {name!r} (shipped: {known})")


def observation_vector(layout: Layout, observation: Observation) -> npt.NDArray[np.float32]:
    """Ingress rate per node (one flow per ``rate_unit_ms`` reads 1), then load / capacity."""
    return encoding.observation_vector(
        layout.nodes, layout.observe_load, layout.rate_unit_ms, observation
    )


def to_decision(layout: Layout, weights: npt.NDArray[np.float64], policy: str) -> Decision:
    return encoding.weights_to_decision(layout.nodes, layout.rows, weights, policy)
