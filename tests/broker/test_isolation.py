"""A device may use its own topics only; the platform and ingest clients have their own roles."""

from __future__ import annotations

import queue

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from livinglab_edge_agent.wire import topic
from livinglab_platform.core.identities import INGEST_USER, PLATFORM_USER

TIMEOUT_S = 10


class Session:
    """A connected MQTT v5 client that records PUBACK/SUBACK reason codes and messages."""

    def __init__(self, broker, *, username, password, client_id=None):
        self.acks: queue.Queue = queue.Queue()
        self.subacks: queue.Queue = queue.Queue()
        self.messages: queue.Queue = queue.Queue()
        self.connected: queue.Queue = queue.Queue()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or username,
            protocol=mqtt.MQTTv5,
        )
        self.client.username_pw_set(username, password)
        self.client.on_connect = lambda _c, _u, _f, rc, _p: self.connected.put(rc)
        self.client.on_publish = lambda _c, _u, mid, rc, _p: self.acks.put((mid, rc))
        self.client.on_subscribe = lambda _c, _u, mid, rcs, _p: self.subacks.put(rcs)
        self.client.on_message = lambda _c, _u, msg: self.messages.put(msg)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.connect_code = self.connected.get(timeout=TIMEOUT_S)

    def publish(self, name, payload=b"x"):
        info = self.client.publish(name, payload, qos=1)
        mid, code = self.acks.get(timeout=TIMEOUT_S)
        assert mid == info.mid
        return code

    def subscribe(self, name):
        self.client.subscribe(name, qos=1)
        return self.subacks.get(timeout=TIMEOUT_S)[0]

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def two_devices(broker):
    sessions = [
        Session(broker, username=d, password=broker.add_device(d))
        for d in ("dev-a", "dev-b")
    ]
    yield sessions
    for s in sessions:
        s.close()


def test_device_publishes_its_own_topics(two_devices):
    a, _ = two_devices
    for channel in ("telemetry", "status", "events"):
        assert not a.publish(topic("dev-a", channel)).is_failure


@pytest.mark.parametrize(
    "name",
    [
        "livinglab/v1/dev-b/telemetry",
        "livinglab/v1/dev-b/status",
        "livinglab/v1/dev-a/config",
        "livinglab/v1/dev-a/other",
        "livinglab/v2/dev-a/telemetry",
        "$CONTROL/dynamic-security/v1",
        "anything",
    ],
)
def test_device_cannot_publish_elsewhere(two_devices, name):
    a, _ = two_devices
    code = a.publish(name)
    assert code.is_failure
    assert code.value == 135  # Not authorized


@pytest.mark.parametrize(
    "name",
    [
        "livinglab/v1/dev-b/config",
        "livinglab/v1/+/telemetry",
        "livinglab/#",
        "#",
        "$share/g/livinglab/v1/#",
        "$SYS/#",
    ],
)
def test_device_cannot_subscribe_elsewhere(two_devices, name):
    a, _ = two_devices
    assert a.subscribe(name).is_failure


def test_device_receives_only_its_own_config(broker, two_devices):
    a, _b = two_devices
    assert not a.subscribe(topic("dev-a", "config")).is_failure
    platform = Session(
        broker, username=PLATFORM_USER, password=broker.platform_password
    )
    try:
        assert not platform.publish(
            topic("dev-b", "config"), b'{"v":1,"revision":1}'
        ).is_failure
        assert not platform.publish(
            topic("dev-a", "config"), b'{"v":1,"revision":2}'
        ).is_failure
        message = a.messages.get(timeout=TIMEOUT_S)
        assert message.topic == topic("dev-a", "config")
        assert a.messages.empty()
    finally:
        platform.close()


def test_client_id_is_pinned_to_the_device(broker):
    password = broker.add_device("dev-c")
    session = Session(
        broker, username="dev-c", password=password, client_id="someone-else"
    )
    try:
        assert session.connect_code.is_failure
    finally:
        session.close()


def test_wrong_password_is_refused(broker):
    broker.add_device("dev-d")
    session = Session(broker, username="dev-d", password="wrong")
    try:
        assert session.connect_code.is_failure
    finally:
        session.close()


def test_ingest_reads_telemetry_through_a_shared_subscription(broker, two_devices):
    a, _ = two_devices
    ingest = Session(
        broker,
        username=INGEST_USER,
        password=broker.ingest_password,
        client_id="livinglab.ingest-test",
    )
    try:
        assert not ingest.subscribe("$share/ingest/livinglab/v1/+/telemetry").is_failure
        assert not a.publish(topic("dev-a", "telemetry"), b"reading").is_failure
        assert ingest.messages.get(timeout=TIMEOUT_S).payload == b"reading"
        # Last: after refusing a publish, Mosquitto 2.0.11 stopped delivering to this shared subscriber.
        assert ingest.publish(
            topic("dev-a", "telemetry")
        ).is_failure  # ingest only reads
    finally:
        ingest.close()


def test_anonymous_is_refused(broker):
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id="anon", protocol=mqtt.MQTTv5
    )
    codes: queue.Queue = queue.Queue()
    client.on_connect = lambda _c, _u, _f, rc, _p: codes.put(rc)
    props = Properties(PacketTypes.CONNECT)
    client.connect(broker.host, broker.port, properties=props)
    client.loop_start()
    try:
        assert codes.get(timeout=TIMEOUT_S).is_failure
    finally:
        client.disconnect()
        client.loop_stop()
