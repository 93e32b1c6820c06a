"""`umqtt.simple.MQTTClient` over paho-mqtt, so that the firmware example runs under CPython.

The same constructor and methods as micropython-lib's umqtt.simple (MQTT 3.1.1; publish with
qos=1 returns only after the PUBACK and raises OSError when the connection fails; check_msg hands
one waiting message to the callback), nothing more. `MQTTClient.lose_puback_on = "/telemetry"`
makes the next QoS 1 publish to such a topic reach the broker and then fail as if the PUBACK was
lost with the connection.
"""

from __future__ import annotations

import queue
from typing import Any

import paho.mqtt.client as mqtt

TIMEOUT_S = 10.0


class MQTTException(Exception):
    pass


class MQTTClient:
    lose_puback_on: str | None = None  # a topic's ending
    pubacks_lost = 0  # how many PUBACKs lose_puback_on has swallowed

    def __init__(
        self,
        client_id: str,
        server: str,
        port: int = 0,
        user: str | None = None,
        password: str | None = None,
        keepalive: int = 0,
        ssl: Any = None,
        ssl_params: Any = None,
    ) -> None:
        if ssl:
            raise MQTTException("the test shim speaks plain MQTT only")
        self.server, self.port, self.keepalive = server, port or 1883, keepalive or 60
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,  # what the example asks for in connect()
        )
        if user is not None:
            self._client.username_pw_set(user, password)
        self._messages: queue.Queue[tuple[bytes, bytes]] = queue.Queue()
        self._connected: queue.Queue[Any] = queue.Queue()
        self._callback: Any = None
        self._client.on_connect = lambda _c, _u, _f, rc, _p: self._connected.put(rc)
        self._client.on_message = lambda _c, _u, m: self._messages.put(
            (m.topic.encode(), m.payload)
        )

    def set_callback(self, f: Any) -> None:
        self._callback = f

    def set_last_will(
        self, topic: Any, msg: Any, retain: bool = False, qos: int = 0
    ) -> None:
        self._client.will_set(_text(topic), msg, qos=qos, retain=retain)

    def connect(self, clean_session: bool = True) -> bool:
        self._client.connect(self.server, self.port, self.keepalive)
        self._client.loop_start()
        try:
            code = self._connected.get(timeout=TIMEOUT_S)
        except queue.Empty:
            raise OSError("no CONNACK") from None
        if code.is_failure:
            self._stop()
            raise MQTTException(str(code))
        return False

    def publish(self, topic: Any, msg: Any, retain: bool = False, qos: int = 0) -> None:
        info = self._client.publish(_text(topic), msg, qos=qos, retain=retain)
        if qos == 0:
            return
        info.wait_for_publish(timeout=TIMEOUT_S)
        if not info.is_published() or info.rc != mqtt.MQTT_ERR_SUCCESS:
            self._stop()
            raise OSError(f"no PUBACK ({info.rc})")
        ending = MQTTClient.lose_puback_on
        if ending is not None and _text(topic).endswith(ending):
            MQTTClient.lose_puback_on = None
            MQTTClient.pubacks_lost += 1
            self._stop()
            raise OSError("connection lost before the PUBACK (simulated)")

    def subscribe(self, topic: Any, qos: int = 0) -> None:
        self._client.subscribe(_text(topic), qos=qos)

    def check_msg(self) -> None:
        try:
            topic, payload = self._messages.get_nowait()
        except queue.Empty:
            return
        if self._callback is not None:
            self._callback(topic, payload)

    def disconnect(self) -> None:
        self._client.disconnect()
        self._stop()

    def _stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def _text(topic: Any) -> str:
    return topic.decode() if isinstance(topic, bytes) else str(topic)
