"""A Decision's schedule compiled for the simulator's hot loop, and the two ways of
choosing a destination: coord-sim's weighted round robin, or sampling by weight.

Both choices cost the hot loop almost nothing per flow, and both give exactly the
destinations the plain rules give:

- sampling draws one ``random()`` and bisects the entry's cumulative weights, built
  once when the entry is compiled: exactly what ``random.choices`` does, without
  rebuilding the cumulative list on every call, so a seed gives the same flows;
- round robin is a pure function of the weights and the number of flows the entry
  has sent this step (its counters restart with every decision), so the sequence of
  destinations is computed once per distinct weight vector, extended as flows need
  it and shared by every entry (and every later decision) with the same weights.

Compiling is incremental: ``ScheduleCompiler`` keeps each row's weights and entry and
reuses the entry while a new decision gives the row equal weights (load balance
builds a new, equal schedule every step; a trained policy changes a few rows).
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections.abc import Mapping, Sequence
from itertools import accumulate
from typing import TYPE_CHECKING

from agent.model.types import Schedule

if TYPE_CHECKING:  # weights arrays are the caller's: nothing here imports numpy
    import numpy as np
    import numpy.typing as npt

_CHUNK = 64  # round-robin destinations computed at a time
_SEQUENCES_KEPT = 4096  # distinct weight vectors whose round-robin sequences are kept


class DecisionError(ValueError):
    """A decision names nodes, chains or SFs the scenario does not have."""


class RoundRobinSequence:
    """coord-sim's weighted round robin for one weight vector, as the sequence of
    destination indices it produces from zero counts: send to the destination furthest
    below its weight; a destination with weight 0 is never preferred, and if all
    weights are 0 the first one wins."""

    __slots__ = ("counts", "order", "weights")

    def __init__(self, weights: Sequence[float]) -> None:
        self.weights = list(weights)
        self.counts = [0] * len(weights)
        self.order: list[int] = []  # destination indices, in the order flows get them

    def extend(self, at_least: int) -> None:
        """Compute the sequence up to (at least) ``at_least`` flows."""
        order, counts, weights = self.order, self.counts, self.weights
        total = len(order)
        target = max(at_least, total + _CHUNK)
        indexed = list(enumerate(weights))
        while total < target:
            best, best_diff = 0, -2.0
            for i, weight in indexed:
                diff = weight - (counts[i] / total if total else 0.0) if weight > 0 else -1.0
                if diff > best_diff:
                    best, best_diff = i, diff
            counts[best] += 1
            order.append(best)
            total += 1


Sequences = dict[tuple[float, ...], RoundRobinSequence]  # by weight vector


class ScheduleEntry:
    """Destinations for one (node, chain, SF) with their weights; ``sent`` counts this
    step's flows for round robin (reset by ``reset``)."""

    __slots__ = (
        "cum",
        "dests",
        "last",
        "sent",
        "sequence",
        "sequences",
        "single",
        "total",
        "weights",
    )

    def __init__(
        self, dests: list[int], weights: list[float], sequences: Sequences | None = None
    ) -> None:
        self.dests = dests
        self.weights = weights
        positive = [d for d, w in zip(dests, weights, strict=True) if w > 0]
        self.single = positive[0] if len(positive) == 1 else -1
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1] + 0.0 if self.cum else 0.0
        self.last = len(dests) - 1
        self.sequences = {} if sequences is None else sequences  # shared by a compiler
        self.sequence: RoundRobinSequence | None = None  # looked up on first use
        self.sent = 0

    def reset(self) -> None:
        self.sent = 0

    def round_robin(self) -> int:
        """The next destination of coord-sim's weighted round robin (-1: no destination)."""
        if self.single >= 0:
            return self.single
        sequence = self.sequence
        if sequence is None:
            if not self.dests:
                return -1
            sequence = self.sequence = self._shared_sequence()
        sent, order = self.sent, sequence.order
        if sent >= len(order):
            sequence.extend(sent + 1)
        self.sent = sent + 1
        return self.dests[order[sent]]

    def _shared_sequence(self) -> RoundRobinSequence:
        key, sequences = tuple(self.weights), self.sequences
        sequence = sequences.get(key)
        if sequence is None:
            if len(sequences) >= _SEQUENCES_KEPT:
                sequences.clear()
            sequence = sequences[key] = RoundRobinSequence(self.weights)
        return sequence

    def sample(self, rng: random.Random) -> int:
        """A destination drawn by weight (-1 if no weight is positive); the same draw,
        and so the same destination, as ``rng.choices(dests, weights)``."""
        if self.single >= 0:
            return self.single
        if self.total <= 0.0:
            return -1
        return self.dests[bisect(self.cum, rng.random() * self.total, 0, self.last)]


