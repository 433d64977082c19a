from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from agent.cli.main import cli
from agent.envs.deployment import DeploymentGymEnv, DeploymentParallelEnv
from agent.model.deployment import DeploymentScenario
from agent.model.deployment_decoding import (
    ACTION_SIZE,
    ADMISSION_REASON,
    SERVER_FEATURES,
    place_by_weights,
)
from agent.model.deployment_state import Placement, Rejection, Request, SubstrateState
from agent.policies.deployment.heuristics import BalancedGreedy
from agent.policies.deployment.learned import LearnedPolicy, load_policy, save_policy
from agent.policies.errors import PolicyFileError
from agent.sim.deployment import generate_requests, run_episode
from agent.train.deployment_baselines import BaselineArgs
from agent.train.deployment_baselines import train as train_baseline
from agent.train.deployment_maddpg import MaddpgArgs, train
from tests.deployment.conftest import BUNDLED

PATH_HOPS = 5  # the server features: the path's hop count from the previous VNF


def test_parallel_env_api_and_centralised_state(bundled: DeploymentScenario) -> None:
    from pettingzoo.test import parallel_api_test

    parallel_api_test(DeploymentParallelEnv(bundled, requests=10), num_cycles=15)
    env = DeploymentParallelEnv(bundled, requests=10)
    obs, _ = env.reset(seed=4)
    assert env.state().shape == (5 * len(obs["vnf_0"]),)
    steps = 0
    while env.agents:
        env.step({a: env.action_space(a).sample() for a in env.agents})
        steps += 1
    assert steps == 10 and env.sim.result.requests == 10


def test_gym_view_masks_and_rejects_bad_servers(bundled: DeploymentScenario) -> None:
    env = DeploymentGymEnv(bundled, requests=5)
    _, info = env.reset(seed=4)
    bad = (
        int(np.flatnonzero(info["action_mask"] == 0)[0])
        if (info["action_mask"] == 0).any()
        else None
    )
    if bad is not None:
        _, reward, _, _, _ = env.step(np.int64(bad))
        assert reward == 0.0 and env.sim.result.accepted == 0


def _actions(hops_weight: float, admission: float = 1.0) -> np.ndarray:
    actions = np.zeros((5, ACTION_SIZE), np.float32)
    actions[:, PATH_HOPS] = hops_weight
    actions[0, SERVER_FEATURES] = admission
    return actions


def test_agents_backtrack_out_of_a_dead_end(line: DeploymentScenario) -> None:
    """Line a - b - c, ingress a, egress c. The agents prefer the server farthest from the
    previous VNF: c for VNF 1; then VNF 2 (55 CPU) fits only on a, and c -> a -> c breaks
    the latency bound: a dead end. Backtracking gives VNF 1 its next server, b, and VNF 2
    then fits on c."""
    state = SubstrateState(line.substrate)
    state.cpu = [60.0, 20.0, 60.0]
    request = Request(0, 0.0, 5, 0, 2, (0, 1), (15.0, 55.0), (1.0, 1.0), (10.0,) * 3, 50.0, 100.0)
    greedy = place_by_weights(state, request, _actions(+1.0))
    assert isinstance(greedy, Rejection) and "VNF 2" in greedy.reason
    found = place_by_weights(state, request, _actions(+1.0), backtrack=5)
    assert isinstance(found, Placement) and found.servers == (1, 2)
    assert state.check(request, found) is None
    assert state.cpu == [60.0, 20.0, 60.0]  # the search never changes the state
    refused = place_by_weights(state, request, _actions(+1.0, admission=-0.1), backtrack=5)
    assert isinstance(refused, Rejection) and refused.reason == ADMISSION_REASON


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("algorithm", ["maddpg", "dqn", "ddpg", "pg"])
def test_smoke_train_save_load(bundled: DeploymentScenario, tmp_path: Path, algorithm: str) -> None:
    if algorithm == "maddpg":
        args = MaddpgArgs(
            bundled, requests=60, loads=(20,), warmup=16, batch=16, critic_warmup=0,
            validation_episodes=1,
        )  # fmt: skip
        result = train(args)
        assert [seen for seen, _ in result.validation] == [0, 60]
        net = result.net
    else:
        net = train_baseline(
            BaselineArgs(bundled, algorithm=algorithm, requests=40, batch=8, validate_every=0)  # type: ignore[arg-type]
        ).net
    save_policy(net, tmp_path / algorithm, {"name": algorithm})
    policy = load_policy(tmp_path / algorithm, bundled.substrate.n)
    requests = generate_requests(bundled, 9, 20)
    first = run_episode(bundled, policy, requests)
    assert first == run_episode(bundled, policy, requests)  # deterministic
    assert not any(r.startswith("invalid") for r in first.reasons)


