"""Exports: a data query streamed as CSV or Parquet, and a trial's dossier as a zip archive.

Both plan (and check access) before the response starts, so a refusal is a JSON error rather
than a broken download. Both stream from a connection of the exports' own pool, at most a few
per person (`api/slots.py`): the requests' pool never waits on a client that reads slowly.
"""

from __future__ import annotations

import tempfile
from collections.abc import Generator
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import IO, Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from livinglab_platform.api.deps import (
    ConnDep,
    CurrentPrincipal,
    ExportSlotDep,
    ViewerMinCount,
)
from livinglab_platform.api.routes.data import DataQueryDep
from livinglab_platform.core import db
from livinglab_platform.data import dossiers, exports, queries
from livinglab_platform.data.schemas import Format

router = APIRouter(tags=["exports"])

# A dossier up to this size stays in memory while it is written; a larger one goes to disk.
SPOOL_MAX_BYTES = 32 * 1024 * 1024
READ_BYTES = 1024 * 1024
ZIP = "application/zip"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def _binary(description: str, *media_types: str) -> dict[int | str, dict[str, Any]]:
    schema = {"type": "string", "format": "binary"}
    return {
        200: {
            "description": description,
            "content": {media: {"schema": schema} for media in media_types},
        }
    }


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses=_binary(
        "The rows, streamed: CSV (header; ISO 8601 UTC times) or Parquet",
        Format.csv.media_type,
        Format.parquet.media_type,
    ),
)
def export_data(
    conn: ConnDep,
    principal: CurrentPrincipal,
    query: DataQueryDep,
    slot: ExportSlotDep,
    viewer_min_count: ViewerMinCount,
    fmt: Annotated[
        Format, Query(alias="format", description="csv or parquet")
    ] = Format.csv,
) -> StreamingResponse:
    """The same rows as /data, any number of them, as a file: raw readings or buckets."""
    plan = queries.plan_query(conn, principal, query, viewer_min_count=viewer_min_count)
    filename = f"livinglab-{_stamp(query.start)}-{_stamp(query.end)}.{fmt.value}"
    return StreamingResponse(
        slot.add(exports.stream(slot.open(principal), plan, fmt)),
        media_type=fmt.media_type,
        headers=_attachment(filename),
    )


def _read(spool: IO[bytes]) -> Generator[bytes, None, None]:
    with spool:
        while piece := spool.read(READ_BYTES):
            yield piece


@router.get(
    "/trials/{trial_id}/dossier",
    response_class=StreamingResponse,
    responses=_binary(
        "A zip archive: README.txt, trial.json, audit.csv, devices.csv, data.parquet",
        ZIP,
    ),
)
def read_dossier(
    principal: CurrentPrincipal, trial_id: int, slot: ExportSlotDep
) -> StreamingResponse:
    """The trial's record, audit trail, devices and raw readings in one archive (not for viewers)."""
    with ExitStack() as on_error:
        spool = on_error.enter_context(
            tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES)
        )
        # Written on the download's connection: a large trial's archive takes a while to write,
        # and its spool stays with the slot until it is sent.
        with db.unit_of_work(slot.open(principal)) as conn:
            dossiers.write_dossier(conn, principal, trial_id, spool)
        size = spool.tell()
        spool.seek(0)
        on_error.pop_all()  # from here on, the body closes the file once it is sent
    headers = {
        **_attachment(f"livinglab-trial-{trial_id}-dossier.zip"),
        "Content-Length": str(size),
    }
    return StreamingResponse(slot.add(_read(spool)), media_type=ZIP, headers=headers)
