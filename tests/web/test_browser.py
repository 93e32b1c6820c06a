"""The pages in headless Chromium: a startup registers a trial, the operator approves it.

Drives Debian's /usr/bin/chromium through Playwright (never `playwright install`: browsers are
not downloaded here). Screenshots land in test-artifacts/screenshots/ for people to look at.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from livinglab_platform.api import create_app
from livinglab_platform.core.settings import ApiSettings
from tests.api.conftest import broker_settings
from tests.api.readings import fill_rollups
from tests.api.world import World, add_device, make_trial
from tests.web.conftest import approved_trial_with_readings

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parents[2] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TITLE = "Pametne klopi na Kongresnem trgu"
SERVER_START_S = 15.0
# The machine running the tests is shared; a page may take longer than Playwright's 5 s default.
expect.set_options(timeout=15_000)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(api_dsn: str) -> Iterator[str]:
    """The application on `api_dsn`, served by uvicorn in a thread on a free loopback port."""
    app = create_app(ApiSettings(database_url=api_dsn), broker_settings(None))
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws="none"
    )
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_S
    while not uvicorn_server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail(f"uvicorn did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uvicorn_server.should_exit = True
    thread.join(timeout=SERVER_START_S)
    assert not thread.is_alive(), "uvicorn did not stop"


@contextlib.contextmanager
def launch_chromium() -> Iterator[Browser]:
    """Debian's Chromium under Playwright; a missing package fails the test, naming it."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install the Debian packages chromium and chromium-driver"
            " (apt-get install chromium chromium-driver); browsers are never downloaded here"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def server(world: World, api_dsn: str) -> Iterator[str]:
    """The application served by uvicorn in a thread on a free loopback port."""
    with serve(api_dsn) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Browser]:
    with launch_chromium() as launched:
        yield launched


