"""Valid requests for the governance endpoints, registered in calls.BUILDERS (imported there).

The governance record is the city's, not an organisation's: every role reads it, only operators
write it, so the `own` and `foreign` columns make the same call.
"""

from __future__ import annotations

from datetime import date

from livinglab_platform.governance import (
    applications,
    council,
    evidence,
    evidence_files,
    forms,
)
from livinglab_platform.governance.schemas import (
    ApplicationCreate,
    CouncilMemberCreate,
    EvidenceCreate,
    FormCreate,
    MeetingCreate,
)
from tests.api.calls import Call, Setup, builds
from tests.api.world import CLI, T0

G = "/api/v1/governance"


def _form(s: Setup) -> int:
    made = forms.create_form(
        s.conn,
        CLI,
        form=FormCreate.model_validate(
            {
                "kind": "mol_family",
                "name": s.name("form"),
                "starts_on": "2025-01-01",
                "members": [{"organisation_id": "mol"}, {"organisation_id": "lab"}],
            }
        ),
    )
    s.conn.commit()
    return made.id


def _member(s: Setup) -> int:
    made = council.add_member(
        s.conn,
        CLI,
        member=CouncilMemberCreate(name="Ana Novak", term_starts_on=date(2025, 1, 1)),
    )
    s.conn.commit()
    return made.id


def _meeting(s: Setup) -> int:
    made = council.create_meeting(s.conn, CLI, meeting=MeetingCreate(held_at=T0))
    s.conn.commit()
    return made.id


def _application(s: Setup) -> int:
    made = applications.create_application(
        s.conn, CLI, application=ApplicationCreate.model_validate(_APPLICATION)
    )
    s.conn.commit()
    return made.id


_APPLICATION = {
    "programme": "Digital Europe",
    "call": "DIGITAL-2025-AI-08",
    "title": "Local digital twins",
    "acronym": "LDT",
    "mol_role": "coordinator",
    "total_budget": "1500000.00",
    "mol_share": "250000.00",
    "partners": [{"organisation_id": "ul-fe", "role": "research"}],
    "status_history": [
        {"status": "in_preparation", "on": "2025-01-10", "note": "kick-off"}
    ],
}


@builds("GET", f"{G}/indicators")
def _indicators(s: Setup, org: str) -> Call:
    return Call(
        f"{G}/indicators",
        params={"year": 2025},
        check=lambda r, _role: (
            len(r.json()["indicators"]) == 6
            and r.json()["verdict"]["sl"].startswith("Cilj")
        ),
    )


@builds("GET", f"{G}/milestone")
def _milestone(s: Setup, org: str) -> Call:
    return Call(
        f"{G}/milestone",
        params={"as_of": "2025-12-31"},
        check=lambda r, _role: len(r.json()["criteria"]) == 7,
    )


@builds("GET", f"{G}/kpi")
def _kpi(s: Setup, org: str) -> Call:
    return Call(
        f"{G}/kpi",
        params={"year": 2025},
        check=lambda r, _role: (
            r.headers["content-type"].startswith("application/ld+json")
            and {e["type"] for e in r.json()} == {"KeyPerformanceIndicator"}
            and len(r.json()) == 8
        ),
    )


@builds("GET", f"{G}/indicators.csv")
def _indicators_csv(s: Setup, org: str) -> Call:
    return Call(
        f"{G}/indicators.csv",
        params={"from": 2024, "to": 2025},
        check=lambda r, _role: (
            r.headers["content-type"].startswith("text/csv")
            and r.text.startswith("year,as_of,indicator,")
            and "2025,2025-12-31,applications_submitted," in r.text
        ),
    )


@builds("GET", f"{G}/forms")
def _forms(s: Setup, org: str) -> Call:
    form_id = _form(s)
    return Call(
        f"{G}/forms", check=lambda r, _role: form_id in {f["id"] for f in r.json()}
    )


@builds("POST", f"{G}/forms")
def _create_form(s: Setup, org: str) -> Call:
    return Call(
        f"{G}/forms",
        json={
            "kind": "living_lab_partnership",
            "name": "Living lab partnership",
            "description": "Signed in Ljubljana",
            "starts_on": "2025-02-01",
            "ends_on": "2026-01-31",
            "members": [{"organisation_id": org, "role": "startup"}],
        },
        check=lambda r, _role: r.json()["members"][0]["organisation_id"] == org,
    )


@builds("GET", f"{G}/forms/{{form_id}}")
def _form_read(s: Setup, org: str) -> Call:
    form_id = _form(s)
    return Call(
        f"{G}/forms/{form_id}", check=lambda r, _role: r.json()["id"] == form_id
    )


@builds("PATCH", f"{G}/forms/{{form_id}}")
def _update_form(s: Setup, org: str) -> Call:
    form_id = _form(s)
    return Call(
        f"{G}/forms/{form_id}",
        json={"ends_on": "2025-06-30", "name": "Ended mid-year"},
        check=lambda r, _role: r.json()["ends_on"] == "2025-06-30",
    )


@builds("GET", f"{G}/council/members")
def _members(s: Setup, org: str) -> Call:
    member_id = _member(s)
    return Call(
        f"{G}/council/members",
        check=lambda r, _role: member_id in {m["id"] for m in r.json()},
    )


@builds("POST", f"{G}/council/members")
def _add_member(s: Setup, org: str) -> Call:
    return Call(
        f"{G}/council/members",
        json={
            "name": "Borut Kranjc",
            "organisation_id": org,
            "role": "member",
            "term_starts_on": "2025-01-01",
            "term_ends_on": "2028-12-31",
        },
        check=lambda r, _role: r.json()["organisation_id"] == org,
    )


