"""Operator overrides, applied on top of whatever the policy decided."""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.model.types import Decision, placement_from_schedule


class PinOverride(BaseModel):
    """Fix the schedule of one (node, chain, SF) to the given weights."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["pin"]
    node: str
    chain: str
    sf: str
    weights: dict[str, float] = Field(min_length=1)

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


class Overrides:
    def __init__(self) -> None:
        self._items: dict[int, PinOverride | FreezeOverride | PolicyOverride] = {}
        self._ids = itertools.count(1)
        self.version = 0  # changes whenever the set of overrides does

    def add(self, spec: PinOverride | FreezeOverride | PolicyOverride) -> int:
        if not isinstance(spec, PinOverride):  # one freeze / one policy switch at a time
            for key, item in list(self._items.items()):
                if item.kind == spec.kind:
                    del self._items[key]
        key = next(self._ids)
        self._items[key] = spec
        self.version += 1
        return key

    def remove(self, key: int) -> bool:
        self.version += 1
        return self._items.pop(key, None) is not None

    def clear(self) -> None:
        self.version += 1
        self._items.clear()

    def listing(self) -> list[dict[str, object]]:
        return [{"id": key, **item.model_dump()} for key, item in self._items.items()]

    @property
    def frozen(self) -> bool:
        return any(isinstance(item, FreezeOverride) for item in self._items.values())

    @property
    def policy(self) -> str | None:
        names = [item.name for item in self._items.values() if isinstance(item, PolicyOverride)]
        return names[-1] if names else None

    def apply(self, decision: Decision) -> Decision:
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
        return Decision(placement, schedule, decision.policy, (*decision.notes, "overridden"))
