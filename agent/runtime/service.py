"""`agent run`: the daemon's process: backend, decision loop, API, signals, systemd.

``prepare`` is everything ``agent run`` checks before it starts, and all that ``agent
run --check`` does. READY=1 is sent once the first observation is in and rules are
installed; WATCHDOG=1 only while decision cycles complete (a stuck cycle stops it, and
systemd restarts the daemon); SIGHUP reloads the configuration, keeping the running one
when the new one is bad, and always ends in READY=1; SIGTERM and SIGINT stop within a
bounded time, even with a worker stuck in a policy (STOPPING=1, API closed, backend
stopped; the switches keep the last rules). Signals that arrive while the daemon is
still starting are held until it runs. Cycles run at a fixed rate: a late cycle is
counted, ticks a cycle overran are counted as missed and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import structlog

from agent.model.errors import InputError
from agent.model.scenario import Scenario, load_scenario
from agent.runtime.config import (
    DEFAULT_CONFIG,
    AgentConfig,
    ApiSettings,
    BackendKind,
    load_config,
    read_token,
    state_dir,
)
from agent.runtime.cycle import DecisionCycle, StageFailed
from agent.runtime.logs import configure
from agent.runtime.overrides import Overrides
from agent.runtime.records import CycleRecord
from agent.runtime.request_setup import RequestGenerator, start_deployments
from agent.runtime.sdnotify import Notifier
from agent.runtime.slicing import SlicingEngine
from agent.runtime.view import RunningDaemon
from agent.southbound.base import Backend
from agent.southbound.controller_backend import ControllerBackend
from agent.southbound.instances import InstanceManager, JsonLinesInstanceManager
from agent.southbound.sim_backend import SimBackend

log = structlog.get_logger("agent.service")


class ApiServer(Protocol):
    """Serves the HTTP API over the daemon's view (the api layer provides it)."""

    address: tuple[str, int] | None

    async def start(self, view: RunningDaemon, token: str | None, listen: str) -> None: ...

    def set_token(self, token: str | None) -> None: ...

    def changed(self) -> None:
        """The daemon's state changed (a cycle ended): what the API serves follows."""

    async def stop(self) -> None: ...


STOP_TIMEOUT = 3.0  # seconds each shutdown step may take
EXIT_GRACE = 0.5  # seconds worker threads get to finish before the process exits past them


# Settings a reload may change; anything else needs a restart.
RELOADABLE = {
    "policy",
    "fallback",
    "decision_interval",
    "stale_after",
    "policy_timeout",
    "stage_timeout",
    "recovery_policy",
    "slicing",
    "log",
    "api",  # the token file; a new listen address is refused below
}


@dataclass(frozen=True)
class Prepared:
    """A configuration that ``agent run`` can start with, and what it loaded."""

    config: AgentConfig
    source: str
    scenario: Scenario
    token: str | None


def prepare(config_path: str | None, api_listen: str | None) -> Prepared:
    """Everything ``agent run`` checks before starting anything; InputError names the
    file and key of the first problem."""
    if config_path is None and DEFAULT_CONFIG.exists():
        config_path = str(DEFAULT_CONFIG)
    config, source = load_config(config_path)
    try:
        config = with_api(config, api_listen)
    except ValueError as exc:
        raise InputError(None, "--api", str(exc).splitlines()[-1].strip()) from None
    scenario = load_scenario(config.scenario)
    token = read_token(config)
    where = source if source != "defaults" else None
    for key in ("policy", "fallback"):
        problem = policy_problem(getattr(config, key), scenario)
        if problem:
            raise InputError(where, key, problem)
    from agent.policies.errors import PolicyError
    from agent.policies.recovery.registry import check_recovery_policy

    try:
        check_recovery_policy(config.recovery_policy)
    except (PolicyError, InputError) as exc:
        raise InputError(where, "recovery_policy", str(exc)) from None
    if config.slicing is not None:
        check_slicing(config, scenario, where)
    if config.deployment is not None:
        from agent.runtime.request_setup import check_deployment

        sim = config.backend is BackendKind.SIM
        check_deployment(config.deployment, scenario.network, where, generate_ok=sim)
    return Prepared(config, source, scenario, token)


