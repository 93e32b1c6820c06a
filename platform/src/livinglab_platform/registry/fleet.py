"""The device fleet as people see it: registry rows with live status and delivery completeness."""

from __future__ import annotations

from psycopg.rows import class_row

from livinglab_platform.access import Principal, device_visibility_sql
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import NotFoundError
from livinglab_platform.registry.schemas import DevicePublic

__all__ = ["get_device", "list_devices"]


_QUERY = """
SELECT d.id, d.site_id, d.organisation_id, coalesce(d.description, '') AS description,
       d.revoked_at IS NOT NULL AS revoked, s.online, s.last_seen, s.outbox_depth,
       s.clock_synced, s.clock_offset_ns / 1e6 AS clock_offset_ms, s.agent_version,
       c.completeness, coalesce(c.batches_received, 0) AS batches_received,
       coalesce((SELECT json_agg(json_build_object('id', x.id, 'key', x.key, 'quantity', x.quantity,
                                                   'unit', x.unit) ORDER BY x.key)
                   FROM sensors x WHERE x.device_id = d.id), '[]') AS sensors
  FROM devices d
  LEFT JOIN device_status s ON s.device_id = d.id
  LEFT JOIN delivery_completeness c ON c.device_id = d.id
"""


_DEVICE_ROW = class_row(DevicePublic)


def list_devices(
    conn: Connection, principal: Principal, *, site_id: str | None = None
) -> list[DevicePublic]:
    """The devices this principal may see, by id."""
    condition, params = device_visibility_sql(principal)
    if site_id is not None:
        condition += " AND d.site_id = %(site)s"
        params = {**params, "site": site_id}
    with conn.cursor(row_factory=_DEVICE_ROW) as cur:
        return cur.execute(
            f"{_QUERY} WHERE {condition} ORDER BY d.id", params
        ).fetchall()


def get_device(conn: Connection, principal: Principal, device_id: str) -> DevicePublic:
    """One device with its status, if visible to the principal."""
    condition, params = device_visibility_sql(principal)
    with conn.cursor(row_factory=_DEVICE_ROW) as cur:
        found = cur.execute(
            f"{_QUERY} WHERE d.id = %(id)s AND {condition}", {**params, "id": device_id}
        ).fetchone()
    if found is None:
        raise NotFoundError(f"device {device_id!r} not found")
    return found
