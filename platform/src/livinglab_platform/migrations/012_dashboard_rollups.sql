-- Hourly rollups of the delivery ledger and of the ingest statistics, and the writers'
-- transaction times (issue 11).
--
-- A year of the ledger is a row per batch (525,600 per device at a batch a minute) and a year of
-- ingest_stats a row per interval and instance: the dashboards' completeness, gaps and ingest
-- panels read them row by row and took 0.75-1.8 s over a year (`livinglab bench dashboards`).
-- TimescaleDB's Apache edition has no continuous aggregates, so the writers keep these hours
-- themselves, in the transaction that writes the rows they sum: the ingest's writer
-- (ingest/writer.py) for the ledger and its statistics recorder (ingest/stats.py) for the
-- statistics. Whoever loads either table in bulk calls dashboard_rollups_rebuild afterwards.

-- How long each of the writers' transactions took (BEGIN to COMMIT returned), per interval: how
-- many there were, the median, the 95th percentile and the longest, in milliseconds. NULL times
-- when the interval had no transaction, and on rows written before this migration.
ALTER TABLE ingest_stats ADD COLUMN txns integer,
                         ADD COLUMN txn_ms_p50 double precision,
                         ADD COLUMN txn_ms_p95 double precision,
                         ADD COLUMN txn_ms_max double precision;

-- Per device and hour (UTC) of received_at: the batches the ledger recorded, the lowest and
-- highest seq among them, and their readings stored and quarantined. Completeness over hours is
-- sum(batches) / (max(last_seq) - min(first_seq) + 1); a gap across an hour boundary is the
-- next hour's first_seq against this hour's last_seq (dashboards/README.md).
CREATE TABLE deliveries_1h (
    device_id   text NOT NULL,
    bucket      timestamptz NOT NULL,
    batches     bigint NOT NULL,
    first_seq   bigint NOT NULL,
    last_seq    bigint NOT NULL,
    readings    bigint NOT NULL,
    quarantined bigint NOT NULL,
    PRIMARY KEY (device_id, bucket)
);

-- Per instance and hour: the sums of the counts, the lag's sum over the rows that have one (for
-- the mean) and its largest value, the largest queue, and of the transaction times the count,
-- the sum of each interval's median times its count (for the mean of the medians weighted by
-- transactions), the largest 95th percentile of an interval and the longest transaction.
-- Percentiles do not add up, so an hour keeps the worst interval's rather than its own.
CREATE TABLE ingest_stats_1h (
    bucket          timestamptz NOT NULL,
    instance        text NOT NULL,
    interval_s      double precision NOT NULL,
    readings        bigint NOT NULL,
    batches         bigint NOT NULL,
    duplicates      bigint NOT NULL,
    quarantined     bigint NOT NULL,
    lag_s_sum       double precision NOT NULL,
    lag_rows        bigint NOT NULL,
    lag_s_max       double precision,
    queue_depth_max integer NOT NULL,
    txns            bigint NOT NULL,
    txn_ms_p50_sum  double precision NOT NULL,
    txn_ms_p95_max  double precision,
    txn_ms_max      double precision,
    PRIMARY KEY (instance, bucket)
);

-- Both rollups of [start, end) again from their tables: for rows loaded in bulk (the benchmark,
-- tests) and for what was stored before this migration.
CREATE FUNCTION dashboard_rollups_rebuild(start timestamptz, "end" timestamptz) RETURNS void
    LANGUAGE sql AS $$
    DELETE FROM deliveries_1h WHERE bucket >= time_bucket(interval '1 hour', start)
                                AND bucket < "end";
    INSERT INTO deliveries_1h (device_id, bucket, batches, first_seq, last_seq, readings,
                               quarantined)
    SELECT device_id, time_bucket(interval '1 hour', received_at), count(*), min(seq), max(seq),
           sum(readings), sum(quarantined)
      FROM deliveries
     WHERE received_at >= time_bucket(interval '1 hour', start) AND received_at < "end"
     GROUP BY 1, 2;
    DELETE FROM ingest_stats_1h WHERE bucket >= time_bucket(interval '1 hour', start)
                                  AND bucket < "end";
    INSERT INTO ingest_stats_1h (bucket, instance, interval_s, readings, batches, duplicates,
                                 quarantined, lag_s_sum, lag_rows, lag_s_max, queue_depth_max, txns,
                                 txn_ms_p50_sum, txn_ms_p95_max, txn_ms_max)
    SELECT time_bucket(interval '1 hour', time), instance, sum(interval_s), sum(readings),
           sum(batches), sum(duplicates), sum(quarantined), coalesce(sum(lag_s), 0), count(lag_s),
           max(lag_s), max(queue_depth), coalesce(sum(txns), 0),
           coalesce(sum(txn_ms_p50 * txns), 0), max(txn_ms_p95), max(txn_ms_max)
      FROM ingest_stats
     WHERE time >= time_bucket(interval '1 hour', start) AND time < "end"
     GROUP BY 1, 2;
$$;
SELECT dashboard_rollups_rebuild('-infinity', 'infinity');

-- What the dashboards read of them: counts and times, nothing of people, tokens or payloads.
CREATE VIEW ledger_hours AS
SELECT device_id, bucket, batches, first_seq, last_seq, readings, quarantined FROM deliveries_1h;
CREATE VIEW ingest_hours AS
SELECT bucket, instance, interval_s, readings, batches, duplicates, quarantined, lag_s_sum,
       lag_rows, lag_s_max, queue_depth_max, txns, txn_ms_p50_sum, txn_ms_p95_max, txn_ms_max
  FROM ingest_stats_1h;

-- The ingest keeps the two tables (ON CONFLICT ... DO UPDATE reads the row it adds to); the
-- dashboards read the views; the API's default privileges (migration 006) give it none of them.
REVOKE ALL ON deliveries_1h, ingest_stats_1h, ledger_hours, ingest_hours FROM livinglab_api;
GRANT SELECT, INSERT, UPDATE ON deliveries_1h, ingest_stats_1h TO livinglab_ingest;
GRANT SELECT ON ledger_hours, ingest_hours TO livinglab_readonly;
REVOKE EXECUTE ON FUNCTION dashboard_rollups_rebuild(timestamptz, timestamptz) FROM PUBLIC;
