"""Co-financed project applications (EU or another mechanism): partners, MOL's role, the budget in
exact decimals, the status history with its dates, and the trials each funds.

The history is a path through in_preparation -> submitted -> granted / rejected / withdrawn (a
record may begin at `submitted`; an application may be withdrawn before or after submission), its
dates never going back. The submission date is what the strategy's indicator counts: a later
withdrawal does not undo it, an application never submitted does not count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.rows import dict_row

from livinglab_platform import audit
from livinglab_platform.access import (
    Principal,
    require_record_keeper,
    require_record_reader,
    trial_visibility_sql,
)
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import InvalidInputError, NotFoundError
from livinglab_platform.governance.dates import today
from livinglab_platform.governance.evidence import evidence_for
from livinglab_platform.governance.forms import check_members
from livinglab_platform.governance.schemas import (
    ApplicationCreate,
    ApplicationPublic,
    ApplicationStatus,
    ApplicationUpdate,
    RecordKind,
    StatusEntry,
)

__all__ = [
    "NEXT_STATUSES",
    "add_status",
    "check_history",
    "create_application",
    "get_application",
    "list_applications",
    "update_application",
]

S = ApplicationStatus
# Which status may follow which; None: the first entry of a history.
NEXT_STATUSES: dict[ApplicationStatus | None, frozenset[ApplicationStatus]] = {
    None: frozenset({S.in_preparation, S.submitted}),
    S.in_preparation: frozenset({S.submitted, S.withdrawn}),
    S.submitted: frozenset({S.granted, S.rejected, S.withdrawn}),
    S.granted: frozenset(),
    S.rejected: frozenset(),
    S.withdrawn: frozenset(),
}


def check_history(
    history: Sequence[StatusEntry], *, field: str = "status_history"
) -> None:
    """Refuse a history that is not a path of NEXT_STATUSES or whose dates go back."""
    previous: StatusEntry | None = None
    for index, entry in enumerate(history):
        allowed = NEXT_STATUSES[previous.status if previous else None]
        if entry.status not in allowed:
            after = f"after {previous.status.value}" if previous else "first"
            expected = " or ".join(sorted(s.value for s in allowed)) or "nothing"
            raise InvalidInputError(
                f"{entry.status.value} cannot come {after}; expected {expected}",
                field=f"{field}.{index}.status",
            )
        if previous is not None and entry.on < previous.on:
            raise InvalidInputError(
                f"{entry.on} is before the previous status's date {previous.on}",
                field=f"{field}.{index}.on",
            )
        previous = entry


_APPLICATIONS = """
SELECT a.id, a.programme, a.call, a.title, a.acronym, a.mol_role, a.total_budget, a.mol_share,
       coalesce((SELECT json_agg(json_build_object('organisation_id', o.id, 'name', o.name,
                                                   'kind', o.kind, 'role', p.role) ORDER BY o.id)
                   FROM application_partners p JOIN organisations o ON o.id = p.organisation_id
                  WHERE p.application_id = a.id), '[]') AS partners,
       coalesce((SELECT json_agg(json_build_object('status', s.status, 'on', s.on_date,
                                                   'note', s.note) ORDER BY s.position)
                   FROM application_statuses s WHERE s.application_id = a.id), '[]')
           AS status_history,
       coalesce((SELECT array_agg(at.trial_id ORDER BY at.trial_id)
                   FROM application_trials at JOIN trials t ON t.id = at.trial_id
                  WHERE at.application_id = a.id AND {visible}), '{{}}') AS trial_ids,
       (SELECT min(s.on_date) FROM application_statuses s
         WHERE s.application_id = a.id AND s.status = 'submitted') AS submitted_on
  FROM applications a"""


def _query(principal: Principal) -> tuple[str, dict[str, object]]:
    # Funded trials are listed only where the reader may see them.
    visible, params = trial_visibility_sql(principal)
    return _APPLICATIONS.format(visible=visible), params


def _public(conn: Connection, rows: list[dict[str, Any]]) -> list[ApplicationPublic]:
    evidence = evidence_for(conn, RecordKind.application, (r["id"] for r in rows))
    return [
        ApplicationPublic.model_validate(
            {
                **r,
                "status": r["status_history"][-1]["status"],
                "evidence": evidence[r["id"]],
            }
        )
        for r in rows
    ]


def list_applications(
    conn: Connection, principal: Principal
) -> list[ApplicationPublic]:
    """Every application, newest first."""
    require_record_reader(principal)
    query, params = _query(principal)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(f"{query} ORDER BY a.id DESC", params).fetchall()
    return _public(conn, rows)


def get_application(
    conn: Connection, principal: Principal, application_id: int
) -> ApplicationPublic:
    require_record_reader(principal)
    query, params = _query(principal)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"{query} WHERE a.id = %(id)s", {**params, "id": application_id}
        ).fetchone()
    if row is None:
        raise NotFoundError(f"application {application_id} not found")
    return _public(conn, [row])[0]


def _check_trials(conn: Connection, trial_ids: Sequence[int]) -> None:
    known = {
        r[0]
        for r in conn.execute(
            "SELECT id FROM trials WHERE id = ANY(%s)", (list(trial_ids),)
        )
    }
    for trial_id in trial_ids:
        if trial_id not in known:
            raise InvalidInputError(
                f"trial {trial_id} does not exist", field="trial_ids"
            )


def _write_links(
    conn: Connection,
    application_id: int,
    *,
    partners: Sequence[Any] | None,
    trial_ids: Sequence[int] | None,
    history: Sequence[StatusEntry] | None,
) -> None:
    if partners is not None:
        conn.execute(
            "DELETE FROM application_partners WHERE application_id = %s",
            (application_id,),
        )
        for p in partners:
            conn.execute(
                "INSERT INTO application_partners (application_id, organisation_id, role)"
                " VALUES (%s, %s, %s)",
                (application_id, p.organisation_id, p.role),
            )
    if trial_ids is not None:
        conn.execute(
            "DELETE FROM application_trials WHERE application_id = %s",
            (application_id,),
        )
        for trial_id in dict.fromkeys(trial_ids):
            conn.execute(
                "INSERT INTO application_trials (application_id, trial_id) VALUES (%s, %s)",
                (application_id, trial_id),
            )
    if history is not None:
        conn.execute(
            "DELETE FROM application_statuses WHERE application_id = %s",
            (application_id,),
        )
        for position, entry in enumerate(history):
            conn.execute(
                "INSERT INTO application_statuses (application_id, position, status, on_date, note)"
                " VALUES (%s, %s, %s, %s, %s)",
                (application_id, position, entry.status.value, entry.on, entry.note),
            )


def create_application(
    conn: Connection, principal: Principal, *, application: ApplicationCreate
) -> ApplicationPublic:
    """Record an application (operators); without a history it is in preparation from today."""
    require_record_keeper(principal, "record applications")
    history = application.status_history or [
        StatusEntry(status=S.in_preparation, on=today())
    ]
    check_history(history)
    if application.mol_share > application.total_budget:
        raise InvalidInputError(
            "mol_share must not exceed total_budget", field="mol_share"
        )
    check_members(conn, application.partners, field="partners")
    _check_trials(conn, application.trial_ids)
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO applications (programme, call, title, acronym, mol_role, total_budget,"
            " mol_share) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                application.programme,
                application.call,
                application.title,
                application.acronym,
                application.mol_role.value,
                application.total_budget,
                application.mol_share,
            ),
        ).fetchone()
        assert row is not None
        application_id = int(row[0])
        _write_links(
            conn,
            application_id,
            partners=application.partners,
            trial_ids=application.trial_ids,
            history=history,
        )
        audit.record(
            conn,
            principal,
            object_type="application",
            object_id=application_id,
            action="create",
            details=application.model_dump(mode="json"),
        )
    return get_application(conn, principal, application_id)


_COLUMNS = {
    "programme",
    "call",
    "title",
    "acronym",
    "mol_role",
    "total_budget",
    "mol_share",
}


def update_application(
    conn: Connection,
    principal: Principal,
    application_id: int,
    *,
    changes: ApplicationUpdate,
) -> ApplicationPublic:
    """Change an application; `status_history` replaces the history, as a correction (operators)."""
    require_record_keeper(principal, "change applications")
    current = get_application(conn, principal, application_id)
    values = changes.model_dump(include=_COLUMNS, exclude_unset=True, exclude_none=True)
    total = values.get("total_budget", current.total_budget)
    if values.get("mol_share", current.mol_share) > total:
        raise InvalidInputError(
            "mol_share must not exceed total_budget",
            field="mol_share" if "mol_share" in values else "total_budget",
        )
    if changes.status_history is not None:
        check_history(changes.status_history)
    if changes.partners is not None:
        check_members(conn, changes.partners, field="partners")
    if changes.trial_ids is not None:
        _check_trials(conn, changes.trial_ids)
    with conn.transaction():
        if values:
            conn.execute(
                f"UPDATE applications SET {', '.join(f'{k} = %({k})s' for k in values)}"
                " WHERE id = %(id)s",
                {**values, "id": application_id},
            )
        _write_links(
            conn,
            application_id,
            partners=changes.partners,
            trial_ids=changes.trial_ids,
            history=changes.status_history,
        )
        details = changes.model_dump(mode="json", exclude_unset=True, exclude_none=True)
        if changes.status_history is not None:
            # A corrected history keeps the one it replaced, so nothing is lost from the record.
            details["replaced_status_history"] = [
                e.model_dump(mode="json") for e in current.status_history
            ]
        audit.record(
            conn,
            principal,
            object_type="application",
            object_id=application_id,
            action="update",
            details=details,
        )
    return get_application(conn, principal, application_id)


def add_status(
    conn: Connection, principal: Principal, application_id: int, *, entry: StatusEntry
) -> ApplicationPublic:
    """Append the next status (submitted, granted, ...) with its date (operators)."""
    require_record_keeper(principal, "change applications")
    current = get_application(conn, principal, application_id)
    history = [*current.status_history, entry]
    try:
        check_history(history)
    except InvalidInputError as exc:
        field = "on" if str(exc.field).endswith(".on") else "status"
        raise InvalidInputError(str(exc), field=field) from exc
    with conn.transaction():
        conn.execute(
            "INSERT INTO application_statuses (application_id, position, status, on_date, note)"
            " VALUES (%s, %s, %s, %s, %s)",
            (
                application_id,
                len(current.status_history),
                entry.status.value,
                entry.on,
                entry.note,
            ),
        )
        audit.record(
            conn,
            principal,
            object_type="application",
            object_id=application_id,
            action=entry.status.value,
            details=entry.model_dump(mode="json"),
        )
    return get_application(conn, principal, application_id)
