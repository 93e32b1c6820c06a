"""The pipeline measurement of `livinglab bench ingest`: the real ingest service, bursts and paced.

The service runs as in production, `python -m livinglab_platform.ingest` in its own process with
the ledger, rollups and manual acknowledgement; simulated devices (a paho MQTT v5 client each,
with its own credentials) publish binary frames QoS 1 through Mosquitto, at most `WINDOW`
unacknowledged each. One service (`Pipeline`) serves every phase:

- burst: every device hands all its frames to the broker as fast as PUBACKs return. This gives
  the throughput; its latencies are mostly time spent queued behind earlier batches. The
  benchmark runs one burst per round (rounds.py), each from devices of its own, so the ledger
  never takes a later round's frames for repeats.
- paced: `LATENCY_DEVICES` devices send batches of `LATENCY_BATCH_SIZE` at a steady rate well
  below what the bursts measured, as agents do. This gives the pipeline's own latency.

Latency is per batch, from the moment it was stamped and published to its transaction's commit
(latency.py). Each phase counts what its own devices stored, once and more than once. The
devices are registered by devices.py, the service started by ingest_service.py.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from rich.console import Console

from livinglab_lab.bench.devices import SENSORS, Devices
from livinglab_lab.bench.frames import Frame, plan_frames, scheduled, stamped
from livinglab_lab.bench.harness import (
    BenchLab,
    CpuMeter,
    Message,
    Publisher,
    postgres_pids,
    progress_bar,
)
from livinglab_lab.bench.ingest_service import (
    POLL_INTERVAL_S,
    start_ingest,
    wait_for_ingest,
)
from livinglab_lab.bench.latency import BatchTimes, batch_times, wal_sync
from livinglab_lab.errors import ServiceError
from livinglab_platform.core.errors import ConfigurationError

__all__ = [
    "LATENCY_BATCH_SIZE",
    "LATENCY_DEVICES",
    "BurstResult",
    "PacedResult",
    "Pipeline",
    "Stored",
    "count_stored",
]

# The paced phase sends as the agents do: a few devices, batches of the agent's default
# `[uplink] batch_size` (edge_agent's config.py), each timestamped when it is published.
LATENCY_DEVICES = 8
LATENCY_BATCH_SIZE = 500
# Its default rate: half the throughput the bursts measured (well below capacity, so batches do
# not queue behind each other), and no more than a large deployment sends.
LATENCY_LOAD = 0.5
LATENCY_MAX_RATE = 100_000.0
# The run fails when the stored count does not move for this long.
STALL_TIMEOUT_S = 120.0


@dataclass
class Stored:
    """What one phase's devices got into the database: rows, distinct rows, quarantined, rolled up."""

    published: int = 0
    rows: int = 0
    distinct: int = 0
    quarantined: int = 0
    rollup_1m: int = 0
    rollup_1h: int = 0

    @property
    def lost(self) -> int:
        return self.published - self.distinct

    @property
    def duplicated(self) -> int:
        return self.rows - self.distinct


@dataclass
class BurstResult:
    """One burst: its throughput, latencies, CPU, failures and what it stored."""

    seconds: float = 0.0
    publish_seconds: float = 0.0
    stored: Stored = field(default_factory=Stored)
    times: BatchTimes = field(default_factory=BatchTimes.empty)
    failures: list[str] = field(default_factory=list)
    cpu_s: dict[str, float] = field(default_factory=dict)

    @property
    def published(self) -> int:
        return self.stored.published

    @property
    def rate(self) -> float:
        return self.published / self.seconds if self.seconds > 0 else math.nan


@dataclass
class PacedResult:
    """The paced phase: batches at a steady rate well below capacity, for their latency."""

    rate: float
    seconds: float
    devices: int = 0
    batches: int = 0
    publish_seconds: float = 0.0
    stored: Stored = field(default_factory=Stored)
    times: BatchTimes = field(default_factory=BatchTimes.empty)
    failures: list[str] = field(default_factory=list)
    wal_sync_ms: float | None = None

    @property
    def published(self) -> int:
        return self.stored.published