class ScheduleCompiler:
    """Compiles schedules into ``{key(node, chain, sf): entry}`` tables, reusing the
    entry of every row whose weights equal the previous decision's. Takes a Decision's
    nested mapping (``compile``) or an (N, R, N) weights array (``compile_weights``)."""

    def __init__(
        self,
        node_index: Mapping[str, int],
        chain_index: Mapping[str, int],
        sf_index: Mapping[str, int],
        chain_sfs: Sequence[Sequence[int]],
    ) -> None:
        self.node_index = node_index
        self.chain_index = chain_index
        self.sf_index = sf_index
        self.chain_sfs = chain_sfs
        self.n_chains, self.n_sfs = len(chain_index), len(sf_index)
        self.rows: dict[int, tuple[Mapping[str, float], ScheduleEntry]] = {}
        # per node: a copy of its rows as last compiled, and their (key, entry) pairs
        self.node_rows: dict[str, tuple[object, list[tuple[int, ScheduleEntry]]]] = {}
        self.array_rows: dict[int, ScheduleEntry] = {}
        self._row_index: dict[tuple[int, ...], dict[int, tuple[int, int]]] = {}
        self.sequences: Sequences = {}

    def compile(self, schedule: Schedule) -> dict[int, ScheduleEntry]:
        """Flatten to ``{key: entry}``; unknown names raise DecisionError."""
        table: dict[int, ScheduleEntry] = {}
        rows, n_chains, n_sfs = self.rows, self.n_chains, self.n_sfs
        node_index, chain_index, sf_index = self.node_index, self.chain_index, self.sf_index
        for node, per_chain in schedule.items():
            seen = self.node_rows.get(node)
            if seen is not None and seen[0] == per_chain:  # the node's rows, all unchanged
                for key, entry in seen[1]:
                    entry.sent = 0
                    table[key] = entry
                continue
            first = len(table)
            node_i = node_index.get(node)
            if node_i is None:
                node_i = lookup(node_index, node, "node")
            for chain, per_sf in per_chain.items():
                chain_i = chain_index.get(chain)
                if chain_i is None:
                    chain_i = lookup(chain_index, chain, "chain")
                base = (node_i * n_chains + chain_i) * n_sfs
                for sf, weights in per_sf.items():
                    sf_i = sf_index.get(sf)
                    if sf_i is None:
                        sf_i = lookup(sf_index, sf, "service function")
                    key = base + sf_i
                    known = rows.get(key)
                    if known is not None and known[0] == weights:
                        entry = known[1]
                        entry.sent = 0
                    else:
                        if sf_i not in self.chain_sfs[chain_i]:
                            raise DecisionError(f"schedule: {sf!r} is not part of chain {chain!r}")
                        entry = self._entry(weights, (node, chain, sf))
                        rows[key] = (dict(weights), entry)
                    table[key] = entry
            copied = {
                chain: {sf: dict(w) for sf, w in per.items()} for chain, per in per_chain.items()
            }
            self.node_rows[node] = (copied, list(table.items())[first:])
        return table

    def _entry(self, weights: Mapping[str, float], where: tuple[str, str, str]) -> ScheduleEntry:
        index = self.node_index
        dests, values = [], []
        for dst, weight in weights.items():
            if not 0 <= weight < math.inf:
                raise DecisionError(f"schedule: weight {weight!r} for {'/'.join(where)}")
            dests.append(index[dst] if dst in index else lookup(index, dst, "node"))
            values.append(float(weight))
        return ScheduleEntry(dests, values, self.sequences)

    def row_keys(self, rows: Sequence[tuple[str, str]]) -> list[int]:
        """Key offsets (chain index x SFs + SF index) of (chain, SF) rows."""
        keys = []
        for chain, sf in rows:
            chain_i = lookup(self.chain_index, chain, "chain")
            sf_i = lookup(self.sf_index, sf, "service function")
            if sf_i not in self.chain_sfs[chain_i]:
                raise DecisionError(f"schedule: {sf!r} is not part of chain {chain!r}")
            keys.append(chain_i * self.n_sfs + sf_i)
        return keys

    def compile_weights(
        self, weights: npt.NDArray[np.float64], row_keys: Sequence[int]
    ) -> WeightRows:
        """The rows of (N, R, N) weights: node, row, destination, nodes in the simulator's
        order; row r is the (chain, SF) of ``row_keys[r]`` (see ``row_keys``). Positive
        weights are destinations, as in the schedule ``weights_to_decision`` makes of the
        same array. Entries are built when a flow first needs them (``WeightRows.entry``):
        most rows carry no traffic in a step."""
        n = len(self.node_index)
        shape = (n, len(row_keys), n)
        if weights.shape != shape:
            raise DecisionError(f"schedule weights: shape {weights.shape}, need {shape}")
        if (weights == math.inf).any():
            raise DecisionError("schedule weights: infinite weight")
        index = self._row_index.get(tuple(row_keys))
        if index is None:
            step = self.n_chains * self.n_sfs
            index = {i * step + k: (i, r) for i in range(n) for r, k in enumerate(row_keys)}
            self._row_index[tuple(row_keys)] = index
        return WeightRows(weights, index, self.array_rows, self.sequences)


