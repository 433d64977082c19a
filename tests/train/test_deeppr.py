"""Smoke tests of the DeepPR trainer: both variants learn a few hundred steps, and a saved
policy loads (weights only) and acts the same."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from agent.model.recovery import GraphFamily, gnp_instance
from agent.policies.recovery.deeppr import DeepPRPolicy
from agent.policies.recovery.features import GraphArrays
from agent.policies.recovery.networks import load_network, save_network
from agent.train.deeppr import TrainArgs, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_node_variant_trains_saves_and_reloads(tmp_path: Path) -> None:
    args = TrainArgs(
        episodes=25,
        seed=3,
        learn_start=64,
        batch=32,
        train_every=2,
        families=[GraphFamily("gnp", sizes=(8, 9, 10))],
    )
    result = train(args)
    assert len(result.returns) == 25 and all(math.isfinite(r) for r in result.returns)
    assert result.card["variant"] == "node" and result.card["gamma"] == 1.0
    save_network(result.net, tmp_path, result.card)
    net, card = load_network(tmp_path)
    assert card.architecture == "node" and card.episodes == 25
    instance = gnp_instance(11, 4, "adversarial")  # another size than trained on
    graph = GraphArrays.of(instance)
    state = (graph.demand[None], np.array([0]))
    before = DeepPRPolicy(result.net).q_values(graph, *state)
    assert np.allclose(before, DeepPRPolicy(net).q_values(graph, *state))
    order = DeepPRPolicy(net).order(instance)
    assert sorted(order) == sorted(instance.to_repair)


def test_paper_variant_trains_on_one_graph(tmp_path: Path) -> None:
    instance = gnp_instance(8, 2)
    args = TrainArgs(variant="paper", episodes=20, seed=1, learn_start=64, batch=32)
    result = train(args, instance)
    assert result.card["gamma"] == 0.6 and result.card["double_dqn"] is False
    assert result.net.config() == {"architecture": "paper", "n": 8, "hidden": 200}
    save_network(result.net, tmp_path, result.card)
    policy = DeepPRPolicy.load(tmp_path, search="greedy")
    assert sorted(policy.order(instance)) == sorted(instance.to_repair)
