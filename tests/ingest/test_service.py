"""The ingest service end to end on a real broker and database: storage, ledger, rollups, status."""

import json
import math
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from livinglab_edge_agent.wire import (
    OFFLINE_STATUS,
    Batch,
    ClockState,
    Event,
    Status,
    encode_binary,
    encode_json,
)
from livinglab_lab.dashboards.build import generate, queries
from livinglab_lab.dashboards.expand import Range, expand
from livinglab_platform.core.errors import ConfigurationError
from livinglab_platform.core.identities import INGEST_CLIENT_ID, PLATFORM_USER
from livinglab_platform.ingest import IngestService
from tests.ingest.helpers import (
    T0_NS,
    assert_same_rows,
    expected_rows,
    ingest_settings,
    make_batch,
    register_device,
    scalar,
    stored_rows,
    wait_for,
)


def test_json_and_binary_batches_are_stored_exactly(dsn, make_device, start_ingest):
    device = make_device("d1", ("t", "rh", "co2"))
    service = start_ingest()
    batches = [
        make_batch(1, n=500, keys=("t", "rh", "co2")),
        make_batch(2, n=300, keys=("co2", "t"), start_ns=T0_NS + 10**12),
        Batch.from_readings(
            seq=3,
            readings=[
                (T0_NS - 1, "t", -0.0),  # sub-µs digits: floor, not round
                (T0_NS + 999, "rh", 1e300),
                (T0_NS + 1000, "rh", -1e-300),
                (T0_NS + 1001, "co2", 415.0),
            ],
        ),
        Batch.from_readings(seq=4, readings=[]),
    ]
    for batch, encode in zip(
        batches, [encode_binary, encode_json, encode_json, encode_binary], strict=True
    ):
        assert device.client.publish("telemetry", encode(batch)) == 0

    wait_for(lambda: service.stored_batches == 4, what="4 batches stored")

    assert_same_rows(stored_rows(dsn), expected_rows(batches, device.sensor_ids))
    assert service.stored_readings == 804
    assert service.quarantined == 0
    with psycopg.connect(dsn) as conn:
        ledger = conn.execute(
            "SELECT seq, readings, quarantined, clock_synced FROM deliveries WHERE device_id = 'd1' ORDER BY seq"
        ).fetchall()
    assert ledger == [
        (1, 500, 0, True),
        (2, 300, 0, True),
        (3, 4, 0, False),
        (4, 0, 0, False),
    ]


def test_rollups_equal_sql_aggregates_after_merging_upserts(
    dsn, make_device, start_ingest
):
    keys = ("a", "b", "c")
    device = make_device("d1", keys)
    # One message per group, so that every batch after the first merges into existing buckets.
    service = start_ingest(batch_max_rows=1, writers=2)
    batches = []
    for seq in range(1, 9):
        # Overlapping spans: ~7 s apart starts, 400 readings 0.37 s apart, over ~3 minutes and an hour edge.
        start = 1_700_002_700 * 10**9 + seq * 7_000_000_123
        batches.append(
            make_batch(seq, n=400, keys=keys, start_ns=start, step_ns=370_000_001)
        )
    for batch in batches:
        device.client.send(batch.seq, encode_binary(batch))
    device.client.settle()
    wait_for(lambda: service.stored_batches == len(batches), what="all batches stored")

    with psycopg.connect(dsn) as conn:
        for table, width in (("readings_1m", "1 minute"), ("readings_1h", "1 hour")):
            expected = conn.execute(
                f"SELECT sensor_id, time_bucket('{width}', time) AS bucket, count(*), sum(value), min(value),"
                " max(value), sum(value * value) FROM readings GROUP BY 1, 2 ORDER BY 1, 2"
            ).fetchall()
            actual = conn.execute(
                f"SELECT sensor_id, bucket, count, sum, min, max, sum_sq FROM {table} ORDER BY 1, 2"
            ).fetchall()
            assert len(actual) == len(expected) > len(keys)
            for got, want in zip(actual, expected, strict=True):
                assert got[:3] == want[:3]
                assert got[4:6] == want[4:6]
                assert math.isclose(got[3], want[3], rel_tol=1e-9, abs_tol=1e-6)
                assert math.isclose(got[6], want[6], rel_tol=1e-9)
    assert sum(row[2] for row in actual) == 8 * 400


