"""A year's record for the report's tests: forms, a meeting with decisions, applications, trials
and hourly rollups, in the current Ljubljana year (trials' transitions are stamped now)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from livinglab_platform.governance import council, evidence
from livinglab_platform.governance.dates import today
from livinglab_platform.governance.schemas import CouncilMemberCreate, MeetingCreate
from livinglab_platform.trials import registration, transitions
from livinglab_platform.trials.schemas import TransitionRequest
from tests.api.world import CLI, add_device, make_trial, trial_input
from tests.governance.record import application, attach, form, status

LJ = ZoneInfo("Europe/Ljubljana")


@dataclass(frozen=True)
class YearRecord:
    year: int
    completed_trial: int
    running_trial: int
    draft_trial: int
    # Ljubljana month -> (readings, devices) as the rollups below make them.
    months: dict[int, tuple[int, int]]


def _rollup(
    conn: psycopg.Connection[Any], sensor: int, bucket: datetime, n: int
) -> None:
    conn.execute(
        "INSERT INTO readings_1h (bucket, sensor_id, count, sum, min, max, sum_sq)"
        " VALUES (%s, %s, %s, %s, 1, 1, %s)",
        (bucket, sensor, n, float(n), float(n)),
    )


def make_year_record(dsn: str) -> YearRecord:
    """The record of this year, whose verdict is partially achieved (no vertical link)."""
    year = today().year
    with psycopg.connect(dsn) as conn:
        family = form(conn, "mol_family", ["mol", "energetika"], date(year - 1, 1, 1))
        verified = attach(
            conn, "form", family, link="https://www.ljubljana.si/dogovor.pdf"
        )
        evidence.verify_evidence(conn, CLI, verified)
        form(
            conn,
            "horizontal",
            ["mol", "maribor"],
            date(year, 3, 1),
            date(year, 6, 30),
            statement="Agreed at a meeting of mayors",
        )
        chair = council.add_member(
            conn,
            CLI,
            member=CouncilMemberCreate(
                name="Ana Novak",
                organisation_id="mol",
                role="chair",
                term_starts_on=date(year - 1, 1, 1),
            ),
        )
        meeting = council.create_meeting(
            conn,
            CLI,
            meeting=MeetingCreate(
                held_at=datetime(year, 3, 12, 10, 0, tzinfo=LJ),
                place="Mestna hiša",
                agenda="Digitalna strategija",
                attendee_ids=[chair.id],
                decisions=[
                    {
                        "kind": "strategic",
                        "text": "Živi laboratorij postane stalna služba.",
                    },  # type: ignore[list-item]
                    {
                        "kind": "programme",
                        "text": "Trije novi pilotni preizkusi v letu.",
                    },  # type: ignore[list-item]
                ],
            ),
        )
        conn.commit()
        attach(
            conn, "meeting", meeting.id, link="https://www.ljubljana.si/zapisnik.pdf"
        )
        granted = application(
            conn,
            [("submitted", date(year, 2, 3))],
            acronym="GREEN",
            total_budget="1234567.89",
            mol_share="234567.80",
        )
        status(conn, granted, "granted", date(year, 5, 5))
        withdrawn = application(conn, [("submitted", date(year, 2, 10))], acronym="WD")
        status(conn, withdrawn, "withdrawn", date(year, 4, 1))
        application(conn, [("submitted", date(year, 3, 1))], acronym="OPEN")
        application(conn, [("in_preparation", date(year, 6, 1))], acronym="PREP")

        completed = registration.create_trial(
            conn,
            CLI,
            trial=trial_input(organisation_id="startup-a", title="Pametne klopi"),
        )
        for action in ("submit", "approve", "deploy", "start", "evaluate", "complete"):
            transitions.transition(
                conn,
                CLI,
                completed.id,
                request=TransitionRequest(
                    action=action,  # type: ignore[arg-type]
                    reason="test",
                    outcome="procured" if action == "complete" else None,  # type: ignore[arg-type]
                ),
            )
        conn.commit()
        running = make_trial(conn, "startup-b", state="running")
        draft = make_trial(conn, "startup-a", state="draft")

        a = add_device(conn, "dev-a", "startup-a")
        b = add_device(conn, "dev-b", "startup-b")
        # 1 January 00:00 in Ljubljana is 31 December 23:00 UTC: January of this year.
        _rollup(conn, a, datetime(year - 1, 12, 31, 23, tzinfo=UTC), 3_600)
        _rollup(conn, a, datetime(year - 1, 12, 31, 22, tzinfo=UTC), 999)  # last year's
        _rollup(conn, a, datetime(year, 1, 15, 8, tzinfo=UTC), 1_200)
        _rollup(conn, a, datetime(year, 3, 2, 8, tzinfo=UTC), 1_000_000)
        _rollup(conn, b, datetime(year, 3, 2, 9, tzinfo=UTC), 234_567)
        _rollup(conn, b, datetime(year, 12, 31, 23, tzinfo=UTC), 77)  # next year's
        conn.commit()
    return YearRecord(
        year=year,
        completed_trial=completed.id,
        running_trial=running,
        draft_trial=draft,
        months={1: (4_800, 1), 3: (1_234_567, 2)},
    )
