"""Bosch BME280 temperature, humidity and pressure sensor on I2C (datasheet BST-BME280-DS002)."""

from __future__ import annotations

import logging
import struct
import time
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from livinglab_edge_agent.errors import ConfigError, SensorError
from livinglab_edge_agent.sensors.base import (
    Reading,
    SensorKey,
    SensorSpec,
    parse_options,
)

__all__ = [
    "Bme280",
    "Bme280Options",
    "Calibration",
    "I2cBus",
    "compensate",
    "open_bme280",
]

logger = logging.getLogger(__name__)

CHIP_ID = 0x60
REG_CHIP_ID = 0xD0
REG_CALIB_00 = 0x88  # 0x88..0xA1: dig_T*, dig_P*, dig_H1 (section 5.4, table 16)
REG_CALIB_26 = 0xE1  # 0xE1..0xE7: dig_H2..dig_H6
REG_CTRL_HUM = 0xF2
REG_STATUS = 0xF3
REG_CTRL_MEAS = 0xF4
REG_CONFIG = 0xF5
REG_DATA = 0xF7  # 0xF7..0xFE: press, temp, hum (section 5.3)

# Weather monitoring settings of section 3.5.1: oversampling x1 everywhere, filter off, forced mode.
CTRL_HUM_OSRS_H_X1 = 0b001
CTRL_MEAS_FORCED_X1 = (0b001 << 5) | (0b001 << 2) | 0b01
STATUS_MEASURING = 0b1000
# Maximum measurement time with x1/x1/x1 is 9.3 ms (section 9.1): 1.25 + 2.3 + 2 * (2.3 + 0.575).
MEASURE_MAX_S = 0.0093
MEASURE_TIMEOUT_S = 0.1
# A skipped measurement leaves these reset values in the data registers (section 5.4.7-5.4.9).
SKIPPED_20BIT = 0x80000
SKIPPED_16BIT = 0x8000


class I2cBus(Protocol):
    """The subset of `smbus2.SMBus` this driver uses."""

    def read_byte_data(self, i2c_addr: int, register: int) -> int: ...
    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None: ...
    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int
    ) -> list[int]: ...


@dataclass(frozen=True)
class Calibration:
    """Trimming parameters burnt into the sensor's NVM (section 4.2.2)."""

    t1: int
    t2: int
    t3: int
    p: tuple[int, ...]  # dig_P1..dig_P9
    h1: int
    h2: int
    h3: int
    h4: int
    h5: int
    h6: int

    @classmethod
    def from_registers(cls, calib00: bytes, calib26: bytes) -> Calibration:
        """Decode the 26 bytes at 0x88 and the 7 bytes at 0xE1 (table 16)."""
        t1, t2, t3, *p = struct.unpack("<HhhHhhhhhhhh", calib00[:24])
        h2, h3, e4, e5, e6, h6 = struct.unpack("<hBbBbb", calib26[:7])
        # dig_H4 and dig_H5 are signed 12-bit values sharing register 0xE5's two nibbles.
        h4 = (e4 << 4) | (e5 & 0x0F)
        h5 = (e6 << 4) | (e5 >> 4)
        return cls(t1, t2, t3, tuple(p), calib00[25], h2, h3, h4, h5, h6)


def _div_trunc(a: int, b: int) -> int:
    """C integer division, which truncates toward zero where Python's // floors."""
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b >= 0) else -quotient


def compensate(
    cal: Calibration, *, adc_t: int, adc_p: int, adc_h: int
) -> tuple[float, float, float]:
    """Return (degC, Pa, %RH) with the datasheet's fixed-point formulas (section 4.2.3)."""
    # Python ints do not overflow, and >> on negatives is arithmetic as on the C compilers Bosch
    # targets, so these match the reference int32/int64 code bit for bit.
    var1 = (((adc_t >> 3) - (cal.t1 << 1)) * cal.t2) >> 11
    var2 = (((((adc_t >> 4) - cal.t1) * ((adc_t >> 4) - cal.t1)) >> 12) * cal.t3) >> 14
    t_fine = var1 + var2
    temperature_c = ((t_fine * 5 + 128) >> 8) / 100.0

    p1, p2, p3, p4, p5, p6, p7, p8, p9 = cal.p
    var1 = t_fine - 128000
    var2 = var1 * var1 * p6 + ((var1 * p5) << 17) + (p4 << 35)
    var1 = ((var1 * var1 * p3) >> 8) + ((var1 * p2) << 12)
    var1 = (((1 << 47) + var1) * p1) >> 33
    if var1 == 0:
        raise SensorError("BME280 calibration has dig_P1 = 0; the NVM read is corrupt")
    p = 1048576 - adc_p
    p = _div_trunc(((p << 31) - var2) * 3125, var1)
    var1 = (p9 * (p >> 13) * (p >> 13)) >> 25
    var2 = (p8 * p) >> 19
    pressure_pa = (((p + var1 + var2) >> 8) + (p7 << 4)) / 256.0

    v = t_fine - 76800
    offset = (((adc_h << 14) - (cal.h4 << 20) - (cal.h5 * v)) + 16384) >> 15
    curvature = (
        (((v * cal.h6) >> 10) * (((v * cal.h3) >> 11) + 32768)) >> 10
    ) + 2097152
    h = offset * ((curvature * cal.h2 + 8192) >> 14)
    h -= ((((h >> 15) * (h >> 15)) >> 7) * cal.h1) >> 4
    h = min(max(h, 0), 419430400)
    humidity_pct = (h >> 12) / 1024.0
    return temperature_c, pressure_pa, humidity_pct