def test_redelivered_batch_is_stored_once_and_gaps_are_visible(
    dsn, make_device, start_ingest
):
    device = make_device("d1")
    service = start_ingest()
    batches = {seq: make_batch(seq, n=50) for seq in (1, 2, 4, 5)}
    for seq in (1, 2, 2, 4, 1, 5):
        assert device.client.publish("telemetry", encode_binary(batches[seq])) == 0

    wait_for(
        lambda: service.stored_batches + service.duplicates == 6,
        what="6 messages handled",
    )
    assert service.stored_batches == 4
    assert service.duplicates == 2
    assert_same_rows(
        stored_rows(dsn), expected_rows(batches.values(), device.sensor_ids)
    )
    assert scalar(dsn, "SELECT count(*) FROM deliveries") == 4
    with psycopg.connect(dsn) as conn:
        gaps = conn.execute(
            "SELECT device_id, first_missing, last_missing, missing FROM delivery_gaps"
        ).fetchall()
        completeness = conn.execute(
            "SELECT batches_received, completeness FROM delivery_completeness"
        ).fetchone()
    assert gaps == [("d1", 3, 3, 1)]
    assert completeness == (4, 0.8)


def test_same_batch_twice_in_one_group_is_stored_once(
    dsn, ingest_dsn, make_device, broker
):
    device = make_device("d1")
    batch = make_batch(7, n=20)
    # Queue both copies while the service is stopped, so that one group holds both.
    service = IngestService(ingest_settings(ingest_dsn, broker, batch_max_wait_s=0.5))
    service.start()
    service.stop()
    for _ in range(2):
        assert device.client.publish("telemetry", encode_binary(batch)) == 0
    service = IngestService(
        ingest_settings(ingest_dsn, broker, batch_max_wait_s=0.5, writers=1)
    )
    service.start()
    try:
        wait_for(
            lambda: service.stored_batches + service.duplicates == 2,
            what="both copies handled",
        )
    finally:
        service.stop()
    assert (service.stored_batches, service.duplicates) == (1, 1)
    assert scalar(dsn, "SELECT count(*) FROM readings") == 20


def test_device_registered_while_running_is_picked_up(dsn, make_device, start_ingest):
    device = make_device("late", in_database=False)
    service = start_ingest()
    assert device.client.publish("telemetry", encode_binary(make_batch(1, n=10))) == 0
    wait_for(
        lambda: service.quarantined == 1,
        what="the batch of the unknown device quarantined",
    )

    sensor_ids = register_device(dsn, "late", ("t", "rh"))
    assert device.client.publish("telemetry", encode_binary(make_batch(2, n=10))) == 0
    wait_for(
        lambda: service.stored_batches == 1, what="the batch stored after registration"
    )
    assert_same_rows(stored_rows(dsn), expected_rows([make_batch(2, n=10)], sensor_ids))

    # A key added later is found too, and a disabled device is refused.
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sensors (device_id, key, quantity, unit) VALUES ('late', 'pm10', 'pm', 'ug/m3')"
        )
    batch = make_batch(3, n=10, keys=("pm10",))
    assert device.client.publish("telemetry", encode_binary(batch)) == 0
    wait_for(
        lambda: service.stored_batches == 2, what="the batch with a new key stored"
    )
    assert service.quarantined == 1


def test_disabled_device_is_quarantined(dsn, make_device, start_ingest):
    device = make_device("d1")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE devices SET enabled = false WHERE id = 'd1'")
    service = start_ingest()
    assert device.client.publish("telemetry", encode_binary(make_batch(1, n=10))) == 0
    wait_for(lambda: service.quarantined == 1, what="quarantine")
    assert scalar(dsn, "SELECT reason FROM quarantine") == "device 'd1' is disabled"
    assert scalar(dsn, "SELECT count(*) FROM readings") == 0


