"""A device's delivery problems without SQL: its quarantined messages, events, gaps, completeness.

Read through migration 010 (the view `quarantine_entries`, the functions `delivery_hours`,
`delivery_seq_before`, `delivery_gaps_between`) and from `device_events`: the API's role is never
granted the ledger or the raw payloads. Who may
read what is decided in access.py: the device's page, events and gaps whoever sees the device;
its quarantined messages operators and the partners of its organisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg.rows import class_row

from livinglab_platform.access import (
    Principal,
    quarantine_visibility_sql,
    require_delivery_reader,
    sees_latest_readings,
)
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import InvalidInputError, NotFoundError
from livinglab_platform.core.local_time import LJUBLJANA
from livinglab_platform.registry.fleet import get_device
from livinglab_platform.registry.schemas import (
    DeliveryBucketPublic,
    DeliveryGapPublic,
    DeliveryPublic,
    DeviceEventPublic,
    Interval,
    QuarantineEntryPublic,
)

__all__ = [
    "MAX_PERIOD",
    "LatestReading",
    "delivery",
    "device_events",
    "get_quarantined",
    "latest_readings",
    "list_quarantined",
]

# A delivery report covers at most this long (367 days of hours is 8,808 buckets).
MAX_PERIOD = timedelta(days=367)

_ENTRY = """
SELECT q.id, q.received_at, q.topic, q.device_id, q.seq, q.claimed_seq, q.reason, q.readings,
       q.payload_bytes, encode(q.payload_head, 'hex') AS payload_head
  FROM quarantine_entries q
"""


@dataclass(frozen=True)
class LatestReading:
    """A sensor of a device with its latest reading, when the principal may read it."""

    key: str
    quantity: str
    unit: str
    time: datetime | None
    value: float | None


def latest_readings(
    conn: Connection, principal: Principal, device_id: str
) -> list[LatestReading]:
    """The device's sensors, each with its latest value for those who see the device's raw data
    (access.sees_latest_readings); for others the sensors without values."""
    device = get_device(conn, principal, device_id)
    if not sees_latest_readings(principal, device.organisation_id):
        return [
            LatestReading(s.key, s.quantity, s.unit, None, None) for s in device.sensors
        ]
    # One index probe per sensor: readings_sensor_time is (sensor_id, time DESC).
    rows = conn.execute(
        "SELECT s.key, s.quantity, s.unit, r.time, r.value FROM sensors s"
        " LEFT JOIN LATERAL (SELECT time, value FROM readings WHERE sensor_id = s.id"
        "   ORDER BY time DESC LIMIT 1) r ON true"
        " WHERE s.device_id = %s ORDER BY s.key",
        (device_id,),
    ).fetchall()
    return [LatestReading(*row) for row in rows]


def list_quarantined(
    conn: Connection,
    principal: Principal,
    *,
    device_id: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[QuarantineEntryPublic]:
    """Quarantined messages this principal may read, newest first.

    With `device_id`, the device must be visible and its quarantine readable by the principal
    (404 and 403 otherwise); without, the list holds only what the principal may read.
    """
    if device_id is not None:
        device = get_device(conn, principal, device_id)
        require_delivery_reader(principal, device.organisation_id)
    condition, params = quarantine_visibility_sql(principal)
    if device_id is not None:
        condition += " AND q.device_id = %(device)s"
    if since is not None:
        condition += " AND q.received_at >= %(since)s"
    params = {**params, "device": device_id, "since": since, "limit": limit}
    with conn.cursor(row_factory=class_row(QuarantineEntryPublic)) as cur:
        return cur.execute(
            f"{_ENTRY} WHERE {condition} ORDER BY q.received_at DESC, q.id DESC"
            " LIMIT %(limit)s",
            params,
        ).fetchall()


def get_quarantined(
    conn: Connection, principal: Principal, entry_id: int
) -> QuarantineEntryPublic:
    """One quarantined message; one the principal may not read does not exist for them (404)."""
    condition, params = quarantine_visibility_sql(principal)
    with conn.cursor(row_factory=class_row(QuarantineEntryPublic)) as cur:
        found = cur.execute(
            f"{_ENTRY} WHERE q.id = %(id)s AND {condition}", {**params, "id": entry_id}
        ).fetchone()
    if found is None:
        raise NotFoundError(f"quarantined message {entry_id} not found")
    return found


def device_events(
    conn: Connection, principal: Principal, device_id: str, *, limit: int = 50
) -> list[DeviceEventPublic]:
    """The device's latest events (config applied or refused, outbox purges, errors)."""
    get_device(conn, principal, device_id)
    with conn.cursor(row_factory=class_row(DeviceEventPublic)) as cur:
        return cur.execute(
            "SELECT time, type, revision, count, message FROM device_events"
            " WHERE device_id = %s ORDER BY time DESC LIMIT %s",
            (device_id, limit),
        ).fetchall()


