"""Bad input: one line naming the file, the place and the problem; exit status 2."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from safetensors.numpy import load_file, save_file

from agent.cli.main import cli
from tests.conftest import DEEPCOORD, TOPOLOGIES

NETWORK = DEEPCOORD / "networks/abilene/abilene-in2-rand-cap0-2.graphml"
SERVICE = DEEPCOORD / "service_functions/abc.yaml"
TRAFFIC = DEEPCOORD / "config/simulator/rand-arrival10_det-size001_duration100.yaml"


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output.strip()


def sim_files(
    network: Path = NETWORK, service: Path = SERVICE, traffic: Path = TRAFFIC
) -> tuple[int, str]:
    return run_cli(
        "sim",
        "--network",
        str(network),
        "--service",
        str(service),
        "--traffic",
        str(traffic),
        "--steps",
        "2",
    )


def assert_one_line(output: str, file: Path, *fragments: str) -> None:
    assert len(output.splitlines()) == 1, output
    assert output.startswith(f"error: {file}"), output
    for fragment in fragments:
        assert fragment in output, output


def test_graphml_without_nodecap(tmp_path: Path) -> None:
    bad = tmp_path / "net.graphml"
    text = NETWORK.read_text()
    # drop the NodeCap data of node 3 only
    text = re.sub(r'(<node id="3">.*?)<data key="d35">2</data>', r"\1", text, flags=re.S)
    bad.write_text(text)
    code, out = sim_files(network=bad)
    assert code == 2
    line = text[: text.index('<node id="3">')].count("\n") + 1
    assert_one_line(out, bad, f"net.graphml:{line}:", "node 3", "NodeCap missing")


def test_service_naming_unknown_sf(tmp_path: Path) -> None:
    bad = tmp_path / "svc.yaml"
    bad.write_text(SERVICE.read_text().replace("    - c\n", "    - d\n"))
    code, out = sim_files(service=bad)
    assert code == 2
    assert_one_line(out, bad, "svc.yaml:8:", "sfc_list.sfc_1[2]", "unknown service function 'd'")


def test_negative_inter_arrival_mean(tmp_path: Path) -> None:
    bad = tmp_path / "sim.yaml"
    bad.write_text(
        TRAFFIC.read_text().replace("inter_arrival_mean: 10.0", "inter_arrival_mean: -5")
    )
    code, out = sim_files(traffic=bad)
    assert code == 2
    assert_one_line(out, bad, "sim.yaml:5:", "inter_arrival_mean", "greater than 0", "-5")


def test_yaml_syntax_error(tmp_path: Path) -> None:
    bad = tmp_path / "sim.yaml"
    bad.write_text(TRAFFIC.read_text().replace("ttl_choices: [100]", "ttl_choices: [100"))
    code, out = sim_files(traffic=bad)
    assert code == 2
    assert_one_line(out, bad, "YAML syntax error")
    assert re.search(r"sim\.yaml:1[23]:", out), out


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    code, out = sim_files(service=missing)
    assert code == 2
    assert_one_line(out, missing, "not found")


def test_missing_scenario_file_and_unknown_key(tmp_path: Path) -> None:
    code, out = run_cli("sim", str(tmp_path / "none.yaml"))
    assert code == 2 and "scenario file not found" in out
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        f"network: {NETWORK}\nservice: {SERVICE}\ntraffic: {TRAFFIC}\nsteps: 3\nstpes: 4\n"
    )
    code, out = run_cli("check-config", str(scenario))
    assert code == 2
    assert_one_line(out, scenario, "s.yaml:5:", "stpes", "unknown key")


def test_scenario_pointing_at_missing_network(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"network: gone.graphml\nservice: {SERVICE}\ntraffic: {TRAFFIC}\n")
    code, out = run_cli("check-config", str(scenario))
    assert code == 2
    assert_one_line(out, scenario, "s.yaml:1:", "network", "'gone.graphml' not found")


def test_check_config_accepts_every_bundled_file() -> None:
    files = sorted((DEEPCOORD.parent.parent / "scenarios").glob("*.yaml"))
    files += sorted(DEEPCOORD.glob("**/*.yaml")) + sorted(DEEPCOORD.glob("networks/**/*.graphml"))
    code, out = run_cli("check-config", *map(str, files))
    assert code == 0, out
    assert out.count("ok: ") == len(files)


def test_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("agent")
    assert exe.exists(), "the console script is part of the install"
    proc = subprocess.run(
        [str(exe), "check-config", str(tmp_path / "missing.graphml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {tmp_path / 'missing.graphml'}: file not found"


# ---------------------------------------------------------------- broken policy directories
SHIPPED_POLICY = TOPOLOGIES / "policies/coordination/abilene-in2-rand-cap0-2"
ABILENE_IN2 = str(TOPOLOGIES / "scenarios/abilene-in2.yaml")


def policy_copy(tmp_path: Path) -> Path:
    directory = tmp_path / "policy"
    shutil.copytree(SHIPPED_POLICY, directory)
    return directory


def edit_card(directory: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    card = json.loads((directory / "card.json").read_text())
    edit(card)
    (directory / "card.json").write_text(json.dumps(card, indent=2))


def sim_policy(policy: str | Path) -> tuple[int, str]:
    return run_cli("sim", ABILENE_IN2, "--policy", str(policy), "--steps", "2")


def _unknown_key(card: dict[str, Any]) -> None:
    card["layout"]["obs_sise"] = 11


def _wrong_type(card: dict[str, Any]) -> None:
    card["layout"]["obs_size"] = "11"


def _obs_size_disagrees(card: dict[str, Any]) -> None:
    card["layout"]["obs_size"] = 12


def _huge_actor(card: dict[str, Any]) -> None:
    card["actor"]["hidden"] = [200_000, 200_000]  # 160 GB of float32


def _deeppr_card(card: dict[str, Any]) -> None:
    card.clear()
    card.update(json.loads((TOPOLOGIES / "policies/deeppr/card.json").read_text()))


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        (_unknown_key, ["card.json:", "layout.obs_sise", "unknown key"]),
        (_wrong_type, ["card.json:", "layout.obs_size", "valid integer", "'11'"]),
        (_obs_size_disagrees, ["card.json:", "layout.obs_size", "is 12", "needs 11"]),
        (_huge_actor, ["card.json:", "actor.hidden", "parameters (at most"]),
        (_deeppr_card, ["card.json:", "format", "DeepPR recovery policy"]),
    ],
)
def test_bad_policy_card(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None], fragments: list[str]
) -> None:
    directory = policy_copy(tmp_path)
    edit_card(directory, edit)
    code, out = sim_policy(directory)
    assert code == 2
    assert_one_line(out, directory / "card.json", *fragments)


def test_card_that_is_not_json(tmp_path: Path) -> None:
    directory = policy_copy(tmp_path)
    text = (directory / "card.json").read_text()
    (directory / "card.json").write_text(text.replace('"version": 1,', '"version": 1'))
    code, out = sim_policy(directory)
    assert code == 2
    assert_one_line(out, directory / "card.json", "card.json:4:", "not JSON")


def test_missing_card_and_missing_weights(tmp_path: Path) -> None:
    directory = policy_copy(tmp_path)
    (directory / "actor.safetensors").unlink()
    code, out = sim_policy(directory)
    assert code == 2
    assert_one_line(out, directory / "actor.safetensors", "weights file not found")
    (directory / "card.json").unlink()
    code, out = sim_policy(directory)
    assert code == 2
    assert_one_line(out, directory, "no card.json here")


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        (lambda data: b"\xff" * 64, "header length"),
        (lambda data: b"\x00" * 64, "header is not JSON"),
        (lambda data: data[:-100], "bytes of tensor data"),
        (lambda data: data + b"\x00" * 4, "bytes of tensor data"),
        (lambda data: b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"{not json}......" + data, "JSON"),
    ],
)
def test_corrupt_weights(tmp_path: Path, damage: Callable[[bytes], bytes], fragment: str) -> None:
    directory = policy_copy(tmp_path)
    weights = directory / "actor.safetensors"
    weights.write_bytes(damage(weights.read_bytes()))
    code, out = sim_policy(directory)
    assert code == 2
    assert_one_line(out, weights, fragment)


def test_weights_of_the_wrong_shape(tmp_path: Path) -> None:
    directory = policy_copy(tmp_path)
    weights = directory / "actor.safetensors"
    tensors = load_file(weights)
    tensors["body.0.weight"] = np.zeros((64, 12), dtype=np.float32)
    save_file(tensors, weights)
    code, out = sim_policy(directory)
    assert code == 2
    assert_one_line(out, weights, "'body.0.weight'", "shape [64, 12]", "needs [64, 11]")
    tensors["body.0.weight"] = np.zeros((64, 11), dtype=np.float64)
    save_file(tensors, weights)
    code, out = sim_policy(directory)
    assert code == 2
    assert_one_line(out, weights, "dtype F64, expected F32")


def test_policy_path_that_does_not_exist() -> None:
    code, out = sim_policy("./no/such/dir")
    assert code == 2
    assert out == "error: ./no/such/dir: policy directory not found"


def test_training_run_directory_uses_its_best_policy(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    code, out = sim_policy(run)
    assert code == 2
    assert_one_line(out, run, "training run directory without best/card.json")
    shutil.copytree(SHIPPED_POLICY, run / "best")
    result = CliRunner().invoke(
        cli, ["sim", ABILENE_IN2, "--policy", str(run), "--steps", "2", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["generated"] > 0


def test_policy_trained_for_another_network() -> None:
    code, out = run_cli(
        "sim", ABILENE_IN2.replace("in2", "in3"), "--policy", "abilene-in2-rand-cap0-2"
    )
    assert code == 2
    assert len(out.splitlines()) == 1 and out.startswith("error: policy 'abilene-in2")
    assert "ingress differ" in out