def test_status_heartbeat_last_will_and_events(dsn, make_device, start_ingest):
    device = make_device("d1", will=OFFLINE_STATUS)
    service = start_ingest()
    heartbeat = Status(
        state="online",
        time_ns=T0_NS,
        uptime_s=12.5,
        outbox_depth=3,
        outbox_dropped=0,
        agent_version="1.2.3",
        config_revision=4,
        clock_synced=True,
        clock_offset_ns=-250,
    )
    before = time.time()
    payload = heartbeat.model_dump_json().encode()
    assert device.client.publish("status", payload, retain=True) == 0
    event = Event(
        type="config_applied", time_ns=T0_NS + 10**9, revision=4, message="ok"
    )
    assert device.client.publish("events", event.model_dump_json().encode()) == 0
    wait_for(
        lambda: service.statuses == 1 and service.events == 1,
        what="status and event stored",
    )

    with psycopg.connect(dsn) as conn:
        status = conn.execute(
            "SELECT online, extract(epoch FROM last_seen)::float8, uptime_s, outbox_depth, outbox_dropped,"
            " agent_version, config_revision, clock_synced, clock_offset_ns FROM device_status WHERE device_id = 'd1'"
        ).fetchone()
        events = conn.execute(
            "SELECT (extract(epoch FROM time) * 1e9)::int8, type, revision, count, message FROM device_events"
        ).fetchall()
    # last_seen is when the platform heard the device, not the device's own clock.
    assert status[0] is True
    assert before <= status[1] <= time.time()
    assert status[2:] == (12.5, 3, 0, "1.2.3", 4, True, -250)
    assert events == [((T0_NS + 10**9) // 1000 * 1000, "config_applied", 4, None, "ok")]

    device.client.disconnect_with_will()
    wait_for(lambda: service.statuses == 2, what="the last will stored")
    with psycopg.connect(dsn) as conn:
        online, last_seen, uptime, version = conn.execute(
            "SELECT online, extract(epoch FROM last_seen)::float8, uptime_s, agent_version"
            " FROM device_status WHERE device_id = 'd1'"
        ).fetchone()
    assert (online, uptime, version) == (False, 12.5, "1.2.3")
    assert last_seen >= status[1]


def test_ingest_stats_rows_appear(dsn, make_device, start_ingest):
    device = make_device("d1")
    service = start_ingest(stats_interval_s=0.2)
    assert device.client.publish("telemetry", encode_binary(make_batch(1, n=100))) == 0
    assert device.client.publish("telemetry", encode_binary(make_batch(1, n=100))) == 0
    wait_for(
        lambda: scalar(dsn, "SELECT sum(readings) FROM ingest_stats") == 100,
        what="stats with the readings",
    )
    wait_for(
        lambda: scalar(dsn, "SELECT sum(duplicates) FROM ingest_stats") == 1,
        what="stats with the duplicate",
    )
    with psycopg.connect(dsn) as conn:
        instance, batches, lag, depth, dropped = conn.execute(
            "SELECT min(instance), sum(batches), max(lag_s), max(queue_depth), max(broker_dropped)"
            " FROM ingest_stats"
        ).fetchone()
    assert (instance, batches, depth, dropped) == (INGEST_CLIENT_ID, 1, 0, 0)
    assert lag > 0  # the readings are from 2023
    assert service.lag_s is not None


def test_ingest_stats_carry_the_writers_transaction_times(
    dsn, readonly_dsn, make_device, start_ingest
):
    """Real batches through the real ingest: each stats row with transactions has their times,
    the hours (migration 012) sum the rows written in the same transaction, and the dashboard's
    panel shows them, from the rows over an hour and from the hours over a year."""
    device = make_device("d1")
    start_ingest(stats_interval_s=0.2)
    for seq in range(1, 21):
        assert (
            device.client.publish("telemetry", encode_binary(make_batch(seq, n=50)))
            == 0
        )
    wait_for(
        lambda: (
            scalar(dsn, "SELECT sum(txns) FROM ingest_stats") is not None
            and scalar(dsn, "SELECT sum(batches) FROM ingest_stats") == 20
        ),
        what="stats of the 20 batches",
    )
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT txns, txn_ms_p50, txn_ms_p95, txn_ms_max FROM ingest_stats WHERE txns > 0"
        ).fetchall()
        assert rows
        for _txns, p50, p95, longest in rows:
            assert 0 < p50 <= p95 <= longest < 10_000, rows
        without = conn.execute(
            "SELECT count(*) FROM ingest_stats WHERE txns = 0 AND txn_ms_max IS NOT NULL"
        ).fetchone()
        assert without == (0,)
        hours = conn.execute(
            "SELECT sum(batches), sum(txns), max(txn_ms_max) FROM ingest_stats_1h"
        ).fetchone()
        raw = conn.execute(
            "SELECT sum(batches), sum(txns), max(txn_ms_max) FROM ingest_stats"
        ).fetchone()
        assert hours == raw
    panel = next(
        q for q in queries({uid: json.loads(t) for uid, t in generate().items()})
        if q.title == "Trajanje transakcij pisalnikov"
    )  # fmt: skip
    now = datetime.now(UTC) + timedelta(minutes=1)
    for span in (timedelta(hours=1), timedelta(days=365)):
        sql = expand(panel.sql, variables={}, time_range=Range.last(span, now=now))
        with psycopg.connect(readonly_dsn) as conn:
            shown = conn.execute(sql).fetchall()
        assert shown, span
        for _, median, p95, longest in shown:
            # A mean of the intervals' medians is at most their largest p95.
            assert 0 < median <= p95 <= longest, (span, shown)


def test_refused_login_and_subscriptions_are_configuration_errors(ingest_dsn, broker):
    with pytest.raises(ConfigurationError, match="refused the ingest login"):
        IngestService(
            ingest_settings(ingest_dsn, broker, mqtt_password="wrong")
        ).start()
    # The platform user may log in but not subscribe.
    platform = ingest_settings(
        ingest_dsn,
        broker,
        mqtt_user=PLATFORM_USER,
        mqtt_password=broker.platform_password,
    )
    with pytest.raises(ConfigurationError, match="refused the ingest subscriptions"):
        IngestService(platform).start()


def test_missing_schema_is_a_configuration_error(postgres_server, broker):
    with pytest.raises(
        ConfigurationError, match="TimescaleDB is not installed in the database"
    ):
        IngestService(ingest_settings(postgres_server.dsn("postgres"), broker)).start()


def test_schema_behind_the_code_is_a_configuration_error(dsn, ingest_dsn, broker):
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM schema_migrations WHERE name = '003_delivery_fingerprint.sql'"
        )
    with pytest.raises(
        ConfigurationError,
        match=r"003_delivery_fingerprint.sql not applied.*livinglab db upgrade",
    ):
        IngestService(ingest_settings(ingest_dsn, broker)).start()


def test_clock_state_is_recorded(dsn, make_device, start_ingest):
    device = make_device("d1")
    service = start_ingest()
    batch = make_batch(1, n=4)
    unsynced = Batch(
        seq=2, sensors=batch.sensors, time_ns=batch.time_ns, sensor=batch.sensor, value=batch.value,
        clock=ClockState(synced=False),
    )  # fmt: skip
    assert device.client.publish("telemetry", encode_binary(unsynced)) == 0
    wait_for(lambda: service.stored_batches == 1, what="stored")
    assert scalar(dsn, "SELECT clock_synced FROM deliveries") is False
    assert np.array_equal(
        np.sort(stored_rows(dsn)["time_us"]), np.sort(batch.time_ns // 1000)
    )
