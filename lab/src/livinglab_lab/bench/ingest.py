"""`livinglab bench ingest`: the whole pipeline against a raw binary COPY and a naive bridge.

The measurements run in one invocation, on one durable PostgreSQL (fsync on, as in production)
and one Mosquitto, both started fresh under `lab_dir`:

- REF (`ref.py`): the fastest straightforward raw COPY of the same rows. One connection, FORMAT
  BINARY buffers built with NumPy, into a hypertable with TimescaleDB's default (time DESC)
  index, one commit; then once more with the ingest's connections, index and commit size.
- pipeline (`pipeline.py`): the real ingest service. First a burst, `devices` publishers handing
  every frame to the broker at once, for the throughput; then a paced phase, batches as agents
  send them at a steady rate well below that, for the publish -> commit latency.
- naive: one JSON message per reading through `naive.NaiveBridge` (one INSERT and one commit per
  message): the bridge most people write first, as the baseline.

The result is a table and, as the last line of stdout, one JSON object.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from rich.console import Console
from rich.table import Table

from livinglab_lab.bench.devices import SENSORS, Devices, register_devices
from livinglab_lab.bench.frames import Frame, plan_frames
from livinglab_lab.bench.harness import (
    WINDOW,
    BenchLab,
    end_session,
    prepare_lab_dir,
    start_lab,
)
from livinglab_lab.bench.ingest_service import INGEST_CLIENT_ID, WARMUP_DEVICE
from livinglab_lab.bench.latency import BatchTimes
from livinglab_lab.bench.naive import NaiveResult, measure_naive
from livinglab_lab.bench.pipeline import (
    LATENCY_BATCH_SIZE,
    LATENCY_DEVICES,
    PipelineResult,
    measure_pipeline,
)
from livinglab_lab.bench.ref import RefVariant, measure_ref, ref_variants
from livinglab_platform.core.errors import ConfigurationError

__all__ = ["run_ingest_benchmark"]

logger = logging.getLogger(__name__)

NAIVE_DEVICE = "bench-naive"


def _ref_rows(
    plans: dict[str, list[Frame]], devices: Devices
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float64]]:
    """The pipeline's rows (same sensors, values and spacing), devices interleaved frame by frame."""
    times, sensors, values = [], [], []
    next_free_ns = time.time_ns() // 1_000 * 1_000
    longest = max(len(frames) for frames in plans.values())
    for index in range(longest):
        for device_id, frames in plans.items():
            if index >= len(frames):
                continue
            frame = frames[index]
            ids = np.array(devices.sensor_ids[device_id], dtype=np.int32)
            times.append(frame.offsets + next_free_ns)
            next_free_ns += frame.span_ns
            sensors.append(ids[frame.sensor])
            values.append(frame.value)
    return np.concatenate(times), np.concatenate(sensors), np.concatenate(values)


# --- the run --------------------------------------------------------------------------------------


def _machine(lab: BenchLab) -> dict[str, Any]:
    assert lab.dsn is not None
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with psycopg.connect(lab.dsn, autocommit=True) as conn:
        versions = conn.execute(
            "SELECT current_setting('server_version'), current_setting('fsync'),"
            " (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb')"
        ).fetchone()
    assert versions is not None
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "postgresql": str(versions[0]),
        "fsync": str(versions[1]),
        "timescaledb": str(versions[2]),
        "load_average": round(os.getloadavg()[0], 2),
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


