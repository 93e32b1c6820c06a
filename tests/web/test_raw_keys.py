"""No page or report shows a raw quantity key or an ASCII unit where the quantity table has a
label, for a trial with every quantity of the demo, in Slovenian and English."""

from __future__ import annotations

import psycopg
import pytest

from livinglab_platform.governance.document import render_document
from livinglab_platform.governance.report import build_report
from tests.api.world import CLI
from tests.raw_keys import html_text, raw_words
from tests.web.conftest import demo_trial, sign_in


def test_the_scan_finds_what_it_looks_for():
    assert raw_words("relative_humidity 55 %, 21 degC, 12 ug/m3, 60 dBA") == [
        "relative_humidity",
        "degC",
        "ug/m3",
        "dBA",
    ]
    # Names people type and attributes used as data keys are not labels.
    assert raw_words(html_text('<a data-q="pm2_5">tp-air-01/pm2_5</a>')) == []
    assert raw_words("relativna vlažnost (%) 21,5 °C 12 µg/m³ 60 dB(A)") == []


@pytest.mark.parametrize("lang", ["sl", "en"])
def test_pages_show_quantities_as_people_write_them(client, world, lang):
    trial_id = demo_trial(world.dsn)
    sign_in(client, world, "operator")
    for path in (
        "/trials",
        f"/trials/{trial_id}",
        f"/trials/{trial_id}?range=30d",
        f"/trials/{trial_id}?range=trial",
        f"/trials/{trial_id}/charts?range=7d",
        "/devices",
        "/queue",
        "/governance",
    ):
        page = client.get(path, params={"lang": lang})
        assert page.status_code == 200, (path, page.text)
        assert raw_words(html_text(page.text)) == [], path
    devices = html_text(client.get("/devices").text)
    label = {"sl": "relativna vlažnost", "en": "relative humidity"}[lang]
    assert label in devices
    assert "µg/m³" in devices
    assert "dB(A)" in devices


@pytest.mark.parametrize("lang", ["sl", "en"])
def test_the_report_shows_no_raw_keys(world, lang):
    trial_id = demo_trial(world.dsn)
    with psycopg.connect(world.dsn) as conn:
        year = conn.execute(
            "SELECT extract(year FROM now())::int FROM trials WHERE id = %s",
            (trial_id,),
        ).fetchone()
        assert year is not None
        report = build_report(conn, CLI, year=year[0])
    assert raw_words(html_text(render_document(report, lang=lang))) == []
