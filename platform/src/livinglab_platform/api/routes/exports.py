"""Exports: a data query streamed as CSV or Parquet, and a trial's dossier as a zip archive.

Both plan (and check access) before the response starts, so a refusal is a JSON error rather
than a broken download.
"""

from __future__ import annotations

import tempfile
from collections.abc import Generator, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import IO, Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from livinglab_platform.api.deps import (
    ConnDep,
    CurrentPrincipal,
    PooledConn,
    ViewerMinCount,
)
from livinglab_platform.api.routes.data import DataQueryDep
from livinglab_platform.data import dossiers, exports, queries
from livinglab_platform.data.schemas import Format

router = APIRouter(tags=["exports"])

# A dossier up to this size stays in memory while it is written; a larger one goes to disk.
SPOOL_MAX_BYTES = 32 * 1024 * 1024
READ_BYTES = 1024 * 1024
ZIP = "application/zip"


class _Bodies:
    """Response bodies of one request, closed once the response is sent or abandoned."""

    def __init__(self) -> None:
        self._open: list[Generator[bytes, None, None]] = []

    def add(self, body: Generator[bytes, None, None]) -> Generator[bytes, None, None]:
        self._open.append(body)
        return body

    def close(self) -> None:
        for body in self._open:
            body.close()


def _bodies(_conn: PooledConn) -> Iterator[_Bodies]:
    # Depending on the request's connection makes this exit first. Starlette never closes a body it stops
    # reading (a client that hangs up), and a body left to the garbage collector would close its
    # server-side cursor on a connection already back in the pool, inside another request.
    bodies = _Bodies()
    try:
        yield bodies
    finally:
        bodies.close()


BodiesDep = Annotated[_Bodies, Depends(_bodies)]


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
    bodies: BodiesDep,
    viewer_min_count: ViewerMinCount,
    fmt: Annotated[
        Format, Query(alias="format", description="csv or parquet")
    ] = Format.csv,
) -> StreamingResponse:
    """The same rows as /data, any number of them, as a file: raw readings or buckets."""
    plan = queries.plan_query(conn, principal, query, viewer_min_count=viewer_min_count)
    filename = f"livinglab-{_stamp(query.start)}-{_stamp(query.end)}.{fmt.value}"
    return StreamingResponse(
        bodies.add(exports.stream(conn, plan, fmt)),
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
    conn: ConnDep, principal: CurrentPrincipal, trial_id: int, bodies: BodiesDep
) -> StreamingResponse:
    """The trial's record, audit trail, devices and raw readings in one archive (not for viewers)."""
    with ExitStack() as on_error:
        spool = on_error.enter_context(
            tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES)
        )
        dossiers.write_dossier(conn, principal, trial_id, spool)
        size = spool.tell()
        spool.seek(0)
        on_error.pop_all()  # from here on, the body closes the file once it is sent
    headers = {
        **_attachment(f"livinglab-trial-{trial_id}-dossier.zip"),
        "Content-Length": str(size),
    }
    return StreamingResponse(bodies.add(_read(spool)), media_type=ZIP, headers=headers)
