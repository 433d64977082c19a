"""Serving the API: the aiohttp runner behind the daemon's ApiServer interface."""

from __future__ import annotations

import structlog
from aiohttp import web

from agent.api.app import make_app
from agent.runtime.view import DaemonView

log = structlog.get_logger("agent.api")


class AiohttpServer:
    def __init__(self) -> None:
        self.runner: web.AppRunner | None = None
        self.address: tuple[str, int] | None = None

    async def start(self, view: DaemonView, token: str | None, listen: str) -> None:
        host, _, port = listen.rpartition(":")
        self.runner = web.AppRunner(make_app(view, token), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host.strip("[]"), int(port))
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.address = sockets[0].getsockname()[:2] if sockets else (host, int(port))
        log.info("api listening", address=f"{self.address[0]}:{self.address[1]}")

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
