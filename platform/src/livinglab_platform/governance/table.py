"""Every indicator by year as one table, and that table as CSV: the strategy's indicators with the
year's verdict, then the lab's own (which have no target and are never part of the verdict).

One row per year and indicator, with the records that count toward it and their evidence's
quality. Every cell goes through the platform's formula neutraliser (`data/cells.py`): the
records' names come from people (and from imported files).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from livinglab_platform.access import Principal, require_record_reader
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import InvalidInputError
from livinglab_platform.data.cells import csv_text
from livinglab_platform.governance.dates import TIME_ZONE, check_year, today
from livinglab_platform.governance.indicators import indicators
from livinglab_platform.governance.schemas import IndicatorsPublic

__all__ = ["COLUMNS", "MAX_YEARS", "first_year", "indicator_rows", "indicators_csv"]

# Each year computes every indicator and the milestone; a city reports on a strategy's decade or two.
MAX_YEARS = 25

COLUMNS = (
    "year",
    "as_of",
    "indicator",
    "name",
    "name_sl",
    "type",
    "value",
    "target",
    "met",
    "self_reported_only",
    "verdict",
    "verdict_sl",
    "records",
)

_LAB = {
    "trials_started": "trials started",
    "trials_completed": "trials completed",
    "applications_granted": "applications granted",
    "funds_won_total": "funds won, total (EUR)",
    "funds_won_mol": "funds won, MOL's share (EUR)",
    "continued_scaled_procured_share": "share of completed trials continued, scaled or procured",
}


def first_year(conn: Connection) -> int:
    """The first year the record holds anything in (forms, meetings, statuses); this year if none."""
    row = conn.execute(
        "SELECT least((SELECT min(starts_on) FROM governance_forms),"
        f" (SELECT min(held_at AT TIME ZONE '{TIME_ZONE}')::date FROM council_meetings),"
        " (SELECT min(on_date) FROM application_statuses))"
    ).fetchone()
    return row[0].year if row is not None and row[0] is not None else today().year


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _rows(found: IndicatorsPublic) -> Iterator[list[str]]:
    year, as_of = str(found.year), found.as_of.isoformat()
    verdict = [found.verdict.key, found.verdict.sl]
    for i in found.indicators:
        yield [
            year,
            as_of,
            i.key,
            i.name,
            i.name_sl,
            i.type,
            str(i.value),
            str(i.target),
            _text(i.met),
            _text(i.self_reported_only),
            *verdict,
            "; ".join(f"{r.label} ({r.quality.value})" for r in i.records),
        ]
    lab = found.lab
    values: dict[str, object] = {
        "trials_started": lab.trials_started,
        "trials_completed": lab.trials_completed,
        "applications_granted": lab.applications_granted,
        "funds_won_total": Decimal(lab.funds_won_total),
        "funds_won_mol": Decimal(lab.funds_won_mol),
        "continued_scaled_procured_share": lab.continued_scaled_procured_share,
    }
    values |= {f"helix_share_{s}": share for s, share in lab.helix_shares.items()}
    for key, value in values.items():
        name = (
            _LAB.get(key)
            or f"share of active partners in the {key.removeprefix('helix_share_')} sector"
        )
        kind = "outcome" if key == "continued_scaled_procured_share" else "output"
        yield [
            year,
            as_of,
            f"lab.{key}",
            name,
            "",
            kind,
            _text(value),
            "",
            "",
            "",
            *verdict,
        ]


def indicator_rows(
    conn: Connection, principal: Principal, *, first: int, last: int
) -> list[list[str]]:
    """The rows of every indicator from `first` to `last` (inclusive), oldest first."""
    require_record_reader(principal)
    check_year(first, field="from")
    check_year(last, field="to")
    if last < first:
        raise InvalidInputError(f"{last} is before {first}", field="to")
    if last - first + 1 > MAX_YEARS:
        raise InvalidInputError(
            f"at most {MAX_YEARS} years at once; {first}-{last} is {last - first + 1}",
            field="to",
        )
    return [
        row
        for year in range(first, last + 1)
        for row in _rows(indicators(conn, principal, year=year))
    ]


def indicators_csv(
    conn: Connection, principal: Principal, *, first: int, last: int
) -> str:
    """Every indicator by year as CSV (header, then `indicator_rows`), every cell made safe."""
    return csv_text(COLUMNS, indicator_rows(conn, principal, first=first, last=last))
