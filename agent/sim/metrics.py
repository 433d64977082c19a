"""What the simulator counts: per control step and in total."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum


class DropReason(StrEnum):
    NODE_CAP = "NODE_CAP"  # no capacity, or no instance of the SF at the node
    LINK_CAP = "LINK_CAP"
    TTL = "TTL"
    DECISION = "DECISION"  # no schedule for the flow's node/chain/SF
    FAILURE = "FAILURE"  # the flow met a failed node or link, or its target is unreachable


REASONS: tuple[str, ...] = tuple(reason.value for reason in DropReason)


@dataclass
class StepMetrics:
    """One control step (``run_duration`` ms) of one episode."""

    episode: int
    step: int
    time: float
    generated: int = 0
    successful: int = 0
    dropped: int = 0
    drops: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    drops_by_node: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    delays: list[float] = field(default_factory=list)
    node_utilisation: dict[str, float] = field(default_factory=dict)
    link_utilisation: dict[str, float] = field(default_factory=dict)

    @property
    def success_ratio(self) -> float:
        done = self.successful + self.dropped
        return self.successful / done if done else 1.0

    def row(self) -> dict[str, float | int]:
        util = list(self.node_utilisation.values())
        links = list(self.link_utilisation.values())
        return {
            "episode": self.episode,
            "step": self.step,
            "time_ms": self.time,
            "generated": self.generated,
            "successful": self.successful,
            "dropped": self.dropped,
            **{f"drop_{reason.lower()}": count for reason, count in self.drops.items()},
            "in_flight": self.in_flight,
            "delay_mean_ms": _mean(self.delays),
            "delay_max_ms": max(self.delays, default=0.0),
            "node_util_mean": _mean(util),
            "node_util_max": max(util, default=0.0),
            "link_util_max": max(links, default=0.0),  # busiest link's mean over the step
        }


@dataclass
class Totals:
    """Sums over steps (and episodes); ``success_ratio`` is successful / generated."""

    episodes: int = 0
    steps: int = 0
    generated: int = 0
    successful: int = 0
    dropped: int = 0
    in_flight: int = 0
    drops: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    drops_by_node: dict[str, int] = field(default_factory=dict)
    delays: list[float] = field(default_factory=list)

    def add_step(self, step: StepMetrics) -> None:
        self.steps += 1
        self.generated += step.generated
        self.successful += step.successful
        self.dropped += step.dropped
        for reason, count in step.drops.items():
            self.drops[reason] += count
        for node, count in step.drops_by_node.items():
            self.drops_by_node[node] = self.drops_by_node.get(node, 0) + count
        self.delays.extend(step.delays)

    def end_episode(self, in_flight: int) -> None:
        self.episodes += 1
        self.in_flight += in_flight

    def merge(self, other: Totals) -> None:
        self.episodes += other.episodes
        self.steps += other.steps
        self.generated += other.generated
        self.successful += other.successful
        self.dropped += other.dropped
        self.in_flight += other.in_flight
        for reason, count in other.drops.items():
            self.drops[reason] += count
        for node, count in other.drops_by_node.items():
            self.drops_by_node[node] = self.drops_by_node.get(node, 0) + count
        self.delays.extend(other.delays)

    @property
    def success_ratio(self) -> float:
        return self.successful / self.generated if self.generated else 0.0

    def summary(self) -> dict[str, object]:
        return {
            "episodes": self.episodes,
            "steps": self.steps,
            "success_ratio": round(self.success_ratio, 6),
            "generated": self.generated,
            "successful": self.successful,
            "dropped": self.dropped,
            "in_flight": self.in_flight,
            "drops": dict(self.drops),
            "drops_by_node": dict(sorted(self.drops_by_node.items())),
            "delay_ms": round(_mean(self.delays), 4),
            "delay_p95_ms": round(percentile(self.delays, 95), 4),
            "delay_max_ms": round(max(self.delays, default=0.0), 4),
        }


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
