-- Dashboards (Grafana) log in as a member of livinglab_readonly. City staff are viewers, so that
-- role gets what a viewer gets from the API (access.py): aggregates only, each made of whole
-- one-minute cells of at least VIEWER_MIN_COUNT (5, core/settings.py) readings, and nothing of
-- people's e-mails, tokens or raw payloads. The rule is kept here, in the database, so that the
-- data source's password reaches no more than a viewer does: the role loses SELECT on the raw
-- readings, the rollups, people, the audit trail and the quarantine, and reads the views below
-- instead. A view runs with its owner's rights, so the role needs no grant on what a view reads.
--
-- The count is fixed here at 5, the default of LIVINGLAB_VIEWER_MIN_COUNT; a deployment that
-- raises the setting for the API raises it here with a migration of its own
-- (tests/dashboards/test_roles.py checks that both are the same).

-- A viewer's hour is the sum of its whole one-minute cells of at least 5 readings, not
-- readings_1h: that counts the sparse minutes too, and the difference between an hour and its
-- minutes would give away the readings of a sparse minute. Kept from readings_1m by the trigger
-- below, so a year's panel reads 8,760 rows per sensor instead of 525,600.
CREATE TABLE viewer_cells_1h (
    bucket    timestamptz NOT NULL,
    sensor_id integer NOT NULL,
    count     bigint NOT NULL,
    sum       double precision NOT NULL,
    min       double precision NOT NULL,
    max       double precision NOT NULL,
    sum_sq    double precision NOT NULL,
    PRIMARY KEY (sensor_id, bucket)
);
SELECT create_hypertable('viewer_cells_1h', 'bucket', chunk_time_interval => interval '90 days',
                         create_default_indexes => false);

CREATE FUNCTION viewer_min_count() RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT 5';

-- A minute's rollup only grows (the ingest merges each batch by addition), so a cell that reached
-- the count stays there: the hour takes the whole cell when it crosses, then each later change.
-- Run as the owner: the ingest's role writes readings_1m and has no grant on viewer_cells_1h.
CREATE FUNCTION viewer_cells_merge() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    was_counted boolean := TG_OP = 'UPDATE' AND OLD.count >= viewer_min_count();
BEGIN
    IF NEW.count < viewer_min_count() THEN
        RETURN NULL;
    END IF;
    INSERT INTO viewer_cells_1h AS c (bucket, sensor_id, count, sum, min, max, sum_sq)
    VALUES (time_bucket(interval '1 hour', NEW.bucket), NEW.sensor_id,
            NEW.count - CASE WHEN was_counted THEN OLD.count ELSE 0 END,
            NEW.sum - CASE WHEN was_counted THEN OLD.sum ELSE 0 END,
            NEW.min, NEW.max,
            NEW.sum_sq - CASE WHEN was_counted THEN OLD.sum_sq ELSE 0 END)
    ON CONFLICT (sensor_id, bucket) DO UPDATE SET
        count = c.count + excluded.count,
        sum = c.sum + excluded.sum,
        min = least(c.min, excluded.min),
        max = greatest(c.max, excluded.max),
        sum_sq = c.sum_sq + excluded.sum_sq;
    RETURN NULL;
END
$$;
CREATE TRIGGER viewer_cells AFTER INSERT OR UPDATE ON readings_1m
    FOR EACH ROW EXECUTE FUNCTION viewer_cells_merge();

-- Rebuild the viewer's hours of [start, end) from the minutes: for rollups loaded in bulk with
-- the trigger off (the benchmark), and for what was already stored when this migration ran.
CREATE FUNCTION viewer_cells_rebuild(start timestamptz, "end" timestamptz) RETURNS bigint
    LANGUAGE sql AS $$
    DELETE FROM viewer_cells_1h WHERE bucket >= time_bucket(interval '1 hour', start)
                                  AND bucket < "end";
    INSERT INTO viewer_cells_1h (bucket, sensor_id, count, sum, min, max, sum_sq)
    SELECT time_bucket(interval '1 hour', bucket), sensor_id, sum(count), sum(sum), min(min),
           max(max), sum(sum_sq)
      FROM readings_1m
     WHERE count >= viewer_min_count()
       AND bucket >= time_bucket(interval '1 hour', start) AND bucket < "end"
     GROUP BY 1, 2;
    SELECT count(*) FROM viewer_cells_1h
     WHERE bucket >= time_bucket(interval '1 hour', start) AND bucket < "end";
$$;
SELECT viewer_cells_rebuild('-infinity', 'infinity');

-- A device's ledger in a time range (completeness and gaps over the dashboard's range): without
-- it, each such panel read the device's whole ledger, 0.5-1 s for a year of a batch a minute
-- (`livinglab bench dashboards`). One more entry per stored batch, not per reading.
-- Holding seq, it answers count, min and max from the index alone.
CREATE INDEX deliveries_device_received ON deliveries (device_id, received_at) INCLUDE (seq);

-- What the dashboards read. security_barrier: a function in the caller's WHERE cannot see the
-- rows the view's own condition leaves out.
CREATE VIEW viewer_cells_1m WITH (security_barrier) AS
SELECT bucket, sensor_id, count, sum, min, max FROM readings_1m WHERE count >= viewer_min_count();

CREATE VIEW viewer_hours WITH (security_barrier) AS
SELECT bucket, sensor_id, count, sum, min, max FROM viewer_cells_1h;

-- How many readings arrived, per minute and per hour: counts, no values.
CREATE VIEW reading_counts_1m AS SELECT bucket, sensor_id, count FROM readings_1m;
CREATE VIEW reading_counts_1h AS SELECT bucket, sensor_id, count FROM readings_1h;

