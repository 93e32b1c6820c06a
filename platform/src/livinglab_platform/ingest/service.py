"""The ingest service: groups of received messages, written by several writer threads, then acked.

Each writer thread takes messages from the consumer's queue until its group holds
`batch_max_rows` readings or `batch_max_wait_s` has passed, stores the group in one transaction on
its own connection (so several COPYs run at once: the database is the bottleneck), and only then
acknowledges the group's messages to the broker. A database that goes away is retried with the
same group, for as long as it takes; nothing is acknowledged that is not committed.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from dataclasses import replace
from types import FrameType
from typing import Any

import psycopg

from livinglab_edge_agent.receipt import encode_receipt
from livinglab_edge_agent.wire import topic
from livinglab_platform.core import db
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import ConfigurationError, PlatformError
from livinglab_platform.core.settings import IngestSettings
from livinglab_platform.ingest.consumer import Consumer
from livinglab_platform.ingest.counts import GroupResult
from livinglab_platform.ingest.decode import decode
from livinglab_platform.ingest.receipts import RECEIPT_INTERVAL_S, ReceiptBook
from livinglab_platform.ingest.registry import Registry
from livinglab_platform.ingest.stats import StatsRecorder, lag_s
from livinglab_platform.ingest.writer import Item, Writer

__all__ = ["IngestService"]

logger = logging.getLogger(__name__)

# How often idle writers look whether the service is stopping.
_POLL_S = 0.1
# Back-off between database reconnection attempts, doubling from the first to the cap.
_FIRST_RETRY_S = 0.1
_RETRY_MAX_S = 10.0
# How long start() waits for the broker to accept the login and the subscriptions; a broker that
# is merely unreachable is retried in the background after that.
_CONNECT_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 30.0
_GROUP_IDLE_S = 0.002


class IngestService:
    """MQTT telemetry, status and events into the database; `start()`/`stop()`, or `run()`."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.error: PlatformError | None = None
        self._consumer = Consumer(settings, on_fatal=self._on_fatal)
        self._registry = Registry()
        self._receipts = ReceiptBook()
        self._lock = threading.Lock()
        self._totals = GroupResult()
        self._acked = 0
        self._stopping = threading.Event()
        self._abandon = threading.Event()
        self._stop_requested = threading.Event()
        self._stats_stop = threading.Event()
        self._stop_lock = threading.Lock()
        self._writers: list[threading.Thread] = []
        self._stats_thread: threading.Thread | None = None
        self._receipts_stop = threading.Event()
        self._receipts_thread: threading.Thread | None = None
        self._stats = StatsRecorder(
            instance=settings.ingest_client_id, connect=self._connect
        )
        self._started = self._stopped = False

    # --- counters, for tests, the benchmark and the demo ------------------------------------------

    def _total(self) -> GroupResult:
        with self._lock:
            return replace(self._totals)

    @property
    def stored_readings(self) -> int:
        return self._total().readings

    @property
    def stored_batches(self) -> int:
        return self._total().batches

    @property
    def duplicates(self) -> int:
        return self._total().duplicates

    @property
    def quarantined(self) -> int:
        """Quarantine rows written (whole messages, or one row per batch with bad readings)."""
        return self._total().quarantined

    @property
    def quarantined_readings(self) -> int:
        return self._total().quarantined_readings

    @property
    def statuses(self) -> int:
        return self._total().statuses

    @property
    def events(self) -> int:
        return self._total().events

    @property
    def acked(self) -> int:
        """Messages handled and committed (acknowledged to the broker unless it reconnected since)."""
        with self._lock:
            return self._acked

    @property
    def queue_depth(self) -> int:
        return self._consumer.messages.qsize()

    @property
    def broker_dropped(self) -> int | None:
        return self._consumer.broker_dropped

    @property
    def lag_s(self) -> float | None:
        """Seconds from the newest reading committed to now."""
        return lag_s(self._total())

    @property
    def subscribed(self) -> bool:
        return self._consumer.subscribed

    # --- life cycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Check the database, connect to the broker and start the threads; return once subscribed.

        Raises:
            ConfigurationError: the database or its schema is missing, or the broker refused the
                login or the subscriptions.
        """
        if self._started:
            return
        self._check_database()
        self._consumer.start(timeout_s=_CONNECT_TIMEOUT_S)
        self._started = True
        for index in range(self.settings.writers):
            thread = threading.Thread(
                target=self._writer_loop,
                args=(index,),
                name=f"ingest-writer-{index}",
                daemon=True,
            )
            thread.start()
            self._writers.append(thread)
        self._stats_thread = threading.Thread(
            target=self._stats_loop, name="ingest-stats", daemon=True
        )
        self._stats_thread.start()
        if self.settings.receipts:
            self._receipts_thread = threading.Thread(
                target=self._receipts_loop, name="ingest-receipts", daemon=True
            )
            self._receipts_thread.start()
        logger.info(
            "ingest started: %d writers, groups of up to %d readings",
            self.settings.writers,
            self.settings.batch_max_rows,
        )

    def stop(self, timeout_s: float = _STOP_TIMEOUT_S) -> None:
        """Stop taking messages, commit and acknowledge those received, write a last stats row, disconnect.

        Groups still not committed after `timeout_s` (database down) stay unacknowledged: the
        broker resends them to the next session.
        """
        with self._stop_lock:
            if not self._started or self._stopped:
                return
            self._stopped = True
            self._stop_requested.set()
            self._consumer.pause()
            self._stopping.set()
            deadline = time.monotonic() + timeout_s
            for thread in self._writers:
                thread.join(max(0.0, deadline - time.monotonic()))
            if any(t.is_alive() for t in self._writers):
                logger.warning(
                    "giving up groups not committed after %.0f s; the broker will resend them",
                    timeout_s,
                )
                self._abandon.set()
                for thread in self._writers:
                    thread.join(_RETRY_MAX_S + 5)
            self._receipts_stop.set()
            if self._receipts_thread is not None:
                self._receipts_thread.join()
            self._publish_receipts()  # of the last groups, before the connection closes
            self._stats_stop.set()
            if self._stats_thread is not None:
                self._stats_thread.join()
            self._write_stats()
            self._stats.close()
            self._consumer.close()
            logger.info("ingest stopped")

    def run(self) -> None:
        """Start, then block until `stop()`, SIGTERM or SIGINT; stop cleanly.

        Raises:
            ConfigurationError: at start, or when the broker refuses the session later.
        """
        self.start()
        previous: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, self._on_signal)
        try:
            while not self._stop_requested.wait(1.0):
                pass
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if self.error is not None:
            raise self.error

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        logger.info(
            "received %s; finishing the groups in flight", signal.Signals(signum).name
        )
        self._stop_requested.set()

    def _on_fatal(self, error: PlatformError) -> None:
        self.error = error
        self._stop_requested.set()

    def _connect(self) -> Connection:
        return psycopg.connect(
            self.settings.database_url,
            autocommit=True,
            connect_timeout=10,
            application_name=f"livinglab-ingest {self.settings.ingest_client_id}",
            # Notice a server that vanished without closing the connection within about 25 s.
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )

    def _check_database(self) -> None:
        with db.connect(
            self.settings.database_url, autocommit=True, connect_timeout=10
        ) as conn:
            if (
                conn.execute(
                    "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"
                ).fetchone()
                is None
            ):
                raise ConfigurationError(
                    "TimescaleDB is not installed in the database; run `livinglab db upgrade` "
                    "(and install TimescaleDB on the server if that fails)"
                )
            pending = db.pending(conn)
            if pending:
                raise ConfigurationError(
                    f"the database schema is behind this version ({', '.join(pending)} not applied); "
                    "run `livinglab db upgrade`"
                )

    # --- writers ----------------------------------------------------------------------------------

    def _writer_loop(self, index: int) -> None:
        writer = Writer(
            registry=self._registry,
            max_future_s=self.settings.max_future_s,
            transaction_times=self._stats.transaction_times,
        )
        conn: Connection | None = None
        while True:
            try:
                items = self._collect()
                if items is None:
                    break
                conn, result = self._commit(writer, conn, items)
                if result is None:
                    continue
                acked = self._consumer.ack(m for m, _ in items)
                self._record_receipts(writer, conn)
                with self._lock:
                    self._totals.add(result)
                    self._acked += len(items)
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug(
                        "writer %d: committed %d messages (%d acked): %s",
                        index,
                        len(items),
                        acked,
                        result,
                    )
            except Exception:
                logger.exception(
                    "ingest writer %d failed on a group; its messages stay unacknowledged",
                    index,
                )
        if conn is not None:
            conn.close()

    def _record_receipts(self, writer: Writer, conn: Connection | None) -> None:
        """After COMMIT: note the seqs committed, for the next receipts (ingest/receipts.py)."""
        committed = writer.take_committed()
        if not committed or not self.settings.receipts or conn is None:
            return
        try:
            self._receipts.record(conn, committed)
        except psycopg.Error as exc:
            # The seqs are committed; their devices re-send and the duplicates get receipts.
            logger.warning("could not make delivery receipts: %s", str(exc).strip())

    def _receipts_loop(self) -> None:
        while not self._receipts_stop.wait(RECEIPT_INTERVAL_S):
            try:
                self._publish_receipts()
            except Exception:
                logger.exception("could not publish delivery receipts")

    def _publish_receipts(self) -> None:
        for device_id, receipt in self._receipts.take():
            self._consumer.publish(
                topic(device_id, "receipts"), encode_receipt(receipt)
            )

    def _collect(self) -> list[Item] | None:
        """The next group; None when stopping and nothing is left."""
        messages = self._consumer.messages
        while True:
            try:
                first = messages.get(timeout=_POLL_S)
                break
            except queue.Empty:
                if self._stopping.is_set():
                    return None
        decoded = decode(first.topic, first.payload)
        items: list[Item] = [(first, decoded)]
        rows = decoded.rows
        # The group closes when the stream pauses for _GROUP_IDLE_S, at the wait limit or at the
        # row limit. Under load the queue refills while a transaction commits, so groups grow by
        # themselves; a quiet stream is not held back for the whole wait (measured: p50 latency
        # 58 ms with a fixed 50 ms wait at 5k readings/s, 11 ms with a 5 ms one).
        deadline = time.monotonic() + self.settings.batch_max_wait_s
        while rows < self.settings.batch_max_rows:
            remaining = deadline - time.monotonic()
            try:
                message = (
                    messages.get(timeout=min(remaining, _GROUP_IDLE_S))
                    if remaining > 0
                    else messages.get_nowait()
                )
            except queue.Empty:
                break
            decoded = decode(message.topic, message.payload)
            items.append((message, decoded))
            rows += decoded.rows
        return items

    def _commit(
        self, writer: Writer, conn: Connection | None, items: list[Item]
    ) -> tuple[Connection | None, GroupResult | None]:
        """Store a group, reconnecting and retrying while the database is unavailable.

        Returns the connection to keep and the result, or None as result when the service gave up.
        """
        delay = _FIRST_RETRY_S
        while not self._abandon.is_set():
            try:
                if conn is None:
                    conn = self._connect()
                try:
                    return conn, writer.write(conn, items)
                except (psycopg.DataError, psycopg.IntegrityError) as exc:
                    logger.warning(
                        "the database refused a group of %d messages (%s); writing them one by one",
                        len(items),
                        exc,
                    )
                    return conn, self._write_singly(writer, conn, items)
            except psycopg.OperationalError as exc:
                logger.warning(
                    "database unavailable (%s); retrying a group of %d messages in %.1f s",
                    str(exc).strip(),
                    len(items),
                    delay,
                )
                if conn is not None:
                    conn.close()
                    conn = None
                self._abandon.wait(delay)
                delay = min(2 * delay, _RETRY_MAX_S)
        return conn, None

    def _write_singly(
        self, writer: Writer, conn: Connection, items: list[Item]
    ) -> GroupResult:
        """Write each message alone; quarantine those the database refuses, with its error."""
        total = GroupResult()
        for item in items:
            try:
                total.add(writer.write(conn, [item]))
            except (psycopg.DataError, psycopg.IntegrityError) as exc:
                reason = (
                    f"the database refused it: {type(exc).__name__}: {str(exc).strip()}"
                )
                logger.warning("quarantined a message on %s: %s", item[0].topic, reason)
                total.add(writer.quarantine(conn, item, reason[:1000]))
        return total

    # --- statistics -------------------------------------------------------------------------------

    def _stats_loop(self) -> None:
        while not self._stats_stop.wait(self.settings.stats_interval_s):
            try:
                self._write_stats()
            except Exception:
                logger.exception("could not record ingest statistics")

    def _write_stats(self) -> None:
        self._stats.record(
            self._total(),
            queue_depth=self.queue_depth,
            broker_dropped=self.broker_dropped,
        )
