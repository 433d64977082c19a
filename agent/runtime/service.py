"""`agent run`: the daemon's process: backend, decision loop, API, signals, systemd.

READY=1 is sent once the first observation is in and rules are installed;
WATCHDOG=1 comes from the event loop itself (a blocked loop stops it); SIGHUP
reloads the configuration, keeping the running one when the new one is bad; SIGTERM
and SIGINT stop cleanly (STOPPING=1, API closed, backend stopped; the switches keep
the last rules).
"""

from __future__ import annotations

import asyncio
import signal
import sys
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
)
from agent.runtime.daemon import Daemon
from agent.runtime.logs import configure
from agent.runtime.sdnotify import Notifier
from agent.runtime.view import DaemonView, RunningDaemon
from agent.southbound.base import Backend
from agent.southbound.controller_backend import ControllerBackend
from agent.southbound.instances import InstanceManager, JsonLinesInstanceManager
from agent.southbound.sim_backend import SimBackend

log = structlog.get_logger("agent.service")


class ApiServer(Protocol):
    """Serves the HTTP API over the daemon's view (the api layer provides it)."""

    address: tuple[str, int] | None

    async def start(self, view: DaemonView, token: str | None, listen: str) -> None: ...

    async def stop(self) -> None: ...


# Settings a reload may change; anything else needs a restart.
RELOADABLE = {"policy", "fallback", "decision_interval", "stale_after", "policy_timeout", "log"}


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
        config: AgentConfig,
        source: str,
        notifier: Notifier | None = None,
        api_listen: str | None = None,
        api: ApiServer | None = None,
    ) -> None:
        self.api = api
        self.api_listen = api_listen  # from the command line; outlives reloads
        config = with_api(config, api_listen)
        self.config = config
        self.source = source
        self.notifier = notifier or Notifier()
        self.scenario = load_scenario(config.scenario)
        self.token = read_token(config)
        self.backend = make_backend(config, self.scenario)
        self.daemon = Daemon(config, self.scenario, self.backend, make_instances(config))
        self.view = RunningDaemon(self.daemon, source)
        self.stop_event = asyncio.Event()
        self.wake = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_event.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        await self.backend.start()
        if self.api is not None:
            await self.api.start(self.view, self.token, self.config.api.listen)
        watchdog = asyncio.create_task(self._watchdog(), name="watchdog")
        try:
            await self._loop()
        finally:
            watchdog.cancel()
            self.notifier.stopping()
            log.info("stopping")
            if self.api is not None:
                await self.api.stop()
            await self.backend.stop()
            self.daemon.executor.shutdown(wait=False, cancel_futures=True)

    async def _loop(self) -> None:
        notified = False
        while not self.stop_event.is_set():
            record = await self.daemon.cycle()
            if self.daemon.ready and not notified:
                self.notifier.ready(f"deciding with {record.policy}")
                log.info("ready", policy=record.policy, backend=self.backend.name)
                notified = True
            await self._wait(self.config.decision_interval)

    async def _wait(self, seconds: float) -> None:
        stop = asyncio.create_task(self.stop_event.wait())
        wake = asyncio.create_task(self.wake.wait())
        await asyncio.wait({stop, wake}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for task in (stop, wake):
            task.cancel()
        self.wake.clear()

    async def _watchdog(self) -> None:
        interval = self.notifier.watchdog_interval
        if interval is None:
            return
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(interval)

    async def reload(self, path: str | None = None) -> bool:
        """Re-read the configuration; a bad one is refused and the running one kept."""
        self.notifier.reloading()
        source = path or (self.source if self.source != "defaults" else None)
        try:
            new = with_api(load_config(source)[0], self.api_listen)
            changed = {
                key
                for key, value in new.model_dump().items()
                if value != self.config.model_dump()[key]
            }
            if changed - RELOADABLE:
                raise InputError(
                    source, "", f"changing {sorted(changed - RELOADABLE)} needs a restart"
                )
            for name in (new.policy, new.fallback):
                self.daemon.policy(name)  # unknown names fail here, before anything changes
        except (InputError, ValueError) as exc:
            self.daemon.counters.config_errors += 1
            log.error("reload refused, keeping the running configuration", error=str(exc))
            self.notifier.ready("reload refused")
            return False
        self.config = new
        self.daemon.config = new
        configure(new.log.format, new.log.level)
        log.info("configuration reloaded", changed=sorted(changed))
        self.notifier.ready("reloaded")
        self.wake.set()
        return True


def with_api(config: AgentConfig, listen: str | None) -> AgentConfig:
    if listen is None:
        return config
    api = ApiSettings.model_validate({**config.api.model_dump(), "listen": listen})
    return config.model_copy(update={"api": api})


def run_service(config_path: str | None, api: str | None, server: ApiServer | None) -> None:
    """Load, validate and run; InputError escapes before anything starts."""
    if config_path is None and DEFAULT_CONFIG.exists():
        config_path = str(DEFAULT_CONFIG)
    config, source = load_config(config_path)
    try:
        with_api(config, api)
    except ValueError as exc:
        raise InputError(None, "--api", str(exc).splitlines()[-1].strip()) from None
    configure(config.log.format, config.log.level)
    # the simulator backend and policies run in worker threads: hand the GIL back to
    # the event loop within 1 ms instead of Python's default 5 ms
    sys.setswitchinterval(0.001)
    asyncio.run(_main(config, source, api, server))


async def _main(
    config: AgentConfig, source: str, api: str | None, server: ApiServer | None
) -> None:
    service = AgentService(config, source, api_listen=api, api=server)
    log.info("starting", backend=config.backend.value, policy=config.policy, config=source)
    await service.run()
