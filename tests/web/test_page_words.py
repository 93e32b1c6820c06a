"""What the pages say, in words: titles by role, audit lines with their subject, translated error
details, numbers and times as each language writes them."""

from __future__ import annotations

import re

import pytest

from livinglab_platform.core.errors import ConflictError, NotFoundError
from livinglab_platform.web.routing import error_detail
from tests.raw_keys import html_text
from tests.web.conftest import demo_trial, sign_in

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
