"""Who is who on the broker: the services' identities apart from every device's, by construction.

The property: no device id can ever equal a service's username or client id, whatever the
configuration. A device's username and client id are its device id (`DEVICE_ID_REGEX` in
`livinglab_edge_agent.wire`: a-z 0-9 _ -, never a dot). Every service identity (the ingest's user
and client ids, the platform user, the dynamic-security admin and its client ids, the lab's,
benchmarks' and tests' clients) is `livinglab.` and a name: it holds a dot, so no device id can be
one. Mosquitto keeps one session per client id whoever logs in, so a device registered under the
ingest's client id took over the ingest's persistent session (and its queued messages).

The settings refuse any other service name at start (`require_service_id`), the broker admin only
ever creates device clients for device ids, and `livinglab broker check` finds the clients on a
live broker that break the rule (`check_client`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from livinglab_edge_agent.wire import DEVICE_ID_PATTERN, DEVICE_ID_RULE

__all__ = [
    "ADMIN_CLIENT_PREFIX",
    "ADMIN_USER",
    "INGEST_CLIENT_ID",
    "INGEST_USER",
    "LEGACY_SERVICE_NAMES",
    "PLATFORM_USER",
    "SERVICE_ID_PATTERN",
    "SERVICE_ID_RULE",
    "ServiceIdentities",
    "check_client",
    "is_device_id",
    "is_service_id",
    "require_service_id",
]

SERVICE_PREFIX = "livinglab."
# The dot after `livinglab` is what the device-id grammar cannot produce; 63 characters at most,
# like a device id. Mosquitto takes any UTF-8 string as a username or client id (MQTT 5.0 §3.1.3.1
# lets a server accept more than the 23 alphanumerics it must).
SERVICE_ID_REGEX = r"^livinglab\.[a-z0-9][a-z0-9_.-]{0,52}$"
SERVICE_ID_RULE = (
    "'livinglab.' then 1-53 of a-z 0-9 _ . -, starting with a letter or digit"
)
SERVICE_ID_PATTERN = re.compile(SERVICE_ID_REGEX.removesuffix("$") + r"\Z")

ADMIN_USER = "livinglab.admin"
INGEST_USER = "livinglab.ingest"
PLATFORM_USER = "livinglab.platform"
INGEST_CLIENT_ID = "livinglab.ingest-1"
# Each admin connection takes a client id of its own, so two commands never cut each other off.
ADMIN_CLIENT_PREFIX = "livinglab.admin-"
# The services' names before they moved into the namespace; each is a valid device id.
LEGACY_SERVICE_NAMES = frozenset({"admin", "ingest", "platform", "ingest-1"})


def is_service_id(name: str) -> bool:
    """Whether `name` is in the services' namespace (`livinglab.` and a name)."""
    return SERVICE_ID_PATTERN.match(name) is not None


def is_device_id(name: str) -> bool:
    """Whether `name` is a device id; no name is both a device id and a service id."""
    return DEVICE_ID_PATTERN.match(name) is not None


def require_service_id(value: str, *, variable: str) -> str:
    """`value` if it is a service identity; else ValueError naming the setting `variable`."""
    if is_service_id(value):
        return value
    hint = (
        " (the name before the service namespace)"
        if value in LEGACY_SERVICE_NAMES
        else ""
    )
    raise ValueError(
        f"{variable}={value!r}{hint} is not a service identity: use {SERVICE_ID_RULE}, such as"
        f" {'livinglab.' + value if is_device_id(value) else INGEST_USER!r}; a name without the"
        " dot can be taken by a device id (broker/README.md, 'Service identities')"
    )


@dataclass(frozen=True)
class ServiceIdentities:
    """The configured services' usernames and the ingest's client id, as `broker check` sees them."""

    admin_user: str = ADMIN_USER
    ingest_user: str = INGEST_USER
    platform_user: str = PLATFORM_USER
    ingest_client_id: str = INGEST_CLIENT_ID

    def owner(self, name: str) -> str | None:
        """The service that `name` (a username or client id) belongs to, if any."""
        owners = {
            self.admin_user: "the admin",
            self.ingest_user: "the ingest",
            self.platform_user: "the platform",
            self.ingest_client_id: "the ingest",
        }
        return owners.get(name)


def check_client(client: dict[str, Any], services: ServiceIdentities) -> str | None:
    """What is wrong with one client of dynamic security's `listClients`, or None.

    A service client has a service username (and, if pinned, a service client id that is not
    another service's); a device client has a device id as username with its client id pinned to
    it. Anything else could clash with a service identity, now or after a change of settings.
    """
    username = str(client.get("username", ""))
    client_id = client.get("clientid")
    if is_service_id(username):
        if username == services.ingest_client_id != services.ingest_user:
            return f"username {username!r} is the ingest's client id"
        if client_id is None:
            return None
        if not is_service_id(client_id):
            return f"service user pinned to client id {client_id!r}, outside the service namespace"
        owner = services.owner(client_id)
        if owner is not None and owner != services.owner(username):
            return f"pinned to client id {client_id!r}, which is {owner}'s"
        return None
    if is_device_id(username):
        if client_id == username:
            return None
        legacy = (
            f"; {username!r} was a service's name: move it to {SERVICE_PREFIX}{username}"
            " and delete it"
            if username in LEGACY_SERVICE_NAMES
            else ""
        )
        if client_id is None:
            return (
                "device-id username whose client id is not pinned to it: it may connect with"
                f" any client id, a service's included{legacy}"
            )
        owner = services.owner(str(client_id))
        taken = f", which is {owner}'s" if owner is not None else ""
        return f"device-id username pinned to another client id {client_id!r}{taken}{legacy}"
    return (
        f"username {username!r} is neither a device id ({DEVICE_ID_RULE}) nor a service"
        f" identity ({SERVICE_ID_RULE})"
    )
