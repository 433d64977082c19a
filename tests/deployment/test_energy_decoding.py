"""MADDPG-SD's decoding with an energy weight: the activity a placement adds, and the
choice between lower latency and servers already on."""

from __future__ import annotations

from agent.model.deployment import DeploymentScenario
from agent.model.deployment_decoding import place_by_weights
from agent.model.deployment_state import Placement, Request, SubstrateState
from agent.policies.deployment.heuristics import BalancedGreedy, ThresholdGreedy
from agent.sim.deployment import generate_requests, run_episode


def request(rid: int, arrival: float, duration: int, ingress: int = 0, egress: int = 1) -> Request:
    return Request(
        id=rid,
        arrival=arrival,
        duration=duration,
        ingress=ingress,
        egress=egress,
        vnfs=(0,),
        cpu=(5.0,),
        memory=(5.0,),
        bandwidth=(10.0, 10.0),
        latency_bound=500.0,
        data=100.0,
    )


def host(state: SubstrateState, r: Request, server: int) -> Placement:
    """``r``'s one VNF on ``server``, each link over its shortest path."""
    paths = tuple(
        () if a == b else state.substrate.paths[(a, b)][0].links
        for a, b in ((r.ingress, server), (server, r.egress))
    )
    chosen = Placement(r.id, (server,), paths, state.latency(r, (server,), paths))
    assert state.check(r, chosen) is None
    state.apply(r, chosen)
    return chosen


def test_active_extension_counts_what_the_request_outlasts(line: DeploymentScenario) -> None:
    state = SubstrateState(line.substrate)
    first = request(1, 0.0, 10)  # ends at 10
    placed = host(state, first, 1)
    late = request(2, 2.0, 20)  # ends at 22
    assert state.active_extension(late, [0]) == 20  # server 0 is off: its whole duration
    assert state.active_extension(late, [1]) == 12  # server 1 is on until 10
    assert state.active_extension(late, [1, 1]) == 12  # one server, counted once
    assert state.active_extension(late, [0, 1]) == 32
    assert state.active_extension(request(3, 3.0, 5), [1]) == 0  # ends before the other
    copy = state.copy()
    state.release(first, placed)
    assert state.active_extension(late, [1]) == 20  # off again
    assert copy.active_extension(late, [1]) == 12  # the copy keeps its own record
    assert state.ends[1] == {}


def test_two_requests_ending_together_are_both_counted(line: DeploymentScenario) -> None:
    state = SubstrateState(line.substrate)
    a, b = request(1, 0.0, 10), request(2, 0.0, 10)
    placed_a, _ = host(state, a, 2), host(state, b, 2)
    assert state.ends[2] == {10.0: 2}
    state.release(a, placed_a)
    assert state.ends[2] == {10.0: 1}
    assert state.active_extension(request(3, 5.0, 10), [2]) == 5


def test_the_energy_weight_trades_latency_for_servers_already_on(
    line: DeploymentScenario,
) -> None:
    # line a - b - c: from a to b, a VNF on a or b costs one hop, on c three
    state = SubstrateState(line.substrate)
    host(state, request(1, 0.0, 100, ingress=2, egress=2), 2)  # c is on until 100
    new = request(2, 1.0, 30)
    first = BalancedGreedy().place(new, state)  # the prior: lowest latency first
    cheap = BalancedGreedy(energy=0.0).place(new, state)
    kept_on = BalancedGreedy(energy=5.0).place(new, state)
    assert isinstance(first, Placement) and isinstance(cheap, Placement)
    assert isinstance(kept_on, Placement)
    assert first.servers[0] in (0, 1) and cheap.servers[0] in (0, 1)
    assert kept_on.servers[0] == 2  # 20 ms more, 30 server-periods fewer
    assert kept_on.latency > cheap.latency
    assert state.check(new, kept_on) is None
    # a small weight: 30 server-periods at 0.1 ms are worth less than 20 ms
    assert BalancedGreedy(energy=0.1).place(new, state).servers[0] in (0, 1)  # type: ignore[union-attr]


def test_without_a_weight_the_decoding_is_the_first_placement_found(
    bundled: DeploymentScenario,
) -> None:
    requests = generate_requests(bundled, 7, 40)
    plain = run_episode(bundled, BalancedGreedy(), requests)
    weighed = run_episode(bundled, BalancedGreedy(energy=0.6), requests)
    assert plain.accepted > 0 and weighed.accepted > 0
    # the weighed decoding keeps fewer servers on per accepted request
    assert weighed.cost < plain.cost
    state = SubstrateState(bundled.substrate)
    actions = BalancedGreedy().actions
    r = requests[0]
    assert place_by_weights(state, r, actions, True, 50) == BalancedGreedy().place(r, state)


def test_threshold_greedy_weighs_energy(bundled: DeploymentScenario) -> None:
    requests = generate_requests(bundled, 3, 20)
    default = run_episode(bundled, ThresholdGreedy(), requests)
    unweighed = run_episode(bundled, ThresholdGreedy(energy=None), requests)
    assert default.cost < unweighed.cost
