-- A fingerprint of each stored batch's readings, so that a batch arriving with a seq already in the
-- ledger can be told apart: the same readings again (a re-send, dropped as a duplicate) or other
-- readings under a reused seq (a device whose counter was reset: quarantined, not dropped).
--
-- It is a 64-bit hash over (time_ns, sensor key, value) of every reading, the same for both
-- encodings and any order of the readings; `Fingerprints` in ingest/writer.py defines it, and
-- that definition is stored data: changing it makes re-sends of older batches look different.
-- Batches stored before this migration have NULL, which counts as "same readings" (as before).
-- A nullable column without a default is added without rewriting the table.
ALTER TABLE deliveries ADD COLUMN fingerprint bigint;
