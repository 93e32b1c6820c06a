"""`livinglab bench agent`: the edge agent's CPU per reading, memory, and backlog drain rate.

The real agent runs as its own process (`python -m livinglab_edge_agent run --config ...`) against
the benchmark's own Mosquitto. On the other side a counting subscriber with the ingest role stands
in for the ingest service: it decodes every telemetry frame, counts each seq once and keeps the
status heartbeats. No database is involved, so the numbers are the agent's alone.

1. Steady state: simulated sensors sampled as fast as the configuration allows; CPU seconds per
   reading sampled between two of the agent's heartbeats (their sampled counts delimit the
   window), each thread's run time to the nanosecond from /proc/<pid>/task/*/schedstat, split by
   the threads' native names; and resident memory (VmRSS, VmHWM from /proc/<pid>/status). Each
   phase's outbox starts with the checkpointed WAL a running agent reuses (agent_outbox.py).
2. Backlog drain: an outbox filled with `backlog` readings by `Outbox.add`, as after an outage,
   then the agent (without sensors) started; time until the subscriber has every reading once
   and the agent reports an empty outbox.

The result is a table and, as the last line of stdout, one JSON object.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from livinglab_edge_agent.outbox import DEFAULT_CAPACITY
from livinglab_lab.bench.agent_outbox import grown_wal, outbox_counters, prefill
from livinglab_lab.bench.agent_report import report
from livinglab_lab.bench.counter import TelemetryCounter
from livinglab_lab.bench.harness import (
    BenchLab,
    log_tail,
    prepare_lab_dir,
    progress_bar,
    start_lab,
    stop_process,
    tasks_cpu_s,
)
from livinglab_lab.errors import ServiceError
from livinglab_platform.core.dynsec import create_device_client
from livinglab_platform.core.errors import ConfigurationError

__all__ = ["run_agent_benchmark"]

logger = logging.getLogger(__name__)

DEVICE_ID = "bench-agent"
STEADY_S = 22.0
# Heartbeats before this much uptime are left out of the steady-state window (imports, connect).
WARMUP_S = 3.0
# The heartbeats' sampled counts delimit the window, so the bench needs them more often than a
# deployed agent (30 s), and each costs the agent CPU that is counted in its figures: every 5 s,
# the window runs from the heartbeat at 5 s of uptime to the one at 20 s.
HEARTBEAT_INTERVAL_S = 5.0
# Time from starting the agent's process to its first heartbeat (imports, connect), at most.
START_SLACK_S = 1.5
# The agent's configuration allows at most 10 reads a second per sensor (interval_s >= 0.1), so
# a rate takes several sensors: simulated air stations (3 readings a read) at 10 Hz. Idle: no
# sensors (the fixed costs: heartbeats, the uplink loop, the network loop); steady: 10 stations,
# 300 readings a second; fast: 100 stations, 3,000 readings a second.
PHASES = {"idle": 0, "steady": 10, "fast": 100}
SENSOR_INTERVAL_S = 0.1
BATCH_SIZE = 500
POLL_INTERVAL_S = 0.2
STALL_TIMEOUT_S = 120.0
AGENT_STOP_TIMEOUT_S = 30.0


def _memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process in MiB, from /proc/<pid>/status."""
    found = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0]) / 1024
    return found


def _write_config(
    directory: Path,
    *,
    lab: BenchLab,
    password: str,
    sensors: int,
    capacity: int,
    heartbeat_interval_s: float,
) -> Path:
    """An agent.toml for the benchmark device; the password goes in a file beside it."""
    directory.mkdir(parents=True, exist_ok=True)
    secret = directory / "password"
    secret.write_text(password + "\n")
    secret.chmod(0o600)
    lines = [
        f'device_id = "{DEVICE_ID}"',
        f"heartbeat_interval_s = {heartbeat_interval_s}",
        "",
        "[mqtt]",
        f'host = "{lab.mosquitto.host}"',
        f"port = {lab.mosquitto.port}",
        "tls = false",
        'password_file = "password"',
        "",
        "[outbox]",
        'path = "outbox.db"',
        f"capacity = {capacity}",
        "",
        "[uplink]",
        f"batch_size = {BATCH_SIZE}",
    ]
    for i in range(sensors):
        lines += [
            "",
            "[[sensors]]",
            f'name = "air-{i:02d}"',
            'driver = "simulated"',
            f"interval_s = {SENSOR_INTERVAL_S}",
            f'options = {{ kind = "air", dropout = 0.0, seed = {i} }}',
        ]
    path = directory / "agent.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _start_agent(config: Path, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "livinglab_edge_agent",
                "run",
                "--config",
                str(config),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _check_alive(process: subprocess.Popen[bytes], log_path: Path) -> None:
    if process.poll() is not None:
        raise ServiceError(
            f"the edge agent exited with code {process.returncode}; its log ends:\n"
            f"{log_tail(log_path)}"
        )


