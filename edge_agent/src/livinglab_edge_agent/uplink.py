"""The MQTT side of the agent: sealed batches out with QoS 1, the retained desired config in.

Delivery rests on three rules:

* Without receipts, a batch leaves the outbox only when the broker's PUBACK for it carries a
  success reason code, in `on_publish` (or, when the PUBACK beats `publish()` returning, right
  after it). With receipts (the default), that PUBACK only starts the wait for the platform's
  receipt (`awaiting.py`), and the batch leaves when a receipt on the device's `receipts` topic
  names it; a broker that refuses the receipts subscription gets PUBACK semantics back. MQTT v5 lets the broker refuse a publish inside the PUBACK (135 "Not authorized"
  when dynamic security denies the topic), and paho still reports such a message as published, so
  the reason code is the only signal (REFERENCE.md section 6). 16 "No matching subscribers" is
  not a delivery either: the broker discarded the message because no ingest session was
  subscribed (Mosquitto 2.0.11 also answers 16 after a restart, until the ingest reconnects and
  its shared subscription is active again), so the batch stays and is retried like a refusal.
  Mosquitto 2.0.11 also drops the connection right
  after such a refusal ("Bad socket read/write ... Unknown error" in its log, tested), and paho
  then sends the rest of the window again. So after a refusal the uplink probes with one batch
  at a time, waits a back-off (also applied to paho's reconnect delay) that grows once per round
  of tries, not once per refusal, and returns to the full window on the first success.
* At most `max_inflight` batches await a PUBACK. They are tracked by mid, not through
  `MQTTMessageInfo`, whose `wait_for_publish` raises for messages queued while disconnected.
* After a disconnect the batches in flight are still in the outbox, unacknowledged. paho keeps
  QoS 1 messages it has not seen acknowledged and sends them again, same mid and bytes, after it
  reconnects; a process restart loses paho's memory but not the outbox, which the next process
  sends again with the same seq and payload. The ingest drops repeats of (device, seq).

paho callbacks run on paho's network thread: they update the state below under one lock, or
enqueue (config payloads), and wake the agent's loop. No paho return code leaves this module.
"""

from __future__ import annotations

import logging
import math
import queue
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from livinglab_edge_agent.awaiting import Awaiting, apply_receipt
from livinglab_edge_agent.config import AgentConfig
from livinglab_edge_agent.errors import ConfigError, OutboxError, PublishError
from livinglab_edge_agent.mqtt import create_client
from livinglab_edge_agent.outbox import Outbox
from livinglab_edge_agent.threadnames import name_current_thread
from livinglab_edge_agent.wire import OFFLINE_STATUS, topic

__all__ = ["Refusal", "Uplink"]

logger = logging.getLogger(__name__)

RECONNECT_MIN_DELAY_S = 1
RECONNECT_MAX_DELAY_S = 60
# After the broker refuses a batch, wait before sending again, doubling up to the maximum.
# PUBACK reason 16: accepted, but no subscriber matched, so the message went nowhere.
NO_MATCHING_SUBSCRIBERS = 16
REFUSED_BACKOFF_MIN_S = 1.0
REFUSED_BACKOFF_MAX_S = 60.0
# Status and event messages travel QoS 1 beside the batch window; paho's own window holds both.
EXTRA_INFLIGHT = 20
UNREACHABLE_LOG_INTERVAL_S = 60.0


@dataclass(frozen=True)
class Refusal:
    """A batch the broker refused in its PUBACK; the batch stays in the outbox."""

    seq: int
    code: int
    reason: str


