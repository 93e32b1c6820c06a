"""The baseline of `livinglab bench ingest`: a naive MQTT-to-PostgreSQL bridge.

NOT how livinglab ingests. This is the bridge most people write first, kept to show what the
ingest service's batching, binary frames and COPY buy: one JSON message per reading, and a
subscriber that runs one INSERT and one commit per message inside paho's `on_message`.
"""

from __future__ import annotations

import contextlib
import json
import queue
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import paho.mqtt.client as mqtt
import psycopg
from rich.console import Console

from livinglab_edge_agent.wire import topic
from livinglab_lab.bench.harness import (
    CONNECT_TIMEOUT_S,
    BenchLab,
    Message,
    Publisher,
    progress_bar,
)
from livinglab_lab.errors import ServiceError
from livinglab_platform.core.identities import INGEST_USER
from livinglab_platform.core.mqtt import create_client

__all__ = ["NaiveBridge", "NaiveResult", "measure_naive", "naive_messages"]

POLL_INTERVAL_S = 0.2
STALL_TIMEOUT_S = 120.0


def naive_messages(*, count: int, key: str, seed: int) -> Iterator[Message]:
    """One JSON document per reading, timestamped at publish time."""
    rng = np.random.default_rng(seed)
    values = np.round(rng.normal(15.0, 5.0, count), 2).tolist()
    last_us = 0
    for i, value in enumerate(values):
        now_ns = time.time_ns()
        last_us = max(now_ns // 1_000, last_us + 1)
        seconds, micros = divmod(last_us, 1_000_000)
        stamp = (
            datetime.fromtimestamp(seconds, tz=UTC)
            .replace(microsecond=micros)
            .isoformat()
        )
        document = {"sensor": key, "time": stamp, "value": value}
        yield Message(i, json.dumps(document).encode(), 1, now_ns)


class NaiveBridge:
    """BASELINE ONLY, not how livinglab ingests: the MQTT-to-PostgreSQL bridge most people write first.

    It subscribes with QoS 1 and, inside paho's `on_message`, parses one JSON reading, runs one
    INSERT and commits, once per message. The benchmark measures it to show what batching,
    binary frames and COPY buy; it has no ledger, no quarantine and no back-pressure.
    """

    def __init__(self, lab: BenchLab, *, device_id: str) -> None:
        assert lab.dsn is not None
        self.count = 0
        self.last_commit_ns = 0
        self.errors: list[str] = []
        self._conn = psycopg.connect(lab.dsn)
        subscribed: queue.Queue[list[mqtt.ReasonCode]] = queue.Queue()
        self._client = create_client(
            "livinglab.bench-naive-bridge",
            username=INGEST_USER,
            password=lab.ingest_password,
        )
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda _c, _u, _m, codes, _p: subscribed.put(codes)
        self._client.connect(lab.mosquitto.host, lab.mosquitto.port)
        self._client.loop_start()
        self._client.subscribe(topic(device_id, "telemetry"), qos=1)
        try:
            codes = subscribed.get(timeout=CONNECT_TIMEOUT_S)
        except queue.Empty as exc:
            self.close()
            raise ServiceError("the naive bridge got no SUBACK") from exc
        if codes[0].is_failure:
            self.close()
            raise ServiceError(f"the naive bridge may not subscribe: {codes[0]}")

    def _on_message(
        self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        try:
            document = json.loads(message.payload)
            self._conn.execute(
                "INSERT INTO naive_readings (time, device_id, sensor, value) VALUES (%s, %s, %s, %s)",
                (
                    datetime.fromisoformat(document["time"]),
                    message.topic.split("/")[2],
                    document["sensor"],
                    document["value"],
                ),
            )
            self._conn.commit()
        except (ValueError, KeyError, psycopg.Error) as exc:
            self.errors.append(str(exc))
            self._conn.rollback()
            return
        self.count += 1
        self.last_commit_ns = time.time_ns()

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._conn.close()


@dataclass
class NaiveResult:
    """Readings published and stored by the naive bridge, and the seconds from first publish to last commit."""

    readings: int = 0
    seconds: float = 0.0
    stored: int = 0
    errors: list[str] = field(default_factory=list)


def measure_naive(
    lab: BenchLab,
    *,
    device_id: str,
    password: str,
    key: str,
    count: int,
    console: Console,
    stack: contextlib.ExitStack,
) -> NaiveResult:
    """Publish `count` JSON readings as `device_id` through a fresh `NaiveBridge`."""
    assert lab.dsn is not None
    with psycopg.connect(lab.dsn, autocommit=True) as conn:
        # The same kind of table as REF's: a hypertable with the default (time DESC) index.
        conn.execute(
            "CREATE TABLE naive_readings (time timestamptz NOT NULL, device_id text NOT NULL,"
            " sensor text NOT NULL, value double precision)"
        )
        conn.execute(
            "SELECT create_hypertable('naive_readings', 'time', chunk_time_interval => interval '1 day')"
        )
        conn.execute("CHECKPOINT")
    bridge = NaiveBridge(lab, device_id=device_id)
    stack.callback(bridge.close)
    publisher = Publisher(
        device_id=device_id,
        password=password,
        host=lab.mosquitto.host,
        port=lab.mosquitto.port,
        messages=naive_messages(count=count, key=key, seed=2),
    )
    stack.callback(publisher.close)
    with progress_bar(console) as progress:
        task = progress.add_task("naive bridge: stored", total=count)
        started_ns = time.time_ns()
        publisher.start()
        last, last_change = 0, time.perf_counter()
        while publisher.running or bridge.count < publisher.published:
            if bridge.count != last:
                last, last_change = bridge.count, time.perf_counter()
            elif time.perf_counter() - last_change > STALL_TIMEOUT_S:
                raise ServiceError(
                    f"the naive bridge stalled at {bridge.count:,} of {count:,} readings"
                    f" ({bridge.errors[:3]}, {publisher.failures[:3]})"
                )
            progress.update(task, completed=bridge.count)
            time.sleep(POLL_INTERVAL_S)
        progress.update(task, completed=bridge.count)
    with psycopg.connect(lab.dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM naive_readings").fetchone()
    return NaiveResult(
        readings=publisher.published,
        seconds=(bridge.last_commit_ns - started_ns) / 1e9,
        stored=int(row[0]) if row else 0,
        errors=bridge.errors + publisher.failures,
    )
