"""A scenario file names a network, a service and a traffic file plus options, so that
one path names a whole experiment. Paths are relative to the scenario file."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.model.errors import InputError
from agent.model.limits import MAX_SIM_NODES, MAX_STATE_CELLS, MAX_STEPS, MAX_TIME_MS
from agent.model.network import Network, Routing
from agent.model.network_io import MAX_VALUE, NetworkOptions, load_network
from agent.model.services import Services, load_services
from agent.model.traffic import Traffic, load_traffic
from agent.model.yamlfile import YamlDocument, load_yaml, require_mapping


class ScheduleMode(StrEnum):
    ROUND_ROBIN = "round-robin"  # coord-sim's deterministic weighted round robin
    RANDOM = "random"  # sample the destination by weight


Capacity = Annotated[float, Field(ge=0.0, le=MAX_VALUE)]
Time = Annotated[float, Field(ge=0.0, le=MAX_TIME_MS)]
_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


class NetworkRef(BaseModel):
    model_config = _STRICT
    file: str
    node_cap: Capacity | None = None
    link_cap: Capacity | None = None
    node_caps: dict[str, Capacity] = Field(default_factory=dict)
    ingress: list[str] | None = None
    egress: list[str] | None = None


class ObservationModel(BaseModel):
    """Which nodes report, how stale reports are, how often they go missing."""

    model_config = _STRICT
    delay_steps: int = Field(default=0, ge=0, le=MAX_STEPS)
    reporting_nodes: list[str] | None = None  # None: every node
    report_probability: float = Field(default=1.0, ge=0.0, le=1.0)


class FailureSpec(BaseModel):
    model_config = _STRICT
    node: str | None = None
    link: tuple[str, str] | None = None
    down_at: Time
    up_at: Time | None = None

    @model_validator(mode="after")
    def _one_element(self) -> FailureSpec:
        if (self.node is None) == (self.link is None):
            raise ValueError("name exactly one of node or link")
        if self.up_at is not None and self.up_at <= self.down_at:
            raise ValueError("up_at must be later than down_at")
        return self


class ScenarioFile(BaseModel):
    model_config = _STRICT
    name: str | None = None
    description: str | None = None
    network: str | NetworkRef
    service: str
    traffic: str
    seed: int = Field(default=1234, ge=0, le=2**32 - 1)  # what numpy and torch accept
    steps: int = Field(default=200, ge=1, le=MAX_STEPS)
    routing: Routing = Routing.COORD_SIM
    schedule_mode: ScheduleMode = ScheduleMode.ROUND_ROBIN
    observation: ObservationModel = Field(default_factory=ObservationModel)
    failures: list[FailureSpec] = Field(default_factory=list)
    resource_functions: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    down_at: float
    up_at: float | None
    node: str | None = None
    link: frozenset[str] | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    network: Network
    services: Services
    traffic: Traffic
    seed: int = 1234
    steps: int = 200
    routing: Routing = Routing.COORD_SIM
    schedule_mode: ScheduleMode = ScheduleMode.ROUND_ROBIN
    observation: ObservationModel = field(default_factory=ObservationModel)
    failures: tuple[Failure, ...] = ()
    source: str | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def run_duration(self) -> float:
        return float(self.traffic.config.run_duration)

    def input_files(self) -> list[str]:
        files = [self.source, self.network.source, self.services.source, self.traffic.source]
        files.append(self.traffic.trace_source)
        return [f for f in files if f]


def load_scenario(path: str | Path) -> Scenario:
    doc = load_yaml(path, "scenario file")
    spec = doc.validate(ScenarioFile, require_mapping(doc, "a scenario file"))
    base = doc.path.parent
    ref = NetworkRef(file=spec.network) if isinstance(spec.network, str) else spec.network
    network = load_network(_file(doc, base, ref.file, ["network"]), _network_options(ref))
    services = load_services(_file(doc, base, spec.service, ["service"]), spec.resource_functions)
    traffic = load_traffic(_file(doc, base, spec.traffic, ["traffic"]))
    _check_nodes(doc, network, spec, ref)
    check_simulation_limits(network, services, traffic, doc)
    return Scenario(
        name=spec.name or doc.path.stem,
        network=network,
        services=services,
        traffic=traffic,
        seed=spec.seed,
        steps=spec.steps,
        routing=spec.routing,
        schedule_mode=spec.schedule_mode,
        observation=spec.observation,
        failures=tuple(_failure(f) for f in spec.failures),
        source=str(doc.path),
        warnings=network.warnings + services.warnings + traffic.warnings,
    )


def scenario_from_files(
    network: str | Path, service: str | Path, traffic: str | Path, name: str | None = None
) -> Scenario:
    """The coord-sim way: three files, coord-sim's defaults for everything else."""
    net = load_network(network)
    if not net.ingress:
        raise InputError(network, "", "no node has NodeType Ingress: flows would never arrive")
    services, loaded = load_services(service), load_traffic(traffic)
    check_simulation_limits(net, services, loaded, None)
    return Scenario(
        name=name or Path(network).stem,
        network=net,
        services=services,
        traffic=loaded,
        warnings=net.warnings + services.warnings + loaded.warnings,
    )


