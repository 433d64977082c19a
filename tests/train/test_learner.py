"""The learners' shared torch pieces give the values of the plain loops they replace."""

from __future__ import annotations

import copy
import os
import platform
import subprocess
import sys
import time

import pytest
import torch
from torch import nn

from agent.policies.coordination.network import Actor, mlp, run_layers
from agent.train import learner
from agent.train.ddpg import Critic
from agent.train.learner import (
    BIG_LAYER,
    adam,
    idle_cores,
    learner_threads,
    soft_update,
    step_on,
)


def _pair() -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(3)
    source = mlp([7, 16, 16, 5])
    target = mlp([7, 16, 16, 5])
    return target, source


def test_soft_update_is_the_loop_bit_for_bit() -> None:
    target, source = _pair()
    expected = copy.deepcopy(target)
    with torch.no_grad():
        for t, s in zip(expected.parameters(), source.parameters(), strict=True):
            t.mul_(1 - 0.01).add_(s, alpha=0.01)
    soft_update(target, source, 0.01)
    for got, want in zip(target.parameters(), expected.parameters(), strict=True):
        assert torch.equal(got, want)
    assert not torch.equal(next(target.parameters()), next(source.parameters()))


def test_soft_update_refuses_networks_of_another_shape() -> None:
    target, _ = _pair()
    with pytest.raises(ValueError, match="6 parameters from 4"):
        soft_update(target, mlp([7, 16, 5]), 0.5)


def test_step_on_moves_only_its_parameters_as_backward_would() -> None:
    torch.manual_seed(5)
    actor = Actor(4, 3, 2, [8])
    critic = Critic(4, 18, [8], "relu")
    twin_actor, twin_critic = copy.deepcopy(actor), copy.deepcopy(critic)
    obs = torch.rand(6, 4)
    plain = torch.optim.SGD(twin_actor.parameters(), lr=0.1)
    loss = -twin_critic(obs, twin_actor(obs)).mean()
    plain.zero_grad()
    loss.backward()
    plain.step()
    critic_before = [p.clone() for p in critic.parameters()]
    step_on(
        -critic(obs, actor(obs)).mean(),
        list(actor.parameters()),
        torch.optim.SGD(actor.parameters(), lr=0.1),
    )
    for got, want in zip(actor.parameters(), twin_actor.parameters(), strict=True):
        assert torch.equal(got, want)
    assert all(p.grad is None for p in critic.parameters())  # no critic gradients computed
    assert all(torch.equal(a, b) for a, b in zip(critic.parameters(), critic_before, strict=True))


def test_fused_adam_follows_adam() -> None:
    torch.manual_seed(7)
    net = mlp([5, 32, 3])
    twin, start = copy.deepcopy(net), copy.deepcopy(net)
    fused, plain = adam(net.parameters(), 1e-3), torch.optim.Adam(twin.parameters(), lr=1e-3)
    x, y = torch.rand(64, 5), torch.rand(64, 3)
    for _ in range(300):
        for model, optimiser in ((net, fused), (twin, plain)):
            optimiser.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()  # type: ignore[no-untyped-call]
            optimiser.step()
    for got, want in zip(net.parameters(), twin.parameters(), strict=True):
        assert torch.allclose(got, want, atol=1e-5)
    moved = max(
        (a - b).abs().max().item()
        for a, b in zip(net.parameters(), start.parameters(), strict=True)
    )
    assert moved > 1e-2  # it learned something: the comparison is not of two idle networks


def test_run_layers_is_the_module_call() -> None:
    torch.manual_seed(9)
    actor = Actor(4, 3, 2, [8, 8])
    obs = torch.rand(5, 4)
    assert torch.equal(run_layers(actor.body, obs), actor.body(obs))
    weights = actor(obs).view(5, 6, 3)
    assert torch.allclose(weights.sum(-1), torch.ones(5, 6))


def test_a_second_thread_only_for_large_layers_and_where_two_cores_are_idle() -> None:
    abilene, chinanet = 11 * 3 * 11 * 64, 42 * 3 * 42 * 64  # their actors' output layers
    assert learner_threads(abilene, cores=8, idle=8.0) == 1
    assert learner_threads(BIG_LAYER - 1, cores=8, idle=8.0) == 1
    assert learner_threads(chinanet, cores=8, idle=8.0) == 2  # two, not eight
    assert learner_threads(chinanet, cores=1, idle=2.0) == 1  # this process: one core
    assert learner_threads(chinanet, cores=2, idle=1.9) == 2  # an idle 2-core machine
    assert learner_threads(chinanet, cores=2, idle=1.0) == 1  # one core busy elsewhere
    assert learner_threads(chinanet, cores=16, idle=1.6) == 2
    assert learner_threads(chinanet, cores=16, idle=1.4) == 1
    assert learner_threads(chinanet) in (1, 2)  # this machine, now


def test_idle_cores_sees_a_busy_core() -> None:
    cores = os.cpu_count() or 1
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        deadline = time.monotonic() + 60
        while (seen := idle_cores()) > cores - 0.5 and time.monotonic() < deadline:
            pass  # until the loop has started
        assert 0.0 <= seen <= cores - 0.5, seen  # a core's worth busy, or more (others' work)
    finally:
        busy.kill()
        busy.wait()


def test_idle_cores_is_the_idle_share_of_every_core(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter([(100, 1000, 2), (250, 1200, 2)])  # two cores: 150 of 200 jiffies idle
    monkeypatch.setattr(learner, "_cpu_times", lambda cores: next(readings))
    assert idle_cores(0.0) == pytest.approx(1.5)


def test_idle_cores_counts_the_cores_this_process_may_use() -> None:
    mine = os.sched_getaffinity(0)
    idle, total, counted = learner._cpu_times(mine)
    assert counted == len(mine) and 0 <= idle <= total
    assert learner._cpu_times(None)[2] == os.cpu_count()
    with pytest.raises(ValueError, match="no per-core counters"):
        learner._cpu_times({10**6})  # no such core
    assert 1 <= learner.usable_cores() <= len(mine)


FAULTS = """
import resource, sys, torch
from agent.train import learner
if sys.argv[1] == "keep":
    assert learner.keep_freed_memory()
else:  # glibc's starting threshold, held (glibc raises it as blocks are freed, at times)
    assert learner.mallopt_of_libc()(learner.M_MMAP_THRESHOLD, 128 << 10)
def update():  # eight live temporaries of the 42-node critic's input size, then freed
    return sum(t.sum().item() for t in [torch.ones(64 * 5334) for _ in range(8)])
update()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    update()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    command = [sys.executable, "-c", FAULTS, mode]
    run = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300)
    return int(run.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
@pytest.mark.skipif("malloc" in os.environ.get("LD_PRELOAD", ""), reason="another malloc")
def test_freed_memory_is_kept_and_not_faulted_in_again() -> None:
    pages = 20 * 8 * (64 * 5334 * 4 // 4096)  # every block faulted in at every update
    default, kept = _faults("default"), _faults("keep")
    assert default > pages // 2  # mapped blocks: nearly every one faults in again
    assert kept < pages // 10, (kept, default)
