"""A seq already in the ledger: the same readings again are a duplicate, other readings are quarantined."""

import re
import time

import numpy as np
import psycopg
import pytest

from livinglab_edge_agent.wire import (
    Batch,
    decode_batch,
    encode_binary,
    encode_json,
    topic,
)
from livinglab_platform.ingest import IngestService
from livinglab_platform.ingest.consumer import Message
from livinglab_platform.ingest.decode import decode
from livinglab_platform.ingest.fingerprint import Fingerprints
from livinglab_platform.ingest.registry import Registry
from livinglab_platform.ingest.writer import Writer
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


def reused(seq, device="d1"):
    return (
        f"seq {seq} of device {device!r} was already stored with different readings: "
        "the device's sequence counter was reset or reused; its readings were not stored"
    )


def other_readings(seq, n=40):
    """What a device whose counter was reset sends under `seq`: later readings."""
    return make_batch(seq, n=n, start_ns=T0_NS + 86_400 * 10**9, seed=1000 + seq)


def quarantine_rows(dsn):
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT device_id, seq, reason, readings, payload FROM quarantine ORDER BY id"
        ).fetchall()


def fingerprint(batch):
    return int(
        Fingerprints()
        .compute([batch], time_ns=batch.time_ns, sensor=batch.sensor, value=batch.value)
        .item()
    )


# --- the fingerprint ------------------------------------------------------------------------------


def test_fingerprint_is_the_same_for_both_encodings_and_any_reading_order():
    batch = Batch.from_readings(
        seq=3,
        readings=[
            (T0_NS, "t", 21.5),
            (T0_NS + 1, "rh", -0.0),
            (T0_NS + 2, "t", float("inf")),  # JSON: null, which decodes as NaN
            (T0_NS + 3, "rh", float("nan")),
            (-5, "t", 1e-310),
        ],
    )
    from_binary = decode_batch(encode_binary(batch))
    from_json = decode_batch(encode_json(batch))
    assert from_binary.value.tobytes() != from_json.value.tobytes()
    assert fingerprint(from_binary) == fingerprint(from_json) == fingerprint(batch)
    order = np.array([4, 2, 0, 3, 1])
    shuffled = Batch(
        seq=3, sensors=batch.sensors, time_ns=batch.time_ns[order],
        sensor=batch.sensor[order], value=batch.value[order],
    )  # fmt: skip
    assert fingerprint(shuffled) == fingerprint(batch)


def test_fingerprint_changes_with_any_reading_and_with_the_keys():
    batch = make_batch(1, n=50)
    base = fingerprint(batch)

    def changed(**columns):
        fields = {
            "seq": 1,
            "sensors": batch.sensors,
            "time_ns": batch.time_ns.copy(),
            "sensor": batch.sensor.copy(),
            "value": batch.value.copy(),
        }
        fields.update(columns)
        return fingerprint(Batch(**fields))

    time_ns = batch.time_ns.copy()
    time_ns[7] += 1
    value = batch.value.copy()
    value[7] = np.nextafter(value[7], np.inf)
    zero = batch.value.copy()
    zero[7] = 0.0
    negative_zero = batch.value.copy()
    negative_zero[7] = -0.0
    sensor = batch.sensor.copy()
    sensor[7] ^= 1
    swapped = batch.value.copy()
    swapped[[0, 1]] = swapped[[1, 0]]  # the same values, on other readings
    variants = [
        changed(time_ns=time_ns),
        changed(value=value),
        changed(value=zero),
        changed(value=negative_zero),
        changed(sensor=sensor),
        changed(value=swapped),
        changed(sensors=("t", "co2")),
        changed(time_ns=batch.time_ns[:-1], sensor=batch.sensor[:-1], value=batch.value[:-1]),
        fingerprint(make_batch(1, n=50, seed=2)),
    ]  # fmt: skip
    assert base not in variants
    assert len(set(variants)) == len(variants)


