"""Helpers of the agent tests: an ingest-like listener, a counting fake sensor, config factories."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from livinglab_edge_agent.config import (
    AgentConfig,
    MqttConfig,
    OutboxConfig,
    UplinkConfig,
)
from livinglab_edge_agent.outbox import Outbox
from livinglab_edge_agent.sensors import Reading, SensorSpec
from livinglab_edge_agent.sensors.simulated import open_simulated
from livinglab_edge_agent.wire import ClockState, decode_batch, parse_topic, topic
from livinglab_platform.core.identities import INGEST_USER, PLATFORM_USER

TIMEOUT_S = 20.0
SYNCED = ClockState(synced=True, offset_ns=1_500)


def fake_clock():
    return SYNCED


def wait_until(predicate, *, timeout_s=TIMEOUT_S, interval_s=0.02, what="condition"):
    """Poll `predicate` until it is true; fail the test naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


class Listener:
    """An ingest-like subscriber: persistent v5 session, QoS 1, batches kept once per (device, seq).

    Every copy of a batch is counted, and a copy whose bytes differ from the first is recorded in
    `mismatched`: a re-sent batch must carry the same seq and the same payload.
    """

    def __init__(self, broker, *, filters=("livinglab/v1/+/telemetry",)):
        self.filters = filters
        self.batches: dict[tuple[str, int], bytes] = {}
        self.copies: Counter[tuple[str, int]] = Counter()
        self.mismatched: list[tuple[str, int]] = []
        self.totals: Counter[str] = (
            Counter()
        )  # readings per device, each batch counted once
        self.documents: dict[str, list[tuple[str, dict, bool]]] = {}
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"livinglab.test-listener-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.username_pw_set(INGEST_USER, broker.ingest_password)
        self.client.reconnect_delay_set(1, 1)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_args: self._subscribed.set()
        self.client.on_message = self._on_message
        properties = Properties(PacketTypes.CONNECT)
        # A persistent session, so messages published while we reconnect wait for us.
        properties.SessionExpiryInterval = 600
        self.client.connect(
            broker.host, broker.port, clean_start=False, properties=properties
        )
        self.client.loop_start()
        if not self._subscribed.wait(TIMEOUT_S):
            self.close()
            raise AssertionError("listener could not subscribe")

    def _on_connect(self, client, _userdata, _flags, reason, _properties):
        if not reason.is_failure:
            client.subscribe([(f, 1) for f in self.filters])

    def _on_message(self, _client, _userdata, message):
        device, channel = parse_topic(message.topic)
        payload = bytes(message.payload)
        with self._lock:
            if channel == "telemetry":
                key = (device, decode_batch(payload).seq)
                self.copies[key] += 1
                first = self.batches.setdefault(key, payload)
                if first is payload:
                    self.totals[device] += len(decode_batch(payload))
                elif first != payload:
                    self.mismatched.append(key)
            else:
                document = json.loads(payload) if payload else {}
                self.documents.setdefault(device, []).append(
                    (channel, document, bool(message.retain))
                )

    def seqs(self, device):
        with self._lock:
            return sorted(seq for d, seq in self.batches if d == device)

    def readings(self, device):
        """Every reading received from `device`, deduplicated by seq, in seq order."""
        with self._lock:
            payloads = [p for (d, s), p in sorted(self.batches.items()) if d == device]
        return [r for p in payloads for r in decode_batch(p).readings()]

    def count(self, device):
        with self._lock:
            return self.totals[device]

    def channel(self, device, name):
        """The documents received on one of the device's JSON channels, oldest first."""
        with self._lock:
            return [d for c, d, _ in self.documents.get(device, []) if c == name]

    def events(self, device, kind=None):
        return [e for e in self.channel(device, "events") if kind in (None, e["type"])]

    def last_status(self, device):
        statuses = self.channel(device, "status")
        return statuses[-1] if statuses else None

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


class CountingSensor:
    """A SensorSource giving `per_read` readings per read with increasing values, remembering them."""

    def __init__(self, name, *, keys=("count_a", "count_b"), per_read=10):
        self.name = name
        self.key_names = keys
        self.per_read = per_read
        self.error: Exception | None = None  # raised by `read` while set
        self.produced: list[tuple[int, str, float]] = []
        self.reads: list[int] = []
        self.closed = False
        self._next = 0

    @property
    def keys(self):
        return tuple((k, k, "1") for k in self.key_names)

    def read(self, time_ns):
        self.reads.append(time.monotonic_ns())
        if self.error is not None:
            raise self.error
        readings = []
        for i in range(self.per_read):
            key = self.key_names[i % len(self.key_names)]
            readings.append(Reading(key, float(self._next)))
            self.produced.append((time_ns, key, float(self._next)))
            self._next += 1
        return readings

    def close(self):
        self.closed = True


