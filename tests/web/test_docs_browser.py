"""/docs in headless Chromium: Swagger UI renders every operation under the pages' CSP.

Served from the installed package (no CDN), started by /static/docs.js (no inline script): a
blocked script, style or request would show as a console error.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.web.test_browser import browser, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow


def test_docs_render_every_operation_with_no_console_error(
    server: str,  # noqa: F811
    browser: Browser,  # noqa: F811
):
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda r: None if r.url.startswith(server) else elsewhere.append(r.url),
    )
    page.goto(f"{server}/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    paths = page.evaluate("fetch('/openapi.json').then(r => r.json())")["paths"]
    operations = sum(len(methods) for methods in paths.values())
    assert page.locator(".opblock").count() == operations
    assert errors == []
    assert elsewhere == []
