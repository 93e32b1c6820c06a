"""Factories and helpers of the ingest tests: registry rows, device clients, stored-row comparison."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable

import numpy as np
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from livinglab_edge_agent.wire import Batch, ClockState, topic
from livinglab_platform.core.settings import IngestSettings

T0_NS = 1_700_000_000_123_456_789  # 2023-11-14, with sub-microsecond digits on purpose
# PUBACK reason 0x10: the broker accepted the message but nobody subscribes, so nobody stores it.
# Mosquitto 2.0.11 restores a persistent session's shared subscriptions only when its client
# reconnects, so after a broker restart this is what a device hears until the ingest is back.
NO_MATCHING_SUBSCRIBERS = 0x10
ROWS = np.dtype([("time_us", "<i8"), ("sensor_id", "<i4"), ("value", "<f8")])


def register_device(dsn, device_id, keys=("t", "rh"), *, site="site-1", enabled=True):
    """Insert a site (once), a device and its sensors; return {key: sensor_id}."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sites (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (site, site),
        )
        conn.execute(
            "INSERT INTO devices (id, site_id, enabled) VALUES (%s, %s, %s)",
            (device_id, site, enabled),
        )
        ids = {}
        for key in keys:
            (ids[key],) = conn.execute(
                "INSERT INTO sensors (device_id, key, quantity, unit)"
                " VALUES (%s, %s, 'q', 'u') RETURNING id",
                (device_id, key),
            ).fetchone()
    return ids


def ingest_settings(dsn, broker, **overrides):
    """Settings of an ingest service talking to the test database and broker."""
    values = {
        "database_url": dsn,
        "mqtt_host": broker.host,
        "mqtt_port": broker.port,
        "mqtt_password": broker.ingest_password,
        "batch_max_wait_s": 0.02,
        "stats_interval_s": 60.0,
    }
    values.update(overrides)
    return IngestSettings(**values)


def ingest_env(dsn, broker, **overrides):
    """LIVINGLAB_* variables for an ingest subprocess."""
    settings = ingest_settings(dsn, broker, **overrides)
    env = {
        f"LIVINGLAB_{name.upper()}": str(value)
        for name, value in settings.model_dump().items()
        if value is not None
    }
    env["LIVINGLAB_MQTT_PASSWORD"] = broker.ingest_password
    return env


def make_batch(
    seq, *, n=100, keys=("t", "rh"), start_ns=T0_NS, step_ns=1_000_000_007, seed=None
):
    """A batch of n readings, keys taking turns, times `step_ns` apart, random values."""
    rng = np.random.default_rng(seq if seed is None else seed)
    return Batch(
        seq=seq,
        sensors=tuple(keys),
        time_ns=start_ns + np.arange(n, dtype=np.int64) * step_ns,
        sensor=(np.arange(n) % len(keys)).astype(np.uint16),
        value=rng.normal(20.0, 5.0, n),
        clock=ClockState(synced=True, offset_ns=12),
    )


def expected_rows(batches: Iterable[Batch], sensor_ids):
    """The readings rows the batches should become, sorted like `stored_rows`."""
    parts = []
    for batch in batches:
        lut = np.array([sensor_ids[k] for k in batch.sensors], dtype=np.int32)
        rows = np.empty(len(batch), dtype=ROWS)
        rows["time_us"] = batch.time_ns // 1000
        rows["sensor_id"] = lut[batch.sensor]
        rows["value"] = batch.value
        parts.append(rows)
    return _sorted(np.concatenate(parts) if parts else np.empty(0, dtype=ROWS))


def stored_rows(dsn):
    """Every row of `readings`, time in exact microseconds since the Unix epoch, sorted."""
    with psycopg.connect(dsn) as conn:
        fetched = conn.execute(
            "SELECT (extract(epoch FROM time) * 1000000)::int8, sensor_id, value FROM readings"
        ).fetchall()
    return _sorted(np.array(fetched, dtype=ROWS))


def _sorted(rows):
    order = np.lexsort(
        (rows["value"].view(np.int64), rows["time_us"], rows["sensor_id"])
    )
    return rows[order]


def assert_same_rows(actual, expected):
    assert len(actual) == len(expected)
    assert np.array_equal(actual["time_us"], expected["time_us"])
    assert np.array_equal(actual["sensor_id"], expected["sensor_id"])
    # Bit for bit: -0.0 differs from 0.0.
    assert actual["value"].tobytes() == expected["value"].tobytes()


def scalar(dsn, sql, params=()):
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchone()[0]


