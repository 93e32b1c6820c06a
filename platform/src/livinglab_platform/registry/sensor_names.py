"""Sensors by the names people type: DEVICE/KEY (`tp-air-01/air_temperature`), or a numeric id.

A sensor's key is unique on its device (001_registry.sql), so DEVICE/KEY names one sensor; the
listings show these names, and the CLI's and the API's `sensor` take them beside the ids. A name is
looked up among the sensors the asker may see (access.py's visibility query): a sensor that
exists but is hidden is refused exactly like one that does not exist, so no name is an oracle.
"""

from __future__ import annotations

from collections.abc import Sequence

from livinglab_platform.access import Principal, data_windows_sql
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import InvalidInputError, NotFoundError

__all__ = ["SENSOR_NAME_RULE", "sensor_ids"]

SENSOR_NAME_RULE = "DEVICE/KEY (e.g. tp-air-01/air_temperature) or a numeric sensor id"


def _split(name: str) -> tuple[str, str] | int:
    text = name.strip()
    if text.isascii() and text.isdecimal():
        return int(text)
    device_id, slash, key = text.partition("/")
    if not (slash and device_id and key) or "/" in key:
        raise InvalidInputError(
            f"sensor {name!r} must be {SENSOR_NAME_RULE}", field="sensor"
        )
    return device_id, key


def sensor_ids(
    conn: Connection,
    principal: Principal,
    names: Sequence[str],
    *,
    trial_id: int | None = None,
) -> tuple[int, ...]:
    """The ids of sensors named DEVICE/KEY or by id, in the order given; ids pass unchanged (the
    data query checks them), names must be visible to `principal`."""
    parsed = [_split(name) for name in names]
    wanted = [p for p in parsed if isinstance(p, tuple)]
    found: dict[tuple[str, str], int] = {}
    if wanted:
        visible_sql, params = data_windows_sql(principal, trial_id=trial_id)
        rows = conn.execute(
            "SELECT s.device_id, s.key, s.id"
            f" FROM ({visible_sql}) v JOIN sensors s ON s.id = v.sensor_id"
            " WHERE NOT isempty(v.windows) AND s.device_id = ANY(%(named_devices)s)",
            {**params, "named_devices": [device for device, _ in wanted]},
        ).fetchall()
        found = {(str(d), str(k)): int(i) for d, k, i in rows}
    ids = []
    for name, part in zip(names, parsed, strict=True):
        if isinstance(part, int):
            ids.append(part)
        elif part in found:
            ids.append(found[part])
        else:
            raise NotFoundError(
                f"sensor {name.strip()!r} not found, or not visible to you",
                field="sensor",
            )
    return tuple(ids)
