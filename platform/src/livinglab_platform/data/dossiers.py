"""A trial's dossier: one zip archive with its record, audit trail, devices and raw readings.

The archive is written front to back (zipfile adds data descriptors on a stream it cannot seek),
and the readings are streamed into their entry chunk by chunk, so neither the archive nor the
readings are ever held in memory.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from livinglab_platform import audit
from livinglab_platform.access import (
    Principal,
    device_visibility_sql,
    require_raw_data,
)
from livinglab_platform.core.db import Connection
from livinglab_platform.core.local_time import end_of_day, start_of_day
from livinglab_platform.core.quantities import unit_symbol
from livinglab_platform.data import cells, exports, queries
from livinglab_platform.data.schemas import Interval
from livinglab_platform.trials import registration
from livinglab_platform.trials.schemas import TrialPublic

__all__ = ["FILES", "DossierSummary", "readings_query", "write_dossier"]

FILES = {
    "README.txt": "this description",
    "trial.json": "the trial as the platform records it (the API's TrialPublic)",
    "audit.csv": "the audit trail, oldest first: time, actor, action, reason, details (JSON)",
    "devices.csv": "the devices assigned to the trial: device, site, owner, sensors, assignment"
    " period, delivery completeness (share of the device's batches received); site, owner,"
    " sensors and completeness only of devices the archive's producer may see",
    "data.parquet": "raw readings: time (UTC), device_id, sensor, quantity, unit, value",
}
AUDIT_COLUMNS = ("time", "actor", "action", "reason", "details")
DEVICE_COLUMNS = (
    "device_id",
    "site_id",
    "organisation_id",
    "sensors",
    "starts_at",
    "ends_at",
    "delivery_completeness",
)
# Unix mode of the entries (rw-r--r--); zipfile leaves it 0 for entries given as ZipInfo.
_MODE = 0o644 << 16


@dataclass(frozen=True)
class DossierSummary:
    """What went into a dossier: the readings written and the archive's files, in order."""

    trial_id: int
    rows: int
    files: list[str]


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def readings_query(trial: TrialPublic) -> queries.DataQuery:
    """The raw readings of a trial: its period (whole Ljubljana days) and every assignment period."""
    starts = [start_of_day(trial.starts_on), *(a.starts_at for a in trial.devices)]
    ends = [
        end_of_day(trial.ends_on),
        *(a.ends_at for a in trial.devices),
    ]
    return queries.DataQuery(
        start=min(starts), end=max(ends), trial_id=trial.id, interval=Interval.raw
    )


def _audit_csv(conn: Connection, trial_id: int) -> str:
    entries = audit.list_entries(conn, object_type="trial", object_id=trial_id)
    return cells.csv_text(
        AUDIT_COLUMNS,
        (
            (
                _utc_text(e.time),
                e.actor,
                e.action,
                e.reason or "",
                json.dumps(e.details, sort_keys=True, ensure_ascii=False),
            )
            for e in entries
        ),
    )


def _devices_csv(conn: Connection, principal: Principal, trial_id: int) -> str:
    # A device the reader may not see (a granted organisation's reader, say) keeps its row and
    # assignment period, which trial.json shows too, but not its site, owner, sensors or
    # completeness: the devices API answers 404 for it.
    visible, params = device_visibility_sql(principal)
    rows = conn.execute(
        f"""
        SELECT td.device_id, d.site_id, d.organisation_id,
               (SELECT array_agg(ARRAY[s.key, s.quantity, s.unit] ORDER BY s.key)
                  FROM sensors s WHERE s.device_id = d.id),
               td.starts_at, td.ends_at, c.completeness
          FROM trial_devices td
          LEFT JOIN devices d ON d.id = td.device_id AND {visible}
          LEFT JOIN delivery_completeness c ON c.device_id = d.id
         WHERE td.trial_id = %(trial)s
         ORDER BY td.starts_at, td.id""",
        {**params, "trial": trial_id},
    ).fetchall()
    return cells.csv_text(
        DEVICE_COLUMNS,
        (
            (
                device_id,
                site_id or "",
                owner or "",
                _sensors_text(sensors),
                _utc_text(starts_at),
                _utc_text(ends_at),
                "" if completeness is None else f"{completeness:.4f}",
            )
            for device_id, site_id, owner, sensors, starts_at, ends_at, completeness in rows
        ),
    )