@dataclass
class _Steady:
    seconds: float = 0.0
    sampled: int = 0
    cpu_s: float = 0.0
    cpu_s_by_thread: dict[str, float] = field(default_factory=dict)
    memory_mb: dict[str, float] = field(default_factory=dict)
    received: int = 0
    duplicated: int = 0
    acked: int = 0
    depth: int = 0
    wal_bytes: int = 0


def _measure_steady(
    lab: BenchLab,
    counter: TelemetryCounter,
    *,
    directory: Path,
    password: str,
    duration_s: float,
    console: Console,
    stack: contextlib.ExitStack,
    sensors: int,
    heartbeat_interval_s: float,
    grow_wal: bool,
) -> _Steady:
    config = _write_config(
        directory,
        lab=lab,
        password=password,
        sensors=sensors,
        capacity=DEFAULT_CAPACITY,
        heartbeat_interval_s=heartbeat_interval_s,
    )
    counter.reset()
    log_path = directory / "agent.log"
    result = _Steady()
    with contextlib.ExitStack() as wal:
        if grow_wal:
            result.wal_bytes = wal.enter_context(
                grown_wal(directory / "outbox.db", capacity=DEFAULT_CAPACITY)
            )
        process = _start_agent(config, log_path)
        counter.pid = process.pid
        stack.callback(stop_process, process, timeout_s=AGENT_STOP_TIMEOUT_S)
        _watch(
            process,
            counter,
            log_path=log_path,
            sensors=sensors,
            duration_s=duration_s,
            console=console,
        )
        result.memory_mb = _memory_mb(process.pid)
        _take_window(result, counter, log_path=log_path, duration_s=duration_s)
        stop_process(process, timeout_s=AGENT_STOP_TIMEOUT_S)
    # Stopping drains what is left; whatever the outbox says was acknowledged must have arrived.
    counters = outbox_counters(directory / "outbox.db")
    result.acked, result.depth = counters["acked"], counters["depth"]
    result.received, result.duplicated = counter.readings, counter.duplicate_readings
    return result


def _watch(
    process: subprocess.Popen[bytes],
    counter: TelemetryCounter,
    *,
    log_path: Path,
    sensors: int,
    duration_s: float,
    console: Console,
) -> None:
    """Let the agent run for `duration_s`, showing its progress; raise if it exits."""
    started = time.monotonic()
    with progress_bar(console) as progress:
        task = progress.add_task(f"{sensors} sensors: seconds", total=round(duration_s))
        while (elapsed := time.monotonic() - started) < duration_s:
            _check_alive(process, log_path)
            status = counter.latest()
            sampled = status.readings_sampled if status else 0
            progress.update(
                task,
                completed=round(elapsed),
                description=f"{sensors} sensors: {sampled or 0:,} sampled, {counter.readings:,} received; seconds",
            )
            time.sleep(POLL_INTERVAL_S)
        progress.update(task, completed=round(duration_s))


def _take_window(
    result: _Steady, counter: TelemetryCounter, *, log_path: Path, duration_s: float
) -> None:
    """Readings sampled and CPU used between the first heartbeat after warm-up and the last."""
    window = [
        (received_ns, cpu_ns, status)
        for received_ns, cpu_ns, status in counter.heartbeats
        if status.state == "online" and (status.uptime_s or 0.0) >= WARMUP_S
    ]
    if len(window) < 2:
        raise ServiceError(
            f"the agent sent {len(counter.heartbeats)} heartbeats in {duration_s:.0f} s; at"
            f" least two after {WARMUP_S:.0f} s of uptime are needed. Its log ends:\n"
            f"{log_tail(log_path)}"
        )
    (first_ns, first_cpu, first), (last_ns, last_cpu, last) = window[0], window[-1]
    result.seconds = (last_ns - first_ns) / 1e9
    result.sampled = (last.readings_sampled or 0) - (first.readings_sampled or 0)
    result.cpu_s_by_thread = {
        name: (last_cpu[name] - first_cpu.get(name, 0)) / 1e9 for name in last_cpu
    }
    result.cpu_s = sum(result.cpu_s_by_thread.values())


