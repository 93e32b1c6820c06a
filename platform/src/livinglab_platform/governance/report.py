"""The yearly report to the Strategic Council: what it holds, gathered in one read.

The verdict and the indicators are `indicators()` itself (never recomputed here), the milestone is
`milestone()` as of the same day (the year's last day, or today for the current year). Beside them:
the applications whose status changed in the year, the council's meetings with their decisions,
the trials open in the year with their outcomes, and per Ljubljana month the readings stored and
the devices that sent them, from the hourly rollups (`readings_1h`). document.py renders it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from livinglab_platform.access import (
    Principal,
    require_report_reader,
    trial_visibility_sql,
)
from livinglab_platform.core.db import Connection
from livinglab_platform.governance import helix
from livinglab_platform.governance.applications import list_applications
from livinglab_platform.governance.council import list_meetings
from livinglab_platform.governance.dates import (
    LJUBLJANA,
    TIME_ZONE,
    end_of_day,
    local_date,
    today,
    year_end,
    year_start,
)
from livinglab_platform.governance.indicators import indicators
from livinglab_platform.governance.milestone import milestone
from livinglab_platform.governance.schemas import (
    ApplicationPublic,
    ApplicationStatus,
    IndicatorsPublic,
    MeetingPublic,
    MilestonePublic,
)
from livinglab_platform.trials.schemas import Outcome, State

__all__ = ["ApplicationLine", "Month", "Report", "TrialLine", "build_report"]


@dataclass(frozen=True)
class Month:
    """One Ljubljana month: readings stored, and devices with at least one of them."""

    month: date
    readings: int
    devices: int


@dataclass(frozen=True)
class TrialLine:
    """A trial open at some moment of the year."""

    id: int
    title: str
    organisation: str
    state: State  # at the year's end (or now, for the current year)
    started_on: date | None  # the first start, if it started by then
    completed_on: date | None  # if it completed by then
    outcome: Outcome | None  # recorded when it completed


@dataclass(frozen=True)
class ApplicationLine:
    """An application whose status changed in the year, and its status at the year's end."""

    application: ApplicationPublic
    status: ApplicationStatus
    status_on: date


@dataclass(frozen=True)
class Report:
    year: int
    as_of: date
    prepared_on: date
    indicators: IndicatorsPublic
    milestone: MilestonePublic
    applications: list[ApplicationLine]
    meetings: list[MeetingPublic]
    trials: list[TrialLine]
    months: list[Month]
    organisations: dict[str, str]  # names of the organisations the report mentions

    @property
    def met(self) -> int:
        return sum(i.met for i in self.indicators.indicators)

    @property
    def readings_total(self) -> int:
        return sum(m.readings for m in self.months)


def _moment(day: date) -> datetime:
    """The Ljubljana midnight that begins `day`, in UTC."""
    return datetime.combine(day, time(), tzinfo=LJUBLJANA).astimezone(UTC)


def _applications(
    conn: Connection, principal: Principal, year: int
) -> list[ApplicationLine]:
    lines = []
    for a in reversed(list_applications(conn, principal)):  # oldest first
        if not any(entry.on.year == year for entry in a.status_history):
            continue
        last = [e for e in a.status_history if e.on <= year_end(year)][-1]
        lines.append(
            ApplicationLine(application=a, status=last.status, status_on=last.on)
        )
    return lines


def _open_trial_ids(conn: Connection, year: int, as_of: date) -> list[int]:
    """Trials in an open state (helix.ACTIVE_STATES) at some moment of the year up to `as_of`."""
    history = helix.coverage_history(conn, as_of)
    first = _moment(year_start(year))
    states: dict[int, State] = {}
    found: set[int] = set()
    for moment, trial_id, state in history.changes:
        if moment >= first and state in helix.ACTIVE_STATES:
            found.add(trial_id)
        if moment < first:
            states[trial_id] = state
    found |= {t for t, s in states.items() if s in helix.ACTIVE_STATES}
    return sorted(found)


def _trials(
    conn: Connection, principal: Principal, year: int, as_of: date
) -> list[TrialLine]:
    ids = _open_trial_ids(conn, year, as_of)
    if not ids:
        return []
    visible, params = trial_visibility_sql(principal)
    rows = conn.execute(
        f"""
        SELECT t.id, t.title, o.name, t.outcome,
               (SELECT a.details->>'to' FROM audit_log a
                 WHERE a.object_type = 'trial' AND a.object_id = t.id::text
                   AND a.details ? 'to' AND a.time < %(end)s ORDER BY a.time DESC, a.id DESC
                 LIMIT 1) AS state,
               (SELECT min(a.time) FROM audit_log a WHERE a.object_type = 'trial'
                   AND a.object_id = t.id::text AND a.action = 'start' AND a.time < %(end)s),
               (SELECT min(a.time) FROM audit_log a WHERE a.object_type = 'trial'
                   AND a.object_id = t.id::text AND a.action = 'complete' AND a.time < %(end)s)
          FROM trials t JOIN organisations o ON o.id = t.organisation_id
         WHERE t.id = ANY(%(ids)s) AND {visible}
         ORDER BY t.id""",
        {**params, "ids": ids, "end": end_of_day(as_of)},
    ).fetchall()
    return [
        TrialLine(
            id=trial_id,
            title=title,
            organisation=organisation,
            state=State(state),
            started_on=local_date(started) if started else None,
            completed_on=local_date(completed) if completed else None,
            outcome=Outcome(outcome) if outcome and completed else None,
        )
        for trial_id, title, organisation, outcome, state, started, completed in rows
    ]


def _months(conn: Connection, year: int) -> list[Month]:
    # Hourly buckets are whole UTC hours, and Ljubljana's offset is whole hours: each falls in one
    # Ljubljana month.
    rows = conn.execute(
        f"""
        SELECT (date_trunc('month', h.bucket AT TIME ZONE '{TIME_ZONE}'))::date AS month,
               sum(h.count)::bigint, count(DISTINCT s.device_id)
          FROM readings_1h h JOIN sensors s ON s.id = h.sensor_id
         WHERE h.bucket >= %s AND h.bucket < %s
         GROUP BY 1""",
        (_moment(year_start(year)), _moment(year_start(year + 1))),
    ).fetchall()
    found = {month: (int(n), int(devices)) for month, n, devices in rows}
    return [
        Month(
            month=m, readings=found.get(m, (0, 0))[0], devices=found.get(m, (0, 0))[1]
        )
        for m in (date(year, i, 1) for i in range(1, 13))
    ]


def build_report(conn: Connection, principal: Principal, *, year: int) -> Report:
    """Everything the year's report shows (operators and viewers)."""
    require_report_reader(principal)
    found = indicators(conn, principal, year=year)
    meetings = list_meetings(conn, principal, year=year)
    applications = _applications(conn, principal, year)
    names: dict[str, str] = dict(
        conn.execute(
            "SELECT id, name FROM organisations WHERE id = ANY(%s)",
            (
                sorted(
                    {
                        m.organisation_id
                        for g in meetings
                        for m in g.attendees
                        if m.organisation_id
                    }
                ),
            ),
        ).fetchall()
    )
    return Report(
        year=year,
        as_of=found.as_of,
        prepared_on=today(),
        indicators=found,
        milestone=milestone(conn, principal, as_of=found.as_of),
        applications=applications,
        meetings=meetings,
        trials=_trials(conn, principal, year, found.as_of),
        months=_months(conn, year),
        organisations=names,
    )
