"""What to send so that the installed rules become the desired ones.

Only changes are sent, ordered make-before-break: new groups and meters first, then
changed groups and meters (modified in place), then new and changed flows, and only
then flows and, last, groups and meters that are no longer wanted. Traffic always
finds a rule to follow while the batch is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agent.rules.intents import FlowIntent, GroupIntent, Intent, MeterIntent

Op = Literal["add", "modify", "delete"]


@dataclass(frozen=True)
class Change:
    op: Op
    intent: Intent

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "intent": self.intent.to_json()}


def _rank(change: Change) -> int:
    kind = type(change.intent)
    order: dict[tuple[Op, type], int] = {
        ("add", GroupIntent): 0,
        ("add", MeterIntent): 1,
        ("modify", GroupIntent): 2,
        ("modify", MeterIntent): 3,
        ("add", FlowIntent): 4,
        ("modify", FlowIntent): 5,
        ("delete", FlowIntent): 6,
        ("delete", GroupIntent): 7,
        ("delete", MeterIntent): 8,
    }
    return order[(change.op, kind)]


def plan_changes(installed: Sequence[Intent], desired: Sequence[Intent]) -> list[Change]:
    """The ordered batch turning ``installed`` into ``desired``."""
    have = {intent.key: intent for intent in installed}
    want = {intent.key: intent for intent in desired}
    changes: list[Change] = []
    for key, intent in want.items():
        current = have.get(key)
        if current is None:
            changes.append(Change("add", intent))
        elif current != intent:
            changes.append(Change("modify", intent))
    changes += [Change("delete", intent) for key, intent in have.items() if key not in want]
    return sorted(changes, key=_rank)


@dataclass(frozen=True)
class RuleCounts:
    flows: int
    groups: int
    meters: int


def count_rules(intents: Sequence[Intent]) -> RuleCounts:
    return RuleCounts(
        flows=sum(isinstance(i, FlowIntent) for i in intents),
        groups=sum(isinstance(i, GroupIntent) for i in intents),
        meters=sum(isinstance(i, MeterIntent) for i in intents),
    )
