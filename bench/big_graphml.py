"""How long checking a large network file takes.

Writes a coord-sim style GraphML of 30,000 nodes and 105,000 edges (about 20 MB) to a
temporary folder, then times the library's loader (``load_network``) and the
``agent check-config`` command on it, the way a user runs it. Target: under 30 s.

    python bench/big_graphml.py [--nodes 30000] [--edges 105000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.model.network_io import load_network
from tests.model.big_graphml import write_graphml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=30_000)
    parser.add_argument("--edges", type=int, default=105_000)
    parser.add_argument("--keep", type=Path, help="write the file here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "big.graphml"
        write_graphml(path, args.nodes, args.edges)
        print(f"{path.stat().st_size / 1e6:.1f} MB, {args.nodes:,} nodes, {args.edges:,} edges")
        started = time.perf_counter()
        network = load_network(path)
        loaded = time.perf_counter() - started
        print(
            f"load_network: {loaded:.1f} s ({len(network.nodes):,} nodes, "
            f"{len(network.links):,} links)"
        )
        agent = Path(sys.executable).with_name("agent")
        started = time.perf_counter()
        proc = subprocess.run(
            [str(agent), "check-config", str(path)], capture_output=True, text=True, check=False
        )
        checked = time.perf_counter() - started
        print(f"agent check-config: {checked:.1f} s, exit status {proc.returncode}")
        print((proc.stdout + proc.stderr).strip()[:300])


if __name__ == "__main__":
    main()
