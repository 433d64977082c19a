"""Reading hierarchical-coordination inputs: what is accepted, and bad input as one located
line with nothing executed."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.model.errors import InputError
from agent.model.expr import ExpressionError
from agent.model.hvc_expr import parse_linear
from agent.model.hvc_io import (
    read_advertised_restrictions,
    read_chains,
    read_network_description,
    read_requests,
    read_vnf_descriptions,
)
from agent.model.hvc_scenario import load_milp_inputs
from agent.model.hvc_topology import read_hierarchy, read_hvc_gml, read_sndlib_xml
from tests.milp.conftest import DATA, TOPOLOGIES_MILP

GML_HEAD = "graph [\n  directed 1\n"
GML_NODES = (
    '  node [\n    id 0\n    label "a"\n    cpu 4\n  ]\n'
    '  node [\n    id 1\n    label "b"\n    cpu 2\n  ]\n'
)


@pytest.mark.parametrize(
    ("text", "slope", "intercept"),
    [
        ("lambda in_rate: 0.5 * in_rate", 0.5, 0.0),
        ("lambda in_rate: in_rate", 1.0, 0.0),
        ("lambda in_rate: 0", 0.0, 0.0),
        ("lambda x: 2 * (x + 1) - x / 4", 1.75, 2.0),
        ("in_rate * 3 + 1", 3.0, 1.0),
        (2, 0.0, 2.0),
    ],
)
def test_linear_functions(text: str | int, slope: float, intercept: float) -> None:
    fn = parse_linear(text)
    assert (fn.slope, fn.intercept) == pytest.approx((slope, intercept))
    assert fn(10.0) == pytest.approx(10 * slope + intercept)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lambda in_rate: __import__('os').system('touch pwned')", "Call is not allowed"),
        ("lambda in_rate: max(in_rate, 1)", "Call is not allowed"),
        ("lambda in_rate: in_rate.real", "Attribute is not allowed"),
        ("lambda in_rate: in_rate * in_rate", "not linear"),
        ("lambda in_rate: 1 / in_rate", "dividing by the rate"),
        ("lambda in_rate: in_rate ** 2", "operator Pow"),
        ("lambda a, b: a", "exactly one argument"),
        ("lambda in_rate: rate", "unknown name 'rate'"),
        ("lambda in_rate: 'x'", "constant str"),
        ("lambda in_rate:", "not an arithmetic expression"),
    ],
)
def test_non_linear_or_unsafe_functions_are_refused(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        parse_linear(text)


def test_the_test_scenarios_read(tmp_path: Path) -> None:
    folder = DATA / "scenario_3"
    chains = read_chains(folder / "chains.yaml")
    assert chains == {"chain1": ("A", "B"), "chain2": ("C",)}
    vnfs = read_vnf_descriptions(folder / "vnf_descriptions.yaml")
    assert vnfs["A"].cpu.slope == 1.0 and vnfs["DST"].out.slope == 1.0
    overlay = read_network_description(folder / "network_description.yaml")
    overlay = read_advertised_restrictions(folder / "advertised_restrictions.yaml", overlay)
    assert [p.amount for p in overlay.shared_cpu] == [5.0, 0.0]
    requests = read_requests(folder / "vnf_requests.yaml", chains, set(overlay.nodes))
    assert requests["request2"].rate == 100.0 and requests["request2"].chain == ("C",)


def test_a_directory_of_inputs_loads_as_a_substrate_problem() -> None:
    inputs = load_milp_inputs(DATA / "graph_ml_scenario_1")
    assert inputs.substrate is not None and len(inputs.substrate.links) == 44
    assert inputs.hierarchy is not None and inputs.hierarchy.depth() == 3
    assert set(inputs.requests) == {"request1", "request2"}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_chain_file_with_another_python_tag_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    chain = _write(
        tmp_path / "chains.yaml",
        "chain1:\n  - !!python/tuple [SRC, A]\n"
        f"  - !!python/object/apply:os.system ['touch {marker}']\n",
    )
    with pytest.raises(InputError) as caught:
        read_chains(chain)
    assert caught.value.one_line() == (
        f"{chain}:3: tag !!python/object/apply:os.system is not allowed "
        "(the only Python tag read is !!python/tuple)"
    )
    assert not marker.exists()


@pytest.mark.parametrize(
    "tag", ["!!python/name:os.system", "!!python/object:pathlib.Path", "!custom"]
)
def test_every_other_tag_is_refused_with_its_line(tmp_path: Path, tag: str) -> None:
    chain = _write(
        tmp_path / "chains.yaml", f"chain1:\n  - !!python/tuple [SRC, DST]\nx: {tag} y\n"
    )
    with pytest.raises(InputError, match=r"chains.yaml:3: tag .* is not allowed"):
        read_chains(chain)


def test_a_tuple_tag_on_a_scalar_is_refused(tmp_path: Path) -> None:
    chain = _write(tmp_path / "chains.yaml", "chain1:\n  - !!python/tuple SRC\n")
    with pytest.raises(InputError, match=r"chains.yaml:2: !!python/tuple must tag a sequence"):
        read_chains(chain)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("chain1:\n  - !!python/tuple [A, B]\n", "chain1[0][0]: a chain starts at SRC"),
        ("chain1:\n  - !!python/tuple [SRC, A]\n", "chain1[0][1]: a chain ends at DST"),
        (
            "chain1:\n  - !!python/tuple [SRC, A]\n  - !!python/tuple [B, DST]\n",
            "chain1[1][0]: arc starts at 'B', the previous ended at 'A'",
        ),
        ("chain1:\n  - [SRC]\n", "chain1[0]: an arc is a pair"),
    ],
)
def test_malformed_chains(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_chains(_write(tmp_path / "chains.yaml", body))


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("'lambda in_rate: open(\"x\").read()'", "Call is not allowed"),
        ("'lambda in_rate: in_rate.bit_length()'", "Call is not allowed"),
        ("'lambda in_rate: in_rate.real'", "Attribute is not allowed"),
    ],
)
def test_vnf_function_with_a_call_or_attribute_is_a_located_error(
    tmp_path: Path, function: str, message: str
) -> None:
    text = (
        "vnfs: [SRC, A, DST]\n"
        "cpu_consumption:\n"
        f"  A: {function}\n"
        "outgoing_rate:\n"
        "  A: 'lambda in_rate: in_rate'\n"
    )
    path = _write(tmp_path / "vnf_descriptions.yaml", text)
    with pytest.raises(InputError) as caught:
        read_vnf_descriptions(path)
    line = caught.value.one_line()
    assert line.startswith(f"{path}:3: cpu_consumption.A: invalid rate function: ")
    assert message in line and "\n" not in line


def test_outgoing_rate_with_a_constant_is_refused(tmp_path: Path) -> None:
    text = (
        "vnfs: [A]\ncpu_consumption:\n  A: 'lambda in_rate: in_rate'\n"
        "outgoing_rate:\n  A: 'lambda in_rate: in_rate + 1'\n"
    )
    with pytest.raises(InputError, match=r":5: outgoing_rate.A: the outgoing rate must be"):
        read_vnf_descriptions(_write(tmp_path / "vnf.yaml", text))


def test_gml_edge_without_max_rate_is_a_located_error(tmp_path: Path) -> None:
    text = (
        GML_HEAD
        + GML_NODES
        + "  edge [\n    source 0\n    target 1\n    id 0\n    maxRate 10\n    delay 2\n  ]\n"
        + "  edge [\n    source 1\n    target 0\n    id 1\n    delay 2\n  ]\n]\n"
    )
    path = _write(tmp_path / "net.gml", text)
    with pytest.raises(InputError) as caught:
        read_hvc_gml(path)
    assert caught.value.one_line() == f"{path}:20: edge (1, 0): maxRate is missing"


@pytest.mark.parametrize(
    ("edge", "message"),
    [
        ("    id 0\n    maxRate 10\n", "delay is missing"),
        ("    maxRate 10\n    delay 1\n", "id is missing"),
        ('    id 0\n    maxRate "fast"\n    delay 1\n', "maxRate must be a number"),
        ("    id 0\n    maxRate -3\n    delay 1\n", "maxRate must be a non-negative number"),
    ],
)
def test_gml_edge_attributes(tmp_path: Path, edge: str, message: str) -> None:
    text = GML_HEAD + GML_NODES + f"  edge [\n    source 0\n    target 1\n{edge}  ]\n]\n"
    with pytest.raises(InputError, match=rf"net.gml:13: edge \(0, 1\): {message}"):
        read_hvc_gml(_write(tmp_path / "net.gml", text))


def test_gml_node_without_cpu(tmp_path: Path) -> None:
    text = GML_HEAD + '  node [\n    id 0\n    label "a"\n  ]\n]\n'
    with pytest.raises(InputError, match=r"net.gml:3: node 0: cpu is missing"):
        read_hvc_gml(_write(tmp_path / "net.gml", text))


def test_request_naming_an_unknown_chain_or_node(tmp_path: Path) -> None:
    chains = {"chain1": ("A",)}
    body = "r1:\n  ingress: a\n  egress: b\n  initial_rate: 2\n  vnf_chain: chain9\n"
    with pytest.raises(InputError, match=r":5: r1.vnf_chain: unknown chain 'chain9'"):
        read_requests(_write(tmp_path / "req.yaml", body), chains, {"a", "b"})
    body = "r1:\n  ingress: a\n  egress: z\n  initial_rate: 2\n  vnf_chain: chain1\n"
    with pytest.raises(InputError, match=r":3: r1.egress: unknown node 'z'"):
        read_requests(_write(tmp_path / "req.yaml", body), chains, {"a", "b"})


def test_hierarchy_must_cover_every_node_once(tmp_path: Path) -> None:
    body = "root:\n  childCoordinators:\n    d1:\n      nodes: [a]\n    d2:\n      nodes: [a]\n"
    with pytest.raises(InputError, match=r"d2: node 'a' is also in d1"):
        read_hierarchy(_write(tmp_path / "h.yaml", body), ["a", "b"])
    body = "root:\n  childCoordinators:\n    d1:\n      nodes: [a]\n"
    with pytest.raises(InputError, match=r"root: node 'b' is in no domain"):
        read_hierarchy(_write(tmp_path / "h.yaml", body), ["a", "b"])


def test_sndlib_network_reads_with_coordinates() -> None:
    network = read_sndlib_xml(TOPOLOGIES_MILP / "janos-us.xml")
    assert len(network.coordinates) == 26 and len(network.links) == 42
    assert network.coordinates["Seattle"] == (-122.3, 47.45)


def test_sndlib_entities_are_refused(tmp_path: Path) -> None:
    body = (
        '<?xml version="1.0"?>\n<!DOCTYPE n [<!ENTITY a "aaaa">]>\n'
        "<network><networkStructure><nodes></nodes></networkStructure></network>\n"
    )
    with pytest.raises(InputError, match="entity declarations are not allowed"):
        read_sndlib_xml(_write(tmp_path / "n.xml", body))
