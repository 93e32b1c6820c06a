"""The references of `livinglab bench ingest`: raw binary COPY of the pipeline's rows, no pipeline.

`ref_variants()` lists them: the one the benchmark's ratio is defined against (one connection,
TimescaleDB's default index), and one with every advantage the ingest service gives itself.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import psycopg

from livinglab_lab.bench.harness import BenchLab, CpuMeter, postgres_pids
from livinglab_lab.services import Postgres
from livinglab_platform.core.db import Connection
from livinglab_platform.core.settings import IngestSettings
from livinglab_platform.ingest.pgcopy import encode_readings, index_order

__all__ = ["RefRun", "RefVariant", "Rows", "measure_ref", "ref_variants"]

# The ingest service's default batch_max_rows: the most readings it commits at once.
REF_CHUNK_ROWS = 100_000
Rows = tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float64]]


@dataclass(frozen=True)
class RefVariant:
    """One raw-COPY reference: how many connections, which index, how rows are ordered and committed."""

    key: str
    label: str
    connections: int = 1
    # None: TimescaleDB's default (time DESC) index.
    index: str | None = None
    # Each chunk sorted into (sensor_id, time DESC) order, copied and committed on its own.
    index_ordered_commits: bool = False

    @property
    def table(self) -> str:
        return f"{self.key}_readings"


# A reference's measurement: the variant, its seconds and its CPU seconds by process group.
RefRun = tuple[RefVariant, float, dict[str, float]]


def ref_variants() -> list[RefVariant]:
    """REF as specified, then raw COPY with every advantage the ingest service gives itself.

    The service writes through `writers` connections at once into `readings`, whose only index
    is (sensor_id, time DESC), and commits groups of up to `batch_max_rows` readings. The second
    reference does the same with nothing else in the way (no MQTT, decoding, ledger or
    rollups), and sorts each chunk into index order, which keeps B-tree inserts together: it
    is the ceiling the pipeline can be held against.
    """
    writers = IngestSettings.model_fields["writers"].default
    return [
        RefVariant("ref", "REF raw COPY, 1 connection, default (time DESC) index"),
        RefVariant(
            "ref_best",
            f"REF raw COPY, {writers} connections, readings' index, index-ordered"
            f" commits of {REF_CHUNK_ROWS // 1000}k rows",
            connections=writers,
            index="sensor_id, time DESC",
            index_ordered_commits=True,
        ),
    ]


def measure_ref(
    lab: BenchLab,
    rows: Rows,
    *,
    variant: RefVariant,
) -> tuple[float, dict[str, float]]:
    """Raw binary COPY of `rows` into a fresh hypertable; seconds from the start to the last commit.

    The table is dropped afterwards, so the variant can be measured again in the next round.

    With several connections, each takes every n-th chunk, so their times interleave as the
    ingest writers' groups do. Rows are put in COPY format (and sorted) inside the timed part.
    """
    assert lab.dsn is not None
    assert lab.postgres is not None
    table, connections = variant.table, variant.connections
    times, sensors, values = rows
    _create_table(lab.dsn, variant=variant, first_ns=int(times.min()))
    statement = (
        f"COPY {table} (time, sensor_id, value) FROM STDIN (FORMAT BINARY)".encode()
    )
    starts = list(range(0, len(times), REF_CHUNK_ROWS))

    def chunk(start: int) -> bytes:
        end = start + REF_CHUNK_ROWS
        time_us = times[start:end] // 1_000
        sensor, value = sensors[start:end], values[start:end]
        if variant.index_ordered_commits:
            order = index_order(time_us, sensor)
            time_us, sensor, value = time_us[order], sensor[order], value[order]
        return encode_readings(time_us, sensor, value)

    def copy_all(conn: Connection, part: int) -> None:
        # One COPY per chunk, the same NumPy-built stream the ingest service writes; the plain
        # REF commits once at the end, the index-ordered variant after each chunk.
        for start in starts[part::connections]:
            with conn.cursor() as cur, cur.copy(statement) as copy:
                copy.write(chunk(start))
            if variant.index_ordered_commits:
                conn.commit()
        conn.commit()

    try:
        return _time_connections(
            lab.dsn, postgres=lab.postgres, connections=connections, work=copy_all
        )
    finally:
        # The next round measures on the same empty database again.
        with psycopg.connect(lab.dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE {table}".encode())


def _create_table(dsn: str, *, variant: RefVariant, first_ns: int) -> None:
    """The variant's hypertable, its index and its first chunk, written out before the clock starts."""
    table = variant.table
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (time timestamptz NOT NULL, sensor_id integer NOT NULL,"
            " value double precision NOT NULL)".encode()
        )
        # Without an index of its own, TimescaleDB's default (time DESC) index is created.
        conn.execute(
            f"SELECT create_hypertable('{table}', 'time', chunk_time_interval => interval '1 day',"
            f" create_default_indexes => {variant.index is None})".encode()
        )
        if variant.index is not None:
            conn.execute(f"CREATE INDEX ON {table} ({variant.index})".encode())
        # The pipeline's chunk exists before its clock starts (the warm-up batch made it); so
        # does this one. Created inside a long COPY, it would also make a second connection
        # wait for the first one's commit.
        conn.execute(
            f"INSERT INTO {table} VALUES (to_timestamp(%s / 1e9), 0, 0)".encode(),
            (first_ns,),
        )
        conn.execute("CHECKPOINT")


def _time_connections(
    dsn: str,
    *,
    postgres: Postgres,
    connections: int,
    work: Callable[[Connection, int], None],
) -> tuple[float, dict[str, float]]:
    """Run `work(conn, part)` on each of `connections` at once; seconds until all returned, and CPU.

    The first error any connection meets is raised once all threads have ended.
    """
    # Connections open before the clock starts and close after the CPU is read: a backend's
    # CPU time leaves /proc with it.
    connected = threading.Barrier(connections + 1)
    committed = threading.Barrier(connections + 1)
    go, measured = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def run(part: int) -> None:
        try:
            with psycopg.connect(dsn) as conn:
                connected.wait()
                go.wait()
                work(conn, part)
                committed.wait()
                measured.wait()
        except BaseException as exc:
            errors.append(exc)
            connected.abort()
            committed.abort()

    threads = [
        threading.Thread(target=run, args=(part,), name=f"ref-copy-{part}")
        for part in range(connections)
    ]
    for thread in threads:
        thread.start()
    meter = CpuMeter({"postgres": postgres_pids(postgres)})
    seconds = math.nan
    try:
        connected.wait()
        meter.start()
        started = time.perf_counter()
        go.set()
        committed.wait()
        seconds = time.perf_counter() - started
        meter.stop()
    except threading.BrokenBarrierError:
        pass
    finally:
        go.set()
        measured.set()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return seconds, meter.used_s