def wait_for(
    predicate: Callable[[], object], *, timeout=20.0, interval=0.05, what="condition"
):
    """Poll until `predicate()` is truthy; return its value or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class DeviceClient:
    """A device's MQTT v5 client (client id = device id) that republishes what was not acknowledged.

    `publish` waits for the PUBACK and returns its reason code. `send` hands a payload over and
    keeps it until a successful PUBACK; paho resends its in-flight messages after a reconnect, and
    `settle` publishes again whatever stays unacknowledged, or was acknowledged with "No matching
    subscribers", as the edge agent does from its outbox.
    paho calls on_publish holding its own lock, so that callback only records the reason code.
    """

    def __init__(self, broker, device_id, password, *, will=None, resend_after_s=3.0):
        self.device_id = device_id
        self.failures: list[ReasonCode] = []
        self.unheard = 0
        self._resend_after_s = resend_after_s
        self._lock = threading.Condition()
        self._pending: dict[object, tuple[str, bytes, float]] = {}
        self._mids: dict[int, object] = {}
        self._acks: dict[int, ReasonCode] = {}
        self._connected = threading.Event()
        # (topic, payload) of every message received on the device's subscriptions
        self.received: list[tuple[str, bytes]] = []
        self._subacks: dict[int, list[ReasonCode]] = {}
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5
        )
        client.username_pw_set(device_id, password)
        if will is not None:
            client.will_set(topic(device_id, "status"), will, qos=1, retain=True)
        client.reconnect_delay_set(1, 2)
        client.on_connect = self._on_connect
        client.on_disconnect = lambda *_args: self._connected.clear()
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self._client = client
        client.connect_async(broker.host, broker.port, keepalive=10)
        client.loop_start()
        if not self._connected.wait(10):
            client.loop_stop()
            raise AssertionError(
                f"device {device_id} could not connect: {self.failures}"
            )

    def _on_connect(self, _client, _userdata, _flags, reason_code, _properties):
        if reason_code.is_failure:
            self.failures.append(reason_code)
        else:
            self._connected.set()

    def _on_publish(self, _client, _userdata, mid, reason_code, _properties):
        with self._lock:
            self._acks[mid] = reason_code
            self._lock.notify_all()

    def _on_subscribe(self, _client, _userdata, mid, reason_codes, _properties):
        with self._lock:
            self._subacks[mid] = reason_codes
            self._lock.notify_all()

    def _on_message(self, _client, _userdata, message):
        with self._lock:
            self.received.append((message.topic, bytes(message.payload)))
            self._lock.notify_all()

    def subscribe(self, name, *, timeout=10.0):
        """Subscribe with QoS 1 to one topic filter; return the SUBACK's reason code."""
        result, mid = self._client.subscribe(name, qos=1)
        assert result == mqtt.MQTT_ERR_SUCCESS, mqtt.error_string(result)
        with self._lock:
            if not self._lock.wait_for(lambda: mid in self._subacks, timeout):
                raise AssertionError(f"no SUBACK for {name} in {timeout} s")
            (code,) = self._subacks.pop(mid)
            return code

    def _claim_acks(self):
        """Match recorded PUBACKs to sent payloads (caller holds the lock)."""
        for mid, key in list(self._mids.items()):
            code = self._acks.pop(mid, None)
            if code is None:
                continue
            del self._mids[mid]
            if code.is_failure:
                self.failures.append(code)
            elif code.value == NO_MATCHING_SUBSCRIBERS:
                self.unheard += 1  # kept: `settle` publishes it again
            else:
                self._pending.pop(key, None)

    def _publish(self, key, channel, payload):
        info = self._client.publish(topic(self.device_id, channel), payload, qos=1)
        with self._lock:
            self._mids[info.mid] = key
            self._pending[key] = (channel, payload, time.monotonic())
            self._claim_acks()

    def publish(self, channel, payload, *, retain=False, timeout=10.0):
        """Publish once with QoS 1 and return the PUBACK reason code."""
        info = self._client.publish(
            topic(self.device_id, channel), payload, qos=1, retain=retain
        )
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, mqtt.error_string(info.rc)
        with self._lock:
            if not self._lock.wait_for(lambda: info.mid in self._acks, timeout):
                raise AssertionError(
                    f"no PUBACK for a publish on {channel} in {timeout} s"
                )
            return self._acks.pop(info.mid)

    def publish_topic(self, name, payload, *, timeout=10.0):
        """Publish once with QoS 1 on any topic (an attack); return the PUBACK reason code."""
        info = self._client.publish(name, payload, qos=1)
        with self._lock:
            if not self._lock.wait_for(lambda: info.mid in self._acks, timeout):
                raise AssertionError(
                    f"no PUBACK for a publish on {name} in {timeout} s"
                )
            return self._acks.pop(info.mid)

    def send(self, key, payload, channel="telemetry"):
        """Publish reliably: kept and published again until the broker acknowledges it."""
        self._publish(key, channel, payload)

    @property
    def unacked(self):
        with self._lock:
            self._claim_acks()
            return len(self._pending)

    def settle(self, timeout=30.0):
        """Wait until everything sent is acknowledged, publishing again what stays unacknowledged."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                self._claim_acks()
                if not self._pending:
                    return
                now = time.monotonic()
                stale = [
                    (k, c, p)
                    for k, (c, p, sent) in self._pending.items()
                    if now - sent > self._resend_after_s
                ]
            if self._connected.is_set():
                for key, channel, payload in stale:
                    self._publish(key, channel, payload)
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.unacked} messages of {self.device_id} never acknowledged"
                )
            time.sleep(0.1)

    def disconnect_with_will(self):
        """Disconnect with reason 0x04, which makes the broker publish the last will."""
        self._client.disconnect(
            reasoncode=ReasonCode(
                PacketTypes.DISCONNECT, "Disconnect with will message"
            )
        )
        self._client.loop_stop()

    def close(self):
        self._client.disconnect()
        self._client.loop_stop()


class IngestProcess:
    """`python -m livinglab_platform.ingest` in a subprocess, its log in a file."""

    def __init__(self, env, log_path):
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 (closed in stop/kill)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "livinglab_platform.ingest"],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def log(self):
        return self.log_path.read_text(errors="replace")

    def wait_subscribed(self, times=1, timeout=20.0):
        wait_for(
            lambda: (
                self.log.count("subscribed to") >= times
                or self.process.poll() is not None
            ),
            timeout=timeout,
            what="the ingest subprocess to subscribe",
        )
        assert self.process.poll() is None, self.log

    def terminate(self, timeout=30.0):
        """SIGTERM, then the exit code."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def kill(self):
        self.process.kill()
        self.process.wait()
        self._log.close()
