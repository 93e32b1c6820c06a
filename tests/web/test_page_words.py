"""What the pages say, in words: titles by role, audit lines with their subject, translated error
details, numbers and times as each language writes them."""

from __future__ import annotations

import re

import psycopg
import pytest

from livinglab_platform.core.errors import ConflictError, NotFoundError
from livinglab_platform.web.routing import error_detail
from tests.api.world import make_trial
from tests.raw_keys import html_text
from tests.web.conftest import csrf_of, demo_trial, sign_in

# Words of English sentences that a Slovenian page must not show.
ENGLISH = re.compile(r"\b(not found|only|may not|the|is not|does not)\b")


@pytest.mark.parametrize(
    ("who", "sl", "en"),
    [
        ("operator", "Vsi preizkusi", "All trials"),
        ("partner", "Moji preizkusi", "My trials"),
        ("viewer", "Preizkusi", "Trials"),
    ],
)
def test_the_trials_page_is_titled_by_role(client, world, who, sl, en):
    sign_in(client, world, who)
    assert f"<h1>{sl}</h1>" in client.get("/trials?lang=sl").text
    page = client.get("/trials?lang=en").text
    assert f"<h1>{en}</h1>" in page
    assert f'aria-current="page">{en}</a>' in page


@pytest.mark.parametrize(
    ("message", "sl"),
    [
        ("trial 999 not found", "Preizkusa 999 ni ali vam ni viden."),
        ("device 'x-1' not found", "Naprave x-1 ni ali vam ni vidna."),
        ("site 'tp' not found", "Lokacije tp ni."),
        ("organisation 'mol' not found", "Organizacije mol ni."),
        ("person 7 not found", "Osebe 7 ni ali vam ni vidna."),
        ("no such page", "Te strani ni."),
    ],
)
def test_common_error_details_are_translated(message, sl):
    assert error_detail(NotFoundError(message), "sl") == sl
    assert "not found" not in error_detail(NotFoundError(message), "en")


def test_an_untranslatable_detail_stays_off_a_slovenian_page():
    refused = ConflictError("trial 5 is 'draft'; approve needs submitted")
    assert error_detail(refused, "sl") == ""
    assert error_detail(refused, "en") == str(refused)


def test_no_slovenian_error_page_shows_an_english_sentence(client, world):
    sign_in(client, world, "partner")
    for path, status in (
        ("/trials/999999", 404),
        ("/trials/not-a-number", 404),
        ("/queue", 403),
        ("/governance", 403),
    ):
        page = client.get(path, params={"lang": "sl"})
        assert page.status_code == status, path
        text = html_text(page.text.split("<main", 1)[1])
        assert not ENGLISH.search(text), (path, text)
    english = html_text(client.get("/trials/999999?lang=en").text)
    assert "Trial 999999 does not exist or is not visible to you." in english


def test_audit_lines_name_the_device_and_period_and_times_their_zone(client, world):
    trial_id = demo_trial(world.dsn)
    sign_in(client, world, "operator")
    page = client.get(f"/trials/{trial_id}?lang=sl").text
    audit = html_text(page.split('class="stacked audit"', 1)[1])
    for device in ("tp-air-01", "fe-pm-01", "center-noise-01"):
        lines = re.findall(
            rf"dodelitev naprave {device} \(\d+\. \d+\. \d{{4}} \d\d:\d\d \(CES?T\)"
            rf" – \d+\. \d+\. \d{{4}} \d\d:\d\d \(CES?T\)\)",  # noqa: RUF001
            audit,
        )
        assert len(lines) == 3, (device, audit)
    assert "oddaja v odobritev (osnutek → oddan)" in audit
    # Every time on the page names its zone (a chart's time axis names it once, beside the
    # ticks); no ISO dates are left.
    words = html_text(re.sub(r"<svg.*?</svg>", "", page, flags=re.S))
    assert not re.search(r"\d{4}-\d\d-\d\d", words)
    for moment in re.findall(r"\d\d:\d\d(?! \(CES?T\))", words):
        pytest.fail(f"a time without its zone: {moment}")
    english = html_text(client.get(f"/trials/{trial_id}?lang=en").text)
    assert "device assigned tp-air-01 (" in english


def test_a_viewer_sees_the_charts_of_whole_cells_only(client, world):
    trial_id = demo_trial(world.dsn)
    sign_in(client, world, "viewer")
    page = client.get(f"/trials/{trial_id}?range=7d&lang=en")
    assert page.status_code == 200, page.text
    # Readings every 10 minutes make one-minute cells of one reading, fewer than
    # LIVINGLAB_VIEWER_MIN_COUNT: the charts stand, with axes, and say there is nothing to show.
    assert page.text.count('<figure class="chart"') == 6
    assert page.text.count('data-count="0"') == 6
    assert page.text.count("Ljubljana time (CET)") == 6


def test_a_refused_action_is_explained_in_the_pages_language(client, world):
    with psycopg.connect(world.dsn) as conn:
        draft = make_trial(conn, "startup-a", state="draft")
    sign_in(client, world, "operator")
    page = client.get(f"/trials/{draft}?lang=sl")
    refused = client.post(
        f"/trials/{draft}", data={"csrf": csrf_of(page.text), "action": "approve"}
    )
    assert refused.status_code == 409
    alert = re.search(r'<p class="alert error" role="alert">(.*?)</p>', refused.text)
    assert alert is not None, refused.text
    assert alert.group(1) == (
        "Medtem se je stanje spremenilo. Osvežite stran in poskusite znova."
    )
    english = client.post(
        f"/trials/{draft}?lang=en",
        data={"csrf": csrf_of(page.text), "action": "approve"},
    )
    assert "approve needs" in english.text