def delivery(
    conn: Connection,
    principal: Principal,
    device_id: str,
    *,
    start: datetime,
    end: datetime,
    interval: Interval = Interval.hour,
) -> DeliveryPublic:
    """Batches received and seqs missing per hour or Ljubljana day, and the gaps, in [start, end).

    A bucket's expected count runs from after the highest seq of the bucket before (before
    `start`: the seq of the last batch received then) to its own highest, so a gap counts where
    the batch after it arrived. Gaps are those among the period's batches and the last one
    before it, each with the quarantined messages (visible to the principal) whose claimed seq
    lies in it. Reads the ledger through migration 010's functions, by (device, received_at).
    """
    if end <= start:
        raise InvalidInputError("the period must end after it starts", field="to")
    if end - start > MAX_PERIOD:
        raise InvalidInputError(
            f"a delivery report covers at most {MAX_PERIOD.days} days", field="to"
        )
    device = get_device(conn, principal, device_id)
    previous = conn.execute(
        "SELECT delivery_seq_before(%s, %s)", (device_id, start)
    ).fetchone()
    last_seq = previous[0] if previous else None
    rows = conn.execute(
        "SELECT hour, batches, readings, first_seq, last_seq FROM delivery_hours(%s, %s, %s)",
        (device_id, start, end),
    ).fetchall()
    buckets: dict[datetime, list[int]] = {}
    for hour, batches, readings, first_seq, top_seq in rows:
        key = _bucket(hour, interval)
        b = buckets.setdefault(key, [0, 0, first_seq, top_seq])
        b[0] += batches
        b[1] += int(readings)
        b[3] = max(b[3], top_seq)
    result = []
    for key, (batches, readings, first_seq, top_seq) in buckets.items():
        # Seqs may arrive out of order: the expected count is never below what arrived.
        expected = max(
            batches, top_seq - (first_seq - 1 if last_seq is None else last_seq)
        )
        last_seq = top_seq if last_seq is None else max(last_seq, top_seq)
        result.append(
            DeliveryBucketPublic(
                start=key,
                batches=batches,
                readings=readings,
                expected=expected,
                completeness=batches / expected,
            )
        )
    batches = sum(b.batches for b in result)
    expected = sum(b.expected or 0 for b in result)
    return DeliveryPublic(
        device_id=device.id,
        start=start,
        end=end,
        interval=interval,
        batches=batches,
        expected=expected,
        completeness=batches / expected if expected else None,
        buckets=result,
        gaps=_gaps(conn, principal, device_id, start=start, end=end),
    )


def _bucket(hour: datetime, interval: Interval) -> datetime:
    if interval is Interval.hour:
        return hour
    local = hour.astimezone(LJUBLJANA)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _gaps(
    conn: Connection,
    principal: Principal,
    device_id: str,
    *,
    start: datetime,
    end: datetime,
) -> list[DeliveryGapPublic]:
    condition, params = quarantine_visibility_sql(principal)
    with conn.cursor(row_factory=class_row(DeliveryGapPublic)) as cur:
        return cur.execute(
            f"""
            SELECT g.first_missing, g.last_missing, g.missing, g.after_time, g.before_time,
                   coalesce((SELECT array_agg(q.id ORDER BY q.id) FROM quarantine_entries q
                              WHERE q.device_id = %(device)s
                                AND q.claimed_seq BETWEEN g.first_missing AND g.last_missing
                                AND {condition}), '{{}}') AS quarantined
              FROM delivery_gaps_between(%(device)s, %(start)s, %(end)s) g
             ORDER BY g.first_missing""",
            {**params, "device": device_id, "start": start, "end": end},
        ).fetchall()
