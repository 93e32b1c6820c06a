"""Trials as records: registration, editing, and reading them back with their links."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg.rows import class_row, dict_row

from livinglab_platform import audit
from livinglab_platform.access import (
    Principal,
    acting_organisation,
    allowed_actions,
    require_trial_editor,
    trial_visibility_sql,
)
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from livinglab_platform.trials.schemas import (
    TRIAL_FIELDS,
    PartnerLink,
    State,
    TrialCreate,
    TrialPublic,
    TrialRangeError,
    TrialUpdate,
    check_trial_ranges,
)

__all__ = [
    "TrialHead",
    "create_trial",
    "find_trial",
    "get_trial",
    "list_trials",
    "update_trial",
]


@dataclass(frozen=True)
class TrialHead:
    """What access checks need of a trial: whose it is and where it stands."""

    id: int
    organisation_id: str
    state: State


def find_trial(conn: Connection, principal: Principal, trial_id: int) -> TrialHead:
    """A trial's head, if the principal may see the trial; NotFoundError otherwise."""
    condition, params = trial_visibility_sql(principal)
    with conn.cursor(row_factory=class_row(TrialHead)) as cur:
        head = cur.execute(
            "SELECT t.id, t.organisation_id, t.state FROM trials t"
            f" WHERE t.id = %(id)s AND {condition}",
            {**params, "id": trial_id},
        ).fetchone()
    if head is None:
        raise NotFoundError(f"trial {trial_id} not found")
    return TrialHead(head.id, head.organisation_id, State(head.state))


# A trial with its links in one row: the sites, partners and device assignments as JSON arrays,
# so a list of trials is one query however long it is.
_TRIALS = f"""
SELECT t.id, t.organisation_id, t.state, t.state_reason, t.outcome, t.created_at, t.updated_at,
       {", ".join(f"t.{f}" for f in TRIAL_FIELDS)},
       coalesce((SELECT json_agg(s.site_id ORDER BY s.site_id)
                   FROM trial_sites s WHERE s.trial_id = t.id), '[]') AS site_ids,
       coalesce((SELECT json_agg(json_build_object('organisation_id', p.organisation_id,
                                                   'role', p.role) ORDER BY p.organisation_id)
                   FROM trial_partners p WHERE p.trial_id = t.id), '[]') AS partners,
       coalesce((SELECT json_agg(json_build_object('id', d.id, 'trial_id', d.trial_id,
                                                   'device_id', d.device_id,
                                                   'starts_at', d.starts_at, 'ends_at', d.ends_at)
                                 ORDER BY d.starts_at, d.id)
                   FROM trial_devices d WHERE d.trial_id = t.id), '[]') AS devices
  FROM trials t
"""


def _public(principal: Principal, row: dict[str, Any]) -> TrialPublic:
    actions = allowed_actions(
        principal,
        state=State(row["state"]),
        trial_organisation_id=row["organisation_id"],
    )
    return TrialPublic.model_validate({**row, "actions": actions})


def get_trial(conn: Connection, principal: Principal, trial_id: int) -> TrialPublic:
    """One trial, if the principal may see it."""
    condition, params = trial_visibility_sql(principal)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"{_TRIALS} WHERE t.id = %(id)s AND {condition}",
            {**params, "id": trial_id},
        ).fetchone()
    if row is None:
        raise NotFoundError(f"trial {trial_id} not found")
    return _public(principal, row)


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
            f"{_TRIALS} WHERE {condition} ORDER BY t.id DESC", params
        ).fetchall()
    return [_public(principal, row) for row in rows]


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
            raise InvalidInputError(
                f"site {site_id!r} does not exist", field="site_ids"
            )
    for partner in partners or []:
        if (
            conn.execute(
                "SELECT 1 FROM organisations WHERE id = %s", (partner.organisation_id,)
            ).fetchone()
            is None
        ):
            raise InvalidInputError(
                f"organisation {partner.organisation_id!r} does not exist",
                field="partners",
            )
    ids = [p.organisation_id for p in partners or []]
    if len(set(ids)) != len(ids):
        raise InvalidInputError(
            "each partner organisation may be listed once", field="partners"
        )


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
    # A trial always belongs to an organisation: an operator's own unless they name another.
    organisation_id = (
        acting_organisation(principal, trial.organisation_id, "register trials")
        or principal.organisation_id
    )
    if organisation_id is None:
        raise InvalidInputError(
            "organisation_id is required when registering from the command line",
            field="organisation_id",
        )
    if (
        conn.execute(
            "SELECT 1 FROM organisations WHERE id = %s", (organisation_id,)
        ).fetchone()
        is None
    ):
        raise InvalidInputError(
            f"organisation {organisation_id!r} does not exist", field="organisation_id"
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
    trial = get_trial(conn, principal, trial_id)
    require_trial_editor(principal, trial.organisation_id, "edit it")
    if trial.state not in (State.draft, State.submitted):
        raise ConflictError(
            f"trial {trial_id} is '{trial.state.value}'; only draft or submitted trials can be edited"
        )
    # Every column is NOT NULL, so a null in the request can only mean "leave as it is".
    values = changes.model_dump(
        include=set(TRIAL_FIELDS), exclude_unset=True, exclude_none=True
    )
    merged = {**trial.model_dump(include=set(TRIAL_FIELDS)), **values}
    try:
        check_trial_ranges(merged)
    except TrialRangeError as exc:
        raise InvalidInputError(str(exc), field=exc.field) from exc
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
