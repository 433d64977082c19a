"""The DeepPR policy's card (``card.json``) and the tensors it implies, without torch.

The structural keys (``format``, ``architecture``, ``features``, ``hidden``, ``n``) are
checked strictly; the rest of the card is what the training recorded (episodes, seed, notes,
evaluation figures) and may hold any JSON. The network the card describes must stay under
``MAX_PARAMETERS`` and its weights file must hold exactly its tensors before any is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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


class DeepPRCard(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    format: Literal["deeppr-recovery/1"]
    architecture: Literal["node", "paper"] = "node"
    features: int | None = Field(default=None, ge=1)
    hidden: int = Field(ge=1)
    n: int | None = Field(default=None, ge=1)


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


def load_card(path: Path) -> tuple[dict[str, Any], DeepPRCard]:
    """The card at ``path`` as read and as validated; PolicyFileError naming the key."""
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
    return doc.data, card


def check_policy_files(directory: Path) -> tuple[dict[str, Any], DeepPRCard]:
    """Card and weights header of the DeepPR policy in ``directory``, checked against each
    other without reading a tensor."""
    raw, card = load_card(directory / CARD)
    check_tensors(directory / WEIGHTS, expected_tensors(card))
    return raw, card


def describe(card: DeepPRCard) -> str:
    size = f"for {card.n} nodes" if card.architecture == "paper" else "for any graph size"
    return f"DeepPR recovery policy ({card.architecture} network {size}, hidden {card.hidden})"
