"""Trials as records: registration, editing, and reading them back with their links."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row

from livinglab_platform import audit
from livinglab_platform.access import Principal, trial_visibility_sql
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RegistryError,
)
from livinglab_platform.registry.schemas import Role
from livinglab_platform.trials.lifecycle import TRANSITIONS
from livinglab_platform.trials.schemas import (
    TRIAL_FIELDS,
    Action,
    AssignmentPublic,
    PartnerLink,
    State,
    TrialCreate,
    TrialPublic,
    TrialUpdate,
    check_trial_ranges,
)

__all__ = [
    "create_trial",
    "get_trial",
    "list_trials",
    "update_trial",
]


def _is_owner(principal: Principal, row: dict[str, Any]) -> bool:
    return (
        principal.role is Role.partner
        and principal.organisation_id == row["organisation_id"]
    )


def _may_edit(principal: Principal, row: dict[str, Any]) -> bool:
    return principal.is_operator or _is_owner(principal, row)


def allowed_actions(principal: Principal, row: dict[str, Any]) -> list[Action]:
    """The transitions this principal may make on the trial now."""
    state = State(row["state"])
    return [
        action
        for action, t in TRANSITIONS.items()
        if state in t.sources
        and (principal.is_operator or (t.owner and _is_owner(principal, row)))
    ]


def _row(conn: Connection, principal: Principal, trial_id: int) -> dict[str, Any]:
    condition, params = trial_visibility_sql(principal)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT t.* FROM trials t WHERE t.id = %(id)s AND {condition}",
            {**params, "id": trial_id},
        ).fetchone()
    if row is None:
        raise NotFoundError(f"trial {trial_id} not found")
    return row


def _public(conn: Connection, principal: Principal, row: dict[str, Any]) -> TrialPublic:
    trial_id = row["id"]
    sites = [
        r[0]
        for r in conn.execute(
            "SELECT site_id FROM trial_sites WHERE trial_id = %s ORDER BY site_id",
            (trial_id,),
        )
    ]
    partners = [
        PartnerLink(organisation_id=r[0], role=r[1])
        for r in conn.execute(
            "SELECT organisation_id, role FROM trial_partners WHERE trial_id = %s"
            " ORDER BY organisation_id",
            (trial_id,),
        )
    ]
    devices = [
        AssignmentPublic(
            id=r[0], trial_id=trial_id, device_id=r[1], starts_at=r[2], ends_at=r[3]
        )
        for r in conn.execute(
            "SELECT id, device_id, starts_at, ends_at FROM trial_devices WHERE trial_id = %s"
            " ORDER BY starts_at, id",
            (trial_id,),
        )
    ]
    return TrialPublic(
        **{f: row[f] for f in TRIAL_FIELDS},
        id=trial_id,
        organisation_id=row["organisation_id"],
        site_ids=sites,
        partners=partners,
        devices=devices,
        state=State(row["state"]),
        state_reason=row["state_reason"],
        actions=allowed_actions(principal, row),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def get_trial(conn: Connection, principal: Principal, trial_id: int) -> TrialPublic:
    """One trial, if the principal may see it."""
    return _public(conn, principal, _row(conn, principal, trial_id))


def list_trials(
    conn: Connection, principal: Principal, *, state: State | None = None
) -> list[TrialPublic]:
    """The trials this principal may see, newest first, optionally in one state."""
    condition, params = trial_visibility_sql(principal)
    if state is not None:
        condition += " AND t.state = %(state)s"
        params = {**params, "state": state.value}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT t.* FROM trials t WHERE {condition} ORDER BY t.id DESC", params
        ).fetchall()
    return [_public(conn, principal, r) for r in rows]


def _check_references(
    conn: Connection,
    *,
    site_ids: list[str] | None,
    partners: list[PartnerLink] | None,
) -> None:
    for site_id in site_ids or []:
        if (
            conn.execute("SELECT 1 FROM sites WHERE id = %s", (site_id,)).fetchone()
            is None
        ):
            raise RegistryError(f"site {site_id!r} does not exist (site_ids)")
    for partner in partners or []:
        if (
            conn.execute(
                "SELECT 1 FROM organisations WHERE id = %s", (partner.organisation_id,)
            ).fetchone()
            is None
        ):
            raise RegistryError(
                f"organisation {partner.organisation_id!r} does not exist (partners)"
            )
    ids = [p.organisation_id for p in partners or []]
    if len(set(ids)) != len(ids):
        raise RegistryError("each partner organisation may be listed once (partners)")


def _write_links(
    conn: Connection,
    trial_id: int,
    *,
    site_ids: list[str] | None,
    partners: list[PartnerLink] | None,
) -> None:
    if site_ids is not None:
        conn.execute("DELETE FROM trial_sites WHERE trial_id = %s", (trial_id,))
        for site_id in dict.fromkeys(site_ids):
            conn.execute(
                "INSERT INTO trial_sites (trial_id, site_id) VALUES (%s, %s)",
                (trial_id, site_id),
            )
    if partners is not None:
        conn.execute("DELETE FROM trial_partners WHERE trial_id = %s", (trial_id,))
        for p in partners:
            conn.execute(
                "INSERT INTO trial_partners (trial_id, organisation_id, role) VALUES (%s, %s, %s)",
                (trial_id, p.organisation_id, p.role),
            )


def create_trial(
    conn: Connection, principal: Principal, *, trial: TrialCreate
) -> TrialPublic:
    """Register a trial as a draft: partners for their own organisation, operators for any."""
    if principal.role is Role.viewer:
        raise ForbiddenError("viewers may not register trials")
    organisation_id = trial.organisation_id or principal.organisation_id
    if organisation_id is None:
        raise RegistryError(
            "organisation_id is required when registering from the command line"
        )
    if not principal.is_operator and organisation_id != principal.organisation_id:
        raise ForbiddenError(
            "partners may register trials only for their own organisation"
        )
    if (
        conn.execute(
            "SELECT 1 FROM organisations WHERE id = %s", (organisation_id,)
        ).fetchone()
        is None
    ):
        raise RegistryError(
            f"organisation {organisation_id!r} does not exist (organisation_id)"
        )
    _check_references(conn, site_ids=trial.site_ids, partners=trial.partners)
    values = trial.model_dump(include=set(TRIAL_FIELDS))
    with conn.transaction():
        row = conn.execute(
            f"INSERT INTO trials (organisation_id, created_by, {', '.join(values)})"
            f" VALUES (%(organisation_id)s, %(created_by)s, {', '.join('%(' + k + ')s' for k in values)})"
            " RETURNING id",
            {
                **values,
                "organisation_id": organisation_id,
                "created_by": principal.person_id,
            },
        ).fetchone()
        assert row is not None
        trial_id = int(row[0])
        _write_links(conn, trial_id, site_ids=trial.site_ids, partners=trial.partners)
        audit.record(
            conn,
            principal,
            object_type="trial",
            object_id=trial_id,
            action="create",
            details={"title": trial.title, "organisation_id": organisation_id},
        )
    return get_trial(conn, principal, trial_id)


def update_trial(
    conn: Connection,
    principal: Principal,
    trial_id: int,
    *,
    changes: TrialUpdate,
) -> TrialPublic:
    """Edit a draft (or a submitted trial, before review); every change is audited."""
    row = _row(conn, principal, trial_id)
    if not _may_edit(principal, row):
        raise ForbiddenError("only the trial's organisation and operators may edit it")
    if row["state"] not in (State.draft, State.submitted):
        raise ConflictError(
            f"trial {trial_id} is {row['state']!r}; only draft or submitted trials can be edited"
        )
    # Every column is NOT NULL, so a null in the request can only mean "leave as it is".
    values = changes.model_dump(
        include=set(TRIAL_FIELDS), exclude_unset=True, exclude_none=True
    )
    merged = {**{f: row[f] for f in TRIAL_FIELDS}, **values}
    try:
        check_trial_ranges(
            merged["trl_start"],
            merged["trl_target"],
            merged["starts_on"],
            merged["ends_on"],
        )
    except ValueError as exc:
        raise RegistryError(str(exc)) from exc
    _check_references(conn, site_ids=changes.site_ids, partners=changes.partners)
    with conn.transaction():
        if values:
            conn.execute(
                f"UPDATE trials SET {', '.join(f'{k} = %({k})s' for k in values)}, updated_at = now()"
                " WHERE id = %(id)s",
                {**values, "id": trial_id},
            )
        _write_links(
            conn, trial_id, site_ids=changes.site_ids, partners=changes.partners
        )
        audit.record(
            conn,
            principal,
            object_type="trial",
            object_id=trial_id,
            action="update",
            details=changes.model_dump(
                mode="json", exclude_unset=True, exclude_none=True
            ),
        )
    return get_trial(conn, principal, trial_id)
