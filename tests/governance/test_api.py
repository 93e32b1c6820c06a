"""The governance API: partners and viewers read, only operators write (each test is the attack),
field-named errors, exact decimals, and a trial's outcome recorded when it completes."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from tests.api.world import make_trial
from tests.governance.record import application, form

G = "/api/v1/governance"

FORM = {
    "kind": "mol_family",
    "name": "Digitalna Ljubljana",
    "starts_on": "2025-01-01",
    "members": [{"organisation_id": "mol"}, {"organisation_id": "energetika"}],
}


def _count(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


@pytest.mark.parametrize("who", ["partner", "viewer"])
def test_a_partner_or_viewer_cannot_make_a_form_count(client, world, who):
    # The attack: recording a form (or ending, or verifying) to change the city's verdict.
    r = client.post(f"{G}/forms", json=FORM, headers=world.headers(who))
    assert r.status_code == 403, r.text
    assert "only operators" in r.json()["detail"]
    assert _count(world.dsn, "governance_forms") == 0
    assert _count(world.dsn, "audit_log WHERE object_type = 'governance_form'") == 0


@pytest.mark.parametrize("who", ["partner", "viewer"])
def test_a_partner_or_viewer_cannot_verify_evidence_or_edit_history(
    client, world, conn, who
):
    form_id = form(
        conn, "mol_family", ["mol", "lab"], date(2025, 1, 1), link="https://x.si/a"
    )
    evidence_id = conn.execute("SELECT id FROM evidence").fetchone()[0]
    app_id = application(conn, [("in_preparation", date(2025, 1, 1))])
    attacks = [
        ("POST", f"{G}/evidence/{evidence_id}/verify", None),
        ("PATCH", f"{G}/forms/{form_id}", {"ends_on": "2025-01-31"}),
        (
            "POST",
            f"{G}/applications/{app_id}/status",
            {"status": "submitted", "on": "2025-02-01"},
        ),
        (
            "POST",
            f"{G}/evidence",
            {
                "record": "form",
                "record_id": form_id,
                "title": "x",
                "statement": "trust me",
            },
        ),
    ]
    for method, url, body in attacks:
        r = client.request(method, url, json=body, headers=world.headers(who))
        assert r.status_code == 403, f"{method} {url}: {r.text}"
    conn.rollback()
    assert conn.execute(
        "SELECT quality, count(*) OVER () FROM evidence"
    ).fetchone() == ("documented", 1)
    assert conn.execute("SELECT ends_on FROM governance_forms").fetchone() == (None,)
    assert conn.execute("SELECT count(*) FROM application_statuses").fetchone() == (1,)


def test_everyone_signed_in_reads_and_the_verdict_is_there(client, world, conn):
    form(conn, "mol_family", ["mol", "lab"], date(2025, 1, 1))
    for who in ("operator", "partner", "viewer"):
        r = client.get(
            f"{G}/indicators", params={"year": 2025}, headers=world.headers(who)
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["verdict"]["sl"] == "Cilj je delno dosežen"
        first = body["indicators"][0]
        assert (
            first["key"],
            first["value"],
            first["met"],
            first["self_reported_only"],
        ) == (
            "mol_family_form",
            1,
            True,
            True,
        )
    assert client.get(f"{G}/indicators", params={"year": 2025}).status_code == 401


def test_field_named_errors(client, world, conn):
    op = world.headers("operator")
    cases = [
        (
            "POST",
            f"{G}/forms",
            {**FORM, "members": [{"organisation_id": "nobody"}]},
            400,
            "members",
        ),
        ("POST", f"{G}/forms", {**FORM, "ends_on": "2024-12-31"}, 400, "ends_on"),
        (
            "POST",
            f"{G}/applications",
            {
                "programme": "LIFE",
                "title": "Green",
                "mol_role": "partner",
                "total_budget": "100.00",
                "mol_share": "100.01",
            },
            400,
            "mol_share",
        ),
        (
            "POST",
            f"{G}/applications",
            {
                "programme": "LIFE",
                "title": "Green",
                "mol_role": "partner",
                "total_budget": "100.001",
                "mol_share": "1",
            },
            422,
            "total_budget",
        ),
        (
            "POST",
            f"{G}/applications",
            {
                "programme": "LIFE",
                "title": "Green",
                "mol_role": "partner",
                "total_budget": "1",
                "mol_share": "1",
                "status_history": [{"status": "granted", "on": "2025-01-01"}],
            },
            400,
            "status_history.0.status",
        ),
        (
            "POST",
            f"{G}/applications",
            {
                "programme": "LIFE",
                "title": "Green",
                "mol_role": "partner",
                "total_budget": "1",
                "mol_share": "1",
                "status_history": [
                    {"status": "in_preparation", "on": "2025-03-01"},
                    {"status": "submitted", "on": "2025-02-01"},
                ],
            },
            400,
            "status_history.1.on",
        ),
        (
            "POST",
            f"{G}/council/meetings",
            {"held_at": "2025-05-05T10:00:00Z", "attendee_ids": [99]},
            400,
            "attendee_ids",
        ),
        (
            "POST",
            f"{G}/evidence",
            {"record": "form", "record_id": 99, "title": "x", "statement": "s"},
            400,
            "record_id",
        ),
        (
            "POST",
            f"{G}/evidence",
            {"record": "form", "record_id": 1, "title": "x", "url": "ftp://x"},
            422,
            "url",
        ),
    ]
    for method, url, body, code, field in cases:
        r = client.request(method, url, json=body, headers=op)
        assert r.status_code == code, f"{body}: {r.text}"
        assert field in {e["field"] for e in r.json()["errors"]}, f"{body}: {r.text}"


def test_money_is_exact_and_statuses_follow_their_path(client, world):
    op = world.headers("operator")
    r = client.post(
        f"{G}/applications",
        headers=op,
        json={
            "programme": "Interreg",
            "call": "Central Europe 2025",
            "title": "Smart river",
            "mol_role": "associated",
            "total_budget": 1234567.89,
            "mol_share": "0.10",
        },
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["total_budget"], created["mol_share"], created["status"]) == (
        "1234567.89",
        "0.10",
        "in_preparation",
    )
    url = f"{G}/applications/{created['id']}/status"
    assert (
        client.post(
            url, headers=op, json={"status": "granted", "on": "2030-01-01"}
        ).status_code
        == 400
    )
    assert (
        client.post(
            url, headers=op, json={"status": "submitted", "on": "2030-01-01"}
        ).status_code
        == 200
    )
    withdrawn = client.post(
        url, headers=op, json={"status": "withdrawn", "on": "2030-02-01"}
    )
    assert withdrawn.json()["submitted_on"] == "2030-01-01"
    again = client.post(
        url, headers=op, json={"status": "submitted", "on": "2030-03-01"}
    )
    assert (again.status_code, again.json()["errors"][0]["field"]) == (400, "status")


def test_a_statement_cannot_be_verified_and_verification_names_who(client, world, conn):
    form_id = form(
        conn, "mol_family", ["mol", "lab"], date(2025, 1, 1), statement="we met"
    )
    statement = conn.execute("SELECT id FROM evidence").fetchone()[0]
    conn.commit()
    op = world.headers("operator")
    assert (
        client.post(f"{G}/evidence/{statement}/verify", headers=op).status_code == 409
    )
    link = client.post(
        f"{G}/evidence",
        headers=op,
        json={
            "record": "form",
            "record_id": form_id,
            "title": "Agreement",
            "url": "https://x.si/a.pdf",
        },
    ).json()
    verified = client.post(f"{G}/evidence/{link['id']}/verify", headers=op).json()
    assert (verified["quality"], verified["verified_by"]) == ("verified", "Operator")
    shown = client.get(f"{G}/forms/{form_id}", headers=world.headers("viewer")).json()
    assert [e["quality"] for e in shown["evidence"]] == ["self_reported", "verified"]


def test_a_trial_records_its_outcome_only_when_it_completes(client, world, conn):
    trial_id = make_trial(conn, "startup-a", state="evaluating")
    op = world.headers("operator")
    url = f"/api/v1/trials/{trial_id}/transitions"
    early = client.post(
        url, headers=op, json={"action": "evaluate", "outcome": "scaled"}
    )
    assert early.status_code in (400, 409), early.text
    bad = client.post(url, headers=op, json={"action": "complete", "outcome": "sold"})
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "outcome")
    done = client.post(
        url, headers=op, json={"action": "complete", "outcome": "scaled"}
    )
    assert (done.status_code, done.json()["outcome"]) == (200, "scaled")
    plain = make_trial(conn, "startup-a", state="completed")
    assert client.get(f"/api/v1/trials/{plain}", headers=op).json()["outcome"] is None


def test_applications_show_only_the_funded_trials_the_reader_may_see(
    client, world, conn
):
    own = make_trial(conn, "startup-a", state="submitted")
    foreign = make_trial(conn, "startup-b", state="submitted")
    app_id = application(
        conn, [("submitted", date(2025, 1, 1))], trial_ids=[own, foreign]
    )
    as_partner = client.get(
        f"{G}/applications/{app_id}", headers=world.headers("partner")
    ).json()
    as_operator = client.get(
        f"{G}/applications/{app_id}", headers=world.headers("operator")
    ).json()
    assert as_partner["trial_ids"] == [own]
    assert as_operator["trial_ids"] == sorted([own, foreign])
