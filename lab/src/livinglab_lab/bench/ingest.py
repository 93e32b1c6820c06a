"""`livinglab bench ingest`: the whole pipeline against a raw binary COPY and a naive bridge.

The measurements run in one invocation, on one durable PostgreSQL (fsync on, as in production)
and one Mosquitto, both started fresh under `lab_dir`:

- REF (`ref.py`): the fastest straightforward raw COPY of the same rows. One connection, FORMAT
  BINARY buffers built with NumPy, into a hypertable with TimescaleDB's default (time DESC)
  index, one commit; and REF-best, the same with the ingest's connections, index and commit size.
- pipeline (`pipeline.py`): the real ingest service. A burst, `devices` publishers handing every
  frame to the broker at once, for the throughput; then, once, a paced phase, batches as agents
  send them at a steady rate well below that, for the publish -> commit latency.
- REF, REF-best and the burst are measured in `rounds` interleaved rounds (`rounds.py`), each
  from the same empty tables; the ratios are the medians of the rounds' ratios.
- naive: one JSON message per reading through `naive.NaiveBridge` (one INSERT and one commit per
  message): the bridge most people write first, as the baseline, once.

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
from livinglab_lab.bench.ingest_report import ingest_result, print_report
from livinglab_lab.bench.ingest_service import INGEST_CLIENT_ID, WARMUP_DEVICE
from livinglab_lab.bench.naive import NaiveResult, measure_naive
from livinglab_lab.bench.pipeline import (
    LATENCY_DEVICES,
    LATENCY_LOAD,
    LATENCY_MAX_RATE,
    PacedResult,
    Pipeline,
)
from livinglab_lab.bench.ref import Rows, ref_variants
from livinglab_lab.bench.rounds import Round, round_devices, run_rounds
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
    rounds: int = 3,
    latency_seconds: float = 10.0,
    latency_rate: float | None = None,
    console: Console,
) -> dict[str, Any]:
    """Run REF, pipeline and naive measurements on fresh services; print them and return the JSON.

    Args:
        readings: per burst and per reference, in every round.
        rounds: interleaved rounds of REF, REF-best and a burst (rounds.py).
        latency_seconds: how long the paced phase publishes; 0 leaves it out.
        latency_rate: its readings per second; by default half the bursts' median throughput,
            at most `LATENCY_MAX_RATE`.
    """
    _check_arguments(
        readings=readings,
        devices=devices,
        batch_size=batch_size,
        naive_readings=naive_readings,
        rounds=rounds,
        latency_seconds=latency_seconds,
        latency_rate=latency_rate,
    )
    lab_dir = prepare_lab_dir(lab_dir, entries=("pg", "mqtt", "ingest.log"))
    burst_ids = [d for n in range(1, rounds + 1) for d in round_devices(n, devices)]
    paced_ids = [f"bench-paced-{i:03d}" for i in range(LATENCY_DEVICES)]
    with contextlib.ExitStack() as stack:
        console.print(f"starting PostgreSQL (fsync on) and Mosquitto in {lab_dir}")
        lab = start_lab(lab_dir, stack, database=True)
        registered = register_devices(
            lab, [*burst_ids, *paced_ids, WARMUP_DEVICE, NAIVE_DEVICE]
        )
        machine = _machine(lab)
        plans, frames, encode_s = _plan_frames(
            devices, readings=readings, batch_size=batch_size, console=console
        )
        pipeline = Pipeline(
            lab,
            registered,
            log_path=lab_dir / "ingest.log",
            console=console,
            stack=stack,
        )
        done = _run_rounds(
            lab, pipeline, registered, plans, rounds=rounds, console=console
        )
        paced = _measure_paced(
            pipeline,
            paced_ids,
            done,
            latency_seconds=latency_seconds,
            latency_rate=latency_rate,
        )
        ingest_exit = pipeline.stop()
        naive = _measure_naive(
            lab, registered, count=naive_readings, console=console, stack=stack
        )
        machine["load_average_end"] = round(os.getloadavg()[0], 2)

    result = ingest_result(
        rounds=done,
        paced=paced,
        naive=naive,
        readings=readings,
        latency_seconds=latency_seconds,
        frames=frames,
        encode_s=encode_s,
        devices=devices,
        batch_size=batch_size,
        ingest_exit=ingest_exit,
        machine=machine,
    )
    failures = [f for r in done for f in r.burst.failures]
    failures += (paced.failures if paced else []) + naive.errors
    print_report(
        console,
        result,
        variants=ref_variants(),
        failures=failures,
        warmup_s=pipeline.warmup_s,
    )
    return result


def _run_rounds(
    lab: BenchLab,
    pipeline: Pipeline,
    registered: Devices,
    plans: list[list[Frame]],
    *,
    rounds: int,
    console: Console,
) -> list[Round]:
    """The rounds (rounds.py): the references copy the rows of round 1's devices' frames."""
    ref_rows = _ref_rows(
        dict(zip(round_devices(1, len(plans)), plans, strict=True)), registered
    )
    batch_size = max(f.readings for f in plans[0])
    console.print(
        f"{rounds} rounds of REF, REF-best and the pipeline's burst ({len(plans)} devices x"
        f" batches of {batch_size:,}, QoS 1, window {WINDOW} -> ingest service ->"
        " PostgreSQL), the order reversed every other round"
    )
    return run_rounds(
        lab,
        pipeline,
        rounds=rounds,
        plans=plans,
        ref_rows=ref_rows,
        chunk_sensor_id=registered.sensor_ids[WARMUP_DEVICE][0],
        console=console,
    )


def _measure_paced(
    pipeline: Pipeline,
    device_ids: list[str],
    done: list[Round],
    *,
    latency_seconds: float,
    latency_rate: float | None,
) -> PacedResult | None:
    """The paced phase, once after the rounds, at `latency_rate` or half the bursts' median."""
    if latency_seconds <= 0:
        return None
    rate = latency_rate
    if rate is None:
        throughput = float(np.nanmedian([r.burst.rate for r in done]))
        rate = min(LATENCY_LOAD * throughput, LATENCY_MAX_RATE)
    return pipeline.paced(device_ids, rate=rate, seconds=latency_seconds)


