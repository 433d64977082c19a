"""The systemd units pass `systemd-analyze verify` and carry the hardening we promise."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

UNITS = ("sdn-agent.service", "sdn-agent-controller.service")
ANALYZE = shutil.which("systemd-analyze")


def read_unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((ROOT / "systemd" / name).read_text())
    return parser


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed on this machine")
def test_units_verify(tmp_path: Path) -> None:
    venv = Path(sys.executable).parent
    for name in UNITS:
        text = (ROOT / "systemd" / name).read_text()
        text = text.replace("/usr/bin/agent", str(venv / "agent"))
        text = text.replace("/usr/bin/python3", str(venv / "python"))
        (tmp_path / name).write_text(text)
    assert ANALYZE is not None
    proc = subprocess.run(
        [ANALYZE, "verify", *(str(tmp_path / n) for n in UNITS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert not [line for line in proc.stderr.splitlines() if "sdn-agent" in line], proc.stderr


def test_agent_unit_is_notify_with_watchdog_and_hardening() -> None:
    service = read_unit("sdn-agent.service")["Service"]
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "on-failure"
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"
    assert service["CapabilityBoundingSet"] == ""
    assert service["StateDirectory"] and service["ConfigurationDirectory"]
    assert service["ExecReload"].endswith("-HUP $MAINPID")


def test_sysusers_and_example_configuration() -> None:
    sysusers = (ROOT / "systemd" / "sdn-agent.sysusers").read_text()
    assert any(line.startswith("u sdn-agent ") for line in sysusers.splitlines())
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("agent")),
            "run",
            "--check",
            "--config",
            str(ROOT / "systemd/agent.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("ok: "), proc.stderr
