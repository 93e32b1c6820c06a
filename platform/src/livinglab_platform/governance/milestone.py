"""The milestone "a working living lab (with educational institutions and Tehnološki park
Ljubljana) by 2025", computed as of any date from the record and from live operations.

Every window is made of whole Ljubljana days ending with the date (as of today: today so far):
"the 24 hours before" is the date's own day, "the 30 days before" the 30 days ending with it,
"the 12 months before" the days after the same date a year earlier.

The rule lives in the database (migration 013): `milestone_checklist(as_of)` gives each criterion's
value and whether it is met, and the table `milestone_criteria` its threshold and source; the
Governance dashboard reads the same function, so the two cannot disagree. This module adds what a
person reads beside them: the records behind a value (facts, evidence), the date a criterion was
first met, searched back over the record with the same thresholds (a criterion may have been met
and lost since, and then says both when it was first met and what is missing now), and what is
missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from psycopg.rows import class_row

from livinglab_platform.access import Principal, require_record_reader
from livinglab_platform.core.db import Connection
from livinglab_platform.governance import helix
from livinglab_platform.governance.dates import (
    check_year,
    end_of_day,
    local_date,
    years_before,
)
from livinglab_platform.governance.forms import list_forms
from livinglab_platform.governance.schemas import (
    CriterionPublic,
    EvidencePublic,
    FormKind,
    FormPublic,
    MilestonePublic,
    Quality,
)
from livinglab_platform.registry.schemas import Kind

__all__ = [
    "Checked",
    "MilestoneCriteria",
    "checklist",
    "milestone",
    "milestone_criteria",
]


@dataclass(frozen=True)
class MilestoneCriteria:
    """The thresholds as `milestone_criteria` holds them (migration 013, with each one's source
    and reason): read from there, never set here, so that the searches for the first day a
    criterion was met use the numbers the database judges by."""

    education_partnerships: int
    technology_park_partnerships: int
    operators: int
    reporting_sites: int
    reporting_days: int  # Ljubljana days ending with the date (1: the date's own day)
    completed_trials: int
    completed_years: int
    helix_sectors: frozenset[str]
    completeness_threshold: float
    completeness_days: int


def milestone_criteria(conn: Connection) -> MilestoneCriteria:
    """The milestone's thresholds, from the table both the platform and the dashboards read."""
    rows = {
        key: (needed, years, days, sectors)
        for key, needed, years, days, sectors in conn.execute(
            "SELECT key, needed::float8, extract(year FROM within)::int,"
            " extract(day FROM within)::int, sectors FROM milestone_criteria"
        )
    }
    return MilestoneCriteria(
        education_partnerships=int(rows["education_partnership"][0]),
        technology_park_partnerships=int(rows["technology_park_partnership"][0]),
        operators=int(rows["operator"][0]),
        reporting_sites=int(rows["real_life_setting"][0]),
        reporting_days=rows["real_life_setting"][2],
        completed_trials=int(rows["experimentation"][0]),
        completed_years=rows["experimentation"][1],
        helix_sectors=frozenset(rows["multi_stakeholder"][3]),
        completeness_threshold=rows["data_you_can_trust"][0],
        completeness_days=rows["data_you_can_trust"][2],
    )


@dataclass(frozen=True)
class Checked:
    """One row of `milestone_checklist`: the rule's answer for one criterion."""

    key: str
    description: str
    threshold: str
    value: str
    met: bool
    source: str


def checklist(conn: Connection, as_of: date) -> dict[str, Checked]:
    """Each criterion's value and whether it is met as of the end of `as_of`, by key."""
    with conn.cursor(row_factory=class_row(Checked)) as cur:
        rows = cur.execute(
            "SELECT key, description, threshold, value, met, source"
            " FROM milestone_checklist(%s)",
            (as_of,),
        ).fetchall()
    return {r.key: r for r in rows}


def _public(
    checked: Checked,
    *,
    facts: list[str],
    first_met_on: date | None,
    missing: str,
    evidence: list[EvidencePublic] | None = None,
) -> CriterionPublic:
    return CriterionPublic(
        key=checked.key,
        description=checked.description,
        threshold=checked.threshold,
        source=checked.source,
        met=checked.met,
        value=checked.value,
        facts=facts,
        evidence=evidence or [],
        first_met_on=first_met_on,
        missing=None if checked.met else missing,
    )


