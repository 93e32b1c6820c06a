"""What `livinglab bench ingest` reports: its result as one JSON object, and the tables from it.

The JSON object is the benchmark's result, printed as the last line of stdout for scripts and
tests; the tables print the same numbers for a reader, taken from that object.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from livinglab_lab.bench.harness import WINDOW
from livinglab_lab.bench.latency import BatchTimes
from livinglab_lab.bench.naive import NaiveResult
from livinglab_lab.bench.pipeline import LATENCY_BATCH_SIZE, PacedResult, PipelineResult
from livinglab_lab.bench.ref import RefVariant

__all__ = ["RefRun", "ingest_result", "print_report"]

# A reference's measurement: the variant, its seconds and its CPU seconds by process group.
RefRun = tuple[RefVariant, float, dict[str, float]]


def ingest_result(
    *,
    pipeline: PipelineResult,
    naive: NaiveResult,
    refs: dict[str, RefRun],
    readings: int,
    latency_seconds: float,
    frames: int,
    encode_s: float,
    devices: int,
    batch_size: int,
    machine: dict[str, Any],
) -> dict[str, Any]:
    """The benchmark's JSON object; its keys keep this order, which the printed line shows."""
    rate = _rate(pipeline.published, pipeline.seconds)
    naive_rate = _rate(naive.readings, naive.seconds)
    paced = pipeline.paced
    result: dict[str, Any] = {
        "readings": pipeline.published,
        "seconds": round(pipeline.seconds, 3),
        "readings_per_s": round(rate),
    }
    for key, (variant, seconds, _cpu) in refs.items():
        ref_rate = _rate(readings, seconds)
        result |= {
            f"{key}_copy_readings_per_s": round(ref_rate),
            f"{key}_seconds": round(seconds, 3),
            f"{key}_connections": variant.connections,
            f"ratio_vs_{key}": round(rate / ref_rate, 3),
        }
    result |= {
        "naive_readings": naive.readings,
        "naive_seconds": round(naive.seconds, 3),
        "naive_readings_per_s": round(naive_rate, 1),
        "speedup_vs_naive": round(rate / naive_rate, 1),
        # Over both phases: every reading published, burst and paced.
        "lost": pipeline.published
        + (paced.published if paced else 0)
        - pipeline.distinct,
        "duplicated": pipeline.stored - pipeline.distinct,
        "quarantined": pipeline.quarantined,
        "rollup_1m_readings": pipeline.rollup_1m,
        "rollup_1h_readings": pipeline.rollup_1h,
        "naive_lost": naive.readings - naive.stored,
    }
    result |= _paced_latency(paced, latency_seconds=latency_seconds)
    return result | {
        # The same in the burst, where it is mostly time queued behind earlier batches.
        **_latency_summary("burst_latency", pipeline.burst_times.total_ms),
        "publish_seconds": round(pipeline.publish_seconds, 3),
        "publish_readings_per_s": round(
            _rate(pipeline.published, pipeline.publish_seconds)
        ),
        "puback_failures": len(pipeline.failures),
        "frames": frames,
        "encode_us_per_frame": round(encode_s / frames * 1e6, 1),
        "devices": devices,
        "batch_size": batch_size,
        "window": WINDOW,
        "ingest_exit_code": pipeline.ingest_exit,
        "cpu_s": {
            **{
                f"{key}_postgres": round(cpu.get("postgres", 0.0), 2)
                for key, (_variant, _seconds, cpu) in refs.items()
            },
            **{
                f"pipeline_{k}": round(v, 2)
                for k, v in pipeline.cpu_s.items()
                if k != "wall"
            },
        },
        **machine,
    }


def _paced_latency(
    paced: PacedResult | None, *, latency_seconds: float
) -> dict[str, Any]:
    """The paced phase's keys: `latency_...`, with None or 0 where it did not run."""
    return {
        # Publish -> commit per batch in the paced phase: the pipeline's own latency.
        **_latency_summary("latency", paced.times.total_ms if paced else None),
        "latency_rate_readings_per_s": round(paced.rate) if paced else None,
        "latency_batches": paced.batches if paced else 0,
        "latency_readings": paced.published if paced else 0,
        "latency_seconds": latency_seconds,
        "latency_publish_seconds": round(paced.publish_seconds, 3) if paced else None,
        "latency_devices": paced.devices if paced else 0,
        "latency_batch_size": LATENCY_BATCH_SIZE,
        "latency_wal_sync_ms": round(paced.wal_sync_ms, 2)
        if paced and paced.wal_sync_ms is not None
        else None,
        # Where the paced latency goes (BatchTimes): medians of its three steps.
        "latency_steps_p50_ms": _steps_p50(paced.times if paced else None),
    }


def _rate(readings: int, seconds: float) -> float:
    return readings / seconds if seconds > 0 else math.nan


def _steps_p50(times: BatchTimes | None) -> dict[str, float | None]:
    """The median of each step of the latency (`BatchTimes`), rounded to 0.1 ms."""
    if times is None or not len(times.total_ms):
        return dict.fromkeys(("broker", "queue", "transaction"))
    return {
        "broker": round(float(np.median(times.broker_ms)), 1),
        "queue": round(float(np.median(times.queue_ms)), 1),
        "transaction": round(float(np.median(times.transaction_ms)), 1),
    }


def _latency_summary(
    prefix: str, latencies_ms: npt.NDArray[np.float64] | None
) -> dict[str, float | None]:
    """`{prefix}_p50_ms`, `_p99_ms` and `_max_ms`, rounded to 0.1 ms; None without latencies."""
    percentiles = (("p50", 50), ("p99", 99), ("max", 100))
    if latencies_ms is None or not len(latencies_ms):
        return {f"{prefix}_{name}_ms": None for name, _ in percentiles}
    return {
        f"{prefix}_{name}_ms": round(float(np.percentile(latencies_ms, q)), 1)
        for name, q in percentiles
    }


