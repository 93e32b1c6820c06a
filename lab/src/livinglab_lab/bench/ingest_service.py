"""The ingest service the pipeline benchmark measures: started as in production, warmed up, watched.

It runs as `python -m livinglab_platform.ingest` in a process of its own, configured only by its
environment, with a persistent session under `INGEST_CLIENT_ID` (which the naive bridge's run
has to end first).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from livinglab_lab.bench.devices import SENSORS, Devices
from livinglab_lab.bench.frames import plan_frames, scheduled
from livinglab_lab.bench.harness import BenchLab, Publisher, log_tail, stop_process
from livinglab_lab.errors import ServiceError
from livinglab_platform.core.identities import INGEST_USER

__all__ = [
    "INGEST_CLIENT_ID",
    "POLL_INTERVAL_S",
    "WARMUP_DEVICE",
    "IngestService",
    "start_ingest",
    "wait_for_ingest",
]

INGEST_CLIENT_ID = "livinglab.bench-ingest"
WARMUP_DEVICE = "bench-warmup"
POLL_INTERVAL_S = 0.2
WARMUP_TIMEOUT_S = 60.0
INGEST_STOP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class IngestService:
    """The running ingest service and its log, checked while the benchmark waits on it."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise ServiceError(
                f"the ingest service exited with code {self.process.returncode}; its log ends:\n"
                f"{self.log_tail()}"
            )

    def log_tail(self) -> str:
        return log_tail(self.log_path)

    def stop(self) -> int:
        """SIGTERM, SIGKILL after `INGEST_STOP_TIMEOUT_S`; its exit code."""
        return stop_process(self.process, timeout_s=INGEST_STOP_TIMEOUT_S)


def start_ingest(lab: BenchLab, log_path: Path) -> IngestService:
    """The real ingest service, `python -m livinglab_platform.ingest`, configured by environment."""
    assert lab.dsn is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVINGLAB_")}
    env |= {
        "LIVINGLAB_DATABASE_URL": lab.dsn,
        "LIVINGLAB_MQTT_HOST": lab.mosquitto.host,
        "LIVINGLAB_MQTT_PORT": str(lab.mosquitto.port),
        "LIVINGLAB_MQTT_USER": INGEST_USER,
        "LIVINGLAB_MQTT_PASSWORD": lab.ingest_password,
        "LIVINGLAB_INGEST_CLIENT_ID": INGEST_CLIENT_ID,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "livinglab_platform.ingest"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return IngestService(process, log_path)


def wait_for_ingest(lab: BenchLab, devices: Devices, ingest: IngestService) -> float:
    """Publish small batches from the warm-up device until one is stored; seconds it took.

    Messages published before the service subscribed go nowhere, so this also proves the
    subscription is in place before the measured run starts.
    """
    assert lab.dsn is not None
    started = time.perf_counter()
    frames = plan_frames(
        count=10 * 60, batch_size=10, keys=tuple(s.key for s in SENSORS), seed=1
    )
    publisher = Publisher(
        device_id=WARMUP_DEVICE,
        password=devices.passwords[WARMUP_DEVICE],
        host=lab.mosquitto.host,
        port=lab.mosquitto.port,
        messages=scheduled(frames, interval_s=1.0),
        window=1,
    )
    publisher.start()
    try:
        with psycopg.connect(lab.dsn, autocommit=True) as conn:
            while time.perf_counter() - started < WARMUP_TIMEOUT_S:
                ingest.check_alive()
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
        f"{ingest.log_tail()}"
    )
