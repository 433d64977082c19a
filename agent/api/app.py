"""The HTTP API: status, topology, decisions, rules, overrides, metrics, OpenAPI, and
the operator's live page (``/``, its files under ``/static/``, its stream ``/events``).

Every failure answers with one JSON shape, ``{"error": {"status", "code", "message"}}``;
no request can take the daemon down. Writes need ``Authorization: Bearer <token>``
with the token from the file named in the configuration (re-read on reload); without
one configured, writes are refused.

The daemon serves this app from a process of its own (``server.py``, ``worker.py``)
over what the daemon publishes after every cycle, so readers cannot stall the decision
cycle; the same app runs in-process over ``RunningDaemon`` in tests. ``/rules``, the
largest answer, is encoded once per change of the installed rules.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web
from pydantic import ValidationError

from agent.api.events import EventHub
from agent.api.filters import FilterError, filter_decision, filter_rules
from agent.api.metrics import render
from agent.api.openapi import spec
from agent.api.page import INDEX, SECURITY_HEADERS, static_file
from agent.api.requests import REQUESTS, access_for, add_routes
from agent.runtime.overrides import OverrideRequest
from agent.runtime.view import DaemonView

log = structlog.get_logger("agent.api")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY = 64 * 1024


@dataclass
class Token:
    """The bearer token for writes; replaced when the configuration is reloaded."""

    value: str | None = None


VIEW = web.AppKey("view", DaemonView)
TOKEN = web.AppKey("token", Token)
EVENTS = web.AppKey("events", EventHub)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str) -> web.Response:
    body = {"error": {"status": status, "code": code, "message": message}}
    return web.json_response(body, status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        return error_response(exc.status, code, exc.reason)
    except Exception:  # the API must never crash the daemon
        log.exception("api handler failed", path=request.path)
        return error_response(500, "internal_error", "internal error; see the daemon's log")


def require_token(request: web.Request) -> None:
    token = request.app[TOKEN].value
    if not token:
        raise ApiError(403, "writes_disabled", "no API token configured: writes are disabled")
    header = request.headers.get("Authorization", "")
    given = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        raise ApiError(401, "unauthorized", "missing or wrong bearer token")


async def read_json(request: web.Request) -> Any:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "body_too_large", f"request body over {MAX_BODY} bytes")
    raw = await request.read()  # the whole body, however many pieces it came in
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"request body is not JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "invalid_json", "request body is nested too deeply") from None


def json_bytes(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json")


# ---------------------------------------------------------------------- handlers
async def livez(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    failing = await request.app[VIEW].ready_checks()
    if failing:
        return web.json_response({"ready": False, "failing": failing}, status=503)
    return web.json_response({"ready": True, "failing": []})


async def status(request: web.Request) -> web.Response:
    body = await request.app[VIEW].status()
    deployments = (await request.app[REQUESTS]("summary", {}))[1]
    if deployments.get("configured") and "deployments" not in body:
        body = {**body, "deployments": deployments}  # the live page shows it
    return web.json_response(body)


async def topology(request: web.Request) -> web.Response:
    return web.json_response(await request.app[VIEW].topology())


async def latest_decision(request: web.Request) -> web.Response:
    decision = await request.app[VIEW].latest_decision()
    if decision is None:
        raise ApiError(404, "no_decision", "no decision made yet")
    if request.query:
        decision = filtered(filter_decision, decision, request)
    return web.json_response(decision)


async def rules(request: web.Request) -> web.Response:
    view = request.app[VIEW]
    if not request.query:
        return json_bytes(await view.rules_json())  # encoded once per change
    return web.json_response(filtered(filter_rules, await view.rules_list(), request))


def filtered(how: Callable[[Any, Any], dict[str, Any]], data: Any, request: web.Request) -> Any:
    try:
        return how(data, request.query)
    except FilterError as exc:
        raise ApiError(400, "invalid_query", str(exc)) from None


async def metrics(request: web.Request) -> web.Response:
    snapshot = await request.app[VIEW].metrics_snapshot()
    snapshot = {**snapshot, "requests": (await request.app[REQUESTS]("summary", {}))[1]}
    body = render(snapshot)
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


async def list_overrides(request: web.Request) -> web.Response:
    return web.json_response({"overrides": await request.app[VIEW].overrides()})


async def add_override(request: web.Request) -> web.Response:
    require_token(request)
    body = await read_json(request)
    try:
        parsed = OverrideRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ApiError(400, "invalid_body", f"{where}: {first['msg']}") from None
    view = request.app[VIEW]
    problem = check_override_names(await view.topology(), parsed)
    if not problem and parsed.override.kind == "policy":
        problem = await view.check_policy(parsed.override.name)
    if problem:
        raise ApiError(400, "invalid_body", problem)
    try:
        key = await view.add_override(parsed.override)
    except ValueError as exc:  # too many overrides
        raise ApiError(409, "too_many_overrides", str(exc)) from None
    return web.json_response({"id": key, "overrides": await view.overrides()}, status=201)


def check_override_names(topo: dict[str, Any], request: OverrideRequest) -> str | None:
    spec = request.override
    nodes = {n["id"] for n in topo["nodes"]}
    if spec.kind == "pin":
        if spec.node not in nodes or any(dst not in nodes for dst in spec.weights):
            return "override.node/weights: unknown node"
        if spec.sf not in topo["chains"].get(spec.chain, []):
            return f"override.sf: {spec.sf!r} is not in chain {spec.chain!r}"
    return None


async def delete_overrides(request: web.Request) -> web.Response:
    require_token(request)
    view = request.app[VIEW]
    await view.remove_override(None)
    return web.json_response({"overrides": []})


async def delete_override(request: web.Request) -> web.Response:
    require_token(request)
    try:
        key = int(request.match_info["id"])
    except ValueError:
        raise ApiError(400, "invalid_id", "override id must be an integer") from None
    view = request.app[VIEW]
    if not await view.remove_override(key):
        raise ApiError(404, "no_such_override", f"no override {key}")
    return web.json_response({"overrides": await view.overrides()})


async def recovery(request: web.Request) -> web.Response:
    return web.json_response(await request.app[VIEW].recovery())


async def slices(request: web.Request) -> web.Response:
    return web.json_response(await request.app[VIEW].slices())


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(spec())


async def page(request: web.Request) -> web.Response:
    return shipped(INDEX)


async def static(request: web.Request) -> web.Response:
    return shipped(request.match_info["name"])


def shipped(name: str) -> web.Response:
    found = static_file(name)
    if found is None:
        raise ApiError(404, "no_such_file", f"no file {name!r} in the page's files")
    body, kind = found
    return web.Response(body=body, content_type=kind, headers=SECURITY_HEADERS)


async def events(request: web.Request) -> web.StreamResponse:
    """The live page's stream (server-sent events) of every publication."""
    if "text/event-stream" not in request.headers.get("Accept", ""):
        raise ApiError(406, "not_acceptable", "/events is a stream: Accept: text/event-stream")
    hub = request.app[EVENTS]
    if hub.full():
        raise ApiError(503, "too_many_streams", f"{hub.max_clients} streams are open already")
    client = hub.subscribe()
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    try:
        while (chunk := await client.next(hub.heartbeat_s)) is not None:
            await response.write(chunk)
    except ConnectionError:
        pass  # the client went away
    finally:
        hub.unsubscribe(client)
    return response


async def close_streams(app: web.Application) -> None:
    app[EVENTS].close()


def make_app(
    view: DaemonView, token: str | Token | None, hub: EventHub | None = None
) -> web.Application:
    """The one place that registers routes. ``hub`` carries the publications to the
    live page's streams (none: the page's stream stays quiet)."""
    app = web.Application(middlewares=[errors_middleware], client_max_size=MAX_BODY)
    app[VIEW] = view
    app[TOKEN] = token if isinstance(token, Token) else Token(token or None)
    app[EVENTS] = hub or EventHub()
    app[REQUESTS] = access_for(view)
    app.on_shutdown.append(close_streams)
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/status", status)
    app.router.add_get("/topology", topology)
    app.router.add_get("/decisions/latest", latest_decision)
    app.router.add_get("/rules", rules)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/overrides", list_overrides)
    app.router.add_post("/overrides", add_override)
    app.router.add_delete("/overrides", delete_overrides)
    app.router.add_delete("/overrides/{id}", delete_override)
    app.router.add_get("/recovery", recovery)
    app.router.add_get("/slices", slices)
    add_routes(app, require_token, read_json)  # /requests
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/", page)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/events", events)
    return app
