"""The DeepPR policy's card (``card.json``) and the tensors it implies, without torch.

``DeepPRCard`` is the one type of a card: the network's structure (``format``,
``architecture``, ``features``, ``hidden``, ``n``) and what the training recorded (variant,
episodes, seed, timings, notes, evaluation figures), every key typed and unknown keys
refused. ``make_card`` builds one for a network, ``save_card`` writes it (keys sorted, the
keys that were set) and ``load_card`` reads it back. The network the card describes must
stay under ``MAX_PARAMETERS`` and its weights file must hold exactly its tensors before any
is read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.policies.jsoncard import card_error, read_card, validate
from agent.policies.recovery.features import NODE_FEATURES
from agent.policies.tensorfile import (
    Shape,
    check_tensors,
    linear,
    linear_shapes,
    parameter_count,
)

SHIPPED = Path(__file__).resolve().parents[3] / "topologies" / "policies" / "deeppr"
CARD = "card.json"
WEIGHTS = "model.safetensors"
FORMAT = "deeppr-recovery/1"
MAX_PARAMETERS = 20_000_000


Figures = dict[str, float | str]  # one evaluation case: metric -> value


class DeepPRCard(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    format: Literal["deeppr-recovery/1"]
    architecture: Literal["node", "paper"] = "node"
    features: int | None = Field(default=None, ge=1)
    hidden: int = Field(ge=1)
    n: int | None = Field(default=None, ge=1)
    # what the training recorded
    variant: Literal["node", "paper"] | None = None
    gamma: float | None = Field(default=None, ge=0.0, le=1.0)
    double_dqn: bool | None = None
    episodes: int | None = Field(default=None, ge=0)
    seed: int | None = None
    seconds_per_episode: float | None = Field(default=None, ge=0.0)
    trained_on: list[str] | str | None = None  # graph families, or "one graph"
    trained_with: str | None = None  # the command
    search: str | None = None
    note: str | None = None
    evaluation: dict[str, Figures | str] = {}  # case -> figures; "command": how they were made

    @classmethod
    def load(cls, path: Path) -> DeepPRCard:
        """See ``load_card``."""
        return load_card(path)

    def save(self, path: Path) -> None:
        """See ``save_card``."""
        save_card(self, path)

    def to_json(self) -> str:
        """The card as ``card.json`` holds it: the keys that were set, sorted, indented."""
        data = self.model_dump(mode="json", exclude_unset=True)
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def make_card(structure: Mapping[str, Any], record: Mapping[str, Any]) -> DeepPRCard:
    """The card of a network (its ``config()``: architecture and sizes) with what its
    training recorded; ``ValueError`` naming the first unknown or mistyped key."""
    data = {"format": FORMAT, **structure, **record}
    try:
        return DeepPRCard.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "card"
        raise ValueError(f"DeepPR card: {where}: {first['msg']}") from None


def save_card(card: DeepPRCard, path: Path) -> None:
    """Write ``card`` to ``path`` (``card.json``) in the format ``load_card`` reads."""
    path.write_text(card.to_json(), encoding="utf-8")


def expected_tensors(card: DeepPRCard) -> dict[str, Shape]:
    """Name -> shape of every tensor of ``NodeQNet`` or ``PaperQNet`` as the card sets it."""
    h = card.hidden
    if card.architecture == "paper":
        n = card.n or 0
        return linear_shapes("layers", [2 * n, h, h, n * n])
    return {
        **linear_shapes("embed", [card.features or 0, h, h]),
        **linear("node_in", h, h),
        **linear("context_in", h, h),
        **linear("advantage", h, 1),
        **linear_shapes("value", [h, h, 1]),
    }


def load_card(path: Path) -> DeepPRCard:
    """The card at ``path``, validated; PolicyFileError naming the file, the key path and,
    where it can, the line."""
    doc = read_card(path)
    fmt = doc.data.get("format")
    if fmt != FORMAT:
        raise card_error(doc, ["format"], f"{fmt!r}, not a {FORMAT} card (DeepPR recovery)")
    card = validate(doc, DeepPRCard)
    if card.architecture == "paper" and card.n is None:
        raise card_error(doc, ["n"], "the paper architecture needs the number of nodes")
    if card.architecture == "node" and card.features != NODE_FEATURES:
        problem = f"is {card.features}, this agent computes {NODE_FEATURES} features per node"
        raise card_error(doc, ["features"], problem)
    count = parameter_count(expected_tensors(card))
    if count > MAX_PARAMETERS:
        problem = f"the network would have {count:,} parameters (at most {MAX_PARAMETERS:,})"
        raise card_error(doc, ["hidden"], problem)
    return card


def check_policy_files(directory: Path) -> DeepPRCard:
    """Card and weights header of the DeepPR policy in ``directory``, checked against each
    other without reading a tensor."""
    card = load_card(directory / CARD)
    check_tensors(directory / WEIGHTS, expected_tensors(card))
    return card


def describe(card: DeepPRCard) -> str:
    size = f"for {card.n} nodes" if card.architecture == "paper" else "for any graph size"
    return f"DeepPR recovery policy ({card.architecture} network {size}, hidden {card.hidden})"
