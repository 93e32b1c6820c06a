"""The benchmark's devices: registered with the benchmark's sensors, in the database and the broker.

Every measurement of `livinglab bench ingest` publishes as one of these devices, so each needs
broker credentials and the sensor id of each of its keys (to build the reference's rows and to
count what the pipeline stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from livinglab_lab.bench.harness import BenchLab
from livinglab_platform.registry import devices, sites

__all__ = ["SENSORS", "Devices", "register_devices"]

SITE_ID = "bench"
SENSORS = (
    devices.SensorDefinition("air_temperature", "air_temperature", "degC"),
    devices.SensorDefinition("relative_humidity", "relative_humidity", "%"),
    devices.SensorDefinition("air_pressure", "air_pressure", "hPa"),
    devices.SensorDefinition("pm2_5", "pm2_5", "ug/m3"),
)


@dataclass
class Devices:
    """The benchmark devices: broker passwords and the sensor id of each (device, key)."""

    passwords: dict[str, str]
    sensor_ids: dict[str, list[int]]

    def all_sensor_ids(self, device_ids: Sequence[str]) -> list[int]:
        return [sid for d in device_ids for sid in self.sensor_ids[d]]


def register_devices(lab: BenchLab, device_ids: Sequence[str]) -> Devices:
    """Register the devices, with the benchmark's sensors, in the database and the broker."""
    assert lab.dsn is not None
    passwords = {}
    with psycopg.connect(lab.dsn) as conn, lab.admin() as dynsec:
        sites.add_site(conn, site_id=SITE_ID, name="Benchmark")
        conn.commit()
        for device_id in device_ids:
            credentials = devices.register_device(
                conn,
                dynsec,
                device_id=device_id,
                site_id=SITE_ID,
                sensors=list(SENSORS),
            )
            passwords[device_id] = credentials.password
        order = {s.key: i for i, s in enumerate(SENSORS)}
        sensor_ids: dict[str, list[int]] = {d: [0] * len(SENSORS) for d in device_ids}
        for sensor_id, owner, key in conn.execute(
            "SELECT id, device_id, key FROM sensors WHERE device_id = ANY(%s)",
            (list(device_ids),),
        ):
            sensor_ids[owner][order[key]] = sensor_id
    return Devices(passwords=passwords, sensor_ids=sensor_ids)