class Console:
    """Errors the pages log (a script error, a blocked resource, a CSP violation)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.failures: list[str] = []

    def watch(self, page: Page) -> Page:
        page.on(
            "console",
            lambda m: (
                self.errors.append(f"{m.text} ({m.location.get('url')})")
                if m.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on(
            "response",
            lambda r: (
                self.failures.append(f"{r.status} {r.request.method} {r.url}")
                if r.status >= 400
                else None
            ),
        )
        return page


def _context(browser: Browser, *, phone: bool = False) -> BrowserContext:
    if phone:
        return browser.new_context(
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="sl-SI",
        )
    return browser.new_context(viewport=DESKTOP, locale="sl-SI")


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _sign_in(page: Page, base: str, token: str, shot: str = "") -> None:
    page.goto(f"{base}/")
    expect(page.get_by_role("heading", name="Prijava")).to_be_visible()
    page.get_by_label("Žeton").fill(token)
    if shot:
        _shot(page, shot)
    page.get_by_role("button", name="Prijava").click()
    expect(page).to_have_url(f"{base}/trials")


def _fits_the_screen(page: Page) -> bool:
    return bool(
        page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    )


def test_a_startup_registers_a_trial_and_the_operator_approves_it(
    server: str, browser: Browser, world: World
):
    console = Console()
    partner = console.watch(_context(browser).new_page())
    _sign_in(partner, server, world.tokens["partner"], shot="01-signin.png")
    expect(partner.get_by_role("heading", name="Moji preizkusi")).to_be_visible()

    partner.get_by_role("link", name="Nov preizkus").first.click()
    expect(partner).to_have_url(f"{server}/trials/new")
    partner.get_by_label("Naslov preizkusa").fill(TITLE)
    partner.get_by_label("Tehnologija", exact=True).fill(
        "Klopi s sončnimi celicami in senzorji"
    )
    partner.get_by_label("Opis tehnologije").fill(
        "Polnjenje telefonov, merjenje temperature in vlage, štetje obiskovalcev brez kamer."
    )
    partner.get_by_label("TRL na začetku").select_option("5")
    partner.get_by_label("Ciljni TRL").select_option("7")
    partner.get_by_label("Začetek").fill("2027-04-01")
    partner.get_by_label("Konec").fill("2027-09-30")
    partner.get_by_label("Tehnološki park").check()
    partner.get_by_label("UL Fakulteta za elektrotehniko").check()
    partner.get_by_label("Merila uspeha").fill(
        "90 % razpoložljivost, vsaj 500 polnjenj na mesec"
    )
    partner.get_by_label("Pogoji deljenja podatkov").fill(
        "Zbirni podatki so javni po koncu preizkusa."
    )
    _shot(partner, "02-form-filled.png")
    partner.get_by_role("button", name="Shrani osnutek").click()

    expect(partner).to_have_url(re.compile(rf"{server}/trials/\d+\?notice=created"))
    expect(partner.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(partner.locator(".page-head .badge")).to_have_text("osnutek")
    trial_url = partner.url.split("?")[0]
    _shot(partner, "03-trial-draft.png")
    partner.get_by_role("button", name="Oddaj v odobritev").click()
    expect(partner.locator(".page-head .badge")).to_have_text("oddan")
    _shot(partner, "04-trial-submitted.png")

    operator = console.watch(_context(browser).new_page())
    _sign_in(operator, server, world.tokens["operator"])
    operator.get_by_role("link", name="Vrsta za odobritev").click()
    card = operator.locator("li.trial-card", has_text=TITLE)
    expect(card).to_be_visible()
    _shot(operator, "05-queue.png")
    card.get_by_role("button", name="Odobri").click()
    expect(operator.get_by_role("status")).to_contain_text("odobren")
    expect(operator.locator("li.trial-card", has_text=TITLE)).to_have_count(0)
    _shot(operator, "06-queue-after-approval.png")

    partner.goto(trial_url)
    expect(partner.locator(".page-head .badge")).to_have_text("odobren")
    expect(partner.locator("table.audit")).to_contain_text("odobritev")
    _shot(partner, "07-trial-approved.png")
    partner.get_by_role("link", name="EN", exact=True).click()
    expect(partner.locator(".page-head .badge")).to_have_text("approved")
    expect(partner.get_by_role("link", name="My trials")).to_be_visible()
    _shot(partner, "08-trial-approved-en.png")
    assert console.errors == [], console.failures


def test_the_pages_fit_a_phone(server: str, browser: Browser, world: World):
    console = Console()
    phone = console.watch(_context(browser, phone=True).new_page())
    _sign_in(phone, server, world.tokens["partner"], shot="09-phone-signin.png")
    approved_trial_with_readings(world.dsn)
    with psycopg.connect(world.dsn) as conn:
        make_trial(conn, "startup-a", state="submitted")
        make_trial(conn, "startup-a", state="draft")
        add_device(conn, "dev-quiet", "startup-a")
        conn.commit()
    phone.reload()
    expect(phone.locator("li.trial-card")).to_have_count(3)
    assert _fits_the_screen(phone)
    _shot(phone, "10-phone-trials.png")

    phone.goto(f"{server}/trials/new")
    phone.get_by_label("Naslov preizkusa").fill("ab")
    phone.get_by_label("TRL na začetku").select_option("6")
    phone.get_by_label("Ciljni TRL").select_option("3")
    phone.get_by_role("button", name="Shrani osnutek").click()
    expect(phone.locator("#title-error")).to_contain_text("vsaj 3 znake")
    expect(phone.locator("#trl_target-error")).to_be_visible()
    expect(phone.get_by_label("Naslov preizkusa")).to_have_value("ab")
    # Chromium logs the refused form's 422 answer as an error; that one is expected.
    assert [e for e in console.errors if "status of 422" not in e] == []
    console.errors.clear()
    assert _fits_the_screen(phone)
    _shot(phone, "11-phone-form-errors.png")

    phone.goto(f"{server}/devices")
    expect(phone.locator("tr[data-device]")).to_have_count(2)
    expect(phone.locator('tr[data-device="dev-a"] .dot.online')).to_be_visible()
    assert _fits_the_screen(phone)
    _shot(phone, "12-phone-devices.png")
    assert console.errors == [], console.failures


def test_the_trial_chart_redraws_from_the_api(
    server: str, browser: Browser, world: World
):
    trial_id, sensor = approved_trial_with_readings(world.dsn)
    console = Console()
    page = console.watch(_context(browser).new_page())
    _sign_in(page, server, world.tokens["partner"])
    page.goto(f"{server}/trials/{trial_id}")
    figure = page.locator(f'figure.chart[data-sensor="{sensor}"]')
    expect(figure).to_be_visible()
    served = int(figure.get_attribute("data-count") or 0)
    served_path = figure.locator("path.line").get_attribute("d") or ""
    assert served > 250  # five-minute buckets of the last day, but for the outage
    expect(figure.locator("svg .x-axis .zone")).to_have_text("čas v Ljubljani (CET)")
    _shot(page, "13-trial-chart.png")

    # Redrawn from /trials/{id}/charts, the same buckets give the same drawing.
    page.evaluate("window.livinglabCharts.refresh()")
    assert int(figure.get_attribute("data-count") or 0) == served
    redrawn = figure.locator("path.line").get_attribute("d") or ""
    assert redrawn.count("L") == served_path.count("L")
    assert redrawn.count("M") == served_path.count("M")

    with psycopg.connect(world.dsn) as conn:
        conn.execute(
            "INSERT INTO readings (time, sensor_id, value) VALUES (%s, %s, 100)",
            (datetime.now(UTC), sensor),
        )
        fill_rollups(conn)
    page.evaluate("window.livinglabCharts.refresh()")
    assert int(figure.get_attribute("data-count") or 0) == served + 1
    expect(figure.locator("[data-last]")).to_have_text("100,0")
    expect(figure.locator("[data-high]")).to_have_text("100,0")
    _shot(page, "14-trial-chart-refreshed.png")

    page.get_by_role("link", name="Naprave").click()
    expect(page.locator('tr[data-device="dev-a"] .dot.online')).to_be_visible()
    _shot(page, "15-devices.png")
    page.goto(f"{server}/queue")
    expect(page.get_by_role("heading", name="Dostop ni dovoljen")).to_be_visible()
    _shot(page, "16-forbidden.png")
    assert console.failures == [f"403 GET {server}/queue"]
    console.errors.clear()

    phone = console.watch(_context(browser, phone=True).new_page())
    _sign_in(phone, server, world.tokens["partner"])
    phone.goto(f"{server}/trials/{trial_id}")
    expect(phone.locator("figure.chart")).to_have_count(2)
    assert _fits_the_screen(phone)
    _shot(phone, "17-phone-trial.png")
    assert console.errors == [], console.failures