class Bme280:
    """A BME280 read in forced mode: one measurement per `read`, asleep in between."""

    keys: tuple[SensorKey, ...] = (
        ("air_temperature", "air_temperature", "degC"),
        ("relative_humidity", "relative_humidity", "%"),
        ("air_pressure", "air_pressure", "hPa"),
    )

    def __init__(
        self, bus: I2cBus, *, name: str = "bme280", address: int = 0x76
    ) -> None:
        self.name = name
        self.address = address
        self._bus = bus
        # Probed on the first read, not here, so a sensor plugged in after start-up still works.
        self._calibration: Calibration | None = None

    def read(self, time_ns: int) -> list[Reading]:
        """Trigger one forced measurement and return the compensated values."""
        try:
            return self._measure()
        except OSError as exc:
            # smbus2 reports a NACK or a missing bus as OSError (errno 121 / 6 / 2).
            self._calibration = None
            raise SensorError(
                f"BME280 {self.name!r} at 0x{self.address:02x}: I2C error: {exc}"
            ) from exc

    def close(self) -> None:
        """Close the I2C bus if it can be closed."""
        close = getattr(self._bus, "close", None)
        if close is not None:
            close()

    def _probe(self) -> Calibration:
        """Check the chip id, read the trimming parameters and configure the sensor."""
        chip_id = self._bus.read_byte_data(self.address, REG_CHIP_ID)
        if chip_id != CHIP_ID:
            # 0x58 is a BMP280 (no humidity), often sold as a "BME280" breakout.
            raise SensorError(
                f"BME280 {self.name!r} at 0x{self.address:02x}: chip id 0x{chip_id:02x}, expected 0x{CHIP_ID:02x}"
            )
        calib00 = bytes(self._bus.read_i2c_block_data(self.address, REG_CALIB_00, 26))
        calib26 = bytes(self._bus.read_i2c_block_data(self.address, REG_CALIB_26, 7))
        # The config register is only reliably written in sleep mode (section 5.4.6); after reset
        # the sensor sleeps, and forced mode returns it to sleep after every measurement.
        self._bus.write_byte_data(self.address, REG_CONFIG, 0x00)
        return Calibration.from_registers(calib00, calib26)

    def _measure(self) -> list[Reading]:
        """Run one forced-mode measurement (section 3.3.3)."""
        if self._calibration is None:
            self._calibration = self._probe()
        # ctrl_hum takes effect only after the following write to ctrl_meas (section 5.4.3).
        self._bus.write_byte_data(self.address, REG_CTRL_HUM, CTRL_HUM_OSRS_H_X1)
        self._bus.write_byte_data(self.address, REG_CTRL_MEAS, CTRL_MEAS_FORCED_X1)
        time.sleep(MEASURE_MAX_S)
        deadline = time.monotonic() + MEASURE_TIMEOUT_S
        while self._bus.read_byte_data(self.address, REG_STATUS) & STATUS_MEASURING:
            if time.monotonic() > deadline:
                raise SensorError(
                    f"BME280 {self.name!r}: measurement did not finish in {MEASURE_TIMEOUT_S} s"
                )
            time.sleep(0.002)
        # One burst read keeps the three values from one measurement (section 4, "shadowing").
        raw = self._bus.read_i2c_block_data(self.address, REG_DATA, 8)
        adc_p = (raw[0] << 12) | (raw[1] << 4) | (raw[2] >> 4)
        adc_t = (raw[3] << 12) | (raw[4] << 4) | (raw[5] >> 4)
        adc_h = (raw[6] << 8) | raw[7]
        if adc_t == SKIPPED_20BIT or adc_p == SKIPPED_20BIT or adc_h == SKIPPED_16BIT:
            raise SensorError(
                f"BME280 {self.name!r}: measurement skipped (data registers hold reset values)"
            )
        temperature_c, pressure_pa, humidity_pct = compensate(
            self._calibration, adc_t=adc_t, adc_p=adc_p, adc_h=adc_h
        )
        return [
            Reading("air_temperature", temperature_c),
            Reading("relative_humidity", humidity_pct),
            Reading("air_pressure", pressure_pa / 100.0),
        ]


class Bme280Options(BaseModel):
    """Options of the `bme280` driver."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bus: int = Field(default=1, ge=0)
    # SDO to GND gives 0x76, SDO to VDDIO 0x77; there is no other address (section 6.2).
    address: Literal[0x76, 0x77] = 0x76


def open_bme280(spec: SensorSpec) -> Bme280:
    """Open the I2C bus named in the spec and wrap it in a `Bme280`."""
    options = parse_options(spec, Bme280Options)
    try:
        import smbus2
    except ImportError as exc:
        raise ConfigError(
            f"sensor {spec.name!r}: driver 'bme280' needs smbus2: pip install 'livinglab-edge-agent[pi]'"
        ) from exc
    try:
        bus = smbus2.SMBus(options.bus)
    except OSError as exc:
        raise SensorError(
            f"sensor {spec.name!r}: cannot open /dev/i2c-{options.bus} ({exc}); is I2C enabled (raspi-config)?"
        ) from exc
    return Bme280(bus, name=spec.name, address=options.address)
