from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from agent.cli.main import cli
from agent.envs.deployment import DeploymentGymEnv, DeploymentParallelEnv
from agent.model.deployment import DeploymentScenario
from agent.policies.deployment.learned import load_policy, save_policy
from agent.policies.errors import PolicyFileError
from agent.sim.deployment import generate_requests, run_episode
from agent.train.deployment_baselines import BaselineArgs
from agent.train.deployment_baselines import train as train_baseline
from agent.train.deployment_maddpg import MaddpgArgs, train
from tests.deployment.conftest import BUNDLED


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


@pytest.mark.parametrize("algorithm", ["maddpg", "dqn", "ddpg", "pg"])
def test_smoke_train_save_load(bundled: DeploymentScenario, tmp_path: Path, algorithm: str) -> None:
    if algorithm == "maddpg":
        net = train(MaddpgArgs(bundled, requests=200, warmup=64, batch=32)).net
    else:
        net = train_baseline(BaselineArgs(bundled, algorithm=algorithm, requests=120, batch=16)).net  # type: ignore[arg-type]
    save_policy(net, tmp_path / algorithm, {"name": algorithm})
    policy = load_policy(tmp_path / algorithm, bundled.substrate.n)
    requests = generate_requests(bundled, 9, 20)
    first = run_episode(bundled, policy, requests)
    assert first == run_episode(bundled, policy, requests)  # deterministic
    assert not any(r.startswith("invalid") for r in first.reasons)


def test_tampered_weights_are_refused(bundled: DeploymentScenario, tmp_path: Path) -> None:
    net = train_baseline(BaselineArgs(bundled, algorithm="pg", requests=20, batch=8)).net
    save_policy(net, tmp_path, {})
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
