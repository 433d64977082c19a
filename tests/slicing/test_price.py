"""The learned slave's price parameterisation: numpy and torch agree, floors hold by
construction, the exact slave's allocation is one of the family, odd inputs stay finite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from agent.model.slicing import UtilityForm, load_slicing_scenario
from agent.model.slicing_observation import obs_size
from agent.model.slicing_price import NUMPY, Pricing, Slices, allocate, features, guess, respond
from agent.model.slicing_utility import Layout
from agent.policies.slicing.admm import exact_slave
from agent.policies.slicing.learned import LearnedSlave
from agent.train.export import Exportable, sample_inputs
from agent.train.slicing_nets import TORCH

BUNDLED = Path(__file__).resolve().parents[2] / "topologies" / "slicing"
FORMS = [Pricing(UtilityForm.ALPHA_FAIR, 100.0), Pricing(UtilityForm.LOG_DEMAND, 1000.0)]


def _observations(users: int, count: int) -> np.ndarray:
    fake = Exportable("slicing", torch.nn.Identity(), obs_size(users), "")
    return sample_inputs(fake, count, seed=5).astype(np.float64)


@pytest.mark.parametrize("pricing", FORMS, ids=lambda p: p.form.value)
def test_numpy_and_torch_compute_the_same(pricing: Pricing) -> None:
    obs = _observations(7, 200)
    s_np, s_t = Slices.of(obs, 7), Slices.of(torch.from_numpy(obs), 7)
    mu_np, g_np = guess(NUMPY, s_np, pricing)
    mu_t, g_t = guess(TORCH, s_t, pricing)
    assert np.allclose(mu_np, mu_t.numpy(), rtol=1e-9, atol=1e-9)
    f_np, f_t = features(NUMPY, s_np, pricing, g_np), features(TORCH, s_t, pricing, g_t)
    assert np.all(np.isfinite(f_np)) and np.allclose(f_np, f_t.numpy(), atol=1e-9)
    x_np, x_t = allocate(NUMPY, s_np, pricing, mu_np), allocate(TORCH, s_t, pricing, mu_t)
    assert np.allclose(x_np, x_t.numpy(), atol=1e-12)


@pytest.mark.parametrize("pricing", FORMS, ids=lambda p: p.form.value)
@pytest.mark.parametrize("shift", [-3.0, 0.0, 3.0])
def test_floors_and_padding_hold_at_any_price(pricing: Pricing, shift: float) -> None:
    obs = _observations(6, 100)
    slices = Slices.of(obs, 6)
    mu, _ = guess(NUMPY, slices, pricing)
    x = allocate(NUMPY, slices, pricing, mu + shift)
    real = slices.mask > 0
    assert np.all(x[real] >= slices.floor[real] - 1e-12)
    assert np.all(x[~real] == 0.0)


def test_the_exact_slave_is_a_point_of_the_family() -> None:
    """At the exact slave's marginal utility as price, the users' responses are the exact
    allocation: the actor can represent the optimum of every slave problem."""
    scenario = load_slicing_scenario(BUNDLED / "paper.yaml")
    problem = scenario.problem(12345678)
    layout = Layout.of(problem)
    demand = scenario.demand(problem, 0)[0]
    targets = np.array([30.0, 35.0, 40.0])
    x = exact_slave(layout, targets, demand, problem.rho)
    floors = layout.floors(demand)
    interior = x > floors * (1 + 1e-6)
    marginal = layout.weight * x ** (layout.alpha - 1)
    pricing = Pricing(problem.utility, problem.capacity)
    for i in range(3):
        users = (layout.slice_of == i) & interior
        mu = np.log(np.median(marginal[users]))
        a, b = int(layout.starts[i]), int(layout.starts[i + 1])
        row = Slices(
            np.zeros((1, 5)),
            (demand[a:b] / problem.capacity)[None],
            (floors[a:b] / problem.capacity)[None],
            layout.alpha[a:b][None],
            layout.weight[a:b][None],
            np.ones((1, 5)),
            np.array([[targets[i] / problem.capacity]]),
        )
        got, _ = respond(NUMPY, row, pricing, np.array([[mu]]))
        assert got[0] * problem.capacity == pytest.approx(x[a:b], rel=1e-6)


def test_the_guess_alone_tracks_targets_and_is_finite_at_the_edges() -> None:
    scenario = load_slicing_scenario(BUNDLED / "paper.yaml")
    problem = scenario.problem(12345679)
    layout = Layout.of(problem)
    demand = scenario.demand(problem, 0)[0]
    prepared = LearnedSlave(None, {}).prepare(layout, demand, np.zeros(15))
    totals = layout.slice_sums(prepared(np.array([30.0, 33.0, 37.0])))
    assert totals == pytest.approx([30.0, 33.0, 37.0], rel=0.1)
    for edge in (np.zeros(3), np.full(3, problem.capacity)):
        assert np.all(np.isfinite(prepared(edge)))
