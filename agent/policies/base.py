"""The policy contract: ``predict(observation) -> Decision``.

A policy is built once from what is static (network, services, routing, a seed) and
then sees only observations. It never reads the clock and never does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agent.model.network import Network, Path, Routing
from agent.model.services import Services
from agent.model.types import Decision, Observation


@dataclass(frozen=True)
class PolicyContext:
    network: Network
    services: Services
    routing: Routing = Routing.COORD_SIM
    seed: int = 0

    def paths(
        self,
        down_nodes: frozenset[str] = frozenset(),
        down_links: frozenset[frozenset[str]] = frozenset(),
    ) -> dict[tuple[str, str], Path]:
        """Shortest paths on the working part of the network (cached by the network)."""
        return self.network.shortest_paths(self.routing, down_nodes, down_links)


class Policy(Protocol):
    name: str

    def predict(self, observation: Observation) -> Decision: ...
