"""The progressive-recovery environment: gymnasium API, mask, rewards, leftovers."""

from __future__ import annotations

import numpy as np
from gymnasium.utils.env_checker import check_env

from agent.envs.recovery import RecoveryEnv
from agent.model.recovery import RecoveryInstance, gnp_instance, minimal_trap, utility_curve
from agent.policies.recovery.base import RatioPolicy


def run_order(env: RecoveryEnv, order: list[int]) -> list[float]:
    env.reset(seed=0)
    rewards, done, i = [], False, 0
    while not done:
        while env.remaining[order[i]] == 0:
            i += 1
        assert env.action_masks()[order[i] * env.n + order[i]]
        _, reward, done, _, _ = env.step(order[i] * env.n + order[i])
        rewards.append(reward)
    return rewards


def test_passes_the_gymnasium_checker() -> None:
    check_env(RecoveryEnv(gnp_instance(8, 1)), skip_render_check=True)


def test_rewards_follow_the_model_for_ratio_and_adversarial_instances() -> None:
    for seed, mode in ((1, "compliant"), (2, "adversarial")):
        instance = gnp_instance(12, seed, mode)  # type: ignore[arg-type]
        order = RatioPolicy().order(instance)
        env = RecoveryEnv(instance)
        assert run_order(env, order) == utility_curve(instance, order)
        assert len(utility_curve(instance, order)) == instance.horizon


def test_mask_allows_only_frontier_first_nodes() -> None:
    env = RecoveryEnv(minimal_trap())
    _, info = env.reset()
    firsts = {a // 4 for a in np.flatnonzero(info["action_mask"])}
    assert firsts == {1, 2}  # the neighbours of the independent node 0
    env.step(2 * 4 + 2)  # one unit into node 2 (demand 2): not yet functional
    assert not env.functional[2] and {a // 4 for a in np.flatnonzero(env.action_masks())} == {1, 2}
    _, reward, _, _, info = env.step(2 * 4 + 2)
    assert env.functional[2] and reward == 1.0
    assert {a // 4 for a in np.flatnonzero(info["action_mask"])} == {1, 3}


def test_leftover_units_go_to_the_second_node_and_need_connectivity() -> None:
    line = RecoveryInstance(
        name="line",
        n=4,
        edges=((0, 1), (1, 2), (2, 3)),
        demand=(0, 1, 1, 2),
        utility=(0.0, 1.0, 2.0, 4.0),
        capacity=2,
    )
    env = RecoveryEnv(line)
    env.reset()
    _, reward, done, _, _ = env.step(1 * 4 + 2)  # node 1 takes 1 unit, node 2 the leftover
    assert reward == 3.0 and not done
    env.reset()
    _, reward, _, _, _ = env.step(3 * 4 + 3)  # node 3 repaired but cut off: no utility
    assert env.remaining[3] == 0 and not env.functional[3] and reward == 0.0
    _, reward, done, _, _ = env.step(1 * 4 + 2)
    assert reward == 7.0 and done
