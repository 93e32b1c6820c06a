"""A governance record for tests: the ecosystem's other kinds of organisation and factories for
forms, meetings, applications and evidence, made through the domain modules as an operator."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import psycopg

from livinglab_platform.governance import applications, council, evidence, forms
from livinglab_platform.governance.schemas import (
    ApplicationCreate,
    CouncilMemberCreate,
    EvidenceCreate,
    FormCreate,
    MeetingCreate,
    StatusEntry,
)
from livinglab_platform.registry import organisations
from livinglab_platform.registry.schemas import Kind, OrganisationCreate
from tests.api.world import CLI

# Beside tests/api/world.py's mol (city administration), lab (public institution), startup-a
# and startup-b (companies) and ul-fe (education and research).
MORE_ORGANISATIONS = [
    ("energetika", "JP Energetika Ljubljana", Kind.public_company),
    ("maribor", "Mestna občina Maribor", Kind.other_city),
    ("eurocities", "Eurocities", Kind.european),
    ("arso", "ARSO", Kind.regional_national),
    ("tp-lj", "Tehnološki park Ljubljana", Kind.technology_park),
    ("focus", "Focus", Kind.ngo),
]


def add_organisations(conn: psycopg.Connection[Any]) -> None:
    for org_id, name, kind in MORE_ORGANISATIONS:
        organisations.create_organisation(
            conn, CLI, organisation=OrganisationCreate(id=org_id, name=name, kind=kind)
        )
    conn.commit()


def form(
    conn: psycopg.Connection[Any],
    kind: str,
    members: list[str],
    starts_on: date,
    ends_on: date | None = None,
    *,
    link: str | None = None,
    statement: str = "",
) -> int:
    made = forms.create_form(
        conn,
        CLI,
        form=FormCreate(
            kind=kind,  # type: ignore[arg-type]
            name=f"{kind} of {', '.join(members)}",
            starts_on=starts_on,
            ends_on=ends_on,
            members=[{"organisation_id": m, "role": "member"} for m in members],  # type: ignore[misc]
        ),
    )
    if link or statement:
        attach(conn, "form", made.id, link=link, statement=statement)
    conn.commit()
    return made.id


def attach(
    conn: psycopg.Connection[Any],
    record: str,
    record_id: int,
    *,
    link: str | None = None,
    statement: str = "",
) -> int:
    item = evidence.add_evidence(
        conn,
        CLI,
        evidence=EvidenceCreate(
            record=record,  # type: ignore[arg-type]
            record_id=record_id,
            title="evidence",
            url=link,
            statement=statement,
        ),
    )
    conn.commit()
    return item.id


def member(
    conn: psycopg.Connection[Any], starts: date, ends: date | None = None
) -> int:
    made = council.add_member(
        conn,
        CLI,
        member=CouncilMemberCreate(
            name="Ana Novak",
            organisation_id="mol",
            role="chair",
            term_starts_on=starts,
            term_ends_on=ends,
        ),
    )
    conn.commit()
    return made.id


def meeting(
    conn: psycopg.Connection[Any],
    held_at: datetime,
    *,
    statement: str = "",
    link: str | None = None,
) -> int:
    made = council.create_meeting(
        conn,
        CLI,
        meeting=MeetingCreate(
            held_at=held_at,
            agenda="Digital strategy",
            decisions=[{"kind": "strategic", "text": "Adopt the directions"}],  # type: ignore[list-item]
        ),
    )
    if link or statement:
        attach(conn, "meeting", made.id, link=link, statement=statement)
    conn.commit()
    return made.id


def application(
    conn: psycopg.Connection[Any], history: list[tuple[str, date]], **overrides: Any
) -> int:
    values: dict[str, Any] = {
        "programme": "Horizon Europe",
        "call": "HORIZON-MISS-2025-CIT-01",
        "title": "Net-zero districts",
        "acronym": "NZD",
        "mol_role": "partner",
        "total_budget": "1000000.10",
        "mol_share": "120000.05",
        "partners": [{"organisation_id": "ul-fe", "role": "coordinator"}],
        "status_history": [{"status": s, "on": on} for s, on in history],
    }
    values.update(overrides)
    made = applications.create_application(
        conn, CLI, application=ApplicationCreate.model_validate(values)
    )
    conn.commit()
    return made.id


def status(
    conn: psycopg.Connection[Any], application_id: int, value: str, on: date
) -> None:
    applications.add_status(
        conn,
        CLI,
        application_id,
        entry=StatusEntry(status=value, on=on),  # type: ignore[arg-type]
    )
    conn.commit()
