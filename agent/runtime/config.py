"""The daemon's configuration (agent.yaml), validated like every other input file."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, field_validator, model_validator

from agent.model.errors import InputError
from agent.model.yamlfile import load_yaml, require_mapping
from agent.rules.slices import CLASS_FIELDS

log = structlog.get_logger("agent.config")
REPO = Path(__file__).resolve().parents[2]
DEFAULT_SCENARIO = REPO / "topologies" / "scenarios" / "abilene-in3.yaml"
DEFAULT_CONFIG = REPO / "systemd" / "agent.yaml"


class BackendKind(StrEnum):
    SIM = "sim"
    CONTROLLER = "controller"


class SimSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time_scale: PositiveFloat = 1.0  # wall seconds per simulated second


class MonitoringUnits(BaseModel):
    """How the controller's port counters become the simulator's units, so that a policy
    sees in the network what it saw in training."""

    model_config = ConfigDict(extra="forbid")
    rate_mbps: PositiveFloat = 1.0  # Mbit/s that one unit of the scenario's data rate is
    time_scale: PositiveFloat = 1.0  # wall ms per scenario ms (a slowed-down emulation)


class ControllerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    connect: str = "unix:/run/sdn-agent/controller.sock"
    wiring: str | None = None  # wiring file; required with the controller backend
    units: MonitoringUnits = MonitoringUnits()

    @field_validator("connect")
    @classmethod
    def _address(cls, value: str) -> str:
        if not (value.startswith("unix:") or value.startswith("tcp:")):
            raise ValueError("must be unix:PATH or tcp:HOST:PORT")
        return value


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    listen: str = "127.0.0.1:8780"
    token_file: str | None = None  # bearer token for writes; without it writes are refused

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError("must be HOST:PORT")
        return value


class InstanceSettings(BaseModel):
    """Who starts and stops SF instances: "logging" keeps the books only (the embedded
    simulator runs its own); "json-lines" talks to a manager on a Unix socket (the
    Mininet lab's, or an orchestrator adapter)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["logging", "json-lines"] = "logging"
    endpoint: str | None = None  # unix:PATH, for json-lines

    @model_validator(mode="after")
    def _endpoint(self) -> InstanceSettings:
        if self.kind == "json-lines" and not (self.endpoint or "").startswith("unix:"):
            raise ValueError("json-lines needs endpoint: unix:PATH")
        return self


class LogSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: str = Field(default="auto", pattern="^(auto|json|console)$")
    level: str = Field(default="info", pattern="^(debug|info|warning|error)$")


class SliceClassSettings(BaseModel):
    """A slice's traffic class: an OpenFlow match (IP DSCP, VLAN id, source address ...)
    and the nodes whose ingress ports it enters on (default: every ingress node)."""

    model_config = ConfigDict(extra="forbid")
    match: dict[str, int | str] = Field(min_length=1)
    ingress: list[str] | None = None

    @field_validator("match")
    @classmethod
    def _fields(cls, value: dict[str, int | str]) -> dict[str, int | str]:
        unknown = sorted(set(value) - CLASS_FIELDS)
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not one of {', '.join(sorted(CLASS_FIELDS))}")
        return value


class SlicingSettings(BaseModel):
    """Slicing in the daemon: a slicing scenario (slices, users, utilities, capacity,
    demand process), the method that allocates, and where each slice's traffic is metered."""

    model_config = ConfigDict(extra="forbid")
    scenario: str
    method: str = "admm-opt"
    policy: str | None = None  # a learned slave's directory (admm-drl); default: shipped
    kbps_per_unit: PositiveFloat = 10.0  # kbit/s of one unit of the scenario's capacity
    seed: int = Field(default=0, ge=0)
    classes: dict[str, SliceClassSettings] = Field(default_factory=dict)


class DeploymentSettings(BaseModel):
    """Deployment requests in the daemon (``/requests``): a deployment scenario (its
    substrate's nodes and links must be the network's), the policy that places requests,
    named chains, and, on the simulator backend, requests generated from the scenario."""

    model_config = ConfigDict(extra="forbid")
    scenario: str
    policy: str = "balanced-greedy"  # a heuristic, a shipped learned policy, or a directory
    chains: dict[str, list[str]] = Field(default_factory=dict)  # name -> VNF types
    generate: bool = False  # the simulator backend plays the scenario's arrivals
    period_s: PositiveFloat = 1.0  # wall seconds per period of the scenario (generation)
    seed: int = Field(default=0, ge=0)
    max_requests: int = Field(default=10_000, ge=1, le=1_000_000)
    install_timeout_s: PositiveFloat = 30.0  # a request's flows must be installed within this

    @field_validator("chains")
    @classmethod
    def _chains(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        empty = [name for name, chain in value.items() if not chain]
        if empty:
            raise ValueError(f"{empty[0]}: a chain needs at least one VNF type")
        return value


class AgentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    backend: BackendKind = BackendKind.SIM
    scenario: str = str(DEFAULT_SCENARIO)
    policy: str = "shortest-path"
    fallback: str = "shortest-path"
    decision_interval: PositiveFloat = 1.0  # seconds
    stale_after: PositiveFloat = 5.0  # monitoring older than this triggers the fallback
    policy_timeout: PositiveFloat = 2.0  # seconds one prediction may take
    stage_timeout: PositiveFloat = 10.0  # seconds any other stage of a cycle may take
    recovery_policy: str = "deeppr"  # orders repairs while switches or links are down
    state_dir: str | None = None  # where overrides persist; default $STATE_DIRECTORY (systemd)
    sim: SimSettings = Field(default_factory=SimSettings)
    controller: ControllerSettings = Field(default_factory=ControllerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    instances: InstanceSettings = Field(default_factory=InstanceSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    slicing: SlicingSettings | None = None
    deployment: DeploymentSettings | None = None


def load_config(path: str | Path | None) -> tuple[AgentConfig, str]:
    """The configuration and its source (file path, or "defaults")."""
    if path is None:
        return AgentConfig(), "defaults"
    doc = load_yaml(path, "agent configuration")
    config = doc.validate(AgentConfig, require_mapping(doc, "an agent configuration"))
    base = doc.path.parent
    updates: dict[str, object] = {}
    if not Path(config.scenario).is_absolute():
        updates["scenario"] = str(base / config.scenario)
    if config.controller.wiring and not Path(config.controller.wiring).is_absolute():
        wiring = str(base / config.controller.wiring)
        updates["controller"] = config.controller.model_copy(update={"wiring": wiring})
    if config.state_dir and not Path(config.state_dir).is_absolute():
        updates["state_dir"] = str(base / config.state_dir)
    if is_path(config.policy) and not Path(config.policy).is_absolute():
        updates["policy"] = str(base / config.policy)  # as scenario: relative to this file
    if is_path(config.fallback) and not Path(config.fallback).is_absolute():
        updates["fallback"] = str(base / config.fallback)
    if config.api.token_file and not Path(config.api.token_file).is_absolute():
        token = str(base / config.api.token_file)
        updates["api"] = config.api.model_copy(update={"token_file": token})
    if config.slicing is not None:
        updates["slicing"] = _slicing_paths(config.slicing, base)
    if config.deployment is not None:
        updates["deployment"] = _deployment_paths(config.deployment, base)
    config = config.model_copy(update=updates)
    if config.backend is BackendKind.CONTROLLER and not config.controller.wiring:
        raise doc.error(["controller", "wiring"], "the controller backend needs a wiring file")
    return config, str(doc.path)


def _slicing_paths(settings: SlicingSettings, base: Path) -> SlicingSettings:
    """Scenario and policy paths relative to the configuration file."""
    update: dict[str, object] = {}
    if not Path(settings.scenario).is_absolute():
        update["scenario"] = str(base / settings.scenario)
    if settings.policy and not Path(settings.policy).is_absolute():
        update["policy"] = str(base / settings.policy)
    return settings.model_copy(update=update)


def _deployment_paths(settings: DeploymentSettings, base: Path) -> DeploymentSettings:
    """Scenario and policy directory relative to the configuration file."""
    update: dict[str, object] = {}
    if not Path(settings.scenario).is_absolute():
        update["scenario"] = str(base / settings.scenario)
    if is_path(settings.policy) and not Path(settings.policy).is_absolute():
        update["policy"] = str(base / settings.policy)
    return settings.model_copy(update=update)


def is_path(name: str) -> bool:
    """A policy named by path (a trained policy's directory), not by registry name."""
    return "/" in name or name.startswith(".")


def state_dir(config: AgentConfig) -> Path | None:
    """Where the daemon keeps what must outlive a restart (overrides): the configured
    directory, else systemd's $STATE_DIRECTORY, else nowhere (kept in memory)."""
    configured = config.state_dir or os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(configured) if configured else None


def read_token(config: AgentConfig) -> str | None:
    if config.api.token_file is None:
        return None
    path = Path(config.api.token_file)
    try:
        token = path.read_text(encoding="utf-8").strip()
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise InputError(path, "", f"cannot read the API token file: {why}") from None
    if len(token) < 16:
        raise InputError(path, "", "the API token must be at least 16 characters")
    if mode & 0o077:
        log.warning(
            "the API token file can be read by other users; chmod 600 it",
            token_file=str(path),
            mode=oct(mode & 0o777),
        )
    return token
