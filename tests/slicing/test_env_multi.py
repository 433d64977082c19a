"""The multi-agent (MADDPG-ADMM) environment: PettingZoo's parallel API, ADMM inside."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pettingzoo.test import parallel_api_test

from agent.envs.slicing_multi import SlicingMultiEnv
from agent.model.slicing import load_slicing_scenario

BUNDLED = Path(__file__).resolve().parents[2] / "topologies" / "slicing"
THREE = load_slicing_scenario(BUNDLED / "three-service.yaml")


def test_parallel_api() -> None:
    parallel_api_test(SlicingMultiEnv(THREE), num_cycles=30)


def test_admm_runs_inside_and_episodes_end() -> None:
    env = SlicingMultiEnv(THREE, team_weight=0.5)
    obs, _ = env.reset(seed=4)
    assert env.agents == ["embb", "urllc", "mmtc"]
    assert all(o[-1] == 0.0 for o in obs.values())  # ADMM starts from zero targets
    share = {a: np.full(50, 0.01, np.float32) for a in env.agents}  # 10 + 5 + 50 users
    obs, rewards, _, truncated, infos = env.step(share)
    assert set(rewards) == set(env.agents) and all(np.isfinite(list(rewards.values())))
    targets = np.array([o[-1] for o in obs.values()]) * 1000
    assert targets.sum() > 0  # the master moved the targets
    steps, finished = 1, []
    while not all(truncated.values()):
        obs, rewards, _, truncated, infos = env.step({a: share[a] for a in env.agents})
        steps += 1
        if "step_utility" in infos[next(iter(infos))]:
            finished.append(infos[next(iter(infos))]["step_utility"])
    assert steps == THREE.steps * THREE.problem(0).iterations
    assert len(finished) == THREE.steps and env.agents == []
