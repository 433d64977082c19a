"""Bad input: one line naming the file, the place and the problem; exit status 2."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from agent.cli.main import cli
from tests.conftest import DEEPCOORD

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
