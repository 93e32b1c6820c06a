"""The yearly report as a web page: operators and viewers read it in both languages, partners are
refused, nobody signed in is sent to sign in; its numbers are the report document's."""

from __future__ import annotations

import psycopg
import pytest

from livinglab_platform.governance import indicators
from livinglab_platform.web.render import SECURITY_HEADERS
from tests.api.world import CLI
from tests.governance.record import add_organisations
from tests.governance.report_html import parse
from tests.governance.report_record import make_year_record
from tests.web.conftest import sign_in


@pytest.fixture
def record(world):
    with psycopg.connect(world.dsn) as conn:
        add_organisations(conn)
    return make_year_record(world.dsn)


def test_nobody_signed_in_is_sent_to_sign_in(client):
    for path in ("/governance", "/governance?year=2025"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/"


def test_a_partner_is_refused_the_report_and_not_shown_its_link(client, world):
    sign_in(client, world, "partner")
    answer = client.get("/governance?year=2025")
    assert answer.status_code == 403
    assert "Dostop ni dovoljen" in answer.text
    assert "Cilj" not in answer.text
    assert 'href="/governance"' not in client.get("/trials").text


@pytest.mark.parametrize(
    ("who", "lang", "words"),
    [
        (
            "viewer",
            "sl",
            ("Letno poročilo", "Cilj je delno dosežen", "Sklepi Strateškega sveta"),
        ),
        (
            "operator",
            "en",
            (
                "Yearly report",
                "The goal is partially achieved",
                "Decisions of the Strategic Council",
            ),
        ),
    ],
)
def test_operators_and_viewers_read_it_in_both_languages(
    client, world, record, who, lang, words
):
    sign_in(client, world, who)
    assert 'href="/governance"' in client.get(f"/trials?lang={lang}").text
    answer = client.get(f"/governance?year={record.year}&lang={lang}")
    assert answer.status_code == 200, answer.text
    for word in words:
        assert word in answer.text
    assert f'<html lang="{lang}">' in answer.text
    # Under the pages' CSP: no inline style or script, the stylesheet from the site itself.
    assert (
        answer.headers["Content-Security-Policy"]
        == SECURITY_HEADERS["Content-Security-Policy"]
    )
    assert "<style" not in answer.text
    assert "style=" not in answer.text
    assert "<script" not in answer.text
    page = parse(answer.text)
    with psycopg.connect(world.dsn) as conn:
        computed = indicators(conn, CLI, year=record.year)
    assert [
        (r.attrs["data-indicator"], int(r.attrs["data-value"]))
        for r in page.having("data-indicator")
    ] == [(i.key, i.value) for i in computed.indicators]
    assert {
        int(m.attrs["data-month"]): int(m.attrs["data-readings"])
        for m in page.having("data-readings")
    } == {m: record.months.get(m, (0, 0))[0] for m in range(1, 13)}


def test_the_year_is_checked_and_defaults_to_this_one(client, world, record):
    sign_in(client, world, "viewer")
    assert f"{record.year}" in client.get("/governance").text
    assert client.get("/governance?year=1999").status_code == 400
    bad = client.get("/governance?year=abc&lang=en")
    assert bad.status_code == 400
    assert "Invalid request" in bad.text
    earlier = client.get(f"/governance?year={record.year - 3}")
    assert earlier.status_code == 200
    assert "Cilj ni dosežen" in earlier.text
