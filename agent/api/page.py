"""The live page's files, shipped in the package (``agent/api/static``): plain HTML,
JavaScript and CSS with no build step, read once and served from memory. The page
loads nothing from anywhere but this API, and its Content-Security-Policy says so."""

from __future__ import annotations

import functools
from importlib import resources

STATIC_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}
INDEX = "index.html"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


@functools.cache
def static_files() -> dict[str, tuple[bytes, str]]:
    """Every shipped file by name: its bytes and content type."""
    folder = resources.files("agent.api") / "static"
    found: dict[str, tuple[bytes, str]] = {}
    for entry in folder.iterdir():
        kind = STATIC_TYPES.get("." + entry.name.rpartition(".")[2])
        if entry.is_file() and kind is not None:
            found[entry.name] = (entry.read_bytes(), kind)
    return found


def static_file(name: str) -> tuple[bytes, str] | None:
    """The file ``name`` (a bare name from the shipped set), or None."""
    return static_files().get(name)
