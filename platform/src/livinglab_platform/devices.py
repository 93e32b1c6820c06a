"""Registering sites and devices: a device's row and sensors in the registry and its broker client."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import psycopg

from livinglab_edge_agent.wire import DEVICE_ID_PATTERN, SENSOR_KEY_PATTERN
from livinglab_platform.broker import DynSec, create_device_client
from livinglab_platform.errors import BrokerError, RegistryError

__all__ = [
    "DeviceCredentials",
    "SensorDefinition",
    "add_site",
    "parse_sensor",
    "register_device",
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
        raise RegistryError(
            f"sensor {text!r} is not KEY:QUANTITY:UNIT, e.g. pm2_5:pm2_5:ug/m3"
        )
    key, quantity, unit = (part.strip() for part in match.groups())
    if not SENSOR_KEY_PATTERN.match(key):
        raise RegistryError(
            f"sensor key {key!r} must be 1-63 of a-z 0-9 _ . -, starting with a letter or digit"
        )
    return SensorDefinition(key=key, quantity=quantity, unit=unit)


def add_site(
    conn: psycopg.Connection[tuple[object, ...]],
    *,
    site_id: str,
    name: str,
    latitude: float | None = None,
    longitude: float | None = None,
    address: str | None = None,
) -> None:
    """Add a pilot site; the caller commits."""
    if not DEVICE_ID_PATTERN.match(site_id):
        raise RegistryError(
            f"site id {site_id!r} must be 1-63 of a-z 0-9 _ -, starting with a letter or digit"
        )
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO sites (id, name, latitude, longitude, address) VALUES (%s, %s, %s, %s, %s)",
                (site_id, name, latitude, longitude, address),
            )
    except psycopg.errors.UniqueViolation as exc:
        raise RegistryError(f"site {site_id!r} already exists") from exc


def register_device(
    conn: psycopg.Connection[tuple[object, ...]],
    dynsec: DynSec,
    *,
    device_id: str,
    site_id: str,
    sensors: list[SensorDefinition],
    description: str | None = None,
) -> DeviceCredentials:
    """Register a device and its sensors and create its broker client; commits on success.

    The registry rows are committed only after the broker accepted the client, so a failure on
    either side leaves neither half behind.
    """
    if not DEVICE_ID_PATTERN.match(device_id):
        raise RegistryError(
            f"device id {device_id!r} must be 1-63 of a-z 0-9 _ -, starting with a letter or digit"
        )
    if not sensors:
        raise RegistryError(
            "a device needs at least one sensor (--sensor KEY:QUANTITY:UNIT)"
        )
    keys = [s.key for s in sensors]
    if len(set(keys)) != len(keys):
        raise RegistryError(f"sensor keys must be unique, got {', '.join(keys)}")
    if conn.execute("SELECT 1 FROM sites WHERE id = %s", (site_id,)).fetchone() is None:
        conn.rollback()
        raise RegistryError(
            f"site {site_id!r} does not exist; add it first with `livinglab sites add {site_id} --name ...`"
        )
    if (
        conn.execute("SELECT 1 FROM devices WHERE id = %s", (device_id,)).fetchone()
        is not None
    ):
        conn.rollback()
        raise RegistryError(f"device {device_id!r} is already registered")
    password = secrets.token_urlsafe(24)
    try:
        conn.execute(
            "INSERT INTO devices (id, site_id, description) VALUES (%s, %s, %s)",
            (device_id, site_id, description),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO sensors (device_id, key, quantity, unit) VALUES (%s, %s, %s, %s)",
                [(device_id, s.key, s.quantity, s.unit) for s in sensors],
            )
        create_device_client(dynsec, device_id=device_id, password=password)
    except BrokerError:
        conn.rollback()
        raise
    try:
        conn.commit()
    except psycopg.Error:
        dynsec.run(
            {"command": "deleteClient", "username": device_id},
            {"command": "deleteRole", "rolename": f"device-{device_id}"},
        )
        raise
    return DeviceCredentials(
        device_id=device_id, username=device_id, client_id=device_id, password=password
    )
