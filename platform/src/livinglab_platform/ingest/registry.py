"""A cache of the device registry: each device's enabled flag and its sensor ids by key.

A device or sensor key the cache does not know is looked up again in the database before a batch
is quarantined for it, so registering a device while the ingest service runs needs no restart.
Entries are re-read after `max_age_s` so that disabling a device takes effect too.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from livinglab_platform.core.db import Connection

__all__ = ["Device", "Registry"]

UNKNOWN_SENSOR = -1
# A cached device is read again after this long, so that disabling it takes effect.
MAX_AGE_S = 60.0


@dataclass(frozen=True, slots=True)
class Device:
    """What the ingest service needs to know about a registered device."""

    enabled: bool
    sensors: Mapping[str, int]
    loaded_at: float

    def sensor_ids(self, keys: Iterable[str]) -> npt.NDArray[np.int32]:
        """The sensor id of each key, UNKNOWN_SENSOR where the device has no such sensor."""
        return np.array(
            [self.sensors.get(key, UNKNOWN_SENSOR) for key in keys], dtype=np.int32
        )


class Registry:
    """Device registry cache, shared by the writer threads (entries are immutable)."""

    def __init__(self, *, max_age_s: float = MAX_AGE_S) -> None:
        self._max_age_s = max_age_s
        self._devices: dict[str, Device] = {}

    def lookup(
        self,
        conn: Connection,
        wanted: Mapping[str, Iterable[str]],
    ) -> dict[str, Device]:
        """The known devices among `wanted` (device id -> sensor keys its messages use).

        Devices missing from the cache, stale, or lacking one of the keys are read again in one
        query; a device the database does not know is left out of the answer.
        """
        now = time.monotonic()
        found: dict[str, Device] = {}
        missing: list[str] = []
        for device_id, keys in wanted.items():
            device = self._devices.get(device_id)
            if (
                device is None
                or now - device.loaded_at > self._max_age_s
                or not all(k in device.sensors for k in keys)
            ):
                missing.append(device_id)
            else:
                found[device_id] = device
        if missing:
            found.update(self._load(conn, missing, now))
        return found

    def _load(
        self,
        conn: Connection,
        device_ids: list[str],
        now: float,
    ) -> dict[str, Device]:
        rows = conn.execute(
            "SELECT d.id, d.enabled, s.key, s.id FROM devices d LEFT JOIN sensors s ON s.device_id = d.id"
            " WHERE d.id = ANY(%s)",
            (device_ids,),
        ).fetchall()
        enabled: dict[str, bool] = {}
        sensors: dict[str, dict[str, int]] = {}
        for device_id, is_enabled, key, sensor_id in rows:
            enabled[str(device_id)] = bool(is_enabled)
            keys = sensors.setdefault(str(device_id), {})
            if key is not None:
                keys[str(key)] = int(sensor_id)
        loaded = {
            d: Device(enabled=enabled[d], sensors=sensors[d], loaded_at=now)
            for d in enabled
        }
        self._devices.update(loaded)
        for device_id in set(device_ids) - loaded.keys():
            self._devices.pop(device_id, None)
        return loaded
