"""Per-flow weighted choice without per-flow overhead: the precomputed forms choose
exactly the destinations the plain rules choose."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.model.deepcoord import weights_to_decision
from agent.sim.schedule import DecisionError, ScheduleCompiler, ScheduleEntry, Sequences

NODES = ["n0", "n1", "n2", "n3"]
INDEX = {name: i for i, name in enumerate(NODES)}

weight_lists = st.lists(
    st.sampled_from([0.0, 0.1, 0.25, 1 / 3, 0.5, 0.7, 1.0, 2.0]), min_size=1, max_size=4
)


def reference_round_robin(weights: list[float], flows: int) -> list[int]:
    """coord-sim's weighted round robin as it is written: per flow, the destination
    furthest below its weight (weight 0 never preferred; all 0: the first)."""
    counts, picks = [0] * len(weights), []
    for total in range(flows):  # flows sent so far
        best, best_diff = 0, -2.0
        for i, weight in enumerate(weights):
            diff = weight - (counts[i] / total if total else 0.0) if weight > 0 else -1.0
            if diff > best_diff:
                best, best_diff = i, diff
        counts[best] += 1
        picks.append(best)
    return picks


@settings(max_examples=60, deadline=None)
@given(weights=weight_lists, flows=st.integers(1, 300))
def test_round_robin_is_coord_sims(weights: list[float], flows: int) -> None:
    dests = [10 + i for i in range(len(weights))]
    shared: Sequences = {}
    first = ScheduleEntry(dests, weights, shared)
    second = ScheduleEntry(dests, weights, shared)
    expected = [dests[i] for i in reference_round_robin(weights, flows + 3)]
    if first.single >= 0:
        expected = [first.single] * (flows + 3)
    assert [first.round_robin() for _ in range(flows)] == expected[:flows]
    # a second entry with the same weights shares the sequence but counts for itself
    assert [second.round_robin() for _ in range(flows // 2)] == expected[: flows // 2]
    first.reset()
    assert [first.round_robin() for _ in range(3)] == expected[:3]


@settings(max_examples=60, deadline=None)
@given(weights=weight_lists, seed=st.integers(0, 10_000))
def test_sampling_draws_what_random_choices_draws(weights: list[float], seed: int) -> None:
    dests = [10 + i for i in range(len(weights))]
    entry = ScheduleEntry(dests, weights)
    ours, theirs = random.Random(seed), random.Random(seed)
    for _ in range(200):
        if entry.single >= 0:
            assert entry.sample(ours) == entry.single
        elif sum(weights) > 0:
            assert entry.sample(ours) == theirs.choices(dests, weights=weights)[0]
        else:
            assert entry.sample(ours) == -1
    if entry.single < 0 and sum(weights) > 0:
        assert ours.random() == theirs.random()  # one draw per flow, no more


def test_an_entry_without_destinations_drops_instead_of_failing() -> None:
    entry = ScheduleEntry([], [])
    assert entry.round_robin() == -1 and entry.sample(random.Random(1)) == -1


def compiler() -> ScheduleCompiler:
    return ScheduleCompiler(INDEX, {"c": 0}, {"a": 0, "b": 1}, [(0, 1)])


def test_compiling_reuses_equal_rows_with_fresh_counters() -> None:
    comp = compiler()
    schedule = {"n0": {"c": {"a": {"n1": 0.5, "n2": 0.5}, "b": {"n3": 1.0}}}}
    first = comp.compile(schedule)
    entry = first[0]
    assert [entry.round_robin() for _ in range(3)] == [1, 2, 1]
    again = comp.compile({"n0": {"c": {"a": {"n1": 0.5, "n2": 0.5}, "b": {"n2": 1.0}}}})
    assert again[0] is entry and entry.round_robin() == 1  # counters restart
    assert again[1].single == 2  # the changed row is compiled anew
    assert comp.compile({"n0": {"c": {"a": {"n1": 0.25, "n2": 0.75}}}})[0] is not entry


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"n9": {"c": {"a": {"n1": 1.0}}}}, "unknown node 'n9'"),
        ({"n0": {"c": {"a": {"n9": 1.0}}}}, "unknown node 'n9'"),
        ({"n0": {"c": {"a": {"n1": -1.0}}}}, "weight -1.0"),
        ({"n0": {"c": {"a": {"n1": float("inf")}}}}, "weight inf"),
        ({"n0": {"c": {"z": {"n1": 1.0}}}}, "unknown service function 'z'"),
    ],
)
def test_bad_schedules_are_refused(schedule: dict[str, object], message: str) -> None:
    with pytest.raises(DecisionError, match=message):
        compiler().compile(schedule)  # type: ignore[arg-type]


def test_weight_rows_are_the_decisions_rows() -> None:
    comp = compiler()
    rows = [("c", "a"), ("c", "b")]
    keys = comp.row_keys(rows)
    rng = np.random.default_rng(3)
    for _ in range(20):
        weights = rng.random((4, 2, 4)) * (rng.random((4, 2, 4)) > 0.5)
        lazy = comp.compile_weights(weights, keys)
        table = compiler().compile(weights_to_decision(NODES, rows, weights, "x").schedule)
        for key in range(8):
            entry, expected = lazy.entry(key), table.get(key)
            assert expected is not None and entry is not None
            assert (entry.dests, entry.weights) == (expected.dests, expected.weights)
    with pytest.raises(DecisionError, match="shape"):
        comp.compile_weights(np.zeros((4, 3, 4)), keys)