-- The quarantine without its payloads (they hold the readings that could not be stored).
CREATE VIEW quarantine_reasons AS
SELECT received_at, device_id, seq, reason, readings FROM quarantine;

-- A trial's lifecycle from the audit trail, without who did it (people) or the details.
CREATE VIEW trial_transitions AS
SELECT time, object_id::integer AS trial_id, action, reason
  FROM audit_log WHERE object_type = 'trial' AND object_id ~ '^[0-9]+$';

-- The strategy's five yearly indicators as indicators.py counts them (GOVERNANCE.md), per
-- Ljubljana calendar year from the first recorded one to this one. The sixth, the working living
-- lab, is the milestone's (milestone.py), which is not kept in SQL.
CREATE VIEW governance_indicators AS
WITH years AS (
    SELECT generate_series(
        least(coalesce((SELECT min(extract(year FROM starts_on))::int FROM governance_forms), 9999),
              coalesce((SELECT min(extract(year FROM held_at AT TIME ZONE 'Europe/Ljubljana'))::int
                          FROM council_meetings), 9999),
              coalesce((SELECT min(extract(year FROM on_date))::int FROM application_statuses), 9999),
              extract(year FROM now() AT TIME ZONE 'Europe/Ljubljana')::int),
        extract(year FROM now() AT TIME ZONE 'Europe/Ljubljana')::int) AS year
), forms AS (
    SELECT f.id, f.kind, f.starts_on, f.ends_on,
           count(*) FILTER (WHERE o.kind IN ('city_administration', 'public_institution',
                                             'public_company')) AS mol_family,
           count(*) FILTER (WHERE o.kind IN ('other_city', 'european')) AS other_cities,
           count(*) FILTER (WHERE o.kind = 'regional_national') AS regional_national
      FROM governance_forms f
      LEFT JOIN governance_form_members m ON m.form_id = f.id
      LEFT JOIN organisations o ON o.id = m.organisation_id
     GROUP BY f.id
), counted AS (
    SELECT y.year, k.key, k.position, k.name_sl, k.target,
           CASE k.key
             WHEN 'council_meetings' THEN (
                 SELECT count(*) FROM council_meetings
                  WHERE extract(year FROM held_at AT TIME ZONE 'Europe/Ljubljana') = y.year)
             WHEN 'applications_submitted' THEN (
                 SELECT count(*) FROM (SELECT min(on_date) AS submitted_on FROM application_statuses
                                        WHERE status = 'submitted' GROUP BY application_id) s
                  WHERE extract(year FROM s.submitted_on) = y.year)
             ELSE (
                 SELECT count(*) FROM forms f
                  WHERE f.starts_on <= make_date(y.year, 12, 31)
                    AND (f.ends_on IS NULL OR f.ends_on >= make_date(y.year, 1, 1))
                    AND CASE k.key
                          WHEN 'mol_family_form' THEN f.kind = 'mol_family' AND f.mol_family >= 2
                          WHEN 'horizontal_link' THEN f.kind = 'horizontal' AND f.other_cities >= 1
                          ELSE f.kind = 'vertical' AND f.regional_national >= 1 END)
           END AS value
      FROM years y CROSS JOIN (VALUES
          (1, 'mol_family_form', 'organizacijska oblika znotraj velike družine MOL', 1),
          (2, 'horizontal_link', 'horizontalna povezava z drugimi mesti', 1),
          (3, 'vertical_link', 'vertikalna povezava z regionalnimi in/ali državnimi ustanovami', 1),
          (4, 'council_meetings', 'srečanje Strateškega sveta za digitalni razvoj MOL', 1),
          (5, 'applications_submitted', 'oddane prijave za sofinancirane projekte', 3)
      ) AS k (position, key, name_sl, target)
)
SELECT year, position, key, name_sl, value, target, value >= target AS met FROM counted;

-- The verdict over those five, by verdict.py's rule.
CREATE VIEW governance_verdicts AS
SELECT year, count(*) FILTER (WHERE met) AS met, count(*) AS indicators,
       CASE WHEN bool_and(met) THEN 'Cilj je dosežen'
            WHEN bool_or(met) THEN 'Cilj je delno dosežen'
            ELSE 'Cilj ni dosežen' END AS verdict
  FROM governance_indicators GROUP BY year;

-- Applications by the year and status of each entry of their status history.
CREATE VIEW application_status_years AS
SELECT extract(year FROM on_date)::int AS year, status, count(DISTINCT application_id) AS applications
  FROM application_statuses GROUP BY 1, 2;

-- The grants: the views above instead of what a viewer may not read.
REVOKE SELECT ON readings, readings_1m, readings_1h, people, audit_log, quarantine
    FROM livinglab_readonly;
GRANT SELECT ON viewer_cells_1m, viewer_hours, reading_counts_1m, reading_counts_1h,
    quarantine_reasons, trial_transitions, governance_indicators, governance_verdicts,
    application_status_years TO livinglab_readonly;
-- The default privileges of 006 gave the API's role read, add and change on all of it. It reads
-- viewer_cells_1h alone (a viewer's hours over long ranges, data/pieces.py) and needs none of the
-- rest (its data queries apply the same rule themselves, data/queries.py).
REVOKE ALL ON viewer_cells_1h, viewer_cells_1m, viewer_hours, reading_counts_1m,
    reading_counts_1h, quarantine_reasons, trial_transitions, governance_indicators,
    governance_verdicts, application_status_years FROM livinglab_api;
GRANT SELECT ON viewer_cells_1h TO livinglab_api;
REVOKE EXECUTE ON FUNCTION viewer_cells_rebuild(timestamptz, timestamptz) FROM PUBLIC;
