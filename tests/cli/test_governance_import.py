"""`livinglab governance import`: an existing record from CSV and YAML files, all or nothing, with
errors naming file, row and field; and the exports at the terminal (`kpi`, `indicators --csv`)."""

from __future__ import annotations

import csv
import io
import json
import textwrap

import psycopg
import pytest

from tests.api.world import seed
from tests.governance.record import add_organisations

FORMS = """\
kind,name,starts_on,ends_on,members
mol_family,Digitalna Ljubljana,2024-01-01,,mol:lead; energetika:member
horizontal,Ljubljana-Maribor,2024-03-01,2025-06-30,mol; maribor:partner city
vertical,Podatki ARSO,2025-01-01,,mol; arso
"""

MEMBERS = """\
- name: Ana Novak
  organisation_id: mol
  role: chair
  term_starts_on: 2024-01-01
- name: Borut Kranjc
  organisation_id: ul-fe
  term_starts_on: 2024-01-01
  term_ends_on: 2024-12-31
"""

# Semicolons, as a Slovenian spreadsheet writes them; a decision per line.
MEETINGS = """\
held_at;place;attendees;decisions
2024-05-21T13:00+02:00;Mestna hiša;"Ana Novak; Borut Kranjc";"strategic: Adopt the directions; open data first
programme: Pilot the living lab"
2025-12-31T23:30+01:00;Mestna hiša;Ana Novak;programme: Directions for 2026
"""

APPLICATIONS = """\
- programme: Horizon Europe
  call: HORIZON-MISS-2024-CIT-01
  title: Net-zero districts
  acronym: NZD
  mol_role: partner
  total_budget: 1500000.10
  mol_share: 250000.05
  partners: [ul-fe:coordinator, arso]
  status_history:
    - in_preparation:2024-01-10
    - submitted:2024-03-01:receipt by e-mail
    - granted:2024-09-15
- programme: LIFE
  title: Cool streets
  acronym: COOL
  mol_role: coordinator
  total_budget: "990000.00"
  mol_share: "297000.00"
  status_history: "submitted:2025-09-19; withdrawn:2025-11-05"
"""

EVIDENCE = """\
record,record_key,title,url,statement
form,Digitalna Ljubljana,Founding agreement,https://www.ljubljana.si/sklep.pdf,
meeting,2024-05-21,Minutes,https://www.ljubljana.si/zapisnik.pdf,
meeting,2025-12-31,Minutes,,Minutes kept by the secretary
application,NZD,Grant agreement,https://ec.europa.eu/nzd.pdf,
"""


@pytest.fixture
def world(dsn):
    world = seed(dsn)
    with psycopg.connect(dsn) as conn:
        add_organisations(conn)
    return world


def _write(tmp_path, **files: str):
    paths = []
    for name, text in files.items():
        path = tmp_path / name.replace("_", ".")
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        paths.append(str(path))
    return paths


def _counts(dsn):
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM governance_forms), (SELECT count(*) FROM council_members),"
            " (SELECT count(*) FROM council_meetings), (SELECT count(*) FROM applications),"
            " (SELECT count(*) FROM evidence)"
        ).fetchone()


def test_a_whole_record_from_csv_and_yaml_files(livinglab, world, dsn, tmp_path):
    # Given in any order: the import takes forms, members, meetings, applications, evidence.
    files = _write(
        tmp_path,
        evidence_csv=EVIDENCE,
        applications_yaml=APPLICATIONS,
        meetings_csv=MEETINGS,
        members_yaml=MEMBERS,
        forms_csv=FORMS,
    )
    out = livinglab("governance", "import", *files).stdout
    assert "3 forms, 2 members, 2 meetings, 2 applications, 4 evidence" in out
    assert _counts(dsn) == (3, 2, 2, 2, 4)
    with psycopg.connect(dsn) as conn:
        # YAML's 1500000.10 is read as written, never through a binary float.
        assert conn.execute(
            "SELECT total_budget::text, mol_share::text FROM applications WHERE acronym = 'NZD'"
        ).fetchone() == ("1500000.10", "250000.05")
        decisions = conn.execute(
            "SELECT text FROM council_decisions ORDER BY id"
        ).fetchall()
        attendees = conn.execute(
            "SELECT count(*) FROM council_meeting_attendees"
        ).fetchone()
        actors = {
            r[0]
            for r in conn.execute(
                "SELECT actor_label FROM audit_log WHERE object_type <> 'organisation'"
            )
        }
    assert [d[0] for d in decisions] == [
        "Adopt the directions; open data first",
        "Pilot the living lab",
        "Directions for 2026",
    ]
    assert attendees == (3,)
    assert all(actor.startswith("cli:") for actor in actors), actors
    # The withdrawn application still counts in the year it was submitted.
    table = livinglab("governance", "indicators", "--year", "2025").stdout
    assert "COOL" in table
    assert "Cilj je delno dosežen" in table


