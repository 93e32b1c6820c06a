"""A viewer's hours (viewer_cells_1h) as the ingest keeps them (migration 011's merge_minutes).

Each test compares the table with what `viewer_cells_rebuild` makes of readings_1m, the
definition of a viewer's hour: the sum of its one-minute cells of at least 5 readings. Values are
small integers, so every sum is exact whatever the order of the additions.
"""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import psycopg

from livinglab_edge_agent.wire import Batch, ClockState, encode_binary
from livinglab_platform.ingest.rollup import MINUTE_US, upsert_rollups
from tests.ingest.helpers import register_device, wait_for

HOUR_S = 1_699_999_200  # 2023-11-14 22:00 UTC, a whole hour
HOUR_US = HOUR_S * 1_000_000
COLUMNS = "bucket, sensor_id, count, sum, min, max, sum_sq"


def _kept_and_rebuilt(dsn):
    """viewer_cells_1h as kept, and as rebuilt from readings_1m (the rebuild is rolled back)."""
    query = f"SELECT {COLUMNS} FROM viewer_cells_1h ORDER BY sensor_id, bucket"
    with psycopg.connect(dsn) as conn:
        kept = conn.execute(query).fetchall()
        conn.execute("SELECT viewer_cells_rebuild('-infinity', 'infinity')")
        rebuilt = conn.execute(query).fetchall()
        conn.rollback()
    return kept, rebuilt


def _hour_counts(dsn):
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT sensor_id, extract(epoch FROM bucket)::bigint, count FROM viewer_cells_1h"
        ).fetchall()
    return {(sensor, bucket_s): count for sensor, bucket_s, count in rows}


def _readings(cells):
    """Readings for {(sensor, minute): n}: n readings 5 s apart in the minute, values 1, 2, ..."""
    times, sensors, values = [], [], []
    for (sensor, minute), n in sorted(cells.items()):
        for i in range(n):
            times.append(HOUR_US + minute * MINUTE_US + (i + 1) * 5_000_000)
            sensors.append(sensor)
            values.append(float(i + 1 + minute))
    return (
        np.array(times, dtype=np.int64),
        np.array(sensors, dtype=np.int32),
        np.array(values, dtype=np.float64),
    )


def _batch(seq, keys, cells):
    """A telemetry batch of `_readings(cells)`, sensors named by index into `keys`."""
    time_us, sensor, value = _readings(cells)
    return Batch(
        seq=seq,
        sensors=keys,
        time_ns=time_us * 1000,
        sensor=sensor.astype(np.uint16),
        value=value,
        clock=ClockState(synced=True, offset_ns=0),
    )


def test_the_ingest_keeps_the_viewer_hours_of_its_minutes(
    dsn, make_device, start_ingest
):
    keys = ("t", "rh")
    device = make_device("d1", keys)
    t, rh = (device.sensor_ids[k] for k in keys)
    service = start_ingest(batch_max_rows=1, writers=2)
    # Minute 0 crosses 5 only with the second batch (3 + 3), minute 1 is counted from the first
    # and grows, minute 2 stays sparse (2 + 2), minute 60 (the next hour) crosses with one more.
    first = {(0, 0): 3, (0, 1): 6, (0, 2): 2, (0, 60): 4, (1, 59): 5}
    second = {(0, 0): 3, (0, 1): 2, (0, 2): 2, (0, 60): 1, (1, 59): 1}
    device.client.send(1, encode_binary(_batch(1, keys, first)))
    device.client.settle()
    wait_for(lambda: service.stored_batches == 1, what="the first batch stored")
    assert _hour_counts(dsn) == {(t, HOUR_S): 6, (rh, HOUR_S): 5}
    device.client.send(2, encode_binary(_batch(2, keys, second)))
    device.client.settle()
    wait_for(lambda: service.stored_batches == 2, what="the second batch stored")

    assert _hour_counts(dsn) == {
        (t, HOUR_S): 6 + 8,
        (t, HOUR_S + 3600): 5,
        (rh, HOUR_S): 6,
    }
    kept, rebuilt = _kept_and_rebuilt(dsn)
    assert kept == rebuilt


def _upsert(dsn, cells, *, commit=True):
    conn = psycopg.connect(dsn)
    upsert_rollups(
        conn,
        **dict(zip(("time_us", "sensor_id", "value"), _readings(cells), strict=True)),
    )
    if commit:
        conn.commit()
        conn.close()
    return conn


def _waiting_for_a_lock(dsn, pid):
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
    return row is not None and row[0] == "Lock"


def test_two_writers_of_the_same_minutes_add_each_their_own_part(dsn, ingest_dsn):
    sensors = register_device(dsn, "d1", ("t", "rh"))
    t, rh = sensors["t"], sensors["rh"]
    # The first writer holds its minutes uncommitted while the second upserts the same ones.
    held = {(t, 0): 3, (t, 1): 5, (t, 2): 2, (rh, 59): 7}
    later = {(t, 0): 3, (t, 1): 2, (t, 2): 2, (t, 61): 5, (rh, 59): 1}
    first = _upsert(ingest_dsn, held, commit=False)
    blocked = psycopg.connect(ingest_dsn)
    pid = blocked.info.backend_pid
    worker = threading.Thread(
        target=upsert_rollups,
        args=(blocked,),
        kwargs=dict(
            zip(("time_us", "sensor_id", "value"), _readings(later), strict=True)
        ),
    )
    worker.start()
    try:
        wait_for(
            lambda: _waiting_for_a_lock(dsn, pid), what="the second writer waiting"
        )
    finally:
        first.commit()
        first.close()
        worker.join(timeout=10)
    blocked.commit()
    blocked.close()

    # t's minute 0 crossed with the second writer; minute 1 with the first; minute 2 never.
    assert _hour_counts(dsn) == {
        (t, HOUR_S): 6 + 7,
        (t, HOUR_S + 3600): 5,
        (rh, HOUR_S): 8,
    }
    kept, rebuilt = _kept_and_rebuilt(dsn)
    assert kept == rebuilt


def test_many_writers_at_once_keep_the_hours_of_the_minutes(dsn, ingest_dsn):
    sensor_ids = list(register_device(dsn, "d1", ("a", "b", "c")).values())
    rng = random.Random(11)
    # Few readings per cell and per batch, over minutes of two hours: many cells cross 5 in the
    # middle of the run, with another writer's batch on the same minute in flight.
    plans = [
        [
            {
                (
                    rng.choice(sensor_ids),
                    rng.choice((0, 1, 2, 58, 59, 60, 61)),
                ): rng.randint(1, 3)
                for _ in range(6)
            }
            for _ in range(25)
        ]
        for _ in range(4)
    ]
    errors = []

    def write(batches):
        try:
            for cells in batches:
                _upsert(ingest_dsn, cells)
        except Exception as exc:  # the thread ends; the assertion below reports it
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(plan,)) for plan in plans]
    started = time.monotonic()
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
    assert not errors, errors
    assert time.monotonic() - started < 60
    kept, rebuilt = _kept_and_rebuilt(dsn)
    assert kept == rebuilt
    assert len(kept) > 4
