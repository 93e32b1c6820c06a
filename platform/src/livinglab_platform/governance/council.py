"""The Strategic Council for Digital Development of MOL (Strateški svet za digitalni razvoj MOL):
its members and their terms, its meetings with attendees, agenda, decisions, and minutes as evidence."""

from __future__ import annotations

from typing import Any

from psycopg.rows import class_row, dict_row

from livinglab_platform import audit
from livinglab_platform.access import (
    Principal,
    require_record_keeper,
    require_record_reader,
)
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import InvalidInputError, NotFoundError
from livinglab_platform.governance.dates import TIME_ZONE, local_date
from livinglab_platform.governance.evidence import evidence_for
from livinglab_platform.governance.schemas import (
    CouncilMemberCreate,
    CouncilMemberPublic,
    CouncilMemberUpdate,
    MeetingCreate,
    MeetingPublic,
    RecordKind,
)

__all__ = [
    "add_member",
    "create_meeting",
    "get_meeting",
    "get_member",
    "list_meetings",
    "list_members",
    "update_member",
]

_MEMBERS = "SELECT id, name, organisation_id, role, term_starts_on, term_ends_on FROM council_members"


def list_members(conn: Connection, principal: Principal) -> list[CouncilMemberPublic]:
    """Every member the council has had, by the start of their term."""
    require_record_reader(principal)
    with conn.cursor(row_factory=class_row(CouncilMemberPublic)) as cur:
        return cur.execute(f"{_MEMBERS} ORDER BY term_starts_on, id").fetchall()


def get_member(
    conn: Connection, principal: Principal, member_id: int
) -> CouncilMemberPublic:
    require_record_reader(principal)
    with conn.cursor(row_factory=class_row(CouncilMemberPublic)) as cur:
        found = cur.execute(f"{_MEMBERS} WHERE id = %s", (member_id,)).fetchone()
    if found is None:
        raise NotFoundError(f"council member {member_id} not found")
    return found


def add_member(
    conn: Connection, principal: Principal, *, member: CouncilMemberCreate
) -> CouncilMemberPublic:
    """Appoint a member for a term (operators)."""
    require_record_keeper(principal, "appoint council members")
    if member.term_ends_on is not None and member.term_ends_on < member.term_starts_on:
        raise InvalidInputError(
            "term_ends_on must not be before term_starts_on", field="term_ends_on"
        )
    if member.organisation_id is not None and (
        conn.execute(
            "SELECT 1 FROM organisations WHERE id = %s", (member.organisation_id,)
        ).fetchone()
        is None
    ):
        raise InvalidInputError(
            f"organisation {member.organisation_id!r} does not exist",
            field="organisation_id",
        )
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO council_members (name, organisation_id, role, term_starts_on, term_ends_on)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (
                member.name,
                member.organisation_id,
                member.role,
                member.term_starts_on,
                member.term_ends_on,
            ),
        ).fetchone()
        assert row is not None
        member_id = int(row[0])
        audit.record(
            conn,
            principal,
            object_type="council_member",
            object_id=member_id,
            action="create",
            details=member.model_dump(mode="json"),
        )
    return get_member(conn, principal, member_id)


def update_member(
    conn: Connection,
    principal: Principal,
    member_id: int,
    *,
    changes: CouncilMemberUpdate,
) -> CouncilMemberPublic:
    """Rename a member, change their role, or end their term (operators)."""
    require_record_keeper(principal, "change council members")
    member = get_member(conn, principal, member_id)
    values = changes.model_dump(exclude_unset=True, exclude_none=True)
    ends = values.get("term_ends_on")
    if ends is not None and ends < member.term_starts_on:
        raise InvalidInputError(
            "term_ends_on must not be before term_starts_on", field="term_ends_on"
        )
    with conn.transaction():
        if values:
            conn.execute(
                f"UPDATE council_members SET {', '.join(f'{k} = %({k})s' for k in values)}"
                " WHERE id = %(id)s",
                {**values, "id": member_id},
            )
        audit.record(
            conn,
            principal,
            object_type="council_member",
            object_id=member_id,
            action="update",
            details=changes.model_dump(
                mode="json", exclude_unset=True, exclude_none=True
            ),
        )
    return get_member(conn, principal, member_id)


