"""The milestone "a working living lab (with educational institutions and Tehnološki park
Ljubljana) by 2025", computed as of any date from the record and from live operations.

Every window is made of whole Ljubljana days ending with the date (as of today: today so far):
"the 24 hours before" is the date's own day, "the 30 days before" the 30 days ending with it,
"the 12 months before" the days after the same date a year earlier. The criteria and their
thresholds are one configuration, `CRITERIA`, each threshold with its source (GOVERNANCE.md).
The date a criterion was first met is searched back over the record; a criterion may have been
met and lost since, and then says both when it was first met and what is missing now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

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
    FormKind,
    FormPublic,
    MilestonePublic,
    Quality,
)
from livinglab_platform.registry.schemas import Kind

__all__ = ["CRITERIA", "MilestoneCriteria", "milestone"]


@dataclass(frozen=True)
class MilestoneCriteria:
    """The milestone's thresholds: change one only with its reason in this file's history."""

    # The strategy: "delujoč živi laboratorij (z izobraževalnimi ustanovami ...)".
    education_partnerships: int = 1
    # The strategy: "... in Tehnološkim parkom Ljubljana".
    technology_park_partnerships: int = 1
    # EIT Urban Mobility, "Upscaling living lab activities": a lab is run by at least one
    # full-time person.
    operators: int = 1
    # ENoLL, "What are living labs": a real-life setting. Sites with a device that reported...
    reporting_sites: int = 1
    # ...within this many Ljubljana days ending with the date (1: the 24 hours of the date).
    reporting_days: int = 1
    # ENoLL: experimentation and evaluation. Trials completed...
    completed_trials: int = 1
    # ...within this many years before the date (12 months).
    completed_years: int = 1
    # ENoLL harmonized KPIs: all four quadruple-helix sectors represented = 100 %.
    helix_sectors: frozenset[str] = field(
        default_factory=lambda: frozenset(helix.SECTORS)
    )
    # fablabbcn/smartcitizen-api #238: delivery completeness (readings stored / expected; here
    # batches received / batch sequence numbers sent, as the `delivery_completeness` view)...
    completeness_threshold: float = 0.999
    # ...over this many Ljubljana days ending with the date.
    completeness_days: int = 30


CRITERIA = MilestoneCriteria()


def _signed(form: FormPublic) -> bool:
    # Signed: a document (a link, documented or verified), not a statement only, is attached.
    return any(e.quality is not Quality.self_reported for e in form.evidence)


def _partnership(
    conn: Connection,
    principal: Principal,
    day: date,
    *,
    kind: Kind,
    key: str,
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
    met = len(active) >= needed
    # The count rises only on a day a form starts: those days are the only candidates.
    first = next(
        (
            d
            for d in sorted({f.starts_on for f in forms})
            if len(active_on(d)) >= needed
        ),
        None,
    )
    return CriterionPublic(
        key=key,
        description=f"a signed, active living-lab partnership with {who}",
        threshold=f">= {needed}",
        source="MOL's digital strategy (Digitalno mesto in skupnost)",
        met=met,
        value=str(len(active)),
        facts=[
            f"form {f.id}: {f.name} ({f.starts_on} to {f.ends_on or 'open'})"
            for f in active
        ],
        evidence=[e for f in active for e in f.evidence],
        first_met_on=first,
        missing=None
        if met
        else f"record a living-lab partnership with {who} active on {day},"
        " with its signed agreement attached (a link)",
    )


def _operators(conn: Connection, day: date, needed: int) -> CriterionPublic:
    rows = conn.execute(
        "SELECT p.name, o.name, p.created_at FROM people p JOIN organisations o"
        " ON o.id = p.organisation_id WHERE p.role = 'operator' AND p.created_at < %s"
        " ORDER BY p.created_at",
        (end_of_day(day),),
    ).fetchall()
    met = len(rows) >= needed
    first = local_date(rows[needed - 1][2]) if met else None
    return CriterionPublic(
        key="operator",
        description="a named operator runs the lab",
        threshold=f">= {needed} person with the operator role",
        source='EIT Urban Mobility, "Upscaling living lab activities"',
        met=met,
        value=str(len(rows)),
        facts=[f"{name} ({organisation})" for name, organisation, _ in rows],
        evidence=[],
        first_met_on=first,
        missing=None
        if met
        else "name a person with the operator role (livinglab people add ... --role operator)",
    )


def _reporting_sites(
    conn: Connection, day: date, c: MilestoneCriteria
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
    first = next((d for d, n in rows if n >= c.reporting_sites), None)
    found = next((int(n) for d, n in rows if d == day), 0)
    sites = conn.execute(
        "SELECT v.site_id, string_agg(DISTINCT v.id, ', ') FROM deliveries_daily d"
        " JOIN devices v ON v.id = d.device_id WHERE d.day > %s AND d.day <= %s"
        " GROUP BY v.site_id ORDER BY v.site_id",
        (day - timedelta(days=c.reporting_days), day),
    ).fetchall()
    met = found >= c.reporting_sites
    return CriterionPublic(
        key="real_life_setting",
        description="pilot sites whose devices reported in the 24 hours before the date",
        threshold=f">= {c.reporting_sites} site",
        source='ENoLL, "What are living labs": real-life setting',
        met=met,
        value=str(found),
        facts=[f"site {site}: {devices}" for site, devices in sites],
        evidence=[],
        first_met_on=first,
        missing=None
        if met
        else f"no pilot site's devices reported on {day} (Ljubljana time)",
    )


def _completed_trials(
    conn: Connection, day: date, c: MilestoneCriteria
) -> CriterionPublic:
    rows = conn.execute(
        "SELECT t.id, t.title, a.time FROM audit_log a JOIN trials t ON t.id::text = a.object_id"
        " WHERE a.object_type = 'trial' AND a.action = 'complete' AND a.time < %s"
        " ORDER BY a.time, a.id",
        (end_of_day(day),),
    ).fetchall()
    since = end_of_day(years_before(day, c.completed_years))
    recent = [(i, title, t) for i, title, t in rows if t >= since]
    met = len(recent) >= c.completed_trials
    first = (
        local_date(rows[c.completed_trials - 1][2])
        if len(rows) >= c.completed_trials
        else None
    )
    return CriterionPublic(
        key="experimentation",
        description="trials completed in the 12 months before the date",
        threshold=f">= {c.completed_trials} trial",
        source="ENoLL: experimentation and evaluation",
        met=met,
        value=str(len(recent)),
        facts=[
            f"trial {i}: {title} (completed {local_date(t)})" for i, title, t in recent
        ],
        evidence=[],
        first_met_on=first,
        missing=None
        if met
        else f"no trial completed between {years_before(day, c.completed_years) + timedelta(days=1)} and {day}",
    )


def _helix(conn: Connection, day: date, c: MilestoneCriteria) -> CriterionPublic:
    history = helix.coverage_history(conn, day)
    covered, trials = history.at(day)
    first = history.first_day(c.helix_sectors)
    met = c.helix_sectors <= covered
    lacking = sorted(c.helix_sectors - covered)
    return CriterionPublic(
        key="multi_stakeholder",
        description="partners from all four helix sectors active in open trials",
        threshold=", ".join(sorted(c.helix_sectors)),
        source="ENoLL harmonized KPIs: all four helix sectors represented",
        met=met,
        value=", ".join(sorted(covered)) or "none",
        facts=[f"trial {t}: {', '.join(sorted(s))}" for t, s in sorted(trials.items())],
        evidence=[],
        first_met_on=first,
        missing=None
        if met
        else f"no partner from {', '.join(lacking)} in a trial open on {day}",
    )


def _completeness(conn: Connection, day: date, c: MilestoneCriteria) -> CriterionPublic:
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
    first = next(
        (d for d, ratio, _, _ in rows if ratio >= c.completeness_threshold), None
    )
    today_row = next((r for r in rows if r[0] == day), None)
    met = today_row is not None and today_row[1] >= c.completeness_threshold
    missing: str | None
    if today_row is None:
        value, facts = "no deliveries", []
        missing = f"no batches received in the {c.completeness_days} days ending {day}"
    else:
        value = f"{today_row[1]:.2%}"
        facts = [f"{today_row[2]} of {today_row[3]} batches received"]
        missing = (
            None
            if met
            else f"completeness {value} is below {c.completeness_threshold:.1%}"
        )
    return CriterionPublic(
        key="data_you_can_trust",
        description=f"delivery completeness over the {c.completeness_days} days before the date",
        threshold=f">= {c.completeness_threshold:.1%}",
        source="fablabbcn/smartcitizen-api #238 (completeness users ask for)",
        met=met,
        value=value,
        facts=facts,
        evidence=[],
        first_met_on=first,
        missing=None if met else missing,
    )


def milestone(
    conn: Connection,
    principal: Principal,
    *,
    as_of: date,
    criteria: MilestoneCriteria = CRITERIA,
) -> MilestonePublic:
    """Each criterion's state as of the end of `as_of` (Ljubljana), and whether all are met."""
    require_record_reader(principal)
    check_year(as_of.year, field="as_of")
    c = criteria
    found = [
        _partnership(
            conn,
            principal,
            as_of,
            kind=Kind.education_research,
            key="education_partnership",
            needed=c.education_partnerships,
            who="an educational institution",
        ),
        _partnership(
            conn,
            principal,
            as_of,
            kind=Kind.technology_park,
            key="technology_park_partnership",
            needed=c.technology_park_partnerships,
            who="Tehnološki park Ljubljana",
        ),
        _operators(conn, as_of, c.operators),
        _reporting_sites(conn, as_of, c),
        _completed_trials(conn, as_of, c),
        _helix(conn, as_of, c),
        _completeness(conn, as_of, c),
    ]
    return MilestonePublic(
        as_of=as_of, achieved=all(k.met for k in found), criteria=found
    )
