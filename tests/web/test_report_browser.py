"""The yearly report page in headless Chromium: both languages at 1366 px, a viewer's phone at
390 px, no console error (a CSP violation would be one), nothing wider than the screen; and the
self-contained document opened from a file. Screenshots land in test-artifacts/screenshots/."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Browser, expect

from livinglab_platform.governance.document import render_document
from livinglab_platform.governance.report import build_report
from tests.api.world import CLI, World
from tests.governance.record import add_organisations
from tests.governance.report_record import make_year_record
from tests.web.test_browser import (
    SCREENSHOTS,
    Console,
    _context,
    _fits_the_screen,
    _shot,
    _sign_in,
    browser,
    server,
)

pytestmark = pytest.mark.slow

__all__ = ["browser", "server"]  # the fixtures, shared with test_browser.py

WIDE = {"width": 1366, "height": 900}
# Every element of the page ends inside the screen (a cell's text overflowing its card, cut off
# by the screen's edge, leaves the document's width as it is).
_INSIDE = "[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '.' + e.className)"


def _inside(page) -> list[str]:
    return list(page.evaluate(_INSIDE))


def _record(world: World):
    with psycopg.connect(world.dsn) as conn:
        add_organisations(conn)
    return make_year_record(world.dsn)


def test_the_report_page_in_both_languages_and_on_a_phone(
    server: str, browser: Browser, world: World
):
    record = _record(world)
    console = Console()
    context = browser.new_context(viewport=WIDE, locale="sl-SI")
    page = console.watch(context.new_page())
    _sign_in(page, server, world.tokens["operator"])
    page.get_by_role("link", name="Letno poročilo").click()
    expect(page).to_have_url(f"{server}/governance")
    expect(page.locator(".verdict-text")).to_have_text("Cilj je delno dosežen")
    expect(page.locator("tr[data-indicator]")).to_have_count(6)
    expect(page.locator("figure.report-chart svg rect.bar")).to_have_count(24)
    # The stylesheet applies (not blocked): the verdict's card has its amber edge.
    edge = page.locator(".report-verdict").evaluate(
        "e => getComputedStyle(e).borderLeftWidth"
    )
    assert edge == "6px"
    assert _fits_the_screen(page)
    assert _inside(page) == []
    _shot(page, "20-report-sl-1366.png")

    page.get_by_role("link", name="EN", exact=True).click()
    expect(page.locator(".verdict-text")).to_have_text("The goal is partially achieved")
    expect(
        page.get_by_role("heading", name="Devices and data volume per month")
    ).to_be_visible()
    expect(page.locator('tr[data-month="3"]')).to_contain_text("1,234,567")
    assert _fits_the_screen(page)
    _shot(page, "21-report-en-1366.png")

    page.get_by_label("Year", exact=True).select_option(str(record.year - 3))
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(f"{server}/governance?year={record.year - 3}")
    expect(page.locator(".verdict-text")).to_have_text("The goal is not achieved")
    assert console.errors == [], console.failures

    phone = console.watch(_context(browser, phone=True).new_page())
    _sign_in(phone, server, world.tokens["viewer"])
    phone.goto(f"{server}/governance?year={record.year}")
    expect(phone.locator(".verdict-text")).to_have_text("Cilj je delno dosežen")
    expect(phone.locator('tr[data-month="3"]')).to_contain_text("1.234.567")
    assert _fits_the_screen(phone)
    assert _inside(phone) == []
    _shot(phone, "22-report-sl-phone.png")
    phone.goto(f"{server}/governance?year={record.year}&lang=en")
    assert _fits_the_screen(phone)
    assert _inside(phone) == []
    _shot(phone, "23-report-en-phone.png")
    assert console.errors == [], console.failures


def test_a_partner_sees_no_report(server: str, browser: Browser, world: World):
    console = Console()
    page = console.watch(_context(browser).new_page())
    _sign_in(page, server, world.tokens["partner"])
    expect(page.get_by_role("link", name="Letno poročilo")).to_have_count(0)
    page.goto(f"{server}/governance")
    expect(page.get_by_role("heading", name="Dostop ni dovoljen")).to_be_visible()
    assert console.failures == [f"403 GET {server}/governance"]


def test_the_document_stands_alone(browser: Browser, world: World, tmp_path: Path):
    record = _record(world)
    with psycopg.connect(world.dsn) as conn:
        report = build_report(conn, CLI, year=record.year)
    requests: list[str] = []
    for lang, name in (("sl", "24-document-sl.png"), ("en", "25-document-en.png")):
        path = tmp_path / f"report-{lang}.html"
        path.write_text(render_document(report, lang=lang), encoding="utf-8")
        context = browser.new_context(viewport=WIDE)
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        expect(page.locator(".report-verdict")).to_be_visible()
        edge = page.locator(".report-verdict").evaluate(
            "e => getComputedStyle(e).borderLeftWidth"
        )
        assert edge == "6px"  # the inline stylesheet applies
        _shot(page, name)
        context.close()
    # Nothing but the file itself was fetched.
    assert all(url.startswith("file://") for url in requests), requests
    assert SCREENSHOTS.joinpath("24-document-sl.png").exists()
