"""Network files an attacker or a careless user might give: large files, duplicate and
undeclared nodes, self-loops, no links, stranded ingress nodes, infinite numbers,
GML that is not GML."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent.model.errors import InputError
from agent.model.network_io import NetworkOptions, load_network
from tests.conftest import DEEPCOORD
from tests.model.big_graphml import write_graphml

TRIANGLE = DEEPCOORD / "networks/triangle/triangle-in1-cap2-delay10.graphml"
KEYS = (
    '<key id="c" for="node" attr.name="NodeCap" attr.type="double"/>'
    '<key id="t" for="node" attr.name="NodeType" attr.type="string"/>'
    '<key id="d" for="edge" attr.name="LinkDelay" attr.type="double"/>'
    '<key id="l" for="edge" attr.name="LinkFwdCap" attr.type="double"/>'
)


def graphml(tmp_path: Path, body: str) -> Path:
    """A GraphML file, one element per line (line 1 is the header and the keys)."""
    file = tmp_path / "n.graphml"
    file.write_text(
        f'<graphml xmlns="http://graphml.graphdrawing.org/xmlns">{KEYS}'
        f'<graph edgedefault="undirected">\n{body}\n</graph></graphml>\n'
    )
    return file


def node(node_id: str, cap: str = "1", kind: str = "Normal") -> str:
    return f'<node id="{node_id}"><data key="c">{cap}</data><data key="t">{kind}</data></node>'


def edge(a: str, b: str, delay: str = "2", cap: str = "10") -> str:
    return (
        f'<edge source="{a}" target="{b}"><data key="d">{delay}</data>'
        f'<data key="l">{cap}</data></edge>'
    )


def test_item3_large_graphml_costs_one_pass_for_line_numbers(tmp_path: Path) -> None:
    """6,000 nodes and 21,000 edges (a fifth of the reviewer's file): line numbers
    used to cost a search of the whole file per element, quadratic in its size."""
    file = tmp_path / "big.graphml"
    write_graphml(file, 6_000, 21_000)
    text = file.read_text()
    last_edge = text.rindex("<edge ")
    file.write_text(text[:last_edge] + text[last_edge:].replace(">1000<", ">-1<", 1))
    started = time.perf_counter()
    with pytest.raises(InputError, match="LinkFwdCap must be a non-negative") as info:
        load_network(file)
    assert time.perf_counter() - started < 20  # about 2 s; the old search took minutes
    assert info.value.line == text[:last_edge].count("\n") + 1


def test_item7_duplicate_node_id_is_an_error_naming_both_lines(tmp_path: Path) -> None:
    file = graphml(tmp_path, "\n".join([node("0", kind="Ingress"), node("1"), node("0", "5")]))
    with pytest.raises(InputError, match=r"declared twice \(first at line 2\)") as info:
        load_network(file)
    assert info.value.where == "node '0'" and info.value.line == 4
    gml = tmp_path / "n.gml"
    gml.write_text("graph [\n node [ id 0 NodeCap 1 ]\n node [ id 0 NodeCap 5 ]\n]\n")
    with pytest.raises(InputError, match=r"declared twice \(first at line 2\)") as info:
        load_network(gml)
    assert info.value.line == 3


def test_item7_ids_that_name_the_same_number_are_an_error(tmp_path: Path) -> None:
    file = graphml(tmp_path, "\n".join([node("3", kind="Ingress"), node("03")]))
    with pytest.raises(InputError, match="'3' and '03' both name node 3"):
        load_network(file)


def test_item7_edge_to_undeclared_node_names_the_node(tmp_path: Path) -> None:
    file = graphml(tmp_path, "\n".join([node("0", kind="Ingress"), node("1"), edge("0", "7")]))
    with pytest.raises(InputError, match="node '7' is not declared") as info:
        load_network(file)
    assert info.value.where == "edge ('0', '7')" and info.value.line == 4
    gml = tmp_path / "n.gml"
    gml.write_text("graph [\n node [ id 0 NodeCap 1 ]\n edge [ source 0 target 7 ]\n]\n")
    with pytest.raises(InputError, match="node '7' is not declared") as info:
        load_network(gml)
    assert info.value.line == 3
    # found by the fuzzer: after a repeated edge the file is read again as a multigraph
    gml.write_text(
        "graph [\n node [ id 0 ]\n node [ id 1 ]\n edge [ source 0 target 1 ]\n"
        " edge [ source 0 target 1 ]\n edge [ source 1 target 9 ]\n]\n"
    )
    with pytest.raises(InputError, match="node '9' is not declared") as info:
        load_network(gml)
    assert info.value.line == 6


def test_item7_self_loop_is_a_warning_naming_the_edge(tmp_path: Path) -> None:
    body = [node("0", kind="Ingress"), node("1"), edge("0", "1"), edge("1", "1")]
    net = load_network(graphml(tmp_path, "\n".join(body)))
    assert len(net.warnings) == 1
    assert "n.graphml:5: edge (1, 1): a self-loop" in net.warnings[0]


def test_item7_network_without_links_warns(tmp_path: Path) -> None:
    net = load_network(graphml(tmp_path, "\n".join([node("0", kind="Ingress"), node("1")])))
    assert any("no links between nodes" in warning for warning in net.warnings)


def test_item7_ingress_that_reaches_no_compute_warns(tmp_path: Path) -> None:
    body = [node("0", "0", "Ingress"), node("1", "0"), edge("0", "1"), node("2", "4")]
    net = load_network(graphml(tmp_path, "\n".join(body)))
    assert any(
        "no ingress node (pop0) reaches a node with compute capacity" in warning
        for warning in net.warnings
    )
    body.append(node("3", "0", "Ingress"))
    body.append(edge("3", "2"))
    net = load_network(graphml(tmp_path, "\n".join(body)))
    assert any("ingress node(s) pop0 reach no node" in warning for warning in net.warnings)
    assert not load_network(TRIANGLE).warnings


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (node("0", "inf", "Ingress"), "NodeCap must be a non-negative number of at most"),
        (node("0", "nan", "Ingress"), "NodeCap must be a non-negative number"),
        (node("0") + node("1") + edge("0", "1", delay="inf"), "LinkDelay must be"),
        (node("0") + node("1") + edge("0", "1", cap="1e300"), "LinkFwdCap must be"),
        ('<node id="0"><data key="c">1.5.2</data></node>', "value is not a valid double"),
        ('<node id="0"><data key="x">1</data></node>', "no <key> declares 'x'"),
        ('<node><data key="c">1</data></node>', "the id attribute is missing"),
    ],
)
def test_item7_infinite_and_malformed_values_are_errors(
    tmp_path: Path, body: str, message: str
) -> None:
    with pytest.raises(InputError, match=message) as info:
        load_network(graphml(tmp_path, body))
    assert info.value.line == 2


def test_zoo_gml_with_scenario_defaults_loads_without_warnings(tmp_path: Path) -> None:
    gml = tmp_path / "z.gml"
    gml.write_text("graph [\n node [ id 0 ]\n node [ id 1 ]\n edge [ source 0 target 1 ]\n]\n")
    net = load_network(gml, NetworkOptions(node_cap=2, ingress=("pop0",)))
    assert net.node("pop1").cap == 2 and not net.warnings


def test_item8_gml_syntax_error_reports_position_not_content(tmp_path: Path) -> None:
    file = tmp_path / "passwd.gml"
    file.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/bin/sh\n")
    with pytest.raises(InputError) as info:
        load_network(file)
    message = info.value.one_line()
    assert message == f"{file}:1: GML syntax error (column 5)"
    second = tmp_path / "two.gml"
    second.write_text('graph [\n node [ id 0 label "secret value" ]\n secret: here\n]\n')
    with pytest.raises(InputError) as info:
        load_network(second)
    assert info.value.line == 3 and "secret" not in info.value.problem


def test_item8_gml_that_is_not_ascii_or_nested_too_deep(tmp_path: Path) -> None:
    file = tmp_path / "n.gml"
    file.write_bytes(b'graph [\n node [ id 0 label "M\xc3\xbcnchen" ]\n]\n')
    with pytest.raises(InputError, match="GML files are ASCII text, found byte 0xc3") as info:
        load_network(file)
    assert info.value.line == 2
    file.write_text("graph [\n" + "x [ " * 5000 + "] " * 5000 + "\n]\n")
    with pytest.raises(InputError, match="nested deeper than 100 levels"):
        load_network(file)


def test_graphml_entity_declarations_are_refused(tmp_path: Path) -> None:
    file = tmp_path / "n.graphml"
    file.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE g [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>\n'
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns"><graph/></graphml>\n'
    )
    with pytest.raises(InputError, match="entity declarations are not allowed") as info:
        load_network(file)
    assert info.value.line == 2
