"""`livinglab bench ingest`: the whole pipeline against a raw binary COPY and a naive bridge.

The three measurements run in one invocation, on one durable PostgreSQL (fsync on, as in
production) and one Mosquitto, both started fresh under `lab_dir`:

- REF (`ref.py`): the fastest straightforward raw COPY of the same rows. One connection, FORMAT
  BINARY buffers built with NumPy, into a hypertable with TimescaleDB's default (time DESC)
  index, one commit; then once more with the ingest's connections, index and commit size.
- pipeline: `devices` MQTT v5 publishers (a paho client per device, with its own credentials)
  send binary frames QoS 1, at most `WINDOW` unacknowledged each, and the real ingest service,
  a separate process with the ledger, rollups and manual acknowledgement, stores them.
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
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from rich.console import Console
from rich.table import Table

from livinglab_edge_agent.wire import Batch, ClockState, encode_binary
from livinglab_platform import broker
from livinglab_platform import devices as registry
from livinglab_platform.bench.harness import (
    WINDOW,
    BenchLab,
    CpuMeter,
    Message,
    Publisher,
    end_session,
    log_tail,
    postgres_pids,
    prepare_lab_dir,
    progress_bar,
    start_lab,
    stop_process,
)
from livinglab_platform.bench.naive import NaiveResult, measure_naive
from livinglab_platform.bench.ref import RefVariant, measure_ref, ref_variants
from livinglab_platform.errors import ConfigurationError, ServiceError

__all__ = ["run_ingest_benchmark"]

logger = logging.getLogger(__name__)

SITE_ID = "bench"
SENSORS = (
    registry.SensorDefinition("air_temperature", "air_temperature", "degC"),
    registry.SensorDefinition("relative_humidity", "relative_humidity", "%"),
    registry.SensorDefinition("air_pressure", "air_pressure", "hPa"),
    registry.SensorDefinition("pm2_5", "pm2_5", "ug/m3"),
)
WARMUP_DEVICE = "bench-warmup"
NAIVE_DEVICE = "bench-naive"
INGEST_CLIENT_ID = "bench-ingest"
POLL_INTERVAL_S = 0.2
WARMUP_TIMEOUT_S = 60.0
# The run fails when the stored count does not move for this long.
STALL_TIMEOUT_S = 120.0
INGEST_STOP_TIMEOUT_S = 60.0


# --- frames ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Frame:
    """A pre-encoded binary frame whose time column is written when it is published."""

    seq: int
    payload: bytearray
    times: npt.NDArray[np.int64]
    offsets: npt.NDArray[np.int64]
    sensor: npt.NDArray[np.uint16]
    value: npt.NDArray[np.float64]
    span_ns: int

    @property
    def readings(self) -> int:
        return len(self.offsets)


def _plan_frames(
    *, count: int, batch_size: int, keys: tuple[str, ...], seed: int
) -> list[_Frame]:
    """Encode a device's `count` readings as frames of `batch_size`, seq 1, 2, ..."""
    rng = np.random.default_rng(seed)
    frames = []
    for seq, start in enumerate(range(0, count, batch_size), start=1):
        n = min(batch_size, count - start)
        index = np.arange(n, dtype=np.int64)
        # One sample step per microsecond: timestamptz keeps microseconds, so (sensor, time)
        # stays unique in the database.
        offsets = index // len(keys) * 1_000
        sensor = (index % len(keys)).astype(np.uint16)
        value = np.round(rng.normal(15.0, 5.0, n), 2)
        batch = Batch(
            seq=seq,
            sensors=keys,
            time_ns=offsets,
            sensor=sensor,
            value=value,
            clock=ClockState(synced=True, offset_ns=0),
        )
        payload = bytearray(encode_binary(batch))
        # The time column starts 18 bytes per reading before the end (wire.py's layout).
        times = np.frombuffer(
            payload, dtype="<i8", count=n, offset=len(payload) - 18 * n
        )
        frames.append(
            _Frame(
                seq=seq,
                payload=payload,
                times=times,
                offsets=offsets,
                sensor=sensor,
                value=value,
                span_ns=int(offsets[-1]) + 1_000,
            )
        )
    return frames


