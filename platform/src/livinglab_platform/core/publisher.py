"""Publishing as the platform's broker identity: the retained desired configuration of devices.

The platform's client (`livinglab.platform`, role `platform`: publish `livinglab/v1/+/config`
only) is not the admin: changing a connected client's roles makes Mosquitto disconnect it. A
configuration changes seldom, so each publish opens its own short connection, which also lets the
undoing of a failed transaction publish again after the request's resources are gone.
"""

from __future__ import annotations

import queue
import uuid

import paho.mqtt.client as mqtt

from livinglab_platform.core.errors import BrokerError
from livinglab_platform.core.identities import PLATFORM_USER
from livinglab_platform.core.mqtt import create_client
from livinglab_platform.core.settings import BrokerSettings

__all__ = ["TIMEOUT_S", "publish_retained"]

TIMEOUT_S = 10.0
# MQTT 5 reason code 0x10 "No matching subscribers" is a success: a retained message is kept
# for the device's next subscription whether or not anyone listens now.
_NO_MATCHING_SUBSCRIBERS = 0x10


def publish_retained(settings: BrokerSettings, *, topic: str, payload: bytes) -> None:
    """Publish `payload` retained with QoS 1 as the platform; BrokerError unless the broker took it.

    An empty payload clears the retained message.
    """
    answers: queue.Queue[tuple[str, int]] = queue.Queue()
    client = create_client(
        f"{PLATFORM_USER}-{uuid.uuid4().hex[:8]}",
        username=PLATFORM_USER,
        password=settings.mqtt_platform_password.get_secret_value(),
        tls=settings.mqtt_tls,
        ca_file=settings.mqtt_ca_file,
        userdata=answers,
    )
    client.on_connect = _on_connect
    client.on_publish = _on_publish
    host, port = settings.mqtt_host, settings.mqtt_port
    try:
        client.connect(host, port, keepalive=30)
    except OSError as exc:
        raise BrokerError(f"cannot reach the broker at {host}:{port}: {exc}") from exc
    client.loop_start()
    try:
        _kind, code = _answer(answers, "did not answer the platform's login")
        if code != 0:
            raise BrokerError(
                f"the broker refused the platform's login (reason code {code:#04x});"
                " check LIVINGLAB_MQTT_PLATFORM_PASSWORD and `livinglab broker bootstrap`"
            )
        client.publish(topic, payload, qos=1, retain=True)
        _kind, code = _answer(answers, "did not acknowledge the configuration")
        if code >= 0x80:
            raise BrokerError(
                f"the broker refused the platform's publish on {topic} (reason code {code:#04x})"
            )
    finally:
        client.disconnect()
        client.loop_stop()


def _answer(answers: queue.Queue[tuple[str, int]], what: str) -> tuple[str, int]:
    try:
        return answers.get(timeout=TIMEOUT_S)
    except queue.Empty as exc:
        raise BrokerError(f"the broker {what} in {TIMEOUT_S:g} s") from exc


def _on_connect(
    _client: mqtt.Client,
    answers: queue.Queue[tuple[str, int]],
    _flags: object,
    reason: mqtt.ReasonCode,
    _properties: object,
) -> None:
    answers.put(("connack", reason.value))


def _on_publish(
    _client: mqtt.Client,
    answers: queue.Queue[tuple[str, int]],
    _mid: int,
    reason: mqtt.ReasonCode,
    _properties: object,
) -> None:
    code = reason.value
    answers.put(("puback", 0 if code == _NO_MATCHING_SUBSCRIBERS else code))
