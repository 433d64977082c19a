"""Reading a policy card (``card.json``) so that every problem names the file, the key path
and, where it can, the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from agent.model.errors import InputError
from agent.model.yamlfile import KeyPath, YamlDocument, validation_error
from agent.policies.errors import PolicyFileError

MAX_CARD_BYTES = 16 << 20  # a card lists nodes and links: kilobytes, even for large networks
M = TypeVar("M", bound=BaseModel)


def read_card(path: Path) -> YamlDocument:
    """Parse ``path`` as a JSON object; the document also knows the line of each key."""
    try:
        if path.stat().st_size > MAX_CARD_BYTES:
            raise PolicyFileError(path, "", f"card larger than {MAX_CARD_BYTES >> 20} MiB")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyFileError(path, "", "policy card not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise PolicyFileError(path, "", f"cannot read the policy card: {why}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyFileError(path, "", f"not JSON: {exc.msg}", exc.lineno) from None
    except RecursionError:
        raise PolicyFileError(path, "", "not JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise PolicyFileError(path, "", "a policy card must be a JSON object", 1)
    try:  # JSON is YAML: its node tree gives the line of every key
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        root = None
    return YamlDocument(path, data, root)


def validate(doc: YamlDocument, model: type[M]) -> M:
    """``doc`` as ``model``; the first problem becomes a PolicyFileError."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise as_policy_error(validation_error(doc, exc)) from None


def card_error(doc: YamlDocument, key_path: KeyPath, problem: str) -> PolicyFileError:
    return as_policy_error(doc.error(key_path, problem))


def as_policy_error(error: InputError) -> PolicyFileError:
    return PolicyFileError(error.path, error.where, error.problem, error.line)


def card_format(doc: YamlDocument) -> str:
    """The card's ``format`` (with ``/version`` for the coordination cards), or ''."""
    fmt = doc.data.get("format")
    version = doc.data.get("version")
    if not isinstance(fmt, str):
        return ""
    return f"{fmt}/v{version}" if isinstance(version, int) else fmt
