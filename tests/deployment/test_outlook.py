"""The outlook (what is known of the requests still to come) and its admission rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from agent.model.deployment import DeploymentScenario
from agent.model.deployment_decoding import ADMISSION_REASON
from agent.model.deployment_outlook import Outlook, admission_margin, generator_sizes
from agent.model.deployment_state import Placement, Rejection, SubstrateState
from agent.policies.deployment.heuristics import BalancedGreedy, ThresholdGreedy
from agent.policies.deployment.learned import DeploymentCard, ScoreNet, save_policy
from agent.policies.deployment.registry import make_deployment_policy
from agent.policies.errors import PolicyFileError
from agent.sim.deployment import DeploymentSim, generate_requests, run_episode

SIZES = np.array([[30.0, 30.0], [45.0, 40.0], [60.0, 60.0], [75.0, 70.0]] * 25)


def margin(cpu: float, remaining: int, free: float = 1000.0, fill: float = 0.8) -> float:
    outlook = Outlook(remaining, 5.0, SIZES)
    return admission_margin(free, free, cpu, cpu, 30, outlook, fill)


def test_without_an_outlook_or_with_room_for_all_everything_is_admitted() -> None:
    assert admission_margin(100.0, 100.0, 90.0, 90.0, 30, None, 0.8) == 1.0
    # 10 requests of 52.5 on average need 525 of 1000 free: all fit
    assert margin(75.0, remaining=10) == 1.0


def test_when_the_rest_cannot_fit_large_requests_are_refused_small_ones_kept() -> None:
    # 30 requests of 52.5 on average want 1575 of 1000 free
    small, large = margin(30.0, remaining=30), margin(75.0, remaining=30)
    assert small > 0 > large
    sizes = [margin(c, remaining=30) for c in (30.0, 45.0, 60.0, 75.0)]
    assert sizes == sorted(sizes, reverse=True)
    # more competitors, or less room, lower the threshold
    assert margin(45.0, remaining=40) <= margin(45.0, remaining=30)
    assert margin(45.0, remaining=30, free=800.0) <= margin(45.0, remaining=30)
    assert all(-1.0 <= m <= 1.0 for m in sizes)


def test_competitors_are_those_arriving_before_the_request_departs() -> None:
    outlook = Outlook(100, 0.2, SIZES)  # 100 to come, but one every 5 periods
    assert admission_margin(1000.0, 1000.0, 75.0, 75.0, 30, outlook, 0.8) == 1.0
    busy = Outlook(100, 5.0, SIZES)
    assert admission_margin(1000.0, 1000.0, 75.0, 75.0, 30, busy, 0.8) < 0


def test_generator_sizes_follow_the_scenario(bundled: DeploymentScenario) -> None:
    spec = bundled.requests
    sizes = generator_sizes(spec)
    low, high = spec.chain_length
    for column, span in ((0, spec.cpu), (1, spec.memory)):
        assert sizes[:, column].min() >= low * span[0]
        assert sizes[:, column].max() <= high * span[1]
    mean_cpu = (low + high) / 2 * sum(spec.cpu) / 2
    assert sizes[:, 0].mean() == pytest.approx(mean_cpu, rel=0.03)
    assert np.array_equal(sizes, generator_sizes(spec))  # a property of the scenario


def test_the_simulator_tells_how_many_requests_are_left(bundled: DeploymentScenario) -> None:
    requests = generate_requests(bundled, 3, 12)
    sim = DeploymentSim(bundled, requests)
    seen = []
    while not sim.done:
        request = sim.current
        assert sim.state.outlook is not None
        seen.append(sim.state.outlook.remaining)
        sim.submit(Rejection(request.id, "test"))
    assert seen == list(range(12, 0, -1))


def test_threshold_greedy_refuses_what_balanced_greedy_admits(bundled: DeploymentScenario) -> None:
    requests = generate_requests(bundled, 5001, 50)
    refused = run_episode(bundled, ThresholdGreedy(), requests).reasons[ADMISSION_REASON]
    assert refused > 0
    assert run_episode(bundled, BalancedGreedy(), requests).reasons[ADMISSION_REASON] == 0
    # on a light episode the rule lets everything through
    light = generate_requests(bundled, 5001, 10)
    assert run_episode(bundled, ThresholdGreedy(), light).accepted == 10


def test_without_an_outlook_the_rule_admits_what_fits(bundled: DeploymentScenario) -> None:
    request = generate_requests(bundled, 1, 1)[0]
    state = SubstrateState(bundled.substrate, bundled.latency.service_rate)  # as the daemon's
    assert isinstance(ThresholdGreedy().place(request, state), Placement)
    assert make_deployment_policy("threshold-greedy", bundled.substrate.n).name == (
        "threshold-greedy"
    )


def test_a_maddpg_card_with_a_fill_decodes_with_the_rule(
    bundled: DeploymentScenario, tmp_path: Path
) -> None:
    card = DeploymentCard(
        format="sfc-deployment/2", algorithm="maddpg", hidden=8, agents=5, admission_fill=0.8
    )
    net = ScoreNet(card)
    with torch.no_grad():  # admission value 0: the rule alone decides
        net.actors.w2.zero_()
        net.actors.b2.zero_()
    save_policy(net, tmp_path / "p", {})
    policy = make_deployment_policy(str(tmp_path / "p"), bundled.substrate.n)
    requests = generate_requests(bundled, 5001, 50)
    assert run_episode(bundled, policy, requests).reasons[ADMISSION_REASON] > 0

    raw = json.loads((tmp_path / "p" / "card.json").read_text())
    raw["admission_fill"] = 0.0
    (tmp_path / "p" / "card.json").write_text(json.dumps(raw))
    with pytest.raises(PolicyFileError, match="admission_fill"):
        make_deployment_policy(str(tmp_path / "p"), bundled.substrate.n)
