"""hvc's own test scenarios, solved with HiGHS, against what hvc's tests assert and against
the solutions hvc (Gurobi) wrote for its GraphML scenarios."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from agent.model.hvc import Problem, with_backward
from agent.model.hvc_io import (
    read_advertised_restrictions,
    read_chains,
    read_network_description,
    read_requests,
    read_vnf_descriptions,
)
from agent.model.hvc_scenario import load_milp_inputs
from agent.model.hvc_topology import read_hvc_gml
from agent.model.hvc_yaml import load_hvc_yaml
from agent.policies.milp.advertise import Placement
from agent.policies.milp.api import SolveSettings, solve_inputs
from agent.policies.milp.lp import Status
from agent.policies.milp.solve import Solution, solve_problem
from tests.milp.conftest import DATA


def overlay_problem(name: str, backward: bool) -> Problem:
    """As hvc's gurobipy tests build it (backward paths are its default)."""
    folder = DATA / name
    chains = read_chains(folder / "chains.yaml")
    overlay = read_network_description(folder / "network_description.yaml")
    overlay = read_advertised_restrictions(folder / "advertised_restrictions.yaml", overlay)
    overlay = with_backward(overlay) if backward else overlay
    requests = read_requests(folder / "vnf_requests.yaml", chains, set(overlay.nodes))
    return Problem(overlay, read_vnf_descriptions(folder / "vnf_descriptions.yaml"), requests)


def placed(solution: Solution) -> set[tuple[str, str]]:
    return {(i.vnf, i.path) for i in solution.instances_placed}


def test_scenario_1_places_two_vnfs() -> None:
    solution = solve_problem(overlay_problem("scenario_1", backward=True))
    assert solution.status is Status.OPTIMAL
    assert solution.instances == 2  # hvc: 2 + one SRC and one DST placement
    assert solution.objective == pytest.approx(2 + 2 + 3.0)  # e2 (delay 3) is the only link


def test_scenario_2_avoids_the_slow_edge() -> None:
    solution = solve_problem(overlay_problem("scenario_2", backward=False))
    assert solution.instances == 2
    vnf_paths = placed(solution)
    assert len(vnf_paths & {("A", "p1"), ("A", "p2")}) == 1
    assert len(vnf_paths & {("B", "p3"), ("B", "p4")}) == 1
    assert not any(link == "e1" for (_, _, link) in solution.flows)  # delay 50


def test_scenario_3_puts_each_vnf_where_the_capacities_allow() -> None:
    solution = solve_problem(overlay_problem("scenario_3", backward=True))
    assert {("A", "p2"), ("B", "p4"), ("C", "p3")} == placed(solution)


def test_scenario_4_places_the_heavy_vnf_behind_the_bottleneck() -> None:
    solution = solve_problem(overlay_problem("scenario_4", backward=True))
    assert len(placed(solution) & {("A", "p3"), ("A", "p4")}) == 1
    assert not placed(solution) & {("A", "p1"), ("A", "p2")}


def test_too_little_cpu_is_infeasible_with_the_cpu_family_named() -> None:
    problem = overlay_problem("scenario_4", backward=True)
    overlay = problem.overlay
    small = {pid: replace(p, cpu=min(p.cpu, 5.0)) for pid, p in overlay.paths.items()}
    problem = replace(problem, overlay=replace(overlay, paths=small, shared_cpu=()))
    solution = solve_problem(problem)
    assert solution.status is Status.INFEASIBLE
    assert solution.infeasibility is not None
    assert solution.infeasibility.families[0] == "cpu"
    assert "CPU of path" in solution.infeasibility.describe()


def expected(name: str) -> tuple[int, float]:
    """Placements (gamma entries, SRC and DST included) and the delay of every request
    arc's links in hvc's written solution."""
    folder = DATA / name
    solution = load_hvc_yaml(folder / "expected_overlay_solution.yaml", "solution").data
    links = read_hvc_gml(folder / "atlanta_extended.gml").link_by_id()
    arcs: dict[tuple[str, str], set[str]] = {}
    pattern = re.compile(r"lambda_inter\[\((\w+?)_(request\d+)[^,]*,[^)]*\), [^,]+, [^,]+, (\w+)\]")
    for key in solution:
        match = pattern.match(key)
        if match:
            arcs.setdefault((match.group(2), match.group(1)), set()).add(match.group(3))
    gammas = sum(1 for key in solution if key.startswith("gamma"))
    return gammas, sum(links[e].delay for used in arcs.values() for e in used)


@pytest.mark.parametrize(
    ("name", "placement", "same_as_hvc"),
    [
        ("graph_ml_scenario_1", Placement.PATHS, True),  # hvc's own abstraction
        ("graph_ml_scenario_1", Placement.BORDER, False),  # ours finds the optimum
        ("graph_ml_scenario_2", Placement.PATHS, True),
        ("graph_ml_scenario_2", Placement.BORDER, True),
        ("graph_ml_scenario_3", Placement.BORDER, True),  # a flat hierarchy
    ],
)
def test_graphml_scenarios_against_hvcs_solutions(
    name: str, placement: Placement, same_as_hvc: bool
) -> None:
    inputs = load_milp_inputs(DATA / name)
    result = solve_inputs(inputs, SolveSettings(hierarchy=inputs.hierarchy, placement=placement))
    flat = solve_inputs(inputs, SolveSettings(levels=1))
    gammas, delay = expected(name)
    hvc_objective = gammas + delay
    assert result.status == "optimal" and flat.status == "optimal"
    assert flat.objective <= hvc_objective + 1e-6  # the centralised optimum is never worse
    if same_as_hvc:
        assert result.objective == pytest.approx(hvc_objective)
        assert result.instances + result.endpoint_placements == gammas
        assert result.arc_delay_ms == pytest.approx(delay)
    else:
        assert result.objective == pytest.approx(flat.objective)
        assert result.objective < hvc_objective


def test_flat_scenario_3_matches_hvc_exactly() -> None:
    """hvc's flat solution: A and B at N5 and N12 (8 placements), delay 27; ours is a tie."""
    inputs = load_milp_inputs(DATA / "graph_ml_scenario_3")
    result = solve_inputs(inputs, SolveSettings(levels=1))
    assert (result.instances, result.total_delay_ms, result.objective) == (4, 27.0, 35.0)
