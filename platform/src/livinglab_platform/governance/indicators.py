"""The strategy's indicators for a calendar year, computed from the record (never stored), the
year's verdict, and beside them the lab's own indicators (GOVERNANCE.md fixes what each counts).

A year is counted in Ljubljana dates. Each indicator lists every record that counts toward it with
its evidence and its best quality level; `self_reported_only` says that the records with
documented or verified evidence alone would not reach the target. The milestone's criteria are
the platform's own measurements (people, trials, deliveries) except the partnerships, which rest
on their forms' evidence; measurements count as verified.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from livinglab_platform.access import Principal, require_record_reader
from livinglab_platform.core.db import Connection
from livinglab_platform.governance import helix
from livinglab_platform.governance.applications import list_applications
from livinglab_platform.governance.council import list_meetings
from livinglab_platform.governance.dates import (
    TIME_ZONE,
    check_year,
    today,
    year_end,
    year_start,
)
from livinglab_platform.governance.evidence import best_quality
from livinglab_platform.governance.forms import list_forms
from livinglab_platform.governance.milestone import milestone
from livinglab_platform.governance.schemas import (
    CountedRecord,
    FormKind,
    FormPublic,
    IndicatorPublic,
    IndicatorsPublic,
    LabIndicatorsPublic,
    Quality,
)
from livinglab_platform.governance.verdict import verdict
from livinglab_platform.registry.schemas import MOL_FAMILY, Kind
from livinglab_platform.trials.schemas import Outcome

__all__ = ["MILESTONE_DUE", "indicators", "lab_indicators"]

# The strategy: a working living lab "by 2025".
MILESTONE_DUE = date(2025, 12, 31)

# key: (name, name in the strategy, type after Huovila, Bosch & Airaksinen 2019, target)
_STRATEGY = {
    "mol_family_form": (
        "organisational forms within the MOL family",
        "organizacijska oblika znotraj velike družine MOL",
        "input",
        1,
    ),
    "horizontal_link": (
        "horizontal links with other cities",
        "horizontalna povezava z drugimi mesti",
        "input",
        1,
    ),
    "vertical_link": (
        "vertical links with regional or national institutions",
        "vertikalna povezava z regionalnimi in/ali državnimi ustanovami",
        "input",
        1,
    ),
    "council_meetings": (
        "Strategic Council meetings held",
        "srečanje Strateškega sveta za digitalni razvoj MOL",
        "process",
        1,
    ),
    "applications_submitted": (
        "co-financed project applications submitted",
        "oddane prijave za sofinancirane projekte",
        "process",
        3,
    ),
}

_ACCEPTED = frozenset({Quality.verified, Quality.documented})


def _indicator(key: str, records: list[CountedRecord]) -> IndicatorPublic:
    name, name_sl, kind, target = _STRATEGY[key]
    documented = sum(r.quality in _ACCEPTED for r in records)
    met = len(records) >= target
    return IndicatorPublic(
        key=key,
        name=name,
        name_sl=name_sl,
        type=kind,
        value=len(records),
        target=target,
        target_text=f">= {target} in the year",
        met=met,
        self_reported_only=met and documented < target,
        records=records,
    )


def _form_record(form: FormPublic) -> CountedRecord:
    period = f"{form.starts_on} to {form.ends_on or 'open'}"
    return CountedRecord(
        record="form",
        record_id=form.id,
        label=f"{form.name} ({period})",
        on=None,
        quality=best_quality(form.evidence),
        evidence=form.evidence,
    )


def _forms(
    conn: Connection,
    principal: Principal,
    year: int,
    kind: FormKind,
    counts: Callable[[list[Kind]], bool],
) -> list[CountedRecord]:
    """Forms of `kind` active in the year whose members' kinds satisfy `counts`."""
    first, last = year_start(year), year_end(year)
    return [
        _form_record(f)
        for f in list_forms(conn, principal, kind=kind)
        if f.starts_on <= last
        and (f.ends_on is None or f.ends_on >= first)
        and counts([Kind(m.kind) for m in f.members])
    ]


def _mol_family(kinds: list[Kind]) -> bool:
    return sum(k in MOL_FAMILY for k in kinds) >= 2


def _horizontal(kinds: list[Kind]) -> bool:
    return any(k in (Kind.other_city, Kind.european) for k in kinds)


def _vertical(kinds: list[Kind]) -> bool:
    return Kind.regional_national in kinds


def _strategy(
    conn: Connection, principal: Principal, year: int
) -> list[IndicatorPublic]:
    meetings = [
        CountedRecord(
            record="meeting",
            record_id=m.id,
            label=f"meeting of {m.held_on}" + (f", {m.place}" if m.place else ""),
            on=m.held_on,
            quality=best_quality(m.evidence),
            evidence=m.evidence,
        )
        for m in list_meetings(conn, principal, year=year)
    ]
    submitted = [
        CountedRecord(
            record="application",
            record_id=a.id,
            label=f"{a.programme}: {a.acronym or a.title} (now {a.status.value})",
            on=a.submitted_on,
            quality=best_quality(a.evidence),
            evidence=a.evidence,
        )
        for a in reversed(list_applications(conn, principal))
        if a.submitted_on is not None and a.submitted_on.year == year
    ]
    forms = {
        "mol_family_form": (FormKind.mol_family, _mol_family),
        "horizontal_link": (FormKind.horizontal, _horizontal),
        "vertical_link": (FormKind.vertical, _vertical),
    }
    return [
        *(
            _indicator(key, _forms(conn, principal, year, kind, counts))
            for key, (kind, counts) in forms.items()
        ),
        _indicator("council_meetings", meetings),
        _indicator("applications_submitted", submitted),
    ]


