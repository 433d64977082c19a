"""Operator overrides, applied on top of whatever the policy decided.

With a state file they outlive a restart: every change is written atomically (a new
file renamed over the old one) and the file is read back at start. A file that cannot
be read is set aside (``.bad``) with a warning, and the daemon starts without overrides.
The API runs in its own thread: changes and listings hold a lock.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from pathlib import Path
from typing import Annotated, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from agent.model.types import Decision, placement_from_schedule


class PinOverride(BaseModel):
    """Fix the schedule of one (node, chain, SF) to the given weights."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["pin"]
    node: str
    chain: str
    sf: str
    # strict: "1.0" or true is refused, not read as a number
    weights: dict[str, Annotated[float, Field(strict=True)]] = Field(min_length=1, max_length=1024)

    @field_validator("weights")
    @classmethod
    def _weights(cls, weights: dict[str, float]) -> dict[str, float]:
        if any(not math.isfinite(w) or w < 0 for w in weights.values()):
            raise ValueError("weights must be finite and non-negative")
        if sum(weights.values()) <= 0:
            raise ValueError("at least one weight must be positive")
        return weights


class FreezeOverride(BaseModel):
    """Keep installing the last decision; the policy is not consulted."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["freeze"]


class PolicyOverride(BaseModel):
    """Use another policy or heuristic (by name) instead of the configured one."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["policy"]
    name: str


OverrideSpec = Annotated[PinOverride | FreezeOverride | PolicyOverride, Field(discriminator="kind")]


class OverrideRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    override: OverrideSpec


log = structlog.get_logger("agent.overrides")
MAX_OVERRIDES = 256
STORED = TypeAdapter(list[tuple[int, OverrideSpec]])


class TooManyOverrides(ValueError):
    pass


class Overrides:
    def __init__(self, path: Path | None = None) -> None:
        self._items: dict[int, PinOverride | FreezeOverride | PolicyOverride] = {}
        self._lock = threading.Lock()
        self.path = path
        self.version = 0  # changes whenever the set of overrides does
        if path is not None:
            self._items = _restore(path)
        self._ids = itertools.count(max(self._items, default=0) + 1)

    def add(self, spec: PinOverride | FreezeOverride | PolicyOverride) -> int:
        with self._lock:
            if not isinstance(spec, PinOverride):  # one freeze / one policy switch at a time
                for key, item in list(self._items.items()):
                    if item.kind == spec.kind:
                        del self._items[key]
            if len(self._items) >= MAX_OVERRIDES:
                raise TooManyOverrides(f"at most {MAX_OVERRIDES} overrides; delete some first")
            key = next(self._ids)
            self._items[key] = spec
            self._changed()
            return key

    def remove(self, key: int) -> bool:
        with self._lock:
            removed = self._items.pop(key, None) is not None
            self._changed()
            return removed

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._changed()

    def listing(self) -> list[dict[str, object]]:
        with self._lock:
            return [{"id": key, **item.model_dump()} for key, item in self._items.items()]

    def _changed(self) -> None:
        self.version += 1
        if self.path is None:
            return
        data = STORED.dump_json(list(self._items.items()))
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_bytes(data)
        os.replace(temporary, self.path)

    @property
    def frozen(self) -> bool:
        return any(isinstance(item, FreezeOverride) for item in self._items.values())

    @property
    def policy(self) -> str | None:
        names = [item.name for item in self._items.values() if isinstance(item, PolicyOverride)]
        return names[-1] if names else None

    def apply(self, decision: Decision) -> Decision:
        with self._lock:
            pins = [item for item in self._items.values() if isinstance(item, PinOverride)]
        if not pins:
            return decision
        schedule = {
            node: {chain: {sf: dict(w) for sf, w in per_sf.items()} for chain, per_sf in c.items()}
            for node, c in decision.schedule.items()
        }
        for pin in pins:
            total = sum(pin.weights.values())
            per_chain = schedule.setdefault(pin.node, {}).setdefault(pin.chain, {})
            per_chain[pin.sf] = {dst: w / total for dst, w in pin.weights.items()}
        placement = placement_from_schedule(schedule)
        for node, sfs in decision.placement.items():
            placement[node] = tuple(sorted(set(placement.get(node, ())) | set(sfs)))
        notes = (
            decision.notes if "overridden" in decision.notes else (*decision.notes, "overridden")
        )
        return Decision(placement, schedule, decision.policy, notes)


def _restore(path: Path) -> dict[int, PinOverride | FreezeOverride | PolicyOverride]:
    """The overrides saved at ``path``; none when there is no file, and none with a
    warning (the file set aside) when it cannot be read."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        log.warning("cannot read saved overrides", path=str(path), error=exc.strerror)
        return {}
    try:
        items = STORED.validate_json(raw)
        if len(items) > MAX_OVERRIDES:
            raise ValueError(f"more than {MAX_OVERRIDES} overrides")
    except (ValidationError, ValueError, RecursionError) as exc:
        bad = path.with_name(path.name + ".bad")
        os.replace(path, bad)
        problem = str(exc).splitlines()[0]
        log.warning("saved overrides unreadable, starting without", path=str(bad), error=problem)
        return {}
    restored = dict(items)
    log.info("overrides restored", path=str(path), count=len(restored))
    return restored
