"""``milp`` as a policy: the plan as a Decision the simulator applies, re-planning on
demand changes and failures, and ``agent sim --policy milp``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from agent.cli.main import cli
from agent.model.errors import InputError
from agent.model.hvc_convert import mean_demand, requests_for_demand, vnfs_from_services
from agent.model.scenario import load_scenario
from agent.model.types import NodeReport, Observation
from agent.policies.base import PolicyContext
from agent.policies.milp.policy import MilpPlanConfig, MilpPolicy, plan_for_demand
from agent.policies.registry import check_policy, known_policies, make_policy
from agent.sim.engine import Simulator
from tests.conftest import TOPOLOGIES, line_network, services

TRIANGLE = TOPOLOGIES / "scenarios" / "triangle.yaml"
ABILENE = TOPOLOGIES / "scenarios" / "abilene-in2.yaml"


def observation(
    step: int, traffic: dict[str, float], down: frozenset[str] = frozenset()
) -> Observation:
    reports = {
        node: NodeReport(node, 0.0, 0.0, 2.0, 0.0, 0.0, 10, rate) for node, rate in traffic.items()
    }
    return Observation(step * 100.0, step, 100.0, reports, down_nodes=down)


def test_the_fluid_model_of_a_scenario() -> None:
    scenario = load_scenario(ABILENE)
    demand = mean_demand(scenario)
    # one flow every 10 ms of data rate 1 lasting 1 ms: 0.1 in flight per ingress
    assert demand == {"pop0": pytest.approx(0.1), "pop1": pytest.approx(0.1)}
    vnfs = vnfs_from_services(scenario.services, 1.0)
    assert vnfs["a"].cpu.slope == pytest.approx(6.0)  # held 5 ms processing + 1 ms
    requests = requests_for_demand(scenario.network, scenario.services, demand)
    assert [r.chain for r in requests.values()] == [("a", "b", "c")] * 2
    assert all(r.egress is None for r in requests.values())


def test_a_resource_function_that_is_not_linear_is_an_input_error() -> None:
    svc = services(resource="load ** 2")
    with pytest.raises(InputError, match=r"sf_list.a.resource_function: the MILP needs a linear"):
        vnfs_from_services(svc, 1.0)


def test_the_plan_is_a_decision_the_simulator_applies() -> None:
    scenario = load_scenario(TRIANGLE)
    decision = plan_for_demand(scenario.network, scenario.services, mean_demand(scenario))
    hosted = {sf for sfs in decision.placement.values() for sf in sfs}
    assert hosted == {"a", "b"}
    ingress = scenario.network.ingress[0]
    assert sum(decision.schedule[ingress]["sfc_1"]["a"].values()) == pytest.approx(1.0)
    simulator = Simulator(scenario, seed=1)
    simulator.apply(decision)  # no DecisionError
    totals = [simulator.step(decision) for _ in range(20)]
    assert sum(t.metrics.successful for t in totals) > 0


def test_policy_plans_again_only_when_demand_moves() -> None:
    network = line_network((0, 4, 4))
    policy = MilpPolicy(PolicyContext(network, services()), MilpPlanConfig(smoothing=1.0))
    first = policy.predict(observation(0, {"pop0": 0.0}))
    assert policy.plans_made == 1 and first.placement
    same = policy.predict(observation(1, {"pop0": 11.0}))  # 0.11 in flight: within 30 %
    assert same is first and policy.plans_made == 1
    policy.predict(observation(2, {"pop0": 40.0}))  # 0.4: a new plan
    assert policy.plans_made == 2 and policy.planned_for["pop0"] == pytest.approx(0.4)
    failed = policy.predict(observation(3, {"pop0": 40.0}, down=frozenset({"pop2"})))
    assert policy.plans_made == 3 and "pop2" not in failed.placement


def test_registry_knows_milp() -> None:
    assert "milp" in known_policies()
    assert check_policy("milp") == "baseline milp"
    scenario = load_scenario(TRIANGLE)
    policy = make_policy("milp", PolicyContext(scenario.network, scenario.services))
    assert isinstance(policy, MilpPolicy)


def test_agent_sim_runs_the_milp_plan() -> None:
    result = CliRunner().invoke(
        cli, ["sim", str(TRIANGLE), "--policy", "milp", "--steps", "20", "--format", "json"]
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["policy"] == "milp" and summary["success_ratio"] > 0.5
    assert summary["drops"]["DECISION"] == 0
