-- Evidence files (issue 10, "The record"): a document stored with its evidence row, in the
-- database, so the record and its proof are backed up, restored and granted together. The API
-- checks the type by content and the size before a file reaches this table; the digest lets
-- anyone compare a copy with the stored file. A file is documented evidence, as a link is, and
-- an operator who opened it may verify it.
ALTER TABLE evidence
    ADD COLUMN file_name       text CHECK (length(file_name) BETWEEN 1 AND 200),
    ADD COLUMN file_media_type text,
    ADD COLUMN file_sha256     text CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
    ADD COLUMN file_content    bytea,
    ADD COLUMN file_added_at   timestamptz,
    ADD CONSTRAINT evidence_file_whole CHECK (
        num_nulls(file_name, file_media_type, file_sha256, file_content, file_added_at) IN (0, 5)),
    ADD CONSTRAINT evidence_file_digest CHECK (
        file_content IS NULL OR file_sha256 = encode(sha256(file_content), 'hex'));

-- Migration 007's rules, widened to a file: something to show, and something to verify.
ALTER TABLE evidence
    DROP CONSTRAINT evidence_check1,
    DROP CONSTRAINT evidence_check2,
    ADD CONSTRAINT evidence_something CHECK (
        url IS NOT NULL OR statement <> '' OR file_sha256 IS NOT NULL),
    ADD CONSTRAINT evidence_verified_document CHECK (
        verified_at IS NULL
        OR ((url IS NOT NULL OR file_sha256 IS NOT NULL) AND verified_by_label IS NOT NULL));

-- The level, widened: a file documents a record as a link does. A generated column's expression
-- cannot be altered before PostgreSQL 17, so it is made again (the table's grants stay).
ALTER TABLE evidence DROP COLUMN quality;
ALTER TABLE evidence ADD COLUMN quality text GENERATED ALWAYS AS (
    CASE WHEN verified_at IS NOT NULL THEN 'verified'
         WHEN url IS NOT NULL OR file_sha256 IS NOT NULL THEN 'documented'
         ELSE 'self_reported' END) STORED;
