"""The coordination policy's card (``card.json``): its schema, its consistency, and the
tensors it implies; all without torch.

A card says which network the policy was trained for (node ordering, capacities, ingress
nodes, links and a fingerprint of all of them), the observation and action layout, the
actor's shape and the schedule threshold, the schedule semantics it was trained for
(``schedule``: ``random``, a weighted random choice per flow as a switch's hashing SELECT
group makes, or ``round-robin``, coord-sim's; absent in older cards), plus what the
training recorded (scenario, input hashes, steps, timings, metrics). Unknown keys and wrong
types are refused, in every section; sizes must agree with one another and the actor must
stay under ``MAX_PARAMETERS``, so that nothing is allocated for a card that asks for more.

``PolicyCard`` is the one type of a card: training builds it, ``save_card`` (or
``PolicyCard.save``) writes it and ``load_card`` (or ``PolicyCard.load``) reads it back.
A saved card holds the keys that were set, so a card read and saved again is the same JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.model.network import Network
from agent.model.yamlfile import YamlDocument
from agent.policies.base import PolicyContext
from agent.policies.errors import PolicyMismatchError
from agent.policies.jsoncard import card_error, read_card, validate
from agent.policies.tensorfile import Shape, check_tensors, linear_shapes, parameter_count

if TYPE_CHECKING:  # numpy comes with the layout: not needed to read or check a card
    from agent.model.deepcoord import CoordinationLayout

CARD_FORMAT = "sdn-agent/coordination-policy"
CARD_VERSION = 1
WEIGHTS_FILE = "actor.safetensors"
CARD_FILE = "card.json"
MAX_PARAMETERS = 20_000_000  # 80 MB of float32; the shipped actors have about 25,000

Pair = Annotated[list[str], Field(min_length=2, max_length=2)]
Size = Annotated[int, Field(ge=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NetworkSection(_Section):
    name: str = ""
    nodes: list[str] = Field(min_length=1)
    caps: list[float]
    ingress: list[str]
    links: list[Pair]
    fingerprint: str


class LayoutSection(_Section):
    observation: list[Literal["ingress_traffic", "node_load"]] = Field(min_length=1)
    obs_size: Size
    observe_load: bool
    rate_unit_ms: float = Field(gt=0)
    rows: list[Pair] = Field(min_length=1)
    action_shape: list[Size] = Field(min_length=3, max_length=3)
    action_order: str = ""


class ActorSection(_Section):
    hidden: list[Size]
    activation: Literal["relu", "tanh", "elu"]


class ScenarioSection(_Section):
    name: str
    inputs: dict[str, str] = {}


class TrainingSection(_Section):
    """What the training recorded; every key is optional (older cards have fewer)."""

    seed: int | None = None
    objective: str | None = None
    steps: int | None = Field(default=None, ge=0)
    wall_s: float | None = None  # the reinforcement-learning loop
    total_wall_s: float | None = None  # the whole run
    phase_s: dict[str, float] = {}  # wall seconds per phase (search, prune, imitate, train)
    steps_per_s: float | None = None
    torch_threads: int | None = Field(default=None, ge=1)  # the learner's (steps_per_s)
    warm_start_teacher_success: float | None = None
    metrics: dict[str, float] = {}  # e.g. eval_success_ratio


class PolicyCard(_Section):
    format: Literal["sdn-agent/coordination-policy"]
    version: Literal[1]
    name: str = "coordination"
    algorithm: str = ""
    network: NetworkSection
    layout: LayoutSection
    actor: ActorSection
    threshold: float = Field(ge=0.0, lt=1.0)
    schedule: Literal["random", "round-robin"] | None = None  # the semantics trained for
    scenario: ScenarioSection | None = None
    training: TrainingSection = TrainingSection()

    @classmethod
    def load(cls, path: Path) -> PolicyCard:
        """See ``load_card``."""
        return load_card(path)

    def save(self, path: Path) -> None:
        """See ``save_card``."""
        save_card(self, path)

    def to_json(self) -> str:
        """The card as ``card.json`` holds it: the keys that were set, indented."""
        return json.dumps(self.model_dump(mode="json", exclude_unset=True), indent=2) + "\n"


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


def card_facts(card: PolicyCard) -> dict[str, Any]:
    net = card.network
    return {"nodes": net.nodes, "caps": net.caps, "ingress": net.ingress, "links": net.links}


def layout_of_card(card: PolicyCard) -> CoordinationLayout:
    """The observation and action layout a checked card describes."""
    from agent.model.deepcoord import CoordinationLayout

    layout, network = card.layout, card.network
    return CoordinationLayout(
        tuple(network.nodes),
        tuple((c, s) for c, s in layout.rows),
        tuple(network.caps),
        tuple(network.ingress),
        layout.observe_load,
        layout.rate_unit_ms,
    )


def actor_sizes(card: PolicyCard) -> list[int]:
    """Layer widths of the actor: observation, hidden layers, N * R * N weights."""
    n, rows = len(card.network.nodes), len(card.layout.rows)
    return [card.layout.obs_size, *card.actor.hidden, n * rows * n]


def expected_tensors(card: PolicyCard) -> dict[str, Shape]:
    """Name -> shape of every tensor of the actor the card describes (``Actor.body``)."""
    return linear_shapes("body", actor_sizes(card))


def save_card(card: PolicyCard, path: Path) -> None:
    """Write ``card`` to ``path`` (``card.json``) in the format ``load_card`` reads."""
    path.write_text(card.to_json(), encoding="utf-8")


def load_card(path: Path) -> PolicyCard:
    """The card at ``path``, validated and checked for consistency; PolicyFileError naming
    the file, the key path and, where it can, the line."""
    doc = read_card(path)
    fmt = doc.data.get("format")
    if fmt != CARD_FORMAT:
        if fmt is None:
            problem = f"required key is missing (a coordination policy's card: {CARD_FORMAT!r})"
        elif fmt == "deeppr-recovery/1":
            problem = f"{fmt!r}: a DeepPR recovery policy, not a coordination policy"
        else:
            problem = f"{fmt!r}, a coordination policy's card has {CARD_FORMAT!r}"
        raise card_error(doc, ["format"], problem)
    if doc.data.get("version") != CARD_VERSION:
        problem = f"version {doc.data.get('version')!r}, this agent reads version {CARD_VERSION}"
        raise card_error(doc, ["version"], problem)
    card = validate(doc, PolicyCard)
    check_consistent(doc, card)
    return card


def check_consistent(doc: YamlDocument, card: PolicyCard) -> None:
    """Sizes that must agree with one another, and the bound on the actor's size."""
    net, layout = card.network, card.layout
    n = len(net.nodes)
    known = set(net.nodes)
    if len(known) != n:
        raise card_error(doc, ["network", "nodes"], "node names repeat")
    if len(net.caps) != n:
        raise card_error(doc, ["network", "caps"], f"{len(net.caps)} capacities for {n} nodes")
    for key, names in (
        ("ingress", net.ingress),
        ("links", [v for pair in net.links for v in pair]),
    ):
        unknown = sorted(set(names) - known)
        if unknown:
            raise card_error(doc, ["network", key], f"unknown node(s) {', '.join(unknown)}")
    if net.fingerprint != fingerprint(card_facts(card)):
        problem = "does not match the card's nodes, caps, ingress and links (edited card?)"
        raise card_error(doc, ["network", "fingerprint"], problem)
    if layout.observe_load != ("node_load" in layout.observation):
        raise card_error(doc, ["layout", "observe_load"], "disagrees with layout.observation")
    obs_size = 2 * n if layout.observe_load else n
    if layout.obs_size != obs_size:
        problem = f"is {layout.obs_size}, the layout of {n} nodes needs {obs_size}"
        raise card_error(doc, ["layout", "obs_size"], problem)
    action = [n, len(layout.rows), n]
    if layout.action_shape != action:
        problem = f"is {layout.action_shape}, nodes x rows x nodes is {action}"
        raise card_error(doc, ["layout", "action_shape"], problem)
    count = parameter_count(expected_tensors(card))
    if count > MAX_PARAMETERS:
        problem = f"the actor would have {count:,} parameters (at most {MAX_PARAMETERS:,})"
        raise card_error(doc, ["actor", "hidden"], problem)


