"""Checking any policy card, of any family, without torch (for ``agent check-config``)."""

from __future__ import annotations

from pathlib import Path

from agent.policies.coordination import card as coordination
from agent.policies.errors import PolicyFileError
from agent.policies.jsoncard import card_error, read_card
from agent.policies.recovery import card as recovery
from agent.policies.tensorfile import check_tensors, parameter_count

CARD_FILE = "card.json"
DEPLOYMENT_FORMAT = "sfc-deployment/2"
WEIGHTS_FILES = (coordination.WEIGHTS_FILE, recovery.WEIGHTS, "model.safetensors")


def check_card_file(path: str | Path) -> str:
    """Validate a policy card (a coordination or DeepPR ``card.json``) and the weights file
    beside it, header only, against each other; ``path`` may also be the policy directory or
    its weights file. Returns a one-line summary; raises ``PolicyFileError`` (an
    ``InputError``: file, key path, line where it can, problem)."""
    card_path = _card_path(Path(path))
    doc = read_card(card_path)
    fmt = doc.data.get("format")
    if fmt == recovery.FORMAT:
        deeppr = recovery.load_card(card_path)
        expected = recovery.expected_tensors(deeppr)
        weights, summary = card_path.parent / recovery.WEIGHTS, recovery.describe(deeppr)
    elif fmt == coordination.CARD_FORMAT:
        card = coordination.load_card(card_path)
        expected = coordination.expected_tensors(card)
        weights, summary = card_path.parent / coordination.WEIGHTS_FILE, coordination.describe(card)
    elif fmt == DEPLOYMENT_FORMAT:
        from agent.policies.deployment import learned as deployment  # imports torch

        _, placed = deployment.load_card(card_path)
        expected = deployment.expected_tensors(placed)
        weights = card_path.parent / deployment.WEIGHTS
        summary = f"SFC deployment policy ({placed.algorithm})"
    else:
        known = f"{coordination.CARD_FORMAT!r}, {recovery.FORMAT!r} or {DEPLOYMENT_FORMAT!r}"
        shown = "required key is missing" if fmt is None else repr(fmt)
        raise card_error(doc, ["format"], f"{shown}: not a policy card (expected {known})")
    check_tensors(weights, expected)
    return f"{summary}; {weights.name}: {parameter_count(expected):,} parameters"


def _card_path(path: Path) -> Path:
    if path.is_dir():
        return path / CARD_FILE
    if path.name in WEIGHTS_FILES:
        return path.parent / CARD_FILE
    if not path.exists():
        raise PolicyFileError(path, "", "file not found")
    return path
