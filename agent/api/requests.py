"""``/requests``: deployment requests (docs/requests.md).

``POST /requests`` (token) places a chain and answers 201 with the record once its flows
are installed; 409 with the reason when it cannot be placed (nothing changes); 400 naming
the field of a malformed body; 502/503 with the reason when it failed after booking (the
booking is rolled back). ``GET /requests`` lists them a page at a time (``offset``,
``limit``, ``state``), ``GET /requests/{id}`` shows one, ``DELETE /requests/{id}`` (token)
releases it: 200 once its flows are gone, 202 while they are still going.

Every operation is one call on the daemon's loop (``call``): in the daemon's process
directly, from the API's own process over its call channel (``daemon_call`` answers it
in the daemon); the counts for /status and /metrics come from the daemon's publication.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from aiohttp import web
from pydantic import ValidationError

from agent.runtime.request_desk import Deployments
from agent.runtime.requests import RequestBody, RequestProblem, records_json
from agent.runtime.view import RunningDaemon

MAX_LIMIT = 1_000
STATES = ("starting", "pending", "active", "removing")
Result = tuple[int, dict[str, Any]]


def _error(status: int, code: str, message: str) -> Result:
    return status, {"error": {"status": status, "code": code, "message": message}}


NOT_CONFIGURED = _error(404, "no_deployment", "deployment requests are not configured")


async def call(deployments: Deployments | None, op: str, args: Mapping[str, Any]) -> Result:
    """One operation on the daemon's loop: (HTTP status, JSON body)."""
    if op == "summary":
        return 200, summary(deployments)
    if deployments is None:
        return NOT_CONFIGURED
    try:
        if op == "list":
            return 200, listing(deployments, args.get("query") or {})
        if op == "get":
            record = deployments.book.records.get(int(args["id"]))
            if record is None:
                return _error(404, "no_such_request", f"no request {args['id']}")
            return 200, record.public()
        if op == "submit":
            demand = deployments.book.demand(parse_body(args.get("body")))
            return 201, (await deployments.submit(demand)).public()
        if op == "remove":
            record, gone = await deployments.remove(int(args["id"]))
            state = "removed" if gone else "removing"
            return (200 if gone else 202), {**record.public(), "state": state}
    except RequestProblem as exc:
        return _error(exc.status, exc.code, exc.message)
    return _error(400, "unknown_operation", f"unknown requests operation {op!r}")


def parse_body(body: object) -> RequestBody:
    try:
        return RequestBody.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise RequestProblem(400, "invalid_body", f"{where}: {first['msg']}") from None


def listing(deployments: Deployments, query: Mapping[str, str]) -> dict[str, Any]:
    unknown = sorted(set(query) - {"offset", "limit", "state"})
    if unknown:
        raise RequestProblem(400, "invalid_query", f"unknown parameter {unknown[0]!r}")
    offset = _natural(query, "offset", 0)
    limit = _natural(query, "limit", 100)
    if not 1 <= limit <= MAX_LIMIT:
        raise RequestProblem(400, "invalid_query", f"limit: from 1 to {MAX_LIMIT}")
    state = query.get("state")
    if state is not None and state not in STATES:
        raise RequestProblem(400, "invalid_query", f"state: one of {', '.join(STATES)}")
    records = [r for r in deployments.book.records.values() if state in (None, r.state)]
    page = records_json(records[offset : offset + limit])
    return {"requests": page, "total": len(records), "offset": offset, "limit": limit}


def _natural(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise RequestProblem(400, "invalid_query", f"{name}: {raw!r} is not a whole number")
    return int(raw)


def summary(deployments: Deployments | None) -> dict[str, Any]:
    """Counts for /status, /metrics and the live page."""
    if deployments is None:
        return {"configured": False}
    return {"configured": True, **deployments.book.summary()}


async def daemon_call(view: RunningDaemon, args: Mapping[str, Any]) -> list[Any]:
    """The daemon's side of the API process's ``requests`` call: [status, body]."""
    status, body = await call(view.daemon.requests, str(args.get("op")), args.get("args") or {})
    return [status, body]


# ---------------------------------------------------------------------- the API's side
class RequestsAccess(Protocol):
    async def __call__(self, op: str, args: Mapping[str, Any]) -> Result: ...


def access_for(view: object) -> RequestsAccess:
    """How the app reaches the daemon's requests: directly over a RunningDaemon, over
    the call channel from the API's own process."""
    if isinstance(view, RunningDaemon):
        daemon = view.daemon

        async def local(op: str, args: Mapping[str, Any]) -> Result:
            return await call(daemon.requests, op, args)

        return local
    remote: Callable[..., Awaitable[Any]] | None = getattr(view, "_call", None)
    if remote is None:
        return _unconfigured

    async def published(op: str, args: Mapping[str, Any]) -> Result:
        if op == "summary":  # from the daemon's last publication: reads cost it nothing
            state: dict[str, Any] = getattr(view, "state", None) or {}
            counts = (state.get("status") or {}).get("deployments")
            return 200, dict(counts) if counts else {"configured": False}
        try:
            status, body = await remote("requests", op=op, args=dict(args))
        except ValueError as exc:  # the daemon does not serve requests calls
            return _error(503, "requests_unavailable", str(exc))
        return int(status), dict(body)

    return published


async def _unconfigured(op: str, args: Mapping[str, Any]) -> Result:
    return (200, {"configured": False}) if op == "summary" else NOT_CONFIGURED


REQUESTS = web.AppKey("requests", RequestsAccess)
Guard = Callable[[web.Request], None]
BodyReader = Callable[[web.Request], Awaitable[Any]]


def add_routes(app: web.Application, guard: Guard, read_body: BodyReader) -> None:
    """Register /requests (``guard``: the token check of writes)."""

    async def respond(request: web.Request, op: str, **args: Any) -> web.Response:
        status, body = await request.app[REQUESTS](op, args)
        return web.json_response(body, status=status)

    async def list_requests(request: web.Request) -> web.Response:
        return await respond(request, "list", query=dict(request.query))

    async def get_request(request: web.Request) -> web.Response:
        rid = _id(request)
        return await respond(request, "get", id=rid) if rid is not None else _bad_id()

    async def post_request(request: web.Request) -> web.Response:
        guard(request)
        return await respond(request, "submit", body=await read_body(request))

    async def delete_request(request: web.Request) -> web.Response:
        guard(request)
        rid = _id(request)
        return await respond(request, "remove", id=rid) if rid is not None else _bad_id()

    app.router.add_get("/requests", list_requests)
    app.router.add_post("/requests", post_request)
    app.router.add_get("/requests/{id}", get_request)
    app.router.add_delete("/requests/{id}", delete_request)


def _id(request: web.Request) -> int | None:
    raw = request.match_info["id"]
    return int(raw) if raw.isdigit() and len(raw) <= 12 else None


def _bad_id() -> web.Response:
    status, body = _error(400, "invalid_id", "request id must be a whole number")
    return web.json_response(body, status=status)