_MEETINGS = f"""
SELECT m.id, m.held_at, (m.held_at AT TIME ZONE '{TIME_ZONE}')::date AS held_on, m.place, m.agenda,
       coalesce((SELECT json_agg(json_build_object(
                    'id', c.id, 'name', c.name, 'organisation_id', c.organisation_id,
                    'role', c.role, 'term_starts_on', c.term_starts_on,
                    'term_ends_on', c.term_ends_on) ORDER BY c.id)
                   FROM council_meeting_attendees a JOIN council_members c ON c.id = a.member_id
                  WHERE a.meeting_id = m.id), '[]') AS attendees,
       coalesce((SELECT json_agg(json_build_object('id', d.id, 'kind', d.kind, 'text', d.text)
                                 ORDER BY d.id)
                   FROM council_decisions d WHERE d.meeting_id = m.id), '[]') AS decisions
  FROM council_meetings m"""


def _public(conn: Connection, rows: list[dict[str, Any]]) -> list[MeetingPublic]:
    evidence = evidence_for(conn, RecordKind.meeting, (r["id"] for r in rows))
    return [
        MeetingPublic.model_validate({**r, "evidence": evidence[r["id"]]}) for r in rows
    ]


def list_meetings(
    conn: Connection, principal: Principal, *, year: int | None = None
) -> list[MeetingPublic]:
    """Meetings, oldest first; optionally those of one Ljubljana calendar year."""
    require_record_reader(principal)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"{_MEETINGS} WHERE %(year)s::int IS NULL"
            f" OR extract(year FROM m.held_at AT TIME ZONE '{TIME_ZONE}') = %(year)s"
            " ORDER BY m.held_at, m.id",
            {"year": year},
        ).fetchall()
    return _public(conn, rows)


def get_meeting(
    conn: Connection, principal: Principal, meeting_id: int
) -> MeetingPublic:
    require_record_reader(principal)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"{_MEETINGS} WHERE m.id = %s", (meeting_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"meeting {meeting_id} not found")
    return _public(conn, [row])[0]


def _check_attendees(conn: Connection, meeting: MeetingCreate) -> None:
    # An attendee is a member whose term covers the meeting's Ljubljana date.
    if len(set(meeting.attendee_ids)) != len(meeting.attendee_ids):
        raise InvalidInputError(
            "each attendee may be listed once", field="attendee_ids"
        )
    day = local_date(meeting.held_at)
    in_term = {
        r[0]
        for r in conn.execute(
            "SELECT id FROM council_members WHERE id = ANY(%s) AND term_starts_on <= %s"
            " AND (term_ends_on IS NULL OR term_ends_on >= %s)",
            (meeting.attendee_ids, day, day),
        )
    }
    for member_id in meeting.attendee_ids:
        if member_id not in in_term:
            raise InvalidInputError(
                f"council member {member_id} does not exist or was not in office on {day}",
                field="attendee_ids",
            )


def create_meeting(
    conn: Connection, principal: Principal, *, meeting: MeetingCreate
) -> MeetingPublic:
    """Record a meeting with its attendees and decisions (operators); minutes are evidence."""
    require_record_keeper(principal, "record council meetings")
    _check_attendees(conn, meeting)
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO council_meetings (held_at, place, agenda) VALUES (%s, %s, %s) RETURNING id",
            (meeting.held_at, meeting.place, meeting.agenda),
        ).fetchone()
        assert row is not None
        meeting_id = int(row[0])
        for member_id in meeting.attendee_ids:
            conn.execute(
                "INSERT INTO council_meeting_attendees (meeting_id, member_id) VALUES (%s, %s)",
                (meeting_id, member_id),
            )
        for decision in meeting.decisions:
            conn.execute(
                "INSERT INTO council_decisions (meeting_id, kind, text) VALUES (%s, %s, %s)",
                (meeting_id, decision.kind.value, decision.text),
            )
        audit.record(
            conn,
            principal,
            object_type="council_meeting",
            object_id=meeting_id,
            action="create",
            details=meeting.model_dump(mode="json"),
        )
    return get_meeting(conn, principal, meeting_id)
