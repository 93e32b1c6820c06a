"""Raw exports at the database's own speed: one `COPY (SELECT ...) TO STDOUT` per visibility window.

A raw export is the rows PostgreSQL would stream with `COPY ... TO STDOUT`, so it is one: each
sensor's windows, cut to the range (`Plan.windows`, by the visibility rules of access.py), are
read one after the other, each by an index range scan in time order (no sort, no spill; the first
rows leave at once), and only (time, value) cross the wire. A sensor's names and unit are constants
of its windows: CSV gets them as literals in the SELECT, made safe for spreadsheets first
(`cells.text_cell`); Parquet repeats them in Arrow. Numbers and times are never formulas.

- CSV: PostgreSQL writes the text (`FORMAT csv`), times as ISO 8601 UTC with microseconds.
- Parquet: binary COPY, parsed with one NumPy view per chunk (26 bytes a row, no Python per row),
  written as one Arrow row group per chunk.

Measured with `livinglab bench export` (README, "Benchmarks").
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import AbstractContextManager, closing, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
from psycopg import sql
from psycopg.pq import TransactionStatus

from livinglab_platform.core.db import Connection
from livinglab_platform.data import cells, queries
from livinglab_platform.ingest.pgcopy import PG_EPOCH_US

__all__ = ["RAW_CHUNK_ROWS", "Part", "copy_csv", "copy_parquet", "first_rows", "parts"]

# Rows per yielded piece and per Parquet row group: 100 k rows are about 7 MB of CSV, 2.6 MB of
# binary rows, and a row group large enough for zstd and for readers' column statistics.
RAW_CHUNK_ROWS = 100_000
FIRST_SPAN = timedelta(days=1)
# The first piece is small: 100 k rows took 0.2-0.8 s here, before a byte was sent.
FIRST_ROWS = 10_000
# Binary COPY: an 11-byte signature, int32 flags, int32 header-extension length (0 here).
_HEADER = b"PGCOPY\n\xff\r\n\x00"
_HEADER_BYTES = 19
_TRAILER = b"\xff\xff"
# Each row: int16 field count (2), then int32 length and value for the time and the value.
_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("time_len", ">i4"),
        ("time", ">i8"),
        ("value_len", ">i4"),
        ("value", ">f8"),
    ]
)
_ISO_UTC = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


@dataclass(frozen=True)
class Part:
    """One visibility window of one sensor, cut to the range read: [lo, hi)."""

    sensor_id: int
    device_id: str
    key: str
    quantity: str
    unit: str
    lo: datetime
    hi: datetime


def parts(conn: Connection, plan: queries.Plan) -> list[Part]:
    """The windows a raw plan reads (`plan.windows`), in (sensor, time) order, with names."""
    if not plan.windows:
        return []
    names: dict[int, tuple[str, str, str, str]] = {
        int(row[0]): (str(row[1]), str(row[2]), str(row[3]), str(row[4]))
        for row in conn.execute(
            "SELECT id, device_id, key, quantity, unit FROM sensors WHERE id = ANY(%s)",
            (list(plan.sensor_ids),),
        )
    }
    return [
        Part(w.sensor_id, *names[w.sensor_id], lo, hi)
        for w in plan.windows
        for lo, hi in _spans(w.lo, w.hi)
    ]


def _spans(lo: datetime, hi: datetime) -> Iterator[tuple[datetime, datetime]]:
    """[lo, hi) in spans of one day, two, four...: one COPY each.

    A COPY over a year plans and opens every chunk's index scan before its first row (1.2 s of
    a year's export measured here); a day's COPY starts at once, and doubling the spans keeps
    the COPYs few (nine for a year, a few dozen for any range up to the year 9999).
    """
    span = FIRST_SPAN
    while lo < hi:
        step = hi if hi - lo <= span else lo + span
        yield lo, step
        lo, span = step, span * 2


def _range(part: Part) -> sql.Composed:
    return sql.SQL(
        "FROM readings WHERE sensor_id = {} AND time >= {} AND time < {} ORDER BY time"
    ).format(sql.Literal(part.sensor_id), sql.Literal(part.lo), sql.Literal(part.hi))


def _csv_statement(part: Part) -> sql.Composed:
    names = [
        sql.Literal(cells.text_cell(text))
        for text in (part.device_id, part.key, part.quantity, part.unit)
    ]
    return sql.SQL(
        "COPY (SELECT to_char(time AT TIME ZONE 'UTC', {}), {}, value {}) TO STDOUT (FORMAT csv)"
    ).format(sql.Literal(_ISO_UTC), sql.SQL(", ").join(names), _range(part))


def _binary_statement(part: Part) -> sql.Composed:
    return sql.SQL("COPY (SELECT time, value {}) TO STDOUT (FORMAT binary)").format(
        _range(part)
    )


def first_rows(chunk_rows: int) -> int:
    """Rows in the first piece: a small one, so the first bytes leave within milliseconds."""
    return min(FIRST_ROWS, chunk_rows)


def _in_transaction(conn: Connection) -> AbstractContextManager[object]:
    # One snapshot for all windows: the caller's unit of work, or a transaction of its own for a
    # body streamed after its route's unit has committed.
    idle = conn.info.transaction_status is TransactionStatus.IDLE
    return conn.transaction() if idle else nullcontext()


def copy_csv(
    conn: Connection, plan: queries.Plan, *, chunk_rows: int = RAW_CHUNK_ROWS
) -> Iterator[tuple[bytes, int]]:
    """CSV rows without the header, `chunk_rows` rows a piece (the first `first_rows`):
    (bytes, rows)."""
    pending: list[bytes] = []
    want = first_rows(chunk_rows)
    with _in_transaction(conn):
        for part in parts(conn, plan):
            with conn.cursor() as cur, cur.copy(_csv_statement(part)) as copy:
                # PostgreSQL sends one CopyData message per row.
                for row in copy:
                    pending.append(bytes(row))
                    if len(pending) == want:
                        yield b"".join(pending), want
                        pending.clear()
                        want = chunk_rows
    if pending:
        yield b"".join(pending), len(pending)


def _table(schema: pa.Schema, part: Part, data: bytes) -> pa.Table:
    rows = np.frombuffer(data, dtype=_ROW)
    time_us = rows["time"].astype(np.int64) + PG_EPOCH_US
    value = rows["value"].astype(np.float64)
    n = len(value)
    texts = [
        pa.repeat(pa.scalar(text, pa.string()), n)
        for text in (part.device_id, part.key, part.quantity, part.unit)
    ]
    times = pa.array(time_us, type=pa.int64()).cast(schema.field("time").type)
    values = pa.array(value, type=pa.float64())
    return pa.Table.from_arrays([times, *texts, values], schema=schema)


def _binary_rows(
    conn: Connection, part: Part, chunk_rows: int
) -> Generator[bytes, None, None]:
    """The part's rows as raw binary COPY rows, at most `chunk_rows` rows a piece."""
    size = _ROW.itemsize
    buffer = bytearray()
    header_left = _HEADER_BYTES
    with conn.cursor() as cur, cur.copy(_binary_statement(part)) as copy:
        for data in copy:
            if header_left:
                if header_left == _HEADER_BYTES and not bytes(data).startswith(_HEADER):
                    raise ValueError("not a binary COPY stream")
                skipped = min(header_left, len(data))
                header_left -= skipped
                data = data[skipped:]
            buffer += data
            if len(buffer) >= chunk_rows * size:
                yield bytes(buffer[: chunk_rows * size])
                del buffer[: chunk_rows * size]
    if buffer[-2:] == _TRAILER and len(buffer) % size == 2:
        del buffer[-2:]
    if len(buffer) % size:
        raise ValueError("binary COPY stream ended inside a row")
    if buffer:
        yield bytes(buffer)


def copy_parquet(
    conn: Connection,
    plan: queries.Plan,
    schema: pa.Schema,
    *,
    chunk_rows: int = RAW_CHUNK_ROWS,
) -> Iterator[pa.Table]:
    """Arrow tables of `chunk_rows` rows (the first `first_rows`, the last may be shorter),
    in (sensor, time) order."""
    pending: list[pa.Table] = []
    held = 0
    want = first_rows(chunk_rows)
    with _in_transaction(conn):
        for part in parts(conn, plan):
            # Closed here if the reader stops early: the COPY ends before the transaction does.
            with closing(_binary_rows(conn, part, chunk_rows)) as pieces:
                for data in pieces:
                    table = _table(schema, part, data)
                    while len(table):
                        take = table.slice(0, want - held)
                        pending.append(take)
                        held += len(take)
                        table = table.slice(len(take))
                        if held == want:
                            yield pa.concat_tables(pending)
                            pending, held, want = [], 0, chunk_rows
    if pending:
        yield pa.concat_tables(pending)
