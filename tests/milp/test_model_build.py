"""The model builder's matrix, the flow bounds of the MILP, the advertisement's route
search (against networkx's Dijkstra, whose choices between equal routes it keeps) and the
k-means hierarchy's reuse."""

from __future__ import annotations

import dataclasses
import itertools
import random

import networkx as nx
import pytest

from agent.model.hvc import Overlay, OverlayEdge, OverlayPath, Problem, Request, Substrate, Vnf
from agent.model.hvc_expr import Linear
from agent.model.hvc_topology import annotate_like_hvc, read_sndlib_xml
from agent.policies.milp.advertise import _disjoint_paths, _shortest_route
from agent.policies.milp.hierarchy import kmeans_hierarchy
from agent.policies.milp.lp import LpBuilder, SolverOptions, solve_lp
from agent.policies.milp.model import MilpModel
from agent.policies.milp.solve import solve_problem
from tests.milp.conftest import TOPOLOGIES_MILP


def test_matrix_merges_repeated_columns_in_order_of_first_term() -> None:
    lp = LpBuilder()
    for _ in range(3):
        lp.var()
    lp.row([(2, 1.0), (0, 2.0), (2, -1.0), (1, 3.0), (0, 0.5)], ub=1.0)
    lp.row([], lb=0.0)
    lp.row([(1, 1.0), (1, 1.0)], ub=2.0)
    values, columns, starts = lp.matrix()
    assert list(starts) == [0, 2, 2, 3]
    assert list(columns) == [0, 1, 1]  # column 2 summed to zero: left out
    assert list(values) == [2.5, 3.0, 2.0]


def test_linked_columns_carry_flow_only_where_the_binary_is_set() -> None:
    lp = LpBuilder()
    flows, used = lp.linked([4.0, 9.0])
    assert list(flows) == [0, 2] and list(used) == [1, 3]
    assert lp.upper == [4.0, 1.0, 9.0, 1.0] and lp.integer == [False, True, False, True]
    lp.row([(flows[0], 1.0), (flows[1], 1.0)], lb=6.0, ub=6.0)  # 6 units over the two
    lp.set_costs([(used[0], 1.0), (used[1], 1.5)])
    result = solve_lp(lp, SolverOptions(time_limit_s=10.0))
    assert result.objective == pytest.approx(1.5)  # 6 > 4: only the second alone carries it
    assert result.values[used[1]] == pytest.approx(1.0)
    assert result.values[used[0]] == pytest.approx(0.0)


def _line(rate: float) -> Problem:
    """a -> b -> c, edge rates 10 and 30; one request a -> c placing A."""
    edges = {
        "e1": OverlayEdge("e1", "a", "b", 1.0, 10.0),
        "e2": OverlayEdge("e2", "b", "c", 1.0, 30.0),
    }
    paths = {"p": OverlayPath("p", "b", "b~", "d", 100.0, 0.0, 1e6)}
    back = {"p:bw": OverlayPath("p:bw", "b~", "b", "d", 0.0, 0.0, 1e6)}
    overlay = Overlay({"d": ("a", "b", "c", "b~")}, {**paths, **back}, edges)
    vnfs = {"A": Vnf("A", Linear(0.5, 0.0), Linear(1.0, 0.0))}
    request = Request("r", "a", "c", rate, ("A",), "chain")
    return Problem(overlay, vnfs, {"r": request}, "line")


def test_flows_are_bounded_by_the_link_rate_unless_capacities_are_elastic() -> None:
    model = MilpModel(_line(8.0)).build()
    upper = model.lp.upper
    assert upper[model.flow[("r", 0, "e1")]] == 8.0  # the request's rate, below 10
    model = MilpModel(_line(20.0)).build()
    assert model.lp.upper[model.flow[("r", 0, "e1")]] == 10.0  # the link's rate
    assert model.lp.upper[model.flow[("r", 1, "e2")]] == 20.0
    elastic = MilpModel(_line(20.0), elastic=True).build()
    assert elastic.lp.upper[elastic.flow[("r", 0, "e1")]] == 20.0  # slack may exceed it
    assert solve_problem(_line(8.0)).objective == pytest.approx(2 + 1 + 2.0)
    blocked = solve_problem(_line(20.0))
    assert not blocked.feasible and blocked.infeasibility is not None
    assert "rate of edge e1" in blocked.infeasibility.describe()


