"""The device fleet as people see it: registry rows with live status and delivery completeness.

The online rule: a device is online when its last status said `online` and arrived less than
SILENT_AFTER_HEARTBEATS heartbeat intervals ago. The interval is the one of its desired
configuration (`heartbeat_interval_s`), else the agent's default. A retained `online` outlives a
device that died without its last will being sent (the broker was down when the connection broke,
or the device lost power while the broker was restarting): it is not believed after that time.
"""

from __future__ import annotations

from psycopg.rows import class_row

from livinglab_platform.access import Principal, device_visibility_sql
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import NotFoundError
from livinglab_platform.registry.schemas import DevicePublic

__all__ = [
    "DEFAULT_HEARTBEAT_INTERVAL_S",
    "SILENT_AFTER_HEARTBEATS",
    "get_device",
    "list_devices",
]

# The agent's default `heartbeat_interval_s` (livinglab_edge_agent.config.AgentConfig).
DEFAULT_HEARTBEAT_INTERVAL_S = 30.0
# Three heartbeats missed: one lost to a reconnect, one late under load, and one more.
SILENT_AFTER_HEARTBEATS = 3

_QUERY = f"""
SELECT d.id, d.site_id, d.organisation_id, coalesce(d.description, '') AS description,
       d.revoked_at IS NOT NULL AS revoked,
       s.online AND s.last_seen > now() - make_interval(secs => h.silent_after_s) AS online,
       h.silent_after_s, s.last_seen, s.outbox_depth,
       s.clock_synced, s.clock_offset_ns / 1e6 AS clock_offset_ms, s.agent_version,
       c.completeness, coalesce(c.batches_received, 0) AS batches_received,
       coalesce((SELECT json_agg(json_build_object('id', x.id, 'key', x.key, 'quantity', x.quantity,
                                                   'unit', x.unit) ORDER BY x.key)
                   FROM sensors x WHERE x.device_id = d.id), '[]') AS sensors
  FROM devices d
  LEFT JOIN device_configs g ON g.device_id = d.id
  CROSS JOIN LATERAL (SELECT {SILENT_AFTER_HEARTBEATS} * coalesce(
        (g.document ->> 'heartbeat_interval_s')::double precision,
        {DEFAULT_HEARTBEAT_INTERVAL_S}) AS silent_after_s) h
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
