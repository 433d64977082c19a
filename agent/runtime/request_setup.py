"""Deployment requests from the configuration: the scenario and policy checked at
``prepare``, the book built (a learned policy's weights read in a worker), the saved
requests restored, and on the simulator backend requests generated from the scenario.

The deployment scenario's substrate must lie on the daemon's network: every server a
node of it, every substrate link one of its links (the flows of a request follow the
substrate's paths over the switches of the wiring).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from agent.model.deployment import DeploymentScenario, load_deployment
from agent.model.deployment_state import PlacementPolicy, Request
from agent.model.errors import InputError
from agent.model.network import Network
from agent.model.wiring import Wiring
from agent.runtime.config import AgentConfig, BackendKind, DeploymentSettings
from agent.runtime.cycle import STARTUP_GRACE, DecisionCycle
from agent.runtime.request_desk import Deployments
from agent.runtime.request_store import set_aside
from agent.runtime.requests import Demand, RequestBook, RequestProblem
from agent.southbound.instances import InstanceManager, InstanceSet

log = structlog.get_logger("agent.requests")
STATE_FILE = "requests.json"
CHUNK = 1_000  # generated requests drawn at a time


def check_deployment(
    settings: DeploymentSettings, network: Network, where: str | None, generate_ok: bool = True
) -> tuple[DeploymentScenario, PlacementPolicy]:
    """The scenario and policy the section names, on this network; InputError naming
    the configuration key of the first problem (the scenario's own file for its own
    problems)."""
    scenario = load_deployment(settings.scenario)
    problem = substrate_problem(scenario, network)
    if problem:
        raise InputError(where, "deployment.scenario", problem)
    for name, chain in settings.chains.items():
        for i, vnf in enumerate(chain):
            if vnf not in scenario.vnf_types:
                known = ", ".join(scenario.vnf_types)
                raise InputError(
                    where, f"deployment.chains.{name}.{i}", f"unknown VNF type {vnf!r} ({known})"
                )
    if settings.generate and not generate_ok:
        raise InputError(where, "deployment.generate", "only with the simulator backend")
    return scenario, make_policy(settings.policy, scenario, where)


def make_policy(name: str, scenario: DeploymentScenario, where: str | None) -> PlacementPolicy:
    from agent.policies.deployment.registry import make_deployment_policy
    from agent.policies.errors import PolicyError

    try:
        return make_deployment_policy(name, scenario.substrate.n)
    except (PolicyError, InputError) as exc:
        text = exc.one_line() if isinstance(exc, InputError) else str(exc)
        raise InputError(where, "deployment.policy", text) from None


def substrate_problem(scenario: DeploymentScenario, network: Network) -> str | None:
    sub = scenario.substrate
    for node in sub.nodes:
        if not network.has_node(node):
            return f"substrate node {node!r} is not a node of the network {network.name}"
    for a, b in sub.links:
        if network.link(sub.nodes[a], sub.nodes[b]) is None:
            return f"substrate link {sub.nodes[a]}-{sub.nodes[b]} is not a link of the network"
    return None


def build_book(
    settings: DeploymentSettings,
    network: Network,
    wiring: Wiring,
    folder: Path | None,
    generate_ok: bool = True,
) -> RequestBook:
    """The book of the configured deployment (in a worker: a policy may read weights)."""
    scenario, policy = check_deployment(settings, network, None, generate_ok)
    path = folder / STATE_FILE if folder is not None else None
    return RequestBook(scenario, policy, wiring, settings.chains, settings.max_requests, path)


def restore_book(book: RequestBook, now: float) -> int:
    """Restore the saved requests; an unreadable file is logged (naming the file, the
    place and the problem), set aside as ``.bad``, and the daemon starts without them
    (their flows are then removed as any flow nobody wants)."""
    try:
        return len(book.restore(now))
    except InputError as exc:
        assert book.path is not None
        bad = set_aside(book.path)
        log.error(
            "saved requests unreadable, starting without", error=exc.one_line(), kept=str(bad)
        )
        return 0


def make_deployments(
    book: RequestBook,
    instances: InstanceManager,
    wanted: Callable[[], InstanceSet],
    settings: DeploymentSettings,
) -> Deployments:
    return Deployments(book, instances, wanted, settings.install_timeout_s)


class RequestGenerator:
    """Plays the deployment scenario's arrivals in wall time (``period_s`` per period):
    each request is submitted as if posted; refusals are counted, not raised."""

    def __init__(
        self,
        deployments: Deployments,
        settings: DeploymentSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.deployments = deployments
        self.period_s = settings.period_s
        self.seed = settings.seed
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._submits: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._play(), name="request-generator")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._submits) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _play(self) -> None:
        from agent.southbound.sim_backend import DeploymentArrivals

        scenario = self.deployments.book.scenario
        arrivals = DeploymentArrivals(scenario, self.seed, CHUNK)
        started = self.clock()
        while True:  # the scenario's arrival process, CHUNK requests at a time
            for period, request in await asyncio.to_thread(arrivals.next_chunk):
                await asyncio.sleep(max(0.0, started + period * self.period_s - self.clock()))
                self._spawn(generated_demand(scenario, request, self.period_s))

    def _spawn(self, demand: Demand) -> None:
        task = asyncio.create_task(self._submit(demand))
        self._submits.add(task)
        task.add_done_callback(self._submits.discard)

    async def _submit(self, demand: Demand) -> None:
        try:
            record = await self.deployments.submit(demand)
        except RequestProblem as exc:
            log.debug("generated request refused", code=exc.code, reason=exc.message)
            return
        log.debug("generated request accepted", request=record.id, servers=record.servers)


def generated_demand(scenario: DeploymentScenario, request: Request, period_s: float) -> Demand:
    """A generated request in the book's terms (its duration in wall seconds)."""
    sub, types = scenario.substrate, scenario.vnf_types
    return Demand(
        ingress=sub.nodes[request.ingress],
        egress=sub.nodes[request.egress],
        chain=tuple(types[v] for v in request.vnfs),
        cpu=request.cpu,
        memory=request.memory,
        bandwidth=request.bandwidth,
        rate=max(request.bandwidth),
        latency_bound_ms=request.latency_bound,
        duration_s=request.duration * period_s,
        source="generated",
    )


async def start_deployments(
    daemon: DecisionCycle, config: AgentConfig, folder: Path | None
) -> RequestGenerator | None:
    """Build the configured deployment (in a worker), restore the saved requests, start
    their instances and hand it to the decision cycle; the generator when configured."""
    settings = config.deployment
    if settings is None:
        return None
    sim = config.backend is BackendKind.SIM
    network, wiring = daemon.scenario.network, daemon.backend.wiring
    book = await asyncio.wait_for(
        asyncio.to_thread(build_book, settings, network, wiring, folder, sim), STARTUP_GRACE
    )
    restore_book(book, time.time())
    deployments = make_deployments(book, daemon.instances, lambda: decided(daemon), settings)
    await deployments.start_restored()
    daemon.requests = deployments
    if not settings.generate:
        return None
    generator = RequestGenerator(deployments, settings)
    generator.start()
    return generator


def decided(daemon: DecisionCycle) -> InstanceSet:
    """The instances the coordination decision places."""
    decision = daemon.last_decision
    if decision is None:
        return {}
    return {node: frozenset(sfs) for node, sfs in decision.placement.items() if sfs}
