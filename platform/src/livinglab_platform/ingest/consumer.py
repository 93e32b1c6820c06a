"""The MQTT side of the ingest service: a persistent v5 session whose callbacks only enqueue.

The session survives disconnects and broker restarts (clean_start=False with a session expiry,
REFERENCE §5.5), telemetry arrives through a shared subscription so instances split the stream,
and acknowledgements are manual: a message is acknowledged only after its group is committed, so
the broker keeps (and resends) everything not yet stored. paho return and reason codes stop here.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from livinglab_edge_agent.wire import TOPIC_ROOT
from livinglab_platform.core.errors import ConfigurationError, PlatformError
from livinglab_platform.core.mqtt import (
    DROPPED_TOPIC,
    create_client,
    session_properties,
)
from livinglab_platform.core.settings import IngestSettings

__all__ = ["Consumer", "Message", "subscriptions"]

logger = logging.getLogger(__name__)

KEEPALIVE_S = 30
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
# CONNACK reasons that retrying cannot fix (MQTT 5.0 §3.2.2.2): client id not valid, bad user
# name or password, not authorized, banned, bad authentication method.
_FATAL_CONNACK = {0x85, 0x86, 0x87, 0x8A, 0x8C}


@dataclass(frozen=True, slots=True)
class Message:
    """A received message; `epoch` numbers the connection it came on, `received_at` is Unix s."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    epoch: int
    received_at: float


def subscriptions(group: str) -> list[str]:
    """The shared subscriptions of an ingest group: telemetry, status and events of every device."""
    return [
        f"$share/{group}/{TOPIC_ROOT}/+/{channel}"
        for channel in ("telemetry", "status", "events")
    ]


