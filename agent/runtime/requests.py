"""Deployment requests in the daemon: the book of requests and the substrate's resources.

``RequestBook`` is synchronous and runs on the event loop only: a request is parsed,
placed by the deployment policy, checked against the residual resources, compiled into
its flows and booked in one call with no await in between, so concurrent requests can
never book the same resource twice, and a request that cannot be placed or installed
changes nothing. ``request_desk.Deployments`` adds what needs awaiting (instances, the
decision cycle's install, removal) and rolls a booking back when those fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import structlog
from pydantic import BaseModel, ConfigDict, Field

from agent.model.deployment import MAX_CHAIN, DeploymentScenario
from agent.model.deployment_state import Placement, PlacementPolicy, Request, SubstrateState
from agent.model.wiring import Wiring
from agent.rules.intents import FlowIntent, MatchValue
from agent.rules.requests import (
    RequestRoute,
    RequestRuleError,
    check_classifier,
    compile_request,
    tag_address,
)
from agent.runtime.request_store import RequestRecord, StoredRequests, load_requests, save_requests
from agent.southbound.instances import InstanceSet

log = structlog.get_logger("agent.requests")
Amount = Annotated[float, Field(strict=True, gt=0.0, le=1e9, allow_inf_nan=False)]
HOLDING = ("starting", "pending", "active")  # states that hold resources


class RequestBody(BaseModel):
    """``POST /requests``: a chain between two nodes of the substrate."""

    model_config = ConfigDict(extra="forbid")
    ingress: str
    egress: str
    chain: str | list[str] = Field(min_length=1)  # VNF types, or a named chain
    rate: Amount  # Mbit/s of every virtual link
    latency_bound_ms: Amount
    duration_s: Amount
    cpu: Amount | list[Amount] | None = None  # per VNF; default: the scenario's mean
    memory: Amount | list[Amount] | None = None
    match: dict[str, int | str] | None = None  # classifier; default: a source of its own


class RequestProblem(Exception):
    """Why a request was refused or failed: an HTTP status, a code and a located message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def bad(field: str, problem: str) -> RequestProblem:
    return RequestProblem(400, "invalid_body", f"{field}: {problem}")


@dataclass(frozen=True)
class Demand:
    """A request in the substrate's terms, before it is placed."""

    ingress: str
    egress: str
    chain: tuple[str, ...]
    cpu: tuple[float, ...]
    memory: tuple[float, ...]
    bandwidth: tuple[float, ...]  # per virtual link
    rate: float
    latency_bound_ms: float
    duration_s: float
    classifier: Mapping[str, MatchValue] | None = None
    source: str = "api"


@dataclass(frozen=True)
class Usage:
    """Resources in use per server and per link."""

    cpu: tuple[float, ...]
    memory: tuple[float, ...]
    bandwidth: tuple[float, ...]


