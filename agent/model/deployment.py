"""Deployment scenarios: SFC requests placed on a resource-limited substrate (the model of
MADDPG-SD, Huang et al., CMC 80(3), 2024, sections 3 and 5.1).

A deployment scenario file names a network and says what its servers and links hold, which
VNF types exist, how requests arrive (a generator or a trace file) and the latency and cost
parameters. Capacities may be a number or a ``[low, high]`` range drawn once per node or link
with ``substrate_seed``, so that one file always gives the same substrate.

Units: CPU and memory in abstract units, bandwidth in Mbit/s (= kbit/ms), data in kbit,
latency in ms, time in periods. The substrate is compiled into ``Substrate`` (node and link
indices, the ``paths`` shortest paths by delay between every ordered pair of nodes).
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import networkx as nx
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.model.errors import InputError
from agent.model.network import Network
from agent.model.network_io import NetworkOptions, load_network
from agent.model.yamlfile import KeyPath, YamlDocument, load_yaml, require_mapping

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)
MAX_PATHS = 8
MAX_NODES = 200
MAX_CHAIN = 10
MAX_TRACE_REQUESTS = 100_000

Positive = Annotated[float, Field(gt=0.0, le=1e9)]
NonNegative = Annotated[float, Field(ge=0.0, le=1e9)]
Span = Positive | tuple[Positive, Positive]  # a value, or [low, high] drawn uniformly


class NetworkSpec(BaseModel):
    model_config = _STRICT
    file: str
    exclude: list[str] = Field(default_factory=list)  # nodes left out (pop<id>)


class ServerSpec(BaseModel):
    model_config = _STRICT
    cpu: Span
    memory: Span
    speed: Span = 1.0  # service-rate coefficient of the server's CPU
    threshold: float = Field(default=0.9, gt=0.0, le=1.0)  # usable share of each resource


class LinkSpec(BaseModel):
    model_config = _STRICT
    bandwidth: Span
    delay_ms: NonNegative | None = None  # None: the network file's (or geographic) delay


class Endpoints(BaseModel):
    model_config = _STRICT
    ingress: list[str] | None = None  # None: any node
    egress: list[str] | None = None


class RequestSpec(BaseModel):
    """The request generator: Poisson arrivals, chains of random VNF types."""

    model_config = _STRICT
    count: int = Field(default=50, ge=1, le=MAX_TRACE_REQUESTS)  # requests per episode
    arrivals_per_period: Positive = 5.0
    chain_length: tuple[int, int] = (2, 5)
    cpu: tuple[Positive, Positive] = (10.0, 20.0)
    memory: tuple[Positive, Positive] = (10.0, 20.0)
    bandwidth: tuple[Positive, Positive] = (10.0, 20.0)
    duration: tuple[int, int] = (10, 50)  # periods
    latency_bound_ms: tuple[Positive, Positive] = (60.0, 120.0)
    data_kbit: Positive = 100.0  # data per slot that each VNF processes and each link carries
    endpoints: Endpoints = Field(default_factory=Endpoints)
    trace: str | None = None  # a request trace file instead of the generator

    @model_validator(mode="after")
    def _ranges(self) -> RequestSpec:
        low, high = self.chain_length
        if not 1 <= low <= high <= MAX_CHAIN:
            raise ValueError(
                f"chain_length must be [low, high] with 1 <= low <= high <= {MAX_CHAIN}"
            )
        for name in ("cpu", "memory", "bandwidth", "duration", "latency_bound_ms"):
            a, b = getattr(self, name)
            if a > b:
                raise ValueError(f"{name}: low {a} is above high {b}")
        if self.duration[0] < 1:
            raise ValueError("duration: requests last at least one period")
        return self


class LatencySpec(BaseModel):
    model_config = _STRICT
    service_rate: Positive = 1.0  # kbit per ms per CPU unit at speed 1 (Eq. 1's coefficient)


class CostSpec(BaseModel):
    """Eq. (4): an active server draws ``active_power`` plus ``cpu_power`` per CPU unit in use,
    a server with no VNF ``standby_fraction`` of ``active_power``; the objective weighs
    latency and cost with ``latency_weight`` (xi_a) and ``cost_weight`` (xi_b)."""

    model_config = _STRICT
    active_power: NonNegative = 10.0
    cpu_power: NonNegative = 0.1
    standby_fraction: float = Field(default=0.3, ge=0.0, le=1.0)
    latency_weight: NonNegative = 0.5
    cost_weight: NonNegative = 0.5


class DeploymentFile(BaseModel):
    model_config = _STRICT
    name: str | None = None
    description: str | None = None
    network: str | NetworkSpec
    seed: int = Field(default=1, ge=0, le=2**32 - 1)
    substrate_seed: int = Field(default=0, ge=0, le=2**32 - 1)
    servers: ServerSpec
    links: LinkSpec
    paths: int = Field(default=3, ge=1, le=MAX_PATHS)  # k shortest paths per node pair
    vnf_types: list[str] = Field(min_length=1, max_length=100)
    requests: RequestSpec = Field(default_factory=RequestSpec)
    latency: LatencySpec = Field(default_factory=LatencySpec)
    cost: CostSpec = Field(default_factory=CostSpec)

    @model_validator(mode="after")
    def _unique_types(self) -> DeploymentFile:
        if len(set(self.vnf_types)) != len(self.vnf_types):
            raise ValueError("vnf_types: names must be unique")
        return self


@dataclass(frozen=True)
class PathOption:
    """One route between two nodes: its link indices, propagation delay and hop count."""

    links: tuple[int, ...]
    delay: float
    hops: int = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hops", len(self.links))


@dataclass(frozen=True)
class Substrate:
    """Servers and links by index, their capacities (already scaled by the threshold for
    servers) and the k shortest paths by delay between every ordered pair of nodes."""

    name: str
    nodes: tuple[str, ...]
    labels: tuple[str, ...]
    cpu: tuple[float, ...]  # usable CPU = threshold x capacity
    memory: tuple[float, ...]
    speed: tuple[float, ...]
    links: tuple[tuple[int, int], ...]
    bandwidth: tuple[float, ...]
    link_delay: tuple[float, ...]
    paths: dict[tuple[int, int], tuple[PathOption, ...]] = field(repr=False, compare=False)
    hop_distance: tuple[tuple[int, ...], ...] = field(repr=False, compare=False)
    delay_distance: tuple[tuple[float, ...], ...] = field(repr=False, compare=False)

    @property
    def n(self) -> int:
        return len(self.nodes)

    def index(self, node: str) -> int:
        return self.nodes.index(node)


@dataclass(frozen=True)
class DeploymentScenario:
    name: str
    substrate: Substrate
    vnf_types: tuple[str, ...]
    requests: RequestSpec
    latency: LatencySpec
    cost: CostSpec
    seed: int
    ingress: tuple[int, ...]  # node indices requests may enter at
    egress: tuple[int, ...]
    trace: tuple[RequestRow, ...] | None = None
    source: str | None = None

    def with_count(self, count: int) -> DeploymentScenario:
        """The same scenario with ``count`` generated requests per episode."""
        spec = self.requests.model_copy(update={"count": count})
        return dataclasses.replace(self, requests=spec, trace=None)

    def with_arrivals(self, per_period: float) -> DeploymentScenario:
        """The same scenario with Poisson arrivals at ``per_period`` requests per period."""
        spec = self.requests.model_copy(update={"arrivals_per_period": per_period})
        return dataclasses.replace(self, requests=spec)


class RequestRow(BaseModel):
    """One request of a trace file."""

    model_config = _STRICT
    arrival: NonNegative  # period
    duration: int = Field(ge=1, le=10**9)
    ingress: str
    egress: str
    chain: list[str] = Field(min_length=1, max_length=MAX_CHAIN)
    cpu: list[Positive]
    memory: list[Positive]
    bandwidth: list[Positive]  # one per virtual link: len(chain) + 1
    latency_bound_ms: Positive
    data_kbit: Positive | None = None

    @model_validator(mode="after")
    def _lengths(self) -> RequestRow:
        k = len(self.chain)
        if len(self.cpu) != k or len(self.memory) != k:
            raise ValueError(f"cpu and memory need one value per VNF ({k})")
        if len(self.bandwidth) != k + 1:
            raise ValueError(f"bandwidth needs one value per virtual link ({k + 1})")
        return self


class TraceFile(BaseModel):
    model_config = _STRICT
    requests: list[RequestRow] = Field(min_length=1, max_length=MAX_TRACE_REQUESTS)


def load_deployment(path: str | Path) -> DeploymentScenario:
    """Load and check a deployment scenario file; every problem is one InputError."""
    doc = load_yaml(path, "deployment scenario file")
    spec = doc.validate(DeploymentFile, require_mapping(doc, "a deployment scenario file"))
    ref = NetworkSpec(file=spec.network) if isinstance(spec.network, str) else spec.network
    network = load_network(
        _file(doc, ref.file, ["network"]), NetworkOptions(node_cap=1.0, require_node_cap=False)
    )
    kept = _kept_nodes(doc, network, ref)
    substrate = build_substrate(spec, network, kept, doc)
    ingress = _endpoints(doc, substrate, spec.requests.endpoints.ingress, "ingress")
    egress = _endpoints(doc, substrate, spec.requests.endpoints.egress, "egress")
    trace = None
    if spec.requests.trace is not None:
        trace_path = _file(doc, spec.requests.trace, ["requests", "trace"])
        trace = load_trace(trace_path, substrate, spec.vnf_types)
    return DeploymentScenario(
        name=spec.name or doc.path.stem,
        substrate=substrate,
        vnf_types=tuple(spec.vnf_types),
        requests=spec.requests,
        latency=spec.latency,
        cost=spec.cost,
        seed=spec.seed,
        ingress=ingress,
        egress=egress,
        trace=trace,
        source=str(doc.path),
    )


def _file(doc: YamlDocument, name: str, key: KeyPath) -> Path:
    path = Path(name) if Path(name).is_absolute() else doc.path.parent / name
    if not path.is_file():
        raise doc.error(key, f"file {name!r} not found (relative to {doc.path.parent})")
    return path


def _kept_nodes(doc: YamlDocument, network: Network, ref: NetworkSpec) -> list[str]:
    for i, node in enumerate(ref.exclude):
        if not network.has_node(node):
            raise doc.error(["network", "exclude", i], f"unknown node {node!r}")
    kept = [node for node in network.node_ids if node not in set(ref.exclude)]
    if len(kept) > MAX_NODES:
        raise doc.error(["network"], f"{len(kept)} nodes; deployment handles at most {MAX_NODES}")
    if len(kept) < 2:
        raise doc.error(["network"], "a substrate needs at least two nodes")
    graph = network.graph().subgraph(kept)
    if not nx.is_connected(graph):
        raise doc.error(["network"], "the substrate is not connected")
    return kept


def _draw(rng: np.random.Generator, span: float | tuple[float, float], count: int) -> list[float]:
    if isinstance(span, tuple):
        low, high = span
        if low > high:
            raise ValueError(f"range [{low}, {high}] has low above high")
        return [float(v) for v in rng.uniform(low, high, count)]
    return [float(span)] * count


def build_substrate(
    spec: DeploymentFile, network: Network, kept: list[str], doc: YamlDocument | None = None
) -> Substrate:
    """Capacities drawn with ``substrate_seed`` (servers first, then links) and k paths."""
    rng = np.random.default_rng(spec.substrate_seed)
    index = {node: i for i, node in enumerate(kept)}
    links = [link for link in network.links if link.a in index and link.b in index]
    links = [link for link in links if link.a != link.b]
    try:
        cpu = _draw(rng, spec.servers.cpu, len(kept))
        memory = _draw(rng, spec.servers.memory, len(kept))
        speed = _draw(rng, spec.servers.speed, len(kept))
        bandwidth = _draw(rng, spec.links.bandwidth, len(links))
    except ValueError as exc:
        where = ["servers"] if doc is None or "bandwidth" not in str(exc) else ["links"]
        if doc is None:
            raise
        raise doc.error(where, str(exc)) from None
    delays = [
        spec.links.delay_ms if spec.links.delay_ms is not None else link.delay for link in links
    ]
    edges = tuple((index[link.a], index[link.b]) for link in links)
    share = spec.servers.threshold
    return Substrate(
        name=network.name,
        nodes=tuple(kept),
        labels=tuple(network.node(node).label or node for node in kept),
        cpu=tuple(c * share for c in cpu),
        memory=tuple(m * share for m in memory),
        speed=tuple(speed),
        links=edges,
        bandwidth=tuple(bandwidth),
        link_delay=tuple(float(d) for d in delays),
        paths=k_shortest_paths(len(kept), edges, delays, spec.paths),
        hop_distance=_distances(len(kept), edges, [1.0] * len(edges), int),
        delay_distance=_distances(len(kept), edges, delays, float),
    )


def _distances(
    n: int, edges: tuple[tuple[int, int], ...], weights: list[float], kind: type
) -> tuple[tuple[Any, ...], ...]:
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    for (a, b), w in zip(edges, weights, strict=True):
        graph.add_edge(a, b, weight=w)
    lengths = dict(nx.all_pairs_dijkstra_path_length(graph, weight="weight"))
    return tuple(tuple(kind(lengths[a][b]) for b in range(n)) for a in range(n))


def k_shortest_paths(
    n: int, edges: tuple[tuple[int, int], ...], delays: list[float], k: int
) -> dict[tuple[int, int], tuple[PathOption, ...]]:
    """Up to ``k`` loop-free paths per ordered pair, shortest delay first (hops break ties)."""
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    for i, ((a, b), delay) in enumerate(zip(edges, delays, strict=True)):
        graph.add_edge(a, b, weight=delay + 1e-3, link=i)
    paths: dict[tuple[int, int], tuple[PathOption, ...]] = {}
    for a, b in itertools.permutations(range(n), 2):
        if (b, a) in paths:  # undirected: the reverse pair uses the same links
            paths[(a, b)] = paths[(b, a)]
            continue
        options = []
        for hops in itertools.islice(nx.shortest_simple_paths(graph, a, b, "weight"), k):
            ids = tuple(graph[u][v]["link"] for u, v in itertools.pairwise(hops))
            options.append(PathOption(ids, sum(delays[i] for i in ids)))
        paths[(a, b)] = tuple(options)
    for a in range(n):
        paths[(a, a)] = (PathOption((), 0.0),)
    return paths


def _endpoints(
    doc: YamlDocument, substrate: Substrate, names: list[str] | None, key: str
) -> tuple[int, ...]:
    if names is None:
        return tuple(range(substrate.n))
    if not names:
        raise doc.error(["requests", "endpoints", key], "list at least one node")
    for i, name in enumerate(names):
        if name not in substrate.nodes:
            raise doc.error(["requests", "endpoints", key, i], f"unknown node {name!r}")
    return tuple(substrate.index(name) for name in names)


def load_trace(path: Path, substrate: Substrate, vnf_types: list[str]) -> tuple[RequestRow, ...]:
    """A request trace: ``requests: [{arrival, duration, ingress, egress, chain, cpu, memory,
    bandwidth, latency_bound_ms}, ...]`` in order of arrival."""
    doc = load_yaml(path, "request trace")
    trace = doc.validate(TraceFile, require_mapping(doc, "a request trace"))
    last = 0.0
    for i, row in enumerate(trace.requests):
        for key in ("ingress", "egress"):
            if getattr(row, key) not in substrate.nodes:
                raise doc.error(["requests", i, key], f"unknown node {getattr(row, key)!r}")
        for j, vnf in enumerate(row.chain):
            if vnf not in vnf_types:
                raise doc.error(["requests", i, "chain", j], f"unknown VNF type {vnf!r}")
        if row.arrival < last:
            raise doc.error(["requests", i, "arrival"], "requests must be in order of arrival")
        last = row.arrival
    return tuple(trace.requests)


def check_deployment_file(path: str | Path) -> str:
    """Validate a deployment scenario; a one-line summary (for ``agent check-config``)."""
    scenario = load_deployment(path)
    sub = scenario.substrate
    source = "trace" if scenario.trace is not None else "generator"
    return (
        f"deployment scenario {scenario.name!r}: {sub.n} servers, {len(sub.links)} links, "
        f"{len(scenario.vnf_types)} VNF types, requests from the {source}"
    )


__all__ = [
    "DeploymentScenario",
    "InputError",
    "PathOption",
    "RequestRow",
    "Substrate",
    "check_deployment_file",
    "load_deployment",
]
