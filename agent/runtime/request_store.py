"""Deployment requests as they are kept: the record of one request, and the state file
that keeps the accepted ones across restarts.

The file is JSON, ``{"version": 1, "next_id": N, "requests": [record, ...]}``, written
whole to a temporary file beside it and renamed over it (a reader sees the old file or
the new one, never half of one). A file that cannot be read is an InputError naming the
file, the record's key path and the problem.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.model.errors import InputError

FORMAT_VERSION: Literal[1] = 1
State = Literal["starting", "pending", "active", "removing"]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class RequestRecord(BaseModel):
    """One request the daemon holds: what was asked, where it was placed, its state.

    ``starting``: resources booked, instances starting; ``pending``: its flows go into
    the next batch; ``active``: installed; ``removing``: released, its flows go with the
    next batch."""

    model_config = ConfigDict(extra="forbid")
    id: int = Field(ge=1)
    source: Literal["api", "generated"] = "api"
    ingress: str
    egress: str
    chain: list[str] = Field(min_length=1)
    rate: Finite = Field(gt=0)  # Mbit/s asked for (the bandwidth of every virtual link)
    bandwidth: list[Finite]  # Mbit/s per virtual link
    cpu: list[Finite]
    memory: list[Finite]
    data_kbit: Finite = Field(gt=0)
    latency_bound_ms: Finite = Field(gt=0)
    duration_s: Finite = Field(gt=0)
    classifier: dict[str, int | str]
    servers: list[str]  # node of each VNF
    links: list[list[int]]  # substrate link indices of each virtual link
    path: list[list[str]]  # nodes of each virtual link, end to end
    latency_ms: Finite
    created_at: Finite  # Unix time
    expires_at: Finite  # Unix time
    state: State = "starting"

    def public(self) -> dict[str, Any]:
        """The record as the API shows it."""
        body = self.model_dump(mode="json", exclude={"links"})
        body["placement"] = [
            {"vnf": vnf, "node": node} for vnf, node in zip(self.chain, self.servers, strict=True)
        ]
        return body


class StoredRequests(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[1]
    next_id: int = Field(ge=1)
    requests: list[RequestRecord]


def save_requests(path: Path, records: list[RequestRecord], next_id: int) -> None:
    """Write the accepted requests atomically (temporary file, then rename)."""
    stored = StoredRequests(version=FORMAT_VERSION, next_id=next_id, requests=records)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(stored.model_dump_json(), encoding="utf-8")
    os.replace(temporary, path)


def load_requests(path: Path) -> StoredRequests | None:
    """The saved requests; None when there is no file; InputError naming the file, the
    key path and the problem when it cannot be read."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(path, "", f"cannot read the saved requests: {exc.strerror}") from None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(path, "", f"not JSON: {exc}".splitlines()[0], line) from None
    except RecursionError:
        raise InputError(path, "", "nested too deeply") from None
    try:
        return StoredRequests.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InputError(path, where, first["msg"]) from None


def set_aside(path: Path) -> Path:
    """Move an unreadable state file out of the way (``.bad``), keeping it for a look."""
    bad = path.with_name(path.name + ".bad")
    os.replace(path, bad)
    return bad
