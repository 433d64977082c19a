"""Hierarchies, advertisement and top-down coordination, serial and in worker processes."""

from __future__ import annotations

import random
import time

import pytest

from agent.model.hvc import Request, Substrate, Vnf
from agent.model.hvc_expr import Linear
from agent.model.hvc_scenario import MilpInputs, load_milp_inputs
from agent.model.hvc_topology import annotate_like_hvc, read_sndlib_xml
from agent.policies.milp.advertise import Advertise, Placement, plan_hierarchy
from agent.policies.milp.api import SolveSettings, choose_hierarchy, solve_inputs
from agent.policies.milp.coordinate import coordinate, serial_runner
from agent.policies.milp.hierarchy import kmeans, kmeans_hierarchy
from agent.policies.milp.parallel import local_runner
from agent.policies.milp.solve import MilpOptions
from tests.milp.conftest import DATA, TOPOLOGIES_MILP

VNFS = {
    "A": Vnf("A", Linear(0.5, 0.0), Linear(1.5, 0.0)),
    "B": Vnf("B", Linear(0.3, 0.0), Linear(1.3, 0.0)),
}
CITIES = ("Seattle", "Miami", "Boston", "LosAngeles", "Chicago", "Dallas")


@pytest.fixture(scope="module")
def janos() -> Substrate:
    return annotate_like_hvc(read_sndlib_xml(TOPOLOGIES_MILP / "janos-us.xml"))


def janos_inputs(substrate: Substrate, flows: int, seed: int = 1) -> MilpInputs:
    rng = random.Random(seed)
    requests = {}
    for i in range(flows):
        a, b = rng.sample(CITIES, 2)
        requests[f"r{i}"] = Request(f"r{i}", a, b, float(rng.randint(2, 6)), ("A", "B"), "c")
    return MilpInputs("janos", VNFS, requests, substrate)


def test_kmeans_separates_clusters_and_is_seeded() -> None:
    import numpy as np

    points = np.array([[0, 0], [0, 1], [1, 0], [10, 10], [10, 11], [11, 10]], dtype=float)
    _, labels = kmeans(points, 2, seed=3)
    assert labels[0] == labels[1] == labels[2] != labels[3] == labels[4] == labels[5]
    assert kmeans(points, 2, seed=3)[1] == labels


def test_kmeans_hierarchy_levels(janos: Substrate) -> None:
    root = kmeans_hierarchy(janos, (6, 2), seed=0)
    assert root.depth() == 3 and len(root.children) == 2
    leaves = [d for d in root.walk() if d.is_leaf]
    assert len(leaves) == 6
    assert sorted(n for leaf in leaves for n in leaf.nodes) == sorted(janos.nodes)
    assert kmeans_hierarchy(janos, (), 0).nodes == tuple(janos.nodes)


def test_janos_annotation_is_hvcs_generator(janos: Substrate) -> None:
    assert len(janos.links) == 84
    assert all(20 <= link.max_rate <= 40 for link in janos.links)
    assert all(8 <= cpu <= 64 for cpu in janos.cpu.values())
    pair = ("Seattle", "SanFrancisco")
    seattle_sf = next(link for link in janos.links if (link.src, link.dst) == pair)
    assert seattle_sf.delay == pytest.approx(2.8047, abs=1e-3)  # 1,092 km at 0.77 c


@pytest.mark.parametrize("mode", list(Advertise))
def test_advertised_paths_connect_every_border_node(janos: Substrate, mode: Advertise) -> None:
    inputs = janos_inputs(janos, 3)
    root = kmeans_hierarchy(janos, (4,), 0)
    plan = plan_hierarchy(root, janos, inputs.requests.values(), mode)
    for abstraction in plan.abstractions.values():
        transit = [ap for ap in abstraction.paths.values() if not ap.local]
        sources = {ap.path.src for ap in transit}
        assert transit
        # every border node but the egress-only ones can leave through some path
        egress_only = {r.egress for r in inputs.requests.values()} - {
            r.ingress for r in inputs.requests.values()
        }
        assert set(abstraction.border) - egress_only - sources == set()
        for ap in transit:
            assert ap.path.delay == pytest.approx(
                sum(janos.link_by_id()[x].delay for x in ap.links)
            )
            assert ap.path.max_rate == min(janos.link_by_id()[x].max_rate for x in ap.links)
    counts = {m: 0 for m in Advertise}
    for m in Advertise:
        counted = plan_hierarchy(root, janos, inputs.requests.values(), m)
        counts[m] = sum(len(a.paths) for a in counted.abstractions.values())
    assert counts[Advertise.ONE] <= counts[Advertise.TWO] <= counts[Advertise.FULL]


def test_hierarchy_is_close_to_the_centralised_optimum(janos: Substrate) -> None:
    inputs = janos_inputs(janos, 3)
    flat = solve_inputs(inputs, SolveSettings(levels=1))
    three = solve_inputs(inputs, SolveSettings(levels=3, domains=(8, 2)))
    assert flat.status == three.status == "optimal"
    assert flat.objective <= three.objective + 1e-6
    assert three.total_delay_ms <= 1.3 * flat.total_delay_ms
    assert {d.level for d in three.domains} == {0, 1, 2}
    # every request's VNFs are placed on substrate nodes, with all of its traffic
    for name, request in inputs.requests.items():
        for position in (1, 2):
            nodes = three.position_rates[(name, position)]
            assert set(nodes) <= set(janos.nodes)
            rates = [request.rate, request.rate * 1.5]
            assert sum(nodes.values()) == pytest.approx(rates[position - 1])


def test_domains_of_a_level_run_in_worker_processes(janos: Substrate) -> None:
    inputs = janos_inputs(janos, 3, seed=2)
    root = kmeans_hierarchy(janos, (6, 2), 0)
    plan = plan_hierarchy(root, janos, inputs.requests.values())
    options = MilpOptions()
    serial = coordinate(plan, VNFS, inputs.requests, options, serial_runner(time.perf_counter))
    with local_runner(2, time.perf_counter) as runner:
        pooled = coordinate(plan, VNFS, inputs.requests, options, runner)
    assert pooled.status == serial.status == "optimal"
    # the root solves the same MILP in both; below it, ties within the MIP gap may send
    # the children different (equally good) sub-requests
    roots = [r.domains[0] for r in (serial, pooled)]
    assert roots[0].name == roots[1].name == "root"
    assert roots[0].objective == pytest.approx(roots[1].objective, rel=1e-4)
    assert pooled.objective == pytest.approx(serial.objective, rel=0.1)
    assert all(d.status == "optimal" and d.runtime_s > 0 for d in pooled.domains)
    assert pooled.runtime_s <= sum(d.runtime_s for d in pooled.domains) + 1e-9


def test_infeasible_domain_is_reported_with_its_constraint_family() -> None:
    inputs = load_milp_inputs(DATA / "graph_ml_scenario_1")
    settings = SolveSettings(
        hierarchy=inputs.hierarchy, placement=Placement.PATHS, advertise=Advertise.ONE
    )
    result = solve_inputs(inputs, settings)
    assert result.status == "infeasible" and not result.feasible
    (report,) = [d for d in result.domains if d.status == "infeasible"]
    assert report.name == "rootCoordinator"
    assert report.problem.startswith("infeasible: path rate (shared rate coordinator4:")


def test_levels_without_coordinates_is_an_input_error() -> None:
    inputs = load_milp_inputs(DATA / "scenario_1")
    with pytest.raises(Exception, match="a hierarchy needs a substrate"):
        choose_hierarchy(inputs, SolveSettings(levels=2))
