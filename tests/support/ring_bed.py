"""What the OVS tests that run the daemon on a four-switch ring share: the ring's network
file (coord-sim GraphML), its switches' node names, the files that make it a scenario,
and an iperf3 server in a test-bed host."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from tests.conftest import DEEPCOORD
from tests.support.ovs_testbed import OvsTestbed, Wiring
from tests.support.processes import wait_until

NAMES = {1: "pop0", 2: "pop1", 3: "pop2", 4: "pop3"}
RING = """<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key attr.name="NodeCap" attr.type="long" for="node" id="c"/>
  <key attr.name="NodeType" attr.type="string" for="node" id="t"/>
  <key attr.name="LinkFwdCap" attr.type="long" for="edge" id="l"/>
  <key attr.name="LinkDelay" attr.type="long" for="edge" id="d"/>
  <graph edgedefault="undirected">
    <node id="0"><data key="c">0</data><data key="t">Ingress</data></node>
    <node id="1"><data key="c">2</data><data key="t">Normal</data></node>
    <node id="2"><data key="c">2</data><data key="t">Normal</data></node>
    <node id="3"><data key="c">2</data><data key="t">Normal</data></node>
    <edge source="0" target="1"><data key="l">1000</data><data key="d">1</data></edge>
    <edge source="1" target="2"><data key="l">1000</data><data key="d">1</data></edge>
    <edge source="2" target="3"><data key="l">1000</data><data key="d">1</data></edge>
    <edge source="3" target="0"><data key="l">1000</data><data key="d">1</data></edge>
  </graph>
</graphml>
"""


def write_ring_scenario(folder: Path, wiring: Wiring) -> Path:
    """``ring4.graphml``, ``wiring.yaml`` (the test bed's switches as the ring's nodes)
    and ``scenario.yaml`` (the ring with DeepCoord's ab chain) in ``folder``; the
    scenario file's path."""
    (folder / "ring4.graphml").write_text(RING)
    (folder / "wiring.yaml").write_text(yaml.safe_dump(wiring.as_wiring_file(NAMES)))
    scenario = {
        "network": "ring4.graphml",
        "service": str(DEEPCOORD / "service_functions/ab.yaml"),
        "traffic": str(DEEPCOORD / "config/simulator/rand-arrival10_det-size001_duration100.yaml"),
    }
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


@contextmanager
def iperf_server(bed: OvsTestbed, host: str, port: int) -> Iterator[None]:
    """``iperf3 -s`` in ``host`` on ``port``, listening, for the duration."""
    server = bed.popen_in_host(host, "iperf3", "-s", "-p", str(port))
    try:
        wait_until(lambda: f":{port}" in bed.in_host(host, "ss", "-ltn"), "iperf3 listening")
        yield
    finally:
        server.kill()
        server.communicate(timeout=30)
