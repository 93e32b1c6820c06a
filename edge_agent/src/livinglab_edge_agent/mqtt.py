"""How every livinglab paho-mqtt client is built: MQTT v5, logged in, TLS that verifies the broker.

The agent's uplink, the platform's ingest consumer and broker admin, and the lab's benchmark
clients all start from `create_client`; each then adds its own callbacks, will, windows and
reconnect delays, and connects when and how it needs to. The platform imports this module rather
than keep a copy (a Pi installs only this distribution, so the definition lives here).

Foreign errors are not translated here: the callers raise different errors for the same failure
(the agent a ConfigError naming `mqtt.ca_file`, the platform its own at start-up).
"""

from __future__ import annotations

import os
import ssl
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

__all__ = ["create_client", "session_properties"]


def create_client(
    client_id: str,
    *,
    username: str,
    password: str | None,
    tls: bool = False,
    ca_file: str | os.PathLike[str] | None = None,
    manual_ack: bool = False,
    userdata: Any = None,
) -> mqtt.Client:
    """A paho client for MQTT v5 with version 2 callbacks and credentials set; not yet connected.

    Args:
        tls: connect over TLS and refuse a broker whose certificate does not verify
            (CERT_REQUIRED, host name checked).
        ca_file: the CA certificate that signs the broker's; None trusts the system CAs.
        manual_ack: QoS 1 messages are acknowledged only by `client.ack()`, after the caller has
            stored them, not as soon as `on_message` returns.
        userdata: handed to every callback; lets a callback reach its state without a reference
            to the owner (see DynSec).

    Raises:
        OSError, ssl.SSLError or ValueError from paho when the CA file cannot be used.
    """
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        userdata=userdata,
        manual_ack=manual_ack,
    )
    client.username_pw_set(username, password)
    if tls:
        client.tls_set(
            ca_certs=os.fspath(ca_file) if ca_file is not None else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
    return client


def session_properties(
    *, expiry_s: int, receive_maximum: int | None = None
) -> Properties:
    """CONNECT properties of a persistent session; connect with them and `clean_start=False`.

    Args:
        expiry_s: how long the broker keeps the session, and queues its QoS 1 messages, after a
            disconnect (MQTT 5.0 §3.1.2.11.2); 0 would end it with the connection.
        receive_maximum: the most unacknowledged QoS 1 messages the broker may send at once
            (§3.1.2.11.3); None leaves the protocol's default of 65,535.
    """
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = expiry_s
    if receive_maximum is not None:
        properties.ReceiveMaximum = receive_maximum
    return properties