class Uplink:
    """One MQTT v5 session of a device: publishes the outbox's batches, receives its config."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        outbox: Outbox,
        max_inflight: int | None = None,
        wake: threading.Event | None = None,
    ) -> None:
        self.device_id = config.device_id
        self.telemetry_topic = topic(config.device_id, "telemetry")
        self.status_topic = topic(config.device_id, "status")
        self.events_topic = topic(config.device_id, "events")
        self.config_topic = topic(config.device_id, "config")
        self.receipts_topic = topic(config.device_id, "receipts")
        self.max_inflight = max_inflight or config.uplink.max_inflight
        self.batches_sent = 0
        self.batches_acked = 0
        self.batches_refused = 0
        self.batches_confirmed = 0
        self._config = config
        self._outbox = outbox
        self._wake = wake or threading.Event()
        self._configs: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._client: mqtt.Client | None = None
        # Guards everything below; on_publish holds paho's message lock while it waits for this
        # one, so never call into paho while holding it.
        self._lock = threading.Condition()
        self._connected = False
        self._connections = 0
        # mid -> (seq, when first sent) of batches awaiting a PUBACK
        self._inflight: dict[int, tuple[int, float]] = {}
        # mids of status and event messages awaiting a PUBACK
        self._others: set[int] = set()
        # PUBACKs that beat `publish()` returning
        self._early: dict[int, ReasonCode] = {}
        self._refusals: list[Refusal] = []
        self._backoff_s = 0.0
        self._backoff_since = 0.0
        self._retry_at = 0.0
        # after a refusal: one batch in flight until one is accepted
        self._probing = False
        self._unreachable_logged_at: float | None = None
        settings = config.uplink
        # None: PUBACK semantics (receipts off, or refused by the broker).
        self._awaiting: Awaiting | None = (
            Awaiting(
                timeout_s=settings.receipt_timeout_s, window=settings.max_unconfirmed
            )
            if settings.receipts
            else None
        )

    # --- state -----------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the broker accepted the connection and it has not dropped since."""
        with self._lock:
            return self._connected

    @property
    def connections(self) -> int:
        """How many times the broker has accepted a connection; a change means a new session."""
        with self._lock:
            return self._connections

    @property
    def receipts(self) -> bool:
        """Whether batches wait for the platform's receipt (else only for the PUBACK)."""
        with self._lock:
            return self._awaiting is not None

    @property
    def inflight(self) -> int:
        """Batches published and awaiting their PUBACK."""
        with self._lock:
            return len(self._inflight)

    def seconds_until_duty(self) -> float:
        """How long until a timed duty of the uplink: a refused batch's back-off ends, or a batch
        is overdue its receipt (inf if none). The agent's loop sleeps no longer than this, so it
        needs no periodic polling for them."""
        with self._lock:
            now = time.monotonic()
            due = self._retry_at if self._retry_at > now else math.inf
            if self._awaiting is not None:
                due = min(due, self._awaiting.next_due())
            return max(due - now, 0.0)

    def take_configs(self) -> list[bytes]:
        """Config payloads received since the last call, oldest first."""
        payloads = []
        while True:
            try:
                payloads.append(self._configs.get_nowait())
            except queue.Empty:
                return payloads

    def take_refusals(self) -> list[Refusal]:
        """Batches refused by the broker since the last call."""
        with self._lock:
            refusals, self._refusals = self._refusals, []
            return refusals

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting in the background; paho reconnects with back-off from then on."""
        settings = self._config.mqtt
        password = settings.resolve_password()
        # Only the TLS set-up can fail here: a CA file that is missing or holds no certificate.
        try:
            client = create_client(
                self.device_id,
                username=self._config.username,
                password=password,
                tls=settings.tls,
                ca_file=settings.ca_file,
            )
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ConfigError(
                f"mqtt.ca_file: cannot set up TLS with {settings.ca_file}: {exc}"
            ) from exc
        client.will_set(self.status_topic, OFFLINE_STATUS, qos=1, retain=True)
        client.reconnect_delay_set(RECONNECT_MIN_DELAY_S, RECONNECT_MAX_DELAY_S)
        client.max_inflight_messages_set(self.max_inflight + EXTRA_INFLIGHT)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        try:
            client.connect_async(
                settings.host, settings.effective_port, keepalive=settings.keepalive_s
            )
        except ValueError as exc:
            raise ConfigError(f"mqtt: {exc}") from exc
        self._client = client
        client.loop_start()
        logger.info(
            "connecting to %s:%d as %r (%s)",
            settings.host,
            settings.effective_port,
            self._config.username,
            "TLS" if settings.tls else "no TLS",
        )

    def stop(self) -> None:
        """Disconnect cleanly (no last will) and stop paho's thread."""
        client, self._client = self._client, None
        if client is None:
            return
        client.disconnect()
        client.loop_stop()
        with self._lock:
            self._connected = False

    # --- publishing ------------------------------------------------------------------------------

    def pump(self) -> int:
        """Send the oldest unacknowledged batches until `max_inflight` await a PUBACK; return how many.

        Raises PublishError if paho would not take a message.
        """
        if self._client is None:
            return 0
        with self._lock:
            if not self._connected or time.monotonic() < self._retry_at:
                return 0
            room = (1 if self._probing else self.max_inflight) - len(self._inflight)
            if room <= 0:
                return 0
            busy = {seq for seq, _ in self._inflight.values()}
            if self._awaiting is not None:
                todo = self._awaiting.pick(self._outbox, busy=busy, room=room)
            else:
                # Read under the lock, so a batch acknowledged meanwhile is not taken for a new one.
                rows = self._outbox.unacked(limit=len(busy) + room)
                todo = [(s, p) for s, p, _ in rows if s not in busy][:room]
        for seq, payload in todo:
            self._publish(self.telemetry_topic, payload, seq=seq)
        return len(todo)

    def publish_status(self, payload: bytes) -> int | None:
        """Publish a retained status document; return its mid, or None when not connected."""
        if not self.connected:
            return None
        return self._publish(self.status_topic, payload, retain=True)

    def publish_event(self, payload: bytes) -> int | None:
        """Publish an event document; return its mid, or None when not connected."""
        if not self.connected:
            return None
        return self._publish(self.events_topic, payload)

    def wait_acknowledged(self, mid: int, *, timeout_s: float) -> bool:
        """Wait until the status or event message `mid` has its PUBACK; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while mid in self._others:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True

    def _publish(
        self, name: str, payload: bytes, *, retain: bool = False, seq: int | None = None
    ) -> int:
        client = self._client
        if client is None:
            raise PublishError(f"cannot publish to {name}: the uplink is stopped")
        try:
            info = client.publish(name, payload, qos=1, retain=retain)
        except (ValueError, TypeError) as exc:
            raise PublishError(f"cannot publish to {name}: {exc}") from exc
        # NO_CONN: the connection dropped just now; paho keeps the QoS 1 message and sends it
        # after reconnecting, and its PUBACK still reaches on_publish by mid.
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            raise PublishError(
                f"cannot publish to {name}: {mqtt.error_string(info.rc)}"
            )
        with self._lock:
            early = self._early.pop(info.mid, None)
            if seq is not None:
                self.batches_sent += 1
                sent_at = time.monotonic()
                if early is None:
                    self._inflight[info.mid] = (seq, sent_at)
                else:
                    self._settle(seq, early, sent_at=sent_at)
            elif early is None:
                self._others.add(info.mid)
            elif early.is_failure:
                logger.warning("broker refused a message on %s: %s", name, early)
        return info.mid

    def _settle(self, seq: int, reason: ReasonCode, *, sent_at: float) -> None:
        """Act on the PUBACK of batch `seq`; the caller holds the lock."""
        unrouted = reason.value == NO_MATCHING_SUBSCRIBERS
        if reason.is_failure or unrouted:
            self.batches_refused += 1
            self._refusals.append(
                Refusal(seq=seq, code=reason.value, reason=str(reason))
            )
            if sent_at >= self._backoff_since:
                # A batch sent since the last back-off began: this round of tries failed too.
                now = time.monotonic()
                self._backoff_s = min(
                    max(self._backoff_s * 2, REFUSED_BACKOFF_MIN_S),
                    REFUSED_BACKOFF_MAX_S,
                )
                self._backoff_since = now
                self._retry_at = now + self._backoff_s
                if not unrouted:  # the broker keeps the connection after a 16
                    self._set_reconnect_delay(self._backoff_s)
            self._probing = True
            logger.warning(
                "broker refused batch seq %d: %s (%d); it stays in the outbox, next try in %.0f s",
                seq,
                reason,
                reason.value,
                self._backoff_s,
            )
            return
        if self._awaiting is not None:
            self._awaiting.acknowledged(seq, now=time.monotonic())
            self.batches_acked += 1
            self._end_probing()
            return
        try:
            self._outbox.ack(seq)
        except OutboxError:
            logger.exception(
                "batch seq %d was delivered but could not be removed; it will be sent again",
                seq,
            )
            return
        self.batches_acked += 1
        self._end_probing()

    def _end_probing(self) -> None:
        if self._probing:
            # The broker takes batches again: refused ones need not wait for their back-off.
            self._probing = False
            self._backoff_s = 0.0
            self._retry_at = 0.0
            self._set_reconnect_delay(RECONNECT_MIN_DELAY_S)

    def _set_reconnect_delay(self, min_delay_s: float) -> None:
        client = self._client
        if client is not None:
            # paho's own mutex, never held while paho waits for ours: no deadlock.
            client.reconnect_delay_set(
                max(RECONNECT_MIN_DELAY_S, math.ceil(min_delay_s)),
                RECONNECT_MAX_DELAY_S,
            )

    # --- paho callbacks (network thread) ---------------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        if threading.current_thread() is not threading.main_thread():
            # paho's network thread (loop_start) is only reachable from its callbacks.
            name_current_thread("mqtt")
        settings = self._config.mqtt
        if reason.is_failure:
            logger.error(
                "broker %s:%d refused the connection as %r: %s",
                settings.host,
                settings.effective_port,
                self._config.username,
                reason,
            )
            return
        with self._lock:
            self._connected = True
            self._connections += 1
            inflight = len(self._inflight)
            if self._awaiting is not None:
                self._awaiting.reconnected(now=time.monotonic())
        self._unreachable_logged_at = None
        topics = [self.config_topic]
        if self.receipts:
            topics.append(self.receipts_topic)
        client.subscribe([(name, 1) for name in topics])
        logger.info(
            "connected to %s:%d%s; %d batches in flight are sent again",
            settings.host,
            settings.effective_port,
            " (session present)" if flags.session_present else "",
            inflight,
        )
        self._wake.set()

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        now = time.monotonic()
        last = self._unreachable_logged_at
        if last is None or now - last >= UNREACHABLE_LOG_INTERVAL_S:
            self._unreachable_logged_at = now
            settings = self._config.mqtt
            logger.warning(
                "cannot reach the broker at %s:%d; retrying with back-off up to %d s",
                settings.host,
                settings.effective_port,
                RECONNECT_MAX_DELAY_S,
            )

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        with self._lock:
            was_connected, self._connected = self._connected, False
            inflight = len(self._inflight)
        if was_connected:
            logger.warning(
                "disconnected from the broker: %s; %d batches in flight stay in the outbox",
                reason,
                inflight,
            )

    def _on_publish(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        mid: int,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        with self._lock:
            sent = self._inflight.pop(mid, None)
            if sent is not None:
                self._settle(sent[0], reason, sent_at=sent[1])
                # Wake the loop only for something to do: a refusal to report and back off
                # from, or a sealed batch this PUBACK makes room for. A thread wake-up costs as
                # much as several readings on a Pi, and most PUBACKs leave nothing to send.
                wake = reason.is_failure or self._unsent()
            elif mid in self._others:
                self._others.discard(mid)
                wake = False
                if reason.is_failure:
                    logger.warning(
                        "broker refused a status or event message: %s", reason
                    )
            else:
                self._early[mid] = reason
                wake = False
            self._lock.notify_all()
        if wake:
            self._wake.set()

    def _unsent(self) -> bool:
        """Whether a sealed batch is neither in flight nor waiting for its receipt; under the lock."""
        waiting = len(self._inflight)
        if self._awaiting is not None:
            waiting += len(self._awaiting)
        return self._outbox.pending_batches > waiting

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Any,
    ) -> None:
        if reasons and reasons[0].is_failure:
            logger.error(
                "broker refused the subscription to %s: %s; remote configuration is off",
                self.config_topic,
                reasons[0],
            )
        if len(reasons) > 1 and reasons[1].is_failure:
            self._receipts_refused(reasons[1])

    def _receipts_refused(self, reason: ReasonCode) -> None:
        """A broker whose device role predates receipts: back to PUBACK semantics."""
        with self._lock:
            awaiting, self._awaiting = self._awaiting, None
        logger.error(
            "broker refused the subscription to %s: %s; batches now leave the outbox at the"
            " broker's PUBACK (run `livinglab broker bootstrap` to give the device its receipts)",
            self.receipts_topic,
            reason,
        )
        if awaiting is not None:
            awaiting.release(self._outbox)
        self._wake.set()

    def _on_message(
        self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        if message.topic == self.config_topic:
            self._configs.put(bytes(message.payload))
            self._wake.set()
        elif message.topic == self.receipts_topic:
            # Outside our lock, like an ack: the outbox has its own.
            applied = apply_receipt(self._outbox, bytes(message.payload))
            if applied is None:
                return
            receipt, confirmed = applied
            with self._lock:
                if self._awaiting is not None:
                    self._awaiting.confirmed(receipt)
                self.batches_confirmed += confirmed
                wake = confirmed and self._unsent()
            if wake:
                self._wake.set()
