"""What broker/README.md tells device writers about a refused publish: the broker closes the
connection (MQTT 5 after a PUBACK 0x87, MQTT 3.1.1 after an ordinary PUBACK), and the device's
last will is published, so the platform shows the device offline."""

from __future__ import annotations

import json
import queue

import paho.mqtt.client as mqtt
import pytest

from livinglab_edge_agent.wire import topic
from livinglab_platform.core.identities import INGEST_USER

TIMEOUT_S = 10
WILL = b'{"v":1,"state":"offline"}'


def _watch_status(broker, device_id):
    """A client of the ingest's identity reading the device's status (retained included)."""
    messages: queue.Queue[bytes] = queue.Queue()
    watcher = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id="livinglab.test-status",
        protocol=mqtt.MQTTv5,
    )
    watcher.username_pw_set(INGEST_USER, broker.ingest_password)
    watcher.on_message = lambda _c, _u, m: messages.put(m.payload)
    subscribed: queue.Queue[object] = queue.Queue()
    watcher.on_subscribe = lambda *_a: subscribed.put(True)
    watcher.on_connect = lambda c, *_a: c.subscribe(topic(device_id, "status"), qos=1)
    watcher.connect(broker.host, broker.port)
    watcher.loop_start()
    subscribed.get(timeout=TIMEOUT_S)
    return watcher, messages


@pytest.mark.parametrize("protocol", [mqtt.MQTTv5, mqtt.MQTTv311], ids=["v5", "v311"])
def test_a_refused_publish_closes_the_connection_and_fires_the_will(broker, protocol):
    device_id = "pico-refused"
    password = broker.add_device(device_id)
    watcher, statuses = _watch_status(broker, device_id)
    events: queue.Queue[tuple[str, str]] = queue.Queue()
    device = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=device_id, protocol=protocol
    )
    device.username_pw_set(device_id, password)
    device.will_set(topic(device_id, "status"), WILL, qos=1, retain=True)
    device.on_connect = lambda *_a: events.put(("connect", ""))
    device.on_publish = lambda _c, _u, _m, rc, _p: events.put(("puback", str(rc)))
    device.on_disconnect = lambda _c, _u, _f, rc, _p: events.put(
        ("disconnect", str(rc))
    )
    device.connect(broker.host, broker.port, keepalive=30)
    device.loop_start()
    try:
        assert events.get(timeout=TIMEOUT_S) == ("connect", "")
        device.publish(
            topic(device_id, "status"), b'{"v":1,"state":"online"}', qos=1, retain=True
        )
        assert events.get(timeout=TIMEOUT_S) == ("puback", "Success")
        assert json.loads(statuses.get(timeout=TIMEOUT_S))["state"] == "online"

        device.publish(topic("another-device", "telemetry"), b"x", qos=1)
        puback = events.get(timeout=TIMEOUT_S)
        expected = "Not authorized" if protocol == mqtt.MQTTv5 else "Success"
        assert puback == ("puback", expected)
        assert events.get(timeout=TIMEOUT_S)[0] == "disconnect"
        assert statuses.get(timeout=TIMEOUT_S) == WILL
    finally:
        device.disconnect()
        device.loop_stop()
        watcher.disconnect()
        watcher.loop_stop()