def _signed(form: FormPublic) -> bool:
    # Signed: a document (a link, documented or verified), not a statement only, is attached.
    return any(e.quality is not Quality.self_reported for e in form.evidence)


def _partnership(
    conn: Connection,
    principal: Principal,
    day: date,
    checked: Checked,
    *,
    kind: Kind,
    needed: int,
    who: str,
) -> CriterionPublic:
    forms = [
        f
        for f in list_forms(conn, principal, kind=FormKind.living_lab_partnership)
        if f.starts_on <= day
        and any(m.kind == kind.value for m in f.members)
        and _signed(f)
    ]

    def active_on(d: date) -> list[FormPublic]:
        return [
            f
            for f in forms
            if f.starts_on <= d and (f.ends_on is None or f.ends_on >= d)
        ]

    active = active_on(day)
    # The count rises only on a day a form starts: those days are the only candidates.
    first = next(
        (
            d
            for d in sorted({f.starts_on for f in forms})
            if len(active_on(d)) >= needed
        ),
        None,
    )
    return _public(
        checked,
        facts=[
            f"form {f.id}: {f.name} ({f.starts_on} to {f.ends_on or 'open'})"
            for f in active
        ],
        evidence=[e for f in active for e in f.evidence],
        first_met_on=first,
        missing=f"record a living-lab partnership with {who} active on {day},"
        " with its signed agreement attached (a link)",
    )


def _operators(
    conn: Connection, day: date, checked: Checked, needed: int
) -> CriterionPublic:
    rows = conn.execute(
        "SELECT p.name, o.name, p.created_at FROM people p JOIN organisations o"
        " ON o.id = p.organisation_id WHERE p.role = 'operator' AND p.created_at < %s"
        " ORDER BY p.created_at",
        (end_of_day(day),),
    ).fetchall()
    return _public(
        checked,
        facts=[f"{name} ({organisation})" for name, organisation, _ in rows],
        first_met_on=local_date(rows[needed - 1][2]) if len(rows) >= needed else None,
        missing="name a person with the operator role (livinglab people add ... --role operator)",
    )


def _reporting_sites(
    conn: Connection, day: date, checked: Checked, c: MilestoneCriteria
) -> CriterionPublic:
    # Per day since the first delivery, the sites with a device that reported in its window.
    rows = conn.execute(
        """
        WITH daily AS (
            SELECT DISTINCT v.site_id, d.day
              FROM deliveries_daily d JOIN devices v ON v.id = d.device_id
             WHERE d.day <= %(day)s),
        days AS (SELECT generate_series((SELECT min(day) FROM daily), %(day)s::date,
                                        interval '1 day')::date AS day)
        SELECT days.day, count(DISTINCT daily.site_id)
          FROM days JOIN daily ON daily.day > days.day - %(n)s AND daily.day <= days.day
         GROUP BY days.day ORDER BY days.day""",
        {"day": day, "n": c.reporting_days},
    ).fetchall()
    sites = conn.execute(
        "SELECT v.site_id, string_agg(DISTINCT v.id, ', ') FROM deliveries_daily d"
        " JOIN devices v ON v.id = d.device_id WHERE d.day > %s AND d.day <= %s"
        " GROUP BY v.site_id ORDER BY v.site_id",
        (day - timedelta(days=c.reporting_days), day),
    ).fetchall()
    return _public(
        checked,
        facts=[f"site {site}: {devices}" for site, devices in sites],
        first_met_on=next((d for d, n in rows if n >= c.reporting_sites), None),
        missing=f"no pilot site's devices reported on {day} (Ljubljana time)",
    )


