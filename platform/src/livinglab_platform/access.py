"""Who is asking, and what they may see and do: the one place the platform's access rules live.

- operator: everything.
- viewer (city staff): every organisation, site, device and non-draft trial; data only aggregated,
  in buckets made of whole one-minute cells of at least LIVINGLAB_VIEWER_MIN_COUNT readings each
  (`cell_min_count`); changes nothing.
- partner: the people of their organisation; the trials of their organisation (as owner or listed
  partner) and trials granted to it; the devices their organisation owns and the devices of their
  trials; the data of the devices their organisation owns, of devices assigned to their trials
  (inside each assignment's period, once the trial has been approved), and of granted trials
  (inside the grant's period as well). A partner acts for their own organisation only: registers
  its trials and devices, edits and moves its trials, assigns and removes its own devices, manages
  its devices' credentials, and their own tokens.
- a device's delivery problems (its quarantined messages): operators and the partners of the
  organisation that owns the device; its page, events, delivery gaps and configuration (desired
  and applied): whoever sees the device; its desired configuration is set by operators and the
  partners of its organisation.
- the governance record (forms, the Strategic Council, applications, evidence) and what is
  computed from it (indicators, the milestone): operators keep it; partners and viewers read it.
- the yearly report to the Strategic Council (the record, the trials of the year, the whole
  fleet's data volume per month): operators and viewers; partners read the record, not the report.

Every predicate (`may_...`, `require_...`) and every visibility query (`..._visibility_sql`,
`data_windows_sql`) is here; domain modules call them and never test a role themselves. The
authorization matrix test (tests/api/test_authz_matrix.py) checks them through the API.
"""

from __future__ import annotations

from dataclasses import dataclass

from livinglab_platform.core.errors import ForbiddenError, NotFoundError
from livinglab_platform.registry.schemas import Role
from livinglab_platform.trials.lifecycle import TRANSITIONS, Transition
from livinglab_platform.trials.schemas import Action, State

__all__ = [
    "Principal",
    "acting_organisation",
    "allowed_actions",
    "cell_min_count",
    "cli_principal",
    "data_windows_sql",
    "device_visibility_sql",
    "people_visibility_sql",
    "quarantine_visibility_sql",
    "require_action",
    "require_config_writer",
    "require_delivery_reader",
    "require_device_manager",
    "require_operator",
    "require_own_device",
    "require_raw_data",
    "require_record_keeper",
    "require_record_reader",
    "require_report_reader",
    "require_token_owner",
    "require_trial_editor",
    "require_visible_token",
    "require_writer",
    "sees_latest_readings",
    "sees_raw_data",
    "sees_whole_sensors",
    "trial_visibility_sql",
]


@dataclass(frozen=True)
class Principal:
    """The person behind a request, or the command line (an operator without a person row)."""

    person_id: int | None
    name: str
    organisation_id: str | None
    role: Role
    # The token the request signed in with; None at the command line. Tokens it creates are its
    # children: they expire no later than it and are revoked with it.
    token_id: int | None = None

    @property
    def label(self) -> str:
        """How the audit trail names this actor."""
        return self.name

    @property
    def is_operator(self) -> bool:
        return self.role is Role.operator


def cli_principal(user: str) -> Principal:
    """The operator at a terminal: the command line acts with the database's own rights."""
    return Principal(
        person_id=None, name=f"cli:{user}", organisation_id=None, role=Role.operator
    )


def require_operator(principal: Principal, what: str) -> None:
    """Refuse unless the principal is an operator; `what` completes "only operators may ..."."""
    if not principal.is_operator:
        raise ForbiddenError(f"only operators may {what}")


def require_writer(principal: Principal, what: str) -> None:
    """Refuse viewers, who watch and change nothing; `what` completes "viewers may not ..."."""
    if principal.role is Role.viewer:
        raise ForbiddenError(f"viewers may not {what}")


def acting_organisation(
    principal: Principal, organisation_id: str | None, what: str
) -> str | None:
    """The organisation a registration is for: as asked for operators, a partner's own otherwise.

    Args:
        organisation_id: the organisation asked for; for a partner, None means their own.
        what: completes "partners may ... only for their own organisation".
    """
    require_writer(principal, what)
    if principal.is_operator:
        return organisation_id
    if organisation_id not in (None, principal.organisation_id):
        raise ForbiddenError(f"partners may {what} only for their own organisation")
    return principal.organisation_id


def _is_member(principal: Principal, organisation_id: str | None) -> bool:
    return (
        principal.role is Role.partner
        and organisation_id is not None
        and principal.organisation_id == organisation_id
    )


def require_trial_editor(
    principal: Principal, trial_organisation_id: str, what: str
) -> None:
    """Refuse unless an operator or a partner of the trial's own organisation."""
    if not (principal.is_operator or _is_member(principal, trial_organisation_id)):
        raise ForbiddenError(f"only the trial's organisation and operators may {what}")


def _may_take(
    principal: Principal, rule: Transition, trial_organisation_id: str
) -> bool:
    # Operators may take every action; the trial's own organisation those marked `owner`.
    return principal.is_operator or (
        rule.owner and _is_member(principal, trial_organisation_id)
    )


