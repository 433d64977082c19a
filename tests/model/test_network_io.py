from __future__ import annotations

from pathlib import Path

import pytest

from agent.model.errors import InputError
from agent.model.geo import geodesic_m, propagation_delay_ms
from agent.model.network import NodeKind, Routing
from agent.model.network_io import NetworkOptions, load_network
from tests.conftest import DEEPCOORD, TOPOLOGIES

SHARED_HVC = TOPOLOGIES.parent.parent / "shared/topologies/sndlib/atlanta_extended_hvc.gml"


def test_coord_sim_graphml_with_geo_delays() -> None:
    net = load_network(DEEPCOORD / "networks/abilene/abilene-in3-rand-cap0-2.graphml")
    assert net.ingress == ["pop0", "pop1", "pop2"]
    assert net.node("pop3").cap == 2 and net.node("pop3").label == "Seattle"
    # New York - Chicago: 1,146 km -> round(2.94 ms) = 3 ms, as coord-sim computes it
    assert net.link("pop0", "pop1").delay == 3.0  # type: ignore[union-attr]
    assert net.link("pop0", "pop1").cap == 1000  # type: ignore[union-attr]


def test_vincenty_agrees_with_reference_geodesic() -> None:
    # values of geopy.distance.distance (Karney's algorithm), which coord-sim uses
    assert geodesic_m(40.71427, -74.00597, 34.05223, -118.24368) == pytest.approx(
        3_944_411.0952, abs=1e-3
    )
    assert geodesic_m(47.60621, -122.33207, 29.76328, -95.36327) == pytest.approx(
        3_042_768.8176, abs=1e-3
    )
    assert propagation_delay_ms(0, 0, 0, 0) == 0.0


def test_explicit_link_delay_and_routing_modes() -> None:
    net = load_network(DEEPCOORD / "networks/triangle/triangle-in1-cap2-delay10.graphml")
    assert {link.delay for link in net.links} == {10.0}
    paths = net.shortest_paths(Routing.HOPS)
    assert all(len(p.nodes) <= 2 for p in paths.values())


def test_zoo_gml_needs_capacities_from_the_scenario() -> None:
    with pytest.raises(InputError, match="NodeCap missing") as info:
        load_network(TOPOLOGIES / "zoo/Ibm.gml")
    assert info.value.line is not None
    net = load_network(
        TOPOLOGIES / "zoo/Ibm.gml",
        NetworkOptions(node_cap=2, link_cap=100, ingress=("pop0", "pop4"), node_caps={"pop1": 5}),
    )
    assert len(net.nodes) == 18 and len(net.links) == 24
    assert net.ingress == ["pop0", "pop4"]
    assert net.node("pop1").cap == 5 and net.node("pop2").cap == 2
    assert {link.cap for link in net.links} == {100}


def test_unknown_ingress_is_rejected() -> None:
    with pytest.raises(InputError, match="unknown node 'pop99'"):
        load_network(TOPOLOGIES / "zoo/Ibm.gml", NetworkOptions(node_cap=1, ingress=("pop99",)))


@pytest.mark.skipif(not SHARED_HVC.exists(), reason="reference inputs not beside the checkout")
def test_hierarchical_coordination_dialect() -> None:
    net = load_network(SHARED_HVC)
    assert len(net.nodes) == 15 and len(net.links) == 22  # directed arcs merged into links
    assert net.node("pop1").cap == 16
    assert all(link.cap is not None and link.delay > 0 for link in net.links)


def test_gml_with_duplicate_edges_is_read(tmp_path: Path) -> None:
    gml = tmp_path / "dup.gml"
    gml.write_text(
        'graph [\n node [ id 0 NodeCap 1 NodeType "Ingress" ]\n node [ id 1 NodeCap 1 ]\n'
        " edge [ source 0 target 1 LinkDelay 2 ]\n edge [ source 0 target 1 LinkDelay 2 ]\n]\n"
    )
    net = load_network(gml)
    assert len(net.links) == 1 and net.node("pop0").kind is NodeKind.INGRESS


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('<data key="c">-1</data>', "non-negative"),
        ('<data key="c">lots</data>', "must be a number"),
        ('<data key="c">1</data><data key="t">Core</data>', "NodeType must be"),
    ],
)
def test_bad_node_attributes(tmp_path: Path, body: str, message: str) -> None:
    file = tmp_path / "n.graphml"
    file.write_text(
        '<?xml version="1.0"?><graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
        '<key id="c" for="node" attr.name="NodeCap" attr.type="string"/>'
        '<key id="t" for="node" attr.name="NodeType" attr.type="string"/>'
        f'<graph edgedefault="undirected"><node id="0">{body}</node></graph></graphml>'
    )
    with pytest.raises(InputError, match=message):
        load_network(file)


def test_not_a_network_file(tmp_path: Path) -> None:
    file = tmp_path / "x.graphml"
    file.write_text("<graphml>\n<oops")
    with pytest.raises(InputError, match=r"x\.graphml:2: not well-formed XML: .* \(column"):
        load_network(file)
    with pytest.raises(InputError, match=r"must end in \.graphml or \.gml"):
        load_network(
            tmp_path.joinpath("n.txt").resolve()
            if tmp_path.joinpath("n.txt").write_text("x")
            else ""
        )
