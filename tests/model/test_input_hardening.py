"""Scenario, service, traffic and trace files that used to hang the simulator, exhaust
its memory, crash it, or be accepted although they make no sense."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from agent.model.errors import InputError
from agent.model.expr import parse_resource_function
from agent.model.limits import MAX_FLOWS_PER_STEP
from agent.model.scenario import load_scenario, scenario_from_files
from agent.model.services import load_services
from agent.model.traffic import TrafficConfig, load_trace, load_traffic
from agent.model.yamlfile import load_yaml
from agent.sim.arrivals import ArrivalProcess
from tests.conftest import DEEPCOORD

NETWORK_IN5 = DEEPCOORD / "networks/abilene/abilene-in5-rand-cap0-2.graphml"
SERVICE = DEEPCOORD / "service_functions/abc.yaml"
TRAFFIC = "deterministic_arrival: false\ndeterministic_size: true\nttl_choices: [100]\n"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    file = tmp_path / name
    if isinstance(text, bytes):
        file.write_bytes(text)
    else:
        file.write_text(text)
    return file


def scenario(tmp_path: Path, traffic: str, extra: str = "") -> Path:
    traffic_file = write(tmp_path, "traffic.yaml", TRAFFIC + traffic)
    return write(
        tmp_path,
        "scenario.yaml",
        f"network: {NETWORK_IN5}\nservice: {SERVICE}\ntraffic: {traffic_file}\n{extra}",
    )


@pytest.mark.parametrize("rate", ["0", "-1", ".nan", "1e300"])
def test_item4_flow_rate_that_never_draws_a_positive_rate_is_rejected(
    tmp_path: Path, rate: str
) -> None:
    """A mean rate of 0 left the generator redrawing forever for a positive rate."""
    with pytest.raises(InputError) as info:
        load_traffic(write(tmp_path, "t.yaml", TRAFFIC + f"flow_dr_mean: {rate}\n"))
    assert info.value.where == "flow_dr_mean" and info.value.line == 4


def test_item4_random_sizes_with_a_tiny_shape_warn_and_draw_infinite_sizes(
    tmp_path: Path,
) -> None:
    """Pareto sizes with shape 0.001 overflow a float: numpy (coord-sim) gives infinity,
    Python's draw raised; now the draw is infinite as in coord-sim, with a warning."""
    text = TRAFFIC.replace("deterministic_size: true", "deterministic_size: false")
    traffic = load_traffic(write(tmp_path, "t.yaml", text + "flow_size_shape: 0.001\n"))
    assert traffic.warnings and "t.yaml:4: flow_size_shape: random (Pareto)" in traffic.warnings[0]
    config = traffic.config
    arrivals = ArrivalProcess(config, ["pop0"], (), seed=3, run_duration=100.0)
    arrivals.fill(10_000.0)
    sizes = [size for _, _, size in arrivals.queues["pop0"]]
    assert math.inf in sizes and all(size >= 1.0 for size in sizes)
    fine = TrafficConfig.model_validate(
        {"deterministic": False, "ttl_choices": [100], "flow_size_shape": 0.06}
    )
    arrivals = ArrivalProcess(fine, ["pop0"], (), seed=3, run_duration=100.0)
    arrivals.fill(100_000.0)  # 10,000 draws at the smallest shape that never overflows
    assert all(math.isfinite(size) for _, _, size in arrivals.queues["pop0"])


def test_item5_tiny_inter_arrival_mean_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"asks for about 2\.01e\+11 flows") as info:
        load_traffic(write(tmp_path, "t.yaml", TRAFFIC + "inter_arrival_mean: 1e-9\n"))
    assert info.value.where == "inter_arrival_mean" and info.value.line == 4
    # fine for one ingress node, too much for the five of Abilene-in5
    file = scenario(tmp_path, "inter_arrival_mean: 0.01\n")
    load_traffic(tmp_path / "traffic.yaml")
    with pytest.raises(InputError, match="5 ingress nodes") as info:
        load_scenario(file)
    assert info.value.path == str(tmp_path / "traffic.yaml")
    assert f"{MAX_FLOWS_PER_STEP:,}" in info.value.problem


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("ttl_choices: [1e11]\n", "ttl_choices"),
        ("run_duration: 1e15\n", "run_duration"),
        ("use_states: true\ninit_state: a\nstates: {a: {inter_arr_mean: 10, switch_p: 0.1},"
         " b: {inter_arr_mean: 1e-6, switch_p: 0.1}}\n", "states.b.inter_arr_mean"),
    ],
)  # fmt: skip
def test_item5_other_keys_that_ask_too_much(tmp_path: Path, text: str, where: str) -> None:
    base = TRAFFIC.replace("ttl_choices: [100]\n", "") if "ttl_choices" in text else TRAFFIC
    with pytest.raises(InputError) as info:
        load_traffic(write(tmp_path, "t.yaml", base + text))
    assert info.value.where == where


