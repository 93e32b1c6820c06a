"""`livinglab governance ...`: the record from the terminal (audited as `cli:<user>`), the year's
indicators with the verdict, and the milestone as of a date."""

from __future__ import annotations

import re

import psycopg
import pytest

from tests.api.world import seed
from tests.governance.record import add_organisations


@pytest.fixture
def world(dsn):
    world = seed(dsn)
    with psycopg.connect(dsn) as conn:
        add_organisations(conn)
    return world


def test_record_then_read_the_indicators_and_the_verdict(livinglab, dsn, world):
    out = livinglab(
        "governance",
        "forms",
        "add",
        "--kind",
        "mol_family",
        "--name",
        "Digitalna Ljubljana",
        "--member",
        "mol:lead",
        "--member",
        "energetika",
        "--starts",
        "2024-01-01",
    ).stdout
    assert "form 1 recorded" in out
    livinglab(
        "governance",
        "evidence",
        "add",
        "form",
        "1",
        "--title",
        "Sklep",
        "--url",
        "https://www.ljubljana.si/sklep.pdf",
    )
    assert (
        "verified by cli:" in livinglab("governance", "evidence", "verify", "1").stdout
    )
    livinglab(
        "governance",
        "forms",
        "add",
        "--kind",
        "vertical",
        "--name",
        "ARSO",
        "--member",
        "arso",
        "--starts",
        "2025-01-01",
        "--ends",
        "2025-06-30",
    )
    livinglab(
        "governance",
        "council",
        "add-member",
        "Ana Novak",
        "--term-start",
        "2024-01-01",
        "--org",
        "mol",
        "--role",
        "chair",
    )
    meeting = livinglab(
        "governance",
        "council",
        "meeting",
        "--at",
        "2025-12-31T23:30+01:00",
        "--attendee",
        "1",
        "--decision",
        "strategic:Adopt the digital strategy's directions",
        "--place",
        "Mestna hiša",
    ).stdout
    assert "on 2025-12-31 with 1 decision(s)" in meeting
    for month in ("03", "06"):
        livinglab(
            "governance",
            "applications",
            "add",
            "--programme",
            "Horizon Europe",
            "--title",
            f"Project {month}",
            "--mol-role",
            "partner",
            "--total",
            "1000000.00",
            "--mol-share",
            "99999.99",
            "--status",
            f"submitted:2025-{month}-01",
        )
    livinglab(
        "governance", "applications", "status", "2", "granted", "--on", "2025-09-01"
    )
    listed = livinglab("governance", "applications", "list").stdout
    assert "99,999.99" in listed
    assert "granted" in listed

    shown = livinglab("governance", "indicators", "--year", "2025").stdout
    assert "Cilj je delno dosežen" in shown
    assert "mol_family_form" in shown
    assert "(verified)" in shown
    assert "1 application(s) granted, EUR 1,000,000.00 (MOL EUR 99,999.99)" in shown
    with psycopg.connect(dsn) as conn:
        actors = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT actor_label FROM audit_log WHERE object_type IN"
                " ('governance_form', 'evidence', 'council_member', 'council_meeting', 'application')"
            )
        }
    assert len(actors) == 1
    assert next(iter(actors)).startswith("cli:")

    refused = livinglab(
        "governance",
        "applications",
        "status",
        "1",
        "granted",
        "--on",
        "2025-01-01",
        code=2,
    )
    assert "is before the previous status's date" in refused.output
    ended = livinglab("governance", "forms", "end", "1", "--on", "2025-12-31").stdout
    assert "ends on 2025-12-31" in ended
    assert re.search(
        r"1 January 2024 │ 31 December 2025",
        livinglab("governance", "forms", "list").stdout,
    )


def test_milestone_as_of_a_date(livinglab, world):
    out = livinglab("governance", "milestone", "--as-of", "2025-12-31").stdout
    assert "a working living lab, as of 2025-12-31" in out
    assert "milestone not achieved as of 2025-12-31" in out
    assert "signed agreement attached" in out
    bad = livinglab("governance", "milestone", "--as-of", "31.12.2025", code=2)
    assert "not an ISO date" in bad.output
