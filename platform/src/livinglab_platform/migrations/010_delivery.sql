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

-- The gaps in each device's seqs with the times around them: when the batch before the gap and
-- the batch after it arrived. Columns added at the end, so the view keeps its earlier columns.
CREATE OR REPLACE VIEW delivery_gaps AS
SELECT device_id, previous_seq + 1 AS first_missing, seq - 1 AS last_missing,
       seq - previous_seq - 1 AS missing, previous_received_at AS after_time,
       received_at AS before_time
FROM (SELECT device_id, seq, received_at,
             lag(seq) OVER (PARTITION BY device_id ORDER BY seq) AS previous_seq,
             lag(received_at) OVER (PARTITION BY device_id ORDER BY seq) AS previous_received_at
      FROM deliveries) s
WHERE seq - previous_seq > 1;

-- What the delivery pages read of the ledger: per device and hour, the batches received and the
-- seqs they span. Views run with their owner's rights, so the API's role reads these summaries
-- without being granted the ledger (`SELECT * FROM deliveries` stays refused to it).
CREATE VIEW deliveries_hourly AS
SELECT device_id, date_trunc('hour', received_at) AS hour, count(*) AS batches,
       sum(readings) AS readings, min(seq) AS first_seq, max(seq) AS last_seq
  FROM deliveries GROUP BY 1, 2;

-- The quarantine without its raw payloads: the size and the first 32 bytes (enough to see a
-- header or a JSON document's start). The payload stays with the ingest and the dashboards.
CREATE VIEW quarantine_entries AS
SELECT id, received_at, topic, device_id, seq, claimed_seq, reason, readings,
       octet_length(payload) AS payload_bytes, substring(payload FROM 1 FOR 32) AS payload_head
  FROM quarantine;

-- The services' roles (migration 006). The API reads the device events, the gaps, the hourly
-- summary and the quarantine's entries, and keeps the desired configurations (default privileges:
-- SELECT, INSERT, UPDATE); dashboards read all of it.
GRANT SELECT ON device_events, delivery_gaps TO livinglab_api;
REVOKE INSERT, UPDATE ON deliveries_hourly, quarantine_entries FROM livinglab_api;
GRANT SELECT ON device_configs, deliveries_hourly, quarantine_entries TO livinglab_readonly;