def test_item5_trace_row_with_tiny_mean_names_the_row(tmp_path: Path) -> None:
    write(tmp_path, "trace.csv", "time,node,inter_arrival_mean\n0,pop0,10\n500,pop1,1e-9\n")
    with pytest.raises(InputError) as info:
        load_traffic(write(tmp_path, "t.yaml", TRAFFIC + "trace_path: trace.csv\n"))
    assert info.value.path == str(tmp_path / "trace.csv")
    assert (info.value.where, info.value.line) == ("row 2", 3)


def test_item6_yaml_nested_10000_deep_is_an_input_error(tmp_path: Path) -> None:
    file = write(tmp_path, "s.yaml", "network: " + "[" * 10_000 + "]" * 10_000 + "\n")
    with pytest.raises(InputError, match="nested deeper than 100 levels"):
        load_scenario(file)


def test_item6_trace_with_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    file = write(tmp_path, "t.csv", b"time,node,inter_arrival_mean\n0,pop0,10\n5,pop\xff,3\n")
    with pytest.raises(InputError, match=r"not UTF-8 text \(byte 0xff\)") as info:
        load_trace(file)
    assert info.value.line == 3


def test_item6_resource_function_with_complex_results_is_rejected(tmp_path: Path) -> None:
    file = write(
        tmp_path,
        "s.yaml",
        "sfc_list: {s: [a]}\nsf_list:\n  a: {resource_function: (-load) ** 0.5}\n",
    )
    with pytest.raises(InputError, match=r"cannot evaluate at load 0\.001") as info:
        load_services(file)
    assert info.value.where == "sf_list.a.resource_function" and info.value.line == 3


def test_item6_resource_function_failing_beyond_the_checked_loads_reports_full() -> None:
    """Parsing checks loads 0 to 100; past them a failure means 'no room', not a crash."""
    function = parse_resource_function("1 / (load - 200) ** 2")
    assert function(100.0) == pytest.approx(1e-4)
    assert function(200.0) == math.inf
    assert parse_resource_function("sqrt(150 - load)")(151.0) == math.inf


@pytest.mark.parametrize("expression", ["-load", "load - 5", "10 - load", -1, ".nan"])
def test_item7_negative_resource_functions_are_rejected(
    tmp_path: Path, expression: str | int
) -> None:
    text = f"sfc_list: {{s: [a]}}\nsf_list:\n  a: {{resource_function: {expression}}}\n"
    with pytest.raises(InputError) as info:
        load_services(write(tmp_path, "s.yaml", text))
    assert info.value.where == "sf_list.a.resource_function"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("nan,pop0,10", "time must be at least 0"),
        ("-5,pop0,10", "time must be at least 0"),
        ("5,pop0,nan", "inter_arrival_mean must be greater than 0"),
        ("5,pop0,inf", "inter_arrival_mean must be greater than 0"),
        ("5,pop0,10,-1", "cap must be at least 0"),
        ("5,pop0", "inter_arrival_mean is not a number"),
    ],
)
def test_item7_trace_rows_with_nonsense_numbers(tmp_path: Path, row: str, message: str) -> None:
    file = write(tmp_path, "t.csv", f"time,node,inter_arrival_mean,cap\n0,pop0,10,\n{row}\n")
    with pytest.raises(InputError, match=message) as info:
        load_trace(file)
    assert (info.value.where, info.value.line) == ("row 2", 3)


