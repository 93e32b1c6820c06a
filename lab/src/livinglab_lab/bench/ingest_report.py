"""What `livinglab bench ingest` reports: its result as one JSON object, and the tables from it.

The JSON object is the benchmark's result, printed as the last line of stdout for scripts and
tests; the tables print the same numbers for a reader, taken from that object.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from livinglab_lab.bench.harness import WINDOW
from livinglab_lab.bench.latency import BatchTimes
from livinglab_lab.bench.naive import NaiveResult
from livinglab_lab.bench.pipeline import LATENCY_BATCH_SIZE, PacedResult
from livinglab_lab.bench.ref import RefVariant
from livinglab_lab.bench.rounds import Round

__all__ = ["ingest_result", "print_report"]


def ingest_result(
    *,
    rounds: list[Round],
    paced: PacedResult | None,
    naive: NaiveResult,
    readings: int,
    latency_seconds: float,
    frames: int,
    encode_s: float,
    devices: int,
    batch_size: int,
    ingest_exit: int | None,
    machine: dict[str, Any],
) -> dict[str, Any]:
    """The benchmark's JSON object; its keys keep this order, which the printed line shows.

    Rates and seconds are medians over the rounds; each `ratio_vs_...` is the median of the
    rounds' own ratios (not a ratio of medians), with its smallest and largest.
    """
    bursts = [r.burst for r in rounds]
    result: dict[str, Any] = {
        "readings": readings,
        "seconds": round(_median(b.seconds for b in bursts), 3),
        "readings_per_s": round(_median(b.rate for b in bursts)),
    }
    for key, (variant, _seconds, _cpu) in rounds[0].refs.items():
        ratios = [r.ratio(key) for r in rounds]
        result |= {
            f"{key}_copy_readings_per_s": round(
                _median(r.ref_rate(key) for r in rounds)
            ),
            f"{key}_seconds": round(_median(r.refs[key][1] for r in rounds), 3),
            f"{key}_connections": variant.connections,
            f"ratio_vs_{key}": round(_median(ratios), 3),
            f"ratio_vs_{key}_min": round(min(ratios), 3),
            f"ratio_vs_{key}_max": round(max(ratios), 3),
        }
    naive_rate = _rate(naive.readings, naive.seconds)
    phases = [b.stored for b in bursts] + ([paced.stored] if paced else [])
    result |= {
        "naive_readings": naive.readings,
        "naive_seconds": round(naive.seconds, 3),
        "naive_readings_per_s": round(naive_rate, 1),
        "speedup_vs_naive": round(result["readings_per_s"] / naive_rate, 1),
        # Over every burst and the paced phase, each counted over its own devices.
        "lost": sum(s.lost for s in phases),
        "duplicated": sum(s.duplicated for s in phases),
        "quarantined": sum(s.quarantined for s in phases),
        "rollup_1m_readings": sum(s.rollup_1m for s in phases),
        "rollup_1h_readings": sum(s.rollup_1h for s in phases),
        "naive_lost": naive.readings - naive.stored,
    }
    result |= _paced_latency(paced, latency_seconds=latency_seconds)
    burst_ms = np.concatenate([b.times.total_ms for b in bursts])
    return result | {
        # The same in the bursts, where it is mostly time queued behind earlier batches.
        **_latency_summary("burst_latency", burst_ms),
        "publish_seconds": round(_median(b.publish_seconds for b in bursts), 3),
        "publish_readings_per_s": round(
            _median(_rate(b.published, b.publish_seconds) for b in bursts)
        ),
        "puback_failures": sum(len(b.failures) for b in bursts)
        + (len(paced.failures) if paced else 0),
        "frames": frames,
        "encode_us_per_frame": round(encode_s / frames * 1e6, 1),
        "devices": devices,
        "batch_size": batch_size,
        "window": WINDOW,
        "ingest_exit_code": ingest_exit,
        # Per measurement, the mean over the rounds.
        "cpu_s": _cpu_means(rounds),
        "rounds": [_round_entry(r) for r in rounds],
        **machine,
    }


def _round_entry(done: Round) -> dict[str, Any]:
    """One round's rates and ratios, its order, and what its burst stored."""
    stored = done.burst.stored
    return {
        "round": done.number,
        "order": list(done.order),
        "readings_per_s": round(done.burst.rate),
        **{
            f"{key}_copy_readings_per_s": round(done.ref_rate(key)) for key in done.refs
        },
        **{f"ratio_vs_{key}": round(done.ratio(key), 3) for key in done.refs},
        "published": stored.published,
        "lost": stored.lost,
        "duplicated": stored.duplicated,
        "rollup_1m_readings": stored.rollup_1m,
        "rows_at_start": done.rows_at_start,
    }


