"""The ledger's hours (`deliveries_1h`, migration 012), merged in the transaction that writes the ledger.

Dashboards read a device's completeness and gaps over long ranges from these hours instead of a
row per batch. The writer merges its new batches last, after the readings' rollups, so that the
row of a (device, hour), which every writer with a batch of that device adds to, is locked only
until the commit that follows. Rows are merged in (device, hour) order, the order every writer
locks them in.
"""

from __future__ import annotations

from datetime import datetime

from livinglab_platform.core.db import Connection

__all__ = ["merge_ledger_hours"]

_MERGE = """
INSERT INTO deliveries_1h AS h (device_id, bucket, batches, first_seq, last_seq, readings,
                                quarantined)
SELECT device_id, time_bucket(interval '1 hour', received_at), count(*), min(seq), max(seq),
       sum(readings), sum(quarantined)
  FROM unnest(%s::text[], %s::int8[], %s::timestamptz[], %s::int4[], %s::int4[])
       AS b (device_id, seq, received_at, readings, quarantined)
 GROUP BY 1, 2 ORDER BY 1, 2
ON CONFLICT (device_id, bucket) DO UPDATE SET
    batches = h.batches + excluded.batches,
    first_seq = least(h.first_seq, excluded.first_seq),
    last_seq = greatest(h.last_seq, excluded.last_seq),
    readings = h.readings + excluded.readings,
    quarantined = h.quarantined + excluded.quarantined
"""


def merge_ledger_hours(
    conn: Connection,
    *,
    device_id: list[str],
    seq: list[int],
    received_at: list[datetime],
    readings: list[int],
    quarantined: list[int],
) -> None:
    """Add the batches the ledger just recorded (one entry each) to their hours; the caller commits."""
    if device_id:
        conn.execute(_MERGE, (device_id, seq, received_at, readings, quarantined))