class WeightRows:
    """Schedule entries of a weights array, built on first use; an entry equal to the
    last one built for its key (destinations and weights) is that one, counters reset."""

    __slots__ = ("built", "index", "known", "sequences", "weights")

    def __init__(
        self,
        weights: npt.NDArray[np.float64],
        index: dict[int, tuple[int, int]],
        known: dict[int, ScheduleEntry],
        sequences: Sequences,
    ) -> None:
        self.weights = weights
        self.index = index  # key -> (node, row)
        self.known = known  # by key, across steps
        self.sequences = sequences
        self.built: dict[int, ScheduleEntry] = {}

    def entry(self, key: int) -> ScheduleEntry | None:
        """The entry of ``key`` (None: the schedule has no row for it)."""
        entry = self.built.get(key)
        if entry is not None:
            return entry
        place = self.index.get(key)
        if place is None:
            return None
        row = self.weights[place]
        dests = (row > 0).nonzero()[0]
        values: list[float] = row[dests].tolist()
        dest_list: list[int] = dests.tolist()
        entry = self.known.get(key)
        if entry is not None and entry.dests == dest_list and entry.weights == values:
            entry.sent = 0
        else:
            entry = self.known[key] = ScheduleEntry(dest_list, values, self.sequences)
        self.built[key] = entry
        return entry


def compile_schedule(
    schedule: Schedule,
    node_index: Mapping[str, int],
    chain_index: Mapping[str, int],
    sf_index: Mapping[str, int],
    chain_sfs: Sequence[Sequence[int]],
) -> dict[int, ScheduleEntry]:
    """Flatten to ``{key(node, chain, sf): entry}``; unknown names raise DecisionError."""
    return ScheduleCompiler(node_index, chain_index, sf_index, chain_sfs).compile(schedule)


def lookup(index: Mapping[str, int], name: str, what: str) -> int:
    try:
        return index[name]
    except KeyError:
        raise DecisionError(f"decision names unknown {what} {name!r}") from None
