"""Pending readings packed as the wire frame's columns: one outbox row per `add`.

The outbox used to keep one SQLite row per reading, inserted at each sampling tick and then
selected (a Python tuple per reading) and deleted when a batch was sealed. At 3,000 readings a
second that was a large part of the agent's CPU per reading. Now each `add` stores its readings
as one row holding the binary frame's three little-endian columns (wire.py: time_ns int64, value
float64, sensor uint16 indexing the row's own keys), so sealing a batch concatenates columns, and
taking part of a row is slicing bytes at a reading boundary.

This module also holds the SQL of that table (`insert_pending`, `take_pending`) and the move of a
schema 1 outbox's rows into it; the caller (outbox.py) runs them inside its own transaction.

Keys are kept in first-seen order. When every row in a batch has the same keys (the same
sensors every tick: the usual case), the sensor columns concatenate as they are; otherwise each
row's indices are mapped to the batch's keys.
"""

from __future__ import annotations

import math
import sqlite3
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from livinglab_edge_agent.wire import ClockState, encode_columns

__all__ = [
    "KEY_SEPARATOR",
    "Packed",
    "encode_packed",
    "insert_pending",
    "pack",
    "pack_schema_1_rows",
    "take_pending",
]

# One `add` larger than this (a backlog written at once) is stored as several rows, so taking a
# batch's readings from the front of a row never rewrites a large remainder.
MAX_PACKED_READINGS = 1024
# Schema 1 rows are packed in chunks of this many when an old outbox is opened.
MIGRATE_CHUNK = 10_000
# Sensor keys never contain a newline (SENSOR_KEY_RULE), so a row's keys are one text value.
KEY_SEPARATOR = "\n"
_LITTLE = sys.byteorder == "little"


@dataclass(frozen=True)
class Packed:
    """Readings as little-endian columns: time_ns int64, value float64, sensor uint16 into keys."""

    keys: tuple[str, ...]
    time_ns: bytes
    value: bytes
    sensor: bytes

    def __len__(self) -> int:
        return len(self.time_ns) // 8

    def split(self, count: int) -> tuple[Packed, Packed]:
        """The first `count` readings and the rest, both with this row's keys."""
        return (
            Packed(
                self.keys,
                self.time_ns[: 8 * count],
                self.value[: 8 * count],
                self.sensor[: 2 * count],
            ),
            Packed(
                self.keys,
                self.time_ns[8 * count :],
                self.value[8 * count :],
                self.sensor[2 * count :],
            ),
        )


def _column(typecode: str, values: Sequence[float | int]) -> bytes:
    column = array(typecode, values)
    if not _LITTLE:
        column.byteswap()
    return column.tobytes()


def pack(readings: Sequence[tuple[int, str, float | None]]) -> Packed:
    """Pack (time_ns, sensor_key, value) readings; None (an old outbox's NULL) becomes NaN."""
    times, names, values = zip(*readings, strict=True)
    index = {key: i for i, key in enumerate(dict.fromkeys(names))}
    if None in values:
        values = tuple(math.nan if v is None else v for v in values)
    return Packed(
        keys=tuple(index),
        time_ns=_column("q", times),
        value=_column("d", values),
        sensor=_column("H", [index[name] for name in names]),
    )


def encode_packed(*, seq: int, parts: Sequence[Packed], clock: ClockState) -> bytes:
    """The binary frame of `parts` in order, as `encode_readings` would encode their readings."""
    keys: dict[str, int] = {}
    sensors = []
    for part in parts:
        mapping = [keys.setdefault(key, len(keys)) for key in part.keys]
        if mapping == list(range(len(mapping))):
            sensors.append(
                part.sensor
            )  # the same indices in the batch: bytes as they are
            continue
        column = array("H", part.sensor)
        if not _LITTLE:
            column.byteswap()
        sensors.append(_column("H", [mapping[i] for i in column]))
    return encode_columns(
        seq=seq,
        keys=tuple(keys),
        time_ns=b"".join(part.time_ns for part in parts),
        value=b"".join(part.value for part in parts),
        sensor=b"".join(sensors),
        clock=clock,
    )


def pack_schema_1_rows(conn: sqlite3.Connection) -> None:
    """Move the readings of a schema 1 outbox (a row each in `pending`) into `pending_packed`."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pending'"
    ).fetchone()
    if not exists:
        return
    rows = conn.execute("SELECT time_ns, key, value FROM pending ORDER BY id")
    while chunk := rows.fetchmany(MIGRATE_CHUNK):
        insert_pending(conn, chunk)
    rows.close()
    conn.execute("DROP TABLE pending")


def insert_pending(
    conn: sqlite3.Connection, readings: Sequence[tuple[int, str, float | None]]
) -> None:
    """Store readings as packed rows of at most MAX_PACKED_READINGS, in order."""
    rows = []
    for start in range(0, len(readings), MAX_PACKED_READINGS):
        part = pack(readings[start : start + MAX_PACKED_READINGS])
        rows.append(
            (
                len(part),
                KEY_SEPARATOR.join(part.keys),
                part.time_ns,
                part.value,
                part.sensor,
            )
        )
    conn.executemany(
        "INSERT INTO pending_packed (readings, keys, time_ns, value, sensor)"
        " VALUES (?, ?, ?, ?, ?)",
        rows,
    )


def take_pending(conn: sqlite3.Connection, count: int) -> list[Packed]:
    """Remove the oldest `count` pending readings (fewer if fewer are pending); return them.

    Whole rows are deleted; a row that holds more than is taken keeps the rest of its readings.
    BEGIN IMMEDIATE (the caller's) keeps every other writer out until COMMIT.
    """
    parts: list[Packed] = []
    taken = 0
    last_id = None
    rest: Packed | None = None
    oldest = conn.execute(
        "SELECT id, keys, time_ns, value, sensor FROM pending_packed ORDER BY id"
    )
    for row_id, keys, time_ns, value, sensor in oldest:
        part = Packed(tuple(keys.split(KEY_SEPARATOR)), time_ns, value, sensor)
        if taken + len(part) > count:
            part, rest = part.split(count - taken)
        parts.append(part)
        taken += len(part)
        last_id = row_id
        if taken >= count:
            break
    oldest.close()
    if last_id is None:
        return parts
    if rest is None:
        conn.execute("DELETE FROM pending_packed WHERE id <= ?", (last_id,))
    else:
        conn.execute("DELETE FROM pending_packed WHERE id < ?", (last_id,))
        conn.execute(
            "UPDATE pending_packed SET readings = ?, time_ns = ?, value = ?, sensor = ?"
            " WHERE id = ?",
            (len(rest), rest.time_ns, rest.value, rest.sensor, last_id),
        )
    return parts