@dataclass
class _Drain:
    backlog: int = 0
    prefill_s: float = 0.0
    seconds: float = 0.0
    publish_seconds: float = 0.0
    cpu_s: float = 0.0
    memory_mb: dict[str, float] = field(default_factory=dict)
    received: int = 0
    distinct_times: int = 0
    duplicated: int = 0
    depth: int = 0
    acked: int = 0


def _measure_drain(
    lab: BenchLab,
    counter: TelemetryCounter,
    *,
    directory: Path,
    password: str,
    backlog: int,
    console: Console,
    stack: contextlib.ExitStack,
    heartbeat_interval_s: float,
) -> _Drain:
    capacity = max(DEFAULT_CAPACITY, 2 * backlog)
    config = _write_config(
        directory,
        lab=lab,
        password=password,
        sensors=0,
        capacity=capacity,
        heartbeat_interval_s=heartbeat_interval_s,
    )
    result = _Drain(backlog=backlog)
    result.prefill_s = prefill(
        directory / "outbox.db", backlog=backlog, capacity=capacity
    )
    counter.reset()
    log_path = directory / "agent.log"
    started_ns = time.time_ns()
    process = _start_agent(config, log_path)
    counter.pid = process.pid
    stack.callback(stop_process, process, timeout_s=AGENT_STOP_TIMEOUT_S)
    last, last_change = 0, time.monotonic()
    with progress_bar(console) as progress:
        task = progress.add_task("backlog drain: received", total=backlog)
        while True:
            _check_alive(process, log_path)
            status = counter.latest()
            done = counter.readings >= backlog
            if done and status is not None and status.outbox_depth == 0:
                break
            if counter.readings != last:
                last, last_change = counter.readings, time.monotonic()
            elif time.monotonic() - last_change > STALL_TIMEOUT_S:
                raise ServiceError(
                    f"the drain stalled at {counter.readings:,} of {backlog:,} readings; the"
                    f" agent log ends:\n{log_tail(log_path)}"
                )
            progress.update(task, completed=counter.readings)
            time.sleep(POLL_INTERVAL_S / 4 if done else POLL_INTERVAL_S)
        progress.update(task, completed=counter.readings)
    result.cpu_s = tasks_cpu_s(process.pid)
    result.memory_mb = _memory_mb(process.pid)
    result.seconds = (counter.last_new_ns - started_ns) / 1e9
    result.publish_seconds = (counter.last_new_ns - counter.first_ns) / 1e9
    stop_process(process, timeout_s=AGENT_STOP_TIMEOUT_S)
    counters = outbox_counters(directory / "outbox.db")
    result.depth, result.acked = counters["depth"], counters["acked"]
    result.received, result.duplicated = counter.readings, counter.duplicate_readings
    result.distinct_times = counter.distinct_times()
    return result


def run_agent_benchmark(
    *,
    lab_dir: Path,
    backlog: int,
    console: Console,
    steady_s: float = STEADY_S,
    heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S,
    grow_wal: bool = True,
) -> dict[str, Any]:
    """Measure the edge agent idle, at two rates and draining a backlog; print and return the JSON.

    `heartbeat_interval_s` below the default only serves a short run (tests): each heartbeat adds
    to the CPU measured. `grow_wal` False starts each steady phase with a new outbox whose WAL
    grows with every commit, as in an agent's first minute (agent_outbox.py), for comparison.
    """
    # Two heartbeats after the warm-up: the first at a multiple of the interval, one more later.
    first_in_window = math.ceil(WARMUP_S / heartbeat_interval_s) * heartbeat_interval_s
    needed_s = first_in_window + heartbeat_interval_s + START_SLACK_S
    if backlog < 1 or heartbeat_interval_s <= 0 or steady_s < needed_s:
        raise ConfigurationError(
            f"the agent benchmark needs backlog >= 1 and, with heartbeats every"
            f" {heartbeat_interval_s:g} s, at least {needed_s:g} s of steady state"
        )
    lab_dir = prepare_lab_dir(lab_dir, entries=("mqtt", *PHASES, "drain"))
    with contextlib.ExitStack() as stack:
        console.print(f"starting Mosquitto in {lab_dir}")
        lab = start_lab(lab_dir, stack, database=False)
        password = secrets.token_urlsafe(18)
        with lab.admin() as dynsec:
            create_device_client(dynsec, device_id=DEVICE_ID, password=password)
        counter = TelemetryCounter(lab, device_id=DEVICE_ID)
        stack.callback(counter.close)
        phases: dict[str, _Steady] = {}
        for name, sensors in PHASES.items():
            console.print(
                f"{name}: the agent with {sensors} simulated sensors every"
                f" {SENSOR_INTERVAL_S} s for {steady_s:.0f} s (outbox synchronous=FULL,"
                f" batches of {BATCH_SIZE})"
            )
            phases[name] = _measure_steady(
                lab,
                counter,
                directory=lab_dir / name,
                password=password,
                duration_s=steady_s,
                console=console,
                stack=stack,
                sensors=sensors,
                heartbeat_interval_s=heartbeat_interval_s,
                grow_wal=grow_wal,
            )
        console.print(
            f"backlog drain: {backlog:,} readings in the outbox, then the agent started"
        )
        drain = _measure_drain(
            lab,
            counter,
            directory=lab_dir / "drain",
            password=password,
            backlog=backlog,
            console=console,
            stack=stack,
            heartbeat_interval_s=heartbeat_interval_s,
        )
        errors = counter.errors[:10]

    result = _result(
        phases, drain, backlog=backlog, heartbeat_interval_s=heartbeat_interval_s
    )
    report(console, result, errors=errors)
    # The machine-readable result, last on stdout and plain (not rich) so it parses.
    print(json.dumps(result), flush=True)  # noqa: T201
    return result


