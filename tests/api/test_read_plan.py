"""The read plan's buckets equal the raw readings' own, on every path and for every role.

Inside each visibility window, whole rollup cells come from the rollups and the partial cells at
the window's edges from the raw readings there (data/queries.py). The reference here is the
aggregate of the raw readings written out in SQL, compared at window edges that cut minutes and
hours, across Ljubljana's two daylight-saving changes of 2026 (buckets are UTC: the 23- and 25-hour
local days are 24-hour buckets like any other), over gaps in the readings, and with a window
shorter than a minute. One rule for partial buckets on every path: the range asked for grows to
whole buckets, and each bucket holds every reading in it that the asker may see.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from livinglab_platform.data.queries import INTERVAL_S, whole_buckets
from tests.api.readings import fill_rollups, trial_with_windows
from tests.api.world import World, add_device

SPRING = datetime(2026, 3, 29, 1, tzinfo=UTC)  # 02:00 CET becomes 03:00 CEST
AUTUMN = datetime(2026, 10, 25, 1, tzinfo=UTC)  # 03:00 CEST becomes 02:00 CET
# Readings about every 10 s (not on whole seconds) for 30 h either side of each change, with a
# gap of 3 h 13 min after each.
SPAN = timedelta(hours=30)
GAP = (timedelta(hours=2), timedelta(hours=5, minutes=13))
WINDOWS = [
    (
        SPRING - timedelta(hours=20, minutes=-17, seconds=-23),
        SPRING + timedelta(hours=3, minutes=41, seconds=7),
    ),
    (SPRING + timedelta(hours=6), SPRING + timedelta(hours=6, seconds=30)),
    (SPRING + timedelta(hours=9), SPRING + timedelta(hours=9, minutes=59, seconds=59)),
    (
        AUTUMN - timedelta(hours=25, minutes=-1),
        AUTUMN + timedelta(hours=26, minutes=-7),
    ),
]
INTERVALS = ("1m", "5m", "15m", "1h", "6h", "1d")


def _insert(conn: psycopg.Connection[Any], sensor: int, change: datetime) -> None:
    conn.execute(
        "INSERT INTO readings (time, sensor_id, value)"
        " SELECT t, %(sensor)s, 20 + 5 * sin(i / 37.0) + (i %% 7) / 10.0 FROM ("
        "   SELECT i, %(first)s + i * interval '10 s' + (i %% 3) * interval '1.7 s' AS t"
        "     FROM generate_series(0, %(n)s) i) g"
        " WHERE NOT (t >= %(gap_start)s AND t < %(gap_end)s)",
        {
            "sensor": sensor,
            "first": change - SPAN,
            "n": int(2 * SPAN.total_seconds() / 10),
            "gap_start": change + GAP[0],
            "gap_end": change + GAP[1],
        },
    )


@pytest.fixture
def lab(world: World) -> dict[str, int]:
    with psycopg.connect(world.dsn) as conn:
        # startup-b's device works for startup-a's trial (where `partner` works) in WINDOWS.
        sensor = add_device(conn, "dev-b", "startup-b")
        _insert(conn, sensor, SPRING)
        _insert(conn, sensor, AUTUMN)
        fill_rollups(conn)
        conn.commit()
        trial = trial_with_windows(
            conn,
            "startup-a",
            [("dev-b", lo, hi) for lo, hi in WINDOWS],
            starts_on=date(2026, 3, 1),
            ends_on=date(2026, 11, 30),
        )
    return {"sensor": sensor, "trial": trial}


def _reference(
    dsn: str,
    sensor: int,
    width: timedelta,
    start: datetime,
    end: datetime,
    *,
    windowed: bool,
) -> list[tuple[datetime, int, float, float, float]]:
    """The buckets computed from raw readings alone, inside the windows when `windowed`."""
    inside = " OR ".join(
        f"(r.time >= '{lo.isoformat()}' AND r.time < '{hi.isoformat()}')"
        for lo, hi in WINDOWS
    )
    with psycopg.connect(dsn) as conn:
        return [
            (t, n, mean, low, high)
            for t, n, mean, low, high in conn.execute(
                "SELECT time_bucket(%s, r.time), count(*), avg(r.value), min(r.value),"
                " max(r.value) FROM readings r"
                " WHERE r.sensor_id = %s AND r.time >= %s AND r.time < %s"
                f" AND ({inside if windowed else 'true'}) GROUP BY 1 ORDER BY 1",
                (width, sensor, start, end),
            )
        ]


def _answer(client, world: World, who: str, **params: Any):
    r = client.get("/api/v1/data", headers=world.headers(who), params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    points = [p for series in body["series"] for p in series["points"]]
    got = [
        (datetime.fromisoformat(p["time"]), p["count"], p["mean"], p["min"], p["max"])
        for p in points
    ]
    return body, got


def _same(got, expected) -> None:
    assert [g[:2] for g in got] == [e[:2] for e in expected]
    for g, e in zip(got, expected, strict=True):
        assert g[2] == pytest.approx(e[2], rel=1e-12)
        assert (g[3], g[4]) == (e[3], e[4])


@pytest.mark.parametrize("interval", INTERVALS)
def test_windowed_buckets_equal_the_raw_readings_inside_the_windows(
    client, world: World, lab: dict[str, int], interval: str
):
    # A range that starts and ends inside buckets of every width: both grow to whole buckets.
    start = SPRING - SPAN + timedelta(minutes=7, seconds=13)
    end = AUTUMN + SPAN - timedelta(minutes=29)
    width = timedelta(seconds=INTERVAL_S[interval])
    grown = whole_buckets(start, end, width)
    expected = _reference(world.dsn, lab["sensor"], width, *grown, windowed=True)
    assert len(expected) > 2
    asks = {
        "partner through the trial": ("partner", {"trial": lab["trial"]}),
        "partner by device": ("partner", {"device": "dev-b"}),
        "operator with trial=": ("operator", {"trial": lab["trial"]}),
    }
    for who, extra in asks.values():
        body, got = _answer(
            client,
            world,
            who,
            start=start.isoformat(),
            end=end.isoformat(),
            interval=interval,
            **extra,
        )
        answered = (body["start"], body["end"])
        assert tuple(datetime.fromisoformat(t) for t in answered) == grown
        _same(got, expected)


@pytest.mark.parametrize("change", [SPRING, AUTUMN], ids=["spring", "autumn"])
def test_a_day_at_1h_from_an_unaligned_start_has_25_buckets_on_every_path(
    client, world: World, lab: dict[str, int], change: datetime
):
    # 24 h from 20 minutes past an hour: the partial first and last hours are buckets too.
    start = change - timedelta(hours=12, minutes=-20)
    end = start + timedelta(hours=24)
    width = timedelta(hours=1)
    grown = whole_buckets(start, end, width)
    params = {"start": start.isoformat(), "end": end.isoformat(), "interval": "1h"}
    _, whole = _answer(client, world, "operator", device="dev-b", **params)
    _same(whole, _reference(world.dsn, lab["sensor"], width, *grown, windowed=False))
    # The gap leaves some hours without readings: no bucket for them.
    assert len(whole) == 25 - 3
    _, windowed = _answer(client, world, "operator", trial=lab["trial"], **params)
    _same(windowed, _reference(world.dsn, lab["sensor"], width, *grown, windowed=True))
    _, partner = _answer(client, world, "partner", trial=lab["trial"], **params)
    _same(partner, windowed)


def test_raw_readings_are_those_inside_the_windows_in_time_order(
    client, world: World, lab: dict[str, int]
):
    lo = WINDOWS[0][0]
    start, end = lo - timedelta(minutes=30), lo + timedelta(minutes=70)
    r = client.get(
        "/api/v1/data",
        headers=world.headers("partner"),
        params={
            "trial": lab["trial"],
            "start": start.isoformat(),
            "end": end.isoformat(),
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["interval"] == "raw"
    times = [datetime.fromisoformat(p["time"]) for p in r.json()["series"][0]["points"]]
    with psycopg.connect(world.dsn) as conn:
        expected = [
            t
            for (t,) in conn.execute(
                "SELECT time FROM readings WHERE sensor_id = %s AND time >= %s AND time < %s"
                " ORDER BY time",
                (lab["sensor"], lo, end),
            )
        ]
    assert times == expected