def make_config(
    broker,
    directory,
    *,
    device,
    password,
    sensors,
    heartbeat_interval_s=30.0,
    capacity=1_000_000,
    **uplink,
):
    """An agent configuration for the test broker; `sensors` are (name, driver, interval_s, options)."""
    # The Listener stands in for the ingest and sends no receipts: PUBACK semantics unless a
    # test asks for receipts (and runs the real ingest).
    uplink = {
        "batch_size": 50,
        "batch_max_age_s": 0.2,
        "drain_timeout_s": 5.0,
        "receipts": False,
    } | uplink
    return AgentConfig(
        device_id=device,
        heartbeat_interval_s=heartbeat_interval_s,
        mqtt=MqttConfig(
            host=broker.host, port=broker.port, password=password, tls=False
        ),
        outbox=OutboxConfig(path=Path(directory) / "outbox.db", capacity=capacity),
        uplink=UplinkConfig(**uplink),
        sensors=[
            SensorSpec(name=name, driver=driver, interval_s=interval_s, options=options)
            for name, driver, interval_s, options in sensors
        ],
    )


SIMULATED = [
    ("air", "simulated", 0.1, {"kind": "air", "seed": 1, "dropout": 0.0}),
    ("pm", "simulated", 0.1, {"kind": "particulate", "seed": 2, "dropout": 0.0}),
    ("noise", "simulated", 0.1, {"kind": "noise", "seed": 3, "dropout": 0.0}),
]


def write_toml(
    path,
    broker,
    *,
    device,
    password,
    outbox,
    batch_size=20,
    heartbeat_interval_s=1,
    receipts=False,
    receipt_timeout_s=30.0,
):
    """An agent.toml for a subprocess agent with the three SIMULATED sensors."""
    lines = [
        f'device_id = "{device}"',
        f"heartbeat_interval_s = {heartbeat_interval_s}",
        "[mqtt]",
        f'host = "{broker.host}"',
        f"port = {broker.port}",
        f'password = "{password}"',
        "tls = false",
        "keepalive_s = 10",
        "[outbox]",
        f'path = "{outbox}"',
        "[uplink]",
        f"batch_size = {batch_size}",
        "batch_max_age_s = 0.2",
        "drain_timeout_s = 5",
        f"receipts = {str(receipts).lower()}",
        f"receipt_timeout_s = {receipt_timeout_s}",
    ]
    for name, driver, interval_s, options in SIMULATED:
        lines += ["[[sensors]]", f'name = "{name}"', f'driver = "{driver}"']
        lines += [f"interval_s = {interval_s}", "[sensors.options]"]
        lines += [f"{k} = {json.dumps(v)}" for k, v in options.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def expected_simulated(readings):
    """Readings recomputed from the simulated sensors, which are pure functions of time."""
    sources = {}
    for name, driver, interval_s, options in SIMULATED:
        sensor = open_simulated(
            SensorSpec(name=name, driver=driver, interval_s=interval_s, options=options)
        )
        for key, _quantity, _unit in sensor.keys:
            sources[key] = sensor
    expected = []
    for time_ns, key, _value in readings:
        values = {r.key: r.value for r in sources[key].read(time_ns)}
        expected.append((time_ns, key, values[key]))
    return expected


class AgentProcess:
    """`python -m livinglab_edge_agent run --config <toml>` as a child process."""

    def __init__(self, config_path, log_path):
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in `wait`
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "livinglab_edge_agent",
                "run",
                "--config",
                str(config_path),
            ],
            stdout=self.log,
            stderr=self.log,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        return self.wait()

    def terminate(self, timeout_s=30):
        self.process.send_signal(signal.SIGTERM)
        return self.wait(timeout_s)

    def wait(self, timeout_s=30):
        try:
            return self.process.wait(timeout_s)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.log.close()


def outbox_snapshot(path):
    """(stats, {seq: payload} of unacknowledged batches) of an outbox no process is using."""
    with Outbox.open(path) as outbox:
        return outbox.stats(), {
            seq: payload for seq, payload, _ in outbox.unacked(limit=1_000_000)
        }


def publish_config(broker, device, payload):
    """Publish a retained desired configuration as the platform does; wait for its PUBACK."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"livinglab.test-platform-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(PLATFORM_USER, broker.platform_password)
    acks = queue.Queue()
    client.on_publish = lambda _c, _u, _mid, reason, _p: acks.put(reason)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.publish(topic(device, "config"), payload, qos=1, retain=True)
        assert not acks.get(timeout=TIMEOUT_S).is_failure
    finally:
        client.disconnect()
        client.loop_stop()


def dynsec(broker, command, **fields):
    """Run one dynamic-security command as the broker admin."""
    with broker.admin() as admin:
        admin.run({"command": command, **fields})
