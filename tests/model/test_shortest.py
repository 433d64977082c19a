"""The shared Dijkstra gives networkx's distances and, ties included, its paths."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import networkx as nx
import pytest

from agent.model.shortest import dijkstra, route


def random_graph(seed: int) -> nx.Graph:
    rng = random.Random(seed)
    graph = nx.gnm_random_graph(14, 30, seed=seed)
    for a, b in graph.edges:
        graph[a][b]["weight"] = rng.choice([1, 1, 2, 3])  # many equal lengths: ties
    return graph


def arcs(graph: nx.Graph) -> Callable[[int], Iterator[tuple[int, float]]]:
    return lambda node: ((nxt, data["weight"]) for nxt, data in graph[node].items())


@pytest.mark.parametrize("seed", range(12))
def test_distances_and_paths_are_networkxs(seed: int) -> None:
    graph = random_graph(seed)
    for source in graph.nodes:
        settled, pred = dijkstra(source, arcs(graph))
        lengths, paths = nx.single_source_dijkstra(graph, source, weight="weight")
        assert settled == pytest.approx(lengths)
        assert list(settled) == list(lengths)  # the same settling order
        for target in settled:
            assert route(pred, source, target) == paths[target]


def test_a_target_stops_the_search_once_settled() -> None:
    line = nx.path_graph(6)
    nx.set_edge_attributes(line, 1, "weight")
    settled, pred = dijkstra(0, arcs(line), target=2)
    assert list(settled) == [0, 1, 2] and route(pred, 0, 2) == [0, 1, 2]
    apart = nx.Graph([(0, 1), (2, 3)])
    nx.set_edge_attributes(apart, 1, "weight")
    unreachable, _ = dijkstra(0, arcs(apart), target=3)
    assert unreachable == {0: 0.0, 1: 1.0}


def test_parallel_arcs_keep_the_shorter() -> None:
    arcs_of = {"a": [("b", 5.0), ("b", 2.0)], "b": [("c", 1.0)], "c": []}
    settled, pred = dijkstra("a", lambda n: arcs_of[n])
    assert settled == {"a": 0.0, "b": 2.0, "c": 3.0} and route(pred, "a", "c") == ["a", "b", "c"]