def test_item7_trace_row_naming_an_unknown_node(tmp_path: Path) -> None:
    write(tmp_path, "trace.csv", "time,node,inter_arrival_mean\n0,pop0,10\n100,pop42,12\n")
    file = scenario(tmp_path, "trace_path: trace.csv\n")
    with pytest.raises(InputError, match="unknown node 'pop42'") as info:
        load_scenario(file)
    assert (info.value.path, info.value.line) == (str(tmp_path / "trace.csv"), 3)
    with pytest.raises(InputError, match="unknown node 'pop42'"):
        scenario_from_files(NETWORK_IN5, SERVICE, tmp_path / "traffic.yaml")


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ("seed: -1\n", "seed"),
        ("steps: 100000000000\n", "steps"),
        ("observation: {delay_steps: 100000000000000000000}\n", "observation.delay_steps"),
        ("failures: [{node: pop1, down_at: .inf}]\n", "failures[0].down_at"),
    ],
)
def test_item7_scenario_numbers_out_of_range(tmp_path: Path, extra: str, where: str) -> None:
    with pytest.raises(InputError) as info:
        load_scenario(scenario(tmp_path, "", extra))
    assert info.value.where == where


def test_item7_scenario_infinite_capacity_and_unknown_node_caps(tmp_path: Path) -> None:
    gml = write(
        tmp_path,
        "z.gml",
        "graph [\n node [ id 0 ]\n node [ id 1 ]\n edge [ source 0 target 1 ]\n]\n",
    )
    traffic = write(tmp_path, "traffic.yaml", TRAFFIC)
    base = f"service: {SERVICE}\ntraffic: {traffic}\n"
    file = write(
        tmp_path, "s.yaml", base + f"network: {{file: {gml}, node_cap: .inf, ingress: [pop0]}}\n"
    )
    with pytest.raises(InputError, match="finite number") as info:
        load_scenario(file)
    assert info.value.where == "network.node_cap"
    file.write_text(
        base + f"network: {{file: {gml}, node_cap: 1, node_caps: {{pop7: 2}}, ingress: [pop0]}}\n"
    )
    with pytest.raises(InputError, match="unknown node 'pop7'") as info:
        load_scenario(file)
    assert info.value.where == "network.node_caps.pop7"
    file.write_text(base + f"network: {{file: {gml}, node_cap: 0, ingress: [pop0]}}\n")
    assert any("every flow will be dropped" in w for w in load_scenario(file).warnings)


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("a: 1\nb: 2\na: 3\n", "key 'a' appears twice (first at line 1)", 3),
        ("a: &a [1, *a]\n", "alias *a refers to itself", 1),
        ("a: 2001-13-45\n", "invalid timestamp value", 1),
        ("a: 1\nb: \x00\n", "characters are not allowed", 2),
    ],
)
def test_yaml_that_no_input_file_needs(tmp_path: Path, text: str, message: str, line: int) -> None:
    with pytest.raises(InputError) as info:
        load_yaml(write(tmp_path, "f.yaml", text))
    assert message in info.value.problem and info.value.line == line


def test_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(InputError, match="more than 200,000 values"):
        load_yaml(write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n"))


def test_item5_chain_longer_than_the_cap_names_the_chain(tmp_path: Path) -> None:
    chain = ", ".join(["a"] * 101)
    file = write(tmp_path, "s.yaml", f"sfc_list:\n  s: [{chain}]\nsf_list: {{a: null}}\n")
    with pytest.raises(InputError, match="at most 100 items") as info:
        load_services(file)
    assert info.value.where == "sfc_list.s" and info.value.line == 2


def test_item5_network_too_large_for_the_simulator(tmp_path: Path) -> None:
    nodes = "".join(f" node [ id {i} NodeCap 1 ]\n" for i in range(1001))
    edges = "".join(f" edge [ source {i} target {i + 1} ]\n" for i in range(1000))
    gml = write(tmp_path, "big.gml", f"graph [\n{nodes}{edges}]\n")
    traffic = write(tmp_path, "t.yaml", TRAFFIC)
    file = write(
        tmp_path,
        "s.yaml",
        f"network: {{file: {gml}, ingress: [pop0]}}\nservice: {SERVICE}\ntraffic: {traffic}\n",
    )
    with pytest.raises(
        InputError, match="1,001 nodes; the simulator handles at most 1,000"
    ) as info:
        load_scenario(file)
    assert info.value.where == "network"
