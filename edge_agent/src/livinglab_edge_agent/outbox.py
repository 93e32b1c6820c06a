"""The durable outbox: readings and sealed batches in SQLite until the broker acknowledges them.

A reading is written here before anything else happens to it. `seal` turns the oldest pending
readings into a numbered batch and stores its binary payload in the same transaction, so a batch
that was published but whose PUBACK was lost is re-sent after a crash with the same seq and the
same bytes, and the ingest drops it as a duplicate of (device, seq). A batch leaves only by `ack`
(after the broker acknowledged it, for an agent without receipts), by `confirm` (a delivery
receipt from the platform names it as committed) or by a purge when the outbox is over capacity;
a purged batch leaves a gap in the device's seq numbers that the platform reports as missing,
which is what happened. The capacity holds whatever the batches wait for: with receipts, a batch
the broker acknowledged but the ingest has not committed (ingest down) counts until its receipt.

Forgetting batches (`ack`, `confirm`) is the one write that is not synced on its own: WAL frames
reach the disk in order, so the next synced commit (the next `add` or `seal`, at most one sampling
tick later) carries it. A power cut before that brings the batches back, and they are sent again
with the same seq and the same bytes, which the ingest drops as duplicates: nothing is lost, and
an agent with receipts saves a sync per batch.

One process owns an outbox file: the counters are cached in memory. Within the process one
connection, guarded by a lock, serves the sampling thread (`add`) and the uplink thread (`seal`,
`unacked`, `ack`).

The outbox alone knows which readings are pending, so it also answers when the next batch is due
(`batch_due`: enough pending readings, or the oldest one old enough). When each pending reading
arrived is kept in memory only, updated after each commit under the same lock: it decides when to
seal, never what is stored. Readings found pending at `open` count as arriving then.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from livinglab_edge_agent.errors import OutboxError
from livinglab_edge_agent.packed import (
    encode_packed,
    insert_pending,
    pack_schema_1_rows,
    take_pending,
)
from livinglab_edge_agent.wire import SENSOR_KEY_PATTERN, SENSOR_KEY_RULE, ClockState

__all__ = ["DEFAULT_CAPACITY", "Outbox", "OutboxStats", "Sealed"]

logger = logging.getLogger(__name__)

DEFAULT_CAPACITY = 1_000_000
SCHEMA_VERSION = 2
FIRST_SEQ = 1
BUSY_TIMEOUT_S = 5.0
# After a long outage the WAL can grow to many megabytes; truncate it back after checkpoints so
# the SD card gets the space back.
JOURNAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024
# A configuration has a few dozen sensor keys; beyond this many, keys are checked at every add.
MAX_REMEMBERED_KEYS = 1024
SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
# PRAGMA synchronous reads back as a number: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
_NORMAL = 1

# `pending_packed` holds one row per `add` (packed.py: the wire frame's columns and the row's
# keys), read in id order, which is the order readings were added: SQLite gives a new row the
# largest id plus one. Without AUTOINCREMENT each add writes no sqlite_sequence page; ids start
# again only when the table is empty, when no older row is left to order against. Schema 1 kept a
# row per reading in `pending`; opening such a file packs them into `pending_packed` (in order)
# and drops `pending`, in the transaction that sets the new version.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending_packed (
    id INTEGER PRIMARY KEY,
    readings INTEGER NOT NULL,
    keys TEXT NOT NULL,
    time_ns BLOB NOT NULL,
    value BLOB NOT NULL,
    sensor BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY,
    created_ns INTEGER NOT NULL,
    readings INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""
_COUNTERS = ("next_seq", "acked", "dropped")


@dataclass(frozen=True)
class OutboxStats:
    """A snapshot of the outbox counters; depth + acked + dropped == sampled."""

    depth: int
    batches: int
    sampled: int
    acked: int
    dropped: int
    next_seq: int


@dataclass(frozen=True)
class Sealed:
    """A batch just sealed: its seq, how many readings it holds, and its binary frame."""

    seq: int
    readings: int
    payload: bytes

    def __len__(self) -> int:
        return self.readings


class Outbox:
    """Readings and sealed batches kept in SQLite until the broker acknowledges them."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        path: Path,
        capacity: int,
        gather_s: float = 0.0,
    ) -> None:
        """Wrap an open, initialised connection; use `Outbox.open`."""
        self.path = path
        self.capacity = capacity
        self.gather_s = gather_s
        # Group commit: `add` calls queue here; one leader at a time stores the whole queue.
        self._queue: list[_Queued] = []
        self._leading = False
        self._queue_changed = threading.Condition()
        # Sensor keys already checked against the wire contract, so each tick skips the regex.
        self._valid_keys: set[str] = set()
        # Transactions that stored readings since open (group commit makes fewer than `add`s).
        self.commits = 0
        self._conn: sqlite3.Connection | None = conn
        self._synchronous = conn.execute("PRAGMA synchronous").fetchone()[0]
        self._lock = threading.Lock()
        counters = dict(conn.execute("SELECT name, value FROM meta").fetchall())
        self._next_seq: int = counters["next_seq"]
        self._acked: int = counters["acked"]
        self._dropped: int = counters["dropped"]
        self._pending: int = conn.execute(
            "SELECT COALESCE(SUM(readings), 0) FROM pending_packed"
        ).fetchone()[0]
        batches, sealed = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(readings), 0) FROM batches"
        ).fetchone()
        self._batches: int = batches
        self._sealed: int = sealed
        # Not kept in `meta` (whose "sampled" row older agents wrote): every reading ever added
        # is pending, sealed, acknowledged or dropped, so the count follows, and each `add`
        # writes one page fewer.
        self._sampled = self._pending + self._sealed + self._acked + self._dropped
        # (monotonic time added, readings) of each `add` still pending, oldest first; the counts
        # sum to `_pending`.
        self._arrivals: deque[tuple[float, int]] = deque()
        if self._pending:
            self._arrivals.append((time.monotonic(), self._pending))

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        capacity: int = DEFAULT_CAPACITY,
        synchronous: str = "FULL",
        gather_s: float = 0.0,
    ) -> Self:
        """Open or create the outbox at `path`; raise OutboxError if it cannot be used.

        Args:
            path: the SQLite file; its directory must exist.
            capacity: the most readings (pending and sealed) kept; older ones are purged beyond it.
            synchronous: SQLite's `synchronous` setting. In WAL mode NORMAL never corrupts the
                database, but a power cut can lose the last committed transactions because the WAL
                is not synced at each commit; FULL syncs it, so a reading reported as stored
                survives the power cut a Pi on a pilot site will see.
            gather_s: how long the first of several concurrent `add` calls waits for the others
                to share its transaction; 0 (the default) for a single writer, whose each `add`
                is one transaction of its own.
        """
        if capacity < 1:
            raise ValueError(f"outbox capacity must be at least 1, got {capacity}")
        mode = synchronous.upper()
        if mode not in SYNCHRONOUS_MODES:
            raise ValueError(
                f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}, got {synchronous!r}"
            )
        path = Path(path)
        try:
            conn = sqlite3.connect(
                path,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open outbox {path}: {exc}") from exc
        try:
            _initialise(conn, synchronous=mode)
            return cls(conn, path=path, capacity=capacity, gather_s=gather_s)
        except sqlite3.Error as exc:
            conn.close()
            raise OutboxError(f"cannot open outbox {path}: {exc}") from exc
        except BaseException:
            conn.close()
            raise

    def close(self) -> None:
        """Close the database; further calls raise OutboxError. Closing twice is harmless."""
        with self._lock:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                try:
                    conn.close()
                except sqlite3.Error as exc:
                    raise OutboxError(
                        f"outbox {self.path}: close failed: {exc}"
                    ) from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Outbox({str(self.path)!r}, depth={self._pending + self._sealed}, capacity={self.capacity})"

    @property
    def depth(self) -> int:
        """Readings held: pending ones plus those in sealed, unacknowledged batches."""
        return self._pending + self._sealed

    @property
    def pending(self) -> int:
        """Readings not yet sealed into a batch."""
        return self._pending

    @property
    def pending_batches(self) -> int:
        """Sealed batches waiting for an acknowledgement."""
        return self._batches

    def stats(self) -> OutboxStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            return OutboxStats(
                depth=self._pending + self._sealed,
                batches=self._batches,
                sampled=self._sampled,
                acked=self._acked,
                dropped=self._dropped,
                next_seq=self._next_seq,
            )

    def batch_due(self, *, batch_size: int, max_age_s: float) -> bool:
        """Whether to seal now: `batch_size` readings are pending, or the oldest is `max_age_s` old."""
        return self.seconds_until_due(batch_size=batch_size, max_age_s=max_age_s) == 0.0

    def seconds_until_due(self, *, batch_size: int, max_age_s: float) -> float:
        """How long until a batch is due (0.0 if due now, inf if nothing is pending)."""
        with self._lock:
            if not self._arrivals:
                return float("inf")
            if self._pending >= batch_size:
                return 0.0
            return max(self._arrivals[0][0] + max_age_s - time.monotonic(), 0.0)

    def add(self, readings: Sequence[tuple[int, str, float]]) -> int:
        """Store (time_ns, sensor_key, value) readings; return how many old readings were purged.

        Returns only once the readings are committed (and, with synchronous=FULL, synced). With
        `gather_s` > 0, calls from several threads at about the same moment share one transaction
        (group commit): the first becomes the leader, waits `gather_s` for the others of the same
        sampling tick, and commits everything queued; the others wait until their readings are
        in. A sync costs far more than the rows it carries, so this is the agent's largest saving
        per reading. With `gather_s` 0 (one writer) the call commits its own readings directly.

        Values are kept as float64 bytes: NaN, infinities and -0.0 come back as they went in.
        Over capacity the oldest readings are dropped (whole sealed batches first, then pending
        rows), counted in `dropped` and logged; the leader's call returns the number so its
        caller reports it as an event (the others return 0).
        """
        if not readings:
            return 0
        self._check_keys(readings)
        if self.gather_s <= 0:
            # A single writer (the agent's one sampling thread): nobody to gather, so no queue
            # and no leader; `_lock` still keeps any concurrent caller's transaction apart.
            return self._store(readings)
        entry = _Queued(readings)
        with self._queue_changed:
            self._queue.append(entry)
            while self._leading and not entry.done:
                self._queue_changed.wait()
            if entry.done:
                if entry.error is not None:
                    raise entry.error
                return 0
            self._leading = True
        # The leader: give the other sensors of this tick a moment to join the transaction.
        if self.gather_s > 0:
            time.sleep(self.gather_s)
        with self._queue_changed:
            entries, self._queue = self._queue, []
        error: BaseException | None = None
        try:
            return self._store([row for queued in entries for row in queued.readings])
        except BaseException as exc:
            error = exc
            raise
        finally:
            with self._queue_changed:
                for queued in entries:
                    queued.done, queued.error = True, error
                self._leading = False
                self._queue_changed.notify_all()

    def _check_keys(self, readings: Sequence[tuple[int, str, float]]) -> None:
        """Raise ValueError for a key that breaks the wire contract; a key passes its check once."""
        keys = {key for _, key, _ in readings}
        if keys <= self._valid_keys:
            return
        for key in keys - self._valid_keys:
            if not isinstance(key, str) or not SENSOR_KEY_PATTERN.match(key):
                raise ValueError(f"invalid sensor key {key!r}: use {SENSOR_KEY_RULE}")
        if len(self._valid_keys) < MAX_REMEMBERED_KEYS:
            self._valid_keys |= keys

    def _store(self, readings: Sequence[tuple[int, str, float]]) -> int:
        """Insert readings in one transaction, purging beyond capacity; return the purged count."""
        count = len(readings)
        with self._lock:
            with self._transaction("add") as conn:
                insert_pending(conn, readings)
                excess = self._pending + count + self._sealed - self.capacity
                purge = _purge(conn, excess=excess) if excess > 0 else _Purge()
                if purge.total:
                    _increment(conn, "dropped", purge.total)
            self.commits += 1
            self._sampled += count
            self._pending += count - purge.rows
            self._arrivals.append((time.monotonic(), count))
            self._forget_arrivals(purge.rows)
            self._sealed -= purge.sealed
            self._batches -= purge.batches
            self._dropped += purge.total
        if purge.total:
            logger.warning(
                "outbox %s over capacity %d: dropped %d oldest readings (%d sealed batches%s, %d pending)",
                self.path,
                self.capacity,
                purge.total,
                purge.batches,
                f" seq {purge.first_seq}..{purge.last_seq}" if purge.batches else "",
                purge.rows,
            )
        return purge.total

    def seal(self, *, max_readings: int, clock: ClockState) -> Sealed | None:
        """Make the oldest pending readings (at most `max_readings`) the next numbered batch.

        The batch and its binary payload are stored, and its readings leave `pending`, in one
        transaction. Return None when nothing is pending.
        """
        if max_readings < 1:
            raise ValueError(f"max_readings must be at least 1, got {max_readings}")
        with self._lock:
            with self._transaction("seal") as conn:
                parts = take_pending(conn, max_readings)
                if not parts:
                    return None
                count = sum(len(part) for part in parts)
                seq = self._next_seq
                payload = encode_packed(seq=seq, parts=parts, clock=clock)
                conn.execute(
                    "INSERT INTO batches (seq, created_ns, readings, payload) VALUES (?, ?, ?, ?)",
                    (seq, time.time_ns(), count, payload),
                )
                _increment(conn, "next_seq", 1)
            self._next_seq += 1
            self._pending -= count
            self._forget_arrivals(count)
            self._sealed += count
            self._batches += 1
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "sealed batch seq %d with %d readings (%d bytes)",
                seq,
                count,
                len(payload),
            )
        return Sealed(seq=seq, readings=count, payload=payload)

    def unacked(self, *, limit: int) -> list[tuple[int, bytes, int]]:
        """The oldest sealed batches as (seq, payload, readings), by seq, for (re)sending."""
        with self._lock:
            conn = self._connection()
            try:
                return conn.execute(
                    "SELECT seq, payload, readings FROM batches ORDER BY seq LIMIT ?",
                    (limit,),
                ).fetchall()
            except sqlite3.Error as exc:
                raise OutboxError(
                    f"outbox {self.path}: reading sealed batches failed: {exc}"
                ) from exc

    def seqs(self, *, limit: int) -> list[int]:
        """The seqs of the oldest sealed batches, by seq, without their payloads."""
        with self._lock:
            conn = self._connection()
            try:
                rows = conn.execute(
                    "SELECT seq FROM batches ORDER BY seq LIMIT ?", (limit,)
                ).fetchall()
            except sqlite3.Error as exc:
                raise OutboxError(
                    f"outbox {self.path}: reading sealed batches failed: {exc}"
                ) from exc
        return [seq for (seq,) in rows]

    def payloads(self, seqs: Sequence[int]) -> list[tuple[int, bytes]]:
        """(seq, payload) of the sealed batches among `seqs`, by seq; gone ones are left out."""
        if not seqs:
            return []
        with self._lock:
            conn = self._connection()
            try:
                return conn.execute(
                    "SELECT seq, payload FROM batches WHERE seq IN"
                    f" ({','.join('?' * len(seqs))}) ORDER BY seq",
                    list(seqs),
                ).fetchall()
            except sqlite3.Error as exc:
                raise OutboxError(
                    f"outbox {self.path}: reading sealed batches failed: {exc}"
                ) from exc

    def confirm(self, *, low: int, high: int, seqs: Sequence[int] = ()) -> int:
        """Forget the batches a delivery receipt names (low..high and `seqs`); return how many."""
        where = "seq BETWEEN ? AND ?"
        if seqs:
            where += f" OR seq IN ({','.join('?' * len(seqs))})"
        params = [low, high, *seqs]
        with self._lock:
            with self._transaction("confirm", synced=False) as conn:
                batches, count = conn.execute(
                    f"SELECT COUNT(*), COALESCE(SUM(readings), 0) FROM batches WHERE {where}",
                    params,
                ).fetchone()
                if not batches:
                    return 0
                conn.execute(f"DELETE FROM batches WHERE {where}", params)
                _increment(conn, "acked", count)
            self._acked += count
            self._sealed -= count
            self._batches -= batches
        return int(batches)

    def ack(self, seq: int) -> None:
        """Forget batch `seq` now that the broker has it; an unknown seq is ignored."""
        with self._lock:
            with self._transaction("ack", synced=False) as conn:
                row = conn.execute(
                    "SELECT readings FROM batches WHERE seq = ?", (seq,)
                ).fetchone()
                if row is None:
                    return
                count = row[0]
                conn.execute("DELETE FROM batches WHERE seq = ?", (seq,))
                _increment(conn, "acked", count)
            self._acked += count
            self._sealed -= count
            self._batches -= 1

    def _forget_arrivals(self, count: int) -> None:
        """Drop the arrival times of the `count` oldest pending readings; the caller holds the lock."""
        while count and self._arrivals:
            added_at, readings = self._arrivals[0]
            if readings > count:
                self._arrivals[0] = (added_at, readings - count)
                return
            self._arrivals.popleft()
            count -= readings

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise OutboxError(f"outbox {self.path} is closed")
        return self._conn

    @contextmanager
    def _transaction(
        self, what: str, *, synced: bool = True
    ) -> Iterator[sqlite3.Connection]:
        """Run the body in BEGIN IMMEDIATE ... COMMIT; the caller holds the lock.

        With `synced=False` the commit is not synced (NORMAL) when the outbox syncs at each
        commit: only for forgetting batches, which the next synced commit carries to the disk.
        """
        conn = self._connection()
        relax = not synced and self._synchronous > _NORMAL
        try:
            if relax:
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                if relax:
                    conn.execute(f"PRAGMA synchronous={self._synchronous}")
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox {self.path}: {what} failed: {exc}") from exc


