"""The SQLite outbox: round trips, seq numbering, crash safety, capacity and errors."""

import logging
import math
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from livinglab_edge_agent.errors import OutboxError
from livinglab_edge_agent.outbox import Outbox
from livinglab_edge_agent.wire import Batch, ClockState, decode_batch

CLOCK = ClockState(synced=True, offset_ns=-1_234)


def make_readings(n=10, *, start=0, keys=("t", "rh")):
    """Readings with time_ns start..start+n-1, cycling through `keys`, value = time as float."""
    return [(start + i, keys[i % len(keys)], float(start + i)) for i in range(n)]


def all_times(outbox):
    """Seal whatever is pending, then return the time_ns of every reading held, oldest first."""
    while outbox.seal(max_readings=1_000, clock=CLOCK) is not None:
        pass
    batches = [
        decode_batch(payload) for _, payload, _ in outbox.unacked(limit=1_000_000)
    ]
    return np.concatenate([b.time_ns for b in batches]).tolist() if batches else []


@pytest.fixture
def outbox_path(tmp_path):
    return tmp_path / "outbox.db"


def test_add_seal_ack_round_trip(outbox_path):
    readings = [
        (1_700_000_000_000_000_000, "sht31.temperature", 21.5),
        (1_700_000_000_000_000_001, "sht31.humidity", math.nan),
        (1_700_000_000_000_000_002, "sht31.temperature", math.inf),
        (1_700_000_000_000_000_003, "co2", -40.25),
        (1_700_000_000_000_000_004, "sht31.humidity", 1e-300),
    ]
    with Outbox.open(outbox_path) as outbox:
        assert outbox.add(readings) == 0
        assert outbox.depth == 5

        batch = outbox.seal(max_readings=100, clock=CLOCK)

        assert batch is not None
        assert decode_batch(batch.payload) == Batch.from_readings(
            seq=batch.seq, readings=readings, clock=CLOCK
        )
        [(seq, payload, count)] = outbox.unacked(limit=10)
        assert (seq, count) == (batch.seq, 5)
        decoded = decode_batch(payload)
        assert payload == batch.payload
        assert decoded == decode_batch(batch.payload)
        got = decoded.readings()
        assert [(t, k) for t, k, _ in got] == [(t, k) for t, k, _ in readings]
        assert math.isnan(got[1][2])
        assert [v for i, (_, _, v) in enumerate(got) if i != 1] == [
            v for i, (_, _, v) in enumerate(readings) if i != 1
        ]
        assert outbox.depth == 5
        assert outbox.pending_batches == 1

        outbox.ack(seq)

        assert outbox.unacked(limit=10) == []
        assert outbox.seal(max_readings=100, clock=CLOCK) is None
        stats = outbox.stats()
        assert (
            stats.depth,
            stats.batches,
            stats.sampled,
            stats.acked,
            stats.dropped,
        ) == (0, 0, 5, 5, 0)


def test_seal_takes_oldest_readings_up_to_max(outbox_path):
    with Outbox.open(outbox_path) as outbox:
        outbox.add(make_readings(25))

        sizes = []
        while (batch := outbox.seal(max_readings=10, clock=CLOCK)) is not None:
            sizes.append((batch.seq, decode_batch(batch.payload).time_ns.tolist()))

        assert [len(times) for _, times in sizes] == [10, 10, 5]
        assert [t for _, times in sizes for t in times] == list(range(25))
        seqs = [seq for seq, _ in sizes]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == 3
        assert [seq for seq, _, _ in outbox.unacked(limit=10)] == seqs
        assert [seq for seq, _, _ in outbox.unacked(limit=2)] == seqs[:2]
        assert outbox.depth == 25


def test_ack_is_idempotent(outbox_path):
    with Outbox.open(outbox_path) as outbox:
        outbox.add(make_readings(10))
        batch = outbox.seal(max_readings=100, clock=CLOCK)

        outbox.ack(batch.seq)
        outbox.ack(batch.seq)
        outbox.ack(batch.seq + 1_000)

        stats = outbox.stats()
        assert (stats.depth, stats.acked, stats.batches) == (0, 10, 0)


