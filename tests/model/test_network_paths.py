"""All-pairs shortest paths without networkx equal networkx's Johnson: the same paths
(ties included), the same delays, the same order, on every bundled network, every
routing mode, with and without failed elements."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from agent.model.network import Link, Network, Node, Routing, _networkx_paths
from agent.model.network import Path as RoutePath
from agent.model.network_io import NetworkOptions, load_network
from tests.conftest import TOPOLOGIES

FILES = sorted([*TOPOLOGIES.rglob("*.graphml"), *TOPOLOGIES.rglob("*.gml")])
OPTIONS = NetworkOptions(node_cap=1.0, require_node_cap=False)


def _networkx(
    network: Network, routing: Routing, down: frozenset[str], cut: frozenset[frozenset[str]]
) -> dict[tuple[str, str], RoutePath]:
    return _networkx_paths(network.graph(routing, down, cut))


def _check(
    network: Network,
    routing: Routing,
    down: frozenset[str] = frozenset(),
    cut: frozenset[frozenset[str]] = frozenset(),
) -> None:
    mine = network.shortest_paths(routing, down, cut)
    assert list(mine.items()) == list(_networkx(network, routing, down, cut).items())


@pytest.mark.parametrize("file", FILES, ids=lambda f: f.stem)
def test_bundled_networks_route_as_networkx_routes_them(file: Path) -> None:
    network = load_network(file, OPTIONS)
    if len(network.nodes) > 120:
        pytest.skip("large: covered by the smaller ones")
    rng = random.Random(file.name)
    for routing in Routing:
        _check(network, routing)
        down = frozenset(rng.sample(network.node_ids, len(network.nodes) // 6))
        cut = frozenset(rng.sample([link.key for link in network.links], len(network.links) // 6))
        _check(network, routing, down, cut)


def test_hand_made_links_zero_infinite_repeated_and_loops() -> None:
    nodes = tuple(Node(f"n{i}", 1.0) for i in range(5))
    links = (
        Link("n0", "n1", 0.0, 2.0),  # no capacity: infinite weight, still a path
        Link("n1", "n2", None, 0.0),
        Link("n2", "n3", 5.0, 0.0),  # zero weight
        Link("n3", "n0", 5.0, 1.0),
        Link("n1", "n0", 3.0, 1.0),  # repeats n0-n1 the other way round: last values win
        Link("n4", "n4", 1.0, 1.0),  # a self-loop on an isolated node
        Link("n2", "n0", 1.0, 1.0),
        Link("n3", "n1", 1.0, 1.0),  # ties with n3-n2-n1 under hop counting
    )
    network = Network("hand", nodes, links)
    for routing in Routing:
        _check(network, routing)
        _check(network, routing, frozenset({"n2"}), frozenset({frozenset({"n3", "n0"})}))
    paths = network.shortest_paths(Routing.COORD_SIM)
    assert paths[("n4", "n4")] == RoutePath(("n4",), 0.0)
    assert ("n0", "n4") not in paths


def test_negative_delays_take_networkx_s_johnson() -> None:
    nodes = tuple(Node(f"n{i}", 1.0) for i in range(3))
    links = (Link("n0", "n1", None, -1.0), Link("n1", "n2", None, 2.0))
    network = Network("negative", nodes, links)
    with pytest.raises(Exception, match="Negative cycle"):
        network.shortest_paths(Routing.DELAY)