def test_fingerprints_of_a_group_equal_those_of_each_batch():
    batches = [
        make_batch(1, n=30),
        Batch.from_readings(seq=2, readings=[]),
        make_batch(3, n=1, keys=("co2",)),
        Batch.from_readings(seq=4, readings=[]),
    ]
    group = Fingerprints()
    for _ in range(2):  # the second time in scratch arrays kept from the first
        got = group.compute(
            batches,
            time_ns=np.concatenate([b.time_ns for b in batches]),
            sensor=np.concatenate([b.sensor for b in batches]),
            value=np.concatenate([b.value for b in batches]),
        )
        assert got.dtype == np.int64
        assert got.tolist() == [fingerprint(b) for b in batches]
    assert fingerprint(batches[1]) != fingerprint(
        Batch.from_readings(seq=2, readings=[(T0_NS, "t", 0.0)])
    )


# --- through the service --------------------------------------------------------------------------


def test_resent_batch_in_the_other_encoding_is_a_duplicate(
    dsn, make_device, start_ingest
):
    device = make_device("d1")
    service = start_ingest()
    batch = make_batch(1, n=60)
    assert device.client.publish("telemetry", encode_binary(batch)) == 0
    wait_for(lambda: service.stored_batches == 1, what="the batch stored")
    assert device.client.publish("telemetry", encode_json(batch)) == 0
    wait_for(lambda: service.duplicates == 1, what="the re-send counted")

    assert service.quarantined == 0
    assert quarantine_rows(dsn) == []
    assert_same_rows(stored_rows(dsn), expected_rows([batch], device.sensor_ids))
    assert scalar(dsn, "SELECT fingerprint FROM deliveries") == fingerprint(batch)


def test_other_readings_under_a_used_seq_are_quarantined(
    dsn, make_device, start_ingest
):
    device = make_device("d1")
    service = start_ingest()
    original = make_batch(42, n=50)
    assert device.client.publish("telemetry", encode_binary(original)) == 0
    wait_for(lambda: service.stored_batches == 1, what="the original stored")

    after_reset = other_readings(42)
    assert device.client.publish("telemetry", encode_json(after_reset)) == 0
    wait_for(lambda: service.quarantined == 1, what="the reused seq quarantined")
    # The original, sent again, is still recognised.
    assert device.client.publish("telemetry", encode_binary(original)) == 0
    wait_for(lambda: service.duplicates == 1, what="the re-send counted")

    assert (service.stored_batches, service.quarantined_readings) == (1, 40)
    assert quarantine_rows(dsn) == [
        ("d1", 42, reused(42), 40, encode_json(after_reset))
    ]
    assert_same_rows(stored_rows(dsn), expected_rows([original], device.sensor_ids))
    with psycopg.connect(dsn) as conn:
        ledger = conn.execute(
            "SELECT seq, readings, fingerprint FROM deliveries"
        ).fetchall()
        rollup = conn.execute("SELECT sum(count) FROM readings_1m").fetchone()
    assert ledger == [(42, 50, fingerprint(original))]
    assert rollup == (50,)


def test_ledger_rows_without_a_fingerprint_count_as_the_same_readings(
    dsn, make_device, start_ingest
):
    """Batches stored before migration 003 have no fingerprint: a seq hit is a duplicate, as before."""
    device = make_device("d1")
    service = start_ingest()
    original = make_batch(5, n=20)
    assert device.client.publish("telemetry", encode_binary(original)) == 0
    wait_for(lambda: service.stored_batches == 1, what="the original stored")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE deliveries SET fingerprint = NULL")
    assert device.client.publish("telemetry", encode_binary(other_readings(5))) == 0
    wait_for(lambda: service.duplicates == 1, what="counted as a duplicate")
    assert service.quarantined == 0
    assert_same_rows(stored_rows(dsn), expected_rows([original], device.sensor_ids))


def test_reused_seq_within_one_group(dsn, ingest_dsn, make_device, broker):
    device = make_device("d1")
    original, after_reset = make_batch(7, n=20), other_readings(7, n=30)
    # Queue the messages while the service is stopped, so that one group holds them all.
    service = IngestService(ingest_settings(ingest_dsn, broker, batch_max_wait_s=0.5))
    service.start()
    service.stop()
    for payload in (
        encode_binary(original),
        encode_binary(after_reset),
        encode_json(original),
    ):
        assert device.client.publish("telemetry", payload) == 0
    service = IngestService(
        ingest_settings(ingest_dsn, broker, batch_max_wait_s=0.5, writers=1)
    )
    service.start()
    try:
        wait_for(
            lambda: (
                service.stored_batches + service.duplicates + service.quarantined == 3
            ),
            what="the three messages handled",
        )
    finally:
        service.stop()
    assert (service.stored_batches, service.duplicates, service.quarantined) == (
        1,
        1,
        1,
    )
    assert quarantine_rows(dsn) == [
        ("d1", 7, reused(7), 30, encode_binary(after_reset))
    ]
    assert_same_rows(stored_rows(dsn), expected_rows([original], device.sensor_ids))