def _check_arguments(
    *,
    readings: int,
    devices: int,
    batch_size: int,
    naive_readings: int,
    rounds: int,
    latency_seconds: float,
    latency_rate: float | None,
) -> None:
    if readings < devices or devices < 1 or batch_size < 1 or naive_readings < 1:
        raise ConfigurationError(
            "the benchmark needs readings >= devices >= 1, batch_size >= 1 and naive_readings >= 1"
        )
    if rounds < 1:
        raise ConfigurationError("the benchmark needs at least one round")
    if not latency_seconds >= 0 or (latency_rate is not None and not latency_rate > 0):
        raise ConfigurationError(
            "the latency phase needs latency_seconds >= 0 and, when given, latency_rate > 0"
        )


def _plan_frames(
    devices: int, *, readings: int, batch_size: int, console: Console
) -> tuple[list[list[Frame]], int, float]:
    """Each device's frames, encoded ahead; with the number of frames and the seconds it took.

    Every round's burst sends these same frames, as devices of its own.
    """
    keys = tuple(s.key for s in SENSORS)
    started = time.perf_counter()
    plans = [
        plan_frames(
            count=readings // devices + (i < readings % devices),
            batch_size=batch_size,
            keys=keys,
            seed=100 + i,
        )
        for i in range(devices)
    ]
    frames = sum(len(f) for f in plans)
    encode_s = time.perf_counter() - started
    console.print(
        f"pre-encoded {readings:,} readings as {frames:,} binary frames in {encode_s:.2f} s"
        f" ({encode_s / frames * 1e6:.0f} us a frame; timestamps are written at publish time)"
    )
    return plans, frames, encode_s


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
