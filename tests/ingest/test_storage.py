"""The NumPy building blocks of the hot path against their one-row-at-a-time references."""

from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from livinglab_platform.ingest.pgcopy import CopyBuffer, encode_readings, index_order
from livinglab_platform.ingest.registry import UNKNOWN_SENSOR
from livinglab_platform.ingest.rollup import aggregate
from livinglab_platform.ingest.validate import check_rows

UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def edge_rows():
    """Rows with negative and pre-2000 times, -0.0, extreme and non-finite values."""
    time_us = np.array(
        [
            0,
            -1,
            -62_135_596_800_000_000,  # 0001-01-01
            946_684_799_999_999,  # just before 2000
            946_684_800_000_000,  # 2000-01-01, PostgreSQL's epoch
            946_684_800_000_001,
            1_700_000_000_123_456,
            253_402_300_799_999_999,  # 9999-12-31T23:59:59.999999
            *range(1_700_000_000_000_000, 1_700_000_000_000_000 + 992 * 997, 997),
        ],
        dtype=np.int64,
    )
    n = len(time_us)
    sensor_id = np.resize(
        np.array([1, 0, -1, 2**31 - 1, -(2**31), 7], dtype=np.int32), n
    )
    special = [
        -0.0,
        0.0,
        1e308,
        -1e308,
        5e-324,
        np.inf,
        -np.inf,
        np.nan,
        2.0**53 + 1,
        -123.456,
    ]
    value = np.random.default_rng(3).normal(0, 1e6, n)
    value[: len(special)] = special
    return time_us, sensor_id, value


