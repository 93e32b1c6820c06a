"""A device's life: registration (registry rows and broker client), credential rotation, revocation."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import psycopg

from livinglab_edge_agent.wire import (
    DEVICE_ID_PATTERN,
    DEVICE_ID_RULE,
    SENSOR_KEY_PATTERN,
    SENSOR_KEY_RULE,
)
from livinglab_platform import audit
from livinglab_platform.access import (
    Principal,
    acting_organisation,
    require_device_manager,
)
from livinglab_platform.core import db
from livinglab_platform.core.db import Connection
from livinglab_platform.core.dynsec import (
    DynSec,
    create_device_client,
    delete_device_client,
)
from livinglab_platform.core.errors import (
    ConflictError,
    InvalidInputError,
)
from livinglab_platform.registry.fleet import get_device
from livinglab_platform.registry.schemas import (
    DeviceCreate,
    DeviceCredentialsPublic,
    DevicePublic,
)

__all__ = [
    "DeviceCredentials",
    "SensorDefinition",
    "parse_sensor",
    "register",
    "register_device",
    "revoke",
    "rotate_credentials",
]

_SENSOR_SPEC = re.compile(r"^([^:]+):([^:]+):([^:]+)$")


@dataclass(frozen=True)
class SensorDefinition:
    """One sensor of a device: its key on the wire, the quantity it measures and the unit."""

    key: str
    quantity: str
    unit: str


@dataclass(frozen=True)
class DeviceCredentials:
    """What a device needs to connect; the password is shown once and stored only by the broker."""

    device_id: str
    username: str
    client_id: str
    password: str


def parse_sensor(text: str) -> SensorDefinition:
    """Parse KEY:QUANTITY:UNIT, e.g. `air_temperature:air_temperature:degC`."""
    match = _SENSOR_SPEC.match(text)
    if match is None:
        raise InvalidInputError(
            f"sensor {text!r} is not KEY:QUANTITY:UNIT, e.g. pm2_5:pm2_5:ug/m3",
            field="sensors",
        )
    key, quantity, unit = (part.strip() for part in match.groups())
    if not SENSOR_KEY_PATTERN.match(key):
        raise InvalidInputError(
            f"sensor key {key!r} must be {SENSOR_KEY_RULE}", field="sensors"
        )
    return SensorDefinition(key=key, quantity=quantity, unit=unit)


def register_device(
    conn: Connection,
    dynsec: DynSec,
    *,
    device_id: str,
    site_id: str,
    sensors: list[SensorDefinition],
    description: str | None = None,
    organisation_id: str | None = None,
    principal: Principal | None = None,
) -> DeviceCredentials:
    """Register a device and its sensors and create its broker client, both or neither.

    The rows are written first and the broker client last; when the caller's unit of work then
    fails, even at its commit, it removes the client again. With a `principal`, it is audited.
    """
    _check_registration(
        conn,
        device_id=device_id,
        site_id=site_id,
        sensors=sensors,
        organisation_id=organisation_id,
    )
    password = secrets.token_urlsafe(24)
    try:
        # A savepoint: a refusal by the broker takes these rows back, and the caller's
        # transaction stays usable.
        with conn.transaction():
            conn.execute(
                "INSERT INTO devices (id, site_id, description, organisation_id) VALUES (%s, %s, %s, %s)",
                (device_id, site_id, description, organisation_id),
            )
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO sensors (device_id, key, quantity, unit) VALUES (%s, %s, %s, %s)",
                    [(device_id, s.key, s.quantity, s.unit) for s in sensors],
                )
            if principal is not None:
                audit.record(
                    conn,
                    principal,
                    object_type="device",
                    object_id=device_id,
                    action="register",
                    details={
                        "site_id": site_id,
                        "organisation_id": organisation_id,
                        "sensors": [s.key for s in sensors],
                    },
                )
            _create_broker_client(conn, dynsec, device_id=device_id, password=password)
    except psycopg.errors.UniqueViolation as exc:
        # A concurrent registration of the same id committed after the check above.
        raise ConflictError(f"device {device_id!r} is already registered") from exc
    return DeviceCredentials(
        device_id=device_id, username=device_id, client_id=device_id, password=password
    )


def _check_registration(
    conn: Connection,
    *,
    device_id: str,
    site_id: str,
    sensors: list[SensorDefinition],
    organisation_id: str | None,
) -> None:
    """Refuse a registration that cannot succeed, before anything is written anywhere."""
    if not DEVICE_ID_PATTERN.match(device_id):
        raise InvalidInputError(
            f"device id {device_id!r} must be {DEVICE_ID_RULE}", field="id"
        )
    if not sensors:
        raise InvalidInputError(
            "a device needs at least one sensor (--sensor KEY:QUANTITY:UNIT)",
            field="sensors",
        )
    keys = [s.key for s in sensors]
    if len(set(keys)) != len(keys):
        raise InvalidInputError(
            f"sensor keys must be unique, got {', '.join(keys)}", field="sensors"
        )
    if conn.execute("SELECT 1 FROM sites WHERE id = %s", (site_id,)).fetchone() is None:
        raise InvalidInputError(
            f"site {site_id!r} does not exist; add it first with `livinglab sites add {site_id} --name ...`",
            field="site_id",
        )
    if (
        organisation_id is not None
        and conn.execute(
            "SELECT 1 FROM organisations WHERE id = %s", (organisation_id,)
        ).fetchone()
        is None
    ):
        raise InvalidInputError(
            f"organisation {organisation_id!r} does not exist", field="organisation_id"
        )
    if (
        conn.execute("SELECT 1 FROM devices WHERE id = %s", (device_id,)).fetchone()
        is not None
    ):
        raise ConflictError(f"device {device_id!r} is already registered")


def _create_broker_client(
    conn: Connection, dynsec: DynSec, *, device_id: str, password: str
) -> None:
    """The compensation of a registration: the client goes again if the transaction fails."""
    create_device_client(dynsec, device_id=device_id, password=password)
    db.undo_on_rollback(conn, lambda: delete_device_client(dynsec, device_id=device_id))


def _check_manager(
    conn: Connection, principal: Principal, device_id: str
) -> DevicePublic:
    device = get_device(conn, principal, device_id)
    require_device_manager(principal, device.organisation_id)
    return device


def register(
    conn: Connection,
    dynsec: DynSec,
    principal: Principal,
    *,
    device: DeviceCreate,
) -> DeviceCredentialsPublic:
    """Register a device through the API: partners for their own organisation, operators for any."""
    organisation_id = acting_organisation(
        principal, device.organisation_id, "register devices"
    )
    credentials = register_device(
        conn,
        dynsec,
        device_id=device.id,
        site_id=device.site_id,
        sensors=[
            SensorDefinition(key=s.key, quantity=s.quantity, unit=s.unit)
            for s in device.sensors
        ],
        description=device.description,
        organisation_id=organisation_id,
        principal=principal,
    )
    return DeviceCredentialsPublic(**credentials.__dict__)


def rotate_credentials(
    conn: Connection,
    dynsec: DynSec,
    principal: Principal,
    *,
    device_id: str,
) -> DeviceCredentialsPublic:
    """Give a device a new broker password (shown once); the old one stops working at once."""
    device = _check_manager(conn, principal, device_id)
    if device.revoked:
        raise ConflictError(
            f"device {device_id!r} is revoked; register a new device instead"
        )
    password = secrets.token_urlsafe(24)
    # The rows first, the broker last: a failure before the broker changes nothing there. (A
    # failed commit after it leaves the new password working: the old one cannot be restored.)
    conn.execute(
        "UPDATE devices SET credentials_issued_at = now() WHERE id = %s", (device_id,)
    )
    audit.record(
        conn, principal, object_type="device", object_id=device_id, action="rotate"
    )
    dynsec.run(
        {"command": "setClientPassword", "username": device_id, "password": password}
    )
    return DeviceCredentialsPublic(
        device_id=device_id, username=device_id, client_id=device_id, password=password
    )


def revoke(
    conn: Connection,
    dynsec: DynSec,
    principal: Principal,
    *,
    device_id: str,
    reason: str = "",
) -> DevicePublic:
    """Disable a device's broker client: it is disconnected now and can no longer connect.

    Its registry rows and data stay, so trials keep their evidence.
    """
    _check_manager(conn, principal, device_id)
    conn.execute(
        "UPDATE devices SET revoked_at = coalesce(revoked_at, now()), enabled = false WHERE id = %s",
        (device_id,),
    )
    audit.record(
        conn,
        principal,
        object_type="device",
        object_id=device_id,
        action="revoke",
        reason=reason or None,
    )
    # disableClient also kicks a connected client with that username (Mosquitto dynamic security).
    # Last, so a refusal before it leaves the device connected and its record unchanged.
    dynsec.run({"command": "disableClient", "username": device_id})
    db.undo_on_rollback(
        conn, lambda: dynsec.run({"command": "enableClient", "username": device_id})
    )
    return get_device(conn, principal, device_id)