# --- the writer, group by group -------------------------------------------------------------------


class Statements:
    """A connection whose cursors record each statement they execute."""

    def __init__(self, dsn):
        self.executed = []
        executed = self.executed

        class Cursor(psycopg.Cursor):
            def execute(self, query, params=None, **kwargs):
                executed.append(query)
                return super().execute(query, params, **kwargs)

            def executemany(self, query, params_seq, **kwargs):
                executed.append(query)
                return super().executemany(query, params_seq, **kwargs)

        self.conn = psycopg.connect(dsn, autocommit=True, cursor_factory=Cursor)

    def on_deliveries(self):
        """The first word of each statement on the ledger (not its hours) since the last call."""
        words = [
            str(q).split()[0] for q in self.executed
            if re.search(r"\b(FROM|INTO) deliveries\b", str(q))
        ]  # fmt: skip
        self.executed.clear()
        return words


@pytest.fixture
def ledger(dsn):
    sensor_ids = register_device(dsn, "d1")
    recorder = Statements(dsn)
    writer = Writer(registry=Registry(), max_future_s=300.0)

    def write(*batches, encode=encode_binary):
        items = []
        for batch in batches:
            message = Message(
                topic=topic("d1", "telemetry"),
                payload=encode(batch),
                mid=len(items) + 1,
                qos=1,
                epoch=1,
                received_at=time.time(),
            )
            items.append((message, decode(message.topic, message.payload)))
        return writer.write(recorder.conn, items)

    yield write, recorder, sensor_ids
    recorder.conn.close()


def test_the_ledger_is_read_only_when_a_seq_was_stored_before(dsn, ledger):
    write, recorder, sensor_ids = ledger
    first = [make_batch(seq, n=10) for seq in (1, 2, 3)]
    result = write(*first)
    assert (result.batches, result.duplicates, result.quarantined) == (3, 0, 0)
    # No conflict: the insert alone, as before fingerprints.
    assert recorder.on_deliveries() == ["INSERT"]

    result = write(make_batch(4, n=10), make_batch(5, n=10))
    assert recorder.on_deliveries() == ["INSERT"]

    # Two seqs stored before (one re-sent, one reused) and one new: one more query, for both.
    result = write(
        make_batch(1, n=10), other_readings(2, n=10), make_batch(6, n=10), encode=encode_json
    )  # fmt: skip
    assert recorder.on_deliveries() == ["INSERT", "SELECT"]
    assert (result.batches, result.duplicates, result.quarantined) == (1, 1, 1)
    assert result.quarantined_readings == 10
    want = [*first, *(make_batch(seq, n=10) for seq in (4, 5, 6))]
    assert_same_rows(stored_rows(dsn), expected_rows(want, sensor_ids))
    assert [r[:4] for r in quarantine_rows(dsn)] == [("d1", 2, reused(2), 10)]


def test_repeats_within_a_group_are_judged_against_what_the_ledger_will_hold(
    dsn, ledger
):
    write, recorder, sensor_ids = ledger
    original = make_batch(10, n=10)
    # Both copies new to the ledger: the first is stored, the repeat compared with it, no query.
    result = write(original, other_readings(10, n=12), original)
    assert (result.batches, result.duplicates, result.quarantined) == (1, 1, 1)
    assert recorder.on_deliveries() == ["INSERT"]

    # The first copy of the group is itself a reused seq: a repeat of it is quarantined too, and a
    # copy of what the ledger holds is a duplicate.
    reset = other_readings(10, n=14)
    result = write(reset, reset, original)
    assert (result.batches, result.duplicates, result.quarantined) == (0, 1, 2)
    assert recorder.on_deliveries() == ["INSERT", "SELECT"]

    assert_same_rows(stored_rows(dsn), expected_rows([original], sensor_ids))
    assert [r[1:4] for r in quarantine_rows(dsn)] == [
        (10, reused(10), 12),
        (10, reused(10), 14),
        (10, reused(10), 14),
    ]
