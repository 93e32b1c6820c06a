"""The comparison of `livinglab bench ingest` in rounds: REF, REF-best and a burst, interleaved.

Measured once each, one after the other, the three moved apart by up to 30 % on this shared
2-core machine whenever a neighbour was busy during one of them, and so did the ratios. Each round
therefore measures all three from the same starting state, and consecutive rounds run them in
opposite orders (REF, REF-best, pipeline; then pipeline, REF-best, REF), so that a slow drift in
the machine's load falls on all three alike. The ratios the benchmark reports are the medians of
the rounds' ratios (ingest_report.py).

The same starting state: an unmeasured copy first puts the cluster's WAL in the state every
round finds it in (`_warm_up`); before each measurement the readings, their rollups and the
viewers' hours are emptied and a checkpoint writes out what was dirty; the references drop their
own tables after use (ref.py); each round's burst publishes as devices of its own
(`round_devices`), so the ledger never takes a later round's frames, seq 1, 2, ... again, for
repeats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from rich.console import Console

from livinglab_lab.bench.frames import Frame
from livinglab_lab.bench.harness import BenchLab
from livinglab_lab.bench.pipeline import BurstResult, Pipeline
from livinglab_lab.bench.ref import (
    RefRun,
    RefVariant,
    Rows,
    measure_ref,
    ref_variants,
)

__all__ = ["PIPELINE", "Round", "round_devices", "round_order", "run_rounds"]

PIPELINE = "pipeline"
# What a burst writes besides the ledger, emptied before every measurement. The ledger
# (deliveries) stays: a few hundred rows a round, and the ingest looks it up per device.
DATA_TABLES = ("readings", "readings_1m", "readings_1h", "viewer_cells_1h")
# A TRUNCATE waits for the ingest service's open transactions; none should last this long.
RESET_LOCK_TIMEOUT = "30s"


@dataclass
class Round:
    """One round: each reference's run and the burst, in the order they ran."""

    number: int
    order: tuple[str, ...]
    # Rows each reference copied; the burst published as many.
    readings: int
    refs: dict[str, RefRun]
    burst: BurstResult
    # Rows in DATA_TABLES as each measurement started (the pipeline's chunk row included).
    rows_at_start: dict[str, int]

    def ref_rate(self, key: str) -> float:
        _variant, seconds, _cpu = self.refs[key]
        return self.readings / seconds if seconds > 0 else math.nan

    def ratio(self, key: str) -> float:
        """The burst's throughput over the reference's, both of this round."""
        return self.burst.rate / self.ref_rate(key)


def round_order(number: int) -> tuple[str, ...]:
    """The references then the pipeline in odd rounds (1, 3, ...), the reverse in even ones."""
    forward = (*(variant.key for variant in ref_variants()), PIPELINE)
    return forward if number % 2 else forward[::-1]


def round_devices(number: int, devices: int) -> list[str]:
    """The device ids round `number` publishes as, none shared with another round."""
    return [f"bench-{number}-{i:03d}" for i in range(devices)]


def run_rounds(
    lab: BenchLab,
    pipeline: Pipeline,
    *,
    rounds: int,
    plans: Sequence[list[Frame]],
    ref_rows: Rows,
    chunk_sensor_id: int,
    console: Console,
) -> list[Round]:
    """`rounds` rounds of REF, REF-best and a burst of `plans` (one frame list per device).

    Every round's burst sends the same frames, as its own devices; `chunk_sensor_id` (a sensor
    no burst writes) holds the row that creates the readings' chunk before each burst, as the
    references create theirs before their clock starts.
    """
    variants = {variant.key: variant for variant in ref_variants()}
    readings = len(ref_rows[0])
    _warm_up(lab, ref_rows, variant=variants["ref"], console=console)
    done: list[Round] = []
    for number in range(1, rounds + 1):
        order = round_order(number)
        console.print(f"round {number}/{rounds}: {', '.join(order)}")
        refs: dict[str, RefRun] = {}
        rows_at_start: dict[str, int] = {}
        burst = BurstResult()
        for key in order:
            if key == PIPELINE:
                rows_at_start[key] = _reset_data(lab, chunk_sensor_id=chunk_sensor_id)
                device_ids = round_devices(number, len(plans))
                burst = pipeline.burst(
                    dict(zip(device_ids, plans, strict=True)),
                    label=f"round {number} burst",
                )
            else:
                rows_at_start[key] = _reset_data(lab, chunk_sensor_id=None)
                console.print(f"  {variants[key].label}: {readings:,} rows ...")
                refs[key] = (
                    variants[key],
                    *measure_ref(lab, ref_rows, variant=variants[key]),
                )
        done.append(Round(number, order, readings, refs, burst, rows_at_start))
        _print_round(console, done[-1], wal_segments=_wal_segments(lab))
    _reset_data(lab, chunk_sensor_id=None)
    return done


def _warm_up(
    lab: BenchLab, rows: Rows, *, variant: RefVariant, console: Console
) -> None:
    """Copy the rows once, unmeasured, so that every measurement finds the WAL it will reuse.

    A fresh cluster has a single WAL segment: whatever writes first creates and zero-fills
    the next ones (16 MB each) as it goes, the others reuse them once a checkpoint has passed.
    Without this, the first round's first measurement alone paid for it (its REF ran at
    430,000-610,000 readings/s where the later rounds' ran at 570,000-690,000).
    """
    before = _wal_segments(lab)
    _reset_data(lab, chunk_sensor_id=None)
    measure_ref(lab, rows, variant=variant)
    console.print(
        f"warm-up: {variant.label}, unmeasured; WAL segments {before} -> {_wal_segments(lab)}"
    )


def _wal_segments(lab: BenchLab) -> int:
    assert lab.dsn is not None
    with psycopg.connect(lab.dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_ls_waldir()").fetchone()
    assert row is not None
    return int(row[0])


def _reset_data(lab: BenchLab, *, chunk_sensor_id: int | None) -> int:
    """Empty DATA_TABLES, create today's readings chunk when asked, checkpoint; the rows left."""
    assert lab.dsn is not None
    with psycopg.connect(lab.dsn, autocommit=True) as conn:
        conn.execute(f"SET lock_timeout = '{RESET_LOCK_TIMEOUT}'".encode())
        conn.execute(f"TRUNCATE {', '.join(DATA_TABLES)}".encode())
        if chunk_sensor_id is not None:
            conn.execute(
                "INSERT INTO readings (time, sensor_id, value) VALUES (now(), %s, 0)",
                (chunk_sensor_id,),
            )
        conn.execute("CHECKPOINT")
        counts = " + ".join(f"(SELECT count(*) FROM {t})" for t in DATA_TABLES)
        row = conn.execute(f"SELECT {counts}".encode()).fetchone()
    assert row is not None
    return int(row[0])


def _print_round(console: Console, done: Round, *, wal_segments: int) -> None:
    ratios = ", ".join(f"vs {key} {done.ratio(key):.3f}" for key in done.refs)
    stored = done.burst.stored
    console.print(
        f"round {done.number}: pipeline {done.burst.rate:,.0f} readings/s, ratio {ratios};"
        f" lost {stored.lost}, duplicated {stored.duplicated}; WAL segments {wal_segments}"
    )
