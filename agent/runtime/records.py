"""What the decision cycle records: one cycle's outcome and the running counters."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.runtime.histogram import Histogram


@dataclass
class CycleRecord:
    started: float  # unix time
    policy: str
    fallback: str | None  # why the fallback decided, if it did
    changes: int
    install_ok: bool
    errors: list[str]
    latency_ms: dict[str, float]


@dataclass
class Counters:
    cycles: int = 0
    fallbacks: int = 0
    install_errors: int = 0
    verify_failures: int = 0
    reconciliations: int = 0
    config_errors: int = 0
    cycle_failures: int = 0  # cycles a stage failed (raised or missed its deadline)
    late_cycles: int = 0  # cycles that started after their tick
    missed_cycles: int = 0  # ticks skipped because a cycle ran over a whole interval
    latencies: list[float] = field(default_factory=list)  # decide-to-batch, ms, recent
    decision_seconds: Histogram = field(default_factory=Histogram)  # decide-to-batch
    install_seconds: Histogram = field(default_factory=Histogram)  # batches sent