def run_ingest_benchmark(
    *,
    lab_dir: Path,
    readings: int,
    devices: int,
    batch_size: int,
    naive_readings: int,
    latency_seconds: float = 10.0,
    latency_rate: float | None = None,
    console: Console,
) -> dict[str, Any]:
    """Run REF, pipeline and naive measurements on fresh services; print them and return the JSON.

    Args:
        latency_seconds: how long the paced phase publishes; 0 leaves it out.
        latency_rate: its readings per second; by default half the burst's throughput, at most
            `LATENCY_MAX_RATE`.
    """
    if readings < devices or devices < 1 or batch_size < 1 or naive_readings < 1:
        raise ConfigurationError(
            "the benchmark needs readings >= devices >= 1, batch_size >= 1 and naive_readings >= 1"
        )
    if not latency_seconds >= 0 or (latency_rate is not None and not latency_rate > 0):
        raise ConfigurationError(
            "the latency phase needs latency_seconds >= 0 and, when given, latency_rate > 0"
        )
    lab_dir = prepare_lab_dir(lab_dir, entries=("pg", "mqtt", "ingest.log"))
    device_ids = [f"bench-{i:03d}" for i in range(devices)]
    paced_ids = [f"bench-paced-{i:03d}" for i in range(LATENCY_DEVICES)]
    with contextlib.ExitStack() as stack:
        console.print(f"starting PostgreSQL (fsync on) and Mosquitto in {lab_dir}")
        lab = start_lab(lab_dir, stack, database=True)
        registered = register_devices(
            lab, [*device_ids, *paced_ids, WARMUP_DEVICE, NAIVE_DEVICE]
        )
        machine = _machine(lab)

        keys = tuple(s.key for s in SENSORS)
        started = time.perf_counter()
        plans = {
            device_id: plan_frames(
                count=readings // devices + (i < readings % devices),
                batch_size=batch_size,
                keys=keys,
                seed=100 + i,
            )
            for i, device_id in enumerate(device_ids)
        }
        frames = sum(len(f) for f in plans.values())
        encode_s = time.perf_counter() - started
        console.print(
            f"pre-encoded {readings:,} readings as {frames:,} binary frames in {encode_s:.2f} s"
            f" ({encode_s / frames * 1e6:.0f} us a frame; timestamps are written at publish time)"
        )

        rows = _ref_rows(plans, registered)
        refs: dict[str, tuple[RefVariant, float, dict[str, float]]] = {}
        for variant in ref_variants():
            console.print(f"{variant.label}: {readings:,} rows ...")
            refs[variant.key] = (variant, *measure_ref(lab, rows, variant=variant))
        del rows

        console.print(
            f"pipeline, burst: {devices} devices x batches of {batch_size:,}, QoS 1, window {WINDOW}"
            f" -> ingest service -> PostgreSQL"
        )
        pipeline = measure_pipeline(
            lab,
            registered,
            plans,
            paced_ids=paced_ids,
            latency_seconds=latency_seconds,
            latency_rate=latency_rate,
            log_path=lab_dir / "ingest.log",
            console=console,
            stack=stack,
        )
        console.print(
            f"naive bridge: {naive_readings:,} JSON messages, INSERT + commit each ..."
        )
        # The stopped service's persistent session would queue every naive message too.
        end_session(lab, INGEST_CLIENT_ID)
        naive = measure_naive(
            lab,
            device_id=NAIVE_DEVICE,
            password=registered.passwords[NAIVE_DEVICE],
            key=SENSORS[0].key,
            count=naive_readings,
            console=console,
            stack=stack,
        )
        machine["load_average_end"] = round(os.getloadavg()[0], 2)

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
    _report(
        console,
        result,
        refs=[v for v, _, _ in refs.values()],
        pipeline=pipeline,
        naive=naive,
    )
    # The machine-readable result, last on stdout and plain (not rich) so it parses.
    print(json.dumps(result), flush=True)  # noqa: T201
    return result


def _report(
    console: Console,
    result: dict[str, Any],
    *,
    refs: list[RefVariant],
    pipeline: PipelineResult,
    naive: NaiveResult,
) -> None:
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
    console.print(table)

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
        ("ingest warm-up (subscribed and storing)", f"{pipeline.warmup_s:.1f} s"),
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
    console.print(checks)
    for failure in (pipeline.failures + naive.errors)[:10]:
        console.print(f"[red]{failure}[/]")


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
