"""Corridors: each request's links within a bounded detour, the fallback to all links
when that leaves no solution, and hierarchies solved with corridors and MIP gaps."""

from __future__ import annotations

import random

import pytest

from agent.model.hvc import (
    Overlay,
    OverlayEdge,
    OverlayPath,
    Problem,
    Request,
    Substrate,
    Vnf,
)
from agent.model.hvc_expr import Linear
from agent.model.hvc_scenario import MilpInputs
from agent.model.hvc_topology import annotate_like_hvc, read_sndlib_xml
from agent.policies.milp.api import SolveSettings, solve_inputs
from agent.policies.milp.corridor import corridor
from agent.policies.milp.lp import SolverOptions, Status
from agent.policies.milp.model import MilpModel
from agent.policies.milp.solve import MilpOptions, solve_problem
from tests.milp.conftest import TOPOLOGIES_MILP

VNF_A = {"A": Vnf("A", Linear(0.5, 0.0), Linear(1.0, 0.0))}


def _diamond(short_rate: float = 50.0, egress: str | None = "d") -> Problem:
    """a -> b -> d (delay 2, the last link of rate ``short_rate``), a -> c -> d (delay
    10), a detour d -> e -> d (delay 40); CPU at a only."""
    links = [
        ("ab", "a", "b", 1.0, 50.0),
        ("bd", "b", "d", 1.0, short_rate),
        ("ac", "a", "c", 5.0, 50.0),
        ("cd", "c", "d", 5.0, 50.0),
        ("de", "d", "e", 20.0, 50.0),
        ("ed", "e", "d", 20.0, 50.0),
    ]
    edges = {i: OverlayEdge(i, s, t, delay, rate) for i, s, t, delay, rate in links}
    paths = {
        "p": OverlayPath("p", "a", "a~", "x", 100.0, 0.0, 1e6),
        "p:bw": OverlayPath("p:bw", "a~", "a", "x", 0.0, 0.0, 1e6),
    }
    overlay = Overlay({"x": ("a", "b", "c", "d", "e", "a~")}, paths, edges)
    request = Request("r", "a", egress, 10.0, ("A",), "chain")
    return Problem(overlay, VNF_A, {"r": request}, "diamond")


def test_corridor_keeps_the_links_of_routes_within_the_detour() -> None:
    problem = _diamond()
    links = MilpModel(problem).build().links
    request = problem.requests["r"]
    assert set(corridor(problem, request, links, 0.5)) == {"ab", "bd", "p", "p:bw"}
    assert set(corridor(problem, request, links, 4.0)) == {"ab", "bd", "ac", "cd", "p", "p:bw"}
    assert set(corridor(problem, request, links, 100.0)) == set(links)
    no_egress = _diamond(egress=None)
    assert corridor(no_egress, no_egress.requests["r"], links, 0.5) == list(links)


def test_model_with_a_corridor_has_columns_only_for_its_links() -> None:
    narrow = MilpModel(_diamond(), corridor=0.5).build()
    wide = MilpModel(_diamond()).build()
    assert {link for _, _, link in narrow.flow} == {"ab", "bd", "p", "p:bw"}
    assert narrow.lp.n_cols < wide.lp.n_cols
    solved = solve_problem(_diamond(), MilpOptions(corridor=(0.5,)))
    assert solved.status is Status.OPTIMAL and not solved.widened
    assert solved.objective == pytest.approx(solve_problem(_diamond()).objective)
    assert {"ab", "bd"} <= {link for _, _, link in solved.flows} <= {"ab", "bd", "p", "p:bw"}


def test_corridor_without_a_solution_falls_back_to_every_link() -> None:
    blocked = _diamond(short_rate=5.0)  # the short route carries 5 of 10
    narrow = MilpModel(blocked, corridor=0.5).build()
    assert "ac" not in {link for _, _, link in narrow.flow}
    solved = solve_problem(blocked, MilpOptions(corridor=(0.0, 0.5)))
    exact = solve_problem(blocked)
    assert solved.status is exact.status is Status.OPTIMAL
    assert solved.objective == pytest.approx(exact.objective)
    assert {"ac", "cd"} <= {link for _, _, link in solved.flows}
    assert solved.widened and not exact.widened
    assert solved.infeasibility is None


def test_corridors_are_tried_in_turn_until_one_has_a_solution() -> None:
    blocked = _diamond(short_rate=5.0)
    second = solve_problem(blocked, MilpOptions(corridor=(0.0, 4.0)))
    assert second.status is Status.OPTIMAL and second.widened
    assert {link for _, _, link in second.flows} <= {"ab", "bd", "ac", "cd", "p", "p:bw"}
    assert second.objective == pytest.approx(solve_problem(blocked).objective)
    nowhere = _diamond(short_rate=5.0)
    overlay = nowhere.overlay
    tight = {k: e for k, e in overlay.edges.items() if k != "cd"}
    cut = Problem(
        Overlay(overlay.domains, overlay.paths, tight), nowhere.vnfs, nowhere.requests, "cut"
    )
    failed = solve_problem(cut, MilpOptions(corridor=(0.0, 4.0)))
    assert failed.status is Status.INFEASIBLE and failed.infeasibility is not None
    assert "rate of edge bd" in failed.infeasibility.describe()


def _janos_inputs(flows: int, seed: int) -> MilpInputs:
    substrate: Substrate = annotate_like_hvc(read_sndlib_xml(TOPOLOGIES_MILP / "janos-us.xml"))
    vnfs = {
        "A": Vnf("A", Linear(0.5, 0.0), Linear(1.5, 0.0)),
        "B": Vnf("B", Linear(0.3, 0.0), Linear(1.3, 0.0)),
    }
    cities = ("Seattle", "Miami", "Boston", "LosAngeles", "Chicago", "Dallas")
    rng = random.Random(seed)
    requests = {}
    for i in range(flows):
        a, b = rng.sample(cities, 2)
        requests[f"r{i}"] = Request(f"r{i}", a, b, float(rng.randint(5, 15)), ("A", "B"), "c")
    return MilpInputs("janos", vnfs, requests, substrate)


@pytest.mark.parametrize("seed", [1, 5])  # (seed 2: no 3-level hierarchy has a solution)
def test_hierarchy_with_corridor_and_gap_stays_close_to_the_optimum(seed: int) -> None:
    inputs = _janos_inputs(4, seed)
    flat = solve_inputs(inputs, SolveSettings(levels=1))
    cheap = SolveSettings(
        levels=3,
        domains=(8, 2),
        milp=MilpOptions(SolverOptions(mip_gap=0.05), lexicographic=False, corridor=(0.0, 0.5)),
    )
    three = solve_inputs(inputs, cheap)
    assert flat.status == "optimal" and three.feasible
    assert flat.objective <= three.objective + 1e-6
    assert three.total_delay_ms <= 1.3 * flat.total_delay_ms
    assert max(d.gap for d in three.domains) <= 0.05 + 1e-9
    for name, request in inputs.requests.items():
        nodes = three.position_rates[(name, 1)]
        assert sum(nodes.values()) == pytest.approx(request.rate)
