"""The controller link's constants and envelope (docs/controller-protocol.md).

One JSON object per line. Requests carry ``v``, an integer ``id`` and an ``op``;
responses the same ``id``, ``ok`` and, on failure, ``error``; notifications a
``type`` instead of an ``id``. Both processes (the os-ken app and the agent) take
every name and number of the link from here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Literal

from agent.rules.intents import COOKIE, COOKIE_MASK, GROUP_BASE, METER_BASE

PROTOCOL_VERSION = 1


class Op(StrEnum):
    """The requests an agent may send."""

    HELLO = "hello"
    TOPOLOGY = "topology"
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    APPLY = "apply"
    DUMP = "dump"


# requests that wait on switches (answered from a worker pool, not the reader)
SLOW_OPS = frozenset({Op.APPLY, Op.DUMP})

BatchOp = Literal["add", "modify", "delete"]
BATCH_OPS: frozenset[str] = frozenset({"add", "modify", "delete"})

# what we own on a switch: flows under our cookie, groups and meters in our id ranges
OWN_COOKIE = COOKIE
OWN_COOKIE_MASK = COOKIE_MASK
GROUP_RANGE = (GROUP_BASE, GROUP_BASE + 0xFFFFFF)
METER_RANGE = (METER_BASE, METER_BASE + 0xFF)

# batch errors found by the controller itself: type -1 and one of these codes
LOCAL_ERROR_TYPE = -1
CODE_TIMEOUT = 0  # no barrier reply in time
CODE_DISCONNECTED = 1  # switch not connected, or lost
CODE_INVALID = 2  # the entry is not a valid intent

# statistics a subscriber may ask for; ports alone unless it asks for more
Section = Literal["ports", "flows", "groups", "meters"]
SECTIONS: tuple[Section, ...] = ("ports", "flows", "groups", "meters")
DEFAULT_SECTIONS: frozenset[Section] = frozenset({"ports"})


class WireError(ValueError):
    """A message or record that does not follow the protocol (the text says where)."""


def encode(message: Mapping[str, Any]) -> bytes:
    """One message as a compact JSON line."""
    return (json.dumps(message, separators=(",", ":")) + "\n").encode()


def decode(line: bytes | str) -> dict[str, Any]:
    """One line as a JSON object; WireError when it is not one."""
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"bad JSON: {exc}") from None
    if not isinstance(message, dict):
        raise WireError("a message is a JSON object")
    return message


def request(request_id: int, op: Op, body: Mapping[str, Any]) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "id": request_id, "op": str(op), **body}


def response(
    request_id: int | None, body: Mapping[str, Any] | None = None, error: str | None = None
) -> dict[str, Any]:
    """A response: ``ok`` is false on ``error`` or when the body lists ``errors``."""
    message: dict[str, Any] = {"v": PROTOCOL_VERSION, "id": request_id}
    if error is not None:
        message.update(ok=False, error=error)
        return message
    body = body or {}
    message["ok"] = not body.get("errors")
    message.update(body)
    return message


# ------------------------------------------------------------ field readers


def field(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise WireError(f"{where}.{key}: missing")
    return data[key]


def integer(data: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    value = data.get(key, default) if default is not None else field(data, key, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireError(f"{where}.{key}: expected an integer, got {value!r}")
    return value


def optional_int(data: Mapping[str, Any], key: str, where: str) -> int | None:
    return None if data.get(key) is None else integer(data, key, where)


def number(data: Mapping[str, Any], key: str, where: str) -> float:
    value = field(data, key, where)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireError(f"{where}.{key}: expected a number, got {value!r}")
    return float(value)


def text(data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default) if default is not None else field(data, key, where)
    if not isinstance(value, str):
        raise WireError(f"{where}.{key}: expected a string, got {value!r}")
    return value


def flag(data: Mapping[str, Any], key: str, where: str) -> bool:
    value = field(data, key, where)
    if not isinstance(value, bool):
        raise WireError(f"{where}.{key}: expected true or false, got {value!r}")
    return value


def items(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    """A list field; absent counts as empty."""
    value = data.get(key, [])
    if not isinstance(value, list):
        raise WireError(f"{where}.{key}: expected a list, got {type(value).__name__}")
    return value


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WireError(f"{where}: expected an object, got {type(value).__name__}")
    return value
