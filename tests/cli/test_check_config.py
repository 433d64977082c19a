"""``agent check-config`` on what it was not checking: trained policies (card.json or
their directory), DeepCoord agent YAMLs, agent configurations (run --check's checks);
and the warnings that `agent sim` prints for a network that cannot work as meant."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from agent.cli.main import cli
from tests.conftest import ROOT, TOPOLOGIES

POLICY = TOPOLOGIES / "policies/coordination/abilene-in3-rand-cap0-2"


def check(*paths: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["check-config", *map(str, paths)])
    return result.exit_code, result.stdout, result.stderr


def test_policies_and_agent_yamls_are_checked() -> None:
    code, out, _ = check(
        POLICY,
        POLICY / "card.json",
        TOPOLOGIES / "policies/deeppr",
        TOPOLOGIES / "policies/coordination/agent-ddpg.yaml",
        ROOT / "systemd/agent.yaml",
    )
    assert code == 0, out
    lines = out.splitlines()
    assert "coordination policy 'abilene-in3-rand-cap0-2'" in lines[0]
    assert lines[0].split(": ", 2)[2] == lines[1].split(": ", 2)[2]  # directory = its card
    assert "DeepPR recovery policy" in lines[2]
    assert lines[3].endswith("DeepCoord agent configuration: DDPG")
    assert "agent configuration: backend sim" in lines[4]


def test_a_broken_card_and_agent_yaml_are_one_line(tmp_path: Path) -> None:
    policy = tmp_path / "policy"
    shutil.copytree(POLICY, policy)
    card = json.loads((policy / "card.json").read_text())
    card["surprise"] = 1
    (policy / "card.json").write_text(json.dumps(card))
    code, _, err = check(policy)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "surprise" in err
    agent = tmp_path / "agent.yaml"
    agent.write_text("agent_type: DDPG\nactor_hidden_layer_nodes: many\n")
    code, _, err = check(agent)
    assert code == 2 and err.startswith(f"error: {agent}") and "actor_hidden_layer_nodes" in err
    config = tmp_path / "run.yaml"
    config.write_text(
        f"backend: sim\nscenario: {TOPOLOGIES / 'scenarios/triangle.yaml'}\n"
        "policy: no-such-policy\n"
    )
    code, _, err = check(config)
    assert code == 2 and "policy: unknown policy 'no-such-policy'" in err


def test_sim_warns_about_a_network_whose_ingress_reaches_no_compute(tmp_path: Path) -> None:
    network = tmp_path / "stranded.graphml"
    network.write_text(
        """<?xml version="1.0" encoding="utf-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key attr.name="NodeCap" attr.type="double" for="node" id="d0" />
  <key attr.name="NodeType" attr.type="string" for="node" id="d1" />
  <key attr.name="LinkDelay" attr.type="double" for="edge" id="d2" />
  <key attr.name="LinkFwdCap" attr.type="double" for="edge" id="d3" />
  <graph edgedefault="undirected">
    <node id="pop0"><data key="d0">0</data><data key="d1">Ingress</data></node>
    <node id="pop1"><data key="d0">0</data><data key="d1">Normal</data></node>
    <node id="pop2"><data key="d0">10</data><data key="d1">Normal</data></node>
    <edge source="pop0" target="pop1"><data key="d2">3</data><data key="d3">100</data></edge>
  </graph>
</graphml>
"""
    )
    deepcoord = TOPOLOGIES / "deepcoord/res"
    result = CliRunner().invoke(
        cli,
        [
            "sim",
            "--network",
            str(network),
            "--service",
            str(deepcoord / "service_functions/abc.yaml"),
            "--traffic",
            str(deepcoord / "config/simulator/det-arrival10_det-size001_duration100.yaml"),
            "--steps",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "pop0" in result.stderr


def test_slicing_and_deployment_scenarios_are_checked(tmp_path: Path) -> None:
    code, out, _ = check(
        TOPOLOGIES / "slicing/paper.yaml", TOPOLOGIES / "deployment/bteurope-sfc.yaml"
    )
    assert code == 0, out
    lines = out.splitlines()
    assert "slicing scenario paper: capacity 100, 20 steps" in lines[0]
    assert "deployment scenario 'bteurope-sfc': 24 servers" in lines[1]
    bad = tmp_path / "slices.yaml"
    bad.write_text("name: x\ncapacity: 100\nadmm: {rho: 1}\nbogus: 1\n")
    code, _, err = check(bad)
    assert code == 2 and f"{bad}:4" in err and "bogus" in err
