"""A cumulative latency histogram in Prometheus's shape (bucket bounds in seconds)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

# 0.5 ms .. 10 s: decision cycles take about 1 ms, installs into switches 100+ ms
BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BOUNDS) + 1))  # + the +Inf
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BOUNDS, seconds)] += 1
        self.total += seconds
        self.count += 1

    def to_json(self) -> dict[str, Any]:
        """Cumulative buckets as (upper bound, count) pairs, the last one "+Inf"."""
        running, buckets = 0, []
        for bound, n in zip((*map(str, BOUNDS), "+Inf"), self.counts, strict=True):
            running += n
            buckets.append((bound, running))
        return {"buckets": buckets, "sum": self.total, "count": self.count}
