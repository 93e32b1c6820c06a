"""`livinglab export`: readings to CSV and Parquet, checked against the database."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import threading
import zipfile
from datetime import UTC, datetime, timedelta

import psycopg
import pyarrow.parquet as pq
import pytest

from livinglab_platform.trials.assignments import assign_device
from livinglab_platform.trials.schemas import AssignmentCreate
from tests.api.world import CLI, add_device, make_trial, seed

DAY = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture
def readings(dsn):
    """Device pm-01 (startup-a) with one reading a second on 2026-05-01 from 10:00 to 12:00 UTC,
    and its rollups; returns the sensor id."""
    seed(dsn)
    with psycopg.connect(dsn) as conn:
        sensor = add_device(conn, "pm-01", "startup-a")
        conn.execute(
            "INSERT INTO readings (time, sensor_id, value)"
            " SELECT t, %s, extract(epoch FROM t - %s) / 7.0"
            " FROM generate_series(%s, %s, interval '1 second') t",
            (
                sensor,
                DAY,
                DAY + timedelta(hours=10),
                DAY + timedelta(hours=12, seconds=-1),
            ),
        )
        # The rollups the ingest service keeps, which bucketed reads of whole sensors use.
        for table, width in (("readings_1m", "1 minute"), ("readings_1h", "1 hour")):
            conn.execute(
                f"INSERT INTO {table} (bucket, sensor_id, count, sum, min, max, sum_sq)"
                f" SELECT time_bucket('{width}', time), sensor_id, count(*), sum(value), min(value),"
                " max(value), sum(value * value) FROM readings GROUP BY 1, 2"
            )
        conn.commit()
    return sensor


def _stored(dsn, start, end):
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT time, value FROM readings WHERE time >= %s AND time < %s ORDER BY time",
            (start, end),
        ).fetchall()


def _csv(text):
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], [(datetime.fromisoformat(r[0]), float(r[-1])) for r in rows[1:]]


def test_csv_of_a_device_matches_the_database(livinglab, dsn, readings, tmp_path):
    out = tmp_path / "pm.csv"
    result = livinglab(
        "export", "--device", "pm-01", "--start", "2026-05-01T10:30Z", "--end", "2026-05-01T11:00Z",
        "--interval", "raw", "--format", "csv", "-o", str(out),
    )  # fmt: skip
    header, rows = _csv(out.read_text())
    assert header == ["time", "device_id", "sensor", "quantity", "unit", "value"]
    stored = _stored(dsn, DAY + timedelta(hours=10.5), DAY + timedelta(hours=11))
    assert len(stored) == 1800
    assert rows == stored
    summary = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(
        rf"1,800 rows \(raw from readings\) written to {re.escape(str(out))} as csv, [\d.]+ kB in [\d.]+ s",
        summary,
    ), summary


def test_parquet_of_a_trial_holds_only_its_assignment_period(
    livinglab, dsn, readings, tmp_path
):
    with psycopg.connect(dsn) as conn:
        trial = make_trial(conn, "startup-a", state="approved")
        assign_device(
            conn,
            CLI,
            trial,
            assignment=AssignmentCreate(
                device_id="pm-01",
                starts_at=DAY + timedelta(hours=11),
                ends_at=DAY + timedelta(hours=11, minutes=20),
            ),
        )
        conn.commit()
    out = tmp_path / "trial.parquet"  # the format follows the suffix
    livinglab(
        "export", "--trial", str(trial), "--start", "2026-05-01", "--end", "2026-05-02",
        "--interval", "raw", "-o", str(out),
    )  # fmt: skip
    table = pq.read_table(out)
    assert table.column_names == [
        "time",
        "device_id",
        "sensor",
        "quantity",
        "unit",
        "value",
    ]
    assert set(table.column("device_id").to_pylist()) == {"pm-01"}
    exported = list(
        zip(
            table.column("time").to_pylist(),
            table.column("value").to_pylist(),
            strict=True,
        )
    )
    assert exported == _stored(
        dsn, DAY + timedelta(hours=11), DAY + timedelta(hours=11, minutes=20)
    )


def test_buckets_to_stdout_without_the_bar(livinglab, readings):
    result = livinglab(
        "export", "--sensor", str(readings), "--start", "2026-05-01", "--end", "2026-05-02",
        "--interval", "1h", "-o", "-",
    )  # fmt: skip
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == [
        "time",
        "device_id",
        "sensor",
        "quantity",
        "unit",
        "count",
        "mean",
        "min",
        "max",
    ]
    # Readings are seconds since midnight / 7: the 10:00 bucket holds 36,000/7 ... 39,599/7.
    assert [(r[0][:19], r[5]) for r in rows[1:]] == [
        ("2026-05-01T10:00:00", "3600"),
        ("2026-05-01T11:00:00", "3600"),
    ]
    assert float(rows[1][6]) == pytest.approx((36_000 + 39_599) / 2 / 7)
    assert "2 rows (1h from readings_1h) written to stdout as csv" in result.stderr
    assert "exporting" not in result.stderr


def test_export_refusals(livinglab, readings, tmp_path):
    out = tmp_path / "x.csv"
    unknown = livinglab(
        "export", "--device", "nope", "--start", "2026-05-01", "--end", "2026-05-02", "-o", str(out), code=2
    )  # fmt: skip
    assert "device 'nope' not found" in unknown.stderr
    nothing = livinglab(
        "export", "--start", "2026-05-01", "--end", "2026-05-02", "-o", str(out), code=2
    )
    assert "name at least one sensor, device or trial" in nothing.stderr
    backwards = livinglab(
        "export", "--device", "pm-01", "--start", "2026-05-02", "--end", "2026-05-01", "-o", str(out), code=2
    )  # fmt: skip
    assert "end must be after start" in backwards.stderr
    # The API's rule for moments: inside the years 1 to 9999 in UTC.
    for option, moment in [
        ("--end", "9999-12-31T23:59:59-14:00"),
        ("--start", "0001-01-01T00:30+01:00"),
    ]:
        dates = {"--start": "2026-05-01", "--end": "2026-05-02", option: moment}
        beyond = livinglab(
            "export", "--device", "pm-01", *(x for kv in dates.items() for x in kv), "-o", str(out), code=2
        )  # fmt: skip
        said = " ".join(re.sub("[│╭╮╰╯─]", " ", beyond.output).split())  # rich's box
        assert (
            f"Invalid value for '{option}': '{moment}' must lie between the years 1 and 9999 in UTC"
            in said
        )
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


def test_dossier_zip_holds_the_files_and_the_trials_readings(
    livinglab, dsn, readings, tmp_path
):
    with psycopg.connect(dsn) as conn:
        trial = make_trial(conn, "startup-a", state="approved")
        assign_device(
            conn,
            CLI,
            trial,
            assignment=AssignmentCreate(
                device_id="pm-01",
                starts_at=DAY + timedelta(hours=10, minutes=50),
                ends_at=DAY + timedelta(hours=11, minutes=10),
            ),
        )
        conn.commit()
    out = tmp_path / "dossier.zip"
    result = livinglab("trials", "dossier", str(trial), "-o", str(out))
    assert re.search(
        rf"dossier of trial {trial} written to {re.escape(str(out))}: 5 file\(s\), 1,200 data rows",
        result.stdout,
    ), result.stdout
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == [
            "README.txt",
            "trial.json",
            "audit.csv",
            "devices.csv",
            "data.parquet",
        ]
        assert json.loads(archive.read("trial.json"))["id"] == trial
        assert "assign_device" in archive.read("audit.csv").decode()
        table = pq.read_table(io.BytesIO(archive.read("data.parquet")))
    window = _stored(
        dsn,
        DAY + timedelta(hours=10, minutes=50),
        DAY + timedelta(hours=11, minutes=10),
    )
    assert table.column("time").to_pylist() == [t for t, _ in window]

    unknown = livinglab(
        "trials", "dossier", "999", "-o", str(tmp_path / "x.zip"), code=2
    )
    assert unknown.stderr == "error: trial 999 not found\n"
    assert not (tmp_path / "x.zip").exists()


def test_a_sensor_is_named_device_slash_key_as_listings_show_it(livinglab, readings):
    listed = livinglab("devices", "list").stdout
    assert "pm-01/pm2_5" in listed
    by = {}
    for sensor in ("pm-01/pm2_5", str(readings)):
        by[sensor] = livinglab(
            "export", "--sensor", sensor, "--start", "2026-05-01", "--end", "2026-05-01",
            "--interval", "1h", "-o", "-",
        ).stdout  # fmt: skip
    assert by["pm-01/pm2_5"] == by[str(readings)]
    assert len(by["pm-01/pm2_5"].splitlines()) == 3  # the header and two hours
    for name, said in [
        ("pm-01/pm10", "sensor 'pm-01/pm10' not found, or not visible to you"),
        ("nope/pm2_5", "sensor 'nope/pm2_5' not found, or not visible to you"),
        ("pm-01", "sensor 'pm-01' must be DEVICE/KEY"),
    ]:
        refused = livinglab(
            "export", "--sensor", name, "--start", "2026-05-01", "--end", "2026-05-01", "-o", "-", code=2
        )  # fmt: skip
        assert said in refused.stderr


def test_an_export_to_a_device_or_pipe_writes_in_place_and_leaves_it_a_device(
    livinglab, readings, tmp_path
):
    # `-o /dev/null` once renamed a partial file over /dev/null, making it a regular file for
    # every program on the machine. A FIFO stands in for the device, so the test touches no
    # shared file.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    livinglab(
        "export", "--sensor", str(readings), "--start", "2026-05-01", "--end", "2026-05-02",
        "--interval", "1h", "-o", str(fifo),
    )  # fmt: skip
    reader.join(timeout=30)

    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received
    assert received[0].startswith(b"time,device_id,sensor")
    assert not list(tmp_path.glob(".pipe.partial"))
