"""Sensor drivers of the edge agent and `create_sensor`, which builds one from its spec."""

from __future__ import annotations

from collections.abc import Callable

from livinglab_edge_agent.errors import ConfigError, SensorError
from livinglab_edge_agent.sensors.base import (
    Reading,
    SensorKey,
    SensorSource,
    SensorSpec,
    parse_options,
)
from livinglab_edge_agent.sensors.bme280 import Bme280, open_bme280
from livinglab_edge_agent.sensors.ds18b20 import Ds18b20, open_ds18b20
from livinglab_edge_agent.sensors.sds011 import Sds011, open_sds011
from livinglab_edge_agent.sensors.simulated import Simulated, open_simulated

__all__ = [
    "BLOCKING_DRIVERS",
    "DRIVERS",
    "Bme280",
    "ConfigError",
    "Ds18b20",
    "Reading",
    "Sds011",
    "SensorError",
    "SensorKey",
    "SensorSource",
    "SensorSpec",
    "Simulated",
    "create_sensor",
    "parse_options",
]

# Each opener imports its hardware library lazily, so a Pi without smbus2 can still run the others.
DRIVERS: dict[str, Callable[[SensorSpec], SensorSource]] = {
    "simulated": open_simulated,
    "bme280": open_bme280,
    "sds011": open_sds011,
    "ds18b20": open_ds18b20,
}

# Drivers whose read can wait long (a serial frame, a 750 ms conversion): each gets a thread of
# its own (sampling.py). Every other driver's read must return within milliseconds.
BLOCKING_DRIVERS = frozenset({"sds011", "ds18b20"})


def create_sensor(spec: SensorSpec) -> SensorSource:
    """Build the driver named by `spec.driver`; `ConfigError` for bad config, `SensorError` for absent hardware."""
    opener = DRIVERS.get(spec.driver)
    if opener is None:
        raise ConfigError(
            f"sensor {spec.name!r}: unknown driver {spec.driver!r}; valid drivers: {', '.join(sorted(DRIVERS))}"
        )
    return opener(spec)
