"""A large coord-sim style GraphML, written on demand (tests and bench/big_graphml.py)."""

from __future__ import annotations

import random
from pathlib import Path

HEADER = """<?xml version="1.0" encoding="utf-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key attr.name="LinkFwdCap" attr.type="int" for="edge" id="d41" />
  <key attr.name="NodeCap" attr.type="int" for="node" id="d40" />
  <key attr.name="NodeType" attr.type="string" for="node" id="d39" />
  <key attr.name="LinkDelay" attr.type="int" for="edge" id="d38" />
  <key attr.name="LinkLabel" attr.type="string" for="edge" id="d35" />
  <key attr.name="label" attr.type="string" for="node" id="d33" />
  <key attr.name="Longitude" attr.type="double" for="node" id="d32" />
  <key attr.name="Latitude" attr.type="double" for="node" id="d29" />
  <graph edgedefault="undirected">
"""


def write_graphml(path: Path, n_nodes: int, n_edges: int, seed: int = 1) -> None:
    """A connected random network: a spanning tree plus random extra edges."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for i in range(n_nodes):
            kind = "Ingress" if i < 10 else "Normal"
            out.write(
                f'    <node id="{i}">\n'
                f'      <data key="d29">{rng.uniform(-60, 60):.5f}</data>\n'
                f'      <data key="d32">{rng.uniform(-170, 170):.5f}</data>\n'
                f'      <data key="d33">City {i}</data>\n'
                f'      <data key="d39">{kind}</data>\n'
                f'      <data key="d40">{rng.randint(0, 2)}</data>\n'
                "    </node>\n"
            )
        edges: set[tuple[int, int]] = {(rng.randrange(i), i) for i in range(1, n_nodes)}
        while len(edges) < n_edges:
            a, b = rng.randrange(n_nodes), rng.randrange(n_nodes)
            if a != b:
                edges.add((min(a, b), max(a, b)))
        for a, b in sorted(edges):
            out.write(
                f'    <edge source="{a}" target="{b}">\n'
                f'      <data key="d35">OC-{rng.choice((48, 192))}</data>\n'
                f'      <data key="d38">{rng.randint(1, 20)}</data>\n'
                f'      <data key="d41">{rng.choice((100, 1000))}</data>\n'
                "    </edge>\n"
            )
        out.write("  </graph>\n</graphml>\n")