@builds("PATCH", f"{G}/council/members/{{member_id}}")
def _update_member(s: Setup, org: str) -> Call:
    member_id = _member(s)
    return Call(
        f"{G}/council/members/{member_id}",
        json={
            "term_ends_on": "2025-12-31",
            "role": "former chair",
            "name": "Ana Novak",
        },
        check=lambda r, _role: r.json()["term_ends_on"] == "2025-12-31",
    )


@builds("GET", f"{G}/council/meetings")
def _meetings(s: Setup, org: str) -> Call:
    meeting_id = _meeting(s)
    return Call(
        f"{G}/council/meetings",
        params={"year": T0.year},
        check=lambda r, _role: meeting_id in {m["id"] for m in r.json()},
    )


@builds("POST", f"{G}/council/meetings")
def _create_meeting(s: Setup, org: str) -> Call:
    member_id = _member(s)
    return Call(
        f"{G}/council/meetings",
        json={
            "held_at": "2025-12-31T23:30:00+01:00",
            "place": "Mestna hiša",
            "agenda": "Programme directions 2026",
            "attendee_ids": [member_id],
            "decisions": [{"kind": "programme", "text": "Open data first"}],
        },
        check=lambda r, _role: r.json()["held_on"] == "2025-12-31",
    )


@builds("GET", f"{G}/council/meetings/{{meeting_id}}")
def _meeting_read(s: Setup, org: str) -> Call:
    meeting_id = _meeting(s)
    return Call(
        f"{G}/council/meetings/{meeting_id}",
        check=lambda r, _role: r.json()["id"] == meeting_id,
    )


@builds("GET", f"{G}/applications")
def _applications(s: Setup, org: str) -> Call:
    application_id = _application(s)
    return Call(
        f"{G}/applications",
        check=lambda r, _role: application_id in {a["id"] for a in r.json()},
    )


@builds("POST", f"{G}/applications")
def _create_application(s: Setup, org: str) -> Call:
    return Call(
        f"{G}/applications",
        json={**_APPLICATION, "partners": [{"organisation_id": org, "role": "pilot"}]},
        check=lambda r, _role: r.json()["total_budget"] == "1500000.00",
    )


@builds("GET", f"{G}/applications/{{application_id}}")
def _application_read(s: Setup, org: str) -> Call:
    application_id = _application(s)
    return Call(
        f"{G}/applications/{application_id}",
        check=lambda r, _role: r.json()["status"] == "in_preparation",
    )


@builds("PATCH", f"{G}/applications/{{application_id}}")
def _update_application(s: Setup, org: str) -> Call:
    application_id = _application(s)
    return Call(
        f"{G}/applications/{application_id}",
        json={
            "title": "Local digital twins for Ljubljana",
            "status_history": [
                {"status": "in_preparation", "on": "2025-01-10", "note": "kick-off"},
                {"status": "submitted", "on": "2025-03-01", "note": "on time"},
            ],
        },
        check=lambda r, _role: r.json()["submitted_on"] == "2025-03-01",
    )


@builds("POST", f"{G}/applications/{{application_id}}/status")
def _add_status(s: Setup, org: str) -> Call:
    application_id = _application(s)
    return Call(
        f"{G}/applications/{application_id}/status",
        json={"status": "submitted", "on": "2025-02-01", "note": "receipt by e-mail"},
        check=lambda r, _role: r.json()["status"] == "submitted",
    )


@builds("POST", f"{G}/evidence")
def _add_evidence(s: Setup, org: str) -> Call:
    form_id = _form(s)
    return Call(
        f"{G}/evidence",
        json={
            "record": "form",
            "record_id": form_id,
            "title": "Founding agreement",
            "url": "https://www.ljubljana.si/sporazum.pdf",
            "statement": "Signed by the mayor",
        },
        check=lambda r, _role: r.json()["quality"] == "documented",
    )


@builds("POST", f"{G}/evidence/{{evidence_id}}/verify")
def _verify(s: Setup, org: str) -> Call:
    item = evidence.add_evidence(
        s.conn,
        CLI,
        evidence=EvidenceCreate.model_validate(
            {
                "record": "form",
                "record_id": _form(s),
                "title": "Founding agreement",
                "url": "https://www.ljubljana.si/sporazum.pdf",
            }
        ),
    )
    s.conn.commit()
    return Call(
        f"{G}/evidence/{item.id}/verify",
        check=lambda r, _role: r.json()["quality"] == "verified",
    )


_PDF = b"%PDF-1.4\n%%EOF\n"


def _statement(s: Setup) -> int:
    item = evidence.add_evidence(
        s.conn,
        CLI,
        evidence=EvidenceCreate.model_validate(
            {
                "record": "form",
                "record_id": _form(s),
                "title": "Minutes",
                "statement": "Held on 3 March",
            }
        ),
    )
    s.conn.commit()
    return item.id


@builds("POST", f"{G}/evidence/{{evidence_id}}/file")
def _upload_file(s: Setup, org: str) -> Call:
    return Call(
        f"{G}/evidence/{_statement(s)}/file",
        files={"file": ("minutes.pdf", _PDF, "application/pdf")},
        check=lambda r, _role: r.json()["quality"] == "documented",
    )


@builds("GET", f"{G}/evidence/{{evidence_id}}/file")
def _download_file(s: Setup, org: str) -> Call:
    evidence_id = _statement(s)
    evidence_files.attach_file(
        s.conn, CLI, evidence_id, name="minutes.pdf", content=_PDF, max_bytes=1024
    )
    s.conn.commit()
    return Call(
        f"{G}/evidence/{evidence_id}/file",
        check=lambda r, _role: (
            r.content == _PDF
            and r.headers["content-disposition"].startswith("attachment")
        ),
    )
