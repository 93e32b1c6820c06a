"""Broker administration through Mosquitto's dynamic-security plugin ($CONTROL topic).

Mosquitto 2.0 has no %u patterns in dynamic security, so each device gets its own role that
allows exactly its own topics, and its client id is pinned to its device id. Device clients are
made for device ids only, and the services' clients carry service identities
(`core/identities.py`): the two namespaces never meet.
"""

from __future__ import annotations

import json
import logging
import queue
import uuid
from typing import Any

import paho.mqtt.client as mqtt

from livinglab_edge_agent.wire import DEVICE_ID_RULE, TOPIC_ROOT, topic
from livinglab_platform.core.errors import BrokerError, ConflictError, InvalidInputError
from livinglab_platform.core.identities import (
    ADMIN_CLIENT_PREFIX,
    INGEST_USER,
    PLATFORM_USER,
    is_device_id,
)
from livinglab_platform.core.mqtt import DROPPED_TOPIC, create_client
from livinglab_platform.core.settings import BrokerSettings

__all__ = [
    "DynSec",
    "bootstrap",
    "create_device_client",
    "delete_device_client",
    "device_acls",
    "list_clients",
]

logger = logging.getLogger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
TIMEOUT_S = 10.0
# Mosquitto's answer to addRoleACL for an ACL the role has (plugins/dynamic-security/roles.c).
ACL_EXISTS = "ACL with this topic already exists"
# Roles are not identities a client logs in with, and a device's role is `device-{id}`: these
# names keep what existing brokers have.
INGEST_ROLE = "ingest"
PLATFORM_ROLE = "platform"


class DynSec:
    """An admin connection that sends dynamic-security commands and waits for their answers."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        user: str,
        password: str,
        tls: bool = False,
        ca_file: str | None = None,
    ) -> None:
        # The connection opens at the first command: an API request that fails validation or
        # access checks never touches the broker, so it gets its 4xx even when the broker is down.
        self._address = (host, port)
        self._responses: queue.Queue[dict[str, Any]] = queue.Queue()
        self._connected = False
        # The callback reaches the queue through userdata, not through `self`: no reference cycle,
        # so the paho client (and the socket pair of its network thread) is freed, and its sockets
        # closed, as soon as this object is dropped rather than whenever the cycle collector runs.
        self._client = create_client(
            f"{ADMIN_CLIENT_PREFIX}{uuid.uuid4().hex[:8]}",
            username=user,
            password=password,
            tls=tls,
            ca_file=ca_file,
            userdata=self._responses,
        )
        self._client.on_message = _on_response

    @classmethod
    def from_settings(cls, settings: BrokerSettings) -> DynSec:
        """An admin connection to the broker's dynamic security, as the settings describe it."""
        return cls(
            host=settings.mqtt_host,
            port=settings.mqtt_port,
            user=settings.mqtt_admin_user,
            password=settings.mqtt_admin_password.get_secret_value(),
            tls=settings.mqtt_tls,
            ca_file=settings.mqtt_ca_file,
        )

    def _connect(self) -> None:
        host, port = self._address
        subscribed: queue.Queue[list[mqtt.ReasonCode]] = queue.Queue()
        self._client.on_subscribe = lambda _c, _u, _mid, codes, _p: subscribed.put(
            codes
        )
        try:
            self._client.connect(host, port, keepalive=30)
        except OSError as exc:
            raise BrokerError(
                f"cannot reach the broker at {host}:{port}: {exc}"
            ) from exc
        self._client.loop_start()
        self._connected = True
        self._client.subscribe(RESPONSE_TOPIC, qos=1)
        try:
            codes = subscribed.get(timeout=TIMEOUT_S)
        except queue.Empty as exc:
            self.close()
            raise BrokerError(
                "the broker did not answer the admin login; check the admin user and password"
            ) from exc
        if codes[0].is_failure:
            self.close()
            raise BrokerError(
                f"the admin user may not use dynamic security: {codes[0]}"
            )

    def close(self) -> None:
        if self._connected:
            self._connected = False
            self._client.disconnect()
            self._client.loop_stop()

    def __enter__(self) -> DynSec:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def run(
        self, *commands: dict[str, Any], ignore: tuple[str, ...] = ()
    ) -> list[dict[str, Any]]:
        """Run commands in order; raise BrokerError on the first error not listed in `ignore`."""
        if not self._connected:
            self._connect()
        tag = uuid.uuid4().hex
        tagged = [
            {**c, "correlationData": f"{tag}-{i}"} for i, c in enumerate(commands)
        ]
        self._client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
        answers: dict[str, dict[str, Any]] = {}
        while len(answers) < len(tagged):
            try:
                document = self._responses.get(timeout=TIMEOUT_S)
            except queue.Empty as exc:
                raise BrokerError(
                    "the broker did not answer a dynamic-security command in time"
                ) from exc
            for response in document.get("responses", []):
                if str(response.get("correlationData", "")).startswith(tag):
                    answers[response["correlationData"]] = response
        results = [answers[c["correlationData"]] for c in tagged]
        for command, result in zip(commands, results, strict=True):
            error = result.get("error")
            if error and error not in ignore:
                raise BrokerError(f"{command['command']} failed: {error}")
        return results


