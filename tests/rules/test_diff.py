from __future__ import annotations

from agent.rules.diff import plan_changes
from agent.rules.intents import Bucket, GroupIntent, Intent, MeterIntent, flow


def test_make_before_break_order() -> None:
    old_group = GroupIntent(1, 7, "select", (Bucket(1, (("output", 1),)),))
    kept_group = GroupIntent(1, 8, "select", (Bucket(1, (("output", 1),)),))
    new_group = GroupIntent(1, 9, "select", (Bucket(1, (("output", 2),)),))
    old_flow = flow(1, 0, 10, {"in_port": 1}, (("group", 7),))
    new_flow = flow(1, 0, 10, {"in_port": 2}, (("group", 9),))
    changed = flow(1, 0, 20, {"in_port": 3}, (("output", 1),))
    installed: list[Intent] = [old_group, kept_group, old_flow, changed, MeterIntent(1, 5, 100)]
    desired: list[Intent] = [
        kept_group,
        new_group,
        new_flow,
        flow(1, 0, 20, {"in_port": 3}, (("output", 2),)),
        MeterIntent(1, 5, 200),
    ]
    changes = [(c.op, type(c.intent).__name__) for c in plan_changes(installed, desired)]
    assert changes == [
        ("add", "GroupIntent"),
        ("modify", "MeterIntent"),
        ("add", "FlowIntent"),
        ("modify", "FlowIntent"),
        ("delete", "FlowIntent"),
        ("delete", "GroupIntent"),
    ]


def test_nothing_to_do() -> None:
    rules = [flow(1, 0, 1, {"in_port": 1}, (("output", 2),))]
    assert plan_changes(rules, list(rules)) == []