def _completed_trials(
    conn: Connection, day: date, checked: Checked, c: MilestoneCriteria
) -> CriterionPublic:
    rows = conn.execute(
        "SELECT t.id, t.title, a.time FROM audit_log a JOIN trials t ON t.id::text = a.object_id"
        " WHERE a.object_type = 'trial' AND a.action = 'complete' AND a.time < %s"
        " ORDER BY a.time, a.id",
        (end_of_day(day),),
    ).fetchall()
    since = end_of_day(years_before(day, c.completed_years))
    recent = [(i, title, t) for i, title, t in rows if t >= since]
    first = (
        local_date(rows[c.completed_trials - 1][2])
        if len(rows) >= c.completed_trials
        else None
    )
    return _public(
        checked,
        facts=[
            f"trial {i}: {title} (completed {local_date(t)})" for i, title, t in recent
        ],
        first_met_on=first,
        missing=f"no trial completed between {years_before(day, c.completed_years) + timedelta(days=1)} and {day}",
    )


def _helix(
    conn: Connection, day: date, checked: Checked, c: MilestoneCriteria
) -> CriterionPublic:
    history = helix.coverage_history(conn, day)
    covered, trials = history.at(day)
    lacking = sorted(c.helix_sectors - covered)
    return _public(
        checked,
        facts=[f"trial {t}: {', '.join(sorted(s))}" for t, s in sorted(trials.items())],
        first_met_on=history.first_day(c.helix_sectors),
        missing=f"no partner from {', '.join(lacking)} in a trial open on {day}",
    )


def _completeness(
    conn: Connection, day: date, checked: Checked, c: MilestoneCriteria
) -> CriterionPublic:
    # The `delivery_completeness` view's measure (batches received / seqs spanned) per device over
    # each window of days, summed over devices; one pass over the ledger for every day at once.
    rows = conn.execute(
        """
        WITH daily AS (
            SELECT device_id, day, batches AS n, first_seq AS lo, last_seq AS hi
              FROM deliveries_daily WHERE day <= %(day)s),
        days AS (SELECT generate_series((SELECT min(day) FROM daily), %(day)s::date,
                                        interval '1 day')::date AS day),
        windows AS (
            SELECT days.day, sum(daily.n) AS n, max(daily.hi) - min(daily.lo) + 1 AS span
              FROM days JOIN daily ON daily.day > days.day - %(n)s AND daily.day <= days.day
             GROUP BY days.day, daily.device_id)
        SELECT day, sum(n)::float8 / sum(span), sum(n)::bigint, sum(span)::bigint
          FROM windows GROUP BY day ORDER BY day""",
        {"day": day, "n": c.completeness_days},
    ).fetchall()
    today_row = next((r for r in rows if r[0] == day), None)
    return _public(
        checked,
        facts=[]
        if today_row is None
        else [f"{today_row[2]} of {today_row[3]} batches received"],
        first_met_on=next(
            (d for d, ratio, _, _ in rows if ratio >= c.completeness_threshold), None
        ),
        missing=f"no batches received in the {c.completeness_days} days ending {day}"
        if today_row is None
        else f"completeness {checked.value} is below {c.completeness_threshold:.1%}",
    )


def milestone(
    conn: Connection,
    principal: Principal,
    *,
    as_of: date,
) -> MilestonePublic:
    """Each criterion's state as of the end of `as_of` (Ljubljana), and whether all are met."""
    require_record_reader(principal)
    check_year(as_of.year, field="as_of")
    c = milestone_criteria(conn)
    checked = checklist(conn, as_of)
    found = [
        _partnership(
            conn,
            principal,
            as_of,
            checked["education_partnership"],
            kind=Kind.education_research,
            needed=c.education_partnerships,
            who="an educational institution",
        ),
        _partnership(
            conn,
            principal,
            as_of,
            checked["technology_park_partnership"],
            kind=Kind.technology_park,
            needed=c.technology_park_partnerships,
            who="Tehnološki park Ljubljana",
        ),
        _operators(conn, as_of, checked["operator"], c.operators),
        _reporting_sites(conn, as_of, checked["real_life_setting"], c),
        _completed_trials(conn, as_of, checked["experimentation"], c),
        _helix(conn, as_of, checked["multi_stakeholder"], c),
        _completeness(conn, as_of, checked["data_you_can_trust"], c),
    ]
    return MilestonePublic(
        as_of=as_of, achieved=all(k.met for k in found), criteria=found
    )
