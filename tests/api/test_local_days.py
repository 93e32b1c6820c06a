"""The one rule of typed dates: a Ljubljana calendar day, the last one of a period included.

An assignment "until 2027-03-05" keeps the device's data visible to the trial's partner through
23:59:59 Ljubljana time on 5 March, and no later; a grant of one day is that whole local day. The
days tried include both daylight-saving changes (a 23-hour and a 25-hour day).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest

from livinglab_platform.core.local_time import LJUBLJANA
from tests.api.world import World, add_device, make_trial


def _local(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LJUBLJANA).astimezone(UTC)


# (first day, last day): a winter week, the week up to the spring change (the last day has 23
# hours), the week up to the autumn change (25 hours).
PERIODS = [
    (date(2027, 3, 1), date(2027, 3, 5)),
    (date(2027, 3, 22), date(2027, 3, 28)),
    (date(2026, 10, 19), date(2026, 10, 25)),
]


@pytest.mark.parametrize(("first", "last"), PERIODS, ids=str)
def test_a_typed_last_day_is_visible_to_its_end_in_ljubljana(
    client, world: World, first: date, last: date
):
    with psycopg.connect(world.dsn) as conn:
        sensor = add_device(conn, "lab-dev", "lab")
        conn.commit()
        trial = make_trial(conn, "startup-a", state="approved")
        moments = {
            "day before, 23:30": _local(first - timedelta(days=1), 23, 30),
            "first day, 00:30": _local(first, 0, 30),
            "last day, 23:30": _local(last, 23, 30),
            "day after, 00:30": _local(last + timedelta(days=1), 0, 30),
        }
        for moment in moments.values():
            conn.execute(
                "INSERT INTO readings (time, sensor_id, value) VALUES (%s, %s, 1)",
                (moment, sensor),
            )
        conn.commit()
    # The operator types days, as a person would, into the API; the CLI takes the same parser.
    assigned = client.post(
        f"/api/v1/trials/{trial}/devices",
        headers=world.headers("operator"),
        json={
            "device_id": "lab-dev",
            "starts_at": first.isoformat(),
            "ends_at": last.isoformat(),
        },
    )
    assert assigned.status_code == 201, assigned.text
    assert datetime.fromisoformat(assigned.json()["ends_at"]) == _local(
        last + timedelta(days=1), 0, 0
    )
    granted = client.post(
        f"/api/v1/trials/{trial}/grants",
        headers=world.headers("operator"),
        json={
            "organisation_id": "startup-b",
            "starts_at": last.isoformat(),
            "ends_at": last.isoformat(),
        },
    )
    assert granted.status_code == 201, granted.text

    def seen(who: str) -> set[str]:
        # The export range typed as days too: the day before the period to the day after it.
        r = client.get(
            "/api/v1/data",
            headers=world.headers(who),
            params={
                "device": "lab-dev",
                "start": (first - timedelta(days=1)).isoformat(),
                "end": (last + timedelta(days=1)).isoformat(),
                "interval": "raw",
            },
        )
        assert r.status_code == 200, r.text
        times = {
            datetime.fromisoformat(p["time"])
            for s in r.json()["series"]
            for p in s["points"]
        }
        return {name for name, moment in moments.items() if moment in times}

    # The operator's export of typed days holds all four: the range's last day is included.
    assert seen("operator") == set(moments)
    # The trial's partner: the first day from its local midnight, the last to its end.
    assert seen("partner") == {"first day, 00:30", "last day, 23:30"}
    # A grant of the last day alone: that whole Ljubljana day.
    assert seen("other") == {"last day, 23:30"}


def test_a_date_time_with_an_offset_stays_exact(client, world: World):
    with psycopg.connect(world.dsn) as conn:
        add_device(conn, "lab-dev", "lab")
        conn.commit()
        trial = make_trial(conn, "startup-a", state="approved")
    assigned = client.post(
        f"/api/v1/trials/{trial}/devices",
        headers=world.headers("operator"),
        json={
            "device_id": "lab-dev",
            "starts_at": "2027-03-01T08:00:00+01:00",
            "ends_at": "2027-03-05T00:00:00Z",
        },
    )
    assert assigned.status_code == 201, assigned.text
    body = assigned.json()
    assert datetime.fromisoformat(body["starts_at"]) == datetime(
        2027, 3, 1, 7, tzinfo=UTC
    )
    assert datetime.fromisoformat(body["ends_at"]) == datetime(2027, 3, 5, tzinfo=UTC)
