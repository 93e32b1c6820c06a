"""The milestone's rule in SQL (migration 013) and what milestone.py adds beside it: the two agree
day by day, windows are whole Ljubljana days, and the dashboards' login gets counts, not names."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from livinglab_platform.governance import checklist, milestone
from livinglab_platform.governance.helix import SECTOR_OF
from tests.api.world import CLI, add_device, make_trial
from tests.governance.record import form

LJ = ZoneInfo("Europe/Ljubljana")


def test_the_sql_sectors_are_the_helix_sectors(conn):
    for kind, sector in SECTOR_OF.items():
        assert conn.execute("SELECT helix_sector(%s)", (kind.value,)).fetchone() == (
            sector,
        ), kind


def _deliver(conn, device: str, batches: list[tuple[int, datetime]]) -> None:
    for seq, moment in batches:
        conn.execute(
            "INSERT INTO deliveries (device_id, seq, readings, received_at)"
            " VALUES (%s, %s, 10, %s)",
            (device, seq, moment),
        )
    conn.commit()


def _hourly(
    first: datetime, hours: int, *, first_seq: int = 0, skip: int = 0
) -> list[tuple[int, datetime]]:
    """A batch an hour, seqs counting up, every `skip`-th one lost on the way."""
    return [
        (first_seq + h, first + timedelta(hours=h))
        for h in range(hours)
        if not skip or h % skip != 1
    ]


def test_met_and_first_met_agree_on_every_day(conn):
    """The SQL verdict (met, value) and Python's search back (first met) over six weeks across
    the end of summer time: a criterion met on a day was first met on or before it, and one
    first met on a day is met on that day."""
    form(
        conn,
        "living_lab_partnership",
        ["ul-fe", "tp-lj", "mol"],
        date(2025, 10, 10),
        date(2025, 10, 20),
        link="https://x.si/p.pdf",
    )
    conn.execute("UPDATE people SET created_at = '2025-10-05 12:00+02'")
    add_device(conn, "air-1", "startup-a")
    # Ten whole days, a gap, then a week with every fifth batch missing.
    _deliver(conn, "air-1", _hourly(datetime(2025, 10, 1, tzinfo=LJ), 240))
    _deliver(
        conn,
        "air-1",
        _hourly(datetime(2025, 10, 24, 12, tzinfo=LJ), 7 * 24, first_seq=240, skip=5),
    )
    done = make_trial(conn, "startup-a", state="completed")
    conn.execute(
        "UPDATE audit_log SET time = timestamptz '2024-10-15 23:30+02' + id * interval '1 millisecond'"
        " WHERE object_type = 'trial' AND object_id = %s",
        (str(done),),
    )
    conn.commit()
    met_on: dict[str, set[date]] = {}
    day = date(2025, 9, 28)
    while day <= date(2025, 11, 8):
        for c in milestone(conn, CLI, as_of=day).criteria:
            if c.met:
                met_on.setdefault(c.key, set()).add(day)
                assert c.first_met_on is not None, (c.key, day)
                assert c.first_met_on <= day, (c.key, day)
                assert c.missing is None, (c.key, day)
            else:
                assert c.missing, (c.key, day)
            if c.first_met_on == day:
                assert c.met, (c.key, day)
        day += timedelta(days=1)
    assert met_on["education_partnership"] == {
        date(2025, 10, 10) + timedelta(days=i) for i in range(11)
    }
    assert min(met_on["operator"]) == date(2025, 10, 5)
    # Reported on 1-10 October and from 24 to 31 October (the last batch at 11:00 on the 31st).
    assert met_on["real_life_setting"] == {
        date(2025, 10, 1) + timedelta(days=i) for i in range(10)
    } | {date(2025, 10, 24) + timedelta(days=i) for i in range(8)}
    # Completed late on 15 October 2024 (Ljubljana): the 12 months before 15 October 2025 are
    # the days after 15 October 2024, so the 14th is the last day it counts.
    assert max(met_on["experimentation"]) == date(2025, 10, 14)
    # Complete while only the first ten days are in the window; below 99.9 % from the first day
    # with gaps (3 of its 12 batches missing, beside the 240 before).
    assert max(met_on["data_you_can_trust"]) == date(2025, 10, 23)
    assert min(met_on["data_you_can_trust"]) == date(2025, 10, 1)


def test_a_late_evening_delivery_counts_for_its_ljubljana_day(conn):
    add_device(conn, "air-1", "startup-a")
    # 23:30 on the night summer time ends (22:30 UTC): the 26th in Ljubljana, not the 27th.
    _deliver(conn, "air-1", [(0, datetime(2025, 10, 26, 23, 30, tzinfo=LJ))])
    assert checklist(conn, date(2025, 10, 26))["real_life_setting"].met
    assert not checklist(conn, date(2025, 10, 27))["real_life_setting"].met
    assert not checklist(conn, date(2025, 10, 25))["real_life_setting"].met


def test_the_dashboards_login_gets_counts_not_names(conn, readonly_dsn):
    conn.execute("UPDATE people SET created_at = '2025-01-01'")
    conn.commit()
    names = [
        text
        for row in conn.execute(
            "SELECT name, email FROM people WHERE role = 'operator'"
        )
        for text in row
    ]
    assert names
    with psycopg.connect(readonly_dsn) as readonly:
        rows = readonly.execute(
            "SELECT * FROM milestone_checklist('2025-12-31')"
        ).fetchall()
    assert [r[1] for r in rows] == [
        "education_partnership",
        "technology_park_partnership",
        "operator",
        "real_life_setting",
        "experimentation",
        "multi_stakeholder",
        "data_you_can_trust",
    ]
    assert (
        rows
        == conn.execute("SELECT * FROM milestone_checklist('2025-12-31')").fetchall()
    )
    cells = " ".join(str(cell) for row in rows for cell in row)
    for name in names:
        assert name not in cells
    operator = next(r for r in rows if r[1] == "operator")
    assert (operator[5], operator[6]) == (str(len(names) // 2), True)


def test_the_api_role_reads_the_milestone(conn, api_dsn):
    """The API's login runs the rule and reads the thresholds (tests/db/test_roles.py: and
    cannot change them)."""
    with psycopg.connect(api_dsn) as api:
        found = milestone(api, CLI, as_of=date(2025, 12, 31))
        assert [c.met for c in found.criteria] == [
            c.met for c in milestone(conn, CLI, as_of=date(2025, 12, 31)).criteria
        ]


def test_a_threshold_changed_in_its_table_changes_every_reader(conn):
    """One home for the thresholds: the SQL verdict, the threshold shown and Python's search for
    the first day met all follow milestone_criteria (as a later migration would change it)."""
    form(
        conn,
        "living_lab_partnership",
        ["tp-lj", "mol"],
        date(2025, 1, 1),
        link="https://x.si/p.pdf",
    )
    before = {c.key: c for c in milestone(conn, CLI, as_of=date(2025, 6, 1)).criteria}
    park = before["technology_park_partnership"]
    assert (park.met, park.threshold, park.first_met_on) == (
        True,
        ">= 1",
        date(2025, 1, 1),
    )
    conn.execute(
        "UPDATE milestone_criteria SET needed = 2, reason = 'two parks, for the test'"
        " WHERE key = 'technology_park_partnership'"
    )
    after = {c.key: c for c in milestone(conn, CLI, as_of=date(2025, 6, 1)).criteria}
    park = after["technology_park_partnership"]
    assert (park.met, park.value, park.threshold, park.first_met_on) == (
        False,
        "1",
        ">= 2",
        None,
    )
    assert park.missing