def allowed_actions(
    principal: Principal, *, state: State, trial_organisation_id: str
) -> list[Action]:
    """The lifecycle actions this principal may take on a trial in `state` now."""
    return [
        action
        for action, rule in TRANSITIONS.items()
        if state in rule.sources and _may_take(principal, rule, trial_organisation_id)
    ]


def require_action(
    principal: Principal, action: Action, *, trial_organisation_id: str
) -> None:
    """Refuse an action this principal may never take on the trial, whatever its state."""
    rule = TRANSITIONS[action]
    if not _may_take(principal, rule, trial_organisation_id):
        who = "the trial's organisation and operators" if rule.owner else "operators"
        raise ForbiddenError(f"only {who} may {action.value} a trial")


def require_own_device(
    principal: Principal,
    *,
    device_id: str,
    device_organisation_id: str | None,
    what: str,
) -> None:
    """Partners may put only their own organisation's devices in or out of a trial.

    An assignment opens a device's data, and a device an operator lent stays in the record.
    """
    if not (principal.is_operator or _is_member(principal, device_organisation_id)):
        raise ForbiddenError(
            f"device {device_id!r} belongs to another organisation; ask an operator to {what}"
        )


def require_device_manager(
    principal: Principal, device_organisation_id: str | None
) -> None:
    """Refuse unless an operator or a partner of the organisation that owns the device."""
    if not (principal.is_operator or _is_member(principal, device_organisation_id)):
        raise ForbiddenError(
            "only the device's organisation and operators may manage its credentials"
        )


def require_delivery_reader(
    principal: Principal, device_organisation_id: str | None
) -> None:
    """A device's quarantined messages: operators and the partners of the device's organisation.

    They hold the raw start of what the device sent, which may be any of its data.
    """
    if not (principal.is_operator or _is_member(principal, device_organisation_id)):
        raise ForbiddenError(
            "only the device's organisation and operators may read its quarantined messages"
        )


def sees_latest_readings(
    principal: Principal, device_organisation_id: str | None
) -> bool:
    """A device page's latest raw value per sensor: for operators and the device's organisation,
    who read the device's whole series anyway. Others read its data through a trial's charts,
    inside their windows, or aggregated."""
    return principal.is_operator or _is_member(principal, device_organisation_id)


def require_config_writer(
    principal: Principal, device_organisation_id: str | None
) -> None:
    """Setting a device's desired configuration: operators and its organisation's partners."""
    if not (principal.is_operator or _is_member(principal, device_organisation_id)):
        raise ForbiddenError(
            "only the device's organisation and operators may configure it",
            field="device_id",
        )


def quarantine_visibility_sql(principal: Principal) -> tuple[str, dict[str, object]]:
    """A WHERE condition on `quarantine_entries q`: operators all, partners their devices' only.

    Viewers none; messages of no known device (an unparsable topic) are for operators only.
    """
    if principal.is_operator:
        return "true", {}
    if principal.role is not Role.partner:
        return "false", {}
    return (
        "q.device_id IN (SELECT id FROM devices WHERE organisation_id = %(org)s)",
        {"org": principal.organisation_id},
    )


def require_token_owner(principal: Principal, person_id: int | None, what: str) -> None:
    """One's own tokens, or anyone's for an operator; `what` completes "only operators may ..."."""
    if person_id != principal.person_id:
        require_operator(principal, what)


def require_visible_token(
    principal: Principal, *, token_id: int, owner_id: int | None
) -> None:
    """A token is found only by its owner and operators: to anyone else it does not exist."""
    if owner_id is None or (
        owner_id != principal.person_id and not principal.is_operator
    ):
        raise NotFoundError(f"token {token_id} not found")


def require_record_keeper(principal: Principal, what: str) -> None:
    """The governance record is kept by operators; `what` completes "only operators may ..."."""
    if not principal.is_operator:
        raise ForbiddenError(
            f"only operators may {what}; partners and viewers read the governance record"
        )


def require_record_reader(principal: Principal) -> None:
    """Every signed-in role reads the governance record: it is the city's public account."""
    if principal.role not in (Role.operator, Role.partner, Role.viewer):
        raise ForbiddenError("this role may not read the governance record")


def require_report_reader(principal: Principal) -> None:
    """The yearly report is the city's: operators and viewers (city staff) read it. It counts
    every device's readings and lists every trial of the year, beyond what a partner may see."""
    if principal.role not in (Role.operator, Role.viewer):
        raise ForbiddenError(
            "only operators and viewers may read the yearly report; partners read the"
            " governance record"
        )


def sees_raw_data(principal: Principal) -> bool:
    """Viewers see data aggregated only; everyone else may read raw readings they can see."""
    return principal.role is not Role.viewer


def require_raw_data(
    principal: Principal, refusal: str, *, field: str | None = None
) -> None:
    """Refuse viewers anything made of raw readings, with `refusal` as the whole message."""
    if not sees_raw_data(principal):
        raise ForbiddenError(refusal, field=field)