class Pipeline:
    """The running ingest service, warmed up, and the devices that publish to it."""

    def __init__(
        self,
        lab: BenchLab,
        devices: Devices,
        *,
        log_path: Path,
        console: Console,
        stack: contextlib.ExitStack,
    ) -> None:
        assert lab.dsn is not None
        assert lab.postgres is not None
        self._lab, self._devices = lab, devices
        self._console, self._stack = console, stack
        self._ingest = start_ingest(lab, log_path)
        stack.callback(self._ingest.stop)
        self.warmup_s = wait_for_ingest(lab, devices, self._ingest)

    def stop(self) -> int:
        """Stop the service (SIGTERM); its exit code."""
        return self._ingest.stop()

    def burst(self, plans: dict[str, list[Frame]], *, label: str) -> BurstResult:
        """Every device of `plans` hands all its frames to the broker at once; time to the last commit."""
        lab = self._lab
        assert lab.postgres is not None
        result = BurstResult()
        total = sum(f.readings for frames in plans.values() for f in frames)
        _checkpoint(lab)
        publishers = [
            self._publisher(device_id, stamped(frames))
            for device_id, frames in plans.items()
        ]
        pid = self._ingest.process.pid
        meter = CpuMeter(
            {
                "ingest": lambda: [pid],
                "postgres": postgres_pids(lab.postgres),
                "mosquitto": lambda: [lab.mosquitto.pid] if lab.mosquitto.pid else [],
                "bench_process": lambda: [os.getpid()],
            }
        )
        meter.start()
        started_ns = time.time_ns()
        for publisher in publishers:
            publisher.start()
        self._await_stored(publishers, label=label, total=total)
        meter.stop()
        result.cpu_s = meter.used_s
        result.failures = [f for p in publishers for f in p.failures]
        result.publish_seconds = (
            max(p.last_ack_ns for p in publishers) - started_ns
        ) / 1e9
        result.times = batch_times(lab, publishers)
        # The burst ends with the commit of its last batch, not at the poll that noticed it.
        result.seconds = (result.times.last_commit_ns - started_ns) / 1e9
        result.stored = count_stored(
            lab,
            self._devices,
            list(plans),
            published=sum(p.published for p in publishers),
        )
        for publisher in publishers:
            publisher.close()
        return result

    def paced(
        self, device_ids: Sequence[str], *, rate: float, seconds: float
    ) -> PacedResult:
        """Publish `rate` readings/s for `seconds` in agent-sized batches; time each to its commit.

        Batch j goes out j * LATENCY_BATCH_SIZE / rate seconds after the start, from device
        j % len(device_ids), so the broker sees an even stream rather than the devices in step.
        """
        if not math.isfinite(rate) or rate <= 0:
            raise ConfigurationError(
                f"cannot pace the latency phase at {rate} readings/s"
            )
        lab = self._lab
        result = PacedResult(rate=rate, seconds=seconds)
        batches = max(1, round(rate * seconds / LATENCY_BATCH_SIZE))
        gap_s = LATENCY_BATCH_SIZE / rate
        keys = tuple(s.key for s in SENSORS)
        publishers = []
        for index, device_id in enumerate(device_ids):
            count = len(range(index, batches, len(device_ids)))
            if not count:
                continue
            frames = plan_frames(
                count=count * LATENCY_BATCH_SIZE,
                batch_size=LATENCY_BATCH_SIZE,
                keys=keys,
                seed=200 + index,
            )
            messages = scheduled(
                frames, interval_s=gap_s * len(device_ids), delay_s=gap_s * index
            )
            publishers.append(self._publisher(device_id, messages))
        self._console.print(
            f"pipeline, paced: {rate:,.0f} readings/s for {seconds:g} s, {batches:,} batches of"
            f" {LATENCY_BATCH_SIZE} from {len(publishers)} devices, each timed publish -> commit"
        )
        _checkpoint(lab)
        wal_before = wal_sync(lab)
        started_ns = time.time_ns()
        for publisher in publishers:
            publisher.start()
        self._await_stored(
            publishers, label="paced", total=batches * LATENCY_BATCH_SIZE
        )
        wal_after = wal_sync(lab)
        result.devices = len(publishers)
        result.batches = sum(len(p.publish_ns) for p in publishers)
        result.failures = [f for p in publishers for f in p.failures]
        result.publish_seconds = (
            max(p.last_ack_ns for p in publishers) - started_ns
        ) / 1e9
        result.times = batch_times(lab, publishers)
        result.stored = count_stored(
            lab,
            self._devices,
            [p.device_id for p in publishers],
            published=sum(p.published for p in publishers),
        )
        syncs = wal_after[0] - wal_before[0]
        if syncs > 0:
            result.wal_sync_ms = (wal_after[1] - wal_before[1]) / syncs
        return result

    def _publisher(self, device_id: str, messages: Iterator[Message]) -> Publisher:
        publisher = Publisher(
            device_id=device_id,
            password=self._devices.passwords[device_id],
            host=self._lab.mosquitto.host,
            port=self._lab.mosquitto.port,
            messages=messages,
        )
        self._stack.callback(publisher.close)
        return publisher

    def _await_stored(
        self, publishers: Sequence[Publisher], *, label: str, total: int
    ) -> None:
        """Wait until the publishers are done and the ledger holds every reading they published."""
        assert self._lab.dsn is not None
        device_ids = [p.device_id for p in publishers]
        query = (
            "SELECT coalesce(sum(readings + quarantined), 0) FROM deliveries"
            " WHERE device_id = ANY(%s)"
        )
        with (
            psycopg.connect(self._lab.dsn, autocommit=True) as conn,
            progress_bar(self._console) as progress,
        ):
            task = progress.add_task(label, total=total)
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
                    description=f"{label}: published {published:,}, stored",
                )
                publishing = any(p.running for p in publishers)
                if not publishing and stored >= published:
                    return
                self._ingest.check_alive()
                if time.perf_counter() - last_change > STALL_TIMEOUT_S:
                    raise ServiceError(
                        f"the pipeline stalled: {stored:,} of {published:,} readings stored"
                        f" after {STALL_TIMEOUT_S:.0f} s without progress; the ingest log"
                        f" ends:\n{self._ingest.log_tail()}"
                    )
                time.sleep(POLL_INTERVAL_S)