def _stamped(frames: Sequence[_Frame]) -> Iterator[Message]:
    """The frames with their readings timestamped at publish time, never overlapping."""
    next_free_ns = 0
    for frame in frames:
        now_ns = time.time_ns()
        base_ns = max(now_ns - now_ns % 1_000, next_free_ns)
        np.add(frame.offsets, base_ns, out=frame.times)
        next_free_ns = base_ns + frame.span_ns
        yield Message(frame.seq, frame.payload, frame.readings, now_ns)


# --- measurements ---------------------------------------------------------------------------------


@dataclass
class _Devices:
    """The benchmark devices: broker passwords and the sensor id of each (device, key)."""

    passwords: dict[str, str]
    sensor_ids: dict[str, list[int]]

    def all_sensor_ids(self, device_ids: Sequence[str]) -> list[int]:
        return [sid for d in device_ids for sid in self.sensor_ids[d]]


def _register(lab: BenchLab, device_ids: Sequence[str]) -> _Devices:
    assert lab.dsn is not None
    passwords = {}
    with psycopg.connect(lab.dsn) as conn, lab.admin() as dynsec:
        registry.add_site(conn, site_id=SITE_ID, name="Benchmark")
        conn.commit()
        for device_id in device_ids:
            credentials = registry.register_device(
                conn,
                dynsec,
                device_id=device_id,
                site_id=SITE_ID,
                sensors=list(SENSORS),
            )
            passwords[device_id] = credentials.password
        order = {s.key: i for i, s in enumerate(SENSORS)}
        sensor_ids: dict[str, list[int]] = {d: [0] * len(SENSORS) for d in device_ids}
        for sensor_id, owner, key in conn.execute(
            "SELECT id, device_id, key FROM sensors WHERE device_id = ANY(%s)",
            (list(device_ids),),
        ):
            sensor_ids[owner][order[key]] = sensor_id
    return _Devices(passwords=passwords, sensor_ids=sensor_ids)


