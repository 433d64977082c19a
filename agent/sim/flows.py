"""The simulator's mutable state: flows in flight, node instances and loads, link usage.

Loads are released lazily: a finished flow's load goes into a per-node (or per-link)
heap of release times and is subtracted the next time anyone looks at that node, at
the latest at the end of the control step. That keeps release events out of the main
event queue, which is what makes the simulator fast.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

EPS = 1e-9  # loads below this are zero


class Flow:
    # the fields are also declared in flows.pxd (C types for the compiled loop): keep both
    __slots__ = (
        "chain",
        "delay",
        "duration",
        "egress",
        "epoch",
        "hop_i",
        "hops",
        "id",
        "node",
        "path_delay",
        "pos",
        "rate",
        "sf",
        "sfs",
        "to_egress",
        "ttl",
    )

    def __init__(
        self, fid: int, chain: int, rate: float, duration: float, ttl: float, node: int, egress: int
    ) -> None:
        self.id = fid
        self.chain = chain
        self.rate = rate
        self.duration = duration
        self.ttl = ttl
        self.node = node
        self.egress = egress
        self.pos = 0
        self.sf = -1
        self.sfs: tuple[int, ...] = ()  # the chain's SFs
        self.delay = 0.0
        self.to_egress = False
        self.hops: tuple[tuple[int, int, float], ...] = ()
        self.hop_i = 0
        self.path_delay = 0.0
        self.epoch = 0  # the processing node's epoch when processing started


class NodeState:
    """Instances on one node: ``instances[sf] = [load, startup_time]``."""

    # also declared in flows.pxd, as Flow's fields are
    __slots__ = ("cap", "down", "epoch", "instances", "load", "max_usage", "placed", "releases")

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.instances: dict[int, list[float]] = {}
        self.placed: frozenset[int] = frozenset()
        self.releases: list[tuple[float, int, int, float]] = []
        self.load = 0.0  # sum of instance loads
        self.max_usage = 0.0  # peak resource use this step
        self.down = False
        self.epoch = 0  # bumped when the node fails: work started before is lost

    def release_until(self, now: float) -> None:
        releases = self.releases
        while releases and releases[0][0] <= now:
            _, _, sf, rate = heapq.heappop(releases)
            instance = self.instances[sf]
            load = instance[0] - rate
            if load < EPS:
                load = 0.0
                if sf not in self.placed:
                    del self.instances[sf]
            instance[0] = load
            self.load -= rate
        if self.load < EPS:
            self.load = 0.0

    def usage(self, resource: list[Callable[[float], float]] | None) -> float:
        if resource is None:
            return self.load
        return sum(resource[sf](inst[0]) for sf, inst in self.instances.items())

    def place(self, sfs: frozenset[int], now: float) -> None:
        """coord-sim's rule: instances still carrying load stay, idle ones not in the new
        placement go, and every placed SF without load is (re)started now."""
        kept = {sf: inst for sf, inst in self.instances.items() if inst[0] != 0}
        for sf in sfs:
            if sf not in kept:
                kept[sf] = [0.0, now]
        self.instances = kept
        self.placed = sfs

    def clear(self) -> None:
        self.epoch += 1
        self.instances = {}
        self.releases = []
        self.load = 0.0


class LinkState:
    """Rate held on a link. ``used`` counts every holding not yet released, including
    holdings booked to start later and ended ones not yet purged: an upper bound that
    is enough to pass most capacity checks without purging. ``rate_time`` integrates
    rate x time, for the mean utilisation of the step."""

    __slots__ = ("cap", "down", "future", "future_rate", "rate_time", "releases", "used")

    def __init__(self, cap: float | None) -> None:
        self.cap = cap
        self.used = 0.0  # all holdings not yet released, started or booked for later
        self.rate_time = 0.0
        self.releases: list[tuple[float, float]] = []
        self.future: list[tuple[float, float]] = []  # (start, rate) of booked holdings
        self.future_rate = 0.0
        self.down = False

    def release_until(self, now: float) -> None:
        """Drop ended holdings; afterwards ``used - future_rate`` is the exact rate held."""
        releases, future = self.releases, self.future
        while releases and releases[0][0] <= now:
            self.used -= heapq.heappop(releases)[1]
        while future and future[0][0] <= now:
            self.future_rate -= heapq.heappop(future)[1]
        if self.used < EPS:
            self.used = 0.0
        if self.future_rate < EPS:
            self.future_rate = 0.0