def _checkpoint(lab: BenchLab) -> None:
    """Write out what earlier steps left dirty, so a phase does not pay for them."""
    assert lab.dsn is not None
    with psycopg.connect(lab.dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def count_stored(
    lab: BenchLab, devices: Devices, device_ids: Sequence[str], *, published: int
) -> Stored:
    """What these devices stored, once and more than once, quarantined and rolled up."""
    assert lab.dsn is not None
    sensor_ids = devices.all_sensor_ids(device_ids)
    stored = Stored(published=published)
    with psycopg.connect(lab.dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (sensor_id, time)) FROM readings"
            " WHERE sensor_id = ANY(%s)",
            (sensor_ids,),
        ).fetchone()
        assert row is not None
        stored.rows, stored.distinct = int(row[0]), int(row[1])
        row = conn.execute(
            "SELECT count(*) FROM quarantine WHERE device_id = ANY(%s) OR device_id IS NULL",
            (list(device_ids),),
        ).fetchone()
        stored.quarantined = int(row[0]) if row else 0
        row = conn.execute(
            "SELECT (SELECT coalesce(sum(count), 0) FROM readings_1m WHERE sensor_id = ANY(%s)),"
            " (SELECT coalesce(sum(count), 0) FROM readings_1h WHERE sensor_id = ANY(%s))",
            (sensor_ids, sensor_ids),
        ).fetchone()
        assert row is not None
        stored.rollup_1m, stored.rollup_1h = int(row[0]), int(row[1])
    return stored