def test_errors_name_file_row_and_field_and_nothing_is_written(
    livinglab, world, dsn, tmp_path
):
    applications = """\
    programme,title,mol_role,total_budget,mol_share,status_history
    Horizon Europe,Fine,partner,1000.00,100.00,submitted:2025-01-10
    LIFE,Too precise,partner,100.001,1,submitted:2025-02-01
    Interreg,Share too big,partner,100.00,100.01,submitted:2025-03-01
    CEF,Goes back,partner,10.00,1.00,in_preparation:2025-03-01; submitted:2025-02-01
    """
    files = _write(
        tmp_path,
        forms_csv=FORMS,
        applications_csv=applications,
        evidence_csv="record,record_key,title,statement,colour\n"
        "form,No such form,x,said,\nform,Digitalna Ljubljana,x,said,red\n",
    )
    result = livinglab("governance", "import", *files, code=2)
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(
        "error: applications.csv, row 3, field total_budget: "
    ), result.output
    assert "applications.csv, row 4, field mol_share: mol_share must not exceed" in (
        result.output
    )
    assert "applications.csv, row 5, field status_history.1.on: " in result.output
    assert "evidence.csv, row 2, field record_key: no form named 'No such form'" in (
        result.output
    )
    assert "evidence.csv, row 3, field colour: " in result.output
    assert "nothing was imported" in result.output
    # All or nothing: the forms and the good application are not written either.
    assert _counts(dsn) == (0, 0, 0, 0, 0)


def test_file_level_problems(livinglab, world, dsn, tmp_path):
    (tmp_path / "record.csv").write_text(FORMS)
    result = livinglab("governance", "import", str(tmp_path / "record.csv"), code=2)
    assert "name the kind with --kind" in result.output
    livinglab("governance", "import", str(tmp_path / "record.csv"), "--kind", "forms")
    assert _counts(dsn)[0] == 3

    (tmp_path / "members.yaml").write_text("name: not a list\n")
    result = livinglab("governance", "import", str(tmp_path / "members.yaml"), code=2)
    assert "members.yaml: a YAML import is a list of rows" in result.output
    (tmp_path / "meetings.csv").write_text("held_at,place\n2025-01-01,a,b\n")
    result = livinglab("governance", "import", str(tmp_path / "meetings.csv"), code=2)
    assert "meetings.csv, row 2: 3 cells but 2 columns" in result.output
    (tmp_path / "forms.txt").write_text(FORMS)
    result = livinglab("governance", "import", str(tmp_path / "forms.txt"), code=2)
    assert "an import file is .csv, .yaml or .yml" in result.output
    assert _counts(dsn)[0] == 3


def test_kpi_and_csv_at_the_terminal(livinglab, world, tmp_path):
    livinglab("governance", "import", *_write(tmp_path, forms_csv=FORMS))
    livinglab("governance", "kpi", "--year", "2025", "-o", str(tmp_path / "kpi.json"))
    entities = json.loads((tmp_path / "kpi.json").read_text())
    assert len(entities) == 8
    assert entities[0]["kpiValue"] == {"type": "Property", "value": 1}
    out = livinglab(
        "governance", "indicators", "--csv", "--from", "2024", "--to", "2025"
    )
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    horizontal = [r for r in rows if r["indicator"] == "horizontal_link"]
    assert [(r["year"], r["value"], r["met"]) for r in horizontal] == [
        ("2024", "1", "true"),
        ("2025", "1", "true"),
    ]
    # Without --from: from the record's first year.
    out = livinglab("governance", "indicators", "--csv", "--to", "2025")
    assert {r["year"] for r in csv.DictReader(io.StringIO(out.stdout))} == {
        "2024",
        "2025",
    }