def _on_response(
    _client: mqtt.Client,
    responses: queue.Queue[dict[str, Any]],
    message: mqtt.MQTTMessage,
) -> None:
    try:
        responses.put(json.loads(message.payload))
    except ValueError:
        logger.warning("ignoring a non-JSON dynamic-security response")


def device_acls(device_id: str) -> list[dict[str, Any]]:
    """A device may publish its telemetry, status and events and read its own config and receipts."""
    acls: list[dict[str, Any]] = [
        {
            "acltype": "publishClientSend",
            "topic": topic(device_id, channel),
            "allow": True,
        }
        for channel in ("telemetry", "status", "events")
    ]
    return acls + [
        acl
        for channel in ("config", "receipts")
        for acl in _reading(device_id, channel)
    ]


def _reading(device_id: str, channel: str) -> list[dict[str, Any]]:
    """Subscribe to, and receive on, exactly one topic of the device's own; nothing to publish."""
    name = topic(device_id, channel)
    return [
        {"acltype": "subscribeLiteral", "topic": name, "allow": True},
        {"acltype": "publishClientReceive", "topic": name, "allow": True},
    ]


def create_device_client(dynsec: DynSec, *, device_id: str, password: str) -> None:
    """Create the device's role and client; the client id is pinned to the device id.

    Raises InvalidInputError for a name that is not a device id (a service identity among them),
    before the broker is touched; ConflictError when the broker already has a client of that
    name, leaving nothing behind.
    """
    # The one place device clients are made: a device's username and pinned client id stay in
    # the device namespace, which no service identity is in.
    if not is_device_id(device_id):
        raise InvalidInputError(
            f"invalid device id {device_id!r}: use {DEVICE_ID_RULE}", field="id"
        )
    role = f"device-{device_id}"
    created_role, created_client = dynsec.run(
        {"command": "createRole", "rolename": role, "acls": device_acls(device_id)},
        {
            "command": "createClient",
            "username": device_id,
            "password": password,
            "clientid": device_id,
            "roles": [{"rolename": role}],
        },
        ignore=("Role already exists", "Client already exists"),
    )
    if created_client.get("error"):
        if not created_role.get("error"):
            dynsec.run({"command": "deleteRole", "rolename": role})
        raise ConflictError(
            f"the broker already has a client named {device_id!r} (a device or one of the"
            " platform's own users); choose another device id"
        )


def delete_device_client(dynsec: DynSec, *, device_id: str) -> None:
    """Remove the device's client and role: the undoing of `create_device_client`."""
    dynsec.run(
        {"command": "deleteClient", "username": device_id},
        {"command": "deleteRole", "rolename": f"device-{device_id}"},
        ignore=("Client not found", "Role not found"),
    )


