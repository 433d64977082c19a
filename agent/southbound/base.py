"""What the daemon needs from the world, whatever plays the network."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from agent.model.network import Network
from agent.model.types import Decision, Observation
from agent.model.wiring import Wiring
from agent.rules.diff import Change
from agent.rules.intents import Intent


@dataclass(frozen=True)
class InstallError:
    index: int  # into the batch
    dpid: int
    message: str
    type: int = -1  # OpenFlow error type and code, -1 when not from a switch
    code: int = -1


@dataclass(frozen=True)
class InstallResult:
    errors: tuple[InstallError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class Snapshot:
    """What the backend says at one moment, read at once: every stage of a decision
    cycle sees the same failure set even while the backend moves on."""

    observation: Observation | None  # None before any monitoring
    down_nodes: frozenset[str]
    down_links: frozenset[frozenset[str]]
    unreachable: frozenset[int]  # switches (dpids) whose rules cannot change now
    ages: dict[str, float | None]  # seconds since each node's switch reported; None: never

    @property
    def freshest_age(self) -> float | None:
        known = [age for age in self.ages.values() if age is not None]
        return min(known) if known else None


@dataclass
class BackendEvents:
    """Set by the backend when the installed rules may no longer be what we think
    (controller reconnected, switch restarted): the daemon reconciles."""

    reconcile_reasons: list[str] = field(default_factory=list)


class Backend(Protocol):
    name: str
    network: Network
    wiring: Wiring
    events: BackendEvents

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def snapshot(self) -> Snapshot:
        """Observation, failures, unreachable switches and report ages, consistent with
        each other (one reading)."""

    def observation(self) -> Observation | None:
        """The latest view of the network (partial and delayed), None before any."""

    def report_ages(self) -> dict[str, float | None]:
        """Seconds since each node's switch last reported; None if it never did."""

    def down(self) -> tuple[frozenset[str], frozenset[frozenset[str]]]:
        """Failed nodes and links as far as the backend knows."""

    def unreachable(self) -> frozenset[int]:
        """Switches (dpids) whose rules cannot be changed now: left out of the diff
        until they are back and reconciled."""

    async def apply(self, changes: list[Change], decision: Decision) -> InstallResult: ...

    async def dump(self, dpids: frozenset[int] | None = None) -> list[Intent]:
        """Read back the rules that are ours (on ``dpids`` only, when given)."""

    def stats(self) -> dict[str, float]:
        """Backend-specific figures for status and metrics."""
