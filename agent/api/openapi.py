"""The API's OpenAPI 3.0 description (served at /openapi.json)."""

from __future__ import annotations

from typing import Any

from agent import __version__
from agent.runtime.overrides import OverrideRequest
from agent.runtime.requests import RequestBody

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "code", "message"],
            "properties": {
                "status": {"type": "integer"},
                "code": {"type": "string"},
                "message": {"type": "string"},
            },
        }
    },
}
JSON_OBJECT = {"type": "object"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _get(
    summary: str, schema: dict[str, Any] = JSON_OBJECT, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _json(schema)}
    responses.update(extra or {})
    responses["default"] = _json({"$ref": "#/components/schemas/Error"}, "Error")
    return {"get": {"summary": summary, "responses": responses}}


def _query(path: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """``path`` with optional query parameters on its GET."""
    path["get"]["parameters"] = [
        {"name": name, "in": "query", "required": False, "schema": {"type": kind}}
        for name, kind in parameters.items()
    ]
    path["get"]["responses"]["400"] = _json({"$ref": "#/components/schemas/Error"}, "Error")
    return path


def _write_responses(ok: str) -> dict[str, Any]:
    error = _json({"$ref": "#/components/schemas/Error"}, "Error")
    return {
        ok: _json(JSON_OBJECT),
        "400": error,
        "401": error,
        "403": error,
        "404": error,
        "default": error,
    }


def _content(kind: str, summary: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A GET answering ``kind`` (not JSON), errors in the usual shape."""
    error = _json({"$ref": "#/components/schemas/Error"}, "Error")
    ok = {"description": "OK", "content": {kind: {"schema": {"type": "string"}}}}
    responses = {"200": ok, **(extra or {}), "default": error}
    return {"get": {"summary": summary, "responses": responses}}


def _page_paths() -> dict[str, Any]:
    """The live page, its files and its stream."""
    error = _json({"$ref": "#/components/schemas/Error"}, "Error")
    files = _content("text/plain", "One of the live page's files (JavaScript, CSS)")
    files["get"]["parameters"] = [
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    files["get"]["responses"]["404"] = error
    stream = _content(
        "text/event-stream",
        "Server-sent events: hello (latest state and time series), then one state per "
        "publication; only for Accept: text/event-stream",
        {"406": error, "503": error},
    )
    return {
        "/": _content("text/html", "The live page: network, decisions, agent state"),
        "/static/{name}": files,
        "/events": stream,
    }


def _request_paths(secured: list[dict[str, list[str]]]) -> dict[str, Any]:
    """Deployment requests (docs/requests.md)."""
    error = _json({"$ref": "#/components/schemas/Error"}, "Error")
    ident = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    listing = _query(
        _get("Deployment requests, one page (offset, limit) of one state or all"),
        {"offset": "integer", "limit": "integer", "state": "string"},
    )
    body = {"$ref": "#/components/schemas/RequestBody"}
    post = {
        "summary": "Place a chain: 201 once its flows are installed, 409 when it cannot be "
        "placed (nothing changes), 502/503 when it failed after booking (rolled back)",
        "security": secured,
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {**_write_responses("201"), "409": error, "502": error, "503": error},
    }
    one = _get("One deployment request", extra={"404": error})
    one["get"]["parameters"] = ident
    delete = {
        "summary": "Release a request: 200 once its flows are gone, 202 while they go",
        "security": secured,
        "parameters": ident,
        "responses": {**_write_responses("200"), "202": _json(JSON_OBJECT, "Removing")},
    }
    return {
        "/requests": {**listing, "post": post},
        "/requests/{id}": {**one, "delete": delete},
    }


def openapi30(schema: Any) -> Any:
    """A JSON Schema (2020-12, as pydantic writes it) in OpenAPI 3.0's dialect: a numeric
    ``exclusiveMinimum``/``exclusiveMaximum`` becomes the bound plus a boolean flag."""
    if isinstance(schema, list):
        return [openapi30(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: openapi30(value) for key, value in schema.items()}
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = out.get(flag)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[bound], out[flag] = value, True
    return out


def spec() -> dict[str, Any]:
    override_schema = OverrideRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = override_schema.pop("$defs", {})
    secured: list[dict[str, list[str]]] = [{"bearer": []}]
    paths: dict[str, Any] = {
        "/livez": _get("The process is alive"),
        "/readyz": _get(
            "Ready: first observation in and rules installed",
            extra={"503": _json(JSON_OBJECT, "Not ready")},
        ),
        "/status": _get("Backend, policy, last decision, monitoring ages, fallback, rule counts"),
        "/topology": _get("Nodes, links and chains, with failed elements marked"),
        "/decisions/latest": _query(
            _get("The last decision (placement and schedule), narrowed by node, chain, SF"),
            {"node": "string", "chain": "string", "sf": "string"},
        ),
        "/rules": _query(
            _get("The rules this agent installed; with a query: filtered, one page"),
            {
                "switch": "integer",
                "table": "integer",
                "cookie": "integer",
                "kind": "string",
                "offset": "integer",
                "limit": "integer",
            },
        ),
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/overrides": {
            **_get("Active overrides"),
            "post": {
                "summary": "Add an override (pin a schedule entry, freeze, switch policy)",
                "security": secured,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/OverrideRequest"}
                        }
                    },
                },
                "responses": _write_responses("201"),
            },
            "delete": {
                "summary": "Remove every override",
                "security": secured,
                "responses": _write_responses("200"),
            },
        },
        "/overrides/{id}": {
            "delete": {
                "summary": "Remove one override",
                "security": secured,
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": _write_responses("200"),
            }
        },
        "/recovery": _get("Failed switches and links and the repair order (DeepPR)"),
        "/slices": _get("Per slice: measured demand, allocation, meter rate, utility and QoS"),
        **_request_paths(secured),
        "/openapi.json": _get("This document"),
        **_page_paths(),
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "SDN coordination agent", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": {
                "Error": ERROR,
                "OverrideRequest": override_schema,
                "RequestBody": openapi30(RequestBody.model_json_schema()),
                **definitions,
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
