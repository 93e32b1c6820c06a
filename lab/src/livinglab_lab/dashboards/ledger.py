"""The SQL of the panels that read the delivery ledger and ingest_stats, raw or by the hour.

Like the value panels' cells (panels.py), each query has two branches guarded by
`$__interval_ms`: below HOURS_FROM_MS the rows themselves (a ledger row per batch, a stats row
per interval), from there the hours that the ingest keeps in the same transaction (migration 012:
`ledger_hours`, `ingest_hours`). Once Grafana has replaced `$__interval_ms` one guard is a false
constant and the planner drops its branch; a year then reads 8,760 hours per device or instance
instead of a row per batch or interval.

Both branches give the same answer over whole hours (tests/dashboards/test_ledger_hours.py):
completeness is batches over the span of their seqs, which hours add up exactly; the gaps over
hours come from the hours that have one (a seq missing inside the hour, or between the hour's
first seq and the last seq of the hour before), read exactly from those hours' ledger rows.
"""

from __future__ import annotations

from livinglab_lab.dashboards.panels import HOURS_FROM_MS

__all__ = ["INGEST_ROWS", "LEDGER_GAPS", "ledger_spans"]


def ledger_spans(device: str) -> str:
    """Batches received in the range with the seqs they span, for the device `device` (SQL).

    Completeness is `sum(received) / (max(last_seq) - min(first_seq) + 1)` over these rows.
    """
    return f"""
    SELECT 1::bigint AS received, seq AS first_seq, seq AS last_seq FROM deliveries
     WHERE $__interval_ms < {HOURS_FROM_MS} AND device_id = {device}
       AND $__timeFilter(received_at)
    UNION ALL
    SELECT batches, first_seq, last_seq FROM ledger_hours
     WHERE $__interval_ms >= {HOURS_FROM_MS} AND device_id = {device} AND $__timeFilter(bucket)"""


# A device's gaps between the batches received in the range, the newest 100. Over hours: the 100
# newest hours with a gap, from the hours of the range (also the one the range starts in), then
# those hours' ledger rows in the range, each hour's first seq compared with the last seq of the
# hour before it that has batches (lag over the hours skips an hour without any).
LEDGER_GAPS = f"""
SELECT previous_seq + 1 AS "od", seq - 1 AS "do", seq - previous_seq - 1 AS "manjka"
  FROM (SELECT seq, lag(seq) OVER (ORDER BY seq) AS previous_seq FROM deliveries
         WHERE $__interval_ms < {HOURS_FROM_MS} AND device_id = ${{device:sqlstring}}
           AND $__timeFilter(received_at)) g
 WHERE seq - previous_seq > 1
UNION ALL
SELECT g.previous_seq + 1, g.seq - 1, g.seq - g.previous_seq - 1
  FROM (SELECT bucket, previous_last
          FROM (SELECT bucket, batches, first_seq, last_seq,
                       lag(last_seq) OVER (ORDER BY bucket) AS previous_last
                  FROM ledger_hours
                 WHERE $__interval_ms >= {HOURS_FROM_MS} AND device_id = ${{device:sqlstring}}
                   AND bucket > $__timeFrom()::timestamptz - interval '1 hour'
                   AND bucket <= $__timeTo()::timestamptz) h
         WHERE last_seq - first_seq + 1 > batches OR first_seq > previous_last + 1
         ORDER BY bucket DESC LIMIT 100) h
 CROSS JOIN LATERAL (
       SELECT seq, lag(seq, 1, h.previous_last) OVER (ORDER BY seq) AS previous_seq
         FROM deliveries
        WHERE device_id = ${{device:sqlstring}} AND received_at >= h.bucket
          AND received_at < h.bucket + interval '1 hour' AND $__timeFilter(received_at)) g
 WHERE g.seq - g.previous_seq > 1
 ORDER BY 2 DESC LIMIT 100"""

# ingest_stats' rows in the range, or their hours: the same columns, which add up. The lag's mean
# is lag_s_sum / lag_rows (the mean of the intervals' lags), its worst lag_s_max; of the
# transaction times, txn_ms_p50_sum / txns is the median of each interval weighted by its
# transactions, txn_ms_p95_max the worst interval's 95th percentile (percentiles do not add up).
INGEST_ROWS = f"""
    SELECT time, interval_s, readings, batches, duplicates, queue_depth AS queue_depth_max,
           coalesce(lag_s, 0) AS lag_s_sum, (lag_s IS NOT NULL)::int AS lag_rows,
           lag_s AS lag_s_max, coalesce(txns, 0) AS txns,
           coalesce(txn_ms_p50 * txns, 0) AS txn_ms_p50_sum, txn_ms_p95 AS txn_ms_p95_max,
           txn_ms_max
      FROM ingest_stats WHERE $__interval_ms < {HOURS_FROM_MS} AND $__timeFilter(time)
    UNION ALL
    SELECT bucket, interval_s, readings, batches, duplicates, queue_depth_max, lag_s_sum,
           lag_rows, lag_s_max, txns, txn_ms_p50_sum, txn_ms_p95_max, txn_ms_max
      FROM ingest_hours WHERE $__interval_ms >= {HOURS_FROM_MS} AND $__timeFilter(bucket)"""
