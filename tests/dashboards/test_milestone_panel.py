"""The Governance dashboard's milestone checklist, expanded as Grafana expands it and run as the
dashboards' login: seven criteria, each the platform's own verdict, changing with the record."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import psycopg

from livinglab_lab.dashboards.build import generate, queries
from livinglab_lab.dashboards.expand import Range, expand
from livinglab_platform.governance import milestone
from livinglab_platform.governance.dates import today
from tests.api.world import CLI
from tests.dashboards.lab_data import make_lab

TITLE = "Mejnik: delujoč živi laboratorij"


def _panel_sql() -> str:
    models = {uid: json.loads(text) for uid, text in generate().items()}
    return next(q.sql for q in queries(models) if q.title == TITLE)


def _checklist(readonly_dsn: str, lab: dict) -> list[tuple[str, ...]]:
    window = Range.last(timedelta(hours=6), now=lab["now"] + timedelta(seconds=30))
    sql = expand(_panel_sql(), variables=lab["variables"], time_range=window)
    with psycopg.connect(readonly_dsn) as conn, conn.cursor() as cur:
        cur.execute(sql)
        assert cur.description is not None
        assert [c.name for c in cur.description] == [
            "merilo",
            "izpolnjeno",
            "vrednost",
            "prag",
        ]
        return cur.fetchall()


def _partnerships(conn: psycopg.Connection) -> int:
    """A signed partnership with a university and one with the park; returns the park's."""
    conn.execute(
        "INSERT INTO organisations (id, name, kind) VALUES"
        " ('tp-lj', 'Tehnološki park Ljubljana', 'technology_park'),"
        " ('ul-fe', 'UL FE', 'education_research')"
    )
    ids = []
    for member in ("ul-fe", "tp-lj"):
        form = conn.execute(
            "INSERT INTO governance_forms (kind, name, starts_on)"
            " VALUES ('living_lab_partnership', %s, '2025-03-01') RETURNING id",
            (f"Živi laboratorij: {member}",),
        ).fetchone()
        assert form is not None
        conn.execute(
            "INSERT INTO governance_form_members (form_id, organisation_id) VALUES (%s, %s)",
            (form[0], member),
        )
        conn.execute(
            "INSERT INTO evidence (form_id, title, url)"
            " VALUES (%s, 'Sporazum', 'https://evidence.livinglab.example/sporazum.pdf')",
            (form[0],),
        )
        ids.append(int(form[0]))
    return ids[1]


def test_the_checklist_turns_unmet_when_the_park_partnership_ends(dsn, readonly_dsn):
    with psycopg.connect(dsn) as conn:
        lab = make_lab(conn)
        form = _partnerships(conn)
    rows = _checklist(readonly_dsn, lab)
    assert len(rows) == 7
    park = "Podpisano, veljavno partnerstvo s Tehnološkim parkom Ljubljana"
    assert {r[0]: r[1:] for r in rows}[park] == ("✓", "1", "≥ 1 partnerstvo")
    # The lab's devices reported today: a real-life setting.
    assert rows[3][1] == "✓"

    with psycopg.connect(dsn) as conn:
        # The partnership ended yesterday: as of today, no signed, active one.
        conn.execute(
            "UPDATE governance_forms SET ends_on = %s WHERE id = %s",
            (today() - timedelta(days=1), form),
        )
    ended = _checklist(readonly_dsn, lab)
    assert {r[0]: r[1:] for r in ended}[park] == ("✗", "0", "≥ 1 partnerstvo")
    assert [r for r in ended if r[0] != park] == [r for r in rows if r[0] != park]


def _numbers(text: str) -> list[str]:
    return re.findall(r"[0-9]+", text)


def test_the_panel_and_the_platform_agree(dsn, readonly_dsn):
    """The same verdicts and the same numbers, in Slovenian words: no English left in a cell."""
    with psycopg.connect(dsn) as conn:
        lab = make_lab(conn)
        _partnerships(conn)
        conn.commit()
        platform = milestone(conn, CLI, as_of=today())
    panel = _checklist(readonly_dsn, lab)
    assert [(r[1] == "✓", _numbers(r[2]), _numbers(r[3])) for r in panel] == [
        (c.met, _numbers(c.value), _numbers(c.threshold)) for c in platform.criteria
    ]
    english = re.compile(
        r"\b(none|public|research|business|society|person|site|trial|deliveries)\b|>="
    )
    assert [cell for row in panel for cell in row if english.search(cell)] == []
