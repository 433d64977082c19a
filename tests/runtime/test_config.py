"""The daemon's configuration: the token file's checks, paths relative to the file, the
state directory."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from agent.model.errors import InputError
from agent.runtime.config import AgentConfig, ApiSettings, load_config, read_token, state_dir

TOKEN = "a-token-of-twenty-chars"


def config_with(token: Path) -> AgentConfig:
    return AgentConfig(api=ApiSettings(token_file=str(token)))


def test_a_token_file_others_can_read_is_warned_about(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    with structlog.testing.capture_logs() as logs:
        assert read_token(config_with(token)) == TOKEN
    assert logs == []
    token.chmod(0o644)
    with structlog.testing.capture_logs() as logs:
        assert read_token(config_with(token)) == TOKEN
    assert [entry["mode"] for entry in logs] == ["0o644"]
    assert "chmod 600" in logs[0]["event"]


def test_a_token_file_that_is_short_or_not_text_is_refused(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("short")
    with pytest.raises(InputError, match="at least 16 characters"):
        read_token(config_with(token))
    token.write_bytes(b"\xff\xfe" * 20)
    with pytest.raises(InputError, match="not UTF-8"):
        read_token(config_with(token))


def test_paths_are_relative_to_the_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("policy: policies/mine\nstate_dir: state\nscenario: s.yaml\n")
    config, _ = load_config(path)
    assert config.policy == str(tmp_path / "policies/mine")
    assert config.state_dir == str(tmp_path / "state")
    assert config.scenario == str(tmp_path / "s.yaml")
    named, _ = load_config(_write(tmp_path / "b.yaml", "policy: greedy\n"))
    assert named.policy == "greedy"  # a name, not a path
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/sdn-agent")
    assert state_dir(named) == Path("/var/lib/sdn-agent")
    assert state_dir(config) == tmp_path / "state"
    monkeypatch.delenv("STATE_DIRECTORY")
    assert state_dir(named) is None


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
