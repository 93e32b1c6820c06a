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

The result is a table and, as the last line of stdout, one JSON object (ingest_report.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from rich.console import Console

from livinglab_lab.bench.devices import SENSORS, Devices, register_devices
from livinglab_lab.bench.frames import Frame, plan_frames
from livinglab_lab.bench.harness import (
    WINDOW,
    BenchLab,
    end_session,
    prepare_lab_dir,
    start_lab,
)
from livinglab_lab.bench.ingest_report import RefRun, ingest_result, print_report
from livinglab_lab.bench.ingest_service import INGEST_CLIENT_ID, WARMUP_DEVICE
from livinglab_lab.bench.naive import NaiveResult, measure_naive
from livinglab_lab.bench.pipeline import LATENCY_DEVICES, measure_pipeline
from livinglab_lab.bench.ref import Rows, measure_ref, ref_variants
from livinglab_platform.core.errors import ConfigurationError

__all__ = ["run_ingest_benchmark"]

logger = logging.getLogger(__name__)

NAIVE_DEVICE = "bench-naive"


def _ref_rows(plans: dict[str, list[Frame]], devices: Devices) -> Rows:
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
    _check_arguments(
        readings=readings,
        devices=devices,
        batch_size=batch_size,
        naive_readings=naive_readings,
        latency_seconds=latency_seconds,
        latency_rate=latency_rate,
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
        plans, frames, encode_s = _plan_frames(
            device_ids, readings=readings, batch_size=batch_size, console=console
        )
        # The references' rows are dropped once they have run, before the pipeline starts.
        refs = _measure_refs(
            lab, _ref_rows(plans, registered), readings=readings, console=console
        )
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
        naive = _measure_naive(
            lab, registered, count=naive_readings, console=console, stack=stack
        )
        machine["load_average_end"] = round(os.getloadavg()[0], 2)

    result = ingest_result(
        pipeline=pipeline,
        naive=naive,
        refs=refs,
        readings=readings,
        latency_seconds=latency_seconds,
        frames=frames,
        encode_s=encode_s,
        devices=devices,
        batch_size=batch_size,
        machine=machine,
    )
    print_report(console, result, refs=refs, pipeline=pipeline, naive=naive)
    return result


def _check_arguments(
    *,
    readings: int,
    devices: int,
    batch_size: int,
    naive_readings: int,
    latency_seconds: float,
    latency_rate: float | None,
) -> None:
    if readings < devices or devices < 1 or batch_size < 1 or naive_readings < 1:
        raise ConfigurationError(
            "the benchmark needs readings >= devices >= 1, batch_size >= 1 and naive_readings >= 1"
        )
    if not latency_seconds >= 0 or (latency_rate is not None and not latency_rate > 0):
        raise ConfigurationError(
            "the latency phase needs latency_seconds >= 0 and, when given, latency_rate > 0"
        )


def _plan_frames(
    device_ids: list[str], *, readings: int, batch_size: int, console: Console
) -> tuple[dict[str, list[Frame]], int, float]:
    """Every device's frames, encoded ahead; with the number of frames and the seconds it took."""
    keys = tuple(s.key for s in SENSORS)
    devices = len(device_ids)
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
    return plans, frames, encode_s


def _measure_refs(
    lab: BenchLab, rows: Rows, *, readings: int, console: Console
) -> dict[str, RefRun]:
    """Each reference variant (ref.py) over the same rows, by its key."""
    refs: dict[str, RefRun] = {}
    for variant in ref_variants():
        console.print(f"{variant.label}: {readings:,} rows ...")
        refs[variant.key] = (variant, *measure_ref(lab, rows, variant=variant))
    return refs


def _measure_naive(
    lab: BenchLab,
    registered: Devices,
    *,
    count: int,
    console: Console,
    stack: contextlib.ExitStack,
) -> NaiveResult:
    """The naive bridge's baseline, once the ingest service is stopped and its session ended."""
    console.print(f"naive bridge: {count:,} JSON messages, INSERT + commit each ...")
    # The stopped service's persistent session would queue every naive message too.
    end_session(lab, INGEST_CLIENT_ID)
    return measure_naive(
        lab,
        device_id=NAIVE_DEVICE,
        password=registered.passwords[NAIVE_DEVICE],
        key=SENSORS[0].key,
        count=count,
        console=console,
        stack=stack,
    )
