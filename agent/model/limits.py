"""What a scenario may ask of the simulator, so that no input file can make it run
without end or exhaust memory. Every limit is checked when the files are loaded and
reported as an InputError that names the key responsible.

- ``MAX_TIME_MS``: times and durations in input files (run_duration, TTLs, trace
  and failure times, processing delays) are at most 10^12 ms (about 31 years).
- ``MAX_FLOWS_PER_STEP``: the flows the simulator draws at once, those arriving in
  one control step plus the look-ahead of the longest TTL, summed over the ingress
  nodes at the smallest mean inter-arrival time any of them can have (from the
  traffic file, its MMPP states or its trace), at most 100,000.
- ``MAX_SIM_NODES``: the simulator keeps shortest paths between all pairs of nodes,
  so a scenario's network has at most 1,000 nodes (a network file alone may be
  larger: ``agent check-config`` reads it).
- ``MAX_STATE_CELLS``: nodes x chains x service functions, at most 1,000,000 (the
  per-step books and the observation have one entry for each).
- ``MAX_CHAIN_LENGTH``: service functions in one chain, at most 100 (a flow's work
  grows with its chain).
- ``MAX_STEPS``: control steps per episode, at most 1,000,000.
- ``MAX_TRACE_ROWS``: rows of a trace file, at most 1,000,000.

The files themselves: YAML files at most 16 MiB, 200,000 values (also with aliases
expanded) and 100 levels deep (agent.model.yamlsafe); network and trace files at most
64 MiB; GML at most 100 levels deep; resource expressions at most 1,000 characters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MAX_TIME_MS = 1e12
MAX_FLOWS_PER_STEP = 100_000
MAX_SIM_NODES = 1_000
MAX_STATE_CELLS = 1_000_000
MAX_CHAIN_LENGTH = 100
MAX_STEPS = 1_000_000
MAX_TRACE_ROWS = 1_000_000


@dataclass(frozen=True)
class MeanSource:
    """Where a mean inter-arrival time comes from, for the error message."""

    mean: float
    path: str | None
    where: str
    line: int | None


def flows_per_window(
    window_ms: float, ingress: Sequence[str], smallest_mean: dict[str, MeanSource]
) -> tuple[float, MeanSource | None]:
    """Expected flows drawn at once over all ``ingress`` nodes, and the smallest mean
    that contributes (the key to blame)."""
    total, worst = 0.0, None
    for node in ingress:
        source = smallest_mean.get(node)
        if source is None:
            continue
        total += window_ms / source.mean if source.mean > 0 else math.inf
        if worst is None or source.mean < worst.mean:
            worst = source
    return total, worst