def _per_reading_us(steady: _Steady) -> float | None:
    return round(steady.cpu_s / steady.sampled * 1e6, 1) if steady.sampled else None


def _ms_per_s_by_thread(phase: _Steady) -> dict[str, float]:
    """Each thread's CPU in ms per second of the window, busiest first."""
    return {
        name: round(cpu_s / phase.seconds * 1e3, 2)
        for name, cpu_s in sorted(phase.cpu_s_by_thread.items(), key=lambda kv: -kv[1])
    }


def _result(
    phases: dict[str, _Steady],
    drain: _Drain,
    *,
    backlog: int,
    heartbeat_interval_s: float,
) -> dict[str, Any]:
    """The benchmark's result: what it prints as its last, machine-readable line."""
    idle, steady, fast = phases["idle"], phases["steady"], phases["fast"]
    return {
        "cpu_us_per_reading": _per_reading_us(steady),
        "cpu_us_per_reading_fast": _per_reading_us(fast),
        "idle_cpu_percent": round(idle.cpu_s / idle.seconds * 100, 2),
        "rss_mb": round(steady.memory_mb.get("VmRSS", 0.0), 1),
        "hwm_mb": round(steady.memory_mb.get("VmHWM", 0.0), 1),
        "fast_rss_mb": round(fast.memory_mb.get("VmRSS", 0.0), 1),
        "steady_readings_per_s": round(steady.sampled / steady.seconds, 1),
        "fast_readings_per_s": round(fast.sampled / fast.seconds, 1),
        "steady_cpu_percent": round(steady.cpu_s / steady.seconds * 100, 1),
        "fast_cpu_percent": round(fast.cpu_s / fast.seconds * 100, 1),
        "steady_cpu_ms_per_s_by_thread": _ms_per_s_by_thread(steady),
        "fast_cpu_ms_per_s_by_thread": _ms_per_s_by_thread(fast),
        "steady_seconds": round(steady.seconds, 2),
        "steady_lost": sum(p.acked - p.received for p in (steady, fast)),
        "steady_duplicated": sum(p.duplicated for p in (steady, fast)),
        "drain_readings_per_s": round(backlog / drain.seconds),
        "drain_seconds": round(drain.seconds, 2),
        "drain_publish_readings_per_s": round(drain.received / drain.publish_seconds)
        if drain.publish_seconds > 0
        else None,
        "drain_cpu_us_per_reading": round(drain.cpu_s / backlog * 1e6, 1),
        "drain_rss_mb": round(drain.memory_mb.get("VmRSS", 0.0), 1),
        "drain_hwm_mb": round(drain.memory_mb.get("VmHWM", 0.0), 1),
        "prefill_seconds": round(drain.prefill_s, 2),
        "backlog": backlog,
        "lost": backlog - drain.distinct_times,
        "duplicated": drain.duplicated + drain.received - drain.distinct_times,
        "outbox_depth_after": drain.depth,
        "sensors": PHASES["steady"],
        "sensors_fast": PHASES["fast"],
        "sensor_interval_s": SENSOR_INTERVAL_S,
        "heartbeat_interval_s": heartbeat_interval_s,
        # The WAL the steady phases' outboxes start with (0: a new file's, which grows).
        "outbox_wal_mib": round(steady.wal_bytes / 2**20, 1),
        "batch_size": BATCH_SIZE,
        "cores": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "load_average": round(os.getloadavg()[0], 2),
    }
