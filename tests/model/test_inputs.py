"""Services, traffic configurations, traces and scenario files."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.model.errors import InputError
from agent.model.scenario import load_scenario
from agent.model.services import load_services
from agent.model.traffic import load_traffic
from tests.conftest import DEEPCOORD, TOPOLOGIES


def test_coord_sim_service_with_module_reference_falls_back_with_warning(tmp_path: Path) -> None:
    file = tmp_path / "svc.yaml"
    file.write_text(
        "sfc_list: {s: [a, b]}\nsf_list:\n"
        "  a: {processing_delay_mean: 2, resource_function_id: A}\n"
        "  b: {resource_function: '2 * load'}\n"
    )
    svc = load_services(file)
    assert svc.functions["a"].resource.is_identity
    assert "resource_function_id 'A'" in svc.warnings[0]
    assert svc.functions["b"].resource(3) == 6
    assert svc.functions["b"].processing_delay_stdev == 1.0  # coord-sim's default
    resolved = load_services(file, {"A": "load / 2"})
    assert resolved.functions["a"].resource(3) == 1.5 and not resolved.warnings


def test_service_expression_error_names_the_key(tmp_path: Path) -> None:
    file = tmp_path / "svc.yaml"
    file.write_text("sfc_list: {s: [a]}\nsf_list:\n  a: {resource_function: 'os.system(1)'}\n")
    with pytest.raises(InputError) as info:
        load_services(file)
    assert info.value.where == "sf_list.a.resource_function" and info.value.line == 3


def test_mmpp_and_trace_configs() -> None:
    mmpp = load_traffic(DEEPCOORD / "config/simulator/rand-mmp-arrival12-8_det-size001_dur100.yaml")
    assert mmpp.config.use_states and mmpp.config.states is not None
    assert mmpp.config.states["state_2"].inter_arr_mean == 8.0
    name = "rand-arrival10_det-size001_duration100_trace_0_100_inall_chrate2_scale00005.yaml"
    traced = load_traffic(DEEPCOORD / "config/simulator" / name)
    assert len(traced.trace) == 1100 and traced.trace[0].node == "pop0"


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        (
            "use_states: true\nstates: {s1: {inter_arr_mean: 3, switch_p: 0.1}}\n",
            "",
            "exactly two states",
        ),
        ("deterministic_arrival: true\n", "", "deterministic_size"),
        ("flow_generator_class: MyGenerator\n", "flow_generator_class", "DefaultFlowGenerator"),
        ("ttl_choices: []\n", "ttl_choices", "at least 1 item"),
    ],
)
def test_bad_traffic(tmp_path: Path, text: str, where: str, problem: str) -> None:
    base = "deterministic_size: true\nttl_choices: [100]\n"
    if "deterministic_arrival" in text:
        base = "ttl_choices: [100]\n"
    elif "ttl_choices" in text:
        base = "deterministic_arrival: true\ndeterministic_size: true\n"
    else:
        base = "deterministic_arrival: true\n" + base
    file = tmp_path / "t.yaml"
    file.write_text(base + text)
    with pytest.raises(InputError) as info:
        load_traffic(file)
    assert problem in info.value.problem and info.value.where == where


def test_trace_with_bad_number(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("time,inter_arrival_mean\n0,10\n100,fast\n")
    config = tmp_path / "c.yaml"
    config.write_text("deterministic: true\nttl_choices: [50]\ntrace_path: t.csv\n")
    with pytest.raises(InputError) as info:
        load_traffic(config)
    assert info.value.path == str(trace) and info.value.line == 3


def test_scenario_resolves_relative_paths_and_checks_failures(tmp_path: Path) -> None:
    scenario = load_scenario(TOPOLOGIES / "scenarios/abilene-in3-degraded.yaml")
    assert scenario.observation.delay_steps == 2 and len(scenario.failures) == 2
    assert scenario.failures[1].link == frozenset({"pop0", "pop1"})
    bad = tmp_path / "s.yaml"
    net = DEEPCOORD / "networks/abilene/abilene-in3-rand-cap0-2.graphml"
    bad.write_text(
        f"network: {net}\nservice: {DEEPCOORD / 'service_functions/abc.yaml'}\n"
        f"traffic: {DEEPCOORD / 'config/simulator/det-arrival10_det-size001_duration100.yaml'}\n"
        "failures:\n  - {node: pop3, down_at: 10}\n  - {link: [pop0, pop5], down_at: 10}\n"
    )
    with pytest.raises(InputError) as info:
        load_scenario(bad)
    assert info.value.where == "failures[1].link" and info.value.line == 6