class Consumer:
    """A paho client in its own network thread; received messages land in `messages`."""

    def __init__(
        self,
        settings: IngestSettings,
        *,
        on_fatal: Callable[[PlatformError], None] | None = None,
    ) -> None:
        self.messages: queue.Queue[Message] = queue.Queue()
        self.broker_dropped: int | None = None
        self.error: PlatformError | None = None
        self._settings = settings
        self._on_fatal = on_fatal
        self._epoch = 0
        self._accepting = True
        self._closing = False
        self._subscribed = threading.Event()
        self._failed = threading.Event()
        self._pending: dict[int, list[str]] = {}
        client = create_client(
            settings.ingest_client_id,
            username=settings.mqtt_user,
            password=settings.mqtt_password.get_secret_value(),
            tls=settings.mqtt_tls,
            ca_file=settings.mqtt_ca_file,
            manual_ack=True,
        )
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        self._client = client
        self._refusal_logged = False

    def start(self, *, timeout_s: float) -> None:
        """Connect in the background and wait until subscribed; raise ConfigurationError if refused.

        A broker that does not answer within `timeout_s` is only logged: paho keeps retrying and
        the persistent session picks up where it was once the broker is back.
        """
        self._client.connect_async(
            self._settings.mqtt_host,
            self._settings.mqtt_port,
            keepalive=KEEPALIVE_S,
            clean_start=False,
            properties=session_properties(
                expiry_s=self._settings.session_expiry_s,
                receive_maximum=self._settings.mqtt_receive_maximum,
            ),
        )
        self._client.loop_start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not (
            self._subscribed.is_set() or self._failed.is_set()
        ):
            self._subscribed.wait(0.05)
        if self.error is not None:
            self.close()
            raise self.error
        if not self._subscribed.is_set():
            logger.warning(
                "broker %s:%d has not accepted the subscriptions after %.0f s; still trying",
                self._settings.mqtt_host,
                self._settings.mqtt_port,
                timeout_s,
            )

    @property
    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    def ack(self, messages: Iterable[Message]) -> int:
        """Acknowledge messages of the current connection; return how many were acknowledged.

        A message that came on an earlier connection is not acknowledged: the broker resends it on
        the new one (it is then dropped as a duplicate), and after a lost session its packet id may
        already name another message that is not yet stored.
        """
        epoch = self._epoch
        acked = 0
        for message in messages:
            if message.qos == 0 or message.epoch != epoch:
                continue
            if self._client.ack(message.mid, message.qos) == mqtt.MQTT_ERR_SUCCESS:
                acked += 1
        return acked

    def publish(self, name: str, payload: bytes) -> None:
        """Publish with QoS 1, not retained; paho keeps it and sends it once connected."""
        info = self._client.publish(name, payload, qos=1)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            logger.warning(
                "could not publish to %s: %s", name, mqtt.error_string(info.rc)
            )

    def pause(self) -> None:
        """Stop taking messages: later ones stay unacknowledged and the broker resends them."""
        self._accepting = False

    def close(self) -> None:
        """Disconnect normally (the session and its queue stay on the broker) and stop the thread."""
        self._closing = True
        self._client.disconnect()
        self._client.loop_stop()

    def _fail(self, error: PlatformError) -> None:
        logger.error("%s", error)
        self.error = error
        self._failed.set()
        if self._on_fatal is not None:
            self._on_fatal(error)

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            if reason_code.value in _FATAL_CONNACK:
                self._fail(
                    ConfigurationError(
                        f"the broker refused the ingest login (user {self._settings.mqtt_user!r}, client id "
                        f"{self._settings.ingest_client_id!r}): {reason_code}; check LIVINGLAB_MQTT_USER and "
                        "LIVINGLAB_MQTT_PASSWORD"
                    )
                )
                client.disconnect()
            else:
                logger.warning(
                    "the broker refused the connection (%s); retrying", reason_code
                )
            return
        self._epoch += 1
        logger.info(
            "connected to %s:%d as %s (session present: %s)",
            self._settings.mqtt_host,
            self._settings.mqtt_port,
            self._settings.ingest_client_id,
            flags.session_present,
        )
        topics = [*subscriptions(self._settings.ingest_group), DROPPED_TOPIC]
        result, mid = client.subscribe([(t, SubscribeOptions(qos=1)) for t in topics])
        if result != mqtt.MQTT_ERR_SUCCESS:
            logger.error(
                "could not send the subscriptions: %s", mqtt.error_string(result)
            )
            return
        # SUBACK is handled by this same network thread after this callback returns: no race.
        if mid is not None:
            self._pending[mid] = topics

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        topics = self._pending.pop(mid, [])
        refused = []
        for topic, code in zip(topics, reason_codes, strict=False):
            if topic == DROPPED_TOPIC:
                if code.is_failure:
                    # Only the statistics miss it: logged, and broker_dropped stays NULL.
                    logger.error(
                        "the broker refused the subscription to %s: %s", topic, code
                    )
            elif code.is_failure or code.value != 1:
                refused.append(f"{topic} ({code})")
        if refused:
            self._fail(
                ConfigurationError(
                    f"the broker refused the ingest subscriptions {', '.join(refused)}; the ingest role needs "
                    f"subscribePattern on {TOPIC_ROOT}/# and $share/+/{TOPIC_ROOT}/# with QoS 1"
                )
            )
            return
        logger.info("subscribed to %s", ", ".join(topics))
        self._subscribed.set()

    def _on_publish(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure and not self._refusal_logged:
            # Once: a broker whose ingest role predates receipts refuses every one of them.
            self._refusal_logged = True
            logger.error(
                "the broker refused a delivery receipt (%s); the ingest role needs publishClientSend"
                " on %s/+/receipts: run `livinglab broker bootstrap`, or set LIVINGLAB_RECEIPTS=false",
                reason_code,
                TOPIC_ROOT,
            )

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: object) -> None:
        logger.warning(
            "cannot reach the broker at %s:%d; retrying",
            self._settings.mqtt_host,
            self._settings.mqtt_port,
        )

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if not self._closing:
            logger.warning(
                "disconnected from the broker (%s); reconnecting", reason_code
            )

    def _on_message(
        self, client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        if message.topic == DROPPED_TOPIC:
            try:
                self.broker_dropped = int(message.payload)
            except ValueError:
                logger.warning(
                    "ignoring a non-integer %s: %r", DROPPED_TOPIC, message.payload[:40]
                )
            if message.qos:
                client.ack(message.mid, message.qos)
            return
        if not self._accepting:
            return
        self.messages.put(
            Message(
                topic=message.topic,
                payload=bytes(message.payload),  # already bytes: no copy
                mid=message.mid,
                qos=message.qos,
                epoch=self._epoch,
                received_at=time.time(),
            )
        )