def _working_living_lab(
    conn: Connection, principal: Principal, as_of: date
) -> IndicatorPublic:
    found = milestone(conn, principal, as_of=as_of)
    records = [
        CountedRecord(
            record="criterion",
            record_id=c.key,
            label=f"{c.description}: {c.value}",
            on=c.first_met_on,
            # The partnerships rest on their forms' evidence; the rest are measurements.
            quality=best_quality(c.evidence) if c.evidence else Quality.verified,
            evidence=c.evidence,
        )
        for c in found.criteria
        if c.met
    ]
    target = len(found.criteria)
    documented = sum(r.quality in _ACCEPTED for r in records)
    return IndicatorPublic(
        key="working_living_lab",
        name="a working living lab (the milestone's criteria met)",
        name_sl="delujoč živi laboratorij",
        type="output",
        value=len(records),
        target=target,
        target_text=f"all {target} criteria met as of {as_of}; due by {MILESTONE_DUE}",
        met=found.achieved,
        self_reported_only=found.achieved and documented < target,
        records=records,
    )


def lab_indicators(
    conn: Connection, principal: Principal, year: int
) -> LabIndicatorsPublic:
    """The lab's own indicators for a year: shown beside the strategy's, never in its verdict."""
    require_record_reader(principal)
    params = {"year": year, "first": year_start(year), "last": year_end(year)}
    transitions: dict[str, int] = dict(
        conn.execute(
            "SELECT action, count(DISTINCT object_id) FROM audit_log"
            " WHERE object_type = 'trial' AND action IN ('start', 'complete')"
            f" AND extract(year FROM time AT TIME ZONE '{TIME_ZONE}') = %(year)s GROUP BY action",
            params,
        ).fetchall()
    )
    outcomes = Counter(
        row[0] or "unrecorded"
        for row in conn.execute(
            "SELECT t.outcome FROM trials t WHERE t.state = 'completed' AND EXISTS ("
            " SELECT 1 FROM audit_log a WHERE a.object_type = 'trial' AND a.object_id = t.id::text"
            f" AND a.action = 'complete' AND extract(year FROM a.time AT TIME ZONE '{TIME_ZONE}')"
            " = %(year)s)",
            params,
        )
    )
    recorded = sum(n for k, n in outcomes.items() if k != "unrecorded")
    onward = sum(
        outcomes[o.value] for o in (Outcome.continued, Outcome.scaled, Outcome.procured)
    )
    # Active partners: the organisations of approved trials whose period overlaps the year.
    kinds = [
        Kind(row[0])
        for row in conn.execute(
            "SELECT o.kind FROM organisations o WHERE o.id IN ("
            " SELECT t.organisation_id FROM trials t WHERE t.approved_at IS NOT NULL"
            "   AND t.starts_on <= %(last)s AND t.ends_on >= %(first)s"
            " UNION SELECT p.organisation_id FROM trial_partners p JOIN trials t ON t.id = p.trial_id"
            "  WHERE t.approved_at IS NOT NULL AND t.starts_on <= %(last)s AND t.ends_on >= %(first)s)",
            params,
        )
    ]
    per_sector = Counter(helix.SECTOR_OF[k] for k in kinds)
    granted = conn.execute(
        "SELECT count(*), coalesce(sum(a.total_budget), 0), coalesce(sum(a.mol_share), 0)"
        " FROM applications a JOIN application_statuses s ON s.application_id = a.id"
        " WHERE s.status = 'granted' AND s.on_date BETWEEN %(first)s AND %(last)s",
        params,
    ).fetchone()
    assert granted is not None
    return LabIndicatorsPublic(
        trials_started=transitions.get("start", 0),
        trials_completed=transitions.get("complete", 0),
        helix_partners={s: per_sector[s] for s in helix.SECTORS},
        helix_shares={
            s: per_sector[s] / len(kinds) if kinds else 0.0 for s in helix.SECTORS
        },
        outcomes={
            **{o.value: outcomes[o.value] for o in Outcome},
            "unrecorded": outcomes["unrecorded"],
        },
        continued_scaled_procured_share=onward / recorded if recorded else None,
        applications_granted=int(granted[0]),
        funds_won_total=Decimal(granted[1]),
        funds_won_mol=Decimal(granted[2]),
    )


def indicators(
    conn: Connection, principal: Principal, *, year: int
) -> IndicatorsPublic:
    """Every indicator of `year`, the verdict over them, and the lab's own beside them."""
    require_record_reader(principal)
    check_year(year, field="year")
    as_of = min(year_end(year), today())
    found = [
        *_strategy(conn, principal, year),
        _working_living_lab(conn, principal, as_of),
    ]
    return IndicatorsPublic(
        year=year,
        as_of=as_of,
        indicators=found,
        verdict=verdict([i.met for i in found]).public(),
        lab=lab_indicators(conn, principal, year),
    )
