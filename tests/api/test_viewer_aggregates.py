"""A viewer's aggregates never give a raw reading away: the security review's attack, replayed.

The property (access.cell_min_count, data/queries.py): every bucket a viewer gets is made of whole,
aligned one-minute cells, each holding at least LIVINGLAB_VIEWER_MIN_COUNT readings; a cell with
fewer is in none of a viewer's buckets, whatever the range, offset, interval or trial asked for.
So no bucket holds one reading, and no two buckets differ by one reading.

The attacker below knows every reading's time (more than a real one would), asks /data and
/export for narrow windows around each reading, for growing prefixes (whose differences isolate
one reading each), with and without `trial=`, at every interval, and then rebuilds what the
buckets give away: a bucket of one reading, or two nested buckets one reading apart.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from livinglab_platform.api import create_app
from livinglab_platform.core.settings import ApiSettings
from livinglab_platform.data.queries import INTERVAL_S
from tests.api.conftest import broker_settings
from tests.api.readings import fill_rollups
from tests.api.world import T0, World, add_device, make_trial

# 70 dense readings, 7.3 s apart (8 or 9 a minute, 4 in the last minute), then 30 sparse ones,
# 97.1 s apart (one a minute): 100 readings, all values different.
DENSE_START = T0 + timedelta(hours=10)
SPARSE_START = T0 + timedelta(hours=11)
TIMES = [DENSE_START + timedelta(seconds=7.3 * i) for i in range(70)] + [
    SPARSE_START + timedelta(seconds=97.1 * j) for j in range(30)
]
VALUES = [10.0 + 0.731 * i + 0.01 * (i % 3) for i in range(100)]
ALONE = set(range(70, 100))  # each alone in its minute
NARROW = timedelta(milliseconds=100)
INTERVALS = ("1m", "5m", "15m", "1h", "6h", "1d")


@dataclass(frozen=True)
class Seen:
    """What one bucket tells: the readings of [start, end) number `count` and add up to `total`."""

    start: datetime
    end: datetime
    count: int
    total: float
    low: float
    high: float


def _setup(world: World) -> int:
    with psycopg.connect(world.dsn) as conn:
        sensor = add_device(conn, "dev-a", "startup-a")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO readings (time, sensor_id, value) VALUES (%s, %s, %s)",
                [(t, sensor, v) for t, v in zip(TIMES, VALUES, strict=True)],
            )
        fill_rollups(conn)
        conn.commit()
        # Running: visible to viewers; dev-a assigned from T0 for 30 days.
        return make_trial(conn, "startup-a", state="running", device="dev-a")


def _buckets(rows, interval: str, start: datetime, end: datetime) -> list[Seen]:
    width = timedelta(seconds=INTERVAL_S_BY_NAME[interval])
    seen = []
    for time, count, mean, low, high in rows:
        # The attacker's best reading of a bucket: inside both the bucket and the range answered.
        seen.append(
            Seen(
                start=max(time, start),
                end=min(time + width, end),
                count=count,
                total=mean * count,
                low=low,
                high=high,
            )
        )
    return seen


INTERVAL_S_BY_NAME = {interval.value: s for interval, s in INTERVAL_S.items()}


class Attacker:
    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers
        self.seen: list[Seen] = []

    def data(self, start: datetime, end: datetime, interval: str, **extra) -> None:
        params = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "interval": interval,
        }
        r = self.client.get(
            "/api/v1/data", headers=self.headers, params={**params, **extra}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        answered = (
            datetime.fromisoformat(body["start"]),
            datetime.fromisoformat(body["end"]),
        )
        rows = [
            (
                datetime.fromisoformat(p["time"]),
                p["count"],
                p["mean"],
                p["min"],
                p["max"],
            )
            for series in body["series"]
            for p in series["points"]
        ]
        self.seen += _buckets(rows, body["interval"], *answered)

    def export(self, start: datetime, end: datetime, interval: str, **extra) -> None:
        params = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "interval": interval,
        }
        r = self.client.get(
            "/api/v1/export",
            headers=self.headers,
            params={**params, "format": "csv", **extra},
        )
        assert r.status_code == 200, r.text
        rows = [
            (
                datetime.fromisoformat(row["time"]),
                int(row["count"]),
                float(row["mean"]),
                float(row["min"]),
                float(row["max"]),
            )
            for row in csv.DictReader(io.StringIO(r.text))
        ]
        self.seen += _buckets(rows, interval, start, end)

    def rebuilt(self) -> set[int]:
        """The readings whose value the buckets seen give away, tied to a range holding it."""
        seen = set(self.seen)
        found: list[tuple[datetime, datetime, float]] = [
            (s.start, s.end, s.total) for s in seen if s.count == 1
        ]
        found += [(s.start, s.end, s.low) for s in seen if s.low == s.high]
        by_count: dict[int, list[Seen]] = {}
        for s in seen:
            by_count.setdefault(s.count, []).append(s)
        for inner in seen:
            for outer in by_count.get(inner.count + 1, []):
                if outer.start <= inner.start and inner.end <= outer.end:
                    found.append((outer.start, outer.end, outer.total - inner.total))
        return {
            i
            for i, (t, v) in enumerate(zip(TIMES, VALUES, strict=True))
            if any(s <= t < e and abs(v - value) < 1e-6 for s, e, value in found)
        }


def _attack(attacker: Attacker, trial_id: int) -> set[int]:
    """Every trick of the review at once; the readings it rebuilds."""
    first = DENSE_START - timedelta(minutes=3)
    for n, t in enumerate(TIMES):
        # The review's attack: one reading in a 100 ms window, through /data with and without
        # the trial and through /export; each reading through one of the three in turn, so each
        # way meets dense and lonely readings alike.
        narrow = (t - NARROW / 2, t + NARROW / 2, "1m")
        if n % 3 == 0:
            attacker.data(*narrow, trial=trial_id)
        elif n % 3 == 1:
            attacker.data(*narrow, device="dev-a")
        else:
            attacker.export(*narrow, trial=trial_id)
        # Growing prefixes: two in a row differ by one reading.
        for interval in INTERVALS:
            attacker.data(first, t + NARROW / 2, interval, trial=trial_id)
        attacker.export(first, t + NARROW / 2, "1h", trial=trial_id)
        attacker.data(first, t + NARROW / 2, "1m", device="dev-a")
    # Sliding windows at offsets that are not whole minutes, every 2 minutes across both the
    # dense and the sparse readings, at every interval. Each window takes the next of the four
    # offsets in turn (each offset at every window once made 4x the requests for the same tricks).
    offsets_s = (0.05, 7.0, 29.9, 61.3)
    for interval in INTERVALS:
        for n, k in enumerate(range(0, 130, 4)):
            start = first + timedelta(seconds=offsets_s[n % len(offsets_s)] + 30 * k)
            attacker.data(
                start, start + timedelta(seconds=45), interval, trial=trial_id
            )
    return attacker.rebuilt()


def test_a_viewer_cannot_rebuild_raw_readings(client, world: World):
    trial_id = _setup(world)
    rebuilt = _attack(Attacker(client, world.headers("viewer")), trial_id)
    assert sorted(rebuilt) == []


def test_the_attack_works_where_buckets_of_one_are_shown(client, world: World):
    # The same attack as an operator, who may read raw readings anyway and sees every bucket:
    # the one-reading cells give their readings away. So the attack can succeed, and the
    # minimum count is what stops it for viewers.
    trial_id = _setup(world)
    rebuilt = _attack(Attacker(client, world.headers("operator")), trial_id)
    assert ALONE.issubset(rebuilt)


def test_viewers_get_whole_cells_of_enough_readings(client, world: World):
    trial_id = _setup(world)
    viewer = world.headers("viewer")
    # A range cut inside minutes answers whole minutes; the 4-reading minute and the sparse
    # ones are left out.
    r = client.get(
        "/api/v1/data",
        headers=viewer,
        params={
            "trial": trial_id,
            "start": (DENSE_START + timedelta(seconds=30.5)).isoformat(),
            "end": (SPARSE_START + timedelta(minutes=30, seconds=1)).isoformat(),
            "interval": "1m",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert datetime.fromisoformat(body["start"]) == DENSE_START
    assert datetime.fromisoformat(body["end"]) == SPARSE_START + timedelta(minutes=31)
    assert body["source"] == "readings_1m"
    (series,) = body["series"]
    minutes = [DENSE_START + timedelta(minutes=m) for m in range(8)]
    assert [datetime.fromisoformat(p["time"]) for p in series["points"]] == minutes
    counts = [p["count"] for p in series["points"]]
    assert min(counts) >= 5
    assert sum(counts) == 66
    # A coarser bucket is the sum of the same cells: it adds nothing a difference could isolate.
    r = client.get(
        "/api/v1/data",
        headers=viewer,
        params={
            "device": "dev-a",
            "start": T0.isoformat(),
            "end": (T0 + timedelta(days=1)).isoformat(),
            "interval": "1d",
        },
    )
    (point,) = r.json()["series"][0]["points"]
    assert point["count"] == 66
    assert point["mean"] == pytest.approx(sum(VALUES[:66]) / 66)
    assert (point["min"], point["max"]) == (VALUES[0], VALUES[65])
    # Operators see every reading, in whole buckets as well.
    r = client.get(
        "/api/v1/data",
        headers=world.headers("operator"),
        params={
            "device": "dev-a",
            "start": (T0 + timedelta(hours=1, seconds=1)).isoformat(),
            "end": (T0 + timedelta(days=1)).isoformat(),
            "interval": "1d",
        },
    )
    body = r.json()
    assert datetime.fromisoformat(body["start"]) == T0
    assert body["series"][0]["points"][0]["count"] == 100


def test_the_minimum_count_is_a_setting(world: World):
    trial_id = _setup(world)
    settings = ApiSettings(database_url=world.dsn, viewer_min_count=10)
    with TestClient(create_app(settings, broker_settings(None))) as client:
        r = client.get(
            "/api/v1/export",
            headers=world.headers("viewer"),
            params={
                "trial": trial_id,
                "start": T0.isoformat(),
                "end": (T0 + timedelta(days=1)).isoformat(),
                "interval": "1m",
            },
        )
    assert r.status_code == 200, r.text
    # Every minute holds at most 9 readings: none reaches 10.
    assert r.text.splitlines()[1:] == []


@pytest.mark.parametrize("interval", ["1h", "6h", "1d"])
def test_a_viewers_hours_equal_the_cells_they_are_made_of(
    client, world: World, interval: str
):
    # Buckets of whole hours come from viewer_cells_1h (rebuilt by fill_rollups, as the ingest
    # keeps them), the minutes at a window's edges from readings_1m: the answer must be the
    # cells' own sums. The trial's window starts at 09:30, so the dense hour (10:00) comes from
    # the hours and the half hour before it from minutes. Reference: the cells of at least the
    # minimum count, summed in SQL here.
    trial_id = _setup(world)
    with psycopg.connect(world.dsn) as conn:
        conn.execute(
            "UPDATE trial_devices SET starts_at = %s WHERE trial_id = %s",
            (DENSE_START - timedelta(minutes=30), trial_id),
        )
        conn.commit()
        width = timedelta(seconds=INTERVAL_S_BY_NAME[interval])
        expected = conn.execute(
            "SELECT time_bucket(%s, bucket), sum(count)::bigint, min(min), max(max)"
            "  FROM readings_1m WHERE count >= 5 AND bucket >= %s"
            " GROUP BY 1 ORDER BY 1",
            (width, DENSE_START - timedelta(minutes=30)),
        ).fetchall()
    r = client.get(
        "/api/v1/data",
        headers=world.headers("viewer"),
        params={
            "trial": trial_id,
            "start": (T0).isoformat(),
            "end": (T0 + timedelta(days=2)).isoformat(),
            "interval": interval,
        },
    )
    assert r.status_code == 200, r.text
    got = [
        (datetime.fromisoformat(p["time"]), p["count"], p["min"], p["max"])
        for series in r.json()["series"]
        for p in series["points"]
    ]
    assert r.json()["source"] == "viewer_cells_1h"
    assert got == [tuple(row) for row in expected]
    assert expected  # the data has cells to count
