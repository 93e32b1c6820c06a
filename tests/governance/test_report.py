"""The yearly report, parsed back: its numbers are the computation's (`indicators`, `milestone`,
the rollups), written as each language writes them, in one self-contained document."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from livinglab_platform.core.errors import ForbiddenError
from livinglab_platform.governance import indicators, milestone
from livinglab_platform.governance.document import Formats, render_document
from livinglab_platform.governance.report import build_report
from livinglab_platform.governance.texts import REPORT_MESSAGES
from livinglab_platform.registry.schemas import Role
from tests.api.world import CLI
from tests.governance.report_html import parse
from tests.governance.report_record import make_year_record

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "report"

VERDICT = {"sl": "Cilj je delno dosežen", "en": "The goal is partially achieved"}


@pytest.mark.parametrize("lang", ["sl", "en"])
def test_the_report_says_what_the_computation_says(conn, world, lang):
    record = make_year_record(world.dsn)
    html = render_document(build_report(conn, CLI, year=record.year), lang=lang)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"report-{record.year}-{lang}.html").write_text(html, encoding="utf-8")
    doc = parse(html)

    computed = indicators(conn, CLI, year=record.year)
    assert computed.verdict.key == "partially_achieved"
    verdict = doc.one("data-verdict", "partially_achieved")
    assert VERDICT[lang] in verdict.text
    rows = doc.having("data-indicator")
    assert [r.attrs["data-indicator"] for r in rows] == [
        i.key for i in computed.indicators
    ]
    for row, indicator in zip(rows, computed.indicators, strict=True):
        assert int(row.attrs["data-value"]) == indicator.value
        assert int(row.attrs["data-target"]) == indicator.target
        assert row.attrs["data-met"] == ("yes" if indicator.met else "no")
        name = indicator.name if lang == "en" else indicator.name_sl
        assert row.text.startswith(f"{name} {indicator.value} ")
        for counted in indicator.records:
            assert counted.label in row.text
    by_key = {r.attrs["data-indicator"]: r for r in rows}
    # Met only by a statement: the horizontal link says so; the verified form names its checker.
    horizontal = (
        "met only by self-reported evidence"
        if lang == "en"
        else "dosežen le s samoprijavljeno evidenco"
    )
    assert horizontal in by_key["horizontal_link"].text
    checked = (
        "documented and verified" if lang == "en" else "dokumentirano in preverjeno"
    )
    assert checked in by_key["mol_family_form"].text
    assert "cli:tests" in by_key["mol_family_form"].text
    assert doc.one("data-met", str(sum(i.met for i in computed.indicators)))

    as_of = milestone(conn, CLI, as_of=computed.as_of)
    criteria = doc.having("data-criterion")
    assert [(c.attrs["data-criterion"], c.attrs["data-met"]) for c in criteria] == [
        (c.key, "yes" if c.met else "no") for c in as_of.criteria
    ]
    for element, criterion in zip(criteria, as_of.criteria, strict=True):
        assert f"criterion.{criterion.key}" in REPORT_MESSAGES
        if criterion.missing:
            assert criterion.missing in element.text

    lab = computed.lab
    fmt = Formats(lang)
    assert (
        doc.one("data-lab", "trials_completed").text == str(lab.trials_completed) == "1"
    )
    assert doc.one("data-lab", "applications_granted").text == "1"
    assert doc.one("data-lab", "funds_won_total").text == (
        "EUR 1,234,567.89" if lang == "en" else "1.234.567,89 EUR"
    )
    assert doc.one("data-lab", "funds_won_mol").text == fmt.money(lab.funds_won_mol)
    assert doc.one("data-lab", "onward_share").text == (
        "100.0%" if lang == "en" else "100,0 %"
    )

    # Applications that changed in the year, with their status at its end.
    statuses = [
        (a.attrs["data-status"], a.text) for a in doc.having("data-application")
    ]
    assert [s for s, _ in statuses] == [
        "granted",
        "withdrawn",
        "submitted",
        "in_preparation",
    ]
    submitted_day = (
        f"3 February {record.year}" if lang == "en" else f"3. 2. {record.year}"
    )
    assert submitted_day in statuses[0][1]
    decisions = [d.text for d in doc.having("data-decision")]
    assert len(decisions) == 2
    assert "Živi laboratorij postane stalna služba." in decisions[0]

    trials = {int(t.attrs["data-trial"]): t for t in doc.having("data-trial")}
    assert set(trials) == {record.completed_trial, record.running_trial}
    outcome = trials[record.completed_trial].text
    assert ("procured" if lang == "en" else "naročen") in outcome

    months = doc.having("data-month")
    assert len(months) == 12
    for element in months:
        readings, devices = record.months.get(int(element.attrs["data-month"]), (0, 0))
        assert (
            int(element.attrs["data-readings"]),
            int(element.attrs["data-devices"]),
        ) == (
            readings,
            devices,
        )
    march = doc.one("data-month", "3").text
    assert ("1,234,567" if lang == "en" else "1.234.567") in march
    total = sum(r for r, _ in record.months.values())
    assert int(doc.one("data-total", str(total)).attrs["data-total"]) == total
    assert html.count("<svg") == 2
    assert html.count('class="bar"') == 24

    # Self-contained: no stylesheet, script, image or frame from anywhere; styles inline.
    fetched = [
        (tag, a) for tag, a in doc.tags if tag in ("link", "script", "img", "iframe")
    ]
    assert fetched == []
    assert all("src" not in a for _, a in doc.tags)
    assert "url(" not in html
    assert f'<html lang="{lang}">' in html


def test_numbers_and_dates_in_each_language():
    sl, en = Formats("sl"), Formats("en")
    assert sl.day(date(2026, 12, 5)) == "5. 12. 2026"
    assert en.day(date(2026, 12, 5)) == "5 December 2026"
    assert sl.integer(1234567) == "1.234.567"
    assert en.integer(1234567) == "1,234,567"
    assert sl.money(Decimal("1000000.10")) == "1.000.000,10 EUR"
    assert en.money(Decimal("1000000.10")) == "EUR 1,000,000.10"
    assert sl.percent(0.999) == "99,9 %"
    assert en.percent(0.999) == "99.9%"
    assert sl.percent(None) == "—"


def test_a_partner_may_not_build_the_report(conn, world):
    partner = CLI.__class__(
        person_id=None, name="p", organisation_id="startup-a", role=Role.partner
    )
    with pytest.raises(ForbiddenError):
        build_report(conn, partner, year=2025)
    viewer = CLI.__class__(
        person_id=None, name="v", organisation_id="mol", role=Role.viewer
    )
    assert build_report(conn, viewer, year=2025).year == 2025
