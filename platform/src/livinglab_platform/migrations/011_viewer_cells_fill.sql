-- A viewer's hours (viewer_cells_1h, migration 009) filled by one set-based statement per batch
-- instead of a trigger call per minute row. The trigger cost the ingest's rollup upsert 16-22 ms
-- instead of 12-15 ms per 100-sensor batch and `livinglab bench ingest` about 11 % of its
-- throughput (issue 13): one plpgsql call and one single-row upsert for each minute of each batch.
--
-- merge_minutes() does what the ingest did to readings_1m, and the hours in the same statement.
-- count, sum and sum_sq are additive, so the cell the minute upsert returns, less the batch's own
-- contribution, is the cell as it was before: old.count = new.count - batch.count. Per minute:
--   old.count >= 5: the hour was already counting the cell; it takes the batch's part only;
--   new.count >= 5 > old.count: the cell crosses now; the hour takes the whole new cell;
--   new.count < 5: nothing.
-- min and max merge by least and greatest either way (the new cell's bounds hold the old ones).
--
-- Concurrent writers stay right: a minute's row is locked from its upsert to the commit, so the
-- writers upserting one minute take turns, each sees the cell the one before it committed, and
-- exactly one of them sees it cross 5; what each adds to an hour is its own part, and additions
-- commute. Minutes and then hours are written in (sensor, bucket) order, as rollup.py orders
-- readings_1h, so writers lock rows in the same order and cannot deadlock.
--
-- Run as the owner: the ingest's role may execute it and has no grant on viewer_cells_1h, and it
-- loses its own INSERT and UPDATE on readings_1m (006), so that its login cannot change a minute
-- without the hour. Bulk loads as the owner may still write readings_1m directly and then call
-- viewer_cells_rebuild (009) for the range they loaded.
DROP TRIGGER viewer_cells ON readings_1m;
DROP FUNCTION viewer_cells_merge();

CREATE FUNCTION merge_minutes(
    buckets_s bigint[], sensor_ids integer[], counts bigint[], sums double precision[],
    mins double precision[], maxes double precision[], sums_sq double precision[]
) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    WITH batch AS (
        SELECT to_timestamp(b) AS bucket, s AS sensor_id, c AS count, su AS sum, mi AS min,
               ma AS max, sq AS sum_sq
          FROM unnest(buckets_s, sensor_ids, counts, sums, mins, maxes, sums_sq)
               AS r (b, s, c, su, mi, ma, sq)
    ), merged AS (
        INSERT INTO readings_1m AS m (bucket, sensor_id, count, sum, min, max, sum_sq)
        SELECT bucket, sensor_id, count, sum, min, max, sum_sq FROM batch
         ORDER BY sensor_id, bucket
        ON CONFLICT (sensor_id, bucket) DO UPDATE SET
            count = m.count + excluded.count,
            sum = m.sum + excluded.sum,
            min = least(m.min, excluded.min),
            max = greatest(m.max, excluded.max),
            sum_sq = m.sum_sq + excluded.sum_sq
        RETURNING m.bucket, m.sensor_id, m.count, m.sum, m.min, m.max, m.sum_sq
    ), counted AS (
        SELECT n.bucket, n.sensor_id, n.min, n.max,
               n.count - b.count >= viewer_min_count() AS was_counted,
               n.count AS new_count, n.sum AS new_sum, n.sum_sq AS new_sum_sq,
               b.count AS batch_count, b.sum AS batch_sum, b.sum_sq AS batch_sum_sq
          FROM merged n JOIN batch b ON b.sensor_id = n.sensor_id AND b.bucket = n.bucket
         WHERE n.count >= viewer_min_count()
    )
    INSERT INTO viewer_cells_1h AS h (bucket, sensor_id, count, sum, min, max, sum_sq)
    SELECT time_bucket(interval '1 hour', bucket), sensor_id,
           sum(CASE WHEN was_counted THEN batch_count ELSE new_count END),
           sum(CASE WHEN was_counted THEN batch_sum ELSE new_sum END),
           min(min), max(max),
           sum(CASE WHEN was_counted THEN batch_sum_sq ELSE new_sum_sq END)
      FROM counted
     GROUP BY 2, 1
     ORDER BY 2, 1
    ON CONFLICT (sensor_id, bucket) DO UPDATE SET
        count = h.count + excluded.count,
        sum = h.sum + excluded.sum,
        min = least(h.min, excluded.min),
        max = greatest(h.max, excluded.max),
        sum_sq = h.sum_sq + excluded.sum_sq;
END
$$;
REVOKE EXECUTE ON FUNCTION merge_minutes(bigint[], integer[], bigint[], double precision[],
    double precision[], double precision[], double precision[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION merge_minutes(bigint[], integer[], bigint[], double precision[],
    double precision[], double precision[], double precision[]) TO livinglab_ingest;
REVOKE ALL ON readings_1m FROM livinglab_ingest;