@dataclass
class _Queued:
    """One `add` call waiting for the group commit that stores it."""

    readings: Sequence[tuple[int, str, float]]
    done: bool = False
    error: BaseException | None = None


@dataclass(frozen=True)
class _Purge:
    rows: int = 0
    sealed: int = 0
    batches: int = 0
    first_seq: int | None = None
    last_seq: int | None = None

    @property
    def total(self) -> int:
        return self.rows + self.sealed


def _initialise(conn: sqlite3.Connection, *, synchronous: str) -> None:
    journal = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if journal != "wal":
        raise sqlite3.OperationalError(
            f"journal_mode is {journal!r}; WAL could not be enabled"
        )
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT_BYTES}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"schema version {version} is newer than this agent's {SCHEMA_VERSION}"
            )
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.executemany(
            "INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)",
            [(name, FIRST_SEQ if name == "next_seq" else 0) for name in _COUNTERS],
        )
        if version < 2:
            pack_schema_1_rows(conn)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _increment(conn: sqlite3.Connection, name: str, amount: int) -> None:
    conn.execute("UPDATE meta SET value = value + ? WHERE name = ?", (amount, name))


def _purge(conn: sqlite3.Connection, *, excess: int) -> _Purge:
    """Delete at least `excess` of the oldest readings: whole sealed batches, then pending rows."""
    sealed = batches = 0
    first_seq = last_seq = None
    oldest = conn.execute("SELECT seq, readings FROM batches ORDER BY seq")
    for seq, count in oldest:
        if sealed >= excess:
            break
        first_seq = seq if first_seq is None else first_seq
        last_seq = seq
        sealed += count
        batches += 1
    oldest.close()
    if last_seq is not None:
        conn.execute("DELETE FROM batches WHERE seq <= ?", (last_seq,))
    rows = 0
    if sealed < excess:
        rows = sum(len(part) for part in take_pending(conn, excess - sealed))
    return _Purge(
        rows=rows,
        sealed=sealed,
        batches=batches,
        first_seq=first_seq,
        last_seq=last_seq,
    )
