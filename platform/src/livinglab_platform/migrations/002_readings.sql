-- Measurements, their rollups, the delivery ledger, the quarantine and ingest statistics.

-- Narrow rows written by binary COPY. One index only: (sensor_id, time DESC) serves every read
-- (one sensor over a range); TimescaleDB's default (time DESC) index would be a second B-tree to
-- maintain on every row, and index maintenance, not the hypertable, sets the write limit.
CREATE TABLE readings (
    time      timestamptz NOT NULL,
    sensor_id integer NOT NULL,
    value     double precision NOT NULL
);
SELECT create_hypertable('readings', 'time', chunk_time_interval => interval '1 day',
                         create_default_indexes => false);
CREATE INDEX readings_sensor_time ON readings (sensor_id, time DESC);

-- Rollups kept by the ingest service (count, sum, min, max, sum of squares per bucket): mean and
-- standard deviation follow from them, and they merge by addition, so each batch upserts.
CREATE TABLE readings_1m (
    bucket    timestamptz NOT NULL,
    sensor_id integer NOT NULL,
    count     bigint NOT NULL,
    sum       double precision NOT NULL,
    min       double precision NOT NULL,
    max       double precision NOT NULL,
    sum_sq    double precision NOT NULL,
    PRIMARY KEY (sensor_id, bucket)
);
SELECT create_hypertable('readings_1m', 'bucket', chunk_time_interval => interval '7 days',
                         create_default_indexes => false);

CREATE TABLE readings_1h (LIKE readings_1m INCLUDING ALL);
SELECT create_hypertable('readings_1h', 'bucket', chunk_time_interval => interval '90 days',
                         create_default_indexes => false);

-- One row per stored batch: (device, seq) is unique for ever, so a redelivered batch is dropped.
CREATE TABLE deliveries (
    device_id   text NOT NULL,
    seq         bigint NOT NULL,
    readings    integer NOT NULL,
    quarantined integer NOT NULL DEFAULT 0,
    clock_synced boolean,
    received_at timestamptz NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (device_id, seq)
);

-- Per-device delivery completeness: the gaps in each device's sequence numbers.
CREATE VIEW delivery_gaps AS
SELECT device_id, previous_seq + 1 AS first_missing, seq - 1 AS last_missing, seq - previous_seq - 1 AS missing
FROM (SELECT device_id, seq, lag(seq) OVER (PARTITION BY device_id ORDER BY seq) AS previous_seq
      FROM deliveries) s
WHERE seq - previous_seq > 1;

CREATE VIEW delivery_completeness AS
SELECT device_id, count(*) AS batches_received, min(seq) AS first_seq, max(seq) AS last_seq,
       count(*)::double precision / (max(seq) - min(seq) + 1) AS completeness
FROM deliveries GROUP BY device_id;

-- Input that could not be stored, with the reason and the raw bytes, never silently dropped.
CREATE TABLE quarantine (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text NOT NULL,
    device_id   text,
    seq         bigint,
    reason      text NOT NULL,
    readings    integer,
    payload     bytea NOT NULL
);
CREATE INDEX quarantine_received_at ON quarantine (received_at DESC);

CREATE TABLE ingest_stats (
    time             timestamptz NOT NULL,
    instance         text NOT NULL,
    interval_s       double precision NOT NULL,
    readings         bigint NOT NULL,
    batches          bigint NOT NULL,
    duplicates       bigint NOT NULL,
    quarantined      bigint NOT NULL,
    readings_per_s   double precision NOT NULL,
    lag_s            double precision,
    queue_depth      integer NOT NULL,
    broker_dropped   bigint
);
SELECT create_hypertable('ingest_stats', 'time', chunk_time_interval => interval '7 days');