def test_binary_copy_stream_equals_psycopg_write_row(dsn):
    time_us, sensor_id, value = edge_rows()
    with psycopg.connect(dsn) as conn:
        for table in ("by_numpy", "by_write_row"):
            conn.execute(
                f"CREATE TABLE {table} (n serial, time timestamptz, sensor_id int4, value float8)".encode()
            )
        with conn.cursor() as cur:
            with cur.copy(
                "COPY by_numpy (time, sensor_id, value) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.write(encode_readings(time_us, sensor_id, value))
            with cur.copy(
                "COPY by_write_row (time, sensor_id, value) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["timestamptz", "int4", "float8"])
                for t, s, v in zip(
                    time_us.tolist(), sensor_id.tolist(), value.tolist(), strict=True
                ):
                    copy.write_row((UNIX_EPOCH + timedelta(microseconds=t), s, v))
            # The same bytes come back out, row for row.
            outputs = []
            for table in ("by_numpy", "by_write_row"):
                with cur.copy(
                    f"COPY (SELECT time, sensor_id, value FROM {table} ORDER BY n) TO STDOUT (FORMAT BINARY)".encode()
                ) as copy:
                    outputs.append(b"".join(bytes(block) for block in copy))
        assert outputs[0] == outputs[1]
        rows = conn.execute(
            "SELECT time, sensor_id, value FROM by_numpy ORDER BY n"
        ).fetchall()
    assert len(rows) == len(time_us)
    assert rows[2][0] == datetime(1, 1, 1, tzinfo=UTC)
    assert rows[7][0] == datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert [r[1] for r in rows] == sensor_id.tolist()
    assert np.array([r[2] for r in rows]).tobytes() == value.tobytes()


def test_copy_buffer_is_reusable_for_larger_and_smaller_streams():
    time_us, sensor_id, value = edge_rows()
    buffer = CopyBuffer(4)
    for n in (len(time_us), 3, 0, 50, len(time_us), 1):
        got = bytes(buffer.encode(time_us[:n], sensor_id[:n], value[:n]))
        assert got == encode_readings(time_us[:n], sensor_id[:n], value[:n])
        assert len(got) == 19 + 34 * n + 2
        assert got.endswith(b"\xff\xff")


def naive_rollup(time_us, sensor_id, value, width_us):
    groups = {}
    for t, s, v in zip(
        time_us.tolist(), sensor_id.tolist(), value.tolist(), strict=True
    ):
        groups.setdefault((s, t // width_us * width_us // 1_000_000), []).append(v)
    return {
        key: (len(vs), sum(vs), min(vs), max(vs), sum(v * v for v in vs))
        for key, vs in sorted(groups.items())
    }


def test_aggregate_matches_a_naive_rollup():
    rng = np.random.default_rng(5)
    n = 20_000
    time_us = 1_700_000_000_000_000 + rng.integers(0, 3 * 3600 * 10**6, n)
    sensor_id = rng.choice(np.array([1, 2, 3, 99_999], dtype=np.int32), n)
    value = rng.normal(10, 3, n)
    minutes, hours = aggregate(time_us, sensor_id, value)
    for rollup, width in ((minutes, 60_000_000), (hours, 3_600_000_000)):
        want = naive_rollup(time_us, sensor_id, value, width)
        assert list(
            zip(rollup.sensor_id.tolist(), rollup.bucket_s.tolist(), strict=True)
        ) == list(want)
        stats = np.array(list(want.values()))
        assert np.array_equal(rollup.count, stats[:, 0])
        assert np.allclose(rollup.sum, stats[:, 1], rtol=1e-12)
        assert np.array_equal(rollup.min, stats[:, 2])
        assert np.array_equal(rollup.max, stats[:, 3])
        assert np.allclose(rollup.sum_sq, stats[:, 4], rtol=1e-12)
    assert hours.count.sum() == minutes.count.sum() == n


@pytest.mark.parametrize(
    ("time_ns", "sensor_id", "value", "reason"),
    [
        (1_700_000_000 * 10**9, 1, np.nan, "1 non-finite value"),
        (
            1_700_000_000 * 10**9,
            UNKNOWN_SENSOR,
            1.0,
            "1 reading with unknown sensor key 'k1'",
        ),
        (946_684_800 * 10**9 - 1, 1, 1.0, "1 reading timed before 2000-01-01"),
        (
            2_000_000_301 * 10**9,
            1,
            1.0,
            "1 reading timed more than 300 s in the future",
        ),
        (2_000_000_300 * 10**9, 1, 1.0, None),
        (946_684_800 * 10**9, 1, -0.0, None),
    ],
)
def test_check_rows_reasons(time_ns, sensor_id, value, reason):
    check = check_rows(
        time_ns=np.array([1_700_000_000 * 10**9, time_ns], dtype=np.int64),
        sensor_id=np.array([1, sensor_id], dtype=np.int32),
        value=np.array([2.0, value]),
        batch_index=np.array([0, 1]),
        sensor_index=np.array([0, 1], dtype=np.uint16),
        sensor_keys=[("k0",), ("k0", "k1")],
        now_ns=2_000_000_000 * 10**9,
        max_future_s=300.0,
    )
    assert check.reasons == [None, reason]
    assert check.bad.tolist() == [0, 0 if reason is None else 1]
    assert check.good.tolist() == [True, reason is None]


def test_index_order_sorts_by_sensor_then_newest_first():
    rng = np.random.default_rng(9)
    for span_us in (10**9, 10**13):  # within 2^32 µs, and beyond it (the lexsort path)
        time_us = 1_700_000_000_000_000 + rng.integers(0, span_us, 5_000)
        sensor_id = rng.integers(1, 50, 5_000).astype(np.int32)
        order = index_order(time_us, sensor_id)
        assert sorted(order.tolist()) == list(range(5_000))
        s, t = sensor_id[order], time_us[order]
        assert np.all((s[1:] > s[:-1]) | ((s[1:] == s[:-1]) & (t[1:] <= t[:-1])))
    assert len(index_order(np.empty(0, np.int64), np.empty(0, np.int32))) == 0


def test_aggregate_of_rows_in_index_order_needs_no_sort():
    rng = np.random.default_rng(11)
    time_us = 1_700_000_000_000_000 + rng.integers(0, 2 * 3600 * 10**6, 10_000)
    sensor_id = rng.integers(1, 9, 10_000).astype(np.int32)
    value = rng.normal(size=10_000)
    order = index_order(time_us, sensor_id)
    sorted_m, sorted_h = aggregate(time_us, sensor_id, value)
    grouped_m, grouped_h = aggregate(
        time_us[order], sensor_id[order], value[order], grouped=True
    )
    for a, b in ((sorted_m, grouped_m), (sorted_h, grouped_h)):
        back = np.lexsort((b.bucket_s, b.sensor_id))
        assert np.array_equal(a.sensor_id, b.sensor_id[back])
        assert np.array_equal(a.bucket_s, b.bucket_s[back])
        assert np.array_equal(a.count, b.count[back])
        assert np.array_equal(a.min, b.min[back])
        assert np.array_equal(a.max, b.max[back])
        assert np.allclose(a.sum, b.sum[back], rtol=1e-12)
        assert np.allclose(a.sum_sq, b.sum_sq[back], rtol=1e-12)
