"""What every exchange is held to: body size, bounded error answers, nosniff, /docs offline.

The attacks (a security review's): a 13 MB JSON body with 700k unknown keys got a 44 MB 422
answer; responses could be sniffed as script; /docs ran swagger-ui from a CDN.
"""

from __future__ import annotations

import json
import re

from livinglab_platform.api.app import MAX_ERROR_CHARS, MAX_ERRORS
from livinglab_platform.core.settings import ApiSettings
from livinglab_platform.web.render import SECURITY_HEADERS
from tests.api.world import World

LIMIT = ApiSettings().api_max_body_bytes


def _unknown_keys(n: int, key_chars: int = 8) -> bytes:
    return json.dumps(
        {"title": "Noise map"} | {f"k{i:0{key_chars}d}": 1 for i in range(n)}
    ).encode()


def test_a_body_over_the_limit_is_refused_before_parsing(client, world: World):
    body = _unknown_keys(700_000, key_chars=11)
    assert len(body) > 13_000_000
    answer = client.post(
        "/api/v1/trials",
        headers=world.headers("partner") | {"Content-Type": "application/json"},
        content=body,
    )
    assert answer.status_code == 413, answer.text[:300]
    assert len(answer.content) < 1000
    assert answer.json()["errors"] == []


def test_a_chunked_body_over_the_limit_is_cut(client, world: World):
    def pieces():
        for _ in range(LIMIT // 65_536 + 2):
            yield b" " * 65_536

    answer = client.post(
        "/api/v1/trials",
        headers=world.headers("partner") | {"Content-Type": "application/json"},
        content=pieces(),
    )
    assert answer.status_code == 413, answer.text[:300]


def test_a_422_never_grows_with_its_input(client, world: World):
    long_key = "x" * 50_000
    body = json.dumps(
        {"title": "Noise map", long_key: 1} | {f"k{i:06d}": 1 for i in range(60_000)}
    ).encode()
    assert len(body) < LIMIT
    answer = client.post(
        "/api/v1/trials",
        headers=world.headers("partner") | {"Content-Type": "application/json"},
        content=body,
    )
    assert answer.status_code == 422
    assert len(answer.content) < 20_000, len(answer.content)
    errors = answer.json()["errors"]
    assert len(errors) == MAX_ERRORS
    assert all(
        len(e["field"]) <= MAX_ERROR_CHARS and len(e["message"]) <= MAX_ERROR_CHARS
        for e in errors
    )
    assert "more" in answer.json()["detail"]


def test_every_response_says_nosniff(client, world: World):
    for method, path, headers in [
        ("GET", "/api/v1/health", {}),
        ("GET", "/api/v1/me", {}),
        ("GET", "/api/v1/nowhere", {}),
        ("GET", "/api/v1/me", world.headers("partner")),
        ("GET", "/static/style.css", {}),
        ("GET", "/docs", {}),
        ("GET", "/openapi.json", {}),
        ("GET", "/", {}),
        ("PUT", "/api/v1/me", world.headers("partner")),
    ]:
        answer = client.request(method, path, headers=headers)
        assert answer.headers.get("x-content-type-options") == "nosniff", path


def test_docs_load_only_from_this_origin_under_the_pages_policy(client):
    page = client.get("/docs")
    assert page.status_code == 200
    for name, value in SECURITY_HEADERS.items():
        assert page.headers[name] == value
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert "<script>" not in page.text  # no inline script: the policy would block it
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets), assets
    for asset in assets:
        answer = client.get(asset)
        assert answer.status_code == 200, asset
        assert b"cdn.jsdelivr.net" not in answer.content or asset.endswith(".js")
    assert client.get("/redoc").status_code == 404
