"""Every page at a desktop's 1366 px and a phone's 390 px, in Slovenian and English, in Chromium.

Each page is screenshotted to test-artifacts/screenshots/pages/<page>-<lang>-<width>.png and
checked for what a person would notice: errors in the console, a page wider than the screen
(horizontal scrolling), ids and dates of the device table broken across lines, charts without
axis labels, a Slovenian page showing an English sentence. All problems of a run are collected
and reported together, so one run shows every screen.

The four widths and languages share one seeded database, server and browser (module fixtures):
the pages only read, and each run signs in in a browser context of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page

from livinglab_platform.core.roles import ServiceRole
from tests.api.world import World, seed
from tests.conftest import DatabaseSupply, Login, PostgresServer
from tests.web.conftest import DEMO_SENSORS, demo_trial
from tests.web.test_browser import (
    SCREENSHOTS,
    Console,
    launch_chromium,
    serve,
)

pytestmark = pytest.mark.slow

PAGES_SHOTS = SCREENSHOTS / "pages"
WIDTHS = {1366: {"width": 1366, "height": 900}, 390: {"width": 390, "height": 844}}
NOT_FOUND = "/trials/999999"
# The words of an element that break across lines (a rectangle top per line of each word):
# "center-/noise-01" and "2026-12-/05" are such words; a date wrapping at its spaces is not.
BROKEN_WORDS_JS = """el => {
  const broken = [];
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const match of node.textContent.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const tops = new Set();
      for (const rect of range.getClientRects()) {
        if (rect.width > 0) tops.add(Math.round(rect.top));
      }
      if (tops.size > 1) broken.push(match[0]);
    }
  }
  return broken;
}"""
CLIPPED_JS = """() => Array.from(document.querySelectorAll("tr[data-device] > *"))
  .filter(cell => {
    const card = cell.closest(".card").getBoundingClientRect();
    return cell.scrollWidth > cell.clientWidth + 1
      || cell.getBoundingClientRect().right > card.right + 1;
  })
  .map(cell => cell.innerText)"""
SCROLLS_JS = "document.scrollingElement.scrollWidth > window.innerWidth"


def _pages(trial_id: int) -> dict[str, str]:
    """The pages an operator sees, by the name their screenshots take."""
    pages = {
        "trials": "/trials",
        "trial-form": "/trials/new",
        "trial": f"/trials/{trial_id}",
        "trial-30d": f"/trials/{trial_id}?range=30d",
        "queue": "/queue",
        "devices": "/devices",
        "governance": "/governance",
        "not-found": NOT_FOUND,
    }
    # The device page (`/devices/{id}`) joins the run once its route exists.
    pages["device"] = "/devices/center-noise-01"
    return pages


def _check_devices(page: Page, problems: list[str], where: str) -> None:
    for cell in page.locator("tr[data-device] > *").all():
        for word in page.evaluate(BROKEN_WORDS_JS, cell.element_handle()):
            problems.append(f"{where}: {word!r} breaks across lines")
    # Nothing of a row may lie beyond its cell or the card: clipped text reads as missing.
    clipped = page.evaluate(CLIPPED_JS)
    problems.extend(f"{where}: clipped: {text!r}" for text in clipped)


def _check_charts(page: Page, problems: list[str], where: str) -> None:
    charts = page.locator("figure.chart").all()
    expected = sum(len(sensors) for sensors in DEMO_SENSORS.values())
    if len(charts) != expected:
        problems.append(f"{where}: {len(charts)} charts, not {expected}")
    for chart in charts:
        name = chart.get_attribute("data-sensor")
        x_ticks = chart.locator("svg .x-axis text").count()
        y_ticks = chart.locator("svg .y-axis text").count()
        unit = chart.locator("svg .y-axis .unit").all_inner_texts()
        zone = chart.locator("svg .x-axis .zone").all_inner_texts()
        if x_ticks < 3 or y_ticks < 3 or not unit or not zone:
            problems.append(
                f"{where}: chart {name} lacks axis labels (x {x_ticks}, y {y_ticks},"
                f" unit {unit}, zone {zone})"
            )


def _visit(
    page: Page, url: str, problems: list[str], where: str, console: Console
) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(PAGES_SHOTS / f"{where}.png"), full_page=True)
    if page.evaluate(SCROLLS_JS):
        width = page.evaluate("document.scrollingElement.scrollWidth")
        problems.append(f"{where}: scrolls sideways ({width} px wide)")
    errors = [e for e in console.errors if not url.endswith(NOT_FOUND)]
    problems.extend(f"{where}: console: {e}" for e in errors)
    console.errors.clear()


@dataclass(frozen=True)
class Site:
    """The served pages of one seeded world with the demo's trial."""

    url: str
    world: World
    trial_id: int


@pytest.fixture(scope="module")
def site(
    postgres_server: PostgresServer,
    database_supply: DatabaseSupply,
    service_logins: dict[ServiceRole, Login],
) -> Iterator[Site]:
    name = database_supply.take()
    try:
        dsn = postgres_server.dsn(name)
        world = seed(dsn)
        trial_id = demo_trial(dsn)
        with serve(service_logins[ServiceRole.API].dsn(dsn)) as url:
            yield Site(url=url, world=world, trial_id=trial_id)
    finally:
        database_supply.give_back(name)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with launch_chromium() as launched:
        yield launched


@pytest.mark.parametrize("lang", ["sl", "en"])
@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_every_page_reads_well(site: Site, chromium: Browser, lang: str, width: int):
    server, world, trial_id = site.url, site.world, site.trial_id
    PAGES_SHOTS.mkdir(parents=True, exist_ok=True)
    phone = width < 600
    context = chromium.new_context(
        viewport=WIDTHS[width],
        device_scale_factor=2 if phone else 1,
        is_mobile=phone,
        has_touch=phone,
        locale="sl-SI" if lang == "sl" else "en-GB",
    )
    console = Console()
    page = console.watch(context.new_page())
    problems: list[str] = []

    _visit(page, f"{server}/?lang={lang}", problems, f"signin-{lang}-{width}", console)
    page.locator("input[name=token]").fill(world.tokens["operator"])
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{server}/trials")
    for name, path in _pages(trial_id).items():
        where = f"{name}-{lang}-{width}"
        if name == "device":
            answer = page.request.get(f"{server}{path}")
            if answer.status == 404 and "center-noise-01" not in answer.text():
                continue  # no device page yet
        _visit(page, f"{server}{path}", problems, where, console)
        if name == "devices":
            _check_devices(page, problems, where)
        if name in ("trial", "trial-30d"):
            _check_charts(page, problems, where)
            # A chart alone, at the size people see it, beside the whole page.
            for position, chart in enumerate(page.locator("figure.chart").all()[:2]):
                chart.screenshot(path=str(PAGES_SHOTS / f"{where}-chart{position}.png"))
        if name == "not-found" and lang == "sl":
            detail = page.locator(".error-page").inner_text()
            if "not found" in detail:
                problems.append(f"{where}: English detail {detail!r}")
    context.close()
    assert problems == [], "\n".join(problems)
