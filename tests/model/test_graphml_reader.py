"""The standard-library GraphML reader gives what networkx's reader gives: the same nodes
and edges in the same order and orientation, the same attribute values of the same
types; what it leaves to networkx still loads, and bad input stays a located error."""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from agent.model import network_io
from agent.model.errors import InputError
from agent.model.graphml import RawGraph, Unsupported, read_graphml
from agent.model.network_io import load_network, networkx_graphml
from tests.conftest import TOPOLOGIES

BUNDLED = sorted(TOPOLOGIES.rglob("*.graphml"))
HEAD = '<?xml version="1.0" encoding="utf-8"?>\n<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n'


def _same(a: RawGraph, b: RawGraph) -> None:
    # repr tells 1 from 1.0 and True from 1: the types must match too
    assert repr(list(a.nodes.items())) == repr(list(b.nodes.items()))
    assert repr(a.edges) == repr(b.edges)
    assert repr(a.graph) == repr(b.graph)
    assert a.directed == b.directed


def _networkx_int_ids(file: Path) -> RawGraph:
    """networkx's graph with ids made integers, as the loader did with networkx."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = nx.read_graphml(file)
    with contextlib.suppress(ValueError):  # ids that are not numbers stay as they are
        graph = nx.relabel_nodes(graph, {node: int(node) for node in graph.nodes})
    return RawGraph(
        dict(graph.nodes(data=True)), list(graph.edges(data=True)), graph.is_directed(), graph.graph
    )


def test_there_are_bundled_graphml_files() -> None:
    assert len(BUNDLED) >= 20


@pytest.mark.parametrize("file", BUNDLED, ids=lambda f: f.stem)
def test_bundled_files_read_as_networkx_reads_them(file: Path) -> None:
    mine = read_graphml(file)  # no Unsupported: these take the fast reader
    _same(mine, networkx_graphml(file))
    ids = {node: int(node) for node in mine.nodes}
    _same(mine.relabelled(ids), _networkx_int_ids(file))


@pytest.mark.parametrize("file", BUNDLED[::4], ids=lambda f: f.stem)
def test_bundled_networks_load_the_same_through_networkx(
    file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = load_network(file)

    def refuse(_file: Path) -> RawGraph:
        raise Unsupported("test")

    monkeypatch.setattr(network_io, "read_graphml", refuse)
    slow = load_network(file)
    assert fast == slow and fast.warnings == slow.warnings
    assert [link.key for link in fast.links] == [link.key for link in slow.links]
    assert [(link.a, link.b) for link in fast.links] == [(link.a, link.b) for link in slow.links]


CASES: dict[str, str] = {
    # edges listed against node order: networkx turns them round
    "orientation": """
<key id="c" for="node" attr.name="NodeCap" attr.type="double"/>
<key id="d" for="edge" attr.name="LinkDelay" attr.type="int"/>
<graph edgedefault="undirected">
<node id="0"><data key="c">1</data></node><node id="1"/><node id="2"><data key="c">2.5</data></node>
<edge source="2" target="1" id="e0"><data key="d">4</data></edge>
<edge source="0" target="1" id="e1"/><edge source="2" target="0"/>
<edge source="1" target="1"><data key="d"> 7 </data></edge>
</graph>""",
    # defaults stay graph attributes; empty and missing values; booleans; the "id" key
    "defaults": """
<key id="n" for="node" attr.name="NodeType" attr.type="string"><default>Normal</default></key>
<key id="f" for="edge" attr.name="up" attr.type="boolean"><default>TRUE</default></key>
<key id="i" for="edge" attr.name="id" attr.type="string"/>
<key id="g" for="graph" attr.name="Network" attr.type="string"/>
<key id="l" for="node" attr.name="label" attr.type="long"/>
<graph edgedefault="undirected"><data key="g">demo</data>
<node id="a"><data key="n"></data></node>
<node id="b"><data key="n">Ingress</data><data key="l">3</data></node>
<node id="c"><data key="l">1<!-- a comment -->2</data></node>
<edge source="a" target="b" id="x"><data key="i">mine</data><data key="f">0</data></edge>
<edge source="b" target="c"><data key="f">1</data><data key="f">false</data></edge>
</graph>
<key id="late" for="node" attr.name="late" attr.type="float"/>""",
    "directed": """
<key id="d" for="edge" attr.name="LinkDelay" attr.type="float"/>
<graph edgedefault="directed">
<node id="1"/><node id="0"/><node id="2"/>
<edge source="2" target="0"><data key="d">1</data></edge><edge source="0" target="2"/>
<edge source="1" target="0" directed="true"/><edge source="0" target="1"/>
</graph>""",
    "parallel": """
