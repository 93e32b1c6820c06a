"""Maxim DS18B20 1-Wire temperature probe, read through the Linux w1_therm sysfs files."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from livinglab_edge_agent.errors import ConfigError, SensorError
from livinglab_edge_agent.sensors.base import (
    Reading,
    SensorKey,
    SensorSpec,
    parse_options,
)
from livinglab_edge_agent.wire import SENSOR_KEY_REGEX

__all__ = ["Ds18b20", "Ds18b20Options", "open_ds18b20"]

logger = logging.getLogger(__name__)

W1_DEVICES_DIR = "/sys/bus/w1/devices"
# Family code 0x28 is the DS18B20 (datasheet, "64-bit lasered ROM code").
DEVICE_GLOB = "28-*"
# The temperature register powers up holding +85 degC (datasheet table 4, note): reading it means
# the conversion never ran, typically a brown-out on parasite power, not a real 85 degC.
POWER_ON_RESET_MILLI_C = 85_000
_TEMPERATURE = re.compile(r"t=(-?\d+)\s*$")


class Ds18b20:
    """One DS18B20 probe; `read` parses `<device_dir>/w1_slave`."""

    def __init__(
        self, device_dir: Path, *, name: str = "ds18b20", key: str = "temperature"
    ) -> None:
        self.name = name
        self.device_dir = Path(device_dir)
        self.key = key

    @property
    def keys(self) -> tuple[SensorKey, ...]:
        """One temperature key, renamed by the `key` option."""
        return ((self.key, "temperature", "degC"),)

    def read(self, time_ns: int) -> list[Reading]:
        """Read the probe, retrying once on a CRC error as noise on a long cable can cause one."""
        try:
            return [Reading(self.key, self._read_once())]
        except SensorError as exc:
            logger.info("DS18B20 %r: retrying after: %s", self.name, exc)
            return [Reading(self.key, self._read_once())]

    def close(self) -> None:
        """Nothing to release: each read opens and closes the sysfs file."""

    def _read_once(self) -> float:
        """One conversion: the kernel's w1_therm driver runs it when w1_slave is read (~750 ms)."""
        path = self.device_dir / "w1_slave"
        try:
            text = path.read_text()
        except OSError as exc:
            present = _list_devices(self.device_dir.parent)
            raise SensorError(
                f"DS18B20 {self.name!r}: cannot read {path}: {exc.strerror or exc}; "
                f"devices present: {', '.join(present) or 'none'}"
            ) from exc
        lines = text.strip().splitlines()
        if len(lines) != 2:
            raise SensorError(
                f"DS18B20 {self.name!r}: expected 2 lines in {path}, got {len(lines)}"
            )
        # Line 1 ends "crc=xx YES" when the scratchpad CRC (datasheet "CRC generation") matched.
        if not lines[0].rstrip().endswith("YES"):
            raise SensorError(
                f"DS18B20 {self.name!r}: CRC check failed: {lines[0].strip()!r}"
            )
        match = _TEMPERATURE.search(lines[1])
        if match is None:
            raise SensorError(
                f"DS18B20 {self.name!r}: no t= value in {lines[1].strip()!r}"
            )
        milli_c = int(match.group(1))
        if milli_c == POWER_ON_RESET_MILLI_C:
            raise SensorError(
                f"DS18B20 {self.name!r}: read the 85 degC power-on reset value; no conversion ran"
            )
        return milli_c / 1000.0


def _list_devices(base_dir: Path) -> list[str]:
    """Names of the DS18B20 directories under `base_dir`, sorted."""
    try:
        return sorted(path.name for path in base_dir.glob(DEVICE_GLOB))
    except OSError:
        return []


class Ds18b20Options(BaseModel):
    """Options of the `ds18b20` driver."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_dir: Path = Path(W1_DEVICES_DIR)
    device_id: str | None = Field(default=None, pattern=r"^28-[0-9a-f]{12}$")
    key: str = Field(default="temperature", pattern=SENSOR_KEY_REGEX)


def open_ds18b20(spec: SensorSpec) -> Ds18b20:
    """Resolve the probe's sysfs directory; without `device_id`, take the first one found."""
    options = parse_options(spec, Ds18b20Options)
    if options.device_id is not None:
        # Not checked here: a probe unplugged at start-up is a read error, retried later.
        return Ds18b20(
            options.base_dir / options.device_id, name=spec.name, key=options.key
        )
    present = _list_devices(options.base_dir)
    if not present:
        raise ConfigError(
            f"sensor {spec.name!r}: no DS18B20 ({DEVICE_GLOB}) under {options.base_dir}; "
            "is the 1-Wire overlay enabled (dtoverlay=w1-gpio in config.txt)? Or set option 'device_id'."
        )
    if len(present) > 1:
        logger.warning(
            "sensor %r: several DS18B20 found (%s); using %s",
            spec.name,
            ", ".join(present),
            present[0],
        )
    return Ds18b20(options.base_dir / present[0], name=spec.name, key=options.key)