class RequestBook:
    """The requests the daemon holds and what they take of the substrate."""

    def __init__(
        self,
        scenario: DeploymentScenario,
        policy: PlacementPolicy,
        wiring: Wiring,
        chains: Mapping[str, list[str]] | None = None,
        max_requests: int = 10_000,
        path: Path | None = None,
    ) -> None:
        self.scenario = scenario
        self.policy = policy
        self.wiring = wiring
        self.chains = dict(chains or {})
        self.max_requests = max_requests
        self.path = path
        self.state = SubstrateState(scenario.substrate, scenario.latency.service_rate)
        self.records: dict[int, RequestRecord] = {}
        self.flows: dict[int, list[FlowIntent]] = {}
        self.next_id = 1
        self.accepted = 0  # installed
        self.rejected = 0  # refused: no placement, classifier in use, too many
        self.failed = 0  # booked, then rolled back (instances, install)

    # ------------------------------------------------------------------ parsing
    def demand(self, body: RequestBody) -> Demand:
        """The body in the substrate's terms; RequestProblem 400 naming the field."""
        nodes = self.scenario.substrate.nodes
        for key in ("ingress", "egress"):
            if getattr(body, key) not in nodes:
                raise bad(key, f"{getattr(body, key)!r} is not a node of the substrate")
        chain = self._chain(body.chain)
        spec = self.scenario.requests
        cpu = _per_vnf("cpu", body.cpu, len(chain), sum(spec.cpu) / 2)
        memory = _per_vnf("memory", body.memory, len(chain), sum(spec.memory) / 2)
        classifier = None
        if body.match is not None:
            try:
                classifier = check_classifier(body.match)
            except ValueError as exc:
                raise bad(f"match.{exc}".split(":")[0], str(exc).split(": ", 1)[-1]) from None
            if not classifier:
                raise bad("match", "name at least one field")
        return Demand(
            body.ingress,
            body.egress,
            chain,
            cpu,
            memory,
            (body.rate,) * (len(chain) + 1),
            body.rate,
            body.latency_bound_ms,
            body.duration_s,
            classifier,
        )

    def _chain(self, chain: str | list[str]) -> tuple[str, ...]:
        if isinstance(chain, str):
            if chain not in self.chains:
                known = ", ".join(sorted(self.chains)) or "none configured"
                raise bad("chain", f"no chain named {chain!r} (named chains: {known})")
            return tuple(self.chains[chain])
        if len(chain) > MAX_CHAIN:
            raise bad("chain", f"at most {MAX_CHAIN} VNFs")
        for i, vnf in enumerate(chain):
            if vnf not in self.scenario.vnf_types:
                known = ", ".join(self.scenario.vnf_types)
                raise bad(f"chain.{i}", f"unknown VNF type {vnf!r} (known: {known})")
        return tuple(chain)

    # ------------------------------------------------------------------ booking
    def admit(self, demand: Demand, now: float) -> RequestRecord:
        """Place, compile and book in one step (state ``starting``); RequestProblem 409
        with the reason, and nothing changed, when it cannot."""
        if len(self.records) >= self.max_requests:
            self.rejected += 1
            raise RequestProblem(409, "too_many_requests", f"at most {self.max_requests}")
        rid = self.next_id
        classifier = dict(demand.classifier or {"ipv4_src": tag_address(rid)})
        clash = self._clash(classifier)
        if clash is not None:
            self.rejected += 1
            raise RequestProblem(
                409, "classifier_in_use", f"request {clash} has the same match {classifier}"
            )
        request = self._request(rid, demand)
        decision = self.policy.place(request, self.state)
        if isinstance(decision, Placement):
            problem = self.state.check(request, decision)
        else:
            problem = decision.reason
        if problem is not None or not isinstance(decision, Placement):
            self.rejected += 1
            raise RequestProblem(409, "infeasible", problem or "no placement")
        record = self._record(rid, demand, classifier, decision, now)
        try:
            flows = compile_request(route_of(record), self.wiring)
        except RequestRuleError as exc:
            self.rejected += 1
            raise RequestProblem(409, "infeasible", f"not installable: {exc}") from None
        self.state.apply(request, decision)
        self.next_id += 1
        self.records[rid], self.flows[rid] = record, flows
        return record

    def _clash(self, classifier: Mapping[str, MatchValue]) -> int | None:
        for other in self.records.values():
            if other.classifier == classifier:
                return other.id
        return None

    def _request(self, rid: int, demand: Demand) -> Request:
        sub, types = self.scenario.substrate, self.scenario.vnf_types
        return Request(
            id=rid,
            arrival=0.0,
            duration=1,
            ingress=sub.index(demand.ingress),
            egress=sub.index(demand.egress),
            vnfs=tuple(types.index(vnf) for vnf in demand.chain),
            cpu=demand.cpu,
            memory=demand.memory,
            bandwidth=demand.bandwidth,
            latency_bound=demand.latency_bound_ms,
            data=self.scenario.requests.data_kbit,
        )

    def _record(
        self,
        rid: int,
        demand: Demand,
        classifier: dict[str, MatchValue],
        placement: Placement,
        now: float,
    ) -> RequestRecord:
        sub = self.scenario.substrate
        servers = [sub.nodes[s] for s in placement.servers]
        ends = [demand.ingress, *servers, demand.egress]
        return RequestRecord(
            id=rid,
            source="generated" if demand.source == "generated" else "api",
            ingress=demand.ingress,
            egress=demand.egress,
            chain=list(demand.chain),
            rate=demand.rate,
            bandwidth=list(demand.bandwidth),
            cpu=list(demand.cpu),
            memory=list(demand.memory),
            data_kbit=self.scenario.requests.data_kbit,
            latency_bound_ms=demand.latency_bound_ms,
            duration_s=demand.duration_s,
            classifier=classifier,
            servers=servers,
            links=[list(path) for path in placement.paths],
            path=[self._nodes(ends[j], path) for j, path in enumerate(placement.paths)],
            latency_ms=round(placement.latency, 6),
            created_at=now,
            expires_at=now + demand.duration_s,
        )

    def _nodes(self, start: str, links: Iterable[int]) -> list[str]:
        """The path's nodes from ``start`` (a path's links may be listed from either end)."""
        sub = self.scenario.substrate
        here, nodes, left = sub.index(start), [start], list(links)
        while left:
            link = next(k for k in left if here in sub.links[k])
            left.remove(link)
            a, b = sub.links[link]
            here = b if here == a else a
            nodes.append(sub.nodes[here])
        return nodes

    def set_state(self, rid: int, state: str) -> None:
        record = self.records.get(rid)
        if record is not None:
            self.records[rid] = record.model_copy(update={"state": state})

    def release(self, rid: int) -> RequestRecord:
        """Give the request's resources back; it stays (``removing``) until its flows
        are gone. KeyError when there is no such request holding resources."""
        record = self.records[rid]
        if record.state not in HOLDING:
            raise KeyError(rid)
        self.state.release(self._request_of(record), self._placement(record))
        if not self.holding():  # nothing booked: back to the exact capacities
            self.state = SubstrateState(self.scenario.substrate, self.scenario.latency.service_rate)
        self.records[rid] = record.model_copy(update={"state": "removing"})
        return self.records[rid]

    def drop(self, rid: int) -> None:
        """Forget a request whose resources are released."""
        self.records.pop(rid, None)
        self.flows.pop(rid, None)

    def _request_of(self, record: RequestRecord) -> Request:
        demand = Demand(
            record.ingress,
            record.egress,
            tuple(record.chain),
            tuple(record.cpu),
            tuple(record.memory),
            tuple(record.bandwidth),
            record.rate,
            record.latency_bound_ms,
            record.duration_s,
        )
        return self._request(record.id, demand)

    def _placement(self, record: RequestRecord) -> Placement:
        servers = tuple(self.scenario.substrate.index(node) for node in record.servers)
        paths = tuple(tuple(links) for links in record.links)
        return Placement(record.id, servers, paths, record.latency_ms)

    # ------------------------------------------------------------------ views
    def holding(self) -> list[RequestRecord]:
        return [r for r in self.records.values() if r.state in HOLDING]

    def expired(self, now: float) -> list[int]:
        return [r.id for r in self.holding() if r.expires_at <= now]

    def used(self) -> Usage:
        """What the substrate's residuals say is in use."""
        sub, state = self.scenario.substrate, self.state
        return Usage(
            tuple(c - r for c, r in zip(sub.cpu, state.cpu, strict=True)),
            tuple(c - r for c, r in zip(sub.memory, state.memory, strict=True)),
            tuple(c - r for c, r in zip(sub.bandwidth, state.bandwidth, strict=True)),
        )

    def booked(self) -> Usage:
        """What the requests holding resources add up to (equals ``used``)."""
        sub = self.scenario.substrate
        cpu, memory, bandwidth = [0.0] * sub.n, [0.0] * sub.n, [0.0] * len(sub.links)
        for record in self.holding():
            for i, node in enumerate(record.servers):
                cpu[sub.index(node)] += record.cpu[i]
                memory[sub.index(node)] += record.memory[i]
            for j, links in enumerate(record.links):
                for link in links:
                    bandwidth[link] += record.bandwidth[j]
        return Usage(tuple(cpu), tuple(memory), tuple(bandwidth))

    def instances(self, records: Iterable[RequestRecord] | None = None) -> InstanceSet:
        """The SF instances of ``records`` (default: every request's)."""
        out: dict[str, set[str]] = {}
        for record in self.records.values() if records is None else records:
            for vnf, node in zip(record.chain, record.servers, strict=True):
                out.setdefault(node, set()).add(vnf)
        return {node: frozenset(vnfs) for node, vnfs in out.items()}

    def summary(self) -> dict[str, int]:
        return {
            "active": sum(r.state == "active" for r in self.records.values()),
            "accepted": self.accepted,
            "rejected": self.rejected,
            "failed": self.failed,
        }

    # ------------------------------------------------------------------ persistence
    def save(self) -> None:
        """Write the active requests (those whose flows are installed)."""
        if self.path is None:
            return
        active = [r for r in self.records.values() if r.state == "active"]
        save_requests(self.path, active, self.next_id)

    def restore(self, now: float) -> list[RequestRecord]:
        """Book the saved requests again (state ``pending``: their flows go into the next
        batch); expired ones and ones that no longer fit are dropped with a warning.
        InputError naming the file when it cannot be read."""
        if self.path is None:
            return []
        stored = load_requests(self.path)
        if stored is None:
            return []
        self.next_id = max(self.next_id, stored.next_id)
        restored = [r for r in stored.requests if self._rebook(r, now)]
        log.info("requests restored", path=str(self.path), count=len(restored))
        return restored

    def _rebook(self, record: RequestRecord, now: float) -> bool:
        problem = self._restore_problem(record, now)
        if problem is not None:
            log.warning("saved request dropped", request=record.id, reason=problem)
            return False
        pending = record.model_copy(update={"state": "pending"})
        self.state.apply(self._request_of(pending), self._placement(pending))
        self.records[record.id] = pending
        self.flows[record.id] = compile_request(route_of(pending), self.wiring)
        self.next_id = max(self.next_id, record.id + 1)
        return True

    def _restore_problem(self, record: RequestRecord, now: float) -> str | None:
        if record.expires_at <= now:
            return "expired"
        if record.id in self.records or self._clash(record.classifier) is not None:
            return "its id or match is in use"
        sub = self.scenario.substrate
        nodes_ok = {record.ingress, record.egress, *record.servers} <= set(sub.nodes)
        types_ok = set(record.chain) <= set(self.scenario.vnf_types)
        k = len(record.chain)
        shape_ok = len(record.servers) == len(record.cpu) == len(record.memory) == k
        shape_ok = (
            shape_ok and len(record.bandwidth) == len(record.links) == len(record.path) == k + 1
        )
        if not (nodes_ok and types_ok and shape_ok):
            return "it does not match the deployment scenario"
        if any(link >= len(sub.links) for links in record.links for link in links):
            return "it does not match the deployment scenario"
        reason = self.state.check(self._request_of(record), self._placement(record))
        if reason is not None:
            return reason
        try:
            compile_request(route_of(record), self.wiring)
        except RequestRuleError as exc:
            return str(exc)
        return None

    def check_file(self) -> StoredRequests | None:
        """The saved file, read and checked (InputError when unreadable)."""
        return load_requests(self.path) if self.path is not None else None


def _per_vnf(
    name: str, value: float | list[float] | None, count: int, default: float
) -> tuple[float, ...]:
    if value is None:
        return (default,) * count
    if isinstance(value, float | int):
        return (float(value),) * count
    if len(value) != count:
        raise bad(name, f"one value per VNF ({count}), got {len(value)}")
    return tuple(float(v) for v in value)


def route_of(record: RequestRecord) -> RequestRoute:
    classifier = tuple(sorted(record.classifier.items()))
    return RequestRoute(
        record.id,
        classifier,
        record.ingress,
        tuple(record.servers),
        tuple(tuple(nodes) for nodes in record.path),
    )


def records_json(records: Iterable[RequestRecord]) -> list[dict[str, Any]]:
    return [record.public() for record in records]