def _sensors_text(sensors: list[list[str]] | None) -> str:
    """`pm2_5 [µg/m³]; pm10 [µg/m³]`: each key with its unit as people write it (the quantity
    table), as the pages and the CLI show it."""
    return "; ".join(
        f"{key} [{unit_symbol(unit)}]" for key, _quantity, unit in sensors or ()
    )


def _readme(
    trial: TrialPublic,
    principal: Principal,
    produced_at: datetime,
    query: queries.DataQuery,
) -> str:
    who = principal.label
    if principal.organisation_id:
        who += f" ({principal.organisation_id}, {principal.role.value})"
    state = trial.state.value
    if trial.state_reason:
        state += f" (reason: {trial.state_reason})"
    width = max(len(name) for name in FILES)
    files = "\n".join(f"  {name:<{width}}  {text}" for name, text in FILES.items())
    terms = trial.data_sharing_terms.strip() or (
        "None recorded. Ask the trial's organisation before sharing this data."
    )
    return f"""Trial dossier of the Ljubljana living lab
==========================================

This archive is the record of one trial of the living lab's open platform, as it stood when the
archive was produced: the trial, its audit trail, its devices and their raw readings.

Trial:         {trial.id}, {trial.title}
Organisation:  {trial.organisation_id}
Technology:    {trial.technology} (TRL {trial.trl_start} to {trial.trl_target})
State:         {state}
Period:        {trial.starts_on.isoformat()} to {trial.ends_on.isoformat()}
Personal data: {"yes" if trial.personal_data else "no"}
Produced:      {_utc_text(produced_at)} by {who}

Files
-----
{files}

The readings are those of the devices assigned to the trial, inside each assignment's period
and inside what the person who produced the archive may see, between {_utc_text(query.start)} and
{_utc_text(query.end)}. Times are UTC. Parquet opens with pandas (read_parquet), polars, DuckDB
or R's arrow package.

Data-sharing terms
------------------
{terms}
"""


def _entry(name: str, produced_at: datetime, *, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=produced_at.timetuple()[:6])
    info.compress_type = compress
    info.external_attr = _MODE
    return info


def _seekable(out: IO[bytes]) -> bool:
    try:
        return out.seekable()
    except (OSError, ValueError):  # a closed or detached stream
        return False


def write_dossier(
    conn: Connection,
    principal: Principal,
    trial_id: int,
    out: IO[bytes],
    *,
    on_rows: exports.OnRows | None = None,
) -> DossierSummary:
    """Write the trial's dossier to `out` as a zip archive (only `write()` is needed).

    Args:
        on_rows: called with the number of readings of each chunk once it is written.
    """
    require_raw_data(
        principal,
        "viewers see aggregated data only, and a dossier holds raw readings; ask the trial's"
        " organisation or an operator for it, or export the data with interval=1h",
    )
    trial = registration.get_trial(conn, principal, trial_id)
    query = readings_query(trial)
    # Planned before the first byte is written: a refusal never leaves half an archive.
    plan = queries.plan_query(conn, principal, query)
    produced_at = datetime.now(UTC).replace(microsecond=0)
    texts = {
        "README.txt": _readme(trial, principal, produced_at, query),
        "trial.json": trial.model_dump_json(indent=2) + "\n",
        "audit.csv": _audit_csv(conn, trial_id),
        "devices.csv": _devices_csv(conn, principal, trial_id),
    }
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in texts.items():
            archive.writestr(
                _entry(name, produced_at, compress=zipfile.ZIP_DEFLATED),
                text.encode("utf-8"),
            )
        # Parquet is compressed already: deflating it again costs time and saves nothing. On a
        # stream that cannot seek, sizes follow the data, and streaming readers (Java's
        # ZipInputStream) can find the end of such an entry only when it is deflated.
        method = zipfile.ZIP_STORED if _seekable(out) else zipfile.ZIP_DEFLATED
        parquet = _entry("data.parquet", produced_at, compress=method)
        with archive.open(parquet, "w", force_zip64=True) as entry:
            rows = exports.write_parquet(conn, plan, entry, on_rows=on_rows)
    return DossierSummary(trial_id=trial_id, rows=rows, files=list(FILES))