def policy_files(directory: Path) -> tuple[Path, Path]:
    return directory / CARD_FILE, directory / WEIGHTS_FILE


def check_policy_files(directory: Path) -> tuple[dict[str, Any], PolicyCard]:
    """Card and weights header of the policy in ``directory``, checked against each other
    without reading a tensor: the card as JSON data (``card.model_dump``) and as the card."""
    card_path, weights_path = policy_files(directory)
    card = load_card(card_path)
    check_tensors(weights_path, expected_tensors(card))
    return card.model_dump(mode="json", exclude_unset=True), card


def check_compatible(card: PolicyCard | Mapping[str, Any], context: PolicyContext) -> None:
    """PolicyMismatchError unless the policy was trained for this network and service.
    (A card's JSON data is accepted too, and validated first.)"""
    if not isinstance(card, PolicyCard):
        card = PolicyCard.model_validate(card)
    facts = network_facts(context.network)
    trained = card.network
    if fingerprint(facts) == trained.fingerprint:
        rows = [[c, s] for c, sfs in context.services.chains.items() for s in dict.fromkeys(sfs)]
        if rows != card.layout.rows:
            raise PolicyMismatchError(
                f"policy {card.name!r} was trained for chains/SFs {card.layout.rows}"
                f", this service has {rows}"
            )
        return
    differs = [key for key in facts if facts[key] != card_facts(card)[key]]
    raise PolicyMismatchError(
        f"policy {card.name!r} was trained for network {trained.name!r} and "
        f"cannot run on this one: {', '.join(differs)} differ(s) "
        f"(trained nodes {trained.nodes}, caps {trained.caps}, ingress "
        f"{trained.ingress}; this network: nodes {facts['nodes']}, caps {facts['caps']}, "
        f"ingress {facts['ingress']})"
    )


def describe(card: PolicyCard) -> str:
    """One line: what the policy is and what it was trained for."""
    net = card.network
    return (
        f"coordination policy {card.name!r} ({card.algorithm or 'unknown algorithm'}) for "
        f"network {net.name!r} ({len(net.nodes)} nodes, ingress {', '.join(net.ingress)}), "
        f"{len(card.layout.rows)} chain/SF rows, actor hidden layers {card.actor.hidden}"
    )
