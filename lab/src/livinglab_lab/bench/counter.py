"""The benchmark's stand-in for the ingest service: counts each telemetry seq once, keeps heartbeats.

It subscribes with the ingest role to one device's telemetry and status, decodes every frame,
answers each with a delivery receipt as the ingest does after its commit (so the agent's outbox
empties as in production), and records each heartbeat with the agent's CPU seconds at its
arrival (to the nanosecond, per thread), so `bench agent` can measure the agent alone, without a
database.
"""

from __future__ import annotations

import queue
import secrets
import threading
import time

import numpy as np
import numpy.typing as npt
import paho.mqtt.client as mqtt

from livinglab_edge_agent.receipt import encode_receipt
from livinglab_edge_agent.wire import Status, WireError, decode_batch, topic
from livinglab_lab.bench.harness import CONNECT_TIMEOUT_S, BenchLab, threads_cpu_ns
from livinglab_lab.errors import ServiceError
from livinglab_platform.core.identities import INGEST_USER
from livinglab_platform.core.mqtt import create_client
from livinglab_platform.ingest.receipts import SeqRuns

__all__ = ["TelemetryCounter"]


class TelemetryCounter:
    """Stands in for the ingest service: counts each telemetry seq's readings once, keeps heartbeats."""

    def __init__(self, lab: BenchLab, *, device_id: str) -> None:
        self.pid: int | None = None
        self.readings = 0
        self.duplicate_readings = 0
        self.first_ns = 0
        self.last_new_ns = 0
        self.errors: list[str] = []
        # (time received, the agent's CPU ns by thread then, heartbeat)
        self.heartbeats: list[tuple[int, dict[str, int], Status]] = []
        self._seqs: set[int] = set()
        self._times: list[npt.NDArray[np.int64]] = []
        self._lock = threading.Lock()
        self._telemetry = topic(device_id, "telemetry")
        self._receipts = topic(device_id, "receipts")
        self._runs = SeqRuns()
        subscribed: queue.Queue[list[mqtt.ReasonCode]] = queue.Queue()
        self._client = create_client(
            f"livinglab.bench-counter-{secrets.token_hex(4)}",
            username=INGEST_USER,
            password=lab.ingest_password,
        )
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda _c, _u, _m, codes, _p: subscribed.put(codes)
        self._client.connect(lab.mosquitto.host, lab.mosquitto.port)
        self._client.loop_start()
        self._client.subscribe([(self._telemetry, 1), (topic(device_id, "status"), 1)])
        try:
            codes = subscribed.get(timeout=CONNECT_TIMEOUT_S)
        except queue.Empty as exc:
            self.close()
            raise ServiceError("the counting subscriber got no SUBACK") from exc
        if any(code.is_failure for code in codes):
            self.close()
            raise ServiceError(f"the counting subscriber may not subscribe: {codes}")

    def _on_message(
        self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        now_ns = time.time_ns()
        payload = bytes(message.payload)
        if message.topic != self._telemetry:
            self._on_status(now_ns, payload)
            return
        try:
            batch = decode_batch(payload)
        except WireError as exc:
            self.errors.append(f"undecodable telemetry: {exc}")
            return
        with self._lock:
            self._runs.add(batch.seq)
            receipts = list(self._runs.receipts([batch.seq]))
            if batch.seq in self._seqs:
                self.duplicate_readings += len(batch)
            else:
                self._seqs.add(batch.seq)
                self._times.append(batch.time_ns.copy())
                self.readings += len(batch)
                self.first_ns = self.first_ns or now_ns
                self.last_new_ns = now_ns
        for receipt in receipts:
            self._client.publish(self._receipts, encode_receipt(receipt), qos=1)

    def _on_status(self, now_ns: int, payload: bytes) -> None:
        try:
            status = Status.model_validate_json(payload)
        except ValueError as exc:
            self.errors.append(f"invalid status: {exc}")
            return
        cpu_ns = threads_cpu_ns(self.pid) if self.pid else {}
        with self._lock:
            self.heartbeats.append((now_ns, cpu_ns, status))

    def latest(self) -> Status | None:
        with self._lock:
            return self.heartbeats[-1][2] if self.heartbeats else None

    def distinct_times(self) -> int:
        """How many different reading times arrived (each reading of a backlog has its own)."""
        with self._lock:
            times = np.concatenate(self._times) if self._times else np.zeros(0)
        return int(np.unique(times).size)

    def reset(self) -> None:
        with self._lock:
            self.readings = self.duplicate_readings = self.first_ns = 0
            self.last_new_ns = 0
            self.heartbeats = []
            self._seqs = set()
            self._runs = SeqRuns()  # a new outbox counts from seq 1 again
            self._times = []

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
