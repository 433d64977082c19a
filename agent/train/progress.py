"""Progress of a training run, phase by phase.

A run goes through phases (the warm start's schedule search and imitation, reinforcement
learning, saving); each reports what it has done out of its total, the best score so far and
its own estimate of the time left. ``PhaseTracker`` is what a trainer holds while a phase
runs; it hands ``ProgressEvent``s to the run's ``Progress`` callback (at most every
``min_interval`` seconds, plus the phase's first and last event) and records the phase's wall
time. ``ProgressPrinter`` is such a callback: on a terminal it redraws one line, elsewhere
(a pipe, a log file, CI) it prints plain lines, at the start and end of each phase and every
``every_s`` seconds in between.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

PHASE_LABELS = {
    "search": "warm-start search",
    "prune": "warm-start pruning",
    "imitate": "warm-start imitation",
    "train": "training",
    "save": "saving",
    "evaluate": "evaluation",
}


@dataclass(frozen=True)
class ProgressEvent:
    phase: str  # search | prune | imitate | train | save | evaluate
    done: int
    total: int
    unit: str  # what ``done`` counts, plural ("schedules", "steps"); "": not shown
    elapsed_s: float  # since the phase began
    best: float | None = None  # best success ratio so far in this phase
    detail: str = ""
    finished: bool = False

    @property
    def eta_s(self) -> float | None:
        """Seconds left in this phase at the rate so far; None before the first unit."""
        if self.finished:
            return 0.0
        if self.done <= 0:
            return None
        return self.elapsed_s / self.done * (self.total - self.done)

    def line(self) -> str:
        label = PHASE_LABELS.get(self.phase, self.phase)
        items = [f"{self.done}/{self.total} {self.unit}"] if self.unit else []
        if self.best is not None:
            items.append(f"best {self.best:.4f}")
        if self.finished:
            items.append(f"done in {duration(self.elapsed_s)}")
        else:
            eta = self.eta_s
            items.append(f"{duration(self.elapsed_s)} elapsed")
            if eta is not None:
                items.append(f"ETA {duration(eta)}")
        if self.detail:
            items.append(self.detail)
        return f"{label}: " + ", ".join(items)


Progress = Callable[[ProgressEvent], None]


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class PhaseTracker:
    """One phase of a run: ``update`` as it goes, ``finish`` once at the end."""

    def __init__(
        self,
        sink: Progress | None,
        phase: str,
        total: int,
        unit: str,
        times: dict[str, float] | None = None,
        min_interval: float = 0.1,
    ) -> None:
        self.sink, self.phase, self.total, self.unit = sink, phase, max(0, total), unit
        self.times = times
        self.min_interval = min_interval
        self.began = time.perf_counter()
        self.last_emit = float("-inf")
        self.done = 0
        self.best: float | None = None
        self.detail = ""
        self._emit(force=True)

    def update(self, done: int, best: float | None = None, detail: str | None = None) -> None:
        self.done = min(done, self.total)
        if best is not None:
            self.best = best if self.best is None else max(self.best, best)
        if detail is not None:
            self.detail = detail
        self._emit(force=False)

    def finish(self) -> float:
        """Report the phase as done; returns (and records) its wall time."""
        elapsed = time.perf_counter() - self.began
        if self.times is not None:
            self.times[self.phase] = self.times.get(self.phase, 0.0) + elapsed
        self.done = self.total
        if self.sink is not None:
            self.sink(self._event(elapsed, finished=True))
        return elapsed

    def _emit(self, force: bool) -> None:
        if self.sink is None:
            return
        now = time.perf_counter()
        if force or now - self.last_emit >= self.min_interval:
            self.last_emit = now
            self.sink(self._event(now - self.began, finished=False))

    def _event(self, elapsed: float, finished: bool) -> ProgressEvent:
        return ProgressEvent(
            self.phase,
            self.done,
            self.total,
            self.unit,
            elapsed,
            self.best,
            self.detail,
            finished,
        )


class ProgressPrinter:
    """A ``Progress`` callback that writes to ``stream``: one redrawn line on a terminal
    (``tty``), plain lines otherwise."""

    def __init__(self, stream: TextIO, tty: bool, every_s: float = 10.0, prefix: str = "") -> None:
        self.stream, self.tty, self.every_s, self.prefix = stream, tty, every_s, prefix
        self.last_line: dict[str, float] = {}  # phase -> when its last plain line was printed
        self.width = 0

    def __call__(self, event: ProgressEvent) -> None:
        text = self.prefix + event.line()
        if self.tty:
            text = text[: max(20, shutil.get_terminal_size().columns - 1)]
            pad = " " * max(0, self.width - len(text))
            self.stream.write("\r" + text + pad + ("\n" if event.finished else ""))
            self.width = 0 if event.finished else len(text)
            self.stream.flush()
            return
        now = time.monotonic()
        first = event.phase not in self.last_line
        if first or event.finished or now - self.last_line[event.phase] >= self.every_s:
            self.last_line[event.phase] = now
            self.stream.write(text + "\n")
            self.stream.flush()
        if event.finished:
            self.last_line.pop(event.phase, None)