@pytest.mark.usefixtures("one_thread")
def test_maddpg_starts_from_its_prior_and_admits(bundled: DeploymentScenario) -> None:
    """Untrained actors rank as balanced-greedy (latency bound, then CPU/memory balance),
    and decode with the same energy weight."""
    args = MaddpgArgs(bundled, requests=1, warmup=10**6, validate_every=0, backtrack=3)
    untrained = LearnedPolicy(train(args).net)
    requests = generate_requests(bundled, 3, 40)
    ours = run_episode(bundled, untrained, requests)
    prior = run_episode(bundled, BalancedGreedy(backtrack=3, energy=args.energy_weight), requests)
    assert ours.accepted == prior.accepted and ours.latency_sum == pytest.approx(prior.latency_sum)
    assert not any(reason == ADMISSION_REASON for reason in ours.reasons)


def test_old_and_tampered_policy_files_are_refused(
    bundled: DeploymentScenario, tmp_path: Path
) -> None:
    net = train_baseline(
        BaselineArgs(bundled, algorithm="pg", requests=10, batch=8, validate_every=0)
    ).net
    save_policy(net, tmp_path, {})
    card = json.loads((tmp_path / "card.json").read_text())
    (tmp_path / "card.json").write_text(json.dumps({**card, "format": "sfc-deployment/1"}))
    with pytest.raises(PolicyFileError, match="retrain"):
        load_policy(tmp_path)
    (tmp_path / "card.json").write_text(json.dumps(card))
    with (tmp_path / "model.safetensors").open("ab") as handle:
        handle.write(b"\0" * 4)
    with pytest.raises(PolicyFileError, match=r"model\.safetensors"):
        load_policy(tmp_path)


def test_eval_cli_prints_the_contract(tmp_path: Path) -> None:
    args = [
        "eval",
        "deployment",
        str(BUNDLED),
        "--policy",
        "first-fit",
        "--policy",
        "latency-greedy",
        "--requests",
        "10",
        "--requests",
        "20",
        "--episodes",
        "2",
        "--format",
        "json",
        "--out",
        str(tmp_path),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out["policies"]["first-fit"]) == {"acceptance", "latency_ms", "cost"}
    assert set(out["sweep"]) == {"10", "20"}
    assert {p.name for p in tmp_path.glob("*.png")} == {
        "acceptance.png",
        "latency_ms.png",
        "cost.png",
    }


def test_eval_cli_bad_input_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("network: x.gml\n")
    result = CliRunner().invoke(cli, ["eval", "deployment", str(bad), "--policy", "first-fit"])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert result.output.startswith("error: ") and "bad.yaml" in result.output


@pytest.mark.usefixtures("one_thread")
def test_train_cli_takes_settings_and_records_them(tmp_path: Path) -> None:
    out = tmp_path / "pg"
    args = ["train", "deployment", str(BUNDLED), "--algorithm", "pg", "--requests", "30"]
    args += ["--set", "batch=8", "--set", "validate_every=0", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    card = json.loads((out / "card.json").read_text())
    assert card["settings"]["batch"] == 8 and "--set batch=8" in card["trained_with"]
    bad = CliRunner().invoke(cli, [*args[:7], "--set", "gamma=0.9", "--out", str(out)])
    assert bad.exit_code == 2 and "--set gamma=0.9" in bad.output and "batch" in bad.output


@pytest.mark.parametrize("algorithm", ["maddpg", "dqn", "ddpg", "pg"])
def test_shipped_policies_load_and_place(bundled: DeploymentScenario, algorithm: str) -> None:
    from agent.policies.deployment.registry import make_deployment_policy

    policy = make_deployment_policy(algorithm, bundled.substrate.n)
    result = run_episode(bundled, policy, generate_requests(bundled, 5, 10))
    assert result.accepted >= 9 and not any(r.startswith("invalid") for r in result.reasons)