def _cpu_means(rounds: list[Round]) -> dict[str, float]:
    """Each reference's PostgreSQL CPU seconds and the burst's by process group, mean of the rounds."""
    sums: dict[str, float] = {}
    for done in rounds:
        for key, (_variant, _seconds, cpu) in done.refs.items():
            sums[f"{key}_postgres"] = sums.get(f"{key}_postgres", 0.0) + cpu.get(
                "postgres", 0.0
            )
        for group, seconds in done.burst.cpu_s.items():
            if group != "wall":
                sums[f"pipeline_{group}"] = sums.get(f"pipeline_{group}", 0.0) + seconds
    return {name: round(total / len(rounds), 2) for name, total in sums.items()}


def _median(values: Iterable[float]) -> float:
    return float(np.median(list(values)))


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
    variants: list[RefVariant],
    failures: list[str],
    warmup_s: float,
) -> None:
    """The rounds, the throughput table, the checks, the first few failures, last the JSON line."""
    console.print(_rounds_table(result, refs=variants))
    console.print(_throughput_table(result, refs=variants))
    console.print(_checks_table(result, refs=variants, warmup_s=warmup_s))
    for failure in failures[:10]:
        console.print(f"[red]{failure}[/]")
    # The machine-readable result, last on stdout and plain (not rich) so it parses.
    print(json.dumps(result), flush=True)  # noqa: T201


def _rounds_table(result: dict[str, Any], *, refs: list[RefVariant]) -> Table:
    table = Table(
        title="rounds: readings/s and the pipeline's ratios; odd rounds run REF, REF-best,"
        " pipeline, even ones the reverse, each from empty tables"
    )
    columns = [
        "round",
        *(v.key for v in refs),
        "pipeline",
        *(f"/ {v.key}" for v in refs),
        "lost / dup.",
    ]
    for name in columns:
        table.add_column(name, justify="right")
    for entry in result["rounds"]:
        table.add_row(
            str(entry["round"]),
            *(f"{entry[f'{v.key}_copy_readings_per_s']:,}" for v in refs),
            f"{entry['readings_per_s']:,}",
            *(f"{entry[f'ratio_vs_{v.key}']:.3f}" for v in refs),
            f"{entry['lost']} / {entry['duplicated']}",
        )
    return table


def _throughput_table(result: dict[str, Any], *, refs: list[RefVariant]) -> Table:
    rounds = len(result["rounds"])
    table = Table(
        title=f"livinglab ingest benchmark (medians of {rounds} rounds, same PostgreSQL,"
        " fsync on)"
    )
    for name in ("", "readings", "seconds", "readings/s", "ratio to REF"):
        table.add_column(name, justify="left" if not name else "right")
    ref_rate = result["ref_copy_readings_per_s"]
    for variant in refs:
        rate = result[f"{variant.key}_copy_readings_per_s"]
        table.add_row(
            variant.label,
            f"{result['readings']:,}",
            f"{result[f'{variant.key}_seconds']:.2f}",
            f"{rate:,.0f}",
            f"{rate / ref_rate:.3f}",
        )
    table.add_row(
        "livinglab pipeline (burst)",
        f"{result['readings']:,}",
        f"{result['seconds']:.2f}",
        f"{result['readings_per_s']:,.0f}",
        # The median of the rounds' own ratios, and their range.
        f"{result['ratio_vs_ref']:.3f} ({result['ratio_vs_ref_min']:.3f}"
        f"-{result['ratio_vs_ref_max']:.3f})",
    )
    naive_rate = result["naive_readings_per_s"]
    table.add_row(
        "naive bridge (baseline, once)",
        f"{result['naive_readings']:,}",
        f"{result['naive_seconds']:.2f}",
        f"{naive_rate:,.0f}",
        f"{naive_rate / ref_rate:.3f}",
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
            (
                f"pipeline / {variant.label}, median (min-max)",
                f"{result[f'ratio_vs_{variant.key}']:.3f}"
                f" ({result[f'ratio_vs_{variant.key}_min']:.3f}"
                f"-{result[f'ratio_vs_{variant.key}_max']:.3f})",
            )
            for variant in refs[1:]
        ),
        ("pipeline / naive bridge", f"{result['speedup_vs_naive']:,.1f} x"),
        (
            "lost / duplicated (every burst and paced)",
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
            "publish side: all PUBACKs after (median burst)",
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
        ("CPU seconds per measurement, by process group (mean of rounds)", cpu),
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
