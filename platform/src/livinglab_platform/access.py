"""Who is asking, and what they may see: the one place the platform's access rules are written.

- operator: everything.
- viewer (city staff): every organisation, site, device and non-draft trial; data only aggregated.
- partner: the trials of their organisation (as owner or listed partner) and trials granted to it;
  the data of the devices their organisation owns, of devices assigned to their trials (inside each
  assignment's period, once the trial has been approved), and of granted trials (inside the
  grant's period as well).
"""

from __future__ import annotations

from dataclasses import dataclass

from livinglab_platform.core.errors import ForbiddenError
from livinglab_platform.registry.schemas import Role

__all__ = [
    "Principal",
    "cli_principal",
    "data_windows_sql",
    "require_operator",
    "trial_visibility_sql",
]


@dataclass(frozen=True)
class Principal:
    """The person behind a request, or the command line (an operator without a person row)."""

    person_id: int | None
    name: str
    organisation_id: str | None
    role: Role

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
