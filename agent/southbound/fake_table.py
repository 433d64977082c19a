"""An in-memory OpenFlow table with a switch's rules for rejecting messages, for the
embedded simulator backend (there is no switch) and for tests of the daemon's logic.

Messages of a batch are applied one by one, as a switch does: a rejected message
does not undo the ones before it.
"""

from __future__ import annotations

from agent.rules.diff import Change
from agent.rules.intents import FlowIntent, GroupIntent, Intent, MeterIntent
from agent.southbound.base import InstallError

# OpenFlow 1.3 error types/codes used here
BAD_ACTION, BAD_OUT_GROUP = 2, 9
GROUP_MOD_FAILED, GROUP_EXISTS, UNKNOWN_GROUP = 6, 0, 8
METER_MOD_FAILED, METER_EXISTS, UNKNOWN_METER = 12, 1, 7


class FakeSwitchTable:
    def __init__(self, dpids: set[int]) -> None:
        self.dpids = dpids
        self.rules: dict[tuple[object, ...], Intent] = {}
        self.reject_dpids: set[int] = set()  # tests: switches that refuse everything

    def apply(self, changes: list[Change]) -> tuple[InstallError, ...]:
        errors = []
        for index, change in enumerate(changes):
            problem = self._check(change)
            if problem is None:
                self._do(change)
            else:
                errors.append(InstallError(index, change.intent.dpid, *problem))
        return tuple(errors)

    def dump(self, dpids: frozenset[int] | None = None) -> list[Intent]:
        if dpids is None:
            return list(self.rules.values())
        return [intent for intent in self.rules.values() if intent.dpid in dpids]

    def _do(self, change: Change) -> None:
        if change.op == "delete":
            self.rules.pop(change.intent.key, None)
        else:
            self.rules[change.intent.key] = change.intent

    def _check(self, change: Change) -> tuple[str, int, int] | None:
        intent = change.intent
        if intent.dpid not in self.dpids or intent.dpid in self.reject_dpids:
            return (f"switch {intent.dpid} refused the message", BAD_ACTION, 0)
        exists = intent.key in self.rules
        if isinstance(intent, GroupIntent):
            if change.op == "add" and exists:
                return ("group exists", GROUP_MOD_FAILED, GROUP_EXISTS)
            if change.op == "modify" and not exists:
                return ("unknown group", GROUP_MOD_FAILED, UNKNOWN_GROUP)
        if isinstance(intent, MeterIntent):
            if change.op == "add" and exists:
                return ("meter exists", METER_MOD_FAILED, METER_EXISTS)
            if change.op == "modify" and not exists:
                return ("unknown meter", METER_MOD_FAILED, UNKNOWN_METER)
        if isinstance(intent, FlowIntent) and change.op != "delete":
            for action in intent.actions:
                key = ("group", intent.dpid, action[1]) if action[0] == "group" else None
                if key is not None and key not in self.rules:
                    return (f"flow points at missing group {action[1]}", BAD_ACTION, BAD_OUT_GROUP)
        return None