def list_clients(dynsec: DynSec) -> list[dict[str, Any]]:
    """Every client of dynamic security: username, pinned `clientid` (if any), roles, groups."""
    (answer,) = dynsec.run({"command": "listClients", "verbose": True, "count": -1})
    clients: list[dict[str, Any]] = answer.get("data", {}).get("clients", [])
    return clients


def _add_acls(dynsec: DynSec, role: str, acls: list[dict[str, Any]]) -> None:
    """Give an existing role ACLs it may already have (idempotent)."""
    dynsec.run(
        *({"command": "addRoleACL", "rolename": role, **acl} for acl in acls),
        ignore=(ACL_EXISTS,),
    )


def _upgrade_device_roles(dynsec: DynSec) -> int:
    """Give the roles of devices registered before receipts their receipts ACLs; return how many."""
    (answer,) = dynsec.run({"command": "listRoles", "verbose": False, "count": -1})
    roles = [str(r) for r in answer.get("data", {}).get("roles", [])]
    devices = [
        r.removeprefix("device-")
        for r in roles
        if r.startswith("device-") and is_device_id(r.removeprefix("device-"))
    ]
    # Mosquitto disconnects the clients of a role whose ACLs change, once (not when the ACL
    # exists already); devices reconnect by themselves.
    for start in range(0, len(devices), 100):
        commands = [
            {"command": "addRoleACL", "rolename": f"device-{device_id}", **acl}
            for device_id in devices[start : start + 100]
            for acl in _reading(device_id, "receipts")
        ]
        dynsec.run(*commands, ignore=(ACL_EXISTS,))
    return len(devices)


def bootstrap(
    dynsec: DynSec,
    *,
    ingest_password: str,
    platform_password: str,
    ingest_user: str = INGEST_USER,
) -> None:
    """Deny by default; create the ingest and platform roles and clients. Idempotent.

    The platform client publishes desired device configuration. It is not the admin: changing the
    roles of a connected client makes Mosquitto disconnect it, which would cut this very session.
    The ingest publishes delivery receipts; roles made before receipts (the ingest's and every
    device's) get their receipts ACLs added.
    """
    root = TOPIC_ROOT
    receipts_acl = {
        "acltype": "publishClientSend",
        "topic": f"{root}/+/receipts",
        "allow": True,
    }
    ingest_acls = [
        receipts_acl,
        {"acltype": "subscribePattern", "topic": f"{root}/#", "allow": True},
        {"acltype": "subscribePattern", "topic": f"$share/+/{root}/#", "allow": True},
        {"acltype": "publishClientReceive", "topic": f"{root}/#", "allow": True},
        {"acltype": "subscribeLiteral", "topic": DROPPED_TOPIC, "allow": True},
        {"acltype": "publishClientReceive", "topic": DROPPED_TOPIC, "allow": True},
    ]
    exists = ("Role already exists", "Client already exists")
    dynsec.run(
        {
            "command": "setDefaultACLAccess",
            "acls": [
                {"acltype": "publishClientSend", "allow": False},
                {"acltype": "publishClientReceive", "allow": False},
                {"acltype": "subscribe", "allow": False},
                {"acltype": "unsubscribe", "allow": True},
            ],
        },
        {"command": "createRole", "rolename": INGEST_ROLE, "acls": ingest_acls},
        {
            "command": "createRole",
            "rolename": PLATFORM_ROLE,
            "acls": [
                {
                    "acltype": "publishClientSend",
                    "topic": f"{root}/+/config",
                    "allow": True,
                }
            ],
        },
        {
            "command": "createClient",
            "username": ingest_user,
            "password": ingest_password,
            "roles": [{"rolename": INGEST_ROLE}],
        },
        {
            "command": "setClientPassword",
            "username": ingest_user,
            "password": ingest_password,
        },
        {
            "command": "createClient",
            "username": PLATFORM_USER,
            "password": platform_password,
            "roles": [{"rolename": PLATFORM_ROLE}],
        },
        {
            "command": "setClientPassword",
            "username": PLATFORM_USER,
            "password": platform_password,
        },
        ignore=exists,
    )
    _add_acls(dynsec, INGEST_ROLE, [receipts_acl])
    _upgrade_device_roles(dynsec)
