"""Inference without torch in the loop: the actor's forward pass in numpy, and the row
softmax the actor uses, agree with torch's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from agent.envs.coordination import layout_of
from agent.model.deepcoord import postprocess
from agent.policies.coordination import load_named
from agent.policies.coordination.decisions import postprocess_rows
from agent.policies.coordination.network import Actor, ActorArrays, row_softmax
from agent.policies.coordination.policy import SHIPPED, RowDecisions
from agent.sim.engine import Simulator
from agent.train.rollout import policy_context
from tests.envs.test_coordination import abilene


@pytest.mark.parametrize(
    ("hidden", "activation"),
    [([64], "relu"), ([32, 16], "tanh"), ([], "relu"), ([24], "elu")],
)
def test_numpy_forward_is_the_actors(hidden: list[int], activation: str) -> None:
    torch.manual_seed(1)
    actor = Actor(22, 11, 3, hidden, activation).eval()
    arrays = ActorArrays.of(actor, activation)
    observations = np.random.default_rng(0).normal(0.0, 2.0, (50, 22)).astype(np.float32)
    with torch.no_grad():
        expected = actor(torch.from_numpy(observations)).numpy()
    for obs, want in zip(observations, expected, strict=True):
        got = arrays.forward(obs)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
        np.testing.assert_allclose(got.reshape(-1, 11).sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("n", [11, 42])
def test_row_softmax_is_torchs_softmax_forward_and_backward(n: int) -> None:
    logits = torch.randn(8, 3 * n, n, dtype=torch.float64, requires_grad=True)
    plain = torch.randn(8, 3 * n, n, dtype=torch.float64)
    ours, theirs = row_softmax(logits), torch.softmax(logits, dim=-1)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)
    (grad,) = torch.autograd.grad((ours * plain).sum(), logits)
    (want,) = torch.autograd.grad((theirs * plain).sum(), logits)
    torch.testing.assert_close(grad, want, rtol=0, atol=1e-12)


def test_the_shipped_policy_predicts_what_its_torch_actor_predicts() -> None:
    scenario = abilene(3)
    policy = load_named("abilene-in3-rand-cap0-2", policy_context(scenario, 0))
    sim = Simulator(scenario, seed=3)
    n, r = len(policy.layout.nodes), len(policy.layout.rows)
    for _ in range(30):
        observation = sim.observation
        obs = torch.from_numpy(policy.layout.observe(observation))[None]
        with torch.no_grad():
            raw = policy.actor(obs)[0].double().numpy()
        expected = postprocess(raw.reshape(n, r, n), policy.threshold)
        np.testing.assert_allclose(policy.weights(observation), expected, rtol=0, atol=1e-6)
        sim.step(policy.predict(observation))


def test_decisions_rebuilt_row_by_row_equal_the_layouts() -> None:
    layout = layout_of(abilene(3))
    decisions = RowDecisions(layout, "x")
    rng = np.random.default_rng(5)
    weights = postprocess(rng.random(layout.action_shape), 0.1)
    previous = None
    for k in range(40):
        if k % 5 == 4:  # the same weights: the same Decision
            assert decisions.decision(weights.copy()) is previous
            continue
        cells = rng.integers(0, weights.shape[0], size=2), rng.integers(0, weights.shape[1], 2)
        weights = weights.copy()
        weights[cells] = postprocess(rng.random((2, 1, weights.shape[2])), 0.1)[:, 0]
        previous = decisions.decision(weights)
        expected = layout.decision(weights, "x")
        assert previous == expected
        assert list(previous.placement) == list(expected.placement)


def test_loading_and_running_a_shipped_policy_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "from agent.policies.coordination import load_named\n"
        "from agent.sim.engine import Simulator\n"
        "from agent.train.rollout import policy_context\n"
        "from tests.envs.test_coordination import abilene\n"
        "scenario = abilene(3)\n"
        "policy = load_named('abilene-in3-rand-cap0-2', policy_context(scenario, 0))\n"
        "sim = Simulator(scenario, seed=1)\n"
        "for _ in range(5):\n"
        "    sim.step(policy.predict(sim.observation))\n"
        "print('torch' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_the_torch_actor_has_the_files_weights() -> None:
    policy = load_named("abilene-in3-rand-cap0-2")
    stored = load_file(str(SHIPPED / "abilene-in3-rand-cap0-2" / "actor.safetensors"))
    state = policy.actor.state_dict()
    assert set(state) == set(stored)
    for name, tensor in stored.items():
        assert torch.equal(state[name], tensor), name
    assert policy.actor is policy.actor  # built once


@pytest.mark.parametrize("threshold", [0.0, 0.1, 0.3])
def test_postprocessing_softmax_rows_is_deepcoords(threshold: float) -> None:
    rng = np.random.default_rng(7)
    for k in range(200):
        raw = rng.random((11, 3, 11)) ** rng.integers(1, 40)  # from flat to peaked rows
        if k % 5 == 0:
            raw[rng.integers(0, 11), rng.integers(0, 3)] = 0.0  # a row without weight
        if k % 7 == 0:
            raw[0, 0] = 1.0 / 11  # every entry under most thresholds
        np.testing.assert_array_equal(postprocess_rows(raw, threshold), postprocess(raw, threshold))