def print_report(
    console: Console,
    result: dict[str, Any],
    *,
    refs: dict[str, RefRun],
    pipeline: PipelineResult,
    naive: NaiveResult,
) -> None:
    """The throughput table, the checks, the first few failures, and last the JSON line."""
    variants = [variant for variant, _, _ in refs.values()]
    console.print(_throughput_table(result, refs=variants))
    console.print(_checks_table(result, refs=variants, warmup_s=pipeline.warmup_s))
    for failure in (pipeline.failures + naive.errors)[:10]:
        console.print(f"[red]{failure}[/]")
    # The machine-readable result, last on stdout and plain (not rich) so it parses.
    print(json.dumps(result), flush=True)  # noqa: T201


def _throughput_table(result: dict[str, Any], *, refs: list[RefVariant]) -> Table:
    table = Table(
        title="livinglab ingest benchmark (one run, same PostgreSQL, fsync on)"
    )
    for name in ("", "readings", "seconds", "readings/s", "ratio to REF"):
        table.add_column(name, justify="left" if not name else "right")
    ref_rate = result["ref_copy_readings_per_s"]
    rows = [
        (
            variant.label,
            result["readings"],
            result[f"{variant.key}_seconds"],
            result[f"{variant.key}_copy_readings_per_s"],
        )
        for variant in refs
    ]
    rows += [
        (
            "livinglab pipeline (burst)",
            result["readings"],
            result["seconds"],
            result["readings_per_s"],
        ),
        (
            "naive bridge (baseline)",
            result["naive_readings"],
            result["naive_seconds"],
            result["naive_readings_per_s"],
        ),
    ]
    for name, count, seconds, rate in rows:
        table.add_row(
            name,
            f"{count:,}",
            f"{seconds:.2f}",
            f"{rate:,.0f}",
            f"{rate / ref_rate:.3f}",
        )
    return table


def _checks_table(
    result: dict[str, Any], *, refs: list[RefVariant], warmup_s: float
) -> Table:
    checks = Table(title="pipeline checks", show_header=False)
    checks.add_column()
    checks.add_column(justify="right")
    cpu = ", ".join(f"{k} {v:.1f}" for k, v in result["cpu_s"].items())
    for name, value in [
        *(
            (f"pipeline / {variant.label}", f"{result[f'ratio_vs_{variant.key}']:.3f}")
            for variant in refs[1:]
        ),
        ("pipeline / naive bridge", f"{result['speedup_vs_naive']:,.1f} x"),
        (
            "lost / duplicated (burst and paced)",
            f"{result['lost']} / {result['duplicated']}",
        ),
        ("quarantined", str(result["quarantined"])),
        (
            "rollup readings (1 m / 1 h)",
            f"{result['rollup_1m_readings']:,} / {result['rollup_1h_readings']:,}",
        ),
        (
            "latency publish -> commit, paced, per batch: p50 / p99 / max",
            _percentiles(result, "latency"),
        ),
        (
            "  its steps, medians: broker / queue (gathering) / transaction",
            _steps(result),
        ),
        ("paced phase", _paced_phase(result)),
        (
            "mean WAL fsync (after the commit timestamp, not in the latency)",
            "-"
            if result["latency_wal_sync_ms"] is None
            else f"{result['latency_wal_sync_ms']} ms",
        ),
        (
            # Publishers send as fast as the broker acknowledges, so this is mostly queueing.
            "latency in the burst (mostly queueing): p50 / p99 / max",
            _percentiles(result, "burst_latency"),
        ),
        (
            "publish side: all PUBACKs after",
            f"{result['publish_seconds']:.2f} s ({result['publish_readings_per_s']:,} readings/s)",
        ),
        ("PUBACK failures", str(result["puback_failures"])),
        (
            "frames (pre-encoded)",
            f"{result['frames']:,} at {result['encode_us_per_frame']} us each",
        ),
        ("ingest warm-up (subscribed and storing)", f"{warmup_s:.1f} s"),
        ("ingest exit code after SIGTERM", str(result["ingest_exit_code"])),
        ("naive lost", str(result["naive_lost"])),
        ("CPU seconds used, by process group", cpu),
        (
            "machine",
            f"{result['cores']} cores ({result['cpu']}), load {result['load_average']}"
            f" -> {result['load_average_end']}",
        ),
        (
            "PostgreSQL / TimescaleDB",
            f"{result['postgresql']} / {result['timescaledb']} (fsync {result['fsync']})",
        ),
    ]:
        checks.add_row(name, value)
    return checks


def _percentiles(result: dict[str, Any], prefix: str) -> str:
    values = [result[f"{prefix}_{name}_ms"] for name in ("p50", "p99", "max")]
    if None in values:
        return "-"
    return " / ".join(f"{v:,}" for v in values) + " ms"


def _paced_phase(result: dict[str, Any]) -> str:
    if not result["latency_batches"]:
        return "not run"
    return (
        f"{result['latency_rate_readings_per_s']:,} readings/s for {result['latency_seconds']:g} s:"
        f" {result['latency_batches']:,} batches of {result['latency_batch_size']} from"
        f" {result['latency_devices']} devices, all PUBACKs after {result['latency_publish_seconds']:.2f} s"
    )


def _steps(result: dict[str, Any]) -> str:
    steps = result["latency_steps_p50_ms"]
    if None in steps.values():
        return "-"
    return " / ".join(f"{v:,}" for v in steps.values()) + " ms"
