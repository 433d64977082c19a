"""Serving the API: the aiohttp runner behind the daemon's ApiServer interface.

The server runs on an event loop of its own, in its own thread, so that however many
readers arrive, the daemon's loop only runs the short state reads they need
(``app.view_call``) and its decision cycle keeps its interval. A listen address that
cannot be bound is a ``BindError`` naming it: the daemon stops before starting
anything else.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from typing import Any

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from agent.api.app import Token, error_response, make_app
from agent.runtime.view import DaemonView

log = structlog.get_logger("agent.api")
STOP_TIMEOUT = 3.0  # seconds to close connections before the thread is left to die


class BindError(OSError):
    """The API's listen address cannot be bound (in use, not on this host)."""


class EnvelopeRequestHandler(RequestHandler):
    """Requests aiohttp refuses before any handler runs (a bad request line, headers
    too large) get the API's error shape too."""

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        plain = super().handle_error(request, status, exc, message)  # logs; may raise
        reason = plain.reason or "error"
        response = error_response(status, reason.lower().replace(" ", "_"), reason)
        response.force_close()
        return response


class EnvelopeServer(web.Server):
    def __call__(self) -> RequestHandler:
        return EnvelopeRequestHandler(self, loop=self._loop, **self._kwargs)


class EnvelopeRunner(web.AppRunner):
    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        return EnvelopeServer(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=made._loop,
            **made._kwargs,
        )


class AiohttpServer:
    def __init__(self) -> None:
        self.address: tuple[str, int] | None = None
        self.token = Token()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    def set_token(self, token: str | None) -> None:
        self.token.value = token  # one attribute: the API thread sees old or new, whole

    async def start(self, view: DaemonView, token: str | None, listen: str) -> None:
        self.set_token(token)
        app = make_app(view, self.token, daemon_loop=asyncio.get_running_loop())
        started: concurrent.futures.Future[tuple[str, int]] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._serve, args=(app, listen, started), name="api", daemon=True
        )
        self._thread.start()
        try:
            self.address = await asyncio.wrap_future(started)
        except OSError as exc:
            problem = os.strerror(exc.errno) if exc.errno else str(exc)
            raise BindError(f"{listen}: {problem.lower()}") from None
        log.info("api listening", address=f"{self.address[0]}:{self.address[1]}")

    def _serve(
        self,
        app: web.Application,
        listen: str,
        started: concurrent.futures.Future[tuple[str, int]],
    ) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            address = loop.run_until_complete(self._bind(app, listen))
        except BaseException as exc:  # reported to start(); the thread ends
            started.set_exception(exc)
            loop.close()
            return
        started.set_result(address)
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _bind(self, app: web.Application, listen: str) -> tuple[str, int]:
        host, _, port = listen.rpartition(":")
        runner = self._runner = EnvelopeRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host.strip("[]"), int(port))
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        sockets = getattr(site._server, "sockets", None) or []
        bound = sockets[0].getsockname()[:2] if sockets else (host, int(port))
        return str(bound[0]), int(bound[1])

    async def stop(self) -> None:
        loop, runner, thread = self._loop, self._runner, self._thread
        if loop is None or runner is None or thread is None or not thread.is_alive():
            return
        closing = asyncio.run_coroutine_threadsafe(runner.cleanup(), loop)
        try:
            await asyncio.wait_for(asyncio.wrap_future(closing), STOP_TIMEOUT)
        except Exception as exc:  # closing must not keep the daemon from stopping
            log.warning("api did not close cleanly", error=repr(exc))
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.get_running_loop().run_in_executor(None, thread.join, STOP_TIMEOUT)
