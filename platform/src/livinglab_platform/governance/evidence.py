"""Evidence behind the record: links and statements, their quality level, and who verified them.

The level follows from the row (migration 007): a statement only is `self_reported`, a link is
`documented`, a link an operator has checked is `verified` (with who and when). A statement cannot
be verified: there is nothing to check. A stored file (`evidence_files.py`, migration 008) documents
a record as a link does, and can be verified as one.
"""

from __future__ import annotations

from collections.abc import Iterable

from psycopg.rows import class_row

from livinglab_platform import audit
from livinglab_platform.access import Principal, require_record_keeper
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from livinglab_platform.governance.schemas import (
    EvidenceCreate,
    EvidencePublic,
    Quality,
    RecordKind,
)

__all__ = [
    "RECORD_TABLES",
    "add_evidence",
    "best_quality",
    "evidence_for",
    "get_evidence",
    "verify_evidence",
]

# Each record kind's table and its column in `evidence`.
RECORD_TABLES = {
    RecordKind.form: ("governance_forms", "form_id"),
    RecordKind.meeting: ("council_meetings", "meeting_id"),
    RecordKind.application: ("applications", "application_id"),
}

_RANK = {Quality.verified: 0, Quality.documented: 1, Quality.self_reported: 2}

_EVIDENCE = """
SELECT id,
       CASE WHEN form_id IS NOT NULL THEN 'form'
            WHEN meeting_id IS NOT NULL THEN 'meeting' ELSE 'application' END AS record,
       coalesce(form_id, meeting_id, application_id) AS record_id,
       title, url, statement, quality, verified_by_label AS verified_by, verified_at,
       file_name, file_media_type, octet_length(file_content) AS file_bytes, file_sha256
  FROM evidence"""


def best_quality(evidence: Iterable[EvidencePublic]) -> Quality:
    """The best level among a record's evidence; a record without any is self-reported (it is
    the operator's own statement)."""
    return min(
        (e.quality for e in evidence),
        key=_RANK.__getitem__,
        default=Quality.self_reported,
    )


def get_evidence(conn: Connection, evidence_id: int) -> EvidencePublic:
    with conn.cursor(row_factory=class_row(EvidencePublic)) as cur:
        found = cur.execute(f"{_EVIDENCE} WHERE id = %s", (evidence_id,)).fetchone()
    if found is None:
        raise NotFoundError(f"evidence {evidence_id} not found")
    return found


def evidence_for(
    conn: Connection, record: RecordKind, ids: Iterable[int]
) -> dict[int, list[EvidencePublic]]:
    """The evidence of each of these records, oldest first (one query for all of them)."""
    wanted = sorted(set(ids))
    found: dict[int, list[EvidencePublic]] = {i: [] for i in wanted}
    if not wanted:
        return found
    column = RECORD_TABLES[record][1]
    with conn.cursor(row_factory=class_row(EvidencePublic)) as cur:
        rows = cur.execute(
            f"{_EVIDENCE} WHERE {column} = ANY(%s) ORDER BY id", (wanted,)
        ).fetchall()
    for row in rows:
        found[row.record_id].append(row)
    return found


def add_evidence(
    conn: Connection, principal: Principal, *, evidence: EvidenceCreate
) -> EvidencePublic:
    """Attach a link or a statement to a form, a meeting or an application (operators)."""
    require_record_keeper(principal, "add evidence")
    table, column = RECORD_TABLES[evidence.record]
    if (
        conn.execute(
            f"SELECT 1 FROM {table} WHERE id = %s", (evidence.record_id,)
        ).fetchone()
        is None
    ):
        raise InvalidInputError(
            f"{evidence.record.value} {evidence.record_id} does not exist",
            field="record_id",
        )
    with conn.transaction():
        row = conn.execute(
            f"INSERT INTO evidence ({column}, title, url, statement) VALUES (%s, %s, %s, %s)"
            " RETURNING id",
            (evidence.record_id, evidence.title, evidence.url, evidence.statement),
        ).fetchone()
        assert row is not None
        added = get_evidence(conn, int(row[0]))
        audit.record(
            conn,
            principal,
            object_type="evidence",
            object_id=added.id,
            action="create",
            details={
                "record": evidence.record.value,
                "record_id": evidence.record_id,
                "title": evidence.title,
                "quality": added.quality.value,
            },
        )
    return added


def verify_evidence(
    conn: Connection, principal: Principal, evidence_id: int
) -> EvidencePublic:
    """Mark a link as checked by this operator, now."""
    require_record_keeper(principal, "verify evidence")
    found = get_evidence(conn, evidence_id)
    if found.url is None and found.file_sha256 is None:
        raise ConflictError(
            f"evidence {evidence_id} is a statement only; attach a document to verify"
        )
    if found.verified_at is not None:
        raise ConflictError(
            f"evidence {evidence_id} was verified by {found.verified_by} already"
        )
    with conn.transaction():
        conn.execute(
            "UPDATE evidence SET verified_by = %s, verified_by_label = %s, verified_at = now()"
            " WHERE id = %s",
            (principal.person_id, principal.label, evidence_id),
        )
        audit.record(
            conn,
            principal,
            object_type="evidence",
            object_id=evidence_id,
            action="verify",
        )
    return get_evidence(conn, evidence_id)