def check_slicing(config: AgentConfig, scenario: Scenario, where: str | None) -> None:
    """The slicing scenario, its method (a learned slave's weights) and the traffic
    classes on the switches the backend will have; InputError naming the key."""
    from agent.model.wiring import load_wiring, synthetic_wiring
    from agent.runtime.slicing import engine_from_settings

    assert config.slicing is not None
    if config.backend is BackendKind.CONTROLLER and config.controller.wiring:
        wiring = load_wiring(config.controller.wiring, scenario.network)
    else:
        wiring = synthetic_wiring(scenario.network)
    engine_from_settings(config.slicing, wiring, where)


def policy_problem(name: str, scenario: Scenario) -> str | None:
    """Why policy ``name`` cannot decide on ``scenario``'s network, or None (checks its
    files and card without building it)."""
    from agent.policies.base import PolicyContext
    from agent.policies.errors import PolicyError
    from agent.policies.registry import check_policy

    context = PolicyContext(scenario.network, scenario.services, scenario.routing, 0)
    try:
        check_policy(name, context)
    except InputError as exc:
        return exc.one_line()
    except PolicyError as exc:
        return str(exc)
    return None


def make_backend(config: AgentConfig, scenario: Scenario) -> Backend:
    if config.backend is BackendKind.SIM:
        return SimBackend(scenario, time_scale=config.sim.time_scale)
    assert config.controller.wiring is not None  # load_config insists on it
    units = config.controller.units
    return ControllerBackend(
        config.controller.connect,
        config.controller.wiring,
        scenario,
        rate_mbps=units.rate_mbps,
        time_scale=units.time_scale,
    )


def make_instances(config: AgentConfig) -> InstanceManager | None:
    if config.instances.kind == "json-lines":
        assert config.instances.endpoint is not None  # the configuration insists on it
        return JsonLinesInstanceManager(config.instances.endpoint)
    return None  # the daemon's logging manager


