"""The device fleet as people see it: registry rows with live status and delivery completeness."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row

from livinglab_platform.access import Principal
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import NotFoundError
from livinglab_platform.registry.schemas import DevicePublic, Role, SensorPublic

__all__ = ["device_visibility_sql", "get_device", "list_devices"]


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


_QUERY = """
SELECT d.id, d.site_id, d.organisation_id, d.description, d.revoked_at,
       s.online, s.last_seen, s.outbox_depth, s.clock_synced, s.clock_offset_ns, s.agent_version,
       c.completeness, coalesce(c.batches_received, 0) AS batches_received,
       coalesce((SELECT json_agg(json_build_object('id', x.id, 'key', x.key, 'quantity', x.quantity,
                                                   'unit', x.unit) ORDER BY x.key)
                   FROM sensors x WHERE x.device_id = d.id), '[]') AS sensors
  FROM devices d
  LEFT JOIN device_status s ON s.device_id = d.id
  LEFT JOIN delivery_completeness c ON c.device_id = d.id
"""


def _device(row: dict[str, Any]) -> DevicePublic:
    offset = row["clock_offset_ns"]
    return DevicePublic(
        id=row["id"],
        site_id=row["site_id"],
        organisation_id=row["organisation_id"],
        description=row["description"] or "",
        revoked=row["revoked_at"] is not None,
        sensors=[SensorPublic(**s) for s in row["sensors"]],
        online=row["online"],
        last_seen=row["last_seen"],
        outbox_depth=row["outbox_depth"],
        clock_synced=row["clock_synced"],
        clock_offset_ms=None if offset is None else offset / 1e6,
        agent_version=row["agent_version"],
        completeness=row["completeness"],
        batches_received=row["batches_received"],
    )


def list_devices(
    conn: Connection, principal: Principal, *, site_id: str | None = None
) -> list[DevicePublic]:
    """The devices this principal may see, by id."""
    condition, params = device_visibility_sql(principal)
    if site_id is not None:
        condition += " AND d.site_id = %(site)s"
        params = {**params, "site": site_id}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"{_QUERY} WHERE {condition} ORDER BY d.id", params
        ).fetchall()
    return [_device(r) for r in rows]


def get_device(conn: Connection, principal: Principal, device_id: str) -> DevicePublic:
    """One device with its status, if visible to the principal."""
    condition, params = device_visibility_sql(principal)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"{_QUERY} WHERE d.id = %(id)s AND {condition}", {**params, "id": device_id}
        ).fetchone()
    if row is None:
        raise NotFoundError(f"device {device_id!r} not found")
    return _device(row)