def _ref_rows(
    plans: dict[str, list[_Frame]], devices: _Devices
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


def _start_ingest(lab: BenchLab, log_path: Path) -> subprocess.Popen[bytes]:
    """The real ingest service, `python -m livinglab_platform.ingest`, configured by environment."""
    assert lab.dsn is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVINGLAB_")}
    env |= {
        "LIVINGLAB_DATABASE_URL": lab.dsn,
        "LIVINGLAB_MQTT_HOST": lab.mosquitto.host,
        "LIVINGLAB_MQTT_PORT": str(lab.mosquitto.port),
        "LIVINGLAB_MQTT_USER": broker.INGEST_USER,
        "LIVINGLAB_MQTT_PASSWORD": lab.ingest_password,
        "LIVINGLAB_INGEST_CLIENT_ID": INGEST_CLIENT_ID,
    }
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "livinglab_platform.ingest"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _check_alive(process: subprocess.Popen[bytes], log_path: Path) -> None:
    if process.poll() is not None:
        raise ServiceError(
            f"the ingest service exited with code {process.returncode}; its log ends:\n"
            f"{log_tail(log_path)}"
        )


def _wait_for_ingest(
    lab: BenchLab,
    devices: _Devices,
    process: subprocess.Popen[bytes],
    log_path: Path,
) -> float:
    """Publish small batches from the warm-up device until one is stored; seconds it took.

    Messages published before the service subscribed go nowhere, so this also proves the
    subscription is in place before the measured run starts.
    """
    assert lab.dsn is not None
    started = time.perf_counter()
    frames = _plan_frames(
        count=10 * 60, batch_size=10, keys=tuple(s.key for s in SENSORS), seed=1
    )
    paced = _paced(_stamped(frames), interval_s=1.0)
    publisher = Publisher(
        device_id=WARMUP_DEVICE,
        password=devices.passwords[WARMUP_DEVICE],
        host=lab.mosquitto.host,
        port=lab.mosquitto.port,
        messages=paced,
        window=1,
    )
    publisher.start()
    try:
        with psycopg.connect(lab.dsn, autocommit=True) as conn:
            while time.perf_counter() - started < WARMUP_TIMEOUT_S:
                _check_alive(process, log_path)
                if conn.execute(
                    "SELECT 1 FROM deliveries WHERE device_id = %s LIMIT 1",
                    (WARMUP_DEVICE,),
                ).fetchone():
                    return time.perf_counter() - started
                time.sleep(POLL_INTERVAL_S)
    finally:
        publisher.close()
    raise ServiceError(
        f"the ingest service stored nothing within {WARMUP_TIMEOUT_S:.0f} s; its log ends:\n"
        f"{log_tail(log_path)}"
    )


def _paced(messages: Iterator[Message], *, interval_s: float) -> Iterator[Message]:
    for i, message in enumerate(messages):
        if i:
            time.sleep(interval_s)
        yield message


@dataclass
class _PipelineResult:
    published: int = 0
    seconds: float = 0.0
    publish_seconds: float = 0.0
    stored: int = 0
    distinct: int = 0
    quarantined: int = 0
    rollup_1m: int = 0
    rollup_1h: int = 0
    latencies_ms: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    failures: list[str] = field(default_factory=list)
    cpu_s: dict[str, float] = field(default_factory=dict)
    warmup_s: float = 0.0
    last_commit_ns: int = 0
    ingest_exit: int | None = None


def _measure_pipeline(
    lab: BenchLab,
    devices: _Devices,
    plans: dict[str, list[_Frame]],
    *,
    log_path: Path,
    console: Console,
    stack: contextlib.ExitStack,
) -> _PipelineResult:
    assert lab.dsn is not None
    assert lab.postgres is not None
    result = _PipelineResult()
    total = sum(f.readings for frames in plans.values() for f in frames)
    process = _start_ingest(lab, log_path)
    stack.callback(stop_process, process, timeout_s=INGEST_STOP_TIMEOUT_S)
    result.warmup_s = _wait_for_ingest(lab, devices, process, log_path)
    with psycopg.connect(lab.dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    publishers = []
    for device_id, frames in plans.items():
        publisher = Publisher(
            device_id=device_id,
            password=devices.passwords[device_id],
            host=lab.mosquitto.host,
            port=lab.mosquitto.port,
            messages=_stamped(frames),
        )
        stack.callback(publisher.close)
        publishers.append(publisher)
    meter = CpuMeter(
        {
            "ingest": lambda: [process.pid],
            "postgres": postgres_pids(lab.postgres),
            "mosquitto": lambda: [lab.mosquitto.pid] if lab.mosquitto.pid else [],
            "bench_process": lambda: [os.getpid()],
        }
    )
    device_ids = list(plans)
    query = (
        "SELECT coalesce(sum(readings + quarantined), 0) FROM deliveries"
        " WHERE device_id = ANY(%s)"
    )
    with (
        psycopg.connect(lab.dsn, autocommit=True) as conn,
        progress_bar(console) as progress,
    ):
        task = progress.add_task("pipeline", total=total)
        meter.start()
        started_ns = time.time_ns()
        for publisher in publishers:
            publisher.start()
        stored, last_change = 0, time.perf_counter()
        while True:
            row = conn.execute(query, (device_ids,)).fetchone()
            assert row is not None
            if int(row[0]) != stored:
                stored, last_change = int(row[0]), time.perf_counter()
            published = sum(p.published for p in publishers)
            progress.update(
                task,
                completed=stored,
                description=f"pipeline: published {published:,}, stored",
            )
            publishing = any(p.running for p in publishers)
            if not publishing and stored >= published:
                break
            _check_alive(process, log_path)
            if time.perf_counter() - last_change > STALL_TIMEOUT_S:
                raise ServiceError(
                    f"the pipeline stalled: {stored:,} of {published:,} readings stored after "
                    f"{STALL_TIMEOUT_S:.0f} s without progress; the ingest log ends:\n"
                    f"{log_tail(log_path)}"
                )
            time.sleep(POLL_INTERVAL_S)
        meter.stop()
    result.cpu_s = meter.used_s
    result.published = sum(p.published for p in publishers)
    result.failures = [f for p in publishers for f in p.failures]
    result.publish_seconds = (max(p.last_ack_ns for p in publishers) - started_ns) / 1e9
    _verify_pipeline(lab, devices, publishers, result)
    # The run ends with the commit of the last batch, not at the poll that noticed it.
    result.seconds = (result.last_commit_ns - started_ns) / 1e9
    result.ingest_exit = stop_process(process, timeout_s=INGEST_STOP_TIMEOUT_S)
    return result


def _verify_pipeline(
    lab: BenchLab,
    devices: _Devices,
    publishers: list[Publisher],
    result: _PipelineResult,
) -> None:
    assert lab.dsn is not None
    device_ids = [p.device_id for p in publishers]
    sensor_ids = devices.all_sensor_ids(device_ids)
    with psycopg.connect(lab.dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (sensor_id, time)) FROM readings"
            " WHERE sensor_id = ANY(%s)",
            (sensor_ids,),
        ).fetchone()
        assert row is not None
        result.stored, result.distinct = int(row[0]), int(row[1])
        row = conn.execute(
            "SELECT count(*) FROM quarantine WHERE device_id = ANY(%s) OR device_id IS NULL",
            (device_ids,),
        ).fetchone()
        result.quarantined = int(row[0]) if row else 0
        row = conn.execute(
            "SELECT (SELECT coalesce(sum(count), 0) FROM readings_1m WHERE sensor_id = ANY(%s)),"
            " (SELECT coalesce(sum(count), 0) FROM readings_1h WHERE sensor_id = ANY(%s))",
            (sensor_ids, sensor_ids),
        ).fetchone()
        assert row is not None
        result.rollup_1m, result.rollup_1h = int(row[0]), int(row[1])
        # stored_at is taken when the ledger row is inserted, first in the writer's
        # transaction; the commit timestamp is when the batch became durable and visible.
        committed = conn.execute(
            "SELECT device_id, seq, (extract(epoch FROM"
            " pg_xact_commit_timestamp(xmin)) * 1000000)::bigint"
            " FROM deliveries WHERE device_id = ANY(%s)",
            (device_ids,),
        ).fetchall()
    published = {p.device_id: p.publish_ns for p in publishers}
    latencies = [
        (committed_us * 1_000 - published[device][seq]) / 1e6
        for device, seq, committed_us in committed
        if seq in published[device]
    ]
    result.latencies_ms = np.array(latencies, dtype=np.float64)
    result.last_commit_ns = max(us for _, _, us in committed) * 1_000


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


def run_ingest_benchmark(
    *,
    lab_dir: Path,
    readings: int,
    devices: int,
    batch_size: int,
    naive_readings: int,
    console: Console,
) -> dict[str, Any]:
    """Run REF, pipeline and naive measurements on fresh services; print them and return the JSON."""
    if readings < devices or devices < 1 or batch_size < 1 or naive_readings < 1:
        raise ConfigurationError(
            "the benchmark needs readings >= devices >= 1, batch_size >= 1 and naive_readings >= 1"
        )
    lab_dir = prepare_lab_dir(lab_dir, entries=("pg", "mqtt", "ingest.log"))
    device_ids = [f"bench-{i:03d}" for i in range(devices)]
    with contextlib.ExitStack() as stack:
        console.print(f"starting PostgreSQL (fsync on) and Mosquitto in {lab_dir}")
        lab = start_lab(lab_dir, stack, database=True)
        registered = _register(lab, [*device_ids, WARMUP_DEVICE, NAIVE_DEVICE])
        machine = _machine(lab)

        keys = tuple(s.key for s in SENSORS)
        started = time.perf_counter()
        plans = {
            device_id: _plan_frames(
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
            f"pipeline: {devices} devices x batches of {batch_size:,}, QoS 1, window {WINDOW}"
            f" -> ingest service -> PostgreSQL"
        )
        pipeline = _measure_pipeline(
            lab,
            registered,
            plans,
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
    latencies = pipeline.latencies_ms
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
        "lost": pipeline.published - pipeline.distinct,
        "duplicated": pipeline.stored - pipeline.distinct,
        "quarantined": pipeline.quarantined,
        "rollup_1m_readings": pipeline.rollup_1m,
        "rollup_1h_readings": pipeline.rollup_1h,
        "naive_lost": naive.readings - naive.stored,
        "latency_p50_ms": round(float(np.percentile(latencies, 50)), 1)
        if len(latencies)
        else None,
        "latency_p99_ms": round(float(np.percentile(latencies, 99)), 1)
        if len(latencies)
        else None,
        "latency_max_ms": round(float(latencies.max()), 1) if len(latencies) else None,
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
    pipeline: _PipelineResult,
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
            "livinglab pipeline",
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
        ("lost / duplicated", f"{result['lost']} / {result['duplicated']}"),
        ("quarantined", str(result["quarantined"])),
        (
            "rollup readings (1 m / 1 h)",
            f"{result['rollup_1m_readings']:,} / {result['rollup_1h_readings']:,}",
        ),
        (
            # Publishers send as fast as the broker acknowledges, so this is mostly queueing.
            "latency publish -> commit, per batch: p50 / p99 / max",
            f"{result['latency_p50_ms']} / {result['latency_p99_ms']} / {result['latency_max_ms']} ms",
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