def test_only_forgetting_batches_skips_the_sync(outbox_path):
    """add and seal commit synced (FULL); ack and confirm leave the sync to the next commit."""
    with Outbox.open(outbox_path) as outbox:
        statements = []
        outbox._conn.set_trace_callback(statements.append)

        def synchronous_during(action):
            statements.clear()
            action()
            relaxed = "PRAGMA synchronous=NORMAL" in statements
            setting = outbox._conn.execute("PRAGMA synchronous").fetchone()[0]
            return relaxed, setting

        assert synchronous_during(lambda: outbox.add(make_readings(20))) == (False, 2)
        first = outbox.seal(max_readings=10, clock=CLOCK)
        second = outbox.seal(max_readings=10, clock=CLOCK)
        assert synchronous_during(lambda: outbox.ack(first.seq)) == (True, 2)
        assert synchronous_during(
            lambda: outbox.confirm(low=second.seq, high=second.seq)
        ) == (True, 2)
        assert synchronous_during(lambda: outbox.add(make_readings(5))) == (False, 2)
        assert synchronous_during(
            lambda: outbox.seal(max_readings=10, clock=CLOCK)
        ) == (False, 2)
        assert outbox.stats().acked == 20
    # Forgotten batches stay forgotten across a reopen.
    with Outbox.open(outbox_path) as outbox:
        assert (outbox.stats().acked, outbox.pending_batches, outbox.depth) == (
            20,
            1,
            5,
        )


def test_seq_is_never_reused_across_reopen(outbox_path):
    seqs = []
    for round_ in range(3):
        with Outbox.open(outbox_path) as outbox:
            outbox.add(make_readings(3, start=round_ * 3))
            batch = outbox.seal(max_readings=100, clock=CLOCK)
            seqs.append(batch.seq)
            outbox.ack(batch.seq)
            assert outbox.depth == 0
            assert outbox.stats().next_seq == batch.seq + 1

    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3
    with Outbox.open(outbox_path) as outbox:
        stats = outbox.stats()
        assert (stats.depth, stats.sampled, stats.acked, stats.next_seq) == (
            0,
            9,
            9,
            seqs[-1] + 1,
        )


def test_unacked_batch_is_resent_with_same_seq_and_bytes_after_reopen(outbox_path):
    with Outbox.open(outbox_path) as outbox:
        outbox.add(make_readings(20))
        first = outbox.seal(max_readings=8, clock=CLOCK)
        before = outbox.unacked(limit=10)
        outbox.add(make_readings(5, start=20))

    with Outbox.open(outbox_path) as outbox:
        assert outbox.unacked(limit=10) == before
        assert outbox.depth == 25
        assert outbox.pending_batches == 1
        second = outbox.seal(max_readings=100, clock=CLOCK)
        assert second.seq > first.seq
        assert decode_batch(second.payload).time_ns.tolist() == list(range(8, 25))


CHILD = """
import sys
from pathlib import Path

from livinglab_edge_agent.outbox import Outbox
from livinglab_edge_agent.wire import ClockState

outbox = Outbox.open(Path(sys.argv[1]))
n = 0
while True:
    outbox.add([(n + i, "t", float(n + i)) for i in range(10)])
    n += 10
    sys.stdout.write(f"{n}\\n")
    sys.stdout.flush()
    if n % 50 == 0:
        batch = outbox.seal(max_readings=30, clock=ClockState())
        if batch is not None and batch.seq % 2:
            outbox.ack(batch.seq)
"""


