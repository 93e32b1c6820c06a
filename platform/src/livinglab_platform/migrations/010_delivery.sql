-- Delivery problems visible without SQL, and remote configuration (issue 9).

-- The seq an undecodable batch claimed, read from its header where the header is readable
-- (ingest/decode.py `claimed_seq`): such a batch has no seq of its own and leaves a gap in the
-- ledger, and this column explains the gap. A nullable column without a default: no rewrite.
ALTER TABLE quarantine ADD COLUMN claimed_seq bigint;
CREATE INDEX quarantine_device_received_at ON quarantine (device_id, received_at DESC);

-- The desired configuration of each device as the platform last published it, retained, on the
-- device's config topic (registry/remote_config.py): the whole document, so that the retained
-- message always carries every field ever set, and its revision, one more with each change.
CREATE TABLE device_configs (
    device_id   text PRIMARY KEY REFERENCES devices (id),
    revision    bigint NOT NULL CHECK (revision >= 0),
    document    jsonb NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now(),
    set_by      text NOT NULL
);

-- What the delivery pages read of the ledger, for one device and period, through functions that
-- run with their owner's rights: the API's role reads these summaries without being granted the
-- ledger (`SELECT * FROM deliveries` stays refused to it). The index lets each read only the
-- period's rows: over the whole ledger, 30 days of a batch every 10 s (259,200 rows) took 1.4 s
-- for a day's report. One more index entry per batch (not per reading) for the ingest.
CREATE INDEX deliveries_device_received_at ON deliveries (device_id, received_at);

-- Per hour (UTC) of [from_time, to_time): batches received, readings, the seqs they span.
CREATE FUNCTION delivery_hours(device text, from_time timestamptz, to_time timestamptz)
RETURNS TABLE (hour timestamptz, batches bigint, readings bigint, first_seq bigint, last_seq bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT date_trunc('hour', received_at, 'UTC'), count(*), sum(readings), min(seq), max(seq)
      FROM deliveries
     WHERE device_id = device AND received_at >= from_time AND received_at < to_time
     GROUP BY 1 ORDER BY 1
$$;

-- The seq of the last batch received before `moment`: where a period's expected seqs start.
CREATE FUNCTION delivery_seq_before(device text, moment timestamptz) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT seq FROM deliveries WHERE device_id = device AND received_at < moment
     ORDER BY received_at DESC LIMIT 1
$$;

-- The gaps in the seqs of the batches received in [from_time, to_time) and the last one before
-- it, with when the batch before and the batch after each gap arrived.
CREATE FUNCTION delivery_gaps_between(device text, from_time timestamptz, to_time timestamptz)
RETURNS TABLE (first_missing bigint, last_missing bigint, missing bigint,
               after_time timestamptz, before_time timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT previous_seq + 1, seq - 1, seq - previous_seq - 1, previous_received_at, received_at
      FROM (SELECT seq, received_at, lag(seq) OVER w AS previous_seq,
                   lag(received_at) OVER w AS previous_received_at
              FROM (SELECT seq, received_at FROM deliveries
                     WHERE device_id = device AND received_at >= from_time
                       AND received_at < to_time
                    UNION ALL
                    (SELECT seq, received_at FROM deliveries
                      WHERE device_id = device AND received_at < from_time
                      ORDER BY received_at DESC LIMIT 1)) period
            WINDOW w AS (ORDER BY seq)) s
     WHERE seq - previous_seq > 1 AND received_at >= from_time
     ORDER BY 1
$$;

-- The quarantine without its raw payloads: the size and the first 32 bytes (enough to see a
-- header or a JSON document's start). The payload stays with the ingest and the dashboards.
CREATE VIEW quarantine_entries AS
SELECT id, received_at, topic, device_id, seq, claimed_seq, reason, readings,
       octet_length(payload) AS payload_bytes, substring(payload FROM 1 FOR 32) AS payload_head
  FROM quarantine;

-- The services' roles (migration 006). The API reads the device events, the delivery functions'
-- answers and the quarantine's entries, and keeps the desired configurations (default
-- privileges: SELECT, INSERT, UPDATE). Dashboards read the configurations, but not these entries:
-- a payload's first bytes are a device's, and Grafana's read-only login sees the quarantine only
-- as `quarantine_reasons` (migration 009), without payloads.
GRANT SELECT ON device_events TO livinglab_api;
REVOKE INSERT, UPDATE ON quarantine_entries FROM livinglab_api;
GRANT SELECT ON device_configs TO livinglab_readonly;
REVOKE EXECUTE ON FUNCTION delivery_hours(text, timestamptz, timestamptz),
    delivery_seq_before(text, timestamptz),
    delivery_gaps_between(text, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION delivery_hours(text, timestamptz, timestamptz),
    delivery_seq_before(text, timestamptz),
    delivery_gaps_between(text, timestamptz, timestamptz) TO livinglab_api, livinglab_readonly;