def cell_min_count(principal: Principal, *, viewer_min_count: int) -> int | None:
    """The fewest readings a one-minute cell needs to count in this principal's buckets.

    None for whoever may read raw readings: their buckets hold every reading they can see. For
    viewers, every bucket is a sum of whole one-minute cells (aligned to the minute, never cut by
    the range asked for or by a trial's periods) of at least `viewer_min_count` readings each, and
    a cell with fewer is left out of every bucket. A security review rebuilt all raw readings from
    buckets cut to 100 ms around each reading; the same cells in every bucket also mean that no
    two buckets (of two intervals, two ranges, with and without a trial) differ by a few
    readings that their difference would give away.
    """
    if sees_raw_data(principal):
        return None
    return viewer_min_count


def sees_whole_sensors(principal: Principal) -> bool:
    """Operators and viewers see every sensor's whole series; partners see windows of them."""
    return principal.role is not Role.partner


def people_visibility_sql(principal: Principal) -> tuple[str, dict[str, object]]:
    """A WHERE condition on `people`: operators see everyone, others their own organisation."""
    if principal.is_operator:
        return "true", {}
    return "organisation_id = %(org)s", {"org": principal.organisation_id}


def device_visibility_sql(principal: Principal) -> tuple[str, dict[str, object]]:
    """A WHERE condition on `devices d`: partners see their own devices and their trials' devices."""
    if principal.role is not Role.partner:
        return "true", {}
    return (
        "(d.organisation_id = %(org)s OR EXISTS ("
        " SELECT 1 FROM trial_devices td JOIN trials t ON t.id = td.trial_id"
        " WHERE td.device_id = d.id AND (t.organisation_id = %(org)s OR EXISTS ("
        "  SELECT 1 FROM trial_partners p WHERE p.trial_id = t.id AND p.organisation_id = %(org)s))))",
        {"org": principal.organisation_id},
    )


def trial_visibility_sql(principal: Principal) -> tuple[str, dict[str, object]]:
    """A WHERE condition on `trials t` selecting the trials this principal may see."""
    if principal.role is Role.operator:
        return "true", {}
    if principal.role is Role.viewer:
        return "t.state <> 'draft'", {}
    return (
        "(t.organisation_id = %(org)s"
        " OR EXISTS (SELECT 1 FROM trial_partners p WHERE p.trial_id = t.id AND p.organisation_id = %(org)s)"
        " OR EXISTS (SELECT 1 FROM grants g WHERE g.trial_id = t.id AND g.organisation_id = %(org)s"
        " AND g.revoked_at IS NULL))",
        {"org": principal.organisation_id},
    )


def data_windows_sql(
    principal: Principal, *, trial_id: int | None
) -> tuple[str, dict[str, object]]:
    """A query of (sensor_id, windows tstzmultirange): when each sensor's readings are visible.

    With `trial_id`, only the trial's assignment periods count, whoever asks.
    """
    params: dict[str, object] = {"org": principal.organisation_id, "trial": trial_id}
    if principal.role is Role.partner:
        visible = """
            SELECT sensor_id, range_agg(w) AS windows FROM (
                SELECT s.id AS sensor_id, tstzrange(NULL, NULL) AS w
                  FROM sensors s JOIN devices d ON d.id = s.device_id
                 WHERE d.organisation_id = %(org)s
                UNION ALL
                SELECT s.id, tstzrange(td.starts_at, td.ends_at)
                  FROM trial_devices td
                  JOIN trials t ON t.id = td.trial_id
                  JOIN sensors s ON s.device_id = td.device_id
                 WHERE t.approved_at IS NOT NULL
                   AND (t.organisation_id = %(org)s OR EXISTS (
                        SELECT 1 FROM trial_partners p
                         WHERE p.trial_id = t.id AND p.organisation_id = %(org)s))
                UNION ALL
                SELECT s.id, tstzrange(td.starts_at, td.ends_at) * tstzrange(g.starts_at, g.ends_at)
                  FROM grants g
                  JOIN trials t ON t.id = g.trial_id
                  JOIN trial_devices td ON td.trial_id = g.trial_id
                  JOIN sensors s ON s.device_id = td.device_id
                 WHERE g.organisation_id = %(org)s AND g.revoked_at IS NULL
                   AND t.approved_at IS NOT NULL
            ) granted GROUP BY sensor_id"""
    else:
        visible = (
            "SELECT id AS sensor_id, '{(,)}'::tstzmultirange AS windows FROM sensors"
        )
    if trial_id is None:
        return visible, params
    return (
        f"""
        SELECT v.sensor_id, v.windows * tw.windows AS windows
          FROM ({visible}) v
          JOIN (SELECT s.id AS sensor_id, range_agg(tstzrange(td.starts_at, td.ends_at)) AS windows
                  FROM trial_devices td JOIN sensors s ON s.device_id = td.device_id
                 WHERE td.trial_id = %(trial)s GROUP BY s.id) tw ON tw.sensor_id = v.sensor_id""",
        params,
    )