def test_survives_kill_9(outbox_path):
    reported = 0
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(outbox_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        for _ in range(300):
            line = child.stdout.readline()
            if not line:
                child.wait()
                pytest.fail(
                    f"child exited with {child.returncode}: {child.stderr.read()}"
                )
            reported = int(line)
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert reported == 3_000

    with closing(sqlite3.connect(outbox_path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]

    with Outbox.open(outbox_path) as outbox:
        stats = outbox.stats()
        assert stats.sampled >= reported
        assert stats.dropped == 0
        assert stats.acked > 0
        assert stats.depth + stats.acked + stats.dropped == stats.sampled
        times = all_times(outbox)
        assert len(times) == stats.depth
        assert len(set(times)) == len(times)
        assert all(0 <= t < stats.sampled for t in times)
        # Every committed reading is still held or was acknowledged in a whole batch of 30.
        assert stats.acked % 30 == 0
        seqs = [seq for seq, _, _ in outbox.unacked(limit=1_000_000)]
        assert seqs == sorted(set(seqs))
        assert seqs[0] < stats.next_seq
        outbox.add(make_readings(1, start=stats.sampled))
        assert outbox.seal(max_readings=1, clock=CLOCK).seq > seqs[-1]


def test_capacity_purges_oldest_pending_readings(outbox_path, caplog):
    caplog.set_level(logging.WARNING, logger="livinglab_edge_agent.outbox")
    with Outbox.open(outbox_path, capacity=100) as outbox:
        dropped = [
            outbox.add(make_readings(10, start=start)) for start in range(0, 250, 10)
        ]

        assert sum(dropped) == 150
        assert dropped[:10] == [0] * 10
        assert outbox.depth == 100
        stats = outbox.stats()
        assert (stats.dropped, stats.sampled) == (150, 250)
        assert stats.depth + stats.acked + stats.dropped == stats.sampled
        assert all_times(outbox) == list(range(150, 250))

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 15
    assert "dropped 10 oldest readings" in warnings[0].getMessage()


def test_capacity_purges_whole_sealed_batches_first(outbox_path, caplog):
    caplog.set_level(logging.WARNING, logger="livinglab_edge_agent.outbox")
    with Outbox.open(outbox_path, capacity=100) as outbox:
        outbox.add(make_readings(60))
        first = outbox.seal(max_readings=40, clock=CLOCK)
        second = outbox.seal(max_readings=20, clock=CLOCK)

        # 110 readings against a capacity of 100: the whole oldest batch (40 readings) goes.
        assert outbox.add(make_readings(50, start=60)) == 40

        assert outbox.depth == 70
        assert [seq for seq, _, _ in outbox.unacked(limit=10)] == [second.seq]
        assert outbox.stats().dropped == 40
        # The purged seq is a gap; it is never reused.
        assert outbox.seal(max_readings=100, clock=CLOCK).seq == second.seq + 1
        assert all_times(outbox) == list(range(40, 110))
        outbox.ack(first.seq)
        assert outbox.stats().acked == 0

    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert f"seq {first.seq}..{first.seq}" in record.getMessage()


def test_one_add_larger_than_capacity_keeps_its_newest_readings(outbox_path):
    with Outbox.open(outbox_path, capacity=100) as outbox:
        assert outbox.add(make_readings(250)) == 150
        assert all_times(outbox) == list(range(150, 250))


def test_batch_is_due_when_enough_readings_are_pending(outbox_path):
    with Outbox.open(outbox_path) as outbox:
        assert not outbox.batch_due(batch_size=10, max_age_s=0)
        outbox.add(make_readings(9))
        assert outbox.pending == 9
        assert not outbox.batch_due(batch_size=10, max_age_s=3600)

        outbox.add(make_readings(1, start=9))
        assert outbox.batch_due(batch_size=10, max_age_s=3600)

        outbox.seal(max_readings=10, clock=CLOCK)
        assert outbox.pending == 0
        assert not outbox.batch_due(batch_size=10, max_age_s=0)


def test_batch_is_due_when_the_oldest_pending_reading_is_old_enough(outbox_path):
    with Outbox.open(outbox_path) as outbox:
        outbox.add(make_readings(3))
        time.sleep(0.3)
        outbox.add(make_readings(3, start=3))
        assert outbox.batch_due(batch_size=100, max_age_s=0.25)

        # Sealing the three old readings leaves the three just added: not due yet.
        outbox.seal(max_readings=3, clock=CLOCK)
        assert outbox.pending == 3
        assert not outbox.batch_due(batch_size=100, max_age_s=0.25)
        time.sleep(0.3)
        assert outbox.batch_due(batch_size=100, max_age_s=0.25)


def test_purged_readings_no_longer_make_a_batch_due(outbox_path):
    with Outbox.open(outbox_path, capacity=10) as outbox:
        outbox.add(make_readings(10))
        time.sleep(0.3)
        assert outbox.add(make_readings(10, start=10)) == 10

        assert outbox.pending == 10
        assert not outbox.batch_due(batch_size=100, max_age_s=0.25)


def test_readings_pending_at_open_count_as_arriving_then(outbox_path):
    with Outbox.open(outbox_path) as outbox:
        outbox.add(make_readings(3))
    with Outbox.open(outbox_path) as outbox:
        assert outbox.pending == 3
        assert outbox.batch_due(batch_size=3, max_age_s=3600)
        assert not outbox.batch_due(batch_size=4, max_age_s=3600)
        assert outbox.batch_due(batch_size=4, max_age_s=0)


def test_concurrent_add_and_uplink_keep_counts(outbox_path):
    total = 2_000
    with Outbox.open(outbox_path, synchronous="NORMAL") as outbox:

        def sample():
            for start in range(0, total, 10):
                outbox.add(make_readings(10, start=start))

        sampler = threading.Thread(target=sample)
        sampler.start()
        acked = []
        while sampler.is_alive() or outbox.stats().depth:
            batch = outbox.seal(max_readings=37, clock=CLOCK)
            if batch is not None:
                acked.extend(decode_batch(batch.payload).time_ns.tolist())
                outbox.ack(batch.seq)
        sampler.join()

        assert acked == list(range(total))
        stats = outbox.stats()
        assert (stats.depth, stats.sampled, stats.acked, stats.dropped) == (
            0,
            total,
            total,
            0,
        )


def test_seal_takes_part_of_a_packed_add_and_maps_each_adds_keys(outbox_path):
    # Each add is one packed row with its own keys; a batch may end inside a row, and rows
    # whose keys differ still make one batch with the keys in first-seen order.
    first = [(1, "a", 1.0), (2, "b", -0.0), (3, "a", math.nan), (4, "b", 4.0)]
    second = [(5, "c", 5.0), (6, "a", math.inf), (7, "c", 7.0)]
    with Outbox.open(outbox_path) as outbox:
        outbox.add(first)
        outbox.add(second)
        batch = outbox.seal(max_readings=6, clock=CLOCK)
        rest = outbox.seal(max_readings=6, clock=CLOCK)
        assert outbox.seal(max_readings=6, clock=CLOCK) is None

    got = decode_batch(batch.payload)
    assert got.sensors == ("a", "b", "c")
    assert got.readings()[:2] == first[:2]
    assert math.isnan(got.readings()[2][2])
    assert got.readings()[3:] == [first[3], second[0], second[1]]
    assert math.copysign(1.0, got.readings()[1][2]) == -1.0  # -0.0 kept
    assert decode_batch(rest.payload).readings() == [second[2]]


SCHEMA_1 = """
CREATE TABLE pending (id INTEGER PRIMARY KEY AUTOINCREMENT, time_ns INTEGER NOT NULL,
    key TEXT NOT NULL, value REAL);
CREATE TABLE batches (seq INTEGER PRIMARY KEY, created_ns INTEGER NOT NULL,
    readings INTEGER NOT NULL, payload BLOB NOT NULL);
CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta VALUES ('next_seq', 8), ('acked', 70), ('dropped', 0), ('sampled', 75);
INSERT INTO batches VALUES (7, 0, 2, x'00');
INSERT INTO pending (time_ns, key, value) VALUES (10, 't', 1.5), (11, 'rh', NULL), (12, 't', 3.0);
PRAGMA user_version = 1;
"""


def test_schema_1_outbox_opens_with_its_pending_readings_packed_in_order(outbox_path):
    with closing(sqlite3.connect(outbox_path)) as conn:
        conn.executescript(SCHEMA_1)
    with Outbox.open(outbox_path) as outbox:
        stats = outbox.stats()
        assert (stats.depth, stats.batches, stats.acked, stats.next_seq) == (
            5,
            1,
            70,
            8,
        )
        assert outbox.pending == 3
        batch = outbox.seal(max_readings=100, clock=CLOCK)
    got = decode_batch(batch.payload)
    assert batch.seq == 8
    assert [(t, k) for t, k, _ in got.readings()] == [(10, "t"), (11, "rh"), (12, "t")]
    values = got.value.tolist()
    assert values[0::2] == [1.5, 3.0]
    assert math.isnan(values[1])
    with closing(sqlite3.connect(outbox_path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
        assert "pending" not in tables


def test_invalid_sensor_key_is_refused_before_storing(outbox_path):
    with Outbox.open(outbox_path) as outbox:
        with pytest.raises(ValueError, match="invalid sensor key"):
            outbox.add([(1, "Bad Key", 1.0)])
        assert outbox.stats().sampled == 0
        # A key passes its check once; a bad key beside known good ones is still refused.
        outbox.add([(2, "good", 1.0)])
        with pytest.raises(ValueError, match="invalid sensor key"):
            outbox.add([(3, "good", 1.0), (3, "bad/key", 2.0)])
        assert outbox.stats().sampled == 1


def test_missing_directory_raises_outbox_error_naming_path(tmp_path):
    path = tmp_path / "missing" / "outbox.db"
    with pytest.raises(OutboxError, match="cannot open outbox") as info:
        Outbox.open(path)
    assert str(path) in str(info.value)


def test_directory_as_path_raises_outbox_error(tmp_path):
    with pytest.raises(OutboxError) as info:
        Outbox.open(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_corrupt_file_raises_outbox_error_naming_path(outbox_path):
    outbox_path.write_bytes(b"this is not an sqlite database, just some garbage" * 100)
    with pytest.raises(OutboxError, match="not a database") as info:
        Outbox.open(outbox_path)
    assert str(outbox_path) in str(info.value)


def test_closed_outbox_raises_outbox_error(outbox_path):
    outbox = Outbox.open(outbox_path)
    outbox.close()
    outbox.close()
    with pytest.raises(OutboxError, match="closed"):
        outbox.add(make_readings(1))
    with pytest.raises(OutboxError, match="closed"):
        outbox.unacked(limit=1)


def test_bad_options_are_refused(outbox_path):
    with pytest.raises(ValueError, match="capacity"):
        Outbox.open(outbox_path, capacity=0)
    with pytest.raises(ValueError, match="synchronous"):
        Outbox.open(outbox_path, synchronous="FULL; DROP TABLE pending")
    assert not Path(outbox_path).exists()