def check_simulation_limits(
    network: Network, services: Services, traffic: Traffic, doc: YamlDocument | None
) -> None:
    """What the simulator can hold (see agent.model.limits); trace rows name nodes."""

    def fail(problem: str) -> InputError:
        if doc is not None:
            return doc.error(["network"], problem)
        return InputError(network.source, "", problem)

    n_nodes = len(network.nodes)
    if n_nodes > MAX_SIM_NODES:
        raise fail(f"{n_nodes:,} nodes; the simulator handles at most {MAX_SIM_NODES:,}")
    cells = n_nodes * len(services.chains) * len(services.functions)
    if cells > MAX_STATE_CELLS:
        raise InputError(
            services.source,
            "",
            f"{len(services.chains):,} chains x {len(services.functions):,} service functions "
            f"x {n_nodes:,} nodes exceed the simulator's {MAX_STATE_CELLS:,} entries",
        )
    traffic.check_trace_nodes(set(network.node_ids))
    traffic.check_flow_budget(network.ingress)


def _network_options(ref: NetworkRef) -> NetworkOptions:
    return NetworkOptions(
        node_cap=ref.node_cap,
        link_cap=ref.link_cap,
        node_caps=dict(ref.node_caps),
        ingress=tuple(ref.ingress) if ref.ingress is not None else None,
        egress=tuple(ref.egress) if ref.egress is not None else None,
    )


def _file(doc: YamlDocument, base: Path, name: str, key: list[str | int]) -> Path:
    path = Path(name) if Path(name).is_absolute() else base / name
    if not path.is_file():
        raise doc.error(key, f"file {name!r} not found (relative to {base})")
    return path


def _check_nodes(doc: YamlDocument, network: Network, spec: ScenarioFile, ref: NetworkRef) -> None:
    if not network.ingress:
        raise doc.error(["network"], "no ingress node: mark nodes Ingress or list them")
    for node in ref.node_caps:
        if not network.has_node(node):
            key: list[str | int] = ["network", "node_caps", node]
            raise doc.error(key, f"unknown node {node!r} (nodes are named pop<id>)")
    for i, failure in enumerate(spec.failures):
        if failure.node is not None and not network.has_node(failure.node):
            raise doc.error(["failures", i, "node"], f"unknown node {failure.node!r}")
        if failure.link is not None and network.link(*failure.link) is None:
            raise doc.error(["failures", i, "link"], f"no link between {failure.link}")
    for node in spec.observation.reporting_nodes or ():
        if not network.has_node(node):
            raise doc.error(["observation", "reporting_nodes"], f"unknown node {node!r}")


def _failure(spec: FailureSpec) -> Failure:
    link = frozenset(spec.link) if spec.link is not None else None
    return Failure(spec.down_at, spec.up_at, spec.node, link)
