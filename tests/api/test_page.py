"""The live page's files: served without the token, from the package, loading nothing
from anywhere else."""

from __future__ import annotations

import re

import pytest

from agent.api.page import static_files
from tests.api.conftest import Client

SVG_NAMESPACE = "http://www.w3.org/2000/svg"


async def test_the_page_is_served_at_the_root_without_a_token(client: Client) -> None:
    response = await client.get("/")
    assert response.status == 200
    assert response.content_type == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    page = await response.text()
    referenced = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert set(referenced) == {"static/app.js", "static/style.css", "data:,"}
    for path in ("static/app.js", "static/style.css"):
        found = await client.get("/" + path)
        assert found.status == 200, path
        assert len(await found.read()) > 1000


@pytest.mark.parametrize(
    ("path", "kind"), [("/static/app.js", "text/javascript"), ("/static/style.css", "text/css")]
)
async def test_files_have_their_types(client: Client, path: str, kind: str) -> None:
    response = await client.get(path)
    assert response.content_type == kind
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("name", ["nope.js", "..%2Fapp.py", "app.py", "__init__.py", "index.htm"])
async def test_only_shipped_files_are_served(client: Client, name: str) -> None:
    response = await client.get(f"/static/{name}")
    assert response.status == 404
    body = await response.json()
    assert set(body) == {"error"} and body["error"]["status"] == 404


def test_the_shipped_files_load_nothing_from_elsewhere() -> None:
    files = static_files()
    assert {"index.html", "app.js", "style.css"} <= set(files)
    for name, (body, _) in files.items():
        text = body.decode().replace(SVG_NAMESPACE, "")
        assert not re.search(r"https?://|//cdn|@import", text), name