def _random_multigraph(rng: random.Random, nodes: int, edges: int) -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    for index in range(edges):
        u, v = rng.sample(range(nodes), 2)
        delay = float(rng.choice([1, 2, 3]))  # small integers: many equally short routes
        graph.add_edge(f"n{u}", f"n{v}", key=f"l{index}", delay=delay)
    return graph


def _networkx_disjoint(
    graph: nx.MultiDiGraph, sources: list[str], targets: list[str], limit: int | None
) -> list[tuple[str, ...]]:
    """The search as networkx does it, on copies of the graph."""
    targets = [t for t in targets if t not in sources]
    routes: list[tuple[str, ...]] = []
    for source in sources if targets else []:
        work = nx.MultiDiGraph(graph)
        work.add_edges_from((t, "<t>", "<t>", {"delay": 0.0}) for t in targets)
        found = 0
        while limit is None or found < limit:
            found += 1
            try:
                hops = nx.dijkstra_path(
                    work, source, "<t>", weight=lambda u, v, d: min(a["delay"] for a in d.values())
                )
            except (nx.NetworkXNoPath, nx.NodeNotFound):
                break
            keys: list[str] = []
            for u, v in itertools.pairwise(hops[:-1]):
                delays = {key: data["delay"] for key, data in work[u][v].items()}
                keys.append(min(delays, key=delays.__getitem__))
            routes.append(tuple(keys))
            work.remove_edges_from(
                (u, v, k) for (u, v), k in zip(itertools.pairwise(hops[:-1]), keys, strict=True)
            )
    return routes


def _adjacency(graph: nx.MultiDiGraph) -> dict[str, dict[str, dict[str, float]]]:
    adjacency: dict[str, dict[str, dict[str, float]]] = {}
    for u, v, key, data in graph.edges(keys=True, data=True):
        adjacency.setdefault(u, {}).setdefault(v, {})[key] = data["delay"]
    return adjacency


@pytest.mark.parametrize("seed", range(12))
def test_route_search_chooses_as_networkx_between_equal_routes(seed: int) -> None:
    rng = random.Random(seed)
    graph = _random_multigraph(rng, 9, 30)
    nodes = sorted(graph.nodes)
    for limit in (None, 1, 2):
        sources, targets = rng.sample(nodes, 2), rng.sample(nodes, 3)
        mine = _disjoint_paths(_adjacency(graph), sources, targets, limit)
        assert mine == _networkx_disjoint(graph, sources, targets, limit)
    source, target = rng.sample(nodes, 2)
    try:
        expected: list[str] | None = nx.dijkstra_path(graph, source, target, weight="delay")
    except nx.NetworkXNoPath:
        expected = None
    assert _shortest_route(_adjacency(graph), source, target) == expected


def test_route_search_leaves_its_input_unchanged() -> None:
    graph = _adjacency(_random_multigraph(random.Random(5), 6, 20))
    before = {u: {v: dict(k) for v, k in out.items()} for u, out in graph.items()}
    _disjoint_paths(graph, ["n0", "n1"], ["n4", "n5"], None)
    assert graph == before


def test_kmeans_hierarchy_is_clustered_once_per_network() -> None:
    janos: Substrate = annotate_like_hvc(read_sndlib_xml(TOPOLOGIES_MILP / "janos-us.xml"))
    first = kmeans_hierarchy(janos, (5, 2), seed=4)
    assert kmeans_hierarchy(janos, (5, 2), seed=4) is first  # the same tree, not recomputed
    other = kmeans_hierarchy(janos, (5, 2), seed=5)
    assert other is not first
    shifted = {n: (x + 1.0, y) for n, (x, y) in janos.coordinates.items()}
    moved = dataclasses.replace(janos, coordinates=shifted)
    assert kmeans_hierarchy(moved, (5, 2), seed=4) is not first  # other coordinates