class AgentService:
    def __init__(
        self,
        prepared: Prepared,
        notifier: Notifier | None = None,
        api_listen: str | None = None,
        api: ApiServer | None = None,
    ) -> None:
        self.api = api
        self.api_listen = api_listen  # from the command line; outlives reloads
        self.config = config = prepared.config
        self.source = prepared.source
        self.notifier = notifier or Notifier()
        self.scenario = prepared.scenario
        self.token = prepared.token
        self.backend = make_backend(config, self.scenario)
        folder = state_dir(config)
        if folder is not None:
            try:  # systemd's StateDirectory= makes it; a configured one may not exist yet
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(self.source, "state_dir", f"{folder}: {exc.strerror}") from None
        overrides = Overrides(folder / "overrides.json" if folder else None)
        self.daemon = DecisionCycle(
            config, self.scenario, self.backend, make_instances(config), overrides
        )
        self.view = RunningDaemon(self.daemon, self.source)
        self.stop_event = asyncio.Event()
        self.wake = asyncio.Event()
        self._reloads: set[asyncio.Task[bool]] = set()
        self.state_folder = folder
        self.generator: RequestGenerator | None = None  # requests from the scenario (sim)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_event.set)
        loop.add_signal_handler(signal.SIGHUP, self._spawn_reload)
        held = EARLY_SIGNALS.take()
        if signal.SIGTERM in held or signal.SIGINT in held:
            return
        try:
            await self._start()
            if signal.SIGHUP in held:
                self._spawn_reload()
            watchdog = asyncio.create_task(self._watchdog(), name="watchdog")
            await self._loop()
            watchdog.cancel()
        finally:
            await self._shutdown()

    def _spawn_reload(self) -> None:
        task = asyncio.create_task(self.reload(), name="reload")
        self._reloads.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._reloads.discard)

    async def _start(self) -> None:
        """API first (a bad listen address stops us before anything runs), then the
        backend, then the policies (in a worker: trained ones load weights)."""
        if self.api is not None:
            try:
                await self.api.start(self.view, self.token, self.config.api.listen)
            except OSError as exc:  # address in use, not on this host
                where = "--api" if self.api_listen else "api.listen"
                source = None if self.api_listen or self.source == "defaults" else self.source
                raise InputError(source, where, str(exc)) from None
        await self.backend.start()
        await self.daemon.load_policies(self.config.policy, self.config.fallback)
        await self.daemon.load_recovery()
        self.daemon.use_slicing(await self.daemon.build_slicing(self.config.slicing))
        self.generator = await start_deployments(self.daemon, self.config, self.state_folder)
        await self._check_restored_overrides()

    async def _check_restored_overrides(self) -> None:
        """A restored policy override whose policy no longer loads is dropped, loudly."""
        for item in self.daemon.overrides.listing():
            if item["kind"] != "policy":
                continue
            try:
                await self.daemon.load_policies(str(item["name"]))
            except StageFailed as exc:
                self.daemon.overrides.remove(int(str(item["id"])))
                log.error("restored policy override dropped", override=item, error=str(exc))

    async def _shutdown(self) -> None:
        self.notifier.stopping()
        log.info("stopping")
        steps = [self.backend.stop()]
        if self.generator is not None:
            steps.insert(0, self.generator.stop())
        if self.api is not None:
            steps.insert(0, self.api.stop())
        for step in steps:
            try:
                await asyncio.wait_for(step, STOP_TIMEOUT)
            except Exception as exc:  # stopping goes on whatever one part does
                log.warning("shutdown step failed", error=repr(exc))
        self.daemon.close()

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        notified = False
        next_at = loop.time()
        while not self.stop_event.is_set():
            record = await self._cycle_or_stop()
            if record is None:
                return
            if self.api is not None:
                self.api.changed()
            if self.daemon.ready and not notified:
                self.notifier.ready(f"deciding with {record.policy}")
                log.info("ready", policy=record.policy, backend=self.backend.name)
                notified = True
            next_at = self._next_tick(next_at, loop.time())
            if await self._wait(next_at - loop.time()):
                next_at = loop.time()  # woken by a reload: the interval may have changed

    async def _cycle_or_stop(self) -> CycleRecord | None:
        """One cycle, or None when a stop request comes first (the cycle is abandoned:
        its stages have deadlines, but stopping must not wait for them)."""
        cycle = asyncio.create_task(self.daemon.cycle(), name="cycle")
        stop = asyncio.create_task(self.stop_event.wait())
        await asyncio.wait({cycle, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if cycle.done():
            return cycle.result()
        cycle.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(cycle, STOP_TIMEOUT)
        return None

    def _next_tick(self, previous: float, now: float) -> float:
        """Fixed rate: the tick after ``previous``; ticks already past are skipped and
        counted."""
        interval = self.config.decision_interval
        tick = previous + interval
        if now > tick:
            counters = self.daemon.counters
            counters.late_cycles += 1
            skipped = math.floor((now - tick) / interval)
            counters.missed_cycles += skipped
            tick += skipped * interval
        return tick

    async def _wait(self, seconds: float) -> bool:
        """Sleep until the next tick; True when woken early by a reload."""
        stop = asyncio.create_task(self.stop_event.wait())
        wake = asyncio.create_task(self.wake.wait())
        await asyncio.wait(
            {stop, wake}, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED
        )
        for task in (stop, wake):
            task.cancel()
        woken = self.wake.is_set()
        self.wake.clear()
        return woken

    async def _watchdog(self) -> None:
        """WATCHDOG=1 while cycles complete: a stuck cycle lets systemd restart us."""
        interval = self.notifier.watchdog_interval
        if interval is None:
            return
        while True:
            stalled = self.daemon.stalled()
            if stalled is None:
                self.notifier.watchdog()
            else:
                self.notifier.status(f"decision cycle stuck: {stalled}")
            await asyncio.sleep(interval)

    async def reload(self, path: str | None = None) -> bool:
        """Re-read the configuration; a bad one is refused and the running one kept.
        Always ends in READY=1 (systemd leaves its reloading state)."""
        self.notifier.reloading()
        source = path or (self.source if self.source != "defaults" else None)
        try:
            new, token, slicing = await self._load_for_reload(source)
        except Exception as exc:  # whatever went wrong, the running configuration stays
            self.daemon.counters.config_errors += 1
            log.error("reload refused, keeping the running configuration", error=str(exc))
            if self.api is not None:
                self.api.changed()
            self.notifier.ready("reload refused")
            return False
        changed = _changed(self.config, new)
        self.config = new
        self.daemon.config = new
        if "slicing" in changed:
            self.daemon.use_slicing(slicing)
        self.token = token
        if self.api is not None:
            self.api.set_token(token)
        configure(new.log.format, new.log.level)
        log.info("configuration reloaded", changed=sorted(changed))
        if self.api is not None:
            self.api.changed()
        self.notifier.ready("reloaded")
        self.wake.set()
        return True

    async def _load_for_reload(
        self, source: str | None
    ) -> tuple[AgentConfig, str | None, SlicingEngine | None]:
        """The new configuration and token, policies and the slicing engine built (in a
        worker), or an error."""
        new = with_api(load_config(source)[0], self.api_listen)
        changed = _changed(self.config, new)
        if new.api.listen != self.config.api.listen:
            changed.add("api.listen")
        if changed - RELOADABLE:
            raise InputError(source, "", f"changing {sorted(changed - RELOADABLE)} needs a restart")
        token = read_token(new)
        await self.daemon.load_policies(new.policy, new.fallback)  # unknown names fail here
        if new.recovery_policy != self.config.recovery_policy:
            await self.daemon.load_recovery(new.recovery_policy)
        slicing = self.daemon.slicing
        if new.slicing != self.config.slicing:
            slicing = await self.daemon.build_slicing(new.slicing)
        return new, token, slicing


def _changed(old: AgentConfig, new: AgentConfig) -> set[str]:
    before = old.model_dump()
    return {key for key, value in new.model_dump().items() if value != before[key]}


def with_api(config: AgentConfig, listen: str | None) -> AgentConfig:
    if listen is None:
        return config
    api = ApiSettings.model_validate({**config.api.model_dump(), "listen": listen})
    return config.model_copy(update={"api": api})


class EarlySignals:
    """Signals that arrive while the daemon starts (loading a scenario and policies
    takes seconds): held, instead of SIGHUP's default of killing the process, and acted
    on once the event loop's handlers are in place."""

    def __init__(self) -> None:
        self.held: set[int] = set()

    def install(self) -> None:
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._hold)

    def _hold(self, signum: int, frame: object) -> None:
        self.held.add(signum)

    def take(self) -> set[int]:
        held, self.held = self.held, set()
        return held


EARLY_SIGNALS = EarlySignals()


def run_service(config_path: str | None, api: str | None, server: ApiServer | None) -> None:
    """Check, then run; InputError escapes before anything starts."""
    EARLY_SIGNALS.install()
    prepared = prepare(config_path, api)
    configure(prepared.config.log.format, prepared.config.log.level)
    # the simulator backend and policies run in worker threads: hand the GIL back to
    # the event loop within 1 ms instead of Python's default 5 ms
    sys.setswitchinterval(0.001)
    asyncio.run(_main(prepared, api, server))
    _exit_past_stuck_workers()


async def _main(prepared: Prepared, api: str | None, server: ApiServer | None) -> None:
    config = prepared.config
    log.info("starting", backend=config.backend.value, policy=config.policy, config=prepared.source)
    service = AgentService(prepared, api_listen=api, api=server)
    await service.run()


def _exit_past_stuck_workers() -> None:
    """A worker stuck in a policy would keep the interpreter from exiting (it joins its
    worker threads): after a short grace, exit without waiting for it."""
    deadline = time.monotonic() + EXIT_GRACE
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in threading.enumerate() if t.is_alive() and not t.daemon]
    if len(stuck) > 1:  # the main thread is always there
        log.error("exiting past stuck worker threads", threads=stuck)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
