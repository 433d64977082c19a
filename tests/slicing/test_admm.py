"""The slicing math: projections, the exact slave against a generic solver, the paper's
figures on its published instance, the baselines and the policy's capacity guarantee."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize

from agent.model.slicing import load_slicing_scenario
from agent.model.slicing_utility import Layout, qos_met, weighted_utility
from agent.policies.slicing import SlicingPolicy, make_method
from agent.policies.slicing import heuristics as h
from agent.policies.slicing.admm import (
    AdmmTrace,
    admm,
    exact_slave,
    project_capacity,
    project_simplex,
    raw_violation,
)

BUNDLED = Path(__file__).resolve().parents[2] / "topologies" / "slicing"
PAPER = load_slicing_scenario(BUNDLED / "paper.yaml")
THREE = load_slicing_scenario(BUNDLED / "three-service.yaml")


def test_simplex_projection_is_the_closest_point() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        v = rng.normal(0, 30, 6)
        z = project_simplex(v, 100.0)
        assert z.min() >= 0 and z.sum() == pytest.approx(100.0)
        other = rng.dirichlet(np.ones(6)) * 100
        assert np.sum((v - z) ** 2) <= np.sum((v - other) ** 2) + 1e-9


def test_capacity_projection_and_violation() -> None:
    fits = np.array([10.0, 20.0])
    assert np.array_equal(project_capacity(fits, 100.0), fits)
    over = np.array([80.0, 60.0])
    assert project_capacity(over, 100.0).sum() == pytest.approx(100.0)
    assert raw_violation(over, 100.0) == pytest.approx(0.4)
    assert raw_violation(fits, 100.0) == 0.0


def test_capacity_projection_keeps_the_floors_met() -> None:
    raw = np.array([2.0, 60.0, 50.0, 0.5])
    floors = np.array([1.9, 1.0, 1.0, 1.0])  # the last user's raw allocation missed it
    kept = project_capacity(raw, 100.0, floors)
    assert kept.sum() == pytest.approx(100.0)
    assert kept[0] >= 1.9 and kept[3] <= 0.5  # met floors kept, nobody raised
    plain = project_capacity(raw, 100.0)
    assert plain[0] < 1.9  # the plain projection takes the same shift from everyone
    closest = min(np.sum((raw - kept) ** 2), np.sum((raw - plain) ** 2))
    assert np.sum((raw - plain) ** 2) == closest


def _objective(layout: Layout, x: np.ndarray, target: float, demand: np.ndarray) -> float:
    gap = x.sum() - target
    return float(weighted_utility(layout, x, demand).sum() - 0.5 * layout.problem.rho * gap**2)


@pytest.mark.parametrize("target", [0.0, 5.0, 30.0, 80.0])
def test_exact_slave_matches_a_generic_solver(target: float) -> None:
    problem = PAPER.problem(12345678)
    layout = Layout.of(problem)
    demand = PAPER.demand(problem, 0)[0]
    x = exact_slave(layout, np.full(3, target), demand, problem.rho)
    floors = layout.floors(demand)
    for i in range(3):
        a, b = int(layout.starts[i]), int(layout.starts[i + 1])
        one = Layout.of(
            type(problem)(problem.capacity, problem.utility, (problem.slices[i],), problem.rho)
        )
        solved = minimize(
            lambda y, one=one, a=a, b=b: -_objective(one, y, target, demand[a:b]),
            floors[a:b] + 0.5,
            bounds=[(f, problem.capacity) for f in floors[a:b]],
            method="L-BFGS-B",
            options={"ftol": 1e-14, "gtol": 1e-10, "maxiter": 5000},
        )
        ours = _objective(one, x[a:b], target, demand[a:b])
        assert ours >= -solved.fun - 1e-5
        assert np.all(x[a:b] >= floors[a:b] - 1e-9)


def test_paper_figures_on_the_published_instance() -> None:
    problem = PAPER.problem(12345678)
    layout = Layout.of(problem)
    demand = PAPER.demand(problem, 0)[0]
    steps = PAPER.steps
    assert weighted_utility(
        layout, h.static(layout, demand), demand
    ).sum() * steps == pytest.approx(349.39, abs=0.01)
    trace = AdmmTrace()
    x = admm(
        layout, lambda t, d, _: exact_slave(layout, t, d, problem.rho), demand, np.zeros(15), trace
    )
    assert weighted_utility(layout, x, demand).sum() * steps == pytest.approx(478.8, abs=0.1)
    split = trace.totals[-1] / trace.totals[-1].sum() * 100
    assert split == pytest.approx([35.8, 31.6, 32.6], abs=0.06)
    assert qos_met(layout, x, demand).all()


@pytest.mark.parametrize("name", ["static", "proportional", "dynamic", "admm-opt", "optimum"])
def test_every_method_fits_the_capacity(name: str) -> None:
    problem = THREE.problem(0)
    policy = SlicingPolicy(problem, make_method(name))
    for row in THREE.demand(problem, 7)[:6]:
        decided = policy.allocate(row)
        assert decided.per_user.min() >= 0
        assert decided.per_user.sum() <= problem.capacity * (1 + 1e-9)
        assert decided.per_slice.sum() == pytest.approx(decided.per_user.sum())
        again = policy.allocate(row)
        assert np.array_equal(again.per_user, decided.per_user)


def test_dynamic_meets_floors_first() -> None:
    problem = THREE.problem(0)
    layout = Layout.of(problem)
    demand = THREE.demand(problem, 1)[0] * 3  # congested
    x = h.dynamic(layout, demand)
    assert x.sum() == pytest.approx(problem.capacity)
    assert qos_met(layout, x, demand).all()
    assert h.proportional(layout, demand) == pytest.approx(demand * problem.capacity / demand.sum())


def test_admm_opt_beats_static_on_the_three_services() -> None:
    problem = THREE.problem(0)
    layout = Layout.of(problem)
    opt, static = (
        SlicingPolicy(problem, make_method("admm-opt")),
        SlicingPolicy(problem, make_method("static")),
    )
    rows = THREE.demand(problem, 2)
    total = [
        sum(float(weighted_utility(layout, p.allocate(r).per_user, r).sum()) for r in rows)
        for p in (opt, static)
    ]
    assert total[0] > total[1]
