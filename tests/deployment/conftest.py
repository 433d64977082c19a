"""Small deployment scenarios written into a temporary directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.model.deployment import DeploymentScenario, load_deployment

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "topologies" / "deployment" / "bteurope-sfc.yaml"
SMALL = ROOT / "topologies" / "deployment" / "abilene10-small.yaml"

LINE_GML = """graph [
  node [ id 0 label "a" ]
  node [ id 1 label "b" ]
  node [ id 2 label "c" ]
  edge [ source 0 target 1 LinkDelay 1 ]
  edge [ source 1 target 2 LinkDelay 1 ]
]
"""

LINE_YAML = """network: line.gml
servers: {cpu: 40, memory: 40, threshold: 1.0}
links: {bandwidth: 100}
vnf_types: [fw, nat]
requests:
  count: 10
  chain_length: [1, 2]
  latency_bound_ms: [500, 500]
"""


@pytest.fixture
def write_scenario(tmp_path: Path) -> Callable[..., Path]:
    (tmp_path / "line.gml").write_text(LINE_GML)

    def write(text: str = LINE_YAML, name: str = "s.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture
def line(write_scenario: Callable[..., Path]) -> DeploymentScenario:
    return load_deployment(write_scenario(LINE_YAML))


@pytest.fixture(scope="session")
def bundled() -> DeploymentScenario:
    return load_deployment(BUNDLED)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Small networks train faster on one thread than on a shared machine's two."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
