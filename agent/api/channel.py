"""Frames between the daemon and its API process, over a private socket pair: a
4-byte big-endian length, then a JSON object; a ``{"op": "rules"}`` frame is followed
by one raw frame, the ``/rules`` body as it is served (encoded once, never parsed)."""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


def json_frame(message: dict[str, Any]) -> bytes:
    return frame(json.dumps(message, separators=(",", ":")).encode())


async def read_raw(reader: asyncio.StreamReader) -> bytes | None:
    """The next frame's bytes, or None at the end of the stream."""
    try:
        (length,) = HEADER.unpack(await reader.readexactly(HEADER.size))
        if length > MAX_FRAME:
            raise ValueError(f"frame of {length} bytes")
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        return None


async def read_message(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    raw = await read_raw(reader)
    if raw is None:
        return None
    message = json.loads(raw)
    if not isinstance(message, dict):
        raise ValueError("a frame that is not a JSON object")
    return message
