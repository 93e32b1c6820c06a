"""`livinglab report`: the year's report as an HTML document (Slovenian by default, English on
request) and as a PDF by the suffix; written whole or not at all."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.api.world import seed
from tests.governance.record import add_organisations
from tests.governance.report_html import parse
from tests.governance.report_record import make_year_record

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "report"


@pytest.fixture
def record(dsn):
    seed(dsn)
    with psycopg.connect(dsn) as conn:
        add_organisations(conn)
    return make_year_record(dsn)


def test_the_report_in_slovenian_by_default_and_in_english(livinglab, record, tmp_path):
    out = livinglab(
        "report", "--year", str(record.year), "-o", str(tmp_path / "porocilo.html")
    )
    assert "Cilj je delno dosežen" in out.stdout
    html = (tmp_path / "porocilo.html").read_text(encoding="utf-8")
    assert '<html lang="sl">' in html
    assert parse(html).one("data-verdict", "partially_achieved")
    out = livinglab(
        "report",
        "--year",
        str(record.year),
        "--lang",
        "en",
        "-o",
        str(tmp_path / "report.html"),
    )
    assert "The goal is partially achieved" in out.stdout
    assert '<html lang="en">' in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_the_report_as_pdf(livinglab, record):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"report-{record.year}-sl.pdf"
    path.unlink(missing_ok=True)
    livinglab("report", "--year", str(record.year), "-o", str(path))
    body = path.read_bytes()
    assert body.startswith(b"%PDF-")
    assert body.rstrip().endswith(b"%%EOF")
    assert len(body) > 10_000


def test_a_refused_report_leaves_no_file(livinglab, dsn, tmp_path):
    seed(dsn)
    target = tmp_path / "report.html"
    out = livinglab("report", "--year", "1999", "-o", str(target), code=2)
    assert "2000" in out.output  # the first year the record is judged in
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