<key id="k" for="edge" attr.name="key" attr.type="int"/>
<key id="d" for="edge" attr.name="LinkDelay" attr.type="float"/>
<graph edgedefault="undirected">
<node id="0"/><node id="1"/><node id="2"/>
<edge source="0" target="1" id="1"><data key="d">1</data></edge>
<edge source="1" target="0" id="01"><data key="d">2</data></edge>
<edge source="1" target="0"><data key="d">3</data></edge>
<edge source="2" target="1"><data key="k">0</data></edge>
<edge source="1" target="2"/><edge source="1" target="2" id="e7"/>
</graph>""",
    "parallel-directed": """
<graph edgedefault="directed"><node id="0"/><node id="1"/>
<edge source="1" target="0"/><edge source="0" target="1"/><edge source="1" target="0"/>
</graph>""",
}
FALLBACK: dict[str, str] = {  # networkx's own ways: left to it, with its results
    "yfiles": """
<key id="y" for="node" yfiles.type="nodegraphics"/>
<graph edgedefault="undirected"><node id="0"><data key="y"><ShapeNode/></data></node></graph>""",
    "two graphs": """
<graph edgedefault="undirected"><node id="0"/></graph>
<graph edgedefault="undirected"><node id="1"/></graph>""",
    "mixed directions": """
<graph edgedefault="undirected"><node id="0"/><node id="1"/>
<edge source="0" target="1" directed="true"/></graph>""",
    "cdata": """
<key id="s" for="node" attr.name="label" attr.type="string"/>
<graph edgedefault="undirected"><node id="0"><data key="s"><![CDATA[x]]></data></node></graph>""",
}


def _write(tmp_path: Path, name: str, body: str) -> Path:
    file = tmp_path / f"{name.replace(' ', '-')}.graphml"
    file.write_text(HEAD + body + "\n</graphml>\n")
    return file


@pytest.mark.parametrize("name", sorted(CASES))
def test_edge_cases_read_as_networkx_reads_them(tmp_path: Path, name: str) -> None:
    file = _write(tmp_path, name, CASES[name])
    _same(read_graphml(file), networkx_graphml(file))


@pytest.mark.parametrize("name", sorted(FALLBACK))
def test_what_the_reader_leaves_to_networkx(tmp_path: Path, name: str) -> None:
    file = _write(tmp_path, name, FALLBACK[name])
    with pytest.raises(Unsupported):
        read_graphml(file)


def test_the_loader_falls_back_to_networkx_with_its_results(tmp_path: Path) -> None:
    body = """
<key id="c" for="node" attr.name="NodeCap" attr.type="double"/>
<key id="y" for="node" yfiles.type="nodegraphics"/>
<graph edgedefault="undirected">
<node id="0"><data key="c">1</data><data key="y"><ShapeNode/></data></node>
<node id="1"><data key="c">2</data></node><edge source="1" target="0"/></graph>"""
    network = load_network(_write(tmp_path, "yed", body))
    assert [(n.id, n.cap) for n in network.nodes] == [("pop0", 1.0), ("pop1", 2.0)]
    assert [(link.a, link.b) for link in network.links] == [("pop0", "pop1")]


def test_mixed_directions_stay_networkx_s_located_message(tmp_path: Path) -> None:
    file = _write(tmp_path, "mixed", FALLBACK["mixed directions"])
    with pytest.raises(InputError, match="directed=true edge found in undirected graph"):
        load_network(file)


def test_bad_xml_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    file = _write(tmp_path, "bad", '<graph edgedefault="undirected">\n<node id="0">\n</graph>')
    with pytest.raises(InputError) as info:
        load_network(file)
    error = info.value
    assert error.path == str(file) and error.line == 5
    assert "not well-formed XML: mismatched tag" in str(error)
    assert str(error).startswith(f"{file}:5: ")


def test_a_value_of_the_wrong_type_is_located(tmp_path: Path) -> None:
    body = """<key id="c" for="node" attr.name="NodeCap" attr.type="double"/>
<graph edgedefault="undirected"><node id="0">
<data key="c">lots</data></node></graph>"""
    with pytest.raises(InputError, match="data for key 'c': value is not a valid double") as info:
        load_network(_write(tmp_path, "typed", body))
    assert info.value.line == 5


def test_missing_capacity_is_still_named(tmp_path: Path) -> None:
    body = '<graph edgedefault="undirected"><node id="0"/></graph>'
    with pytest.raises(InputError, match="node 0: NodeCap missing") as info:
        load_network(_write(tmp_path, "nocap", body))
    assert info.value.line == 3


def _attrs(graph: RawGraph) -> list[Any]:
    return [attrs for _, _, attrs in graph.edges]


def test_simple_graphs_keep_the_edge_id_as_an_attribute(tmp_path: Path) -> None:
    graph = read_graphml(_write(tmp_path, "orientation", CASES["orientation"]))
    assert [(u, v) for u, v, _ in graph.edges] == [("0", "1"), ("0", "2"), ("1", "2"), ("1", "1")]
    assert _attrs(graph)[0] == {"id": "e1"} and _attrs(graph)[2] == {"LinkDelay": 4, "id": "e0"}
